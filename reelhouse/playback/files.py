"""Answering with a stored object: byte ranges where the backend allows, cache headers and CORS for browsers."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import Receive, Scope, Send

from reelhouse.api.errors import error_response
from reelhouse.playback.access import Grant, not_found
from reelhouse.runtime import Runtime
from reelhouse.storage import Storage, StorageError
from reelhouse.wire.errors import ApiError

CORS = {"Access-Control-Allow-Origin": "*"}
_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})", re.IGNORECASE)  # longer numbers: no range anyone can satisfy


class PlaybackRoute(APIRoute):
    """Playback answers GET and HEAD, and its errors carry CORS too: a browser player must see the 403 or
    404, not a CORS failure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["methods"] = ["GET", "HEAD"]
        super().__init__(*args, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                return await handler(request)
            except ApiError as exc:
                exc.headers = {**(exc.headers or {}), **CORS}
                raise

        return with_cors


def headers(grant: Grant, max_age: int, *, immutable: bool = False) -> dict[str, str]:
    """Shared caches (a CDN) may keep only what anyone may play; restricted answers stay in the browser,
    so no cache hands them out without our checks."""
    cache = f"{'public' if grant.shareable else 'private'}, max-age={max_age}" + (", immutable" if immutable else "")
    return {"Cache-Control": cache, **CORS}


class ObjectFile(FileResponse):
    """Reads 1 MiB at a time instead of Starlette's 64 KiB: a segment is one or two thread hops, not dozens. Ranges
    mean what they mean for ObjectStream (`byte_range`): one range is served by Starlette, anything else is the
    whole file, and a range past the end is refused in the error envelope."""

    chunk_size = 1024 * 1024

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Headers(scope=scope)
        if "range" in request and "if-range" not in request and self.stat_result is not None:
            try:
                span = byte_range(request["range"], self.stat_result.st_size)
            except ApiError as exc:
                await _error(exc)(scope, receive, send)
                return
            if span is None:
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"range"]}
        await super().__call__(scope, receive, send)


class Handoff(Response):
    """A file on local disk for the nginx in front to send (REELHOUSE_ACCEL_REDIRECT): our headers, no body, and
    `X-Accel-Redirect` naming it under nginx's internal location, which sends it with sendfile, byte ranges
    included. A range past the end is still refused here, in the error envelope."""

    def __init__(self, location: str, size: int, media_type: str, headers: dict[str, str]) -> None:
        super().__init__(media_type=media_type, headers={**headers, "X-Accel-Redirect": location})
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            asked_range(Headers(scope=scope), self.size)
        except ApiError as exc:
            await _error(exc)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class ObjectStream(Response):
    """An object the backend cannot hand over as a file (an object store), streamed from `Storage.stream` with a
    single byte range when one is asked for: players seek, downloads resume. Like FileResponse it reads the Range
    header and does its I/O when sent, in a worker thread, so an async handler never waits on storage."""

    chunk_size = 1024 * 1024

    def __init__(self, storage: Storage, key: str, media_type: str, headers: dict[str, str]) -> None:
        self.storage, self.key = storage, key
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers({**headers, "Accept-Ranges": "bytes"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await run_in_threadpool(self._response, Headers(scope=scope), scope["method"] == "HEAD")
        await response(scope, receive, send)

    def _response(self, request: Headers, head: bool) -> Response:
        size = self.storage.size(self.key)
        if size is None:
            return _error(not_found())
        try:
            span = asked_range(request, size)
        except ApiError as exc:
            return _error(exc)
        start, end = span or (0, size)
        headers = MutableHeaders(raw=list(self.raw_headers))
        headers["Content-Length"] = str(end - start)
        if span:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        status = 206 if span else 200
        if head:
            return Response(status_code=status, headers=headers, background=self.background)
        try:
            chunks = self.storage.stream(self.key, start, end, self.chunk_size)
        except StorageError:  # deleted, or replaced by a shorter object, since it was sized
            return _error(not_found())
        return StreamingResponse(chunks, status_code=status, headers=headers, background=self.background)


def asked_range(request: Headers, size: int) -> tuple[int, int] | None:
    """The request's one byte range (`byte_range`); None under If-Range too: we keep no validator it could match,
    so RFC 9110 sends the whole object."""
    return None if "if-range" in request else byte_range(request.get("range"), size)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range a `Range: bytes=a-b`, `a-` or `-n` asks for, as [start, end); None to send the whole object:
    no header, several ranges, or one RFC 9110 lets a server ignore. 416 when it starts past the end."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        start, end = max(0, size - int(last)), size
    elif last and int(last) < int(first):
        return None
    else:
        start, end = int(first), size if not last else min(int(last) + 1, size)
    if start >= end:  # past the end, a zero suffix (`-0`), or any range of an empty object
        raise ApiError(416, "Range not satisfiable", f"The object has {size} bytes.",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _redirect(rt: Runtime, key: str, headers: dict[str, str], shareable: bool) -> Response | None:
    """A 302 to a presigned URL, valid for REELHOUSE_PLAYBACK_REDIRECT_SECONDS, or to the CDN base URL and the key
    for media anyone may play; None to serve the object from here."""
    mode = rt.settings.playback_redirect
    if mode == "presigned":
        url = rt.storage.presigned_url(key, rt.settings.playback_redirect_seconds, headers)
        cache = "private, no-store"  # no cache may keep the redirect past the URL's expiry
    elif mode != "off" and shareable:
        url, cache = f"{mode.rstrip('/')}/{key}", headers["Cache-Control"]
    else:
        return None
    if url is None:
        return None
    return RedirectResponse(url, status_code=302, headers={**CORS, "Cache-Control": cache})


def _error(error: ApiError) -> Response:
    """The error envelope with CORS, for answers decided when the response is sent, past PlaybackRoute's handler."""
    error.headers = {**(error.headers or {}), **CORS}
    return error_response(error)


def object_response(rt: Runtime, key: str, media_type: str, headers: dict[str, str], *,
                    shareable: bool = False) -> Response:
    """From disk with byte ranges (Starlette's) when the backend keeps objects locally, else an ObjectStream;
    404 when absent. Under REELHOUSE_PLAYBACK_REDIRECT, a 302 to where the client fetches it itself instead; the
    caller has made the access checks, and `shareable` says anyone may play it (a CDN URL carries no check)."""
    redirect = _redirect(rt, key, {"Content-Type": media_type, **headers}, shareable)
    if redirect is not None:
        return redirect
    path = rt.storage.local_path(key)
    if path is not None:
        try:
            found = path.stat()  # handed on, so the response does not stat again in a worker thread
        except FileNotFoundError:
            raise not_found() from None
        if not stat.S_ISREG(found.st_mode):
            raise not_found()
        if rt.settings.accel_redirect:
            return Handoff(rt.settings.accel_redirect + quote(key), found.st_size, media_type, headers)
        return ObjectFile(path, media_type=media_type, headers=headers, stat_result=found)
    return ObjectStream(rt.storage, key, media_type, headers)
