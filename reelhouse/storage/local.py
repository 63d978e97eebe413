"""Local filesystem backend: objects are files under one root directory."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from reelhouse.storage.base import Storage, StorageError, check_key


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

    def put_file(self, key: str, source: Path) -> None:
        tmp = self._tmp / uuid.uuid4().hex
        try:
            shutil.move(source, tmp)  # a rename when scratch shares the file system
            self._publish(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError:
            raise StorageError(f"no such object: {key}") from None

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def local_path(self, key: str) -> Path:
        return self._path(key)
