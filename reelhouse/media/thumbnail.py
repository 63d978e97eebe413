"""Thumbnails: the picture's size and filters for each `fit_mode`, and the ffmpeg command lines that render one frame.

Pure functions, so tests check sizes and command lines without running ffmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_SIZE = 3840
FIT_MODES = ("preserve", "stretch", "crop", "pad")
ENCODERS = {
    "jpg": ["-c:v", "mjpeg", "-q:v", "3"],
    "png": ["-c:v", "png"],
    "webp": ["-c:v", "libwebp", "-quality", "80"],
}
TAIL_SECONDS = 2  # how far before the end the fallback looks for the last frame


@dataclass(frozen=True)
class Layout:
    """The picture to produce: its size, the ffmpeg filter that makes it and the fit mode in effect."""

    width: int
    height: int
    filter: str
    fit: str


def _scaled(width: int, height: int, factor: float) -> tuple[int, int]:
    return max(1, round(width * factor)), max(1, round(height * factor))


def layout(source: tuple[int, int], width: int | None, height: int | None, fit: str = "preserve") -> Layout:
    """Sizes a frame of `source` (its displayed width, height) into the requested box.

    With both sides given: `preserve` fits inside the box keeping the aspect ratio, `stretch` fills it exactly,
    `crop` fills it and cuts the overflow from the centre, `pad` fits inside and fills the rest with black.
    With one side given the other follows the aspect ratio (every mode alike); with none it is the source's
    own size. Nothing ever exceeds MAX_SIZE on either side.
    """
    sw, sh = source
    if width and height:
        if fit == "stretch":
            return Layout(width, height, f"scale={width}:{height},setsar=1", fit)
        if fit == "crop":
            w, h = _scaled(sw, sh, max(width / sw, height / sh))
            return Layout(width, height, f"scale={w}:{h},crop={width}:{height},setsar=1", fit)
        w, h = _scaled(sw, sh, min(width / sw, height / sh))
        if fit == "pad":
            pad = f"pad={width}:{height}:{(width - w) // 2}:{(height - h) // 2}:black"
            return Layout(width, height, f"scale={w}:{h},{pad},setsar=1", fit)
        return Layout(w, h, f"scale={w}:{h},setsar=1", "preserve")
    if width:
        factor = min(width / sw, MAX_SIZE / sh)
    elif height:
        factor = min(height / sh, MAX_SIZE / sw)
    else:
        factor = min(1.0, MAX_SIZE / sw, MAX_SIZE / sh)
    w, h = _scaled(sw, sh, factor)
    return Layout(w, h, f"scale={w}:{h},setsar=1", "preserve")


def thumbnail_command(source: Path, dest: Path, time: float, picture: Layout, fmt: str) -> list[str]:
    """The first frame at or after `time`; seeking before `-i` jumps near it instead of decoding from the start."""
    return [
        "-y", "-ss", f"{time:.3f}", "-i", str(source), "-map", "0:V:0", "-frames:v", "1",
        "-vf", picture.filter, *ENCODERS[fmt], "-f", "image2", "-update", "1", str(dest),
    ]  # fmt: skip


def last_frame_command(source: Path, dest: Path, picture: Layout, fmt: str) -> list[str]:
    """The last frame, for times past the final frame (the end itself): each frame of the tail overwrites the file."""
    return [
        "-y", "-sseof", f"-{TAIL_SECONDS}", "-i", str(source), "-map", "0:V:0",
        "-vf", picture.filter, *ENCODERS[fmt], "-f", "image2", "-update", "1", str(dest),
    ]  # fmt: skip
