"""Copying every object from one backend to another, each verified by size and SHA-256 on the target: how a
library moves from the local disk to S3. Safe to re-run: objects already at the target and identical are skipped."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from reelhouse.storage.base import Storage, StorageError
from reelhouse.storage.keys import ROOTS


@dataclass
class Migration:
    copied: int = 0
    copied_bytes: int = 0
    present: int = 0  # already at the target, verified identical


def digest(chunks: Iterable[bytes]) -> tuple[int, str]:
    """Size and SHA-256 of a stream."""
    result: list[tuple[int, str]] = []
    deque(_tee(chunks, result), maxlen=0)
    return result[0]


def migrate(source: Storage, target: Storage, on_copy: Callable[[str, int], None] = lambda key, size: None) -> Migration:
    """Copies what the target lacks or holds differently; StorageError when a copy does not read back identical.
    Objects deleted at the source while this runs are skipped; objects only the target has are left alone."""
    done = Migration()
    for key in (key for root in ROOTS for key in source.list(root)):
        try:
            copied = _copy(source, target, key)
        except StorageError:
            if source.exists(key):
                raise
            continue  # deleted at the source since it was listed: a server is still running
        if copied is None:
            done.present += 1
        else:
            on_copy(key, copied)
            done.copied += 1
            done.copied_bytes += copied
    return done


def _copy(source: Storage, target: Storage, key: str) -> int | None:
    """Bytes copied, or None when the target already holds the same bytes."""
    size = source.size(key)
    if size is None:
        raise StorageError(f"no such object: {key}")
    if target.size(key) == size and digest(source.stream(key)) == digest(target.stream(key)):
        return None
    sent: list[tuple[int, str]] = []
    target.write(key, _tee(source.stream(key), sent))
    if digest(target.stream(key)) != sent[0]:
        raise StorageError(f"{key} reads back different from the source after copying; nothing else was changed")
    return sent[0][0]


def _tee(chunks: Iterable[bytes], result: list[tuple[int, str]]) -> Iterator[bytes]:
    """The chunks, passed on; their size and digest appended to `result` once all have gone."""
    sha, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
        yield chunk
    result.append((size, sha.hexdigest()))
