"""The backend a storage URL names: `file:///path` (the local disk) or `s3://bucket/prefix` (any S3-compatible
service, configured by boto3's own AWS_* variables)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from reelhouse.settings import Settings
from reelhouse.storage.base import Storage, StorageError
from reelhouse.storage.local import LocalStorage


def storage_at(url: str) -> Storage:
    """The backend for `url`, not yet contacted; StorageError saying what is wrong with the URL."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise StorageError(f"{url!r} has a query or fragment; use file:///path or s3://bucket/prefix")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StorageError(f"{url!r} is not an absolute file URL such as file:///var/lib/reelhouse/objects")
        try:
            return LocalStorage(Path(unquote(parts.path)))
        except OSError as exc:  # the root could not be created
            raise StorageError(f"{url!r} cannot hold objects: {exc}") from None
    if parts.scheme == "s3":
        from reelhouse.storage.s3 import S3Storage  # boto3 loads only where S3 is used

        if not parts.netloc:
            raise StorageError(f"{url!r} names no bucket; use s3://bucket or s3://bucket/prefix")
        return S3Storage(parts.netloc, parts.path)
    raise StorageError(f"{url!r} is neither file:///path nor s3://bucket/prefix")


def open_storage(settings: Settings) -> Storage:
    """The configured backend, checked reachable (S3: the bucket answers a HEAD); StorageError naming the setting."""
    if settings.playback_redirect == "presigned" and urlsplit(settings.storage_url or "").scheme != "s3":
        raise StorageError("REELHOUSE_PLAYBACK_REDIRECT: presigned needs S3 storage (REELHOUSE_STORAGE_URL=s3://…)")
    if settings.storage_url is None:
        return LocalStorage(settings.objects_dir)
    try:
        storage = storage_at(settings.storage_url)
        storage.check()
    except StorageError as exc:
        raise StorageError(f"REELHOUSE_STORAGE_URL: {exc}") from None
    return storage
