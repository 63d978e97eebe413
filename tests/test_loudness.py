"""optimizeAudio: Ready at once with the source's audio, the loudness-normalised rendition swapped in afterwards.

The module's server runs every kind of job but `normalise-audio` on a pool of its own, so each test sees the media
Ready before normalisation has run, then runs that job itself.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import m3u8
import pytest
from fastpix_python import Fastpix
from sqlalchemy import select

from reelhouse.db.enums import JobKind, JobStatus
from reelhouse.db.models import Job
from reelhouse.jobs.loudness import check_timeline
from reelhouse.jobs.registry import STEPS
from reelhouse.jobs.step import PermanentError
from reelhouse.jobs.worker import JobRunner, WorkerPool
from reelhouse.media import hls, loudness
from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.media.probe import StreamInfo
from reelhouse.storage.keys import original_key
from reelhouse.testing import Server, make_token, start_server
from tests.clips import make_clip
from tests.conftest import ON_POSTGRES, fresh_postgres, sdk_client, server_settings, wait_for

# ---------------------------------------------------------------- measuring and the gain (pure)

SUMMARY = """[Parsed_ebur128_0 @ 0x55] Summary:

  Integrated loudness:
    I:         -21.8 LUFS
    Threshold: -31.8 LUFS

  Loudness range:
    LRA:         0.0 LU

  True peak:
    Peak:      -20.8 dBFS""".splitlines()


def test_the_summary_gives_integrated_loudness_and_true_peak():
    assert loudness.parse_summary(SUMMARY) == loudness.Loudness(-21.8, -20.8)
    silent = [line.replace("-21.8", "-70.0").replace("-20.8", "-inf") for line in SUMMARY]
    assert loudness.parse_summary(silent) == loudness.Loudness(-70.0, -math.inf)
    with pytest.raises(loudness.LoudnessError):
        loudness.parse_summary(["[out#0/null] audio:11250KiB"])


@pytest.mark.parametrize(
    ("integrated", "peak", "gain"),
    [
        (-21.8, -20.8, 5.8),  # towards -16 LUFS
        (-10.0, -0.5, -6.0),  # too loud: turned down
        (-30.0, -4.0, 2.5),  # the true-peak ceiling (-1.5 dBTP) caps the gain: no limiter, no pumping
        (-70.0, -math.inf, 0.0),  # silence is left alone
        (-65.0, -60.0, loudness.MAX_GAIN),  # faint noise is not raised without bound
    ],
)
def test_one_linear_gain_towards_the_target_within_the_peak_ceiling(integrated, peak, gain):
    assert loudness.gain(loudness.Loudness(integrated, peak)) == pytest.approx(gain)


def test_measuring_decodes_the_audio_alone_and_the_normalised_rendition_is_segmented_like_the_original(tmp_path):
    measure = loudness.measure_command(Path("in.mp4"), "0:2")
    assert measure[measure.index("-map") + 1] == "0:2" and "-vn" in measure
    assert measure[measure.index("-af") + 1].startswith("ebur128=peak=true") and measure[-3:] == ["-f", "null", "-"]
    aac = StreamInfo(index=1, type="audio", codec="aac", profile="LC", bit_rate=None, language=None, width=None,
                     height=None, display_width=None, display_height=None, frame_rate=None, pix_fmt=None,
                     bit_depth=None, rotation=0, sample_rate=44100, channels=2)
    args = hls.normalised_audio_command(Path("in.mp4"), tmp_path, aac, -3.25, 1)
    assert args[args.index("-af") + 1] == "volume=-3.25dB" and args[args.index("-c:a") + 1] == "aac"
    assert "-ar" not in args  # the source's sample rate, as the original rendition has it
    assert args[-len(hls.hls_output(tmp_path, 1)):] == hls.hls_output(tmp_path, 1)
    assert hls.audio_codec_args(aac) == ["-c:a", "copy"]  # the playable path never normalises


def test_the_normalised_audio_is_cut_as_often_as_the_original_was():
    beside_a_copy = hls.MediaPlaylist("init.mp4", (("seg_00000.m4s", 4.016), ("seg_00001.m4s", 1.2)))
    encoded = hls.MediaPlaylist("init.mp4", (("seg_00000.m4s", 1.002), ("seg_00001.m4s", 0.998)))
    assert hls.audio_cut(beside_a_copy) == hls.SEGMENT_SECONDS
    assert hls.audio_cut(encoded) == hls.AUDIO_SEGMENT_SECONDS
    assert hls.audio_cut(hls.MediaPlaylist("init.mp4", (("seg_00000.m4s", 0.7),))) == hls.SEGMENT_SECONDS


def test_a_normalised_rendition_that_does_not_line_up_is_never_published():
    original = hls.MediaPlaylist("init.mp4", (("seg_00000.m4s", 4.016), ("seg_00001.m4s", 3.994)))
    within_a_frame = hls.MediaPlaylist("init.mp4", (("seg_00000.m4s", 4.0), ("seg_00001.m4s", 4.01)))
    check_timeline(original, within_a_frame)
    for other in [(("seg_00000.m4s", 8.01),), (("seg_00000.m4s", 4.1), ("seg_00001.m4s", 3.91))]:
        with pytest.raises(PermanentError, match="does not line up"):
            check_timeline(original, hls.MediaPlaylist("init.mp4", other))


# ---------------------------------------------------------------- through the official SDK, on a real server


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Fastpix, httpx.Client, Path]]:
    folder = tmp_path_factory.mktemp("loudness")
    make_clip(folder / "clip.mp4", seconds=3, extra=["-af", "volume=-12dB"])  # a quiet tone, to be raised
    make_clip(folder / "tone.mp3", seconds=2)
    make_clip(folder / "silent.mp4", seconds=2, audio=False)
    with fresh_postgres() if ON_POSTGRES else contextlib.nullcontext() as database_url:
        settings = server_settings(folder / "data", database_url).model_copy(update={"workers": 0})
        credentials = make_token(settings)
        server = start_server(settings)
        kinds = tuple(kind for kind in STEPS if kind != JobKind.NORMALISE_AUDIO)
        pool = WorkerPool(server.runtime, size=1, kinds=kinds, poll_seconds=0.05)
        pool.start()
        try:
            with sdk_client(server, *credentials) as fp, httpx.Client(base_url=f"{server.url}/v1", auth=credentials,
                                                                       timeout=30) as api:
                yield server, fp, api, folder
        finally:
            pool.stop()
            server.stop()


def _upload(fp: Fastpix, api: httpx.Client, file: Path) -> dict:
    """The official SDK's direct upload with its defaults (optimizeAudio: true), then the PUT; returns it Ready."""
    upload = fp.input_video.direct_upload_video_media(request={"cors_origin": "*", "push_media_settings": {
        "access_policy": "public"}}).data
    assert httpx.put(upload.url, content=file.read_bytes(), timeout=30).status_code in (200, 201)
    media_id = fp.manage_videos.get_media(media_id=upload.upload_id).data.id
    media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))
    assert media["status"] == "Ready" and media["optimizeAudio"] is True, media
    return media


def _job(server: Server, media_id: str) -> Job | None:
    with server.runtime.db.read() as session:
        return session.scalar(select(Job).where(Job.media_id == media_id, Job.kind == JobKind.NORMALISE_AUDIO))


def _normalise(server: Server, media_id: str) -> Job:
    """Runs the media's normalise-audio job here, as a worker would; returns its row afterwards."""
    job = server.runtime.jobs.claim([JobKind.NORMALISE_AUDIO])
    assert job is not None and job.media_id == media_id
    JobRunner(server.runtime).run(job)
    finished = _job(server, media_id)
    assert finished is not None
    return finished


def _audio(stream: str, pid: str) -> tuple[str, str]:
    """(folder, URL) of the one audio rendition the master playlist offers, the default."""
    (audio,) = [m for m in m3u8.loads(httpx.get(f"{stream}/{pid}.m3u8").text).media if m.type == "AUDIO"]
    assert audio.default == "YES"
    return audio.uri.split("/")[1], f"{stream}/{audio.uri}"


def _decode(url: str) -> tuple[int, int, int]:
    """(samples decoded, sample rate, timestamp gaps) of an HLS audio playlist, as ffmpeg's decoder sees it."""
    with av.open(url) as container:
        stream = container.streams.audio[0]
        samples, gaps, expected = 0, 0, None
        for frame in container.decode(stream):
            pts = round(frame.pts * stream.time_base * stream.rate)
            gaps += expected is not None and abs(pts - expected) > 1
            expected = pts + frame.samples
            samples += frame.samples
        return samples, stream.rate, gaps


def _integrated_lufs(url: str) -> float:
    """What the measuring pass says of an HLS audio playlist served at `url`."""
    args = ["-i", url, *loudness.measure_command(Path("unused"))[2:]]
    return loudness.parse_summary(run_ffmpeg(args, timeout=60, loglevel="info")).integrated


def test_ready_with_the_source_audio_then_the_normalised_rendition_replaces_it(rig):
    server, fp, api, folder = rig
    media = _upload(fp, api, folder / "clip.mp4")
    stream, pid = f"{server.url}/stream", media["playbackIds"][0]["id"]

    # Ready and playing with the source's own (copied) audio, the normalisation still queued behind it.
    job = _job(server, media["id"])
    assert job is not None and job.status == JobStatus.QUEUED
    before = httpx.get(f"{stream}/{pid}.m3u8").text
    name, original = _audio(stream, pid)
    assert name == hls.AUDIO_FOLDER
    old_playlist = m3u8.loads(httpx.get(original).text)  # a player that started now
    original_lufs = _integrated_lufs(original)

    assert _normalise(server, media["id"]).status == JobStatus.DONE

    after = httpx.get(f"{stream}/{pid}.m3u8").text
    name, normalised = _audio(stream, pid)
    assert name == hls.NORMALISED_AUDIO_FOLDER and f"/{hls.AUDIO_FOLDER}/" not in after
    assert after.count("#EXT-X-STREAM-INF") == before.count("#EXT-X-STREAM-INF")
    new_playlist = m3u8.loads(httpx.get(normalised).text)
    assert [round(s.duration, 3) for s in new_playlist.segments] == [round(s.duration, 3) for s in old_playlist.segments]

    # The player that loaded the original keeps getting every one of its files.
    assert httpx.get(original).status_code == 200
    for uri in [old_playlist.segment_map[0].uri, *(s.uri for s in old_playlist.segments)]:
        assert httpx.get(f"{stream}/{pid}/{hls.AUDIO_FOLDER}/{uri}").status_code == 200

    # Continuous, as long as the original, and at the optimizeAudio loudness.
    samples, rate, gaps = _decode(normalised)
    assert gaps == 0 and (samples, rate) == _decode(original)[:2]
    assert original_lufs < loudness.TARGET_LUFS - 6
    assert _integrated_lufs(normalised) == pytest.approx(loudness.TARGET_LUFS, abs=1.0)

    # Running it again changes nothing.
    with server.runtime.db.write() as session:
        session.get(Job, job.id).status = JobStatus.QUEUED
    assert _normalise(server, media["id"]).status == JobStatus.DONE
    assert httpx.get(f"{stream}/{pid}.m3u8").text == after


def test_audio_only_mp3_plays_as_plain_aac_first_then_normalised(rig):
    server, fp, api, folder = rig
    media = _upload(fp, api, folder / "tone.mp3")
    stream, pid = f"{server.url}/stream", media["playbackIds"][0]["id"]
    master = m3u8.loads(httpx.get(f"{stream}/{pid}.m3u8").text)
    assert [p.uri.split("/")[1] for p in master.playlists] == [hls.AUDIO_FOLDER]
    original = f"{stream}/{master.playlists[0].uri}"

    assert _normalise(server, media["id"]).status == JobStatus.DONE

    master = m3u8.loads(httpx.get(f"{stream}/{pid}.m3u8").text)
    assert [p.uri.split("/")[1] for p in master.playlists] == [hls.NORMALISED_AUDIO_FOLDER]
    samples, rate, gaps = _decode(f"{stream}/{master.playlists[0].uri}")
    assert gaps == 0 and (samples, rate) == _decode(original)[:2]
    assert httpx.get(original).status_code == 200


def test_a_failed_normalisation_leaves_the_media_ready_with_its_source_audio(rig):
    server, fp, api, folder = rig
    media = _upload(fp, api, folder / "clip.mp4")
    stream, pid = f"{server.url}/stream", media["playbackIds"][0]["id"]
    server.runtime.storage.write(original_key(media["id"]), [b"not media any more"])

    job = _normalise(server, media["id"])

    assert job.status == JobStatus.FAILED and job.error
    assert api.get(f"/on-demand/{media['id']}").json()["data"]["status"] == "Ready"
    name, audio = _audio(stream, pid)
    assert name == hls.AUDIO_FOLDER and _decode(audio)[2] == 0


def test_a_source_without_audio_owes_no_normalisation(rig):
    server, fp, api, folder = rig
    media = _upload(fp, api, folder / "silent.mp4")

    assert _job(server, media["id"]) is None
    assert "TYPE=AUDIO" not in httpx.get(f"{server.url}/stream/{media['playbackIds'][0]['id']}.m3u8").text
