"""A backend wrapper counting the other backend's failures in `reelhouse_storage_errors_total`.

A StorageError is the backend's answer (no such object, a range outside it, a bad key) and counts as none; the backend
failing counts: StorageUnavailable (an object store that still failed after its retries) or any other exception
(a full disk).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from reelhouse.metrics import STORAGE_ERRORS
from reelhouse.storage.base import CHUNK_SIZE, Storage, StorageError, StorageUnavailable


@contextmanager
def _counted(operation: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, StorageError) or isinstance(exc, StorageUnavailable):
            STORAGE_ERRORS.labels(operation).inc()
        raise


class Metered(Storage):
    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        with _counted("write"):
            return self.inner.write(key, chunks, durable=durable)

    def put_file(self, key: str, source: Path) -> None:
        with _counted("put_file"):
            self.inner.put_file(key, source)

    def move(self, source: str, key: str) -> None:
        with _counted("move"):
            self.inner.move(source, key)

    def read(self, key: str) -> bytes:
        with _counted("read"):
            return self.inner.read(key)

    def stream(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        with _counted("stream"):
            chunks = self.inner.stream(key, start, end, chunk_size)
        return self._streamed(chunks)

    @staticmethod
    def _streamed(chunks: Iterator[bytes]) -> Iterator[bytes]:
        with _counted("stream"):
            yield from chunks

    def size(self, key: str) -> int | None:
        with _counted("size"):
            return self.inner.size(key)

    def list(self, prefix: str) -> list[str]:
        with _counted("list"):
            return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        with _counted("delete"):
            self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        with _counted("delete_prefix"):
            self.inner.delete_prefix(prefix)

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def exists(self, key: str) -> bool:
        with _counted("exists"):
            return self.inner.exists(key)

    def check(self) -> None:
        with _counted("check"):
            self.inner.check()

    def presigned_url(self, key: str, seconds: int, headers: dict[str, str]) -> str | None:
        with _counted("presigned_url"):
            return self.inner.presigned_url(key, seconds, headers)

    def as_local_file(self, key: str, scratch: Path) -> AbstractContextManager[Path]:
        return self.inner.as_local_file(key, scratch)

    def as_input(self, key: str, scratch: Path, seconds: int) -> AbstractContextManager[Path | str]:
        return self.inner.as_input(key, scratch, seconds)
