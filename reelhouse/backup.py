"""`reelhouse backup DEST` and `reelhouse restore SRC`: the database and every stored object, taken while the server
runs and brought back into another data directory.

The database is snapshotted first, in one consistent read (SQLite's online backup API, or `pg_dump`), and the
objects are copied after it: every object a row of the snapshot names was stored before the snapshot, so it is
copied too (unless it was deleted meanwhile, in which case so was its media). Objects written after the snapshot
are copied as well and are harmless extras.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from reelhouse.settings import Settings
from reelhouse.storage import LocalStorage, Storage
from reelhouse.storage.migrate import migrate

MANIFEST = "reelhouse-backup.json"
SQLITE_FILE = "database.sqlite"
POSTGRES_FILE = "database.pgdump"
OBJECTS = "objects"


class BackupError(Exception):
    """Why a backup or restore cannot go on; nothing was overwritten."""


@dataclass(frozen=True)
class Summary:
    database: str  # "sqlite" or "postgresql"
    objects: int
    object_bytes: int


def backup(settings: Settings, storage: Storage, dest: Path) -> Summary:
    """Writes the snapshot into `dest`, which must be absent or empty."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; back up into a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        kind = "sqlite"
        _sqlite_copy(Path(url.database or ""), dest / SQLITE_FILE)
    elif url.get_backend_name() == "postgresql":
        kind = "postgresql"
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dest / POSTGRES_FILE}", _libpq(settings)])
    else:
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")
    copied = migrate(storage, LocalStorage(dest / OBJECTS))
    summary = Summary(kind, copied.copied, copied.copied_bytes)
    manifest = {"format": 1, "taken_at": datetime.now(UTC).isoformat(), **summary.__dict__}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return summary


def restore(settings: Settings, storage: Storage, src: Path) -> Summary:
    """Brings the snapshot in `src` into the configured database (which must not hold reelhouse tables yet) and
    storage. The server migrates an older snapshot's schema when it starts."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a reelhouse backup: {exc}") from None
    url = make_url(settings.resolved_database_url)
    if manifest["database"] != url.get_backend_name():
        raise BackupError(f"the backup holds a {manifest['database']} database, but the configured database is "
                          f"{url.get_backend_name()} (REELHOUSE_DATABASE_URL)")
    if manifest["database"] == "sqlite":
        target = Path(url.database or "")
        if target.exists():
            raise BackupError(f"{target} exists; restore into a fresh data directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(src / SQLITE_FILE, target)
    else:
        engine = create_engine(url)
        try:
            if inspect(engine).has_table("alembic_version"):
                raise BackupError("the configured database already holds reelhouse tables; restore into a fresh one")
        finally:
            engine.dispose()
        _run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={_libpq(settings)}", str(src / POSTGRES_FILE)])
    copied = migrate(LocalStorage(src / OBJECTS), storage)
    return Summary(manifest["database"], copied.copied, copied.copied_bytes)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other connections keep writing."""
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    with sqlite3.connect(source) as reading, sqlite3.connect(target) as writing:
        reading.backup(writing)
    writing.close()
    reading.close()


def _libpq(settings: Settings) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no `+driver`)."""
    return make_url(settings.resolved_database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed; it comes with the PostgreSQL client tools")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")
