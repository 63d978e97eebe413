"""A count of committed changes to what playback checks and what a media's wire form shows, shared through a small
mapped file by every process that uses the same SQLite database: each process caches access decisions and rendered
media (`Remembered`) and still sees a deletion or a rule change on its very next request, for the price of reading
eight bytes.

Only SQLite gets one: its writers all live on this machine. PostgreSQL's may live on others, where no file of ours
is seen, so there every request still asks the database.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import weakref
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, sessionmaker

from reelhouse.db.models import Download, Insight, Media, PlaybackId, Rendition, SigningKey, Track, Workspace

# What playback.access reads, and what the API's rendered media show (wire.views.RENDERED).
WATCHED = (Workspace, Media, PlaybackId, Rendition, Download, SigningKey, Track, Insight)
_CHANGED = "reelhouse.playback_changed"  # session.info key: the open transaction wrote a watched row
_COUNTER = struct.Struct("<Q")


class Generation:
    """The counter; `bump` after a commit, so a reader that sees the new value also sees the committed rows."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _COUNTER.size:
                os.ftruncate(fd, _COUNTER.size)  # zeros: a fresh file starts at 0, an existing one keeps its count
            self._map = mmap.mmap(fd, _COUNTER.size)
        finally:
            os.close(fd)  # the mapping keeps the file, until the database that holds it is collected
        self._lock_path = path

    def current(self) -> int:
        return _COUNTER.unpack_from(self._map)[0]

    def bump(self) -> None:
        with self._lock_path.open("rb") as f:  # processes bump one at a time, so no increment is lost
            fcntl.flock(f, fcntl.LOCK_EX)
            _COUNTER.pack_into(self._map, 0, self.current() + 1)

    def watch(self, maker: sessionmaker[Session]) -> None:
        """Bumps after each commit of `maker`'s sessions that wrote a watched row, through the unit of work or
        an ORM bulk UPDATE/DELETE. Bumping for a rolled-back savepoint too only costs a cache miss."""
        event.listen(maker, "after_flush", _note_flush)
        event.listen(maker, "do_orm_execute", _note_bulk)
        event.listen(maker, "after_commit", self._committed)

    def _committed(self, session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            self.bump()


K = TypeVar("K")
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """Values read from the database, per key, kept while its change count stays where it was: `current` is taken
    before the value is read, so a value read while a change commits is kept under the count that change replaces
    and never served after it. At most `limit` values; past that it starts over."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: weakref.WeakKeyDictionary[Generation, tuple[int, dict[K, V]]] = weakref.WeakKeyDictionary()

    def current(self, generation: Generation | None) -> dict[K, V] | None:
        """What was read since the last change, to look values up in and to add what is read now; None for a
        database that keeps no change count (nothing can be kept)."""
        if generation is None:
            return None
        now = generation.current()
        kept = self._kept.get(generation)  # per database: tests open many
        if kept is None or kept[0] != now or len(kept[1]) >= self.limit:
            kept = self._kept[generation] = (now, {})
        return kept[1]


def for_database(url: str) -> Generation | None:
    """The counter beside a SQLite database file; None for PostgreSQL and in-memory SQLite (nothing to share)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Generation(Path(f"{parsed.database}-playback"))


def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    if any(isinstance(row, WATCHED) for rows in (session.new, session.dirty, session.deleted) for row in rows):
        session.info[_CHANGED] = True


def _note_bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None and \
            state.bind_mapper.class_ in WATCHED:
        state.session.info[_CHANGED] = True
