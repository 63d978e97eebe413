"""Building a media's create-time transforms at ingest: the main video (cut first when it is a clip), its intro,
outro, spliced segments, watermark and audio, fetched, checked and composed into the media's original in one
ffmpeg run, so a media is Ready with all its transforms or Failed saying which input is at fault.

Safe to re-run: the main video waits under the media's own `main` key until the original is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reelhouse.catalog.transforms import asked, parsed
from reelhouse.db.models import Media
from reelhouse.jobs.params import Params
from reelhouse.jobs.step import JobContext, PermanentError
from reelhouse.media.compose import (
    Composition,
    Imposed,
    Piece,
    Shape,
    TimelineError,
    Watermark,
    compose_command,
    main_pieces,
    parse_range,
)
from reelhouse.media.probe import IMAGE_CODECS, ProbeError, ProbeResult, probe_image
from reelhouse.storage.keys import media_prefix
from reelhouse.wire.schemas import Input, Placement, percent

GetMain = Callable[[str], None]
MAX_FPS = 60


def wanted(media: Media) -> bool:
    return bool(asked(parsed(media.inputs)))


class _Inputs:
    """The files the composition reads, each fetched once and probed; input 0 is the main video."""

    def __init__(self, ctx: JobContext[Params], main: Path) -> None:
        self.ctx = ctx
        self.paths = [main]
        self.main = ctx.probe(main, what="the video")

    def _fetch(self, url: str, field: str) -> Path:
        dest = self.ctx.scratch / f"input-{len(self.paths)}"
        self.ctx.fetch(url, dest, max_bytes=self.ctx.runtime.settings.max_source_bytes, what=field)
        self.paths.append(dest)
        return dest

    def add(self, url: str, field: str, *, need: str) -> tuple[int, ProbeResult]:
        """Fetches `url` (named `field` in reasons) and checks it holds `need`: "video" or "audio"."""
        info = self.ctx.probe(self._fetch(url, field), what=field)
        video = info.video
        if need == "audio" and info.audio is None:
            raise PermanentError(f"{field}: the file has no audio")
        if need == "video" and (video is None or video.codec in IMAGE_CODECS):
            raise PermanentError(f"{field}: the file is not a decodable video")
        return len(self.paths) - 1, info

    def image(self, url: str, field: str) -> int:
        try:
            probe_image(self._fetch(url, field))
        except ProbeError as exc:
            raise PermanentError(f"{field}: {exc}") from None
        return len(self.paths) - 1

    def whole(self, url: str, field: str) -> list[Piece]:
        index, info = self.add(url, field, need="video")
        return [Piece(index, 0.0, info.duration, info.audio is not None)]


def _shape(info: ProbeResult) -> Shape:
    video = info.video
    if video is None or not video.display_width or not video.display_height:
        raise PermanentError("the video input has no video stream to put intros, segments or watermarks on")
    even = lambda n: n - n % 2  # noqa: E731 - H.264 in 4:2:0 needs even sizes
    fps = min(video.frame_rate or 25.0, MAX_FPS)
    channels = 1 if info.audio is not None and info.audio.channels == 1 else 2
    return Shape(even(video.display_width), even(video.display_height), round(fps, 3), channels)


def _composition(ctx: JobContext[Params], inputs: list[Input], main: Path) -> Composition:
    files = _Inputs(ctx, main)
    video = next((i for i in inputs if i.type == "video"), Input(type="video"))  # an upload may give none
    info = files.main
    shape = _shape(info)
    try:
        inserts = []
        for n, segment in enumerate(video.segments or []):
            at = info.duration if segment.insert_at_end else float(segment.insert_at or 0)
            inserts.append((at, files.whole(segment.url, f"segments.{n}.url")))
        expunged = [parse_range(item) for item in video.expunge_segments or []]
        pieces = main_pieces(0, info.duration, audio=info.audio is not None, expunged=expunged, inserts=inserts)
    except TimelineError as exc:
        raise PermanentError(str(exc)) from None
    if video.intro_url:
        pieces = files.whole(video.intro_url, "introUrl") + pieces
    if video.outro_url:
        pieces = pieces + files.whole(video.outro_url, "outroUrl")
    duration = sum(p.duration for p in pieces)
    watermark = swap = None
    imposed = []
    for item in inputs:
        if item.type == "watermark" and item.url:
            index = files.image(item.url, "watermark url")
            place = item.placement or Placement()
            watermark = Watermark(index, place.x_align, place.y_align, percent(place.x_margin) or 0.0,
                                  percent(place.y_margin) or 0.0, percent(item.width), percent(item.height),
                                  1.0 if item.opacity is None else percent(item.opacity))
        if item.type == "audio" and item.swap_track_url:
            swap, _ = files.add(item.swap_track_url, "swapTrackUrl", need="audio")
        for n, track in enumerate(item.impose_tracks or [] if item.type == "audio" else []):
            if track.end_time > duration + 0.05:
                raise PermanentError(f"imposeTracks.{n}.endTime {track.end_time} s is past the end of the video "
                                     f"({duration:.2f} s)")
            index, _ = files.add(track.url, f"imposeTracks.{n}.url", need="audio")
            imposed.append(Imposed(index, track.start_time, track.end_time, track.fade_in_level,
                                   track.fade_out_level))
    return Composition(files.paths, pieces, shape, watermark, swap, imposed)


def compose(ctx: JobContext[Params], media: Media, key: str, get_main: GetMain) -> None:
    """Writes the media's transformed video to `key` (its original); `get_main` stores the main video (fetched,
    or cut when the media is a clip) at the key it is given."""
    rt = ctx.runtime
    main_key = f"{media_prefix(media.id)}/main"
    if not rt.storage.exists(main_key):  # else an earlier attempt got it
        get_main(main_key)
    with rt.storage.as_local_file(main_key, ctx.scratch) as main:
        comp = _composition(ctx, parsed(media.inputs), main)
        dest = ctx.scratch / "composed.mp4"
        ctx.ffmpeg(compose_command(comp, dest), duration=comp.duration, work=2.0,
                   what="applying " + ", ".join(asked(parsed(media.inputs))) + " failed")
        rt.storage.put_file(key, dest)
    rt.storage.delete(main_key)
