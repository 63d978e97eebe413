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
    Objects deleted at the source while this runs are skipped."""
    done = Migration()
    for key in (key for root in ROOTS for key in source.list(root)):
        size = source.size(key)
        if size is None:
            continue
        if target.size(key) == size and digest(source.stream(key)) == digest(target.stream(key)):
            done.present += 1
            continue
        sent: list[tuple[int, str]] = []
        target.write(key, _tee(source.stream(key), sent))
        if digest(target.stream(key)) != sent[0]:
            raise StorageError(f"{key} reads back different from the source after copying; nothing else was changed")
        on_copy(key, sent[0][0])
        done.copied += 1
        done.copied_bytes += sent[0][0]
    return done


def _tee(chunks: Iterable[bytes], result: list[tuple[int, str]]) -> Iterator[bytes]:
    """The chunks, passed on; their size and digest appended to `result` once all have gone."""
    sha, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
        yield chunk
    result.append((size, sha.hexdigest()))
