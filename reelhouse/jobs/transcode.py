"""Transcoding in two steps: `transcode` makes the media playable fast, `ladder` adds every other rung.

`transcode` repackages standard input by stream copy (seconds, no re-encoding) or, for anything
else, encodes only the smallest rung, then marks the media Ready. `ladder` then decodes once and
encodes all remaining rungs in one ffmpeg process, with keyframes forced at the first rendition's
segment starts so every rung switches cleanly. A rendition becomes visible only once all its files
are published (its row is the last thing written), so players never see half-written variants.
Both steps are idempotent: renditions that exist are not made again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from reelhouse.catalog.media import mark_failed, mark_ready, set_status
from reelhouse.db.enums import MediaStatus
from reelhouse.db.models import Job, Media, Rendition
from reelhouse.jobs.params import Params
from reelhouse.jobs.renditions import reference_playlist, upload
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import hls
from reelhouse.media.ladder import Rung, can_copy, copy_rung, ladder
from reelhouse.media.probe import StreamInfo, max_keyframe_gap
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import original_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """A rendition folder ffmpeg is about to write, and how to describe it once written."""

    name: str
    type: str
    rung: Rung | None = None
    audio: StreamInfo | None = None
    audio_copied: bool = False


def _run(ctx: JobContext[Params], args: list[str], outputs: list[Output], duration: float, work: float) -> None:
    """Runs ffmpeg into freshly made output folders."""
    for output in outputs:
        (ctx.scratch / "hls" / output.name).mkdir(parents=True, exist_ok=True)
    ctx.ffmpeg(args, duration=duration, work=work, what="transcoding failed")


def _describe(media_id: str, folder: Path, output: Output, playlist: hls.MediaPlaylist) -> Rendition:
    peak, average = hls.bandwidth(folder, playlist)
    if output.type == "video":
        assert output.rung is not None
        return Rendition(media_id=media_id, name=output.name, type="video", codecs=hls.avc_codec(folder / "init.mp4"),
                         bandwidth=peak, average_bandwidth=average, width=output.rung.width,
                         height=output.rung.height, frame_rate=float(output.rung.fps), duration=playlist.duration)
    assert output.audio is not None
    return Rendition(media_id=media_id, name=output.name, type="audio",
                     codecs=hls.aac_codec(output.audio, output.audio_copied), bandwidth=peak,
                     average_bandwidth=average, duration=playlist.duration, language=output.audio.language,
                     label="Original", is_default=True)


def publish(rt: Runtime, media_id: str, out: Path, outputs: list[Output], *, ready: bool) -> bool:
    """Uploads each rendition (segments first, playlist last), then records them in one transaction.
    Returns False when the media was deleted meanwhile (its objects are purged again)."""
    renditions = []
    for output in outputs:
        folder = out / output.name
        playlist = hls.parse_media_playlist((folder / "index.m3u8").read_text())
        if not playlist.segments:
            raise PermanentError(f"ffmpeg produced no {output.type} segments; the source may be damaged")
        renditions.append(_describe(media_id, folder, output, playlist))
        upload(rt, media_id, output.name, folder, playlist)
    with rt.db.write() as session:
        media = session.get(Media, media_id)
        if media is None:  # deleted meanwhile: the worker purges what this job stored
            return False
        media.renditions.extend(renditions)
        if ready:
            mark_ready(session, media)
    return True


def _load(rt: Runtime, media_id: str) -> tuple[Media, set[str]] | None:
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        if media is None:
            return None
        return media, {r.name for r in media.renditions}


def run_playable(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    loaded = _load(rt, ctx.media_id)
    if loaded is None:
        return
    media, existing = loaded
    if existing:  # an earlier attempt published it, Ready and the ladder job in the same transaction
        return
    set_status(rt.db, media.id, MediaStatus.PROCESSING)
    out = ctx.scratch / "hls"
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        video, audio = info.video, info.audio
        outputs: list[Output] = []
        if audio is not None:
            copied = hls.audio_codec_args(audio) == ["-c:a", "copy"]
            outputs.append(Output(hls.AUDIO_FOLDER, "audio", audio=audio, audio_copied=copied))
        gap = max_keyframe_gap(source, video.index) if video is not None else None
        if video is not None and can_copy(info, media.max_resolution, gap):
            rung = copy_rung(video)
            outputs.append(Output(rung.name, "video", rung=rung))
            args = hls.copy_command(source, out, rung, audio)
            work = 0.2
        else:
            rungs = ladder(video, media.max_resolution)[:1] if video is not None else []
            outputs += [Output(r.name, "video", rung=r) for r in rungs]
            args = hls.encode_command(source, out, rungs, audio, hls.every_segment())
            work = 1.0
        log.info("media %s: first rendition by %s", media.id, "stream copy" if work < 1 else "encoding")
        _run(ctx, args, outputs, media.duration or info.duration, work)
    publish(rt, media.id, out, outputs, ready=True)


def run_ladder(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    loaded = _load(rt, ctx.media_id)
    if loaded is None:
        return
    media, existing = loaded
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        if info.video is None:
            return
        rungs = [r for r in ladder(info.video, media.max_resolution) if r.name not in existing]
        if not rungs:
            return
        keyframes = hls.at_times(_segment_starts(rt, media))
        out = ctx.scratch / "hls"
        args = hls.encode_command(source, out, rungs, None, keyframes)
        outputs = [Output(r.name, "video", rung=r) for r in rungs]
        _run(ctx, args, outputs, media.duration or info.duration, len(rungs))
    publish(rt, media.id, out, outputs, ready=False)


def _segment_starts(rt: Runtime, media: Media) -> list[float]:
    """Where the published video rendition's segments begin, nudged 1 ms early so the frame at that instant is the keyframe."""
    return [max(0.0, t - 0.001) for t in reference_playlist(rt, media).starts()]


def give_up_playable(session: Session, job: Job, params: Params, error: str) -> None:
    media = session.get(Media, job.media_id)
    if media is not None and not media.renditions:
        mark_failed(session, media, error)


def give_up_ladder(session: Session, job: Job, params: Params, error: str) -> None:
    """The media stays Ready on the renditions it has; the job row keeps the error for operators."""
    log.error("media %s: ladder failed, playing with fewer renditions: %s", job.media_id, error)


PLAYABLE = Step(Params, run_playable, give_up_playable)
LADDER = Step(Params, run_ladder, give_up_ladder)

