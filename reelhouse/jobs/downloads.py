"""The `mp4` step: one MP4/M4A download (`mp4Support`) per job, made from the original once the media is Ready.

Jobs are keyed by rendition type, so `mp4Support` may change while one runs: its outcome is recorded only if
the rendition is still requested when it lands, otherwise its file is dropped. A rendition that already has
an outcome is not made again, so re-running a job is safe.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from reelhouse.db.enums import DownloadStatus
from reelhouse.db.models import Download, Job, Media
from reelhouse.jobs.params import Mp4Params
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import mp4
from reelhouse.storage.keys import download_key, original_key
from reelhouse.webhooks.events import emit_media


def run(ctx: JobContext[Mp4Params]) -> None:
    rt = ctx.runtime
    kind = mp4.KINDS[ctx.params.type]
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None or kind not in mp4.requested(media.mp4_support):
            return
        if any(d.type == kind.type for d in media.downloads):
            return
    dest = ctx.scratch / kind.file
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        duration = media.duration or info.duration
        gain = None
        if media.optimize_audio and info.audio is not None:
            gain = ctx.loudness_gain(source, duration=duration, stream=f"0:{info.audio.index}")
        if kind == mp4.CAPPED_4K:
            if info.video is None:
                raise PermanentError("the media has no video to make an MP4 of")
            args = mp4.mp4_command(source, dest, info.video, info.audio, gain)
            size: tuple[int, int] | None = mp4.mp4_size(info.video)
        else:
            if info.audio is None:
                raise PermanentError("the media has no audio to make an M4A of")
            args = mp4.m4a_command(source, dest, info.audio, gain)
            size = None
        ctx.ffmpeg(args, duration=duration, work=1, what=f"making {kind.file} failed")
    rt.storage.put_file(download_key(media.id, kind.file), dest)
    with rt.db.write() as session:
        wanted = _record(session, media.id, kind, DownloadStatus.READY, size)
    if not wanted:
        rt.storage.delete(download_key(media.id, kind.file))


def give_up(session: Session, job: Job, params: Mp4Params, error: str) -> None:
    """The rendition shows `failed`; the job row keeps the reason for operators."""
    if job.media_id is not None:
        _record(session, job.media_id, mp4.KINDS[params.type], DownloadStatus.FAILED, None)


def _record(
    session: Session, media_id: str, kind: mp4.Kind, status: DownloadStatus, size: tuple[int, int] | None
) -> bool:
    """Keeps the first outcome while the rendition is still requested, and announces `mp4Support.ready` once
    every requested rendition has one. Returns False when the rendition is no longer requested."""
    media = session.get(Media, media_id)
    if media is None:  # deleted meanwhile: the worker purges what this job stored
        return True
    requested = mp4.requested(media.mp4_support)
    if kind not in requested:
        return False
    if any(d.type == kind.type for d in media.downloads):  # an earlier attempt already settled it
        return True
    width, height = size or (None, None)
    media.downloads.append(Download(type=kind.type, status=status, width=width, height=height))
    statuses = {d.type: d.status for d in media.downloads}
    if all(k.type in statuses for k in requested) and DownloadStatus.READY in statuses.values():
        emit_media(session, "video.media.mp4Support.ready", media)
    return True


STEP = Step(Mp4Params, run, give_up)
