"""Local filesystem backend: objects are files under one root directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from reelhouse.storage.base import CHUNK_SIZE, Storage, StorageError, check_key, check_range


class LocalStorage(Storage):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _publish(self, tmp: Path, key: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)

    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        check_key(key)  # before reading a byte
        tmp = self._tmp / uuid.uuid4().hex
        size = 0
        try:
            with tmp.open("wb") as f:
                for chunk in chunks:
                    f.write(chunk)
                    size += len(chunk)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            self._publish(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)
        return size

    def move(self, source: str, key: str) -> None:
        """One rename: atomic, and no bytes copied."""
        path = self._path(source)
        target = self._path(key)
        if not path.is_file():
            raise StorageError(f"no such object: {source}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def put_file(self, key: str, source: Path) -> None:
        check_key(key)  # before the file is taken: a refused key leaves it where it was
        tmp = self._tmp / uuid.uuid4().hex
        try:
            shutil.move(source, tmp)  # a rename when scratch shares the file system
            self._publish(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):  # a prefix is no object either
            raise StorageError(f"no such object: {key}") from None

    def read(self, key: str) -> bytes:
        with self._open(key) as f:
            return f.read()

    def stream(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        f = self._open(key)  # now, so a missing object fails the call; the open file is the snapshot
        try:
            stop = check_range(key, os.fstat(f.fileno()).st_size, start, end, chunk_size)
        except BaseException:
            f.close()
            raise
        return _chunks(f, key, start, stop, chunk_size)

    def size(self, key: str) -> int | None:
        try:
            found = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        with contextlib.suppress(IsADirectoryError, NotADirectoryError):  # a prefix, or under an object: no object
            self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def local_path(self, key: str) -> Path:
        return self._path(key)


def _chunks(f: BinaryIO, key: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
    with f:
        f.seek(start)
        while start < stop:
            chunk = f.read(min(chunk_size, stop - start))
            if not chunk:  # objects are replaced, never changed in place: only damage on disk shortens one
                raise StorageError(f"{key} ended at byte {start}, before {stop}")
            start += len(chunk)
            yield chunk
