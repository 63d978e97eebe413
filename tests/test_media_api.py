"""The /v1/on-demand media API over HTTP, as FastPix clients see it: shapes, ingest results, validation, errors.

Table-driven checks loop over their cases inside one test (naming the case on failure) rather than being
parametrized, because each test starts its own server and the tables are long.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from reelhouse.media.ffmpeg import run_ffmpeg
from reelhouse.settings import Settings
from tests.api_helpers import create_media, error_of, invalid_fields, wait_until_idle
from tests.clips import make_clip, truncate
from tests.conftest import Server, settled, start_server, wait_for

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
DEFAULT_RESTRICTIONS = {
    "domains": {"defaultPolicy": "allow", "allow": [], "deny": []},
    "userAgents": {"defaultPolicy": "allow", "allow": [], "deny": []},
}


def ingested(api: httpx.Client, url: str) -> dict:
    """Creates a media from `url` and waits until ingest is over."""
    return wait_for(api, create_media(api, url)["id"], settled)


def media_count(api: httpx.Client) -> int:
    return api.get("/on-demand").json()["pagination"]["totalRecords"]


# ---------------------------------------------------------------- create and ingest


def test_create_returns_the_create_media_response(api: httpx.Client, file_server: str) -> None:
    url = f"{file_server}/clip.mp4"
    response = api.post("/on-demand", json={
        "inputs": [{"type": "video", "url": url}],
        "accessPolicy": "public",
        "metadata": {"source": "test"},
        "optimizeAudio": False,
        "maxResolution": "720p",
    })

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    uuid.UUID(data["id"])
    assert data["status"] == "Created"
    assert data["trial"] is False
    [playback] = data["playbackIds"]
    uuid.UUID(playback["id"])
    assert playback["accessPolicy"] == "public"
    assert playback["accessRestrictions"] == DEFAULT_RESTRICTIONS
    assert data["metadata"] == {"source": "test"}
    assert data["maxResolution"] == "720p"
    assert data["mediaQuality"] == "standard"
    assert data["inputs"] == [{"type": "video", "url": url}]
    assert data["optimizeAudio"] is False
    assert data["sourceAccess"] is False
    assert TIMESTAMP.match(data["createdAt"]), data["createdAt"]
    assert TIMESTAMP.match(data["updatedAt"]), data["updatedAt"]


def test_create_keeps_access_restrictions_and_private_policy(api: httpx.Client, file_server: str) -> None:
    restrictions = {"domains": {"defaultPolicy": "deny", "allow": ["example.com"]}}

    data = create_media(api, f"{file_server}/clip.mp4", accessPolicy="private", accessRestrictions=restrictions)

    [playback] = data["playbackIds"]
    assert playback["accessPolicy"] == "private"
    assert playback["accessRestrictions"] == {
        "domains": {"defaultPolicy": "deny", "allow": ["example.com"], "deny": []},
        "userAgents": {"defaultPolicy": "allow", "allow": [], "deny": []},
    }


def test_optional_features_left_off_are_accepted(api: httpx.Client, file_server: str) -> None:
    """`summary: {generate: false}` or `chapters: false` ask for nothing this server lacks: not refused."""
    data = create_media(api, f"{file_server}/clip.mp4", summary={"generate": False}, chapters=False)

    assert data["status"] == "Created"


def test_pulled_clip_is_probed(api: httpx.Client, file_server: str) -> None:
    media = ingested(api, f"{file_server}/clip.mp4")

    assert media["status"] != "Failed", media
    assert media["duration"] == "2.00"
    assert media["sourceResolution"] == "240"
    assert media["aspectRatio"] == "4:3"
    assert media["frameRate"] == "25.000"
    assert media["isAudioOnly"] is False
    assert "error" not in media
    tracks = {t["type"]: t for t in media["tracks"]}
    assert set(tracks) == {"video", "audio"}
    video, audio = tracks["video"], tracks["audio"]
    assert (video["width"], video["height"], video["frameRate"], video["status"]) == (320, 240, "25.000", "available")
    assert (audio["languageCode"], audio["languageName"], audio["status"]) == ("und", "default", "available")
    assert all(uuid.UUID(t["id"]) for t in media["tracks"])


def test_video_without_sound_has_only_a_video_track(api: httpx.Client, file_server: str) -> None:
    media = ingested(api, f"{file_server}/silent.mp4")

    assert [t["type"] for t in media["tracks"]] == ["video"]
    assert media["isAudioOnly"] is False


def test_audio_only_file(api: httpx.Client, file_server: str) -> None:
    media = ingested(api, f"{file_server}/tone.m4a")

    assert media["status"] != "Failed", media
    assert media["isAudioOnly"] is True
    assert [t["type"] for t in media["tracks"]] == ["audio"]
    assert media["duration"] == "2.00"
    assert media["sourceResolution"] is None and "aspectRatio" not in media


def test_input_info(api: httpx.Client, file_server: str) -> None:
    url = f"{file_server}/clip.mp4"
    media = ingested(api, url)

    response = api.get(f"/on-demand/{media['id']}/input-info")

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["configuration"] == {"url": url}
    assert data["file"]["containerFormat"] == "mp4"
    assert sorted(t["type"] for t in data["file"]["tracks"]) == ["audio", "video"]


# ---------------------------------------------------------------- list


def test_list_pages_and_orders(api: httpx.Client, file_server: str) -> None:
    ids = [create_media(api, f"{file_server}/clip.mp4")["id"] for _ in range(3)]

    first = api.get("/on-demand", params={"limit": 2, "offset": 1, "orderBy": "asc"}).json()
    second = api.get("/on-demand", params={"limit": 2, "offset": 2, "orderBy": "asc"}).json()
    newest = api.get("/on-demand", params={"limit": 1, "offset": 1, "orderBy": "desc"}).json()
    default = api.get("/on-demand").json()

    assert [m["id"] for m in first["data"]] == ids[:2]
    assert [m["id"] for m in second["data"]] == ids[2:]
    assert first["pagination"] == {"totalRecords": 3, "currentOffset": 1, "offsetCount": 2}
    assert second["pagination"] == {"totalRecords": 3, "currentOffset": 2, "offsetCount": 2}
    assert [m["id"] for m in newest["data"]] == ids[2:]
    assert newest["pagination"] == {"totalRecords": 3, "currentOffset": 1, "offsetCount": 3}
    assert [m["id"] for m in default["data"]] == ids[::-1]
    assert default["pagination"] == {"totalRecords": 3, "currentOffset": 1, "offsetCount": 1}


def test_list_paging_limits(api: httpx.Client) -> None:
    for offset in (5, 2**31 - 1):  # past the last page: empty, not an error
        body = api.get("/on-demand", params={"offset": offset, "limit": 50}).json()
        assert body == {
            "success": True, "data": [], "pagination": {"totalRecords": 0, "currentOffset": offset, "offsetCount": 0}
        }
    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": 0}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"orderBy": "sideways"}, "orderBy"),
    ]:
        assert invalid_fields(api.get("/on-demand", params=params)) == [field], params


# ---------------------------------------------------------------- get / update / delete


def test_unknown_and_malformed_media_ids(api: httpx.Client) -> None:
    for method, path, body in [
        ("GET", "", None), ("PATCH", "", {"metadata": {"a": "b"}}), ("DELETE", "", None), ("GET", "/input-info", None),
    ]:
        unknown = api.request(method, f"/on-demand/{uuid.uuid4()}{path}", json=body)
        assert error_of(unknown, 404)["message"] == "Media not found", (method, path)
        malformed = api.request(method, f"/on-demand/not-a-uuid{path}", json=body)
        assert error_of(malformed, 422)["fields"] == [{"field": "mediaId", "message": "is invalid"}], (method, path)


def test_update_replaces_metadata_and_sets_title_and_creator(api: httpx.Client, file_server: str) -> None:
    media_id = create_media(api, f"{file_server}/clip.mp4", metadata={"old": "1", "keep": "2"})["id"]

    response = api.patch(f"/on-demand/{media_id}", json={"metadata": {"new": "3"}})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["metadata"] == {"new": "3"}

    response = api.patch(f"/on-demand/{media_id}", json={"title": "A title", "creatorId": "creator-7"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["title"], data["creatorId"], data["metadata"]) == ("A title", "creator-7", {"new": "3"})

    stored = api.get(f"/on-demand/{media_id}").json()["data"]
    assert (stored["title"], stored["creatorId"], stored["metadata"]) == ("A title", "creator-7", {"new": "3"})


def test_update_rejects_invalid_values_and_changes_nothing(api: httpx.Client, file_server: str) -> None:
    media_id = create_media(api, f"{file_server}/clip.mp4", metadata={"kept": "yes"})["id"]

    for body, field in [
        ({"metadata": {f"k{i}": "v" for i in range(11)}}, "metadata"),
        ({"metadata": {"long": "x" * 256}}, "metadata"),
        ({"metadata": {"n": 5}}, "metadata"),
        ({"metadata": {"list": ["a"]}}, "metadata"),
        ({"metadata": ["not", "an", "object"]}, "metadata"),
        ({"title": "t" * 256}, "title"),
        ({"creatorId": 7}, "creatorId"),
    ]:
        fields = invalid_fields(api.patch(f"/on-demand/{media_id}", json=body))
        assert fields and all(f.split(".")[0] == field for f in fields), (body, fields)

    stored = api.get(f"/on-demand/{media_id}").json()["data"]
    assert stored["metadata"] == {"kept": "yes"}
    assert "title" not in stored and "creatorId" not in stored


def test_delete_removes_the_media_and_its_objects(api: httpx.Client, server: Server, file_server: str) -> None:
    media = ingested(api, f"{file_server}/clip.mp4")
    wait_until_idle(server)
    storage = server.runtime.storage
    prefix = f"media/{media['id']}"
    assert storage.list(prefix), "ingest should have stored the original"

    response = api.delete(f"/on-demand/{media['id']}")

    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert error_of(api.get(f"/on-demand/{media['id']}"), 404)["message"] == "Media not found"
    assert storage.list(prefix) == []
    assert media_count(api) == 0
    assert error_of(api.delete(f"/on-demand/{media['id']}"), 404)


def test_delete_before_ingest_drops_the_uploaded_file(
    settings: Settings, credentials: tuple[str, str], clips: Path
) -> None:
    """With no worker to assemble it yet, a deleted upload's media must not leave the uploaded bytes behind."""
    idle = start_server(settings, workers=False)
    try:
        with httpx.Client(base_url=f"{idle.url}/v1", auth=credentials, timeout=30) as api:
            created = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}})
            upload = created.json()["data"]
            put = httpx.put(upload["url"], content=(clips / "clip.mp4").read_bytes(), timeout=30)
            assert put.status_code in (200, 201), put.text
            media = api.get(f"/on-demand/{upload['uploadId']}").json()["data"]
            storage = idle.runtime.storage
            assert storage.list(f"uploads/{upload['uploadId']}")

            assert api.delete(f"/on-demand/{media['id']}").json() == {"success": True}

            assert storage.list(f"uploads/{upload['uploadId']}") == []
            assert storage.list(f"media/{media['id']}") == []
    finally:
        idle.stop()


class HeldServer:
    """Serves one file but holds back its second half until `released` is set, to act while a pull is under way."""

    def __init__(self, body: bytes) -> None:
        self.released = threading.Event()
        released = self.released

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                released.wait(30)
                self.wfile.write(body[len(body) // 2 :])

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/held.mp4"

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()


@pytest.mark.parametrize("name", ["clip.mp4", "garbage.mp4"])
def test_delete_during_pull_leaves_no_objects(api: httpx.Client, server: Server, clips: Path, name: str) -> None:
    """Whether the pulled file turns out to be media or not, a media deleted meanwhile keeps nothing in storage."""
    held = HeldServer((clips / name).read_bytes())
    scratch = server.settings.scratch_dir
    try:
        media_id = create_media(api, held.url)["id"]
        wait_for(api, media_id, lambda m: m["status"] == "Downloading")
        assert api.delete(f"/on-demand/{media_id}").json() == {"success": True}
        held.released.set()
        deadline = time.monotonic() + 30
        while any(scratch.iterdir()) and time.monotonic() < deadline:  # the job's scratch folder goes when it ends
            time.sleep(0.05)
    finally:
        held.close()

    assert not any(scratch.iterdir()), "the ingest job never finished"
    assert server.runtime.storage.list(f"media/{media_id}") == []
    assert error_of(api.get(f"/on-demand/{media_id}"), 404)


# ---------------------------------------------------------------- request validation


def test_unknown_routes_and_methods_use_the_envelope(api: httpx.Client) -> None:
    error_of(api.get("/on-demand-typo"), 404)
    error_of(api.put("/on-demand"), 405)


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.post("/on-demand", content=b'{"inputs": [', headers={"content-type": "application/json"})

    assert error_of(response, 400)["message"] == "Invalid JSON body"


def test_create_rejects_wrong_types_and_values(api: httpx.Client, file_server: str) -> None:
    video = {"type": "video", "url": f"{file_server}/clip.mp4"}
    for change, field in [
        ({"accessPolicy": "open"}, "accessPolicy"),
        ({"accessPolicy": None}, "accessPolicy"),
        ({"maxResolution": "999p"}, "maxResolution"),
        ({"mediaQuality": "ultra"}, "mediaQuality"),
        ({"optimizeAudio": "very"}, "optimizeAudio"),
        ({"metadata": {"n": 1}}, "metadata"),
        ({"accessRestrictions": {"domains": {"defaultPolicy": "block"}}}, "accessRestrictions"),
        ({"inputs": "clip.mp4"}, "inputs"),
        ({"inputs": []}, "inputs"),
        ({"inputs": [{"type": "audio"}]}, "inputs"),
        ({"inputs": [video, video]}, "inputs"),
        ({"inputs": [{"type": "video"}]}, "inputs"),
        ({"inputs": [{"type": "video", "url": ""}]}, "inputs"),
    ]:
        fields = invalid_fields(api.post("/on-demand", json={"inputs": [video], "accessPolicy": "public", **change}))
        assert fields and all(f.split(".")[0] == field for f in fields), (change, fields)

    assert {"inputs", "accessPolicy"} <= set(invalid_fields(api.post("/on-demand", json={})))
    assert media_count(api) == 0


def test_unsupported_options_are_refused_by_name(api: httpx.Client, file_server: str) -> None:
    """A 400 naming the option, rather than a media that silently lacks what was asked for."""
    url = f"{file_server}/clip.mp4"
    for inputs, options, named in [
        ([], {"accessPolicy": "drm"}, "DRM"),
    ]:
        body = {"inputs": [{"type": "video", "url": url}, *inputs], "accessPolicy": "public", **options}
        error = error_of(api.post("/on-demand", json=body), 400)
        assert named in error.get("description", "") + error["message"], (named, error)

    unreachable = {"inputs": [{"type": "video", "url": url, "introUrl": "http://10.0.0.1/intro.mp4"}],
                   "accessPolicy": "public"}  # a transform's URL is checked as the video's is, naming its field
    assert "inputs.0.introUrl" in error_of(api.post("/on-demand", json=unreachable), 400)["description"]
    assert media_count(api) == 0


# ---------------------------------------------------------------- pull URLs


def test_unusable_pull_urls_are_refused_at_once(api: httpx.Client, file_server: str) -> None:
    """Addresses the server must not reach, and URLs it cannot fetch, fail the request rather than a media later."""
    port = httpx.URL(file_server).port
    for url in [
        "http://10.0.0.1/x.mp4",
        "http://169.254.169.254/",
        f"http://127.0.0.2:{port}/clip.mp4",  # only 127.0.0.1/32 is allowed in tests; its neighbours stay private
        "http://[::1]/x.mp4",
        "http://no-such-host.invalid/x.mp4",
        "ftp://example.com/x.mp4",
        "http://user:pw@example.com/x.mp4",
        "not a url",
    ]:
        response = api.post("/on-demand", json={"inputs": [{"type": "video", "url": url}], "accessPolicy": "public"})
        assert response.status_code in (400, 422), (url, response.text)
        assert error_of(response, response.status_code), url

    assert media_count(api) == 0


@pytest.fixture(scope="module")
def truncated_clip(clips: Path) -> str:
    """An mp4 cut in half with its index (moov) at the end, as an interrupted copy leaves it; served by file_server."""
    whole = make_clip(clips / "late-moov.mp4", extra=["-movflags", "-faststart"])
    return truncate(whole, 0.5).name


def test_pulled_non_media_fails_with_a_reason(api: httpx.Client, file_server: str, truncated_clip: str) -> None:
    reasons = {
        "page.html": "HTML page",
        "garbage.mp4": "not a media file",
        "empty.mp4": "empty",
        "missing.mp4": "HTTP 404",
        truncated_clip: "not a media file",
    }
    ids = {name: create_media(api, f"{file_server}/{name}")["id"] for name in reasons}

    for name, reason in reasons.items():
        media = wait_for(api, ids[name], settled)
        assert media["status"] == "Failed", (name, media)
        assert reason in media["error"], (name, media["error"])
        assert media["tracks"] == [], name
        assert "duration" not in media, name


def test_a_file_of_a_few_frames_hours_apart_fails_at_once_with_a_reason(
    api: httpx.Client, file_server: str, clips: Path
) -> None:
    """Two frames 10 h apart: a 2 KB file that used to hold a worker for hours while ffmpeg made up 2 million frames."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=60", "-frames:v", "2", "-vf",
                "setpts=N*36000/TB", "-c:v", "libx264", str(clips / "sparse.mkv")], timeout=60)

    media = wait_for(api, create_media(api, f"{file_server}/sparse.mkv")["id"], settled, timeout=60)

    assert media["status"] == "Failed", media
    assert "the video has 2 frames over 36000 s" in media["error"], media["error"]


def test_a_long_file_sparse_before_its_dense_end_fails_with_the_reason_once_read_whole(
    api: httpx.Client, file_server: str, clips: Path
) -> None:
    """Ingest reads only the end of a long file, which here holds frames at 10 a second; the frame count of the
    whole, read beside the first encode, is what refuses it: 602 frames over two hours."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-frames:v", "602", "-vf",
                "setpts='if(lt(N,2),N*3600,7200+(N-2)*0.1)/TB'", "-fps_mode", "passthrough", "-c:v", "libx264",
                "-g", "10", str(clips / "sparse-head.mkv")], timeout=60)

    media = wait_for(api, create_media(api, f"{file_server}/sparse-head.mkv")["id"],
                     lambda m: m["status"] == "Failed", timeout=120)

    assert "the video has 602 frames over 7260 s" in media["error"], media["error"]
    assert api.get(f"/on-demand/{media['id']}").json()["data"]["status"] == "Failed"


def test_a_faststart_mp4_cut_in_half_plays_for_what_it_holds(
    server: Server, api: httpx.Client, file_server: str, clips: Path
) -> None:
    whole = make_clip(clips / "faststart.mp4", seconds=4, extra=["-movflags", "+faststart"])
    cut = truncate(whole, 0.5).name

    media = wait_for(api, create_media(api, f"{file_server}/{cut}")["id"], lambda m: m["status"] in ("Ready", "Failed"))

    assert media["status"] == "Ready", media
    assert 1.0 <= float(media["duration"]) <= 3.0, media["duration"]  # what plays, not the 4 s the index declares
    thumbnail = httpx.get(f"{server.url}/images/{media['playbackIds'][0]['id']}/thumbnail.jpg")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
