"""The official fastpix-python 1.2.0 client against a real reelhouse server (spec 2.2): the wire-compatibility proof.

A `ResponseValidationError` here means a response the real client cannot parse: fix the server, not the test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastpix_python import Fastpix, errors

from tests.conftest import Server, sdk_client, settled, wait_for


def test_pull_media_lifecycle(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    url = f"{file_server}/clip.mp4"
    created = fp.input_video.create_media(
        inputs=[{"type": "video", "url": url}], access_policy="public", metadata={"key1": "value1"}
    )
    assert created.success is True
    media_id = created.data.id
    assert created.data.status == "Created"
    assert created.data.max_resolution == "1080p"
    assert created.data.playback_ids[0].access_policy == "public"
    wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))

    media = fp.manage_videos.get_media(media_id=media_id).data
    assert media.id == media_id
    assert media.status == "Ready"
    assert media.playback_ids[0].id == created.data.playback_ids[0].id
    assert media.duration == pytest.approx(2.0)
    assert media.is_audio_only is False
    assert media.metadata == {"key1": "value1"}
    assert {t.type for t in media.tracks} == {"video", "audio"}

    listed = fp.manage_videos.list_media(limit=10, offset=1, order_by="desc")
    assert [m.id for m in listed.data] == [media_id]
    assert listed.pagination.total_records == 1

    updated = fp.manage_videos.updated_media(media_id=media_id, metadata={"user": "fastpix_admin"})
    assert updated.data.metadata == {"user": "fastpix_admin"}

    info = fp.manage_videos.retrieve_media_input_info(media_id=media_id).data
    assert info.configuration.url == url
    assert info.file.container_format == "mp4"

    assert fp.manage_videos.delete_media(media_id=media_id).success is True
    with pytest.raises(errors.MediaNotFoundError):
        fp.manage_videos.get_media(media_id=media_id)


def test_direct_upload_lifecycle(fp: Fastpix, api: httpx.Client, clips: Path) -> None:
    request = {"cors_origin": "*", "push_media_settings": {"access_policy": "public", "metadata": {"k": "v"}}}
    upload = fp.input_video.direct_upload_video_media(request=request).data
    spare = fp.input_video.direct_upload_video_media(request=request).data
    assert upload.status == "waiting"
    assert upload.url.startswith("http")

    pending = fp.manage_videos.list_uploads(limit=10, offset=1, order_by="desc")
    assert {u.upload_id for u in pending.data} == {upload.upload_id, spare.upload_id}

    put = httpx.put(upload.url, content=(clips / "clip.mp4").read_bytes(), timeout=30)
    assert put.status_code in (200, 201), put.text

    by_upload = fp.manage_videos.get_media(media_id=upload.upload_id).data
    media = wait_for(api, by_upload.id, settled)
    assert media["status"] != "Failed", media
    assert fp.manage_videos.get_media(media_id=by_upload.id).data.metadata == {"k": "v"}

    cancelled = fp.manage_videos.cancel_upload(upload_id=spare.upload_id).data
    assert cancelled.upload_id == spare.upload_id
    assert cancelled.status == "cancelled"

    info = fp.manage_videos.retrieve_media_input_info(media_id=by_upload.id).data
    assert info.file.container_format == "mp4"
    assert fp.manage_videos.delete_media(media_id=upload.upload_id).success is True


def test_wrong_credentials_raise_invalid_permission(server: Server, credentials: tuple[str, str]) -> None:
    with sdk_client(server, credentials[0], "wrong-secret") as sdk, pytest.raises(errors.InvalidPermissionError) as caught:
        sdk.manage_videos.list_media()

    assert caught.value.status_code == 401


def test_unknown_media_raises_media_not_found(fp: Fastpix) -> None:
    with pytest.raises(errors.MediaNotFoundError) as caught:
        fp.manage_videos.get_media(media_id=str(uuid.uuid4()))

    assert caught.value.data.error.message == "Media not found"
    assert caught.value.data.error.code == 404


def test_invalid_id_raises_validation_error(fp: Fastpix) -> None:
    with pytest.raises(errors.ValidationErrorResponse) as caught:
        fp.manage_videos.get_media(media_id="not-a-uuid")

    assert not isinstance(caught.value, errors.FastpixError)
    assert caught.value.fields == [{"field": "mediaId", "message": "is invalid"}]


def test_bad_payload_raises_validation_error(fp: Fastpix, file_server: str) -> None:
    with pytest.raises(errors.ValidationErrorResponse) as caught:
        fp.input_video.create_media(
            inputs=[{"type": "video", "url": f"{file_server}/clip.mp4"}],
            access_policy="public",
            metadata={f"k{i}": "v" for i in range(11)},
        )

    assert [f["field"] for f in caught.value.fields] == ["metadata"]


def test_refused_pull_url_raises_bad_request(fp: Fastpix) -> None:
    with pytest.raises(errors.BadRequestError) as caught:
        fp.input_video.create_media(inputs=[{"type": "video", "url": "http://10.0.0.1/x.mp4"}], access_policy="public")

    assert caught.value.data.error.message == "Invalid input URL"


def test_list_parses_media_in_every_outcome(fp: Fastpix, api: httpx.Client, file_server: str) -> None:
    """Failed, audio-only and video media side by side: each shape must validate in the client's models."""
    names = ["garbage.mp4", "tone.m4a", "silent.mp4"]
    ids = [fp.input_video.create_media(inputs=[{"type": "video", "url": f"{file_server}/{n}"}], access_policy="private")
           .data.id for n in names]
    for media_id in ids:
        wait_for(api, media_id, settled)

    listed = fp.manage_videos.list_media(limit=50, offset=1, order_by="asc")

    assert [m.id for m in listed.data] == ids
    failed, audio, silent = listed.data
    assert failed.status == "Failed" and failed.duration is None
    assert audio.is_audio_only is True and [t.type for t in audio.tracks] == ["audio"]
    assert silent.is_audio_only is False and [t.type for t in silent.tracks] == ["video"]
    assert all(m.playback_ids[0].access_policy == "private" for m in listed.data)
    assert listed.pagination.offset_count == 1


def test_upload_errors(fp: Fastpix, clips: Path) -> None:
    request = {"cors_origin": "*", "push_media_settings": {"access_policy": "public"}}
    upload = fp.input_video.direct_upload_video_media(request=request).data
    with pytest.raises(errors.MediaNotFoundError):
        fp.manage_videos.get_media(media_id=upload.upload_id)  # no media until the file is in

    assert httpx.put(upload.url, content=(clips / "silent.mp4").read_bytes(), timeout=30).status_code in (200, 201)

    with pytest.raises(errors.BadRequestError):
        fp.manage_videos.cancel_upload(upload_id=upload.upload_id)
    with pytest.raises(errors.MediaNotFoundError):
        fp.manage_videos.cancel_upload(upload_id=str(uuid.uuid4()))
