"""Engine and sessions for SQLite (embedded default) and PostgreSQL (scale-out).

SQLite runs in WAL mode so readers never wait for the writer. Write transactions start with
`BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail with "database is
locked" when another writer got in between, while an immediate one simply waits its turn.

`snapshot()` runs one SELECT outside any transaction, on a second engine in autocommit mode, for the API's busiest
reads: one statement reads one consistent snapshot on both engines, and it skips the session, the BEGIN and the
ROLLBACK (two round trips on PostgreSQL), and the pool's ping.

Code that holds only a write session announces work that becomes due with its transaction (`after_commit`):
the database hands it to `on_commit` (the dispatch seam) once, and only if, the transaction commits. Sessions
also carry the public base URL (`public_url`), for the links inside objects rendered as clients see them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Executable, Row, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

from reelhouse.db.generation import for_database
from reelhouse.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
_DUE = "reelhouse.due"  # session.info key: work announced in the open transaction
_PUBLIC_URL = "reelhouse.public_url"
OnCommit = Callable[[list[object]], None]


def after_commit(session: Session, work: object) -> None:
    """`work` reaches the database's `on_commit` once this write transaction commits; nothing when it rolls back."""
    session.info.setdefault(_DUE, []).append(work)


def public_url(session: Session) -> str:
    """The externally visible base URL of this server, e.g. `https://video.example.com`."""
    return session.info[_PUBLIC_URL]


# Connections kept open between uses. The API runs its database work on up to 40 threads (anyio's default), next to
# the job and delivery threads; with SQLAlchemy's default of 5 a busy API opened and closed a connection on a third
# of its requests (and set up SQLite's pragmas and read its schema each time). Opened only as concurrency needs them.
POOL = {"pool_size": 20, "max_overflow": 30}


def make_engine(url: str, *, transactions: bool = True) -> Engine:
    """`transactions=False`: every statement commits on its own (autocommit), and a stale pooled connection is found
    by the statement that fails on it rather than by a ping before each use (see `Database.snapshot`)."""
    if not url.startswith("sqlite"):
        if not transactions:
            return create_engine(url, isolation_level="AUTOCOMMIT", **POOL)
        return create_engine(url, pool_pre_ping=True, **POOL)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **POOL)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # the driver begins nothing: we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    if transactions:
        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:  # type: ignore[no-untyped-def]
            immediate = connection.get_execution_options().get("write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; runs at every start, a no-op when already there."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(settings: Settings, on_commit: OnCommit | None = None) -> Database:
    """The configured database with its schema up to date; the data dir is made first, since SQLite lives there."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, public_url=settings.base_url, on_commit=on_commit)
    db.migrate()
    return db


@contextmanager
def migrated(settings: Settings) -> Iterator[Database]:
    """`open_database` for a short task (a CLI command, a test fixture): disposed afterwards, however it ends."""
    db = open_database(settings)
    try:
        yield db
    finally:
        db.dispose()


class Database:
    """Hands out sessions: `read()` for queries, `write()` for a transaction that changes rows."""

    def __init__(self, url: str, *, public_url: str = "", on_commit: OnCommit | None = None) -> None:
        self.engine = make_engine(url)
        self._snapshots = make_engine(url, transactions=False)
        info = {_PUBLIC_URL: public_url}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write = sessionmaker(self.engine.execution_options(write=True), expire_on_commit=False, info=info)
        self._on_commit = on_commit
        self.generation = for_database(url)
        if self.generation is not None:
            for maker in (self._write, self._read):
                self.generation.watch(maker)
        event.listen(self._write, "after_commit", self._committed)
        event.listen(self._write, "after_rollback", lambda session: session.info.pop(_DUE, None))

    def _committed(self, session: Session) -> None:
        due = session.info.pop(_DUE, None)
        if due and self._on_commit is not None:
            try:
                self._on_commit(due)
            except Exception:  # the rows are committed: a poll or a sweep finds what was not handed on
                log.exception("could not hand on work after a commit")

    def migrate(self) -> None:
        migrate(self.engine)

    @property
    def in_process(self) -> bool:
        """SQLite: a read is a little work in this process, and in WAL mode it never waits for a writer."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Commits on success, rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def snapshot(self, statement: Executable, params: dict[str, Any]) -> Sequence[Row[Any]]:
        """The rows of one SELECT, read outside a transaction. A connection the server dropped (a restart) fails the
        statement and is thrown away with the rest of the pool; the read is then made once more, on a fresh one."""
        try:
            return self._snapshot(statement, params)
        except exc.DBAPIError as error:
            if not error.connection_invalidated:
                raise
        return self._snapshot(statement, params)

    def _snapshot(self, statement: Executable, params: dict[str, Any]) -> Sequence[Row[Any]]:
        with self._snapshots.connect() as connection:
            return connection.execute(statement, params).all()

    def dispose(self) -> None:
        self.engine.dispose()
        self._snapshots.dispose()
