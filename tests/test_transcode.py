"""Transcoding to adaptive HLS: the plan (pure), the ffmpeg command lines (pure) and real runs on tiny clips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import httpx
import m3u8
import pytest

from reelhouse.media import hls
from reelhouse.media.chunks import Chunk
from reelhouse.media.ladder import can_copy, copy_rung, ladder
from reelhouse.media.probe import StreamInfo, probe
from tests.api_helpers import wait_until_idle
from tests.clips import make_clip
from tests.conftest import wait_for


def video_stream(width: int, height: int, *, fps: float = 25, codec: str = "h264", rotation: int = 0,
                 pix_fmt: str = "yuv420p", profile: str = "High") -> StreamInfo:
    swap = rotation in (90, 270)
    return StreamInfo(index=0, type="video", codec=codec, profile=profile, bit_rate=None, language=None, width=width,
                      height=height, display_width=height if swap else width, display_height=width if swap else height,
                      frame_rate=fps, pix_fmt=pix_fmt, bit_depth=8, rotation=rotation, sample_rate=None, channels=None)


# ---------------------------------------------------------------- the plan


def test_ladder_stops_at_the_source_and_at_max_resolution():
    assert [r.name for r in ladder(video_stream(1920, 1080), "1080p")] == ["v360", "v480", "v720", "v1080"]
    assert [r.name for r in ladder(video_stream(1920, 1080), "720p")] == ["v360", "v480", "v720"]
    assert [(r.width, r.height) for r in ladder(video_stream(1280, 720), "2160p")] == [(640, 360), (854, 480),
                                                                                     (1280, 720)]


def test_portrait_video_is_laddered_by_its_short_side():
    rungs = ladder(video_stream(1080, 1920), "1080p")
    assert [(r.width, r.height) for r in rungs][-1] == (1080, 1920)
    assert rungs[0].name == "v360" and (rungs[0].width, rungs[0].height) == (360, 640)


def test_rotated_video_uses_its_displayed_size():
    rungs = ladder(video_stream(1920, 1080, rotation=90), "1080p")
    assert (rungs[-1].width, rungs[-1].height) == (1080, 1920)


def test_sources_below_360p_get_one_rung_of_their_own_size_and_odd_sizes_become_even():
    assert [(r.width, r.height) for r in ladder(video_stream(321, 241), "1080p")] == [(320, 240)]


def test_frame_rate_is_capped_at_60():
    assert ladder(video_stream(640, 360, fps=120), "1080p")[0].fps == 60
    assert ladder(video_stream(640, 360, fps=30000 / 1001), "1080p")[0].fps == Fraction(30000, 1001)


@pytest.mark.parametrize(
    ("stream", "max_resolution", "gap", "expected"),
    [
        (video_stream(1280, 720), "1080p", 2.0, True),
        (video_stream(1280, 720), "480p", 2.0, False),  # larger than asked for
        (video_stream(1280, 720, codec="hevc"), "1080p", 2.0, False),
        (video_stream(1280, 720, pix_fmt="yuv420p10le"), "1080p", 2.0, False),
        (video_stream(1280, 720, rotation=90), "1080p", 2.0, False),
        (video_stream(1280, 720, fps=120), "1080p", 2.0, False),
        (video_stream(1280, 720), "1080p", 12.0, False),  # keyframes too far apart to segment
        (video_stream(1280, 720), "1080p", None, False),
        (video_stream(1280, 720, profile="High 4:4:4 Predictive"), "1080p", 2.0, False),
    ],
)
def test_only_standard_input_is_stream_copied(stream, max_resolution, gap, expected):
    info = type("Info", (), {"video": stream})()
    assert can_copy(info, max_resolution, gap) is expected


# ---------------------------------------------------------------- the command lines


def test_the_ladder_is_one_ffmpeg_process_decoding_once(tmp_path: Path):
    rungs = ladder(video_stream(1280, 720), "1080p")
    args = hls.encode_command(Path("in.mp4"), tmp_path, rungs, None, hls.every_segment(), cut=0.5)
    assert args.count("-i") == 1
    graph = args[args.index("-filter_complex") + 1]
    assert "split=3" in graph and graph.count("scale=") == 3
    assert args.count("libx264") == 3
    # keyframes at 0, 0.5 s, then every 4 s, on every rung; each starts a segment (hls_time 0.5), in event playlists
    keyframes = "expr:if(eq(n_forced,1),gte(t,0.5),gte(t,4*(n_forced-1)))"
    assert args.count("-force_key_frames") == 3 and args.count(keyframes) == 3
    assert args.count("-sc_threshold") == 3
    for rung in rungs:
        at = args.index(str(tmp_path / rung.name / "index.m3u8"))
        assert args[at - 10:at - 6] == ["-hls_time", "0.5", "-hls_playlist_type", "event"]
    assert "fmp4" in args and "-an" not in args


def test_stream_copy_repackages_without_encoding(tmp_path: Path):
    rung = copy_rung(video_stream(1280, 720))
    audio = StreamInfo(index=1, type="audio", codec="aac", profile="LC", bit_rate=None, language=None, width=None,
                       height=None, display_width=None, display_height=None, frame_rate=None, pix_fmt=None,
                       bit_depth=None, rotation=0, sample_rate=48000, channels=2)
    args = hls.copy_command(Path("in.mp4"), tmp_path, rung, audio)
    assert args[args.index("-c:v") + 1] == "copy" and args[args.index("-c:a") + 1] == "copy"
    assert "libx264" not in args and "-af" not in args  # optimizeAudio too: normalising comes after Ready


def test_keyframes_can_be_pinned_to_another_renditions_segment_starts():
    ntsc, starts = Fraction(30000, 1001), [0.0, 4.004, 8.008, 12.012]
    assert hls.at_times(starts, ntsc) == "0.000000,4.003000,8.007000,12.011000"  # 1 ms early: that frame is the one
    # a chunk from the second segment's start for 240 frames: its own two, counted from its first frame
    assert hls.at_times(starts, ntsc, Chunk(1, 4.004, 120, 240)) == "0.000000,4.003000"
    assert hls.at_times(starts, ntsc, Chunk(2, 12.012, 360, None)) == "0.000000"


def test_master_playlist_lists_codecs_resolution_frame_rate_and_bandwidths():
    text = hls.master_playlist(
        [hls.Variant("v720/index.m3u8", 3_000_000, 2_500_000, "avc1.64001F,mp4a.40.2", 1280, 720, 25.0, "audio")],
        [hls.Alternate("AUDIO", "audio", "Original", "en", "audio/index.m3u8", True)],
    )
    playlist = m3u8.loads(text)
    variant = playlist.playlists[0].stream_info
    assert variant.bandwidth == 3_000_000 and variant.average_bandwidth == 2_500_000
    assert variant.codecs == "avc1.64001F,mp4a.40.2" and variant.resolution == (1280, 720)
    assert variant.frame_rate == 25.0 and variant.audio == "audio"
    assert playlist.media[0].type == "AUDIO" and playlist.media[0].language == "en"


# ---------------------------------------------------------------- real runs


@pytest.fixture
def pull(api, file_server, clips):
    """Creates a media from a clip written into the served folder; returns the created data."""

    def create(name: str, **options) -> dict:
        if not (clips / name).exists():
            make_clip(clips / name, **options)
        response = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/{name}"}],
                                                "accessPolicy": "public"})
        assert response.status_code == 201, response.text
        return response.json()["data"]

    return create


def ready(api: httpx.Client, media_id: str) -> dict:
    media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))
    assert media["status"] == "Ready", media.get("error")
    return media


def master(server, playback_id: str) -> m3u8.M3U8:
    response = httpx.get(f"{server.url}/stream/{playback_id}.m3u8")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apple.mpegurl"
    return m3u8.loads(response.text, uri=f"{server.url}/stream/{playback_id}.m3u8")


def read_back(url: str) -> tuple[float, list[float]]:
    """Decodes the whole HLS stream with ffmpeg's own demuxer: (video duration, keyframe times)."""
    with av.open(url) as container:
        stream = container.streams.video[0]
        times, keyframes = [], []
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            for frame in packet.decode():
                times.append(float(frame.pts * stream.time_base))
            if packet.is_keyframe:
                keyframes.append(round(float(packet.pts * stream.time_base), 2))
    return max(times) - min(times) + 1 / float(stream.average_rate), keyframes


def test_standard_input_is_ready_by_stream_copy_and_the_ladder_follows(api, server, pull):
    created = pull("std480.mp4", seconds=9, width=640, height=480, gop=25)
    media = ready(api, created["id"])
    pid = created["playbackIds"][0]["id"]
    source = probe(server.settings.data_dir / "objects" / "media" / created["id"] / "original")
    first = master(server, pid)
    assert [p.stream_info.resolution for p in first.playlists] == [(640, 480)]
    # x264 ultrafast makes Constrained Baseline; our encoder makes High: the first rung is the source itself
    assert first.playlists[0].stream_info.codecs.startswith("avc1.42")
    assert source.video.profile == "Constrained Baseline"
    assert media["duration"] == "9.00" and media["sourceResolution"] == "480" and media["maxResolution"] == "1080p"

    wait_until_idle(server)  # the ladder lands in one step
    full = master(server, pid)
    assert [p.stream_info.resolution for p in full.playlists] == [(480, 360), (640, 480)]
    assert full.playlists[0].stream_info.codecs.startswith("avc1.64")
    for playlist in full.playlists:
        info = playlist.stream_info
        assert info.bandwidth >= info.average_bandwidth > 0 and info.frame_rate == 25.0 and info.audio == "audio"
    assert full.media[0].type == "AUDIO" and full.media[0].default == "YES"

    (encoded, encoded_keyframes), (copied, copied_keyframes) = [read_back(p.absolute_uri) for p in full.playlists]
    assert abs(encoded - 9.0) < 0.1 and abs(copied - 9.0) < 0.1
    variants = [m3u8.load(p.absolute_uri) for p in full.playlists]
    assert all(v.segment_map and v.is_endlist for v in variants)
    assert [s.duration for s in variants[0].segments] == [s.duration for s in variants[1].segments]
    starts = [round(sum(s.duration for s in variants[1].segments[:i]), 2) for i in range(len(variants[1].segments))]
    # every segment of every rung starts with a keyframe at the same instant
    assert encoded_keyframes == starts and set(starts) <= set(copied_keyframes)


def test_non_standard_input_is_encoded_and_becomes_ready(api, server, pull):
    created = pull("vp9.webm", seconds=2, width=640, height=360)
    ready(api, created["id"])
    playlist = master(server, created["playbackIds"][0]["id"])
    assert playlist.playlists[0].stream_info.codecs.startswith("avc1.64")
    duration, _ = read_back(playlist.playlists[0].absolute_uri)
    assert abs(duration - 2.0) < 0.1


def test_audio_only_media_gets_an_audio_only_playlist(api, server, pull):
    created = pull("tone.m4a")
    media = ready(api, created["id"])
    assert media["isAudioOnly"] is True and "thumbnail" not in media
    playlist = master(server, created["playbackIds"][0]["id"])
    assert len(playlist.playlists) == 1 and playlist.playlists[0].stream_info.codecs == "mp4a.40.2"
    assert playlist.playlists[0].stream_info.resolution is None and not playlist.media


def test_video_only_media_has_no_audio_group(api, server, pull):
    created = pull("silent.mp4")
    ready(api, created["id"])
    playlist = master(server, created["playbackIds"][0]["id"])
    assert not playlist.media and playlist.playlists[0].stream_info.audio is None


@pytest.mark.parametrize(
    ("name", "options", "size"),
    [
        ("ten_bit.mp4", {"pix_fmt": "yuv420p10le", "vcodec": "libx264"}, (320, 240)),
        ("rotated.mp4", {"rotation": 90}, (240, 320)),
        ("odd.mkv", {"width": 321, "height": 241, "vcodec": "libx264"}, (320, 240)),
        ("short.mp4", {"seconds": 0.4}, (320, 240)),
        ("vfr.mkv", {"extra": ["-vf", "setpts='if(lt(N,25),2*PTS,PTS)'", "-fps_mode", "vfr"]}, (320, 240)),
    ],
)
def test_awkward_input_plays(api, server, pull, name, options, size):
    created = pull(name, **options)
    ready(api, created["id"])
    playlist = master(server, created["playbackIds"][0]["id"])
    assert playlist.playlists[0].stream_info.resolution == size
    duration, _ = read_back(playlist.playlists[0].absolute_uri)
    assert duration > 0.3


def test_segments_are_immutable_and_support_byte_ranges(api, server, pull):
    created = pull("clip.mp4")
    ready(api, created["id"])
    pid = created["playbackIds"][0]["id"]
    rendition = master(server, pid).playlists[0].absolute_uri
    segment_url = rendition.rsplit("/", 1)[0] + "/" + m3u8.load(rendition).segments[0].uri
    whole = httpx.get(segment_url)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/iso.segment"
    assert "immutable" in whole.headers["cache-control"] and whole.headers["access-control-allow-origin"] == "*"
    part = httpx.get(segment_url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    past = httpx.get(segment_url, headers={"Range": f"bytes={len(whole.content)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole.content)}"
    assert past.json()["error"]["code"] == 416 and past.headers["access-control-allow-origin"] == "*"
    huge = httpx.get(segment_url, headers={"Range": "bytes=0-" + "9" * 5000})  # past Python's int digit limit
    assert huge.status_code == 200 and huge.content == whole.content


@pytest.mark.parametrize(
    "path",
    [
        "/stream/not-a-uuid.m3u8",
        "/stream/{pid}/../../etc/passwd",
        "/stream/{pid}/v240/..%2F..%2Foriginal",
        "/stream/{pid}/v240/evil.txt",
        "/stream/{pid}/V240/index.m3u8",
        "/stream/{pid}/v9999/index.m3u8",
        "/stream/00000000-0000-4000-8000-000000000000.m3u8",
    ],
)
def test_malformed_or_unknown_stream_urls_are_404(api, server, pull, path):
    created = pull("clip.mp4")
    ready(api, created["id"])
    response = httpx.get(server.url + path.format(pid=created["playbackIds"][0]["id"]))
    assert response.status_code == 404


def test_deleting_the_media_stops_its_stream_at_once(api, server, pull):
    created = pull("clip.mp4")
    ready(api, created["id"])
    url = f"{server.url}/stream/{created['playbackIds'][0]['id']}.m3u8"
    assert httpx.get(url).status_code == 200
    assert api.delete(f"/on-demand/{created['id']}").status_code == 200
    assert httpx.get(url).status_code == 404
