"""Routes and values FastPix clients rely on, through the official SDK: clip listings, live clips and DRM
configuration routes that the `{mediaId}` routes must not swallow, `sourceResolution`/`maxResolution` as the SDK
models read them, and ids in either case."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastpix_python import Fastpix, errors

from reelhouse.settings import Settings
from tests.api_helpers import create_media, error_of, invalid_fields
from tests.clips import make_clip
from tests.conftest import sdk_client, settled, start_server, wait_for

LIVE_STREAM_ID = "b6f71268143f70c798a7851a0a92dcbf"


@pytest.fixture(scope="module")
def wide(clips: Path) -> str:
    """A 640x360 clip beside the others the file server serves."""
    make_clip(clips / "wide360.mp4", seconds=1, width=640, height=360)
    return "wide360.mp4"


def test_media_clips_of_a_media_without_clips_is_an_empty_page(fp: Fastpix, api: httpx.Client,
                                                                file_server: str) -> None:
    media_id = create_media(api, f"{file_server}/clip.mp4")["id"]

    clips = fp.manage_videos.get_media_clips(source_media_id=media_id, offset=1, limit=10)

    assert clips.success is True and clips.data == []
    assert (clips.pagination.total_records, clips.pagination.current_offset, clips.pagination.offset_count) == (0, 1, 0)
    with pytest.raises(errors.MediaClipNotFoundError):
        fp.manage_videos.get_media_clips(source_media_id="4fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert invalid_fields(api.get("/on-demand/nope/media-clips")) == ["sourceMediaId"]


def test_live_clips_are_an_empty_page(fp: Fastpix, api: httpx.Client) -> None:
    clips = fp.manage_videos.list_live_clips(livestream_id=LIVE_STREAM_ID)

    assert clips.success is True and clips.data == [] and clips.pagination.total_records == 0
    assert invalid_fields(api.get("/on-demand/not-a-stream/live-clips")) == ["livestreamId"]
    assert api.get(f"/on-demand/{LIVE_STREAM_ID}/live-clips", auth=("x", "y")).status_code == 401


def test_drm_configuration_routes(fp: Fastpix, api: httpx.Client) -> None:
    listed = fp.drm_configurations.get_drm_configuration(offset=1, limit=10)
    assert listed.success is True and listed.data == [] and listed.pagination.total_records == 0

    with pytest.raises(errors.BadRequestError) as raised:
        fp.drm_configurations.get_drm_configuration_by_id(drm_configuration_id="4fa85f64-5717-4562-b3fc-2c963f66afa6")
    assert str(raised.value) == "DRM ID does not exist"
    assert invalid_fields(api.get("/on-demand/drm-configurations/nope")) == ["drmConfigurationId"]
    assert api.get("/on-demand/drm-configurations", auth=("x", "y")).status_code == 401
    # DRM playback itself stays refused, clearly
    response = api.post("/on-demand", json={"inputs": [{"type": "video", "url": "http://127.0.0.1/x.mp4"}],
                                            "accessPolicy": "drm"})
    assert error_of(response, 400)["message"] == "Unsupported option"


def test_resolutions_as_asked_and_as_probed(fp: Fastpix, api: httpx.Client, file_server: str, wide: str) -> None:
    created = fp.input_video.create_media(inputs=[{"type": "video", "url": f"{file_server}/{wide}"}],
                                          access_policy="public", max_resolution="1080p").data
    assert created.max_resolution == "1080p"
    wait_for(api, created.id, lambda m: m["status"] in ("Ready", "Failed"))

    media = fp.manage_videos.get_media(media_id=created.id).data
    assert media.status == "Ready"
    assert media.max_resolution == "1080p"  # what the user asked for, as create said; not the 360p it plays at
    assert media.source_resolution == "360"  # what the source is


def test_unknown_source_resolution_is_null_not_the_sdk_default(fp: Fastpix, api: httpx.Client,
                                                                file_server: str) -> None:
    failed = create_media(api, f"{file_server}/garbage.mp4")["id"]
    raw = wait_for(api, failed, lambda m: m["status"] == "Failed")
    assert raw["sourceResolution"] is None

    assert fp.manage_videos.get_media(media_id=failed).data.source_resolution is None  # not the SDK's "1080p"
    assert all(m.source_resolution in (None, "240") for m in fp.manage_videos.list_media().data)


def test_source_resolution_before_probing(settings: Settings, credentials: tuple[str, str], file_server: str) -> None:
    server = start_server(settings, workers=False)  # nothing ingests: the media stays Created
    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials) as api, \
                sdk_client(server, *credentials) as fp:
            media_id = create_media(api, f"{file_server}/clip.mp4")["id"]
            raw = api.get(f"/on-demand/{media_id}").json()["data"]
            assert raw["status"] == "Created" and raw["sourceResolution"] is None
            assert fp.manage_videos.get_media(media_id=media_id).data.source_resolution is None
    finally:
        server.stop()


def test_ids_in_upper_case_name_the_same_objects(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    created = create_media(api, f"{file_server}/clip.mp4")
    media_id, playback_id = created["id"], created["playbackIds"][0]["id"]
    wait_for(api, media_id, settled)

    assert fp.manage_videos.get_media(media_id=media_id.upper()).data.id == media_id
    assert api.get(f"/on-demand/{media_id.upper()}/input-info").status_code == 200
    got = fp.playback.get_playback_id(media_id=media_id.upper(), playback_id=playback_id.upper()).data
    assert got.id == playback_id
    assert fp.manage_videos.get_media_clips(source_media_id=media_id.upper()).data == []
    assert fp.manage_videos.delete_media(media_id=media_id.upper()).success is True
    with pytest.raises(errors.MediaNotFoundError):
        fp.manage_videos.get_media(media_id=media_id)
