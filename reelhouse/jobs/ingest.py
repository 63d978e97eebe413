"""The ingest step: get the original into storage, probe it, record what it is, hand it on.

Re-running it is safe: an original already in storage is not fetched again, and probing only reads.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Job, Media, Track, Upload
from reelhouse.jobs.worker import JobContext, PermanentError
from reelhouse.media.probe import ProbeResult
from reelhouse.net.fetch import FetchError, download
from reelhouse.runtime import Runtime
from reelhouse.storage import Storage
from reelhouse.storage.keys import original_key, upload_prefix
from reelhouse.webhooks.events import emit_media

COMMON_RATIOS = {(16, 9), (4, 3), (9, 16), (3, 4), (1, 1), (21, 9), (2, 1), (3, 2), (2, 3), (5, 4)}


def aspect_ratio(width: int, height: int) -> str:
    """`16:9` style; snaps to a common ratio within 1.5 % so 854x480 reads as 16:9, not 427:240."""
    for w, h in COMMON_RATIOS:
        if abs(width / height - w / h) <= 0.015 * (w / h):
            return f"{w}:{h}"
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}"


def frame_rate(fps: float | None) -> str | None:
    return None if fps is None else f"{fps:.3f}"


def set_status(rt: Runtime, media_id: str, status: MediaStatus) -> None:
    with rt.db.write() as session:
        media = session.get(Media, media_id)
        if media is not None:
            media.status = status


def _parts(storage: Storage, upload_id: str) -> Iterator[bytes]:
    for key in storage.list(f"{upload_prefix(upload_id)}/parts"):
        with storage.open(key) as part:
            while chunk := part.read(1024 * 1024):
                yield chunk


def assemble_upload(rt: Runtime, upload: Upload, key: str) -> None:
    """Joins the committed parts into the original, checking nothing is missing, then drops the parts."""
    size = rt.storage.write(key, _parts(rt.storage, upload.id))
    if size != upload.committed:
        rt.storage.delete(key)
        raise PermanentError(f"the uploaded parts add up to {size} bytes, expected {upload.committed}")
    rt.storage.delete_prefix(upload_prefix(upload.id))


def fetch(rt: Runtime, url: str, dest: Path, *, max_bytes: int, what: str = "input") -> None:
    """Downloads a URL an API caller gave under the pull rules: address policy, size limit, timeouts."""
    settings = rt.settings
    try:
        download(
            url,
            dest,
            settings.address_policy,
            max_bytes=max_bytes,
            connect_timeout=settings.download_connect_timeout,
            read_timeout=settings.download_read_timeout,
            max_redirects=settings.download_max_redirects,
        )
    except FetchError as exc:
        raise PermanentError(f"could not download the {what}: {exc}") from None


def fetch_original(ctx: JobContext, media: Media, key: str) -> None:
    rt = ctx.runtime
    if media.upload is not None:
        assemble_upload(rt, media.upload, key)
        return
    set_status(rt, media.id, MediaStatus.DOWNLOADING)
    dest = ctx.scratch / "source"
    fetch(rt, media.source_url or "", dest, max_bytes=rt.settings.max_source_bytes)
    rt.storage.put_file(key, dest)
    set_status(rt, media.id, MediaStatus.DOWNLOADED)


def record(media: Media, info: ProbeResult) -> None:
    """Copies what probing found onto the media and its source tracks."""
    media.container_format = info.container_format
    media.duration = info.duration
    media.is_audio_only = info.video is None
    media.tracks = [t for t in media.tracks if t.stream_index is None]  # re-running replaces, never duplicates
    video = info.video
    if video is not None and video.display_width and video.display_height:
        media.width, media.height = video.display_width, video.display_height
        media.frame_rate = frame_rate(video.frame_rate)
        media.aspect_ratio = aspect_ratio(video.display_width, video.display_height)
        media.tracks.append(Track(type="video", stream_index=video.index, position=0, width=video.display_width,
                                  height=video.display_height, frame_rate=media.frame_rate, codec=video.codec))
    audio_streams = [s for s in info.streams if s.type == "audio"]
    for position, audio in enumerate(audio_streams, start=1):
        media.tracks.append(Track(type="audio", stream_index=audio.index, position=position, codec=audio.codec,
                                  language_code=audio.language or "und", language_name="default"))


def run(ctx: JobContext) -> None:
    rt = ctx.runtime
    media_id = ctx.job.media_id
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        if media is None:  # deleted meanwhile: nothing to do
            return
        media.upload  # noqa: B018 - loaded for use outside the session
    key = original_key(media.id)
    if not rt.storage.exists(key):
        fetch_original(ctx, media, key)
    set_status(rt, media.id, MediaStatus.VALIDATING)
    with rt.storage.as_local_file(key, ctx.scratch) as path:
        info = ctx.probe(path)
    with rt.db.write() as session:
        media = session.get(Media, media_id)
        if media is None:  # deleted meanwhile: the worker purges what this job stored
            return
        record(media, info)
        media.status = MediaStatus.IN_QUEUE
        rt.jobs.enqueue(session, "transcode", workspace_id=media.workspace_id, media_id=media.id)
    rt.jobs.notify()


def give_up(rt: Runtime, job: Job, error: str) -> None:
    with rt.db.write() as session:
        media = session.get(Media, job.media_id)
        if media is not None:
            media.status = MediaStatus.FAILED
            media.error = error
            session.flush()
            emit_media(session, "video.media.failed", media, base_url=rt.settings.base_url)
