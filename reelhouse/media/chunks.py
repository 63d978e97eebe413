"""Where a long source is cut into chunks that workers encode in parallel: pure decisions, testable without ffmpeg.

A chunk starts at a source keyframe, so its encode decodes nothing twice (after a stream copy, at one where a
copied segment starts, so every rung is cut where the copy is), and at a frame of the output's constant frame
grid, so the chunks' frames follow each other exactly: chunk i encodes `frames` frames from `first_frame`, and the
next one starts at `first_frame + frames`. Stitched, their segments play as one encode would.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float  # where ffmpeg seeks: a source keyframe, in seconds from the start of the source
    first_frame: int  # its first frame on the output grid, at the rung's frame rate
    frames: int | None  # how many frames it encodes; None: to the end of the source

    def offset(self, fps: Fraction) -> float:
        """Where its frames go on the stitched timeline, in seconds."""
        return float(self.first_frame / fps)

    def seconds(self, fps: Fraction, duration: float) -> float:
        """How long it plays: its frames, or (the last chunk) the rest of a source of `duration` seconds."""
        return float(self.frames / fps) if self.frames is not None else duration - self.offset(fps)


WHOLE = Chunk(0, 0.0, 0, None)


def nominal_cuts(duration: float, chunk_seconds: float) -> list[float]:
    """Where cuts would go if keyframes were everywhere: every `chunk_seconds` of a source at least two chunks long,
    none closer than half a chunk to the end, so chunks are even (the last one half to one and a half long) and as
    many as workers can share."""
    if duration < 2 * chunk_seconds:
        return []
    cuts, at = [], chunk_seconds
    while at + chunk_seconds / 2 <= duration + 1e-9:
        cuts.append(at)
        at += chunk_seconds
    return cuts


def at_segment_starts(starts: list[float], cuts: list[float]) -> list[float]:
    """For each cut, the first of a rendition's segment starts (ascending) at or after it, up to the first cut with
    none: where the chunks of rungs that must line up with that rendition (a stream copy) can begin."""
    found = []
    for cut in cuts:
        at = bisect.bisect_left(starts, cut)
        if at == len(starts):
            break
        found.append(starts[at])
    return found


def plan(keyframes: list[float | None], fps: Fraction, chunk_seconds: float, duration: float) -> list[Chunk]:
    """The chunks, from the first source keyframe at or after each nominal cut (None where there is none). A cut that
    lands within half a chunk of the previous one or of the end is dropped, so sparse keyframes (one a minute, or
    only the first) give fewer, longer chunks, down to one: correct, only less parallel."""
    starts: list[tuple[float, int]] = [(0.0, 0)]
    for keyframe in keyframes:
        if keyframe is None:
            break
        frame = round(keyframe * fps)
        if keyframe - starts[-1][0] < chunk_seconds / 2 or duration - keyframe < chunk_seconds / 2:
            continue
        if frame > starts[-1][1]:
            starts.append((keyframe, frame))
    chunks = []
    for index, (start, frame) in enumerate(starts):
        following = starts[index + 1][1] if index + 1 < len(starts) else None
        chunks.append(Chunk(index, start, frame, None if following is None else following - frame))
    return chunks
