"""Generate tiny media files with the bundled ffmpeg for tests."""

from collections.abc import Sequence
from pathlib import Path

from reelhouse.media.ffmpeg import run_ffmpeg

# Usual (video, audio) encoders per container; None marks an audio-only container.
DEFAULT_CODECS: dict[str, tuple[str | None, str]] = {
    ".webm": ("libvpx-vp9", "libopus"),
    ".ogg": ("libtheora", "libvorbis"),
    ".m4a": (None, "aac"),
    ".mp3": (None, "libmp3lame"),
    ".wav": (None, "pcm_s16le"),
    ".flac": (None, "flac"),
}
FASTSTART_SUFFIXES = {".mp4", ".mov", ".m4a"}


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 320,
    height: int = 240,
    fps: float = 25,
    video: bool = True,
    audio: bool = True,
    vcodec: str | None = None,
    acodec: str | None = None,
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    rotation: int = 0,
    extra: Sequence[str] = (),
) -> Path:
    """Write a test pattern (and/or a sine tone) to `path`, the container chosen by its suffix.

    Codecs default to the container's usual ones (H.264/AAC; VP9/Opus for .webm; audio only
    for .m4a/.mp3/.wav/.flac). `rotation` is stored as display-matrix metadata in
    counter-clockwise degrees, as ffmpeg's -display_rotation, without rotating the pixels.
    `extra` output options come last so they override the defaults, e.g.
    ["-movflags", "-faststart"] to leave an mp4's moov atom after the media data.
    """
    suffix = path.suffix.lower()
    default_vcodec, default_acodec = DEFAULT_CODECS.get(suffix, ("libx264", "aac"))
    vcodec = vcodec or default_vcodec
    acodec = acodec or default_acodec
    video = video and vcodec is not None

    inputs: list[str] = []
    outputs: list[str] = []
    if video:
        if rotation:
            # Without -noautorotate ffmpeg would rotate the pixels and drop the matrix.
            inputs += ["-noautorotate", "-display_rotation", str(rotation)]
        pattern = f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"
        inputs += ["-f", "lavfi", "-i", pattern]
        outputs += ["-c:v", vcodec, "-pix_fmt", pix_fmt]
        if vcodec == "libx264":
            outputs += ["-preset", "ultrafast"]
        if vcodec == "libvpx-vp9":
            outputs += ["-deadline", "realtime", "-cpu-used", "8"]
        if gop is not None:
            outputs += ["-g", str(gop)]
    if audio:
        tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
        inputs += ["-f", "lavfi", "-i", tone]
        outputs += ["-c:a", acodec]
    if suffix in FASTSTART_SUFFIXES:
        outputs += ["-movflags", "+faststart"]

    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-y", *inputs, *outputs, *extra, str(path)], timeout=60)
    return path


def truncate(path: Path, keep_fraction: float) -> Path:
    """Copy `path` cut to `keep_fraction` of its bytes, as an interrupted upload leaves it."""
    data = path.read_bytes()
    truncated = path.with_stem(f"{path.stem}-truncated")
    truncated.write_bytes(data[: int(len(data) * keep_fraction)])
    return truncated
