"""Transcoding in three steps: `transcode` makes the media playable while it publishes it, `chunk` encodes a part
of a long source beside it, `ladder` adds the rungs a stream copy leaves out.

`transcode` repackages standard input by stream copy (seconds for an hour, no re-encoding); anything else it
encodes into the whole ladder and the audio rendition in one ffmpeg process that decodes the source once, with
keyframes at 0, 0.5 s and then every 4 s on every rung. A source at least two chunks long (`chunk_seconds`) is cut
at keyframes into chunks (`media.chunks`): `transcode` encodes the first with the audio of the whole, and queues a
`chunk` job for each of the others, which any worker takes. Either way it is published progressively
(`jobs.publish`): the media turns Ready as soon as every rendition has its first segment, and the playlists grow,
chunk after chunk, until the last part is done; then what needs the whole timeline follows (added tracks; `ladder`
after a copy). If any part fails for good, even after Ready, the media turns Failed and its renditions stop being
served; a part retried after a crash keeps what its earlier attempt published.

`ladder` encodes the rungs a copy left out with keyframes at the copied rendition's segment starts. A long source
is cut into chunks there too, where copied segments start: `ladder` encodes the first and queues a `ladder_chunk`
job for each of the others at once. The rungs are listed only once every chunk is whole, so a player never switches
to a rung shorter than what it is playing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from reelhouse.catalog.media import encoded, mark_encoded, mark_failed, mark_ready, set_status
from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import EncodePart, Job, Media
from reelhouse.jobs.ingest import check_frames
from reelhouse.jobs.params import ChunkParams, Params
from reelhouse.jobs.publish import OnRecord, Output, Publisher, follow, new_part, parts_of
from reelhouse.jobs.queue import enqueue
from reelhouse.jobs.renditions import reference_playlist
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import hls
from reelhouse.media.chunks import WHOLE, Chunk, at_segment_starts, nominal_cuts, plan
from reelhouse.media.ffmpeg import Location
from reelhouse.media.ladder import SEGMENT_SECONDS, Rung, can_copy, copy_rung, ladder
from reelhouse.media.probe import ProbeResult, StreamInfo, keyframes_after, main_streams, read_timeline
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import original_key

log = logging.getLogger(__name__)

AUDIO_FRAME_SECONDS = 0.25  # an audio segment ends at most one audio frame past its cut
# How long a chunk job's URL of the original stays valid (`Storage.as_input`): far past any chunk's encode.
SOURCE_URL_SECONDS = 24 * 3600


def _settle(*, copy: bool) -> OnRecord:
    """What listing the renditions (Ready) and completing them (the whole timeline is final) set off. The later
    chunks of a long source are queued only once the media is Ready, so they never slow its first segments down."""

    def settle(session: Session, media: Media, complete: bool) -> None:
        if media.status != MediaStatus.READY:
            mark_ready(session, media)
        for part in parts_of(session, media.id, JobKind.TRANSCODE)[1:]:
            if not part.done:
                enqueue(session, JobKind.CHUNK, media, ChunkParams(index=part.index))
        if complete:
            mark_encoded(session, media)
            if copy:  # the smaller rungs, on the copied rendition's now final timeline
                enqueue(session, JobKind.LADDER, media)

    return settle


def _video_outputs(rungs: list[Rung]) -> list[Output]:
    return [Output(r.name, "video", rung=r, longest=SEGMENT_SECONDS + float(1 / r.fps)) for r in rungs]


def _audio_output(audio: StreamInfo, *, copy: bool) -> Output:
    copied = hls.audio_codec_args(audio) == ["-c:a", "copy"]
    seconds = SEGMENT_SECONDS if copy else hls.AUDIO_SEGMENT_SECONDS
    return Output(hls.AUDIO_FOLDER, "audio", audio=audio, audio_copied=copied, longest=seconds + AUDIO_FRAME_SECONDS)


def run_playable(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None:
            return
        parts = parts_of(session, media.id, JobKind.TRANSCODE)
        if parts and all(p.done for p in parts):  # an earlier attempt finished: what follows was queued with it
            return
        planned = [Chunk(p.index, p.start, p.first_frame, p.frames) for p in parts]
    if media.status != MediaStatus.READY:
        set_status(rt.db, media.id, MediaStatus.PROCESSING)
    out = ctx.scratch / "hls"
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        video, audio = info.video, info.audio
        duration = media.duration or info.duration
        gap, copy, checked = None, False, False
        if video is not None and can_copy(info, media.max_resolution, 0.0):  # then the spacing, read from every packet
            whole = read_timeline(source, main_streams(info))  # ingest's, remembered, when it read it
            check_frames(info, whole, duration)
            gap, checked = whole.keyframe_gaps[video.index], True
            copy = can_copy(info, media.max_resolution, gap)
        first = [_audio_output(audio, copy=copy)] if audio is not None else []
        if copy:
            assert video is not None and gap is not None
            rung = copy_rung(video)
            first.append(Output(rung.name, "video", rung=rung, longest=SEGMENT_SECONDS + gap))
            chunks, rest = [WHOLE], []
            args = hls.copy_command(source, out, rung, audio)
            work = 0.2
        else:
            rungs = ladder(video, media.max_resolution) if video is not None else []
            rest = _video_outputs(rungs)
            first += rest
            chunks = planned or _plan(rt, source, video, rungs, duration)
            args = hls.encode_command(source, out, rungs, audio, hls.every_segment(), cut=hls.FIRST_SEGMENT_SECONDS,
                                      chunk=chunks[0], threads=rt.settings.encoder_threads)
            work = max(1.0, len(rungs))
        if not planned:
            _record_plan(rt, media.id, JobKind.TRANSCODE, chunks, first, rest)
        log.info("media %s: %s, published as it goes", media.id,
                 "stream copy" if copy else f"encoding the ladder in {len(chunks)} chunk(s)")
        publisher = Publisher(rt, ctx.job, media.id, out, first, step=JobKind.TRANSCODE, progressive=True,
                              on_record=_settle(copy=copy))
        with nullcontext() if checked or video is None else _frames_checked(ctx, info, source, duration):
            _encode(ctx, publisher, args, duration=duration, work=work)


@contextmanager
def _frames_checked(ctx: JobContext[Params], info: ProbeResult, source: Path, duration: float) -> Iterator[None]:
    """`check_frames` over the whole original, which ingest left to this step, read beside the encode: seconds for
    a long original, where its first segments take less. A refused original fails the media at once, which cancels
    its encodes as a failed chunk does, and then this job."""
    refused: list[PermanentError] = []

    def check() -> None:
        try:
            check_frames(info, read_timeline(source, main_streams(info)), duration)
        except PermanentError as exc:
            refused.append(exc)
            with ctx.runtime.db.write() as session:
                give_up_playable(session, ctx.job, ctx.params, str(exc))

    thread = threading.Thread(target=check, name=f"frames-{ctx.media_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if refused:
        raise refused[0]


def _plan(rt: Runtime, source: Path, video: StreamInfo | None, rungs: list[Rung], duration: float) -> list[Chunk]:
    """Chunks of a source long enough to share among workers, cut at its keyframes; otherwise the whole of it."""
    cuts = nominal_cuts(duration, rt.settings.chunk_seconds) if video is not None and rungs else []
    if not cuts:
        return [WHOLE]
    assert video is not None
    return plan(keyframes_after(source, video.index, cuts), rungs[0].fps, rt.settings.chunk_seconds, duration)


def _record_plan(rt: Runtime, media_id: str, step: JobKind, chunks: list[Chunk], first: list[Output],
                 rest: list[Output], *, queue: JobKind | None = None) -> None:
    """The parts' rows: the first chunk this job encodes (a transcode's with the audio), the others a job each of
    kind `queue`, queued now, or for a transcode by `settle` once the media is Ready."""
    with rt.db.write() as session:
        media = session.get(Media, media_id, with_for_update=True)
        if media is None:
            return
        for chunk in chunks:
            session.add(new_part(media_id, step, chunk.index, rest if chunk.index else first,
                                 start=chunk.start, first_frame=chunk.first_frame, frames=chunk.frames))
            if queue is not None and chunk.index:
                enqueue(session, queue, media, ChunkParams(index=chunk.index))


def _encode(ctx: JobContext[Params], publisher: Publisher, args: list[str], *, duration: float, work: float) -> None:
    try:
        follow(ctx, publisher, args, duration=duration, work=work)
        publisher.finish()
    except PermanentError:
        publisher.discard()
        raise


def run_chunk(ctx: JobContext[ChunkParams]) -> None:
    rt = ctx.runtime
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        part = session.get(EncodePart, (ctx.media_id, JobKind.TRANSCODE, ctx.params.index))
        if media is None or part is None or part.done or media.status == MediaStatus.FAILED:
            return
        chunk = Chunk(part.index, part.start, part.first_frame, part.frames)
    with rt.storage.as_input(original_key(media.id), ctx.scratch, SOURCE_URL_SECONDS) as source:
        info = ctx.probe(source)
        if info.video is None:
            raise PermanentError("the source has no video any more")
        rungs = ladder(info.video, media.max_resolution)
        fps = rungs[0].fps
        seconds = chunk.seconds(fps, media.duration or info.duration)
        out = ctx.scratch / "hls"
        args = hls.encode_command(source, out, rungs, None, hls.every_segment(short_first=False), chunk=chunk,
                                  threads=rt.settings.encoder_threads)
        publisher = Publisher(rt, ctx.job, media.id, out, _video_outputs(rungs), step=JobKind.TRANSCODE,
                              index=chunk.index, progressive=True, on_record=_settle(copy=False))
        _encode(ctx, publisher, args, duration=max(seconds, 1.0), work=len(rungs))


def run_ladder(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        if media is None:
            return
        parts = parts_of(session, media.id, JobKind.LADDER)
        if parts and parts[0].done:  # the others are jobs of their own
            return
        existing = {r.name for r in media.renditions if r.track_id is None}
        planned = [Chunk(p.index, p.start, p.first_frame, p.frames) for p in parts]
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        if info.video is None:
            return
        rungs = [r for r in ladder(info.video, media.max_resolution) if r.name not in existing]
        if not rungs:
            return
        starts = reference_playlist(rt, media).starts()
        duration = media.duration or info.duration
        chunks = planned or _ladder_plan(rt, source, info.video, rungs, starts, duration)
        if not planned:
            outputs = _ladder_outputs(rungs)
            _record_plan(rt, media.id, JobKind.LADDER, chunks, outputs, outputs, queue=JobKind.LADDER_CHUNK)
        _encode_ladder_part(ctx, media.id, source, rungs, chunks[0], starts, duration)


def run_ladder_chunk(ctx: JobContext[ChunkParams]) -> None:
    rt = ctx.runtime
    with rt.db.read() as session:
        media = session.get(Media, ctx.media_id)
        part = session.get(EncodePart, (ctx.media_id, JobKind.LADDER, ctx.params.index))
        if media is None or part is None or part.done:
            return
        chunk = Chunk(part.index, part.start, part.first_frame, part.frames)
        names, starts = set(part.outputs), reference_playlist(rt, media).starts()
    with rt.storage.as_input(original_key(media.id), ctx.scratch, SOURCE_URL_SECONDS) as source:
        info = ctx.probe(source)
        if info.video is None:
            raise PermanentError("the source has no video any more")
        rungs = [r for r in ladder(info.video, media.max_resolution) if r.name in names]
        _encode_ladder_part(ctx, media.id, source, rungs, chunk, starts, media.duration or info.duration)


def _ladder_plan(rt: Runtime, source: Path, video: StreamInfo, rungs: list[Rung], starts: list[float],
                 duration: float) -> list[Chunk]:
    """Chunks of a long source's ladder, each from the source keyframe where a copied segment starts (found as
    `-ss` counts it, not as the playlist rounds it); otherwise the whole of it."""
    cuts = at_segment_starts(starts, nominal_cuts(duration, rt.settings.chunk_seconds))
    if not cuts:
        return [WHOLE]
    keyframes = keyframes_after(source, video.index, [cut - hls.KEYFRAME_SLACK for cut in cuts])
    return plan(keyframes, rungs[0].fps, rt.settings.chunk_seconds, duration)


def _ladder_outputs(rungs: list[Rung]) -> list[Output]:
    return [Output(r.name, "video", rung=r) for r in rungs]


def _encode_ladder_part(ctx: JobContext[Any], media_id: str, source: Location, rungs: list[Rung], chunk: Chunk,
                        starts: list[float], duration: float) -> None:
    """One chunk of the rungs, keyframes and segments where the copied rendition's are; unlisted until all are."""
    rt, fps = ctx.runtime, rungs[0].fps
    out = ctx.scratch / "hls"
    publisher = Publisher(rt, ctx.job, media_id, out, _ladder_outputs(rungs), step=JobKind.LADDER, index=chunk.index,
                          progressive=False)
    args = hls.encode_command(source, out, rungs, None, hls.at_times(starts, fps, chunk), cut=hls.EVERY_KEYFRAME,
                              chunk=chunk, threads=rt.settings.encoder_threads)
    ctx.ffmpeg(args, duration=max(chunk.seconds(fps, duration), 1.0), work=len(rungs), what="transcoding failed")
    publisher.finish()


def give_up_playable(session: Session, job: Job, params: Params, error: str) -> None:
    """The media turns Failed, even after Ready when its encode broke halfway, and its renditions are unlisted."""
    media = session.get(Media, job.media_id)
    if media is None or media.status == MediaStatus.FAILED or encoded(media):
        return
    for rendition in [r for r in media.renditions if r.track_id is None]:
        media.renditions.remove(rendition)
    mark_failed(session, media, error)


def give_up_ladder(session: Session, job: Job, params: Params, error: str) -> None:
    """The media stays Ready on the renditions it has; the job row keeps the error for operators."""
    log.error("media %s: ladder failed, playing with fewer renditions: %s", job.media_id, error)


PLAYABLE = Step(Params, run_playable, give_up_playable)
CHUNK = Step(ChunkParams, run_chunk, give_up_playable)
LADDER = Step(Params, run_ladder, give_up_ladder)
LADDER_CHUNK = Step(ChunkParams, run_ladder_chunk, give_up_ladder)
