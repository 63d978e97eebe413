"""The ingest step: get the original into storage, probe it, record what it is, hand it on.

Re-running it is safe: an original already in storage is not fetched again, and probing only reads.
"""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy.orm import Session

from reelhouse.catalog.media import mark_failed, set_status
from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import Job, Media, Track, Upload
from reelhouse.jobs import clips, transforms
from reelhouse.jobs.params import Params
from reelhouse.jobs.queue import enqueue
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media.probe import ProbeResult, Timeline, main_streams, read_tail, read_timeline
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.storage import Storage
from reelhouse.storage.keys import original_key, upload_prefix

TAIL_SECONDS = 30.0  # of a long original, all ingest reads of its packets
MIN_FRAMES_PER_SECOND = 0.1  # a video with fewer frames than one per 10 s would be mostly frames made up by the encoder
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


def _part_keys(storage: Storage, upload: Upload) -> list[str]:
    """The parts the upload recorded, in byte order: never an orphan stored beside them by a request that lost a
    race or died before recording its part. Uploads begun before parts were recorded (0008) have theirs listed."""
    if upload.parts is None:
        return storage.list(f"{upload_prefix(upload.id)}/parts")
    return [part["key"] for part in upload.parts]


def assemble_upload(rt: Runtime, upload: Upload, key: str) -> None:
    """Joins the committed parts into the original, checking nothing is missing, then drops the parts. A single part
    (a whole-file PUT) is moved, not copied: a rename on local storage, however large the file."""
    keys = _part_keys(rt.storage, upload)
    if len(keys) == 1 and rt.storage.size(keys[0]) == upload.committed:
        rt.storage.move(keys[0], key)
    else:
        size = rt.storage.write(key, (chunk for part in keys for chunk in rt.storage.stream(part)))
        if size != upload.committed:
            rt.storage.delete(key)
            raise PermanentError(f"the uploaded parts add up to {size} bytes, expected {upload.committed}")
    rt.storage.delete_prefix(upload_prefix(upload.id))


def fetch_original(ctx: JobContext[Params], media: Media, key: str) -> None:
    rt = ctx.runtime
    if media.upload is not None:
        assemble_upload(rt, media.upload, key)
        return
    set_status(rt.db, media.id, MediaStatus.DOWNLOADING)
    dest = ctx.scratch / "source"
    ctx.fetch(media.source_url or "", dest, max_bytes=rt.settings.max_source_bytes)
    rt.storage.put_file(key, dest)
    set_status(rt.db, media.id, MediaStatus.DOWNLOADED)


def get_original(ctx: JobContext[Params], media: Media, key: str) -> None:
    """Stores the media's input at `key`: the span a clip asks for, else all of it."""
    if clips.is_clip(media):
        clips.cut(ctx, media, key, fetch_original)
    else:
        fetch_original(ctx, media, key)


def playable_duration(info: ProbeResult, end: float, settings: Settings) -> float:
    """How long the media plays, by where its data ends (`end`, 0 when unknown) rather than what it declares; refuses
    input too long or too large a frame for this server, with the reason."""
    duration = min(info.duration, end) if end > 0 else info.duration
    if duration > settings.max_source_duration:
        raise PermanentError(f"the media plays for {duration:.0f} s; this server accepts at most "
                             f"{settings.max_source_duration:.0f} s")
    video = info.video
    if video is not None:
        pixels = (video.width or 0) * (video.height or 0)
        if pixels > settings.max_source_pixels:
            raise PermanentError(f"the video is {video.width}x{video.height}; this server accepts at most "
                                 f"{settings.max_source_pixels} pixels a frame")
    return duration


def check_frames(info: ProbeResult, timeline: Timeline, duration: float) -> None:
    """Refuses a video whose encoding would cost far more than the file holds (hours of made-up frames for a few
    real ones), by the frames the whole `timeline` counts, with the reason."""
    frames = timeline.packets.get(info.video.index, 0) if info.video is not None else 0
    if info.video is not None and duration > 60 and frames < duration * MIN_FRAMES_PER_SECOND:
        raise PermanentError(f"the video has {frames} frames over {duration:.0f} s, fewer than one every "
                             f"{1 / MIN_FRAMES_PER_SECOND:.0f} s; it cannot be encoded as a video")


def read_extent(info: ProbeResult, path: Path) -> tuple[float, Timeline | None]:
    """Where the data ends, and the whole timeline when ingest had to read it. Reading every packet of a long
    original takes seconds (1.4 s for 1.4 GB from the page cache), so only its last TAIL_SECONDS are read when they
    are where the container says and hold frames at a plausible rate; the frame count of the whole (`check_frames`)
    then comes beside the first encode. A file cut short or sparse where it ends is read whole, here."""
    streams = main_streams(info)
    tail = read_tail(path, streams, max(0.0, info.duration - TAIL_SECONDS))
    video = info.video
    plausible = tail.end >= info.duration - TAIL_SECONDS and (
        video is None or tail.frames_per_second(video.index) >= MIN_FRAMES_PER_SECOND)
    if plausible:
        return tail.end, None
    whole = read_timeline(path, streams)
    return whole.end, whole


def record(media: Media, info: ProbeResult, duration: float) -> None:
    """Copies what probing found onto the media and its source tracks."""
    media.container_format = info.container_format
    media.duration = duration
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


def run(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    media_id = ctx.media_id
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        if media is None:  # deleted meanwhile: nothing to do
            return
        media.upload  # noqa: B018 - loaded for use outside the session
    key = original_key(media.id)
    if not rt.storage.exists(key):
        if transforms.wanted(media):
            transforms.compose(ctx, media, key, lambda main: get_original(ctx, media, main))
        else:
            get_original(ctx, media, key)
    set_status(rt.db, media.id, MediaStatus.VALIDATING)
    with rt.storage.as_local_file(key, ctx.scratch) as path:
        info = ctx.probe(path)
        end, whole = read_extent(info, path)
        duration = playable_duration(info, end, rt.settings)
        if whole is not None:
            check_frames(info, whole, duration)
    with rt.db.write() as session:
        media = session.get(Media, media_id)
        if media is None:  # deleted meanwhile: the worker purges what this job stored
            return
        record(media, info, duration)
        media.status = MediaStatus.IN_QUEUE
        enqueue(session, JobKind.TRANSCODE, media)


def give_up(session: Session, job: Job, params: Params, error: str) -> None:
    media = session.get(Media, job.media_id)
    if media is not None:
        mark_failed(session, media, error)


STEP = Step(Params, run, give_up)
