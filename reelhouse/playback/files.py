"""Answering with a stored object: byte ranges where the backend allows, cache headers and CORS for browsers."""

from __future__ import annotations

import stat
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.routing import APIRoute

from reelhouse.playback.access import Grant, not_found
from reelhouse.runtime import Runtime
from reelhouse.wire.errors import ApiError

CORS = {"Access-Control-Allow-Origin": "*"}


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
    """Reads 1 MiB at a time instead of Starlette's 64 KiB: a segment is one or two thread hops, not dozens."""

    chunk_size = 1024 * 1024


def object_response(rt: Runtime, key: str, media_type: str, headers: dict[str, str]) -> Response:
    """From disk with byte ranges when the backend keeps objects locally, else streamed whole; 404 when absent."""
    path = rt.storage.local_path(key)
    if path is not None:
        try:
            found = path.stat()  # handed on, so the response does not stat again in a worker thread
        except FileNotFoundError:
            raise not_found() from None
        if not stat.S_ISREG(found.st_mode):
            raise not_found()
        return ObjectFile(path, media_type=media_type, headers=headers, stat_result=found)
    if not rt.storage.exists(key):
        raise not_found()
    return StreamingResponse(_chunks(rt, key), media_type=media_type, headers=headers)


def _chunks(rt: Runtime, key: str) -> Iterator[bytes]:
    with rt.storage.open(key) as f:
        while chunk := f.read(256 * 1024):
            yield chunk
