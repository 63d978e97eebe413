"""Create-time transforms through the official SDK: intro and outro, expunged ranges, spliced segments, a
watermark, swapped and imposed audio, and subtitle inputs on direct uploads; each checked by decoding the
original it built and by its `video.media.<transform>.ready` event, and every bad input refused or failed with a
reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from fastpix_python import Fastpix

from reelhouse.media.ffmpeg import run_ffmpeg
from tests.api_helpers import invalid_fields
from tests.conftest import Server, wait_for
from tests.test_clips import events_of, original
from tests.test_webhooks import Receiver

W, H, FPS = 160, 120, 25


def lavfi(path: Path, *sources: str, codecs: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast",
                                                                   "-pix_fmt", "yuv420p")) -> None:
    args = ["-y"]
    for source in sources:
        args += ["-f", "lavfi", "-i", source]
    run_ffmpeg([*args, *codecs, "-shortest", str(path)], timeout=60)


@pytest.fixture(scope="module")
def media_files(clips: Path) -> str:
    """Tiny inputs beside the file server's clips: a black main video with a 440 Hz tone, a red intro of another
    size and rate with no audio, a blue outro in mono, a white PNG and a 1 kHz tone."""
    folder = clips / "transforms"
    folder.mkdir(exist_ok=True)
    lavfi(folder / "main.mp4", f"color=c=black:size={W}x{H}:rate={FPS}:duration=2",
          "sine=frequency=440:sample_rate=48000:duration=2",
          codecs=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"))
    lavfi(folder / "intro.mp4", "color=c=red:size=96x64:rate=15:duration=1")
    lavfi(folder / "outro.mp4", "color=c=blue:size=160x90:rate=30:duration=1",
          "sine=frequency=440:sample_rate=44100:duration=1",
          codecs=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1"))
    lavfi(folder / "mark.png", "color=c=white:size=32x32:duration=0.04", codecs=("-frames:v", "1"))
    lavfi(folder / "khz.m4a", "sine=frequency=1000:sample_rate=48000:duration=2", codecs=("-c:a", "aac"))
    (folder / "notes.txt").write_text("not a video")
    return "transforms"


@pytest.fixture
def hooked(api: httpx.Client) -> Iterator[httpx.Client]:
    """A workspace with a webhook endpoint, so its events are recorded."""
    receiver = Receiver()
    assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201
    yield api
    receiver.stop()


def settled(api: httpx.Client, media_id: str) -> dict:
    return wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"), timeout=90)


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio(path: Path) -> tuple[np.ndarray, int]:
    """The first channel's samples and the sample rate."""
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].rate
        chunks = [f.to_ndarray()[0] for f in container.decode(audio=0)]
    return np.concatenate(chunks), rate


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def colour(frame: np.ndarray) -> str:
    """The colour at the frame's centre, by its dominant channel (or black/white)."""
    r, g, b = frame[H // 2, W // 2].astype(int)
    if max(r, g, b) < 40:
        return "black"
    if min(r, g, b) > 200:
        return "white"
    return "rgb"[int(np.argmax([r, g, b]))]


def test_intro_and_outro_join_around_the_main_video_normalised(fp: Fastpix, hooked: httpx.Client, server: Server,
                                                                file_server: str, media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    created = fp.input_video.create_media(inputs=[{
        "type": "video", "url": f"{base}/main.mp4", "intro_url": f"{base}/intro.mp4", "outro_url": f"{base}/outro.mp4",
    }], access_policy="public").data
    media = settled(hooked, created.id)
    assert media["status"] == "Ready", media
    decoded = frames(original(server, created.id))
    assert len(decoded) == 4 * FPS  # 1 s intro + 2 s main + 1 s outro, all at the main video's 25 fps
    assert decoded[0].shape == (H, W, 3)  # the 96x64 intro scaled (and padded) to 160x120
    assert [colour(f) for f in (decoded[0], decoded[24], decoded[25], decoded[74], decoded[75], decoded[-1])] == [
        "r", "r", "black", "black", "b", "b"]
    samples, rate = audio(original(server, created.id))
    assert len(samples) / rate == pytest.approx(4.0, abs=0.05)  # silence under the silent intro keeps the sync
    assert np.abs(samples[: rate // 2]).max() < 0.01 and np.abs(samples[rate * 2: rate * 5 // 2]).max() > 0.1
    assert float(media["duration"]) == pytest.approx(4.0, abs=0.1)
    events = events_of(server, created.id)
    assert {"video.media.intro.ready", "video.media.outro.ready", "video.media.ready"} <= set(events)


def test_expunged_ranges_are_cut_and_segments_spliced_in(fp: Fastpix, hooked: httpx.Client, server: Server,
                                                          file_server: str, media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    created = fp.input_video.create_media(inputs=[{
        "type": "video", "url": f"{base}/main.mp4", "expunge_segments": ["1-2"],
        "segments": [{"url": f"{base}/intro.mp4", "insert_at": 0}, {"url": f"{base}/outro.mp4", "insert_at_end": True}],
    }], access_policy="public").data
    assert settled(hooked, created.id)["status"] == "Ready"
    decoded = frames(original(server, created.id))
    assert len(decoded) == 3 * FPS  # red 1 s, then the main's first second (1-2 cut), then blue 1 s
    assert [colour(decoded[n]) for n in (0, 24, 25, 49, 50, 74)] == ["r", "r", "black", "black", "b", "b"]
    assert {"video.media.expungeSegments.ready", "video.media.splicing.ready"} <= set(events_of(server, created.id))


def test_watermark_sits_in_the_corner_asked_for(fp: Fastpix, hooked: httpx.Client, server: Server,
                                                 file_server: str, media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    created = fp.input_video.create_media(inputs=[
        {"type": "video", "url": f"{base}/main.mp4"},
        {"type": "watermark", "url": f"{base}/mark.png", "width": "25%", "opacity": "100%",
         "placement": {"x_align": "right", "x_margin": "5%", "y_align": "top", "y_margin": "10%"}},
    ], access_policy="public").data
    assert settled(hooked, created.id)["status"] == "Ready"
    frame = frames(original(server, created.id))[FPS]
    # 25 % of 160 = 40 px wide (and high: the image is square), 8 px from the right and 12 px from the top
    assert frame[14:50, 114:150].min() > 200
    assert frame[:10].max() < 40 and frame[:, :110].max() < 40 and frame[54:].max() < 40
    assert "video.media.watermark.ready" in events_of(server, created.id)


def test_swapped_and_imposed_audio(fp: Fastpix, hooked: httpx.Client, server: Server, file_server: str,
                                   media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    swapped = fp.input_video.create_media(inputs=[
        {"type": "video", "url": f"{base}/main.mp4"}, {"type": "audio", "swap_track_url": f"{base}/khz.m4a"},
    ], access_policy="public").data
    imposed = fp.input_video.create_media(inputs=[
        {"type": "video", "url": f"{base}/main.mp4"},
        {"type": "audio", "impose_tracks": [{"url": f"{base}/khz.m4a", "start_time": 1, "end_time": 2,
                                             "fade_in_level": 0, "fade_out_level": 0}]},
    ], access_policy="public").data
    assert settled(hooked, swapped.id)["status"] == "Ready"
    samples, rate = audio(original(server, swapped.id))
    assert peak_hz(samples, rate) == pytest.approx(1000, abs=5)  # the main video's 440 Hz is gone
    assert "video.media.audioSwap.ready" in events_of(server, swapped.id)

    assert settled(hooked, imposed.id)["status"] == "Ready"
    samples, rate = audio(original(server, imposed.id))
    first, second = samples[: rate], samples[rate + rate // 10: rate * 2 - rate // 10]
    assert peak_hz(first, rate) == pytest.approx(440, abs=5)
    spectrum = np.abs(np.fft.rfft(second))
    freqs = np.fft.rfftfreq(len(second), 1 / rate)
    assert spectrum[np.abs(freqs - 1000) < 5].max() > spectrum.max() / 3  # the tone mixed over the second second
    assert spectrum[np.abs(freqs - 440) < 5].max() > spectrum.max() / 3  # on top of the video's own sound
    assert "video.media.imposeTracks.ready" in events_of(server, imposed.id)


def test_bad_transforms_are_refused_or_fail_with_the_reason(api: httpx.Client, file_server: str,
                                                             media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    overlapping = api.post("/on-demand", json={"accessPolicy": "public", "inputs": [
        {"type": "video", "url": f"{base}/main.mp4", "expungeSegments": ["0-1", "0.5-1.5"]}]})
    assert invalid_fields(overlapping) == ["inputs.0.expungeSegments"]
    assert "overlap" in overlapping.json()["error"]["fields"][0]["message"]
    bad_opacity = api.post("/on-demand", json={"accessPolicy": "public", "inputs": [
        {"type": "video", "url": f"{base}/main.mp4"}, {"type": "watermark", "url": f"{base}/mark.png",
                                                      "opacity": "half"}]})
    assert invalid_fields(bad_opacity) == ["inputs.1.opacity"]

    def failed(*inputs: dict) -> str:
        response = api.post("/on-demand", json={"accessPolicy": "public", "inputs": [
            {"type": "video", "url": f"{base}/main.mp4"} | inputs[0], *inputs[1:]]})
        assert response.status_code == 201, response.text
        media = settled(api, response.json()["data"]["id"])
        assert media["status"] == "Failed", media
        return media["error"]

    assert failed({}, {"type": "watermark", "url": f"{base}/main.mp4"}).startswith(
        "watermark url: the file is not an image")
    assert failed({"introUrl": f"{base}/notes.txt"}).startswith("introUrl: ")
    assert failed({"expungeSegments": ["1-5"]}) == "expungeSegments 1-5 goes past the end of the video (2.00 s)"
    assert failed({"segments": [{"url": f"{base}/intro.mp4", "insertAt": 9}]}).startswith("segments insertAt 9 is past")


def test_subtitle_and_watermark_inputs_on_a_direct_upload(fp: Fastpix, api: httpx.Client, server: Server,
                                                           clips: Path, file_server: str, media_files: str) -> None:
    base = f"{file_server}/{media_files}"
    (clips / media_files / "captions.srt").write_text("1\n00:00:00,000 --> 00:00:01,500\nHello there\n")
    request = {"cors_origin": "*", "push_media_settings": {"access_policy": "public", "inputs": [
        {"type": "watermark", "url": f"{base}/mark.png", "placement": {"x_align": "left", "y_align": "top"}},
        {"type": "subtitle", "url": f"{base}/captions.srt", "language_code": "en-US", "language_name": "English"},
    ]}}
    upload = fp.input_video.direct_upload_video_media(request=request).data
    main = clips / media_files / "main.mp4"
    assert httpx.put(upload.url, content=main.read_bytes(), timeout=30).status_code in (200, 201)
    media_id = fp.manage_videos.get_media(media_id=upload.upload_id).data.id
    media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed") and all(
        t.get("status") != "preparing" for t in m["tracks"]), timeout=90)
    assert media["status"] == "Ready", media
    frame = frames(original(server, media_id))[0]
    assert frame[:30, :30].min() > 200 and frame[40:].max() < 40  # the 32x32 image at its own size, top left
    subtitle = next(t for t in media["tracks"] if t["type"] == "subtitle")
    assert (subtitle["languageCode"], subtitle["status"]) == ("en-US", "available")
    playback = media["playbackIds"][0]["id"]
    assert "TYPE=SUBTITLES" in httpx.get(f"{server.url}/stream/{playback}.m3u8").text
