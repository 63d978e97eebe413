"""Transcoding in two steps: `transcode` makes the media playable while it publishes it, `ladder` adds the rungs a
stream copy leaves out.

`transcode` repackages standard input by stream copy (seconds for an hour, no re-encoding); anything else it
encodes into the whole ladder and the audio rendition in one ffmpeg process that decodes the source once, with
keyframes at 0, 0.5 s and then every 4 s on every rung. Either way it publishes progressively: a `Publisher` follows
ffmpeg's event playlists, stores each finished segment and then a growing EVENT playlist that lists stored
segments only, and the media turns Ready as soon as every rendition has its first segment. When ffmpeg ends, the
playlists get EXT-X-ENDLIST and the rows their real bandwidth and duration, and what needs the whole timeline
follows (added tracks; `ladder` after a copy). If the encode fails, even after Ready, the media turns Failed and
its renditions stop being served; a retry after a crash unlists the crashed attempt's renditions and starts over.

`ladder` encodes the rungs a copy left out with keyframes at the copied rendition's segment starts, and lists each
only once it is whole, so a player never switches to a rung shorter than what it is playing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from reelhouse.catalog.media import encoded, mark_encoded, mark_failed, mark_ready, set_status
from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import Job, Media, Rendition
from reelhouse.jobs.params import Params
from reelhouse.jobs.queue import enqueue
from reelhouse.jobs.renditions import reference_playlist
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.media import hls
from reelhouse.media.ladder import SEGMENT_SECONDS, Rung, can_copy, copy_rung, ladder
from reelhouse.media.probe import StreamInfo, max_keyframe_gap
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import original_key, rendition_prefix

log = logging.getLogger(__name__)

SEGMENT_FILE = re.compile(r"^seg_\d{5,}\.m4s$")
POLL_SECONDS = 0.1  # how often the publisher looks for segments ffmpeg finished
AUDIO_FRAME_SECONDS = 0.25  # an audio segment ends at most one audio frame past its cut

# Called in the transaction that lists the renditions (complete=False) or settles them (complete=True).
OnRecord = Callable[[Session, Media, bool], None]


@dataclass(frozen=True)
class Output:
    """A rendition folder ffmpeg is about to write, and how to describe it once written."""

    name: str
    type: str
    rung: Rung | None = None
    audio: StreamInfo | None = None
    audio_copied: bool = False
    longest: float = 0.0  # how long a segment can be: the growing playlist's fixed target duration


@dataclass
class Stored:
    """What of one output is stored so far."""

    init: str | None = None
    codecs: str = ""
    segments: list[tuple[str, float]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    listed: int = -1  # segments the stored playlist lists
    target: int = 0  # its EXT-X-TARGETDURATION, fixed at the first store
    read: tuple[int, int] = (0, 0)  # (mtime, size) of ffmpeg's playlist when last read: unchanged, not read again


class Publisher:
    """Follows ffmpeg writing `outputs` under `out` and publishes what it finished: segments first, then playlists
    that list stored segments only, then the rows. With `progressive` the rows come (and `on_record` runs) as soon as
    every output has a segment, and playlists grow from then on; otherwise only at `finish`."""

    def __init__(self, rt: Runtime, media_id: str, out: Path, outputs: list[Output], *, progressive: bool,
                 on_record: OnRecord | None = None) -> None:
        self.rt, self.media_id, self.out, self.outputs = rt, media_id, out, outputs
        self.progressive, self.on_record = progressive, on_record
        self.stored = {output.name: Stored() for output in outputs}
        self.listed = False  # the rows are written
        self.gone = False  # the media was deleted meanwhile
        for output in outputs:
            (out / output.name).mkdir(parents=True, exist_ok=True)
            rt.storage.delete_prefix(self._prefix(output))  # an interrupted attempt's leftovers

    def poll(self) -> None:
        """Publishes what ffmpeg finished since the last look."""
        fresh = [output for output in self.outputs if self._store_segments(output)]
        if not self.progressive or self.gone:
            return
        if self.listed:
            self._store_playlists(fresh, ended=False)
        elif all(self.stored[output.name].segments for output in self.outputs):
            self._store_playlists(self.outputs, ended=False)
            self._record(complete=False)

    def finish(self) -> bool:
        """ffmpeg ended well: the last segments, the final playlists, then the rows' real numbers in one transaction.
        False when the media was deleted meanwhile (the worker purges what was stored)."""
        for output in self.outputs:
            self._store_segments(output)
            if not self.stored[output.name].segments:
                raise PermanentError(f"ffmpeg produced no {output.type} segments; the source may be damaged")
        self._store_playlists(self.outputs, ended=True)
        return self._record(complete=True)

    def discard(self) -> None:
        """Removes what was stored, for an encode that failed for good (its give-up unlists the rows)."""
        for output in self.outputs:
            self.rt.storage.delete_prefix(self._prefix(output))

    def _prefix(self, output: Output) -> str:
        return rendition_prefix(self.media_id, output.name)

    def _store_segments(self, output: Output) -> bool:
        """Stores the segments ffmpeg's playlist newly lists (it lists one only once it is written); True if any."""
        folder, stored = self.out / output.name, self.stored[output.name]
        try:
            seen = (folder / "index.m3u8").stat()
            if (seen.st_mtime_ns, seen.st_size) == stored.read:
                return False
            playlist = hls.parse_media_playlist((folder / "index.m3u8").read_text())
        except FileNotFoundError:
            return False
        stored.read = (seen.st_mtime_ns, seen.st_size)
        new = []
        for uri, duration in playlist.segments[len(stored.segments):]:
            if not SEGMENT_FILE.match(uri) or not (folder / uri).is_file():
                break
            new.append((uri, duration))
        if not new:
            return False
        if stored.init is None and playlist.init:
            stored.codecs = self._codecs(output, folder / playlist.init)
            self.rt.storage.put_file(f"{self._prefix(output)}/{playlist.init}", folder / playlist.init)
            stored.init = playlist.init
        for uri, duration in new:
            stored.sizes.append((folder / uri).stat().st_size)
            self.rt.storage.put_file(f"{self._prefix(output)}/{uri}", folder / uri)
            stored.segments.append((uri, duration))
        return True

    def _codecs(self, output: Output, init: Path) -> str:
        if output.type == "video":
            return hls.avc_codec(init)
        assert output.audio is not None
        return hls.aac_codec(output.audio, output.audio_copied)

    def _store_playlists(self, outputs: list[Output], *, ended: bool) -> None:
        for output in outputs:
            stored = self.stored[output.name]
            if not ended and len(stored.segments) == stored.listed:
                continue
            if not stored.target:
                stored.target = hls.target_duration(max([output.longest, *(d for _, d in stored.segments)]))
            text = hls.event_playlist(stored.init, stored.segments, stored.target, ended=ended)
            self.rt.storage.write(f"{self._prefix(output)}/index.m3u8", [text.encode()])
            stored.listed = len(stored.segments)

    def _record(self, *, complete: bool) -> bool:
        with self.rt.db.write() as session:
            media = session.get(Media, self.media_id, with_for_update=True)  # against tracks added meanwhile
            if media is None:
                self.gone = True
                return False
            rows = {r.name: r for r in media.renditions}
            for output in self.outputs:
                row = rows.get(output.name)
                if row is None:
                    row = _describe(output)
                    media.renditions.append(row)
                stored = self.stored[output.name]
                row.codecs = stored.codecs
                row.bandwidth, row.average_bandwidth = hls.rates(
                    [(size, d) for size, (_, d) in zip(stored.sizes, stored.segments, strict=True)])
                row.duration = sum(d for _, d in stored.segments)
                row.complete = complete
            if self.on_record is not None:
                self.on_record(session, media, complete)
        self.listed = True
        return True


def _describe(output: Output) -> Rendition:
    if output.type == "video":
        assert output.rung is not None
        return Rendition(name=output.name, type="video", width=output.rung.width, height=output.rung.height,
                         frame_rate=float(output.rung.fps))
    assert output.audio is not None
    return Rendition(name=output.name, type="audio", language=output.audio.language, label="Original",
                     is_default=True)


def _follow(ctx: JobContext[Params], publisher: Publisher, args: list[str], *, duration: float, work: float) -> None:
    """Runs ffmpeg while a thread publishes what it finishes; a publishing error is raised once ffmpeg is done."""
    stop = threading.Event()
    failed: list[Exception] = []

    def watch() -> None:
        try:
            while not stop.wait(POLL_SECONDS):
                publisher.poll()
        except Exception as exc:
            failed.append(exc)

    watcher = threading.Thread(target=watch, name=f"publish-{ctx.media_id}", daemon=True)
    watcher.start()
    try:
        ctx.ffmpeg(args, duration=duration, work=work, what="transcoding failed")
    finally:
        stop.set()
        watcher.join()
    if failed:
        raise failed[0]


def _load(rt: Runtime, media_id: str) -> tuple[Media, dict[str, bool]] | None:
    """The media and its own renditions (name → complete), or None once it is deleted."""
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        if media is None:
            return None
        return media, {r.name: r.complete for r in media.renditions if r.track_id is None}


def _unlist(rt: Runtime, media_id: str) -> None:
    """A crashed attempt's renditions: unlisted first, so no playlist names a segment about to go, then removed."""
    with rt.db.write() as session:
        media = session.get(Media, media_id, with_for_update=True)
        if media is None:
            return
        stale = [r for r in media.renditions if r.track_id is None]
        for rendition in stale:
            media.renditions.remove(rendition)
    for rendition in stale:
        rt.storage.delete_prefix(rendition_prefix(media_id, rendition.name))


def run_playable(ctx: JobContext[Params]) -> None:
    rt = ctx.runtime
    loaded = _load(rt, ctx.media_id)
    if loaded is None:
        return
    media, existing = loaded
    if existing and all(existing.values()):  # an earlier attempt finished: what follows was queued with it
        return
    if existing:
        log.warning("media %s: an earlier encode stopped halfway; starting again", media.id)
        _unlist(rt, media.id)
    if media.status != MediaStatus.READY:
        set_status(rt.db, media.id, MediaStatus.PROCESSING)
    out = ctx.scratch / "hls"
    with rt.storage.as_local_file(original_key(media.id), ctx.scratch) as source:
        info = ctx.probe(source)
        video, audio = info.video, info.audio
        outputs: list[Output] = []
        gap, copy = None, False
        if video is not None and can_copy(info, media.max_resolution, 0.0):  # then the spacing, read from every packet
            gap = max_keyframe_gap(source, video.index)
            copy = can_copy(info, media.max_resolution, gap)
        if audio is not None:
            copied = hls.audio_codec_args(audio) == ["-c:a", "copy"]
            seconds = SEGMENT_SECONDS if copy else hls.AUDIO_SEGMENT_SECONDS
            outputs.append(Output(hls.AUDIO_FOLDER, "audio", audio=audio, audio_copied=copied,
                                  longest=seconds + AUDIO_FRAME_SECONDS))
        if copy:
            assert video is not None and gap is not None
            rung = copy_rung(video)
            outputs.append(Output(rung.name, "video", rung=rung, longest=SEGMENT_SECONDS + gap))
            args = hls.copy_command(source, out, rung, audio)
            work = 0.2
        else:
            rungs = ladder(video, media.max_resolution) if video is not None else []
            outputs += [Output(r.name, "video", rung=r, longest=SEGMENT_SECONDS + float(1 / r.fps)) for r in rungs]
            args = hls.encode_command(source, out, rungs, audio, hls.every_segment(),
                                      cut=hls.FIRST_SEGMENT_SECONDS)
            work = max(1.0, len(rungs))
        log.info("media %s: %s, published as it goes", media.id, "stream copy" if copy else "encoding the ladder")

        def settle(session: Session, media: Media, complete: bool) -> None:
            if media.status != MediaStatus.READY:
                mark_ready(session, media)
            if complete:
                mark_encoded(session, media)
                if copy:  # the smaller rungs, on the copied rendition's now final timeline
                    enqueue(session, JobKind.LADDER, media)

        publisher = Publisher(rt, media.id, out, outputs, progressive=True, on_record=settle)
        try:
            _follow(ctx, publisher, args, duration=media.duration or info.duration, work=work)
            publisher.finish()
        except PermanentError:
            publisher.discard()
            raise


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
        outputs = [Output(r.name, "video", rung=r) for r in rungs]
        publisher = Publisher(rt, media.id, out, outputs, progressive=False)
        args = hls.encode_command(source, out, rungs, None, keyframes)
        ctx.ffmpeg(args, duration=media.duration or info.duration, work=len(rungs), what="transcoding failed")
    publisher.finish()


def _segment_starts(rt: Runtime, media: Media) -> list[float]:
    """Where the published video rendition's segments begin, nudged 1 ms early so the frame at that instant is the keyframe."""
    return [max(0.0, t - 0.001) for t in reference_playlist(rt, media).starts()]


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
LADDER = Step(Params, run_ladder, give_up_ladder)
