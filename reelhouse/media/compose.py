"""Composing a media from its create-time transforms: intro and outro, expunged ranges, spliced-in segments, a
watermark image and replaced or imposed audio, as one ffmpeg run (pure, so tests read it without ffmpeg).

Every piece of video is normalised to the main video's size (scaled to fit, padded), frame rate, pixel format and
audio layout before the pieces are joined, so an intro of another size or rate plays as part of one stream. The
result is H.264 + AAC with a keyframe every 2 s, as a clip's original is, so it packages to HLS by stream copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reelhouse.media.trim import KEYFRAME_SECONDS

SAMPLE_RATE = 48_000


class TimelineError(ValueError):
    """A range or position does not fit the video; the message names the field, for people."""


@dataclass(frozen=True)
class Shape:
    """What every piece is made like: the main video's size and frame rate, and its audio layout."""

    width: int
    height: int
    fps: float
    channels: int = 2

    @property
    def layout(self) -> str:
        return "mono" if self.channels == 1 else "stereo"


@dataclass(frozen=True)
class Piece:
    """Seconds [start, end) of input `input`; `audio` False when that input has none (silence is put in)."""

    input: int
    start: float
    end: float
    audio: bool = True

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Watermark:
    """An image on input `input`. Margins and sizes are fractions of the video's width (x) or height (y); a size
    left out keeps the image's aspect ratio (both out: its own size)."""

    input: int
    x_align: str = "right"
    y_align: str = "bottom"
    x_margin: float = 0.0
    y_margin: float = 0.0
    width: float | None = None
    height: float | None = None
    opacity: float = 1.0


@dataclass(frozen=True)
class Imposed:
    """Input `input`'s audio mixed in over [start, end) of the output, faded in and out over the given seconds."""

    input: int
    start: float
    end: float
    fade_in: float = 0.0
    fade_out: float = 0.0


@dataclass(frozen=True)
class Composition:
    inputs: Sequence[Path]
    pieces: Sequence[Piece]
    shape: Shape
    watermark: Watermark | None = None
    swap_audio: int | None = None  # the input whose audio replaces the pieces' own
    imposed: Sequence[Imposed] = field(default_factory=tuple)

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.pieces)

    @property
    def audio(self) -> bool:
        return any(p.audio for p in self.pieces) or self.swap_audio is not None or bool(self.imposed)


def parse_range(text: str) -> tuple[float, float]:
    """`"4-6"` (seconds, decimals allowed) as (4.0, 6.0); a ValueError says what is wrong."""
    start, sep, end = text.partition("-")
    try:
        if not sep:
            raise ValueError
        span = float(start), float(end)
    except ValueError:
        raise ValueError(f"{text!r} is not a range of seconds like \"4-6\"") from None
    if not 0 <= span[0] < span[1]:
        raise ValueError(f"{text!r}: the end must be after the start")
    return span


def check_disjoint(ranges: Sequence[tuple[float, float]]) -> None:
    ordered = sorted(ranges)
    for (a_start, a_end), (b_start, b_end) in zip(ordered, ordered[1:], strict=False):
        if b_start < a_end:
            raise ValueError(f"the ranges {a_start:g}-{a_end:g} and {b_start:g}-{b_end:g} overlap")


def main_pieces(
    input: int, duration: float, *, audio: bool, expunged: Sequence[tuple[float, float]] = (),
    inserts: Sequence[tuple[float, Sequence[Piece]]] = (),
) -> list[Piece]:
    """The main video's timeline: its own time with `expunged` ranges cut out, and each insert's pieces placed at
    its position on the main video's own clock (a position inside a cut range lands where the cut is)."""
    for start, end in expunged:
        if end > duration + 0.05:
            raise TimelineError(f"expungeSegments {start:g}-{end:g} goes past the end of the video ({duration:.2f} s)")
    for at, _ in inserts:
        if at > duration:
            raise TimelineError(f"segments insertAt {at:g} is past the end of the video ({duration:.2f} s)")
    kept, cursor = [], 0.0
    for start, end in sorted(expunged):
        if start > cursor:
            kept.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < duration:
        kept.append((cursor, duration))
    if not kept:
        raise TimelineError("expungeSegments removes the whole video")
    pieces: list[Piece] = []
    pending = sorted(inserts, key=lambda insert: insert[0])
    for start, end in kept:
        while pending and pending[0][0] <= start:
            pieces += pending.pop(0)[1]
        while pending and pending[0][0] < end:
            at, spliced = pending.pop(0)
            if at > start:
                pieces.append(Piece(input, start, at, audio))
            pieces += spliced
            start = at
        pieces.append(Piece(input, start, end, audio))
    for _, spliced in pending:
        pieces += spliced
    return pieces


def _position(align: str, margin: float, axis: str) -> str:
    """An overlay coordinate: `axis` "x" (left/center/right) or "y" (top/middle/bottom)."""
    main, over = ("main_w", "overlay_w") if axis == "x" else ("main_h", "overlay_h")
    if align in ("center", "middle"):
        return f"({main}-{over})/2"
    offset = f"{main}*{margin:g}"
    return offset if align in ("left", "top") else f"{main}-{over}-{offset}"


def _watermark_filters(mark: Watermark, shape: Shape) -> str:
    width = -1 if mark.width is None else max(2, round(shape.width * mark.width))
    height = -1 if mark.height is None else max(2, round(shape.height * mark.height))
    scale = "" if width == height == -1 else f"scale={width}:{height},"
    x, y = _position(mark.x_align, mark.x_margin, "x"), _position(mark.y_align, mark.y_margin, "y")
    return (f"[{mark.input}:v]{scale}format=rgba,colorchannelmixer=aa={mark.opacity:g}[mark];"
            f"[joined][mark]overlay=x={x}:y={y}:format=auto,format=yuv420p[video]")


def compose_command(comp: Composition, dest: Path) -> list[str]:
    """One ffmpeg run writing `comp` as an MP4 at `dest`."""
    shape = comp.shape
    audio_format = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts={shape.layout}"
    graph: list[str] = []
    joined = ""
    for n, piece in enumerate(comp.pieces):
        graph.append(
            f"[{piece.input}:v]trim=start={piece.start:.3f}:end={piece.end:.3f},setpts=PTS-STARTPTS,"
            f"scale={shape.width}:{shape.height}:force_original_aspect_ratio=decrease,"
            f"pad={shape.width}:{shape.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={shape.fps:g},format=yuv420p[v{n}]"
        )
        joined += f"[v{n}]"
        if comp.audio:
            source = (f"[{piece.input}:a]atrim=start={piece.start:.3f}:end={piece.end:.3f},asetpts=PTS-STARTPTS,"
                      if piece.audio else f"anullsrc=r={SAMPLE_RATE}:cl={shape.layout},")
            graph.append(f"{source}{audio_format},apad,atrim=end={piece.duration:.3f}[a{n}]")
            joined += f"[a{n}]"
    outputs = "[joined][sound]" if comp.audio else "[joined]"
    graph.append(f"{joined}concat=n={len(comp.pieces)}:v=1:a={int(comp.audio)}{outputs}")
    if comp.watermark is not None:
        graph.append(_watermark_filters(comp.watermark, shape))
    else:
        graph.append("[joined]null[video]")
    if comp.audio:
        graph += _audio_filters(comp, audio_format)
    args = ["-y"]
    for path in comp.inputs:
        args += ["-i", str(path)]
    args += ["-filter_complex", ";".join(graph), "-map", "[video]"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
             "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"]
    if comp.audio:
        args += ["-map", "[audio]", "-c:a", "aac", "-b:a", "192k"]
    return [*args, "-t", f"{comp.duration:.3f}", "-sn", "-dn", "-movflags", "+faststart", "-f", "mp4", str(dest)]


def _audio_filters(comp: Composition, audio_format: str) -> list[str]:
    """The output's sound: the pieces' own (or the swapped-in track, cut or padded with silence to the video's
    length), with each imposed track mixed in at its place."""
    total = f"{comp.duration:.3f}"
    graph = []
    base = "[sound]"
    if comp.swap_audio is not None:
        graph.append(f"[sound]anullsink;[{comp.swap_audio}:a]{audio_format},apad,atrim=end={total}[swapped]")
        base = "[swapped]"
    if not comp.imposed:
        return [*graph, f"{base}anull[audio]"]
    mixed = base
    for n, track in enumerate(comp.imposed):
        length = track.end - track.start
        fades = ""
        if track.fade_in > 0:
            fades += f",afade=t=in:st=0:d={min(track.fade_in, length):g}"
        if track.fade_out > 0:
            fade = min(track.fade_out, length)
            fades += f",afade=t=out:st={length - fade:g}:d={fade:g}"
        graph.append(f"[{track.input}:a]{audio_format},apad,atrim=end={length:.3f}{fades},"
                     f"adelay={round(track.start * 1000)}:all=1[imposed{n}]")
        mixed += f"[imposed{n}]"
    graph.append(f"{mixed}amix=inputs={len(comp.imposed) + 1}:duration=first:normalize=0[audio]")
    return graph
