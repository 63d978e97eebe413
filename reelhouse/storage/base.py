"""The storage interface every backend implements."""

from __future__ import annotations

import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_KEY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class StorageError(Exception):
    pass


def check_key(key: str) -> str:
    """Keys are relative slash-separated names; `..`, empty parts and odd characters never reach a backend."""
    if not _KEY.match(key) or any(part in (".", "..") for part in key.split("/")):
        raise StorageError(f"invalid storage key: {key!r}")
    return key


class Storage(ABC):
    @abstractmethod
    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        """Stores the stream under key atomically (readers see the old object or the whole new one); returns its size.
        `durable` forces it to stable storage before returning, for bytes a client was told are committed."""

    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Publishes a finished local file (consumed: it may be moved rather than copied)."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Opens an object for streaming reads; StorageError when it does not exist."""

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

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

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
            with self.open(key) as src, copy.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            yield copy
