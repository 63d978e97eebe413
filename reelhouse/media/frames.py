"""Frames sampled across a video for an image classifier: how many, when, and the ffmpeg command that takes them.

Pure functions, so tests check the sampling and the command line without running ffmpeg. Frames are taken at a
fixed interval (one every EVERY seconds, spread further apart on long videos so there are never more than
MAX_FRAMES), scaled to SIZE×SIZE and centre-cropped to CROP×CROP, and written as raw BGR pixels, the layout
Caffe-trained models such as open_nsfw expect. Frames no other frame refers to are not decoded (`-skip_frame
noref`: about a third less decoding on H.264 with B-frames, and never a broken picture); decoding keyframes
only would be cheaper still, but a source with one keyframe every 10 s (or one in all) would then be sampled
at the wrong times or not at all.
"""

from __future__ import annotations

from pathlib import Path

EVERY = 2.0  # seconds between frames on videos up to MAX_FRAMES × EVERY long
MAX_FRAMES = 300  # the most frames scored for one video, whatever its length
SIZE = 256
CROP = 224
FRAME_BYTES = CROP * CROP * 3


def interval(duration: float, every: float = EVERY, max_frames: int = MAX_FRAMES) -> float:
    """Seconds between sampled frames: `every`, or wider so a long video still gives at most `max_frames`."""
    return max(every, duration / max_frames)


def sample_args(source: Path, dest: Path, *, step: float, max_frames: int = MAX_FRAMES) -> list[str]:
    """ffmpeg arguments writing frame i (taken near i × `step` seconds) of the first video stream to `dest` as
    raw CROP×CROP BGR pixels, at most `max_frames` of them."""
    vf = f"fps=1/{step:g}:eof_action=pass,scale={SIZE}:{SIZE}:flags=bilinear,crop={CROP}:{CROP},format=bgr24"
    return ["-y", "-skip_frame", "noref", "-i", str(source), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", vf,
            "-frames:v", str(max_frames), "-f", "rawvideo", str(dest)]
