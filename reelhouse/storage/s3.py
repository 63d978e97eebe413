"""S3-compatible backend (AWS S3, MinIO, Ceph, R2 …) through boto3: objects under an optional prefix in one bucket.

Connection settings are boto3's own (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, …), so any S3-compatible
service works unchanged. 5xx answers and throttling are retried by botocore with backoff; what still fails is a
StorageError that says which operation, which key and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reelhouse.storage.base import CHUNK_SIZE, Storage, StorageError, StorageUnavailable, check_key, check_range

MiB = 1024 * 1024
# Parts of 16 MiB, four at a time: a stream of unknown length is buffered one part per thread, so memory stays
# flat whatever the object's size, and 10,000 parts reach 160 GiB.
TRANSFER = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
# Retries with backoff for 5xx, throttling and dropped connections; SigV4 presigned URLs, which every region and
# S3-compatible service takes.
CLIENT = Config(retries={"mode": "standard", "total_max_attempts": 5}, connect_timeout=10, read_timeout=60,
                signature_version="s3v4")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MISSING = {"404", "NoSuchKey", "NotFound"}
# Response headers a presigned GET can set, so a redirected answer carries what a proxied one would.
_PRESIGNED_HEADERS = {"Content-Type": "ResponseContentType", "Content-Disposition": "ResponseContentDisposition",
                      "Cache-Control": "ResponseCacheControl"}


def check_bucket_name(bucket: str) -> str:
    if not _BUCKET.match(bucket):
        raise StorageError(f"{bucket!r} is not an S3 bucket name (3 to 63 lowercase letters, digits, dots, hyphens)")
    return bucket


def reason(exc: Exception) -> str:
    """What went wrong, in S3's words where it gave some."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{error.get('Code', 'error')} (HTTP {status}): {error.get('Message') or 'no message'}"
    return str(exc) or type(exc).__name__


def _missing(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING


class _ChunkReader:
    """A file-like view of an iterable of chunks, for boto3's managed upload of a stream of unknown length."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()
        self.size = 0

    def read(self, amount: int = -1) -> bytes:
        while amount < 0 or len(self._buffer) < amount:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
            self.size += len(chunk)
        cut = len(self._buffer) if amount < 0 else amount
        data = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return data


class S3Storage(Storage):
    """Safe to share between threads (one boto3 client). No object has a local path: tools get scratch copies."""

    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        self.bucket = check_bucket_name(bucket)
        self.prefix = check_key(prefix.strip("/")) if prefix.strip("/") else ""
        self.client = client or boto3.session.Session().client("s3", config=CLIENT)

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, operation: str, key: str, exc: Exception) -> StorageError:
        return StorageUnavailable(f"S3 {operation} of {key} in bucket {self.bucket} failed: {reason(exc)}")

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            why = "does not exist" if _missing(exc) else f"is not reachable: {reason(exc)}"
            raise StorageError(f"bucket {self.bucket} {why}") from None

    def write(self, key: str, chunks: Iterable[bytes], *, durable: bool = False) -> int:
        """One PUT, or a multipart upload past 16 MiB that boto3 aborts when the chunks fail: S3 shows the object
        only once complete, so readers see the old one or the whole new one. Acknowledged PUTs are durable."""
        full = self._key(key)
        reader = _ChunkReader(chunks)
        try:
            self.client.upload_fileobj(reader, self.bucket, full, Config=TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("upload", key, exc) from None
        return reader.size

    def put_file(self, key: str, source: Path) -> None:
        full = self._key(key)
        try:
            self.client.upload_file(str(source), self.bucket, full, Config=TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("upload", key, exc) from None
        source.unlink()

    def move(self, source: str, key: str) -> None:
        """A server-side copy (multipart past 16 MiB, so past S3's 5 GB single-copy limit too), then the delete."""
        try:
            self.client.copy({"Bucket": self.bucket, "Key": self._key(source)}, self.bucket, self._key(key),
                             Config=TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            if _missing(exc):
                raise StorageError(f"no such object: {source}") from None
            raise self._fail("copy", source, exc) from None
        self.delete(source)

    def read(self, key: str) -> bytes:
        return b"".join(self.stream(key))

    def stream(self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """One ranged GET, sent now: a missing object or a range outside it fails the call. The open response is the
        snapshot (S3 serves a GET begun before a replacement from the old object)."""
        full = self._key(key)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        if start < 0 or (end is not None and end <= start):  # not expressible as an HTTP range: sized by a HEAD
            check_range(key, self._size_or_fail(key), start, end, chunk_size)
            return iter(())
        request: dict[str, str] = {"Bucket": self.bucket, "Key": full}
        if start or end is not None:
            request["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = self.client.get_object(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # starts at or past the end
                check_range(key, self._size_or_fail(key), start, end, chunk_size)
                return iter(())  # the empty range at the very end
            raise StorageError(f"no such object: {key}") if _missing(exc) else self._fail("read", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("read", key, exc) from None
        body = answer["Body"]
        ranged = _CONTENT_RANGE.fullmatch(answer.get("ContentRange") or "")
        size = int(ranged.group(3)) if ranged else answer["ContentLength"]
        try:
            stop = check_range(key, size, start, end, chunk_size)  # S3 cuts a range running past the end short
        except BaseException:
            body.close()
            raise
        return self._chunks(body, key, start, stop, chunk_size)

    def _chunks(self, body: Any, key: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        try:
            while start < stop:
                chunk = body.read(min(chunk_size, stop - start))
                while chunk and len(chunk) < min(chunk_size, stop - start):  # a short read is not the end
                    more = body.read(min(chunk_size, stop - start) - len(chunk))
                    if not more:
                        break
                    chunk += more
                if not chunk:
                    raise StorageError(f"{key} ended at byte {start}, before {stop}")
                start += len(chunk)
                yield chunk
        except (BotoCoreError, OSError) as exc:
            raise self._fail("read", key, exc) from None
        finally:
            body.close()

    def _size_or_fail(self, key: str) -> int:
        size = self.size(key)
        if size is None:
            raise StorageError(f"no such object: {key}")
        return size

    def size(self, key: str) -> int | None:
        full = self._key(key)
        try:
            return self.client.head_object(Bucket=self.bucket, Key=full)["ContentLength"]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise self._fail("HEAD", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("HEAD", key, exc) from None

    def _pages(self, prefix: str) -> Iterator[list[str]]:
        """The full keys under `prefix/`, a page (at most 1,000) at a time."""
        under = self._key(prefix) + "/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under):
                yield [item["Key"] for item in page.get("Contents", [])]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("list", prefix + "/", exc) from None

    def list(self, prefix: str) -> list[str]:
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(full[cut:] for page in self._pages(prefix) for full in page)

    def delete(self, key: str) -> None:
        full = self._key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=full)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("delete", key, exc) from None

    def delete_prefix(self, prefix: str) -> None:
        """A listing page at a time, each deleted in one request (S3 takes up to 1,000 keys in a batch)."""
        for page in self._pages(prefix):
            if not page:
                continue
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": full} for full in page], "Quiet": True}
                )
            except (BotoCoreError, ClientError) as exc:
                raise self._fail("delete", prefix + "/", exc) from None
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise StorageUnavailable(f"S3 delete of {first.get('Key')} in bucket {self.bucket} failed: "
                                   f"{first.get('Code')}: {first.get('Message')} ({len(answer['Errors'])} keys)")

    def presigned_url(self, key: str, seconds: int, headers: dict[str, str]) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        params.update({_PRESIGNED_HEADERS[name]: value for name, value in headers.items() if name in _PRESIGNED_HEADERS})
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
