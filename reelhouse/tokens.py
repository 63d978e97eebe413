"""Access tokens: HTTP Basic credentials (token id + secret), each bound to one workspace.

Secrets are random 256-bit values, so a plain SHA-256 is a sound way to keep them hashed at rest.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.db.models import AccessToken, Workspace, utcnow

DEFAULT_WORKSPACE = "Default"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def workspace_named(session: Session, name: str) -> Workspace:
    """The workspace of that name, created on first use."""
    workspace = session.scalar(select(Workspace).where(Workspace.name == name))
    if workspace is None:
        workspace = Workspace(name=name)
        session.add(workspace)
        session.flush()
    return workspace


def create_token(session: Session, *, workspace: str = DEFAULT_WORKSPACE, name: str = "") -> tuple[AccessToken, str]:
    """Returns the new token and its secret; the secret is not stored and cannot be shown again."""
    secret = secrets.token_urlsafe(32)
    token = AccessToken(workspace_id=workspace_named(session, workspace).id, name=name, secret_hash=hash_secret(secret))
    session.add(token)
    session.flush()
    return token, secret


def authenticate(session: Session, token_id: str, secret: str) -> AccessToken | None:
    token = session.get(AccessToken, token_id)
    if token is None or token.revoked_at is not None:
        return None
    return token if hmac.compare_digest(token.secret_hash, hash_secret(secret)) else None


def active_tokens(session: Session) -> list[AccessToken]:
    query = select(AccessToken).where(AccessToken.revoked_at.is_(None)).order_by(AccessToken.created_at)
    return list(session.scalars(query))


def revoke(session: Session, token_id: str) -> bool:
    token = session.get(AccessToken, token_id)
    if token is None or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True
