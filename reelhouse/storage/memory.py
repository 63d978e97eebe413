"""In-memory backend: objects are bytes in a dict. It has no local paths, so tests run every code path that an
object store (S3) takes."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from reelhouse.storage.base import CHUNK_SIZE, Storage, StorageError, check_key, check_range


class MemoryStorage(Storage):
    """Safe to share between threads; each object is replaced whole under a lock, so readers see the old bytes or
    the new ones, and a write whose chunks fail stores nothing."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _get(self, key: str) -> bytes:
        check_key(key)
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise StorageError(f"no such object: {key}")
        return data

    def _put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._objects[key] = data

    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        check_key(key)
        data = b"".join(chunks)
        self._put(key, data)
        return len(data)

    def put_file(self, key: str, source: Path) -> None:
        check_key(key)
        self._put(key, source.read_bytes())
        source.unlink()

    def read(self, key: str) -> bytes:
        return self._get(key)

    def stream(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        data = self._get(key)
        stop = check_range(key, len(data), start, end, chunk_size)
        return (data[at : min(at + chunk_size, stop)] for at in range(start, stop, chunk_size))

    def size(self, key: str) -> int | None:
        check_key(key)
        with self._lock:
            data = self._objects.get(key)
        return None if data is None else len(data)

    def list(self, prefix: str) -> list[str]:
        under = check_key(prefix) + "/"
        with self._lock:
            return sorted(key for key in self._objects if key.startswith(under))

    def delete(self, key: str) -> None:
        check_key(key)
        with self._lock:
            self._objects.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        under = check_key(prefix) + "/"
        with self._lock:
            for key in [key for key in self._objects if key.startswith(under)]:
                del self._objects[key]
