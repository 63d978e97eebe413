"""Publishing renditions while ffmpeg writes them, from one ffmpeg run or from several stitched together.

An encode is made of parts (`EncodePart` rows): the whole of it, or the chunks of a long source that different
workers encode at once. A `Publisher` follows one part's ffmpeg: it stores each segment ffmpeg finished, records
it in the part's row, and then, under the media's row lock, stitches every part's recorded segments into each
rendition's playlist: a part's segments follow the previous part's, up to the first part still running, so a
playlist only ever grows and lists stored segments only. The renditions are listed (and the media Ready) as soon as
each has a segment; once every part is done the playlists get EXT-X-ENDLIST and the rows their real numbers.

A retried part re-encodes from its start: segments an earlier attempt recorded are cut at the same instants
(forced keyframes, closed GOPs), so they are kept, stay listed while it re-makes them, and only the rest is stored.
An attempt whose job another worker took over (it stalled past its lease) records and removes nothing more.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import EncodePart, Job, Media, Rendition
from reelhouse.jobs.params import Params
from reelhouse.jobs.step import ClaimLost, JobContext, PermanentError
from reelhouse.media import hls
from reelhouse.media.ladder import Rung
from reelhouse.media.probe import StreamInfo
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import rendition_prefix

SEGMENT_FILE = re.compile(rf"^{hls.SEGMENT_NAME}\.m4s$")
POLL_SECONDS = 0.1  # how often the publisher looks for segments ffmpeg finished
REPEAT_TOLERANCE = 0.002  # seconds a retried segment's length may differ from the earlier attempt's

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


def parts_of(session: Session, media_id: str, step: JobKind) -> list[EncodePart]:
    """The media's parts of `step`, in timeline order."""
    return list(session.scalars(select(EncodePart).where(EncodePart.media_id == media_id, EncodePart.step == step)
                                .order_by(EncodePart.index)))


def new_part(media_id: str, step: JobKind, index: int, outputs: list[Output], **where: Any) -> EncodePart:
    """The row of a part about to be encoded: its place on the timeline (`where`) and the renditions it writes."""
    written = {o.name: {"longest": o.longest, "init": None, "codecs": "", "segments": []} for o in outputs}
    return EncodePart(media_id=media_id, step=step, index=index, outputs=written, done=False, **where)


@dataclass
class Listing:
    """One rendition as its parts have it so far: what its playlist lists, and whether it is whole."""

    longest: float
    codecs: str = ""
    init: str | None = None  # digest of the init segment every part must share
    segments: list[list[Any]] = field(default_factory=list)  # [uri, seconds, bytes]
    ended: bool = True

    @property
    def duration(self) -> float:
        return sum(seconds for _, seconds, _ in self.segments)


def stitch(parts: list[EncodePart]) -> dict[str, Listing]:
    """Each rendition's segments, part after part in timeline order, up to and including the first part not done.
    Parts share one init segment (`init.mp4`, the first part's): one encoded differently cannot be stitched."""
    listings: dict[str, Listing] = {}
    for part in sorted(parts, key=lambda p: p.index):
        for name, written in part.outputs.items():
            listing = listings.setdefault(name, Listing(longest=written["longest"]))
            if not listing.ended:
                continue
            if written["init"] is not None:
                if listing.init is not None and written["init"] != listing.init:
                    raise PermanentError(f"chunk {part.index} of {name} was encoded with other settings than the "
                                         "first (workers running different ffmpeg versions?); it cannot be stitched")
                listing.init, listing.codecs = written["init"], listing.codecs or written["codecs"]
            listing.segments += written["segments"]
            listing.ended = part.done
    return listings


@dataclass
class Progress:
    """What this run of the part has of one output so far."""

    earlier: list[list[Any]]  # segments an earlier attempt recorded: re-made by this run, not stored again
    init: str | None = None
    codecs: str = ""
    segments: list[list[Any]] = field(default_factory=list)
    read: tuple[int, int] = (0, 0)  # (mtime, size) of ffmpeg's playlist when last read: unchanged, not read again

    def over(self, written: dict[str, Any]) -> dict[str, Any]:
        """The part's record of this output with this run's progress. Until this run has re-made what an earlier
        attempt recorded, that stays recorded, so a playlist never shrinks or loses its init segment meanwhile."""
        return {**written, "init": self.init or written["init"], "codecs": self.codecs or written["codecs"],
                "segments": self.segments + self.earlier[len(self.segments):]}


class Publisher:
    """Follows ffmpeg writing `outputs` under `out` for part `index` of the media's `step` and publishes what it
    finished, for as long as the job's `claim` is this worker's. With `progressive` the renditions are listed (and
    `on_record` runs) as soon as every one has a segment, and grow from then on; otherwise only once every part is
    done."""

    def __init__(self, rt: Runtime, claim: Job, media_id: str, out: Path, outputs: list[Output], *, step: JobKind,
                 index: int = 0, progressive: bool, on_record: OnRecord | None = None) -> None:
        self.rt, self.claim, self.media_id, self.out, self.outputs = rt, claim, media_id, out, outputs
        self.step, self.index, self.progressive, self.on_record = step, index, progressive, on_record
        self.gone = False  # the media was deleted meanwhile
        with rt.db.read() as session:
            part = session.get(EncodePart, (media_id, step, index))
            recorded = part.outputs if part is not None else {}
        self.progress = {o.name: Progress(earlier=recorded.get(o.name, {}).get("segments", [])) for o in outputs}
        for output in outputs:
            (out / output.name).mkdir(parents=True, exist_ok=True)

    def poll(self) -> None:
        """Publishes what ffmpeg finished since the last look."""
        fresh = [output for output in self.outputs if self._store_segments(output)]
        if fresh and not self.gone:
            self._record(done=False)

    def finish(self) -> bool:
        """ffmpeg ended well: the last segments, then the part is done. False when the media was deleted meanwhile
        (the worker purges what was stored)."""
        for output in self.outputs:
            self._store_segments(output)
            progress = self.progress[output.name]
            if not progress.segments:
                raise PermanentError(f"ffmpeg produced no {output.type} segments; the source may be damaged")
            if len(progress.segments) < len(progress.earlier):
                raise PermanentError("a retried encode made fewer segments than the first attempt")
        return self._record(done=True)

    def discard(self) -> None:
        """Removes what every part stored, for an encode that failed for good (its give-up unlists the rows). A part
        still running stores nothing after this: its next record finds the media failed, and discards too."""
        with self.rt.db.read() as session:
            if not self.rt.jobs.holds(session, self.claim):
                return  # what is stored is the attempt's that took over
            parts = parts_of(session, self.media_id, self.step)
            names = {name for part in parts for name in part.outputs} | {output.name for output in self.outputs}
        for name in names:
            self.rt.storage.delete_prefix(rendition_prefix(self.media_id, name))

    def _store_segments(self, output: Output) -> bool:
        """Stores the segments ffmpeg's playlist newly lists (it lists one only once it is written); True if any."""
        folder, progress = self.out / output.name, self.progress[output.name]
        try:
            seen = (folder / "index.m3u8").stat()
            if (seen.st_mtime_ns, seen.st_size) == progress.read:
                return False
            playlist = hls.parse_media_playlist((folder / "index.m3u8").read_text())
        except FileNotFoundError:
            return False
        progress.read = (seen.st_mtime_ns, seen.st_size)
        new = []
        for uri, duration in playlist.segments[len(progress.segments):]:
            if not SEGMENT_FILE.match(uri) or not (folder / uri).is_file():
                break
            new.append((uri, duration))
        if not new:
            return False
        prefix = rendition_prefix(self.media_id, output.name)
        if progress.init is None and playlist.init:
            init = folder / playlist.init
            progress.init, progress.codecs = hashlib.sha256(init.read_bytes()).hexdigest(), self._codecs(output, init)
            if self.index == 0:
                self.rt.storage.put_file(f"{prefix}/init.mp4", init)
        for uri, duration in new:
            done = len(progress.segments)
            if done < len(progress.earlier):
                earlier = progress.earlier[done]
                if earlier[0] != uri or abs(earlier[1] - duration) > REPEAT_TOLERANCE:
                    raise PermanentError("a retried encode cut its segments differently from the first attempt")
                progress.segments.append(earlier)
                continue
            size = (folder / uri).stat().st_size  # before put_file, which may move the file
            self.rt.storage.put_file(f"{prefix}/{uri}", folder / uri)
            progress.segments.append([uri, duration, size])
        return True

    def _codecs(self, output: Output, init: Path) -> str:
        if output.type == "video":
            return hls.avc_codec(init)
        assert output.audio is not None
        return hls.aac_codec(output.audio, output.audio_copied)

    def _record(self, *, done: bool) -> bool:
        """Records this part's progress, then re-stitches the playlists and rows from every part's, under the
        media's row lock so parts that finish at once never write a playlist out of order."""
        with self.rt.db.write() as session:
            media = session.get(Media, self.media_id, with_for_update=True)  # against tracks added meanwhile, too
            if media is None:
                self.gone = True
                return False
            if media.status == MediaStatus.FAILED:
                raise PermanentError("the media failed meanwhile")
            if not self.rt.jobs.holds(session, self.claim):
                raise ClaimLost("another worker took this encode over; this attempt stopped publishing")
            part = session.get(EncodePart, (self.media_id, self.step, self.index))
            assert part is not None  # planned before any part runs
            part.outputs = {**part.outputs, **{name: p.over(part.outputs[name]) for name, p in self.progress.items()}}
            part.done = done
            session.flush()
            self._publish(session, media, stitch(parts_of(session, self.media_id, self.step)))
        return True

    def _publish(self, session: Session, media: Media, listings: dict[str, Listing]) -> None:
        rows = {r.name: r for r in media.renditions if r.track_id is None}
        complete = all(listing.ended for listing in listings.values())
        was_complete = bool(rows) and all(rows.get(name) is not None and rows[name].complete for name in listings)
        listed = all(name in rows for name in listings)
        if not listed:
            if not (complete or (self.progressive and all(li.segments for li in listings.values()))):
                return
            known = {output.name: output for output in self.outputs}
            for name in listings:
                if name not in rows:  # the first part lists them all: it writes every rendition
                    rows[name] = _describe(known[name])
                    media.renditions.append(rows[name])
        for name, listing in listings.items():
            row = rows[name]
            if row.duration == listing.duration and row.complete == listing.ended and row.codecs:
                continue  # its playlist already says this
            target = hls.target_duration(max([listing.longest, *(seconds for _, seconds, _ in listing.segments)]))
            text = hls.event_playlist("init.mp4" if listing.init else None,
                                      [(uri, seconds) for uri, seconds, _ in listing.segments], target,
                                      ended=listing.ended)
            self.rt.storage.write(f"{rendition_prefix(media.id, name)}/index.m3u8", [text.encode()])
            row.codecs = listing.codecs
            row.bandwidth, row.average_bandwidth = hls.rates([(size, s) for _, s, size in listing.segments])
            row.duration = listing.duration
            row.complete = listing.ended
        if self.on_record is not None and (not listed or (complete and not was_complete)):
            self.on_record(session, media, complete)


def _describe(output: Output) -> Rendition:
    if output.type == "video":
        assert output.rung is not None
        return Rendition(name=output.name, type="video", width=output.rung.width, height=output.rung.height,
                         frame_rate=float(output.rung.fps), complete=False, duration=-1.0)
    assert output.audio is not None
    return Rendition(name=output.name, type="audio", language=output.audio.language, label="Original",
                     is_default=True, complete=False, duration=-1.0)


def follow(ctx: JobContext[Params], publisher: Publisher, args: list[str], *, duration: float, work: float) -> None:
    """Runs ffmpeg while a thread publishes what it finishes. A publishing error (another worker took the encode
    over, say) stops ffmpeg within seconds, as nothing more it makes would be published, and is raised."""
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
        ctx.ffmpeg(args, duration=duration, work=work, what="transcoding failed", abandoned=lambda: bool(failed))
    except PermanentError:
        if not failed:  # else it was stopped for the publishing error raised below
            raise
    finally:
        stop.set()
        watcher.join()
    if failed:
        raise failed[0]
