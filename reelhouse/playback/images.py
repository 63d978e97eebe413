"""`/images/{playbackId}/thumbnail.{jpg,png,webp}`: a frame of the original, rendered once per parameter set.

The rendered picture is kept in storage under a key made of its parameters, so asking again is a file read.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, Request, Response

from reelhouse.db.enums import MediaStatus
from reelhouse.media.ffmpeg import FFmpegError, run_ffmpeg
from reelhouse.media.thumbnail import FIT_MODES, MAX_SIZE, Layout, last_frame_command, layout, thumbnail_command
from reelhouse.playback.access import authorize, not_found
from reelhouse.playback.files import PlaybackRoute, headers, object_response
from reelhouse.runtime import Runtime
from reelhouse.storage import StorageError
from reelhouse.storage.keys import original_key, thumbnail_key
from reelhouse.wire.errors import ApiError

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, route_class=PlaybackRoute)

CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
CACHE_SECONDS = 86400  # a parameter set always renders the same picture
FFMPEG_TIMEOUT = 60.0  # one seek and one frame
RENDERS = 2  # ffmpeg processes rendering thumbnails at once
RENDER_WAIT_SECONDS = 30.0
_renders = threading.BoundedSemaphore(RENDERS)
N = TypeVar("N", int, float)


@router.get("/images/{playback_id}/thumbnail.{fmt}")
def thumbnail(playback_id: str, fmt: str, request: Request) -> Response:
    if fmt not in CONTENT_TYPES:
        raise not_found()
    rt: Runtime = request.app.state.runtime
    grant = authorize(rt, playback_id, request)
    media = grant.media
    if media.status != MediaStatus.READY or media.is_audio_only:
        raise not_found()
    if not (media.width and media.height and media.duration):  # recorded at ingest for every Ready video
        raise not_found()
    time, picture = _parse(request.query_params, (media.width, media.height), media.duration)
    name = f"{time:.3f}s-{picture.fit}-{picture.width}x{picture.height}.{fmt}"
    key = thumbnail_key(media.id, name)
    if not rt.storage.exists(key):
        _render(rt, media.id, time, picture, fmt, key)
    return object_response(rt, key, CONTENT_TYPES[fmt], headers(grant, CACHE_SECONDS))


def _parse(query: Mapping[str, str], size: tuple[int, int], duration: float) -> tuple[float, Layout]:
    """The frame time (the middle by default, to the millisecond ffmpeg seeks to) and the picture the query asks
    for; 400 naming a bad parameter."""
    time = _number(query, "time", float, 0, duration)
    width = _number(query, "width", int, 1, MAX_SIZE)
    height = _number(query, "height", int, 1, MAX_SIZE)
    fit = query.get("fit_mode", "preserve")
    if fit not in FIT_MODES:
        raise _invalid("fit_mode", f"must be one of {', '.join(FIT_MODES)}")
    return round(duration / 2 if time is None else time, 3), layout(size, width, height, fit)


def _number(query: Mapping[str, str], name: str, kind: Callable[[str], N], low: float, high: float) -> N | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise _invalid(name, f"must be {'an integer' if kind is int else 'a number'}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise _invalid(name, f"must be between {low:g} and {high:g}")
    return value


def _invalid(name: str, reason: str) -> ApiError:
    return ApiError(400, "Invalid thumbnail parameter", f"{name} {reason}.")


def _render(rt: Runtime, media_id: str, time: float, picture: Layout, fmt: str, key: str) -> None:
    """Renders into scratch and publishes the file; a time past the last frame (the very end) gets the last frame.
    At most RENDERS run at once: a flood of distinct thumbnail URLs waits its turn instead of forking ffmpegs."""
    if not _renders.acquire(timeout=RENDER_WAIT_SECONDS):
        raise ApiError(503, "Busy", "Too many thumbnails are being rendered; try again shortly.",
                       headers={"Retry-After": "2"})
    try:
        _render_now(rt, media_id, time, picture, fmt, key)
    finally:
        _renders.release()


def _render_now(rt: Runtime, media_id: str, time: float, picture: Layout, fmt: str, key: str) -> None:
    with tempfile.TemporaryDirectory(dir=rt.settings.scratch_dir) as tmp:
        dest = Path(tmp) / f"thumbnail.{fmt}"
        try:
            with rt.storage.as_local_file(original_key(media_id), Path(tmp)) as source:
                for args in (thumbnail_command(source, dest, time, picture, fmt),
                             last_frame_command(source, dest, picture, fmt)):
                    try:
                        run_ffmpeg(args, timeout=FFMPEG_TIMEOUT, ffmpeg=rt.settings.ffmpeg_path)
                    except FFmpegError as exc:
                        log.info("media %s: no thumbnail at %.3f s this way: %s", media_id, time, exc)
                        continue
                    if dest.is_file():
                        rt.storage.put_file(key, dest)
                        return
        except StorageError:  # the media was deleted meanwhile
            raise not_found() from None
    raise ApiError(404, "Not found", "No frame of this media could be rendered.")
