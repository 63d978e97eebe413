"""Shared by the dashboard tests: a person with a password in a workspace."""

from __future__ import annotations

from reelhouse.db.engine import migrated
from reelhouse.settings import Settings
from reelhouse.users import create_user

PASSWORD = "correct horse battery"


def make_user(settings: Settings, email: str, workspace: str = "Default") -> str:
    with migrated(settings) as db, db.write() as session:
        create_user(session, email, PASSWORD, workspace=workspace)
    return email
