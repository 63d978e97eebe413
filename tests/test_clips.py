"""Clips and trims through the official SDK: `startTime`/`endTime` on a URL, on a direct upload and on a clip of
an existing media (`fp_mediaId://`), each checked by decoding what was made; clip listings, their webhook events,
clips outliving their source, and every bad span refused or failed with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from fastpix_python import Fastpix, errors
from sqlalchemy import select

from reelhouse.db.models import WebhookEvent
from reelhouse.settings import Settings
from tests.api_helpers import create_media, invalid_fields
from tests.clips import make_clip
from tests.conftest import Server, make_token, wait_for
from tests.test_webhooks import Receiver

FPS = 25


@pytest.fixture(scope="module")
def long_clip(clips: Path) -> str:
    """Four seconds at 25 fps with a keyframe every 10 frames, beside the files the file server serves."""
    make_clip(clips / "four.mp4", seconds=4, gop=10)
    return "four.mp4"


@pytest.fixture
def api(api: httpx.Client) -> Iterator[httpx.Client]:
    """The API of a workspace with a webhook endpoint, so its events are recorded and delivered."""
    receiver = Receiver()
    assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201
    yield api
    receiver.stop()


def decoded(path: Path) -> tuple[int, float, float]:
    """(video frames, video seconds, audio seconds), counted by decoding every frame."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        samples = sum(f.samples for f in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    return frames, frames / FPS, samples / rate


def original(server: Server, media_id: str) -> Path:
    return server.settings.data_dir / "objects" / "media" / media_id / "original"


def ready(api: httpx.Client, media_id: str) -> dict:
    media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))
    assert media["status"] == "Ready", media
    return media


def events_of(server: Server, media_id: str) -> dict[str, dict]:
    """The webhook events about the media, by type (in emission order), with the media each carries."""
    with server.runtime.db.read() as session:
        rows = session.scalars(select(WebhookEvent).where(WebhookEvent.object_id == media_id)
                               .order_by(WebhookEvent.seq))
        return {row.type: row.data for row in rows}


def test_trim_of_a_url_is_exactly_the_span(fp: Fastpix, api: httpx.Client, server: Server, file_server: str,
                                           long_clip: str) -> None:
    created = fp.input_video.create_media(
        inputs=[{"type": "video", "url": f"{file_server}/{long_clip}", "start_time": 1.0, "end_time": 3.4}],
        access_policy="public",
    ).data
    media = ready(api, created.id)

    frames, video_seconds, audio_seconds = decoded(original(server, created.id))
    assert frames == 60  # 2.4 s at 25 fps, from a cut that is not on a keyframe (1.0 s = frame 25)
    assert audio_seconds == pytest.approx(2.4, abs=0.03)
    assert float(media["duration"]) == pytest.approx(2.4, abs=0.05)
    assert "sourceMediaId" not in media  # a trim of a URL is no clip of a media
    assert list(events_of(server, created.id))[:2] == ["video.media.created", "video.media.ready"]


def test_clip_of_a_media_lists_plays_and_outlives_its_source(fp: Fastpix, api: httpx.Client, server: Server,
                                                             file_server: str, long_clip: str) -> None:
    source = create_media(api, f"{file_server}/{long_clip}")["id"]
    ready(api, source)

    clip = fp.input_video.create_media(
        inputs=[{"type": "video", "url": f"fp_mediaId://{source}", "start_time": 0.4, "end_time": 2.0}],
        access_policy="public",
    ).data
    whole = fp.input_video.create_media(inputs=[{"type": "video", "url": f"fp_mediaId://{source}"}],
                                        access_policy="public").data
    ready(api, clip.id)
    ready(api, whole.id)

    assert decoded(original(server, clip.id))[0] == 40  # 1.6 s
    assert decoded(original(server, whole.id))[0] == 100  # no span: all of it, copied as it is
    got = fp.manage_videos.get_media(media_id=clip.id).data
    assert got.source_media_id == source and got.duration == pytest.approx(1.6, abs=0.05)
    assert fp.manage_videos.retrieve_media_input_info(media_id=clip.id).data.configuration.url == \
        f"fp_mediaId://{source}"
    events = events_of(server, clip.id)
    assert list(events)[:2] == ["video.media.created", "video.media.ready"]
    assert events["video.media.ready"]["sourceMediaId"] == source

    listed = fp.manage_videos.get_media_clips(source_media_id=source, limit=1, offset=1, order_by="asc")
    assert [c.id for c in listed.data] == [clip.id]
    assert listed.data[0].source_media_id == source and listed.data[0].status == "Ready"
    assert (listed.pagination.total_records, listed.pagination.offset_count) == (2, 2)
    second = fp.manage_videos.get_media_clips(source_media_id=source, limit=1, offset=2, order_by="asc")
    assert [c.id for c in second.data] == [whole.id]
    unclipped = api.get(f"/on-demand/{clip.id}/media-clips").json()  # a media nothing was cut from: an empty page
    assert (unclipped["data"], unclipped["pagination"]["totalRecords"]) == ([], 0)
    unknown = api.get("/on-demand/8f14e45f-ceea-467a-9575-4d5b1c0a7d11/media-clips")
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "Media clip not found"

    fp.manage_videos.delete_media(media_id=source)
    after = fp.manage_videos.get_media(media_id=clip.id).data
    assert after.status == "Ready"
    playback = after.playback_ids[0].id
    master = httpx.get(f"{server.url}/stream/{playback}.m3u8")
    assert master.status_code == 200 and "#EXT-X-STREAM-INF" in master.text
    assert {c.id for c in fp.manage_videos.get_media_clips(source_media_id=source).data} == {clip.id, whole.id}


def test_trim_of_a_direct_upload(fp: Fastpix, api: httpx.Client, server: Server, clips: Path,
                                 long_clip: str) -> None:
    request = {"cors_origin": "*", "push_media_settings": {"access_policy": "public", "start_time": 2.0}}
    upload = fp.input_video.direct_upload_video_media(request=request).data
    assert httpx.put(upload.url, content=(clips / long_clip).read_bytes(), timeout=30).status_code in (200, 201)

    media_id = fp.manage_videos.get_media(media_id=upload.upload_id).data.id
    media = ready(api, media_id)

    assert decoded(original(server, media_id))[0] == 50  # from 2 s to the end
    assert float(media["duration"]) == pytest.approx(2.0, abs=0.05)
    assert not (server.settings.data_dir / "objects" / "media" / media_id / "input").exists()  # the uncut input goes


def test_bad_spans_and_sources(fp: Fastpix, api: httpx.Client, server: Server, settings: Settings,
                               file_server: str, long_clip: str) -> None:
    url = f"{file_server}/{long_clip}"
    source = create_media(api, url)["id"]

    def create(item: dict) -> httpx.Response:
        return api.post("/on-demand", json={"inputs": [{"type": "video", **item}], "accessPolicy": "public"})

    assert invalid_fields(create({"url": url, "startTime": 3, "endTime": 2})) == ["inputs.0.endTime"]
    assert invalid_fields(create({"url": url, "startTime": 3, "endTime": 3})) == ["inputs.0.endTime"]
    assert invalid_fields(create({"url": url, "startTime": -1})) == ["inputs.0.startTime"]
    assert invalid_fields(create({"url": "fp_mediaId://nope"})) == ["inputs.0.url"]
    with pytest.raises(errors.ValidationErrorResponse):  # the SDK's error for it
        fp.input_video.create_media(inputs=[{"type": "video", "url": url, "start_time": 2, "end_time": 1}],
                                    access_policy="public")

    ready(api, source)
    assert invalid_fields(create({"url": f"fp_mediaId://{source}", "startTime": 5})) == ["inputs.0.startTime"]
    response = create({"url": f"fp_mediaId://{source}", "startTime": 1, "endTime": 9})
    assert invalid_fields(response) == ["inputs.0.endTime"]
    assert "past the end of the input (4.00 s)" in response.json()["error"]["fields"][0]["message"]

    not_ready = create_media(api, url)["id"]  # just created: not Ready yet
    response = create({"url": f"fp_mediaId://{not_ready}"})
    assert invalid_fields(response) == ["inputs.0.url"] and "not Ready" in response.json()["error"]["fields"][0][
        "message"]

    other_id, other_secret = make_token(settings, workspace="Other")
    with httpx.Client(base_url=f"{server.url}/v1", auth=(other_id, other_secret)) as other:
        response = other.post("/on-demand", json={"inputs": [{"type": "video", "url": f"fp_mediaId://{source}"}],
                                                  "accessPolicy": "public"})
        assert invalid_fields(response) == ["inputs.0.url"]

    past_the_end = create_media(api, url, inputs=[{"type": "video", "url": url, "startTime": 6}])["id"]
    failed = wait_for(api, past_the_end, lambda m: m["status"] in ("Ready", "Failed"))
    assert failed["status"] == "Failed"
    assert failed["error"] == "startTime 6 s is not before the end of the input (4.00 s)"
    assert "video.media.failed" in events_of(server, past_the_end)

    upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {
        "accessPolicy": "public", "startTime": 2, "endTime": 1}})
    assert invalid_fields(upload) == ["pushMediaSettings.endTime"]
