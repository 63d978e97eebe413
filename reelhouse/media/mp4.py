"""MP4/M4A downloads (`mp4Support`): which files exist and the ffmpeg command lines that make them.

Pure functions, so tests read the exact command lines without running ffmpeg. Standard H.264 is copied
as it is (seconds, no quality loss); anything else is encoded once, capped at 2160p.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reelhouse.media.hls import audio_codec_args
from reelhouse.media.ladder import COPYABLE_PROFILES
from reelhouse.media.probe import StreamInfo

MAX_SHORT_SIDE = 2160


@dataclass(frozen=True)
class Kind:
    """One downloadable rendition: its `mp4Support` name, file name under the playback ID and media type."""

    type: str
    file: str
    ext: str
    content_type: str


CAPPED_4K = Kind("capped_4k", "capped-4k.mp4", "mp4", "video/mp4")
AUDIO_ONLY = Kind("audioOnly", "audio.m4a", "m4a", "audio/mp4")
KINDS = {kind.type: kind for kind in (CAPPED_4K, AUDIO_ONLY)}


def requested(mp4_support: str | None) -> list[Kind]:
    """The renditions an `mp4Support` value asks for (`audioOnly,capped_4k` is both), in wire order."""
    names = set((mp4_support or "").split(","))
    return [kind for kind in KINDS.values() if kind.type in names]


def copyable(video: StreamInfo) -> bool:
    """H.264 8-bit 4:2:0 in a profile every player decodes, within 2160p: the download is the source's own stream."""
    return (
        video.codec == "h264"
        and video.pix_fmt in ("yuv420p", "yuvj420p")
        and video.profile in COPYABLE_PROFILES
        and min(video.width or 0, video.height or 0) <= MAX_SHORT_SIDE
    )


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def mp4_size(video: StreamInfo) -> tuple[int, int]:
    """The displayed (rotation-applied) size of the MP4: the source's, or scaled so its short side is at most 2160."""
    width, height = video.display_width or 0, video.display_height or 0
    if copyable(video):
        return width, height
    factor = min(1.0, MAX_SHORT_SIDE / max(1, min(width, height)))
    return _even(width * factor), _even(height * factor)


def mp4_command(
    source: Path, dest: Path, video: StreamInfo, audio: StreamInfo | None, gain: float | None
) -> list[str]:
    """`capped-4k.mp4`: video copied or encoded with x264, audio as AAC (with the loudness gain, when one was
    measured), the index up front so it plays while it downloads."""
    args = ["-y", "-i", str(source), "-map", f"0:{video.index}"]
    if copyable(video):
        args += ["-c:v", "copy"]
    else:
        width, height = mp4_size(video)
        args += [
            "-vf", f"scale={width}:{height},setsar=1", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
            "-profile:v", "high", "-pix_fmt", "yuv420p",
        ]  # fmt: skip
    if audio is not None:
        args += ["-map", f"0:{audio.index}", *audio_codec_args(audio, gain)]
    return [*args, "-movflags", "+faststart", "-f", "mp4", str(dest)]


def m4a_command(source: Path, dest: Path, audio: StreamInfo, gain: float | None) -> list[str]:
    """`audio.m4a`: the first audio stream as AAC (copied when it already is) in an M4A container."""
    return [
        "-y", "-i", str(source), "-map", f"0:{audio.index}", *audio_codec_args(audio, gain),
        "-movflags", "+faststart", "-f", "ipod", str(dest),
    ]  # fmt: skip
