"""The storage interface every backend implements."""

from __future__ import annotations

import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
CHUNK_SIZE = 1024 * 1024


class StorageError(Exception):
    pass


class StorageUnavailable(StorageError):
    """The backend failed or could not be reached, after its own retries: its fault, not the caller's."""


class RangeError(StorageError):
    """A read asked for bytes the object does not have: a caller's bug, told apart from a missing object."""


def check_key(key: str) -> str:
    """Keys are relative slash-separated names; `..`, empty parts and odd characters never reach a backend."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key: {key!r}")
    return key


def check_range(key: str, size: int, start: int, end: int | None, chunk_size: int) -> int:
    """The exclusive end of the range `[start, end)` of an object of `size` bytes; RangeError when it is not inside
    the object. An empty range at the end is fine, so an empty object streams as nothing."""
    stop = size if end is None else end
    if not 0 <= start <= stop <= size:
        raise RangeError(f"bytes {start}-{end if end is not None else ''} are outside {key} ({size} bytes)")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    return stop


class Storage(ABC):
    """Objects under keys, with S3's semantics: no directories (a prefix is not an object), whole-object writes,
    ranged reads."""

    @abstractmethod
    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        """Stores the stream under key atomically (readers see the old object or the whole new one); returns its size.
        `durable` forces it to stable storage before returning, for bytes a client was told are committed."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Publishes a finished local file (consumed: it may be moved rather than copied)."""

    def move(self, source: str, key: str) -> None:
        """Puts the object at `source` under `key` and removes `source`: at every moment one of the two holds the
        whole object, so a crash loses nothing. A copy then a delete here; a rename or a server-side copy where the
        backend has one (an upload's single part becoming the original is then no copy of gigabytes)."""
        self.write(key, self.stream(source))
        self.delete(source)

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The whole object, for small ones (playlists); StorageError when it does not exist."""

    @abstractmethod
    def stream(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Bytes `[start, end)` of the object (to its end when `end` is None) in chunks of `chunk_size`, the last one
        shorter: one ranged GET, never the whole object in memory. The call itself raises StorageError when the
        object does not exist and RangeError when the range is not inside it, so a response can still pick its
        status; the chunks are a snapshot of the object as it was when the call returned."""

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes, or None when there is no such object."""

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Keys under `prefix/`, sorted."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Removes one object; missing objects are fine."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Removes every object under `prefix/`."""

    def local_path(self, key: str) -> Path | None:
        """The object's path when the backend keeps it on this machine's disk, so tools read it in place."""
        return None

    def check(self) -> None:
        """Raises StorageError when the backend cannot be reached, so a misconfigured process refuses to start.
        A local backend made its root when built, so it has nothing left to check."""
        return None

    def presigned_url(self, key: str, seconds: int, headers: dict[str, str]) -> str | None:
        """A URL that serves the object to anyone for `seconds`, answering with `headers` (Content-Type,
        Content-Disposition, Cache-Control); None when the backend has no such thing, so the caller serves it."""
        return None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    @contextmanager
    def as_input(self, key: str, scratch: Path, seconds: int) -> Iterator[Path | str]:
        """Where ffmpeg and PyAV read the object for up to `seconds`: in place, or at a URL they fetch with range
        requests, so a job that needs a minute of a long original downloads that minute, not the whole; a scratch
        copy only for a backend with neither."""
        url = self.presigned_url(key, seconds, {})
        if url is None:
            with self.as_local_file(key, scratch) as path:
                yield path
            return
        if self.size(key) is None:  # or ffmpeg's "404 Not Found" would be the only word of it
            raise StorageError(f"no such object: {key}")
        yield url

    @contextmanager
    def as_local_file(self, key: str, scratch: Path) -> Iterator[Path]:
        """A local path to the object for ffmpeg and PyAV: in place when possible, else a scratch copy removed afterwards."""
        path = self.local_path(key)
        if path is not None:
            if not path.is_file():
                raise StorageError(f"no such object: {key}")
            yield path
            return
        scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            copy = Path(tmp) / Path(key).name
            with copy.open("wb") as dst:
                dst.writelines(self.stream(key))
            yield copy
