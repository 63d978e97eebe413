"""Cutting a span out of a media file: the ffmpeg command line (pure, so tests read it without ffmpeg) and the
check of a span against the input's duration.

The cut re-encodes (H.264 + AAC), so it is exact to the frame wherever the span starts, with a keyframe every
2 s so the clip is then packaged to HLS by stream copy. A span that is the whole input is copied untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KEYFRAME_SECONDS = 2
END_TOLERANCE = 0.05  # seconds: container durations round, so an endTime this far past the end still means "the end"


class SpanError(ValueError):
    """The span does not fit the input; the message names the field, for people."""


@dataclass(frozen=True)
class Span:
    """[start, end) in seconds of the input; `end` None means to the end."""

    start: float = 0.0
    end: float | None = None

    def within(self, duration: float) -> Span:
        """This span checked against an input of `duration` seconds, its end made explicit."""
        if self.start >= duration:
            raise SpanError(f"startTime {self.start:g} s is not before the end of the input ({duration:.2f} s)")
        if self.end is not None and self.end > duration + END_TOLERANCE:
            raise SpanError(f"endTime {self.end:g} s is past the end of the input ({duration:.2f} s)")
        end = duration if self.end is None else min(self.end, duration)
        return Span(self.start, end)

    def is_whole(self, duration: float) -> bool:
        return self.start == 0 and (self.end is None or self.end >= duration - 0.001)


def trim_command(source: Path, dest: Path, span: Span, *, video: bool, audio: bool) -> list[str]:
    """`span` of `source` as an MP4 at `dest`: seeking on the input (ffmpeg decodes from the keyframe before and
    drops what precedes `start`, so the cut is frame-exact), every audio stream kept, subtitles and data dropped."""
    assert span.end is not None, "check the span against the input first (Span.within)"
    args = ["-y", "-ss", f"{span.start:.3f}", "-i", str(source), "-t", f"{span.end - span.start:.3f}"]
    if video:
        args += [
            "-map", "0:v:0", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
            "-force_key_frames", f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})",
        ]  # fmt: skip
    if audio:
        args += ["-map", "0:a", "-c:a", "aac", "-b:a", "192k"]
    return [*args, "-sn", "-dn", "-map_metadata", "0", "-movflags", "+faststart", "-f", "mp4", str(dest)]
