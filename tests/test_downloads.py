"""Thumbnails, MP4/M4A downloads (`mp4Support`) and source access: the ffmpeg command lines (pure) and real runs."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import av
import httpx
import pytest
from fastpix_python import Fastpix, errors
from sqlalchemy import select

from reelhouse.db.models import WebhookEvent
from reelhouse.media import mp4
from reelhouse.media.probe import StreamInfo, probe
from reelhouse.media.thumbnail import Layout, last_frame_command, layout, thumbnail_command
from tests.api_helpers import create_media, error_of
from tests.clips import make_clip
from tests.conftest import Server, wait_for

SOURCE = Path("/data/original")
DEST = Path("/scratch/out")


def stream(index: int, type: str, codec: str, *, width: int | None = None, height: int | None = None,
           rotation: int = 0, pix_fmt: str | None = "yuv420p", profile: str | None = "High",
           channels: int | None = None) -> StreamInfo:
    swap = rotation in (90, 270)
    return StreamInfo(index=index, type=type, codec=codec, profile=profile, bit_rate=None, language=None, width=width,
                      height=height, display_width=height if swap else width,
                      display_height=width if swap else height, frame_rate=25.0 if type == "video" else None,
                      pix_fmt=pix_fmt if type == "video" else None, bit_depth=8, rotation=rotation,
                      sample_rate=48000 if type == "audio" else None, channels=channels)


def aac(index: int = 1, channels: int = 2) -> StreamInfo:
    return stream(index, "audio", "aac", profile="LC", channels=channels)


# ---------------------------------------------------------------- thumbnail sizes and command lines (pure)


@pytest.mark.parametrize(
    ("width", "height", "fit", "size", "filter"),
    [
        (None, None, "preserve", (320, 240), "scale=320:240,setsar=1"),
        (160, None, "preserve", (160, 120), "scale=160:120,setsar=1"),
        (None, 60, "crop", (80, 60), "scale=80:60,setsar=1"),  # one side given: the aspect ratio decides
        (100, 100, "preserve", (100, 75), "scale=100:75,setsar=1"),
        (100, 100, "stretch", (100, 100), "scale=100:100,setsar=1"),
        (100, 100, "crop", (100, 100), "scale=133:100,crop=100:100,setsar=1"),
        (100, 100, "pad", (100, 100), "scale=100:75,pad=100:100:0:12:black,setsar=1"),
        (640, 100, "pad", (640, 100), "scale=133:100,pad=640:100:253:0:black,setsar=1"),
    ],
)
def test_thumbnail_layout_per_fit_mode(width, height, fit, size, filter):
    picture = layout((320, 240), width, height, fit)

    assert (picture.width, picture.height) == size
    assert picture.filter == filter


def test_thumbnail_of_a_huge_source_is_capped_and_a_derived_side_never_exceeds_the_limit():
    assert (layout((7680, 4320), None, None).width, layout((7680, 4320), None, None).height) == (3840, 2160)
    portrait = layout((1080, 1920), 3840, None)
    assert (portrait.width, portrait.height) == (2160, 3840)


@pytest.mark.parametrize(("fmt", "encoder"), [("jpg", "mjpeg"), ("png", "png"), ("webp", "libwebp")])
def test_thumbnail_command_seeks_before_the_input_and_writes_one_frame(fmt, encoder):
    picture = Layout(100, 75, "scale=100:75,setsar=1", "preserve")

    args = thumbnail_command(SOURCE, DEST, 12.5, picture, fmt)

    assert args[args.index("-ss") + 1] == "12.500"
    assert args.index("-ss") < args.index("-i")
    assert args[args.index("-frames:v") + 1] == "1"
    assert args[args.index("-vf") + 1] == picture.filter
    assert args[args.index("-c:v") + 1] == encoder
    assert args[args.index("-map") + 1] == "0:V:0"  # the picture, never cover art
    assert args[-1] == str(DEST)


def test_last_frame_command_reads_the_tail():
    args = last_frame_command(SOURCE, DEST, Layout(10, 10, "scale=10:10,setsar=1", "preserve"), "png")

    assert args.index("-sseof") < args.index("-i")
    assert "-frames:v" not in args and args[args.index("-update") + 1] == "1"


# ---------------------------------------------------------------- MP4/M4A command lines (pure)


def test_mp4_support_values_name_their_renditions():
    assert mp4.requested("audioOnly,capped_4k") == [mp4.CAPPED_4K, mp4.AUDIO_ONLY]
    assert mp4.requested("audioOnly") == [mp4.AUDIO_ONLY]
    assert mp4.requested(None) == mp4.requested("none") == []


def test_standard_h264_aac_is_copied_into_the_mp4():
    video = stream(0, "video", "h264", width=1920, height=1080)

    args = mp4.mp4_command(SOURCE, DEST, video, aac(), gain=None)

    assert args[args.index("-i") + 1] == str(SOURCE)
    assert args[args.index("-c:v") + 1] == "copy"
    assert args[args.index("-c:a") + 1] == "copy"
    assert args[args.index("-map"):args.index("-map") + 2] == ["-map", "0:0"]
    assert args[args.index("-movflags") + 1] == "+faststart"
    assert args[-3:] == ["-f", "mp4", str(DEST)]
    assert mp4.mp4_size(video) == (1920, 1080)


def test_rotated_copy_reports_its_displayed_size():
    assert mp4.mp4_size(stream(0, "video", "h264", width=1280, height=720, rotation=90)) == (720, 1280)


@pytest.mark.parametrize(
    ("video", "size"),
    [
        (stream(0, "video", "hevc", width=1920, height=1080, profile="Main"), (1920, 1080)),
        (stream(0, "video", "h264", width=1920, height=1080, pix_fmt="yuv420p10le", profile="High 10"), (1920, 1080)),
        (stream(0, "video", "h264", width=7680, height=4320), (3840, 2160)),
        (stream(0, "video", "vp9", width=4320, height=7680, profile=None), (2160, 3840)),
    ],
)
def test_other_video_is_encoded_with_x264_capped_at_2160p(video, size):
    args = mp4.mp4_command(SOURCE, DEST, video, stream(1, "audio", "opus", channels=6), gain=None)

    assert mp4.mp4_size(video) == size
    assert args[args.index("-c:v") + 1] == "libx264"
    assert args[args.index("-vf") + 1] == f"scale={size[0]}:{size[1]},setsar=1"
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-c:a") + 1] == "aac" and args[args.index("-ac") + 1] == "2"
    assert args[args.index("-movflags") + 1] == "+faststart"


def test_video_only_mp4_maps_no_audio():
    args = mp4.mp4_command(SOURCE, DEST, stream(0, "video", "h264", width=640, height=360), None, False)

    assert args.count("-map") == 1 and "-c:a" not in args


def test_m4a_copies_aac_and_encodes_anything_else():
    copied = mp4.m4a_command(SOURCE, DEST, aac(index=2), gain=None)
    encoded = mp4.m4a_command(SOURCE, DEST, stream(1, "audio", "mp3", channels=2), gain=None)
    normalised = mp4.m4a_command(SOURCE, DEST, aac(), gain=-4.5)

    assert copied[copied.index("-map") + 1] == "0:2" and copied[copied.index("-c:a") + 1] == "copy"
    assert encoded[encoded.index("-c:a") + 1] == "aac"
    assert normalised[normalised.index("-c:a") + 1] == "aac" and normalised[normalised.index("-af") + 1] == "volume=-4.50dB"
    assert copied[-3:] == ["-f", "ipod", str(DEST)] and "+faststart" in copied


# ---------------------------------------------------------------- a real server


def ready(api: httpx.Client, media_id: str) -> dict:
    media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))
    assert media["status"] == "Ready", media.get("error")
    return media


def downloads_settled(media: dict) -> bool:
    return all(entry["status"] != "preparing" for entry in media.get("mp4Support", []))


def picture(body: bytes) -> av.VideoFrame:
    with av.open(BytesIO(body)) as container:
        return next(container.decode(video=0))


def luma_row(frame: av.VideoFrame, y: int) -> bytes:
    plane = frame.reformat(format="gray").planes[0]
    return bytes(plane)[y * plane.line_size:y * plane.line_size + frame.width]


@pytest.fixture
def clip(api: httpx.Client, file_server: str) -> tuple[str, str]:
    """(media id, playback ID) of the pulled 320x240, 2 s clip once it is Ready."""
    created = create_media(api, f"{file_server}/clip.mp4")
    ready(api, created["id"])
    return created["id"], created["playbackIds"][0]["id"]


FORMATS = {"jpg": ("image/jpeg", "jpeg_pipe"), "png": ("image/png", "png_pipe"), "webp": ("image/webp", "webp_pipe")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_thumbnails_are_real_images_of_the_requested_size(server: Server, clip: tuple[str, str], fmt: str) -> None:
    media_id, playback_id = clip
    url = f"{server.url}/images/{playback_id}/thumbnail.{fmt}"
    cases = [
        ({}, (320, 240)),
        ({"width": 160}, (160, 120)),
        ({"height": 60}, (80, 60)),
        ({"width": 100, "height": 100}, (100, 75)),
        ({"width": 100, "height": 100, "fit_mode": "stretch"}, (100, 100)),
        ({"width": 100, "height": 100, "fit_mode": "crop"}, (100, 100)),
        ({"width": 100, "height": 100, "fit_mode": "pad", "time": 0}, (100, 100)),
        ({"time": 2, "width": 64}, (64, 48)),  # the very end: the last frame
    ]
    for params, size in cases:
        response = httpx.get(url, params=params, timeout=30)

        assert response.status_code == 200, (params, response.text)
        assert response.headers["content-type"] == FORMATS[fmt][0]
        assert response.headers["access-control-allow-origin"] == "*"
        assert "max-age" in response.headers["cache-control"]
        with av.open(BytesIO(response.content)) as container:
            assert container.format.name == FORMATS[fmt][1]
        frame = picture(response.content)
        assert (frame.width, frame.height) == size, params

    padded = picture(httpx.get(url, params={"width": 100, "height": 100, "fit_mode": "pad"}).content)
    assert max(luma_row(padded, 0)) < 40  # the band above the picture is black
    assert max(luma_row(padded, 50)) > 40


def test_a_thumbnail_is_rendered_once_and_then_read_from_storage(server: Server, clip: tuple[str, str]) -> None:
    media_id, playback_id = clip
    url = f"{server.url}/images/{playback_id}/thumbnail.png"

    first = httpx.get(url, params={"time": 1, "width": 50})
    stored = server.runtime.storage.list(f"media/{media_id}/thumbs")
    second = httpx.get(url, params={"time": "1.0", "width": "50"})

    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert stored == server.runtime.storage.list(f"media/{media_id}/thumbs")
    assert [key.rsplit("/", 1)[1] for key in stored] == ["1.000s-preserve-50x38.png"]


@pytest.mark.parametrize(
    "params",
    [{"time": "-1"}, {"time": "2.5"}, {"time": "abc"}, {"time": "nan"}, {"width": "0"}, {"width": "3841"},
     {"width": "1.5"}, {"height": "x"}, {"height": ""}, {"fit_mode": "zoom"}],
)
def test_bad_thumbnail_parameters_are_400(server: Server, clip: tuple[str, str], params: dict) -> None:
    response = httpx.get(f"{server.url}/images/{clip[1]}/thumbnail.jpg", params=params)

    error = error_of(response, 400)
    assert next(iter(params)) in error["description"]


@pytest.mark.parametrize(
    "path",
    [
        "/images/6f1c1a4e-2b0a-4f4e-9a57-1d1c0c1e5b11/thumbnail.jpg",
        "/images/not-a-playback-id/thumbnail.jpg",
        "/images/{pid}/thumbnail.gif",
        "/stream/6f1c1a4e-2b0a-4f4e-9a57-1d1c0c1e5b11/source",
        "/stream/{pid}/capped-4k.mp4",
        "/stream/{pid}/audio.m4a",
        "/stream/{pid}/source",
    ],
)
def test_unknown_ids_and_files_not_offered_are_404(server: Server, clip: tuple[str, str], path: str) -> None:
    error_of(httpx.get(server.url + path.format(pid=clip[1])), 404)


def test_mp4_and_m4a_downloads_from_create_to_none(
    server: Server, api: httpx.Client, fp: Fastpix, file_server: str
) -> None:
    created = create_media(api, f"{file_server}/clip.mp4", mp4Support="audioOnly,capped_4k")
    media_id, playback_id = created["id"], created["playbackIds"][0]["id"]

    preparing = api.get(f"/on-demand/{media_id}").json()["data"]["mp4Support"]
    assert preparing == [{"type": "capped_4k", "status": "preparing", "ext": "mp4"},
                         {"type": "audioOnly", "status": "preparing", "ext": "m4a"}]
    ready(api, media_id)
    media = wait_for(api, media_id, downloads_settled)
    assert media["mp4Support"] == [
        {"type": "capped_4k", "status": "ready", "width": 320, "height": 240, "ext": "mp4"},
        {"type": "audioOnly", "status": "ready", "ext": "m4a"},
    ]

    video = download(server, playback_id, "capped-4k.mp4", "video/mp4")
    assert {s.type for s in video.streams} == {"video", "audio"}
    assert (video.video.width, video.video.height) == (320, 240)
    assert video.duration == pytest.approx(2.0, abs=0.1)
    audio = download(server, playback_id, "audio.m4a", "audio/mp4")
    assert [s.type for s in audio.streams] == ["audio"] and audio.container_format == "m4a"
    assert audio.duration == pytest.approx(2.0, abs=0.1)
    ranged = httpx.get(f"{server.url}/stream/{playback_id}/capped-4k.mp4", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100

    with pytest.raises(errors.DuplicateMp4SupportError) as caught:
        fp.manage_videos.updated_mp4_support(media_id=media_id, mp4_support="audioOnly,capped_4k")
    assert caught.value.status_code == 400
    error_of(api.patch(f"/on-demand/{media_id}/update-mp4Support", json={"mp4Support": "audioOnly,capped_4k"}), 400)

    dropped = fp.manage_videos.updated_mp4_support(media_id=media_id, mp4_support="none").data
    assert dropped.mp4_support is None
    assert "mp4Support" not in api.get(f"/on-demand/{media_id}").json()["data"]
    for file in ("capped-4k.mp4", "audio.m4a"):
        error_of(httpx.get(f"{server.url}/stream/{playback_id}/{file}"), 404)
    assert server.runtime.storage.list(f"media/{media_id}/downloads") == []

    again = fp.manage_videos.updated_mp4_support(media_id=media_id, mp4_support="audioOnly").data
    assert [(e.type, e.status, e.ext) for e in again.mp4_support] == [("audioOnly", "preparing", "m4a")]
    assert wait_for(api, media_id, downloads_settled)["mp4Support"][0]["status"] == "ready"
    download(server, playback_id, "audio.m4a", "audio/mp4")
    error_of(httpx.get(f"{server.url}/stream/{playback_id}/capped-4k.mp4"), 404)


def download(server: Server, playback_id: str, file: str, content_type: str):  # type: ignore[no-untyped-def]
    """Fetches a download and probes it as the media file it must be."""
    response = httpx.get(f"{server.url}/stream/{playback_id}/{file}", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert response.headers["accept-ranges"] == "bytes"
    path = server.settings.data_dir / f"check-{file}"
    path.write_bytes(response.content)
    return probe(path)


def test_a_source_that_needs_encoding_gets_an_x264_mp4(server: Server, api: httpx.Client, clips: Path,
                                                      file_server: str) -> None:
    make_clip(clips / "vp9.webm", width=322, height=182)
    media_id = create_media(api, f"{file_server}/vp9.webm", mp4Support="capped_4k")["id"]

    ready(api, media_id)
    media = wait_for(api, media_id, downloads_settled)

    assert media["mp4Support"][0]["status"] == "ready"
    made = download(server, media["playbackIds"][0]["id"], "capped-4k.mp4", "video/mp4")
    assert made.video.codec == "h264" and made.audio.codec == "aac"
    assert (made.video.width, made.video.height) == (322, 182)


def test_renditions_a_media_cannot_have_fail(server: Server, api: httpx.Client, file_server: str) -> None:
    tone = create_media(api, f"{file_server}/tone.m4a", mp4Support="audioOnly,capped_4k")
    silent = create_media(api, f"{file_server}/silent.mp4", mp4Support="audioOnly,capped_4k")

    for created in (tone, silent):
        ready(api, created["id"])
    tone_media = wait_for(api, tone["id"], downloads_settled)
    silent_media = wait_for(api, silent["id"], downloads_settled)

    assert [(e["type"], e["status"]) for e in tone_media["mp4Support"]] == [("capped_4k", "failed"),
                                                                              ("audioOnly", "ready")]
    assert [(e["type"], e["status"]) for e in silent_media["mp4Support"]] == [("capped_4k", "ready"),
                                                                                ("audioOnly", "failed")]
    tone_pid = tone["playbackIds"][0]["id"]
    error_of(httpx.get(f"{server.url}/images/{tone_pid}/thumbnail.jpg"), 404)  # audio-only: no picture
    error_of(httpx.get(f"{server.url}/stream/{tone_pid}/capped-4k.mp4"), 404)
    assert [s.type for s in download(server, tone_pid, "audio.m4a", "audio/mp4").streams] == ["audio"]
    assert [s.type for s in download(server, silent["playbackIds"][0]["id"], "capped-4k.mp4", "video/mp4").streams] \
        == ["video"]


def test_mp4_support_on_a_direct_upload(server: Server, api: httpx.Client, clips: Path) -> None:
    body = {"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public", "mp4Support": "audioOnly"}}
    upload = api.post("/on-demand/upload", json=body).json()["data"]
    assert upload["pushMediaSettings"]["mp4Support"] == "audioOnly"

    assert httpx.put(upload["url"], content=(clips / "clip.mp4").read_bytes(), timeout=30).status_code in (200, 201)

    media = api.get(f"/on-demand/{upload['uploadId']}").json()["data"]
    ready(api, media["id"])
    media = wait_for(api, media["id"], downloads_settled)
    assert media["mp4Support"] == [{"type": "audioOnly", "status": "ready", "ext": "m4a"}]
    download(server, media["playbackIds"][0]["id"], "audio.m4a", "audio/mp4")


def test_source_access_opens_and_closes_the_original(
    server: Server, api: httpx.Client, fp: Fastpix, clips: Path, clip: tuple[str, str]
) -> None:
    media_id, playback_id = clip
    url = f"{server.url}/stream/{playback_id}/source"
    error_of(httpx.get(url), 404)

    opened = fp.manage_videos.updated_source_access(media_id=media_id, source_access=True).data
    assert opened.source_access is True and opened.id == media_id

    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content == (clips / "clip.mp4").read_bytes()
    assert response.headers["content-disposition"] == f'attachment; filename="{media_id}.mp4"'
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == (clips / "clip.mp4").read_bytes()[10:20]

    closed = fp.manage_videos.updated_source_access(media_id=media_id, source_access=False).data
    assert closed.source_access is False
    error_of(httpx.get(url), 404)
    assert server.runtime.storage.exists(f"media/{media_id}/original")  # renditions are still made from it


def test_downloads_and_source_access_are_announced(server: Server, api: httpx.Client, file_server: str) -> None:
    announced = ["video.media.mp4Support.ready", "video.media.source.ready", "video.media.source.deleted"]
    hook = api.post("/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": announced})
    assert hook.status_code == 201, hook.text
    media_id = create_media(api, f"{file_server}/clip.mp4", mp4Support="audioOnly,capped_4k", sourceAccess=True)["id"]
    ready(api, media_id)
    wait_for(api, media_id, downloads_settled)

    for enabled in (False, True):
        assert api.patch(f"/on-demand/{media_id}/source-access", json={"sourceAccess": enabled}).status_code == 200
    with server.runtime.db.read() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.seq)).all()

    assert [e.type for e in events] == [
        "video.media.source.ready",  # when it became Ready
        "video.media.mp4Support.ready",  # once both renditions were made
        "video.media.source.deleted",
        "video.media.source.ready",
    ]
    assert [e["status"] for e in events[1].data["mp4Support"]] == ["ready", "ready"]
    assert [e.data["sourceAccess"] for e in events[2:]] == [False, True]
