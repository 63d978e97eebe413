"""Which renditions a source gets: pure decisions, testable without running ffmpeg."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from reelhouse.media.probe import ProbeResult, StreamInfo

SEGMENT_SECONDS = 4
MAX_FPS = 60
MAX_COPY_KEYFRAME_GAP = 10.0  # longer GOPs would make segments too long to switch between rungs
HEIGHTS = {"2160p": 2160, "1440p": 1440, "1080p": 1080, "720p": 720, "480p": 480, "360p": 360}
# H.264 average bitrates (bits/s) per rung at up to 30 fps; higher frame rates get 1.5x.
BITRATES = {2160: 14_000_000, 1440: 8_000_000, 1080: 5_000_000, 720: 2_800_000, 480: 1_400_000, 360: 800_000}
AUDIO_BITRATE = 128_000
COPYABLE_PROFILES = {"Baseline", "Constrained Baseline", "Main", "High"}


@dataclass(frozen=True)
class Rung:
    """One video rendition of the ladder. `name` is also its folder: `v720`."""

    height_class: int  # the short side the rung is named after (720 for 1280x720 and for 720x1280)
    width: int
    height: int
    bitrate: int
    fps: Fraction

    @property
    def name(self) -> str:
        return f"v{self.height_class}"


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def output_fps(video: StreamInfo) -> Fraction:
    """The source's average rate as an exact fraction (29.97 → 30000/1001), capped at 60."""
    rate = Fraction(video.frame_rate or 25).limit_denominator(1001)
    return min(rate, Fraction(MAX_FPS))


def bitrate_for(height_class: int, fps: Fraction) -> int:
    nearest = min(BITRATES, key=lambda h: abs(h - height_class))
    scaled = BITRATES[nearest] * (height_class / nearest) ** 1.5 if height_class < 360 else BITRATES[nearest]
    return int(scaled * (1.5 if fps > 30 else 1.0))


def ladder(video: StreamInfo, max_resolution: str) -> list[Rung]:
    """Rungs no larger than the source nor `max_resolution`, smallest first.

    Sizes come from the displayed (rotation-applied) picture; a source below 360p gets one rung
    at its own size, so every video is playable.
    """
    width, height = video.display_width or 0, video.display_height or 0
    short = min(width, height)
    cap = min(short, HEIGHTS[max_resolution])
    classes = sorted(h for h in HEIGHTS.values() if h <= cap) or [_even(cap)]
    fps = output_fps(video)
    rungs = []
    for cls in classes:
        scale = cls / short
        rungs.append(Rung(cls, _even(width * scale), _even(height * scale), bitrate_for(cls, fps), fps))
    return rungs


def can_copy(info: ProbeResult, max_resolution: str, keyframe_gap: float | None) -> bool:
    """Standard input plays as it is: H.264 8-bit 4:2:0, upright, within maxResolution and 60 fps,
    with keyframes close enough together to cut segments at."""
    video = info.video
    if video is None or video.codec != "h264" or video.pix_fmt not in ("yuv420p", "yuvj420p"):
        return False
    if video.profile not in COPYABLE_PROFILES or video.rotation % 360 != 0:
        return False
    if min(video.width or 0, video.height or 0) > HEIGHTS[max_resolution]:
        return False
    if (video.frame_rate or 0) > MAX_FPS or (video.width or 0) % 2 or (video.height or 0) % 2:
        return False
    return keyframe_gap is not None and keyframe_gap <= MAX_COPY_KEYFRAME_GAP


def copy_rung(video: StreamInfo) -> Rung:
    """The rendition a stream copy produces: the source itself."""
    width, height = video.width or 0, video.height or 0
    cls = min(width, height)
    fps = output_fps(video)
    return Rung(cls, width, height, video.bit_rate or bitrate_for(cls, fps), fps)
