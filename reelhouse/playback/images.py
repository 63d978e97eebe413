"""`/images/{playbackId}/thumbnail.{jpg,png,webp}`: a frame of the media, rendered once per parameter set.

The rendered picture is kept in storage under a key made of its parameters, so asking again is a file read.
The frame comes from the original where the backend keeps it on this disk, else from the one HLS segment that
holds it: a request never copies a whole original.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import av
from fastapi import APIRouter, Request, Response

from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Media
from reelhouse.media import hls
from reelhouse.media.ffmpeg import FFmpegError, run_ffmpeg
from reelhouse.media.thumbnail import FIT_MODES, MAX_SIZE, Layout, last_frame_command, layout, thumbnail_command
from reelhouse.playback.access import authorize, not_found
from reelhouse.playback.files import PlaybackRoute, headers, object_response
from reelhouse.runtime import Runtime
from reelhouse.storage import StorageError
from reelhouse.storage.keys import original_key, rendition_prefix, thumbnail_key
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
        _render(rt, media, time, picture, fmt, key)
    return object_response(rt, key, CONTENT_TYPES[fmt], headers(grant, CACHE_SECONDS), shareable=grant.shareable)


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


def _render(rt: Runtime, media: Media, time: float, picture: Layout, fmt: str, key: str) -> None:
    """Renders into scratch and publishes the file; a time past the last frame (the very end) gets the last frame.
    At most RENDERS run at once: a flood of distinct thumbnail URLs waits its turn instead of forking ffmpegs."""
    if not _renders.acquire(timeout=RENDER_WAIT_SECONDS):
        raise ApiError(503, "Busy", "Too many thumbnails are being rendered; try again shortly.",
                       headers={"Retry-After": "2"})
    try:
        _render_now(rt, media, time, picture, fmt, key)
    finally:
        _renders.release()


def _render_now(rt: Runtime, media: Media, time: float, picture: Layout, fmt: str, key: str) -> None:
    with tempfile.TemporaryDirectory(dir=rt.settings.scratch_dir) as tmp:
        dest = Path(tmp) / f"thumbnail.{fmt}"
        try:
            source, at = _frame_source(rt, media, time, Path(tmp))
        except StorageError:  # the media was deleted meanwhile
            raise not_found() from None
        except av.FFmpegError as exc:
            log.warning("media %s: its video rendition is unreadable: %s", media.id, exc)
            raise _no_frame() from None
        for args in (thumbnail_command(source, dest, at, picture, fmt), last_frame_command(source, dest, picture, fmt)):
            try:
                run_ffmpeg(args, timeout=FFMPEG_TIMEOUT, ffmpeg=rt.settings.ffmpeg_path)
            except FFmpegError as exc:
                log.info("media %s: no thumbnail at %.3f s this way: %s", media.id, time, exc)
                continue
            if dest.is_file():
                rt.storage.put_file(key, dest)
                return
    raise _no_frame()


def _no_frame() -> ApiError:
    return ApiError(404, "Not found", "No frame of this media could be rendered.")


def _frame_source(rt: Runtime, media: Media, time: float, scratch: Path) -> tuple[Path, float]:
    """The file ffmpeg reads the frame at `time` from, and the frame's time in it. The original is read in place
    when the backend keeps it on this disk. Otherwise the original could be gigabytes away in an object store, so
    the frame comes from the sharpest video rendition: the one segment holding `time`, behind its init segment
    in scratch, a few megabytes; while that rendition is still being encoded, a time past its stored segments is a
    503 to retry."""
    original = rt.storage.local_path(original_key(media.id))
    if original is not None:
        if not original.is_file():
            raise StorageError(f"no original for media {media.id}")
        return original, time
    videos = [r for r in media.renditions if r.type == "video"]
    if not videos:
        raise StorageError(f"no video rendition for media {media.id}")
    best = max(videos, key=lambda r: ((r.width or 0) * (r.height or 0), r.bandwidth))
    prefix = rendition_prefix(media.id, best.name)
    playlist = hls.parse_media_playlist(rt.storage.read(f"{prefix}/index.m3u8").decode())
    if not best.complete and time >= playlist.duration:  # not encoded yet: the last stored frame would be wrong
        raise ApiError(503, "Not encoded yet", "That part of the media is still being encoded; try again shortly.",
                       headers={"Retry-After": "5"})
    uri, start = segment_at(playlist, time)
    joined = scratch / "segment.mp4"
    with joined.open("wb") as out:
        for name in [*([playlist.init] if playlist.init else []), uri]:
            out.writelines(rt.storage.stream(f"{prefix}/{name}"))
    return joined, min(max(0.0, time - start), _last_frame_time(joined))


def _last_frame_time(segment: Path) -> float:
    """When the segment's last video frame shows, from its start, to the millisecond below (ffmpeg seeks to the
    first frame at or after a time), by reading packets only. Later times get this frame, as the end of the original
    does: `last_frame_command` cannot find it in a segment, since ffmpeg counts `-sseof` from a fragment's end
    time, not from its length."""
    with av.open(str(segment)) as container:
        stream = container.streams.video[0]
        last = max((packet.pts for packet in container.demux(stream) if packet.pts is not None), default=None)
        if last is None:
            return 0.0
        shown = float(last * stream.time_base) - (container.start_time or 0) / av.time_base
    return max(0.0, math.floor(shown * 1000) / 1000)


def segment_at(playlist: hls.MediaPlaylist, time: float) -> tuple[str, float]:
    """The segment holding `time` and its start; the last one for the very end, where the last frame is wanted."""
    starts = playlist.starts()
    for (uri, duration), start in zip(playlist.segments, starts, strict=True):
        if time < start + duration:
            return uri, start
    return playlist.segments[-1][0], starts[-1]
