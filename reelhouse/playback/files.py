"""Answering with a stored object: byte ranges where the backend allows, cache headers and CORS for browsers."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Response
from fastapi.responses import FileResponse, StreamingResponse

from reelhouse.playback.access import Grant, not_found
from reelhouse.runtime import Runtime


def headers(grant: Grant, max_age: int) -> dict[str, str]:
    """Shared caches may keep what public playback IDs serve; answers to signed requests stay in the browser."""
    scope = "private" if grant.token else "public"
    return {"Cache-Control": f"{scope}, max-age={max_age}", "Access-Control-Allow-Origin": "*"}


def object_response(rt: Runtime, key: str, media_type: str, headers: dict[str, str]) -> Response:
    """From disk with byte ranges when the backend keeps objects locally, else streamed whole; 404 when absent."""
    path = rt.storage.local_path(key)
    if path is not None:
        if not path.is_file():
            raise not_found()
        return FileResponse(path, media_type=media_type, headers=headers)
    if not rt.storage.exists(key):
        raise not_found()
    return StreamingResponse(_chunks(rt, key), media_type=media_type, headers=headers)


def _chunks(rt: Runtime, key: str) -> Iterator[bytes]:
    with rt.storage.open(key) as f:
        while chunk := f.read(256 * 1024):
            yield chunk
