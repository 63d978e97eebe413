"""Uploading a file through a signed upload URL, resumably (spec section 14: `Content-Range` chunks, `308` with
`Range` for what the server committed).

After a dropped connection, a timeout or a server restart the uploader asks the server how many bytes it
committed (`Content-Range: bytes */TOTAL`) and goes on from there, so nothing committed is sent twice and a
restart loses nothing. The file is checked for changes before every chunk: a file that changes is refused
and its upload cancelled, so no half media is ever made from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from reelhouse_sdk import errors, models
from reelhouse_sdk import operations as ops
from reelhouse_sdk.retries import RETRY_STATUSES

if TYPE_CHECKING:
    from reelhouse_sdk._core import ReelhouseCore

CHUNK_UNIT = 256 * 1024  # GCS-style resumable uploads take chunks in multiples of 256 KiB
DEFAULT_CHUNK = 32 * CHUNK_UNIT  # 8 MiB
_RANGE = re.compile(r"^bytes=0-(\d+)$")

Progress = Callable[[int, int], Any]  # (bytes committed, total bytes)


def _file_size(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) of a readable, non-empty regular file; UploadError otherwise."""
    try:
        stat = path.stat()
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise errors.UploadError(f"{path}: no such file") from None
    except OSError as exc:
        raise errors.UploadError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not path.is_file():
        raise errors.UploadError(f"{path}: not a regular file")
    if stat.st_size == 0:
        raise errors.UploadError(f"{path}: empty file")
    return stat.st_size, stat.st_mtime_ns


class _Sender:
    """One file to one upload URL: the resumable protocol and its retries."""

    def __init__(self, core: ReelhouseCore, url: str, path: Path, chunk_size: int, progress: Progress | None):
        if not isinstance(chunk_size, int) or chunk_size <= 0 or chunk_size % CHUNK_UNIT:
            raise ValueError(f"chunk_size must be a positive multiple of {CHUNK_UNIT} bytes (256 KiB)")
        if progress is not None and not callable(progress):
            raise TypeError("progress must be a callable taking (bytes_sent, total_bytes)")
        self.core, self.url, self.path, self.chunk_size, self.progress = core, url, path, chunk_size, progress
        self.size, self.mtime = _file_size(path)
        self.policy = (core.retry_config.policy if core.retry_config and core.retry_config.enabled else None)
        self.timeout = core.timeout_ms / 1000

    def run(self) -> dict[str, Any]:
        """Sends what the server lacks; returns the completion answer's `data` (`uploadId`, `mediaId`, `size`)."""
        started, failures = time.monotonic(), 0
        offset: int | None = None
        while True:
            try:
                if offset is None:
                    offset, done = self._ask()
                else:
                    offset, done = self._send_chunk(offset)
                failures = 0
            except (httpx.TransportError, _Retryable) as exc:
                failures += 1
                offset = None  # what arrived is unknown: ask before sending again
                self._wait_or_fail(exc, failures, started)
                continue
            if done is not None:
                return self._verified(done)
            self._report(offset)

    def _put(self, headers: dict[str, str], content: bytes = b"") -> httpx.Response:
        response = self.core.client.put(self.url, content=content, headers=headers, timeout=self.timeout)
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}")
        if response.status_code not in (200, 201, 308):
            raise errors.UploadError(str(errors.from_response(response)), status_code=response.status_code,
                                     raw_response=response)
        return response

    def _ask(self) -> tuple[int, dict[str, Any] | None]:
        """How many bytes the server has committed (or the completion answer)."""
        return self._outcome(self._put({"Content-Range": f"bytes */{self.size}"}))

    def _send_chunk(self, offset: int) -> tuple[int, dict[str, Any] | None]:
        self._check_unchanged()
        with self.path.open("rb") as f:
            f.seek(offset)
            chunk = f.read(min(self.chunk_size, self.size - offset))
        last = offset + len(chunk) - 1
        headers = {"Content-Range": f"bytes {offset}-{last}/{self.size}", "Content-Type": "application/octet-stream"}
        return self._outcome(self._put(headers, chunk))

    def _outcome(self, response: httpx.Response) -> tuple[int, dict[str, Any] | None]:
        if response.status_code == 308:
            match = _RANGE.match(response.headers.get("range", ""))
            return (int(match.group(1)) + 1 if match else 0), None
        try:
            return self.size, response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise errors.UnexpectedResponseError(
                f"upload finished with an unreadable answer: {errors.excerpt(response.text)}",
                status_code=response.status_code, raw_response=response) from None

    def _check_unchanged(self) -> None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise errors.UploadError(f"{self.path}: disappeared during the upload ({exc.strerror})") from None
        if (stat.st_size, stat.st_mtime_ns) != (self.size, self.mtime):
            raise errors.UploadError(f"{self.path}: changed during the upload; nothing was made from it")

    def _verified(self, done: dict[str, Any]) -> dict[str, Any]:
        if done.get("size") is not None and done["size"] != self.size:
            raise errors.UploadError(f"the server received {done['size']} bytes of {self.size}")
        self._report(self.size)
        return done

    def _report(self, offset: int) -> None:
        if self.progress is not None:
            self.progress(offset, self.size)

    def _wait_or_fail(self, exc: Exception, failures: int, started: float) -> None:
        if self.policy is None:
            raise errors.ConnectionError(f"upload interrupted: {exc}") from exc
        delay = self.policy.delay(failures - 1)
        if (time.monotonic() - started + delay) * 1000 > self.policy.max_elapsed_time:
            raise errors.ConnectionError(f"upload interrupted and the server did not come back: {exc}") from exc
        self.core.logger.debug("upload interrupted (%s); resuming in %.2f s", exc, delay)
        time.sleep(delay)


class _Retryable(Exception):
    """A status worth asking again about (408, 429, 5xx)."""


class Uploads:
    """`client.uploads`: send local files to the server (what the official SDK cannot do)."""

    def __init__(self, core: ReelhouseCore) -> None:
        self._core = core

    def upload_file(
        self, path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK, progress: Progress | None = None,
        cors_origin: str = "*", idempotency_key: str | None = None, on_upload: Callable[[models.Upload], Any] | None = None,
        **push_media_settings: Any,
    ) -> models.Media:
        """Creates a direct upload with `push_media_settings` (`access_policy="public"`, `title=…`, `metadata=…`,
        any field of `PushMediaSettings`), sends the file resumably and returns the media made from it.
        `on_upload(upload)` is called once the upload exists, with the URL `resume` can continue from."""
        file = Path(path)
        _file_size(file)  # a missing or unreadable file fails before anything is created
        body = models.DirectUploadRequest(cors_origin=cors_origin,
                                          push_media_settings=models.PushMediaSettings(**push_media_settings))
        upload = self._core.send(ops.input_video_upload(body=body, idempotency_key=idempotency_key)).data
        if on_upload is not None:
            on_upload(upload)
        assert upload.url is not None
        try:
            return self.resume(upload.url, file, chunk_size=chunk_size, progress=progress)
        except errors.UploadError:  # the file cannot be sent as it is: leave no upload waiting for it
            with contextlib.suppress(errors.ReelhouseError):
                self._core.send(ops.manage_videos_cancel_upload(upload_id=upload.upload_id))
            raise

    def resume(self, upload_url: str, path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK,
               progress: Progress | None = None) -> models.Media:
        """Continues (or starts) sending `path` to `upload_url` from what the server has committed; returns the
        media once the last byte is in. Works from another process than the one that began."""
        if not isinstance(upload_url, str) or not upload_url.startswith(("http://", "https://")):
            raise ValueError("upload_url must be the http(s) URL of a direct upload")
        done = _Sender(self._core, upload_url, Path(path), chunk_size, progress).run()
        media_id = done.get("mediaId") or done.get("uploadId")
        return self._core.send(ops.manage_videos_get(media_id=media_id)).data

    async def upload_file_async(self, path: str | os.PathLike[str], **kwargs: Any) -> models.Media:
        """`upload_file` in a worker thread: file and socket I/O that does not block the event loop."""
        return await asyncio.to_thread(self.upload_file, path, **kwargs)

    async def resume_async(self, upload_url: str, path: str | os.PathLike[str], **kwargs: Any) -> models.Media:
        return await asyncio.to_thread(self.resume, upload_url, path, **kwargs)
