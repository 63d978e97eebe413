"""Probing real clips made by the bundled ffmpeg, and running ffmpeg itself."""

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reelhouse.media import probe as probe_module
from reelhouse.media.ffmpeg import FFmpegCancelled, FFmpegError, find_ffmpeg, run_ffmpeg
from reelhouse.media.probe import ProbeError, probe
from tests.clips import make_clip, truncate
from tests.conftest import IN_ONE_PASS
from tests.test_limits import peak_rss_kib, reset_peak_rss

pytestmark = IN_ONE_PASS  # nothing here touches the database, so the PostgreSQL pass would only repeat it


def test_mp4(tmp_path: Path) -> None:
    result = probe(make_clip(tmp_path / "clip.mp4"))

    assert result.container_format == "mp4"
    assert result.duration == pytest.approx(2.0, abs=0.1)
    assert result.size == (tmp_path / "clip.mp4").stat().st_size
    assert result.bit_rate
    assert result.video is not None and result.audio is not None
    video, audio = result.video, result.audio
    assert (video.codec, video.width, video.height) == ("h264", 320, 240)
    assert (video.display_width, video.display_height) == (320, 240)
    assert video.frame_rate == pytest.approx(25)
    assert (video.pix_fmt, video.bit_depth, video.rotation) == ("yuv420p", 8, 0)
    assert video.language is None  # mp4 tracks are tagged "und"
    assert (audio.codec, audio.sample_rate, audio.channels) == ("aac", 48000, 1)


def test_webm(tmp_path: Path) -> None:
    result = probe(make_clip(tmp_path / "clip.webm"))

    assert result.container_format == "webm"
    assert result.video is not None and result.video.codec == "vp9"
    assert result.audio is not None and result.audio.codec == "opus"


def test_matroska_with_h264_is_not_webm(tmp_path: Path) -> None:
    assert probe(make_clip(tmp_path / "clip.mkv")).container_format == "matroska"


def test_mov(tmp_path: Path) -> None:
    assert probe(make_clip(tmp_path / "clip.mov")).container_format == "mov"


@pytest.mark.parametrize(
    ("name", "container", "codec"), [("a.m4a", "m4a", "aac"), ("a.wav", "wav", "pcm_s16le")]
)
def test_audio_only(tmp_path: Path, name: str, container: str, codec: str) -> None:
    result = probe(make_clip(tmp_path / name))

    assert result.container_format == container
    assert result.video is None
    assert result.audio is not None and result.audio.codec == codec
    assert result.duration == pytest.approx(2.0, abs=0.1)


def test_cover_art_is_not_video(tmp_path: Path) -> None:
    song = make_clip(tmp_path / "song.mp3")
    with_cover = tmp_path / "cover.mp3"
    cover = ["-f", "lavfi", "-i", "testsrc2=size=64x64:duration=0.04"]
    mux = ["-map", "0", "-map", "1", "-c:a", "copy", "-c:v", "png", "-frames:v", "1"]
    run_ffmpeg(
        ["-i", str(song), *cover, *mux, "-disposition:v", "attached_pic", str(with_cover)],
        timeout=30,
    )

    result = probe(with_cover)

    assert [s.type for s in result.streams] == ["audio", "video"]
    assert result.video is None
    assert result.audio is not None and result.audio.codec == "mp3"


def test_video_only(tmp_path: Path) -> None:
    result = probe(make_clip(tmp_path / "silent.mp4", audio=False))

    assert result.video is not None
    assert result.audio is None


def test_ten_bit(tmp_path: Path) -> None:
    result = probe(make_clip(tmp_path / "ten.mp4", audio=False, pix_fmt="yuv420p10le"))

    assert result.video is not None
    assert (result.video.pix_fmt, result.video.bit_depth) == ("yuv420p10le", 10)


@pytest.mark.parametrize("name", ["rotated.mp4", "rotated.mkv"])
def test_rotation(tmp_path: Path, name: str) -> None:
    result = probe(make_clip(tmp_path / name, rotation=90))

    assert result.video is not None
    assert (result.video.width, result.video.height) == (320, 240)
    assert result.video.rotation == 90
    assert (result.video.display_width, result.video.display_height) == (240, 320)


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.mp4"
    path.touch()
    return path


def _html(tmp_path: Path) -> Path:
    path = tmp_path / "page.mp4"
    path.write_text("<!doctype html><html><body>" + "Not a video. " * 200 + "</body></html>")
    return path


def _random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "noise.mp4"
    path.write_bytes(random.Random(1234).randbytes(64 * 1024))
    return path


def _truncated_moov_at_end(tmp_path: Path) -> Path:
    # Without faststart the index (moov) follows the media data, so the first half has none.
    return truncate(make_clip(tmp_path / "late-moov.mp4", extra=["-movflags", "-faststart"]), 0.5)


def _truncated_webm(tmp_path: Path) -> Path:
    return truncate(make_clip(tmp_path / "clip.webm"), 0.05)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_empty, "the file is empty"),
        (_html, "not a media file"),
        (_random_bytes, "not a media file"),
        (_truncated_moov_at_end, "not a media file"),
        (_truncated_webm, "cannot be decoded"),
    ],
)
def test_unusable_files(tmp_path: Path, make: Callable[[Path], Path], reason: str) -> None:
    with pytest.raises(ProbeError, match=reason):
        probe(make(tmp_path))


def test_subtitles_only_file_has_no_media(tmp_path: Path) -> None:
    subtitles = tmp_path / "only.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")

    with pytest.raises(ProbeError, match="no decodable audio or video stream"):
        probe(subtitles)


def test_run_ffmpeg_kills_on_timeout() -> None:
    started = time.monotonic()

    with pytest.raises(FFmpegError, match="timed out after 0.5 s"):
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2", "-f", "null", "-"], timeout=0.5)

    assert time.monotonic() - started < 5


def test_run_ffmpeg_reports_stderr() -> None:
    with pytest.raises(FFmpegError, match="Unrecognized option 'no-such-option'"):
        run_ffmpeg(["-no-such-option"], timeout=30)


def test_find_ffmpeg_rejects_missing_configured_path(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="does not exist"):
        find_ffmpeg(str(tmp_path / "ffmpeg"))
    assert Path(find_ffmpeg()).is_file()


def test_run_ffmpeg_stops_when_its_result_is_no_longer_wanted() -> None:
    wanted = threading.Event()
    wanted.set()
    threading.Timer(0.5, wanted.clear).start()

    with pytest.raises(FFmpegCancelled):
        run_ffmpeg(["-f", "lavfi", "-i", "testsrc2", "-f", "null", "-"], timeout=600,
                   cancelled=lambda: not wanted.is_set(), check_every=0.2)


def test_a_huge_frame_fails_with_a_reason_and_the_caller_s_memory_stays_flat(tmp_path: Path) -> None:
    """Issue 12, finding 10: a 16000 × 16000 MJPEG of a few MB raised the prober's RSS by 387 MiB."""
    hostile = tmp_path / "huge.avi"
    run_ffmpeg(["-f", "lavfi", "-i", "color=gray:size=16000x16000:duration=0.04", "-frames:v", "1",
                "-c:v", "mjpeg", "-q:v", "31", "-pix_fmt", "yuvj420p", str(hostile)], timeout=120)
    reset_peak_rss()
    before = peak_rss_kib()

    with pytest.raises(ProbeError, match="more than .* MiB of memory"):
        probe(hostile)

    grown_mib = (peak_rss_kib() - before) / 1024
    assert grown_mib < 32, f"probing grew this process by {grown_mib:.0f} MiB"


def test_a_frame_at_the_default_pixel_limit_still_probes(tmp_path: Path) -> None:
    """The memory limit leaves room for the largest frames ingest accepts (8192 × 4320, 4:4:4, 10 bits)."""
    largest = tmp_path / "largest.mkv"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=8192x4320:duration=0.04", "-frames:v", "1",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p10le", str(largest)], timeout=120)

    video = probe(largest).video

    assert (video.width, video.height, video.pix_fmt) == (8192, 4320, "yuv444p10le")


def test_a_probe_past_its_time_limit_fails_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="longer than"):
        probe(make_clip(tmp_path / "clip.mp4"), timeout=0.01)  # not even Python starts in 10 ms


def test_an_unchanged_file_is_read_once_and_a_changed_one_again(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clip.mp4"
    make_clip(path)
    children = []
    real = probe_module._probe_in_child
    monkeypatch.setattr(probe_module, "_probe_in_child", lambda *args: children.append(args) or real(*args))
    first = probe_module.probe(path)
    assert probe_module.probe(path) == first and len(children) == 1
    make_clip(path, audio=False)  # the same name, another file
    assert probe_module.probe(path).audio is None and len(children) == 2


def test_the_timeline_gives_the_keyframe_spacing_and_is_read_once_per_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    every_second = probe_module.read_timeline(make_clip(tmp_path / "dense.mp4", seconds=4, gop=25), [0, 1])
    assert every_second.keyframe_gaps == {0: pytest.approx(1.0, abs=0.05)} and every_second.packets[0] == 100
    sparse = probe_module.read_timeline(make_clip(tmp_path / "sparse.mp4", seconds=4, gop=1000), [0, 1])
    assert sparse.keyframe_gaps[0] == pytest.approx(4.0, abs=0.1) and sparse.end == pytest.approx(4.0, abs=0.05)
    reads = []
    real = probe_module._read_timeline
    monkeypatch.setattr(probe_module, "_read_timeline", lambda *args: reads.append(args) or real(*args))
    path = make_clip(tmp_path / "clip.mp4", seconds=2)
    first = probe_module.read_timeline(path, [0, 1])
    assert probe_module.read_timeline(path, [0, 1]) is first and len(reads) == 1
    make_clip(path, seconds=3)  # the same name, another file
    assert probe_module.read_timeline(path, [0, 1]).end == pytest.approx(3.0, abs=0.05) and len(reads) == 2
