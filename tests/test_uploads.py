"""Direct uploads over the wire: creating signed URLs, whole-file and resumable PUTs, cancelling, CORS.

Every request to the signed URL is a raw HTTP request, as FastPix's browser uploader, UpChunk or a
script with curl would send it.
"""

from __future__ import annotations

import http.client
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from reelhouse.db.models import Upload, utcnow
from reelhouse.settings import Settings
from reelhouse.storage.keys import original_key, upload_part_key, upload_prefix
from reelhouse.uploads.cleanup import sweep_expired
from tests.conftest import (
    Server,
    make_token,
    settled,
    start_server,
    wait_for,
    wait_until,
)

HTTP = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))  # past httpx's 5 s: CI may be loaded
CHUNK = 64 * 1024


def create_upload(api: httpx.Client, **body: Any) -> dict[str, Any]:
    body.setdefault("pushMediaSettings", {"accessPolicy": "public"})
    response = api.post("/on-demand/upload", json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def put_chunk(url: str, data: bytes, first: int, total: int | str, **headers: str) -> httpx.Response:
    """One `Content-Range` chunk; `data` may differ from the range on purpose."""
    content_range = f"bytes {first}-{first + len(data) - 1}/{total}"
    return HTTP.put(url, content=data, headers={"Content-Range": content_range, **headers})


def ask_status(url: str, total: int | str) -> httpx.Response:
    """The uploader's "how much do you have?" query, sent after a stall."""
    return HTTP.put(url, headers={"Content-Range": f"bytes */{total}", "x-goog-resumable": "start"})


def committed(response: httpx.Response) -> int:
    """Bytes the server says it holds, from a 308 answer's `Range: bytes=0-N`."""
    assert response.status_code == 308, response.text
    header = response.headers.get("Range")
    if header is None:
        return 0
    assert header.startswith("bytes=0-"), header
    return int(header.removeprefix("bytes=0-")) + 1


def completed_media_id(response: httpx.Response) -> str:
    """The media a finished upload created, from its 200 answer."""
    assert response.status_code == 200, response.text
    return response.json()["data"]["mediaId"]


def send_in_chunks(url: str, data: bytes, start: int = 0, *, total_known: bool = True) -> httpx.Response:
    """Sends data[start:] chunk by chunk; every chunk but the last must be answered 308 with the new offset."""
    for first in range(start, len(data), CHUNK):
        piece = data[first:first + CHUNK]
        last = first + len(piece) == len(data)
        response = put_chunk(url, piece, first, len(data) if total_known or last else "*")
        if last:
            return response
        assert committed(response) == first + len(piece)
    raise AssertionError("nothing to send")


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == status and body["error"]["message"]
    return body["error"]


def media_bytes(server: Server, media_id: str) -> bytes:
    return server.runtime.storage.read(original_key(media_id))


def scratch_uploads(settings: Settings) -> list[Path]:
    """Chunk bodies being received; none may be left over once a request is answered."""
    return list(settings.scratch_dir.glob("upload-*"))


def begin_put(url: str, headers: dict[str, str]) -> http.client.HTTPConnection:
    """Sends only the request head, so a test controls how much body follows, if any."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    return conn


@pytest.fixture
def clip_bytes(clips: Path) -> bytes:
    data = (clips / "clip.mp4").read_bytes()
    assert len(data) > 2 * CHUNK  # several chunks, the last one short
    return data


# ---------------------------------------------------------------- creating upload URLs


def test_create_upload_returns_a_signed_url_on_this_server(api: httpx.Client, server: Server) -> None:
    data = create_upload(api, corsOrigin="https://app.example", pushMediaSettings={
        "accessPolicy": "public", "metadata": {"team": "video"}, "maxResolution": "720p", "optimizeAudio": True,
    })

    assert data["status"] == "waiting"
    assert data["timeout"] == 14400
    assert data["corsOrigin"] == "https://app.example"
    assert data["url"].startswith(f"{server.url}/upload/{data['uploadId']}?")
    assert "upload_id=" not in data["url"]  # so the browser uploader opens a session first
    settings = data["pushMediaSettings"]
    assert settings["accessPolicy"] == "public"
    assert settings["metadata"] == {"team": "video"}
    assert settings["maxResolution"] == "720p"
    assert settings["optimizeAudio"] is True
    [playback] = settings["playbackIds"]
    assert playback["accessPolicy"] == "public"
    assert playback["accessRestrictions"]["domains"]["defaultPolicy"] == "allow"
    assert playback["accessRestrictions"]["userAgents"]["defaultPolicy"] == "allow"


def test_create_upload_accepts_a_timeout_up_to_a_day(api: httpx.Client) -> None:
    assert create_upload(api, timeout=86400)["timeout"] == 86400


def test_create_upload_refuses_a_timeout_above_a_day(api: httpx.Client) -> None:
    response = api.post("/on-demand/upload", json={"timeout": 86401, "pushMediaSettings": {"accessPolicy": "public"}})

    error = assert_error(response, 422)
    assert [f["field"] for f in error["fields"]] == ["timeout"]


def test_create_upload_requires_an_access_policy(api: httpx.Client) -> None:
    response = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {"metadata": {}}})

    error = assert_error(response, 422)
    assert [f["field"] for f in error["fields"]] == ["pushMediaSettings.accessPolicy"]


def test_create_upload_rejects_malformed_json(api: httpx.Client) -> None:
    response = api.post("/on-demand/upload", content=b'{"pushMediaSettings": ',
                        headers={"Content-Type": "application/json"})

    assert_error(response, 400)


# ---------------------------------------------------------------- sending the file


def test_whole_file_put_creates_the_media(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api)
    fresh = create_upload(api)

    response = HTTP.put(upload["url"], content=clip_bytes, headers={"Content-Type": "video/mp4"})

    media_id = completed_media_id(response)
    by_upload = api.get(f"/on-demand/{upload['uploadId']}")
    assert by_upload.status_code == 200, by_upload.text
    assert by_upload.json()["data"]["id"] == media_id
    assert by_upload.json()["data"]["uploadId"] == upload["uploadId"]
    media = wait_for(api, media_id, settled)
    assert media["status"] != "Failed", media
    assert media["duration"] == "2.00"
    assert media_bytes(server, media_id) == clip_bytes
    listed = {u["uploadId"]: u["status"] for u in api.get("/on-demand/uploads").json()["data"]}
    assert upload["uploadId"] not in listed
    assert listed[fresh["uploadId"]] == "waiting"


def test_resumable_session_in_chunks(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api)

    start = HTTP.post(upload["url"], headers={"x-goog-resumable": "start", "Content-Type": "video/mp4"})
    assert start.status_code == 201, start.text
    session = start.headers["Location"]
    assert session.startswith(upload["url"] + "&upload_id=")

    status = ask_status(session, len(clip_bytes))
    assert committed(status) == 0 and "Range" not in status.headers
    assert committed(put_chunk(session, clip_bytes[:CHUNK], 0, len(clip_bytes))) == CHUNK
    assert committed(ask_status(session, len(clip_bytes))) == CHUNK
    media_id = completed_media_id(send_in_chunks(session, clip_bytes, CHUNK))

    assert ask_status(session, len(clip_bytes)).status_code == 200
    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_session_url_stays_on_the_public_base_url(settings: Settings, credentials: tuple[str, str]) -> None:
    """Behind a TLS-terminating proxy the request arrives as plain http on an inner address."""
    settings.public_url = "https://videos.example"
    server = start_server(settings)
    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials) as api:
            upload = create_upload(api)
        assert upload["url"].startswith("https://videos.example/upload/")
        proxied = urlsplit(upload["url"])._replace(scheme="http", netloc=f"127.0.0.1:{settings.port}").geturl()

        start = HTTP.post(proxied, headers={"x-goog-resumable": "start"})

        assert start.status_code == 201, start.text
        assert start.headers["Location"].startswith(upload["url"] + "&upload_id=")
    finally:
        server.stop()


def test_chunks_put_straight_to_the_url(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    """UpChunk's dialect: no session, just Content-Range chunks on the URL it was given."""
    upload = create_upload(api)

    media_id = completed_media_id(send_in_chunks(upload["url"], clip_bytes))

    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_chunks_of_unknown_total_then_a_final_chunk(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api)

    media_id = completed_media_id(send_in_chunks(upload["url"], clip_bytes, total_known=False))

    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_status_query_with_unknown_total(api: httpx.Client, clip_bytes: bytes) -> None:
    upload = create_upload(api)
    put_chunk(upload["url"], clip_bytes[:CHUNK], 0, "*")

    assert committed(ask_status(upload["url"], "*")) == CHUNK


def test_a_dropped_connection_resumes_from_what_was_kept(
    api: httpx.Client, server: Server, settings: Settings, clip_bytes: bytes
) -> None:
    upload = create_upload(api)
    url, total = upload["url"], len(clip_bytes)
    assert committed(put_chunk(url, clip_bytes[:CHUNK], 0, total)) == CHUNK
    chunk_end = min(3 * CHUNK, total)
    sent = CHUNK // 2 + 123

    conn = begin_put(url, {"Content-Range": f"bytes {CHUNK}-{chunk_end - 1}/{total}",
                           "Content-Length": str(chunk_end - CHUNK)})
    conn.send(clip_bytes[CHUNK:CHUNK + sent])
    wait_until(lambda: any(p.stat().st_size for p in scratch_uploads(settings)), what="the server receiving bytes")
    conn.close()  # the network drops mid-chunk
    wait_until(lambda: not scratch_uploads(settings), what="the server finishing the broken request")

    kept = committed(ask_status(url, total))
    assert CHUNK < kept <= CHUNK + sent
    media_id = completed_media_id(send_in_chunks(url, clip_bytes, kept))
    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_committed_chunks_survive_a_server_restart(api: httpx.Client, server: Server, settings: Settings,
                                                   clip_bytes: bytes) -> None:
    upload = create_upload(api)
    session = HTTP.post(upload["url"], headers={"x-goog-resumable": "start"}).headers["Location"]
    total = len(clip_bytes)
    assert committed(put_chunk(session, clip_bytes[:CHUNK], 0, total)) == CHUNK
    assert committed(put_chunk(session, clip_bytes[CHUNK:2 * CHUNK], CHUNK, total)) == 2 * CHUNK

    server.stop()
    restarted = start_server(settings)
    try:
        assert committed(ask_status(session, total)) == 2 * CHUNK
        media_id = completed_media_id(send_in_chunks(session, clip_bytes, 2 * CHUNK))
        media = wait_for(api, media_id, settled)
        assert media["duration"] == "2.00"
        assert media_bytes(restarted, media_id) == clip_bytes
    finally:
        restarted.stop()


# ---------------------------------------------------------------- bad chunks

TOTAL = 5000
HELD = 1000  # bytes committed before each bad request
PAYLOAD = bytes(range(256)) * 40
MAX = 50 * 1024 * 1024  # the settings fixture's max_source_bytes


@pytest.mark.parametrize(
    ("content_range", "body_size", "status"),
    [
        pytest.param(f"bytes 500-1499/{TOTAL}", 1000, 400, id="overlaps-committed-bytes"),
        pytest.param(f"bytes 2000-2999/{TOTAL}", 1000, 400, id="skips-ahead"),
        pytest.param(f"bytes 1000-{TOTAL}/{TOTAL}", TOTAL - HELD + 1, 400, id="last-byte-at-total"),
        pytest.param("bytes 1000-5999/*", 5000, 400, id="last-byte-past-the-total-declared-before"),
        pytest.param("bytes 1000-1999/6000", 1000, 400, id="total-changes"),
        pytest.param(f"bytes 1000-1999/{TOTAL}", 1500, 400, id="body-longer-than-range"),
        pytest.param(f"bytes 1000-1999/{TOTAL}", 500, 400, id="body-shorter-than-range"),
        pytest.param(f"bytes=1000-1999/{TOTAL}", 1000, 400, id="garbage-range-syntax"),
        pytest.param(f"bytes 1999-1000/{TOTAL}", 1000, 400, id="range-backwards"),
        pytest.param("bytes */*/*", 0, 400, id="garbage-status-query"),
        pytest.param("bytes 1000-1999/60000000", 1000, 413, id="total-above-max-source-bytes"),
        pytest.param(f"bytes 1000-{MAX}/*", 1000, 413, id="unknown-total-past-max-source-bytes"),
    ],
)
def test_a_bad_chunk_is_refused_and_changes_nothing(
    api: httpx.Client, server: Server, settings: Settings, content_range: str, body_size: int, status: int
) -> None:
    upload = create_upload(api)
    url, parts = upload["url"], upload_prefix(upload["uploadId"])
    assert committed(put_chunk(url, PAYLOAD[:HELD], 0, TOTAL)) == HELD
    held_parts = server.runtime.storage.list(parts)

    response = HTTP.put(url, content=PAYLOAD[HELD:HELD + body_size], headers={"Content-Range": content_range})

    assert_error(response, status)
    assert committed(ask_status(url, TOTAL)) == HELD
    assert server.runtime.storage.list(parts) == held_parts
    assert scratch_uploads(settings) == []
    media_id = completed_media_id(put_chunk(url, PAYLOAD[HELD:TOTAL], HELD, TOTAL))
    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == PAYLOAD[:TOTAL]


def test_a_whole_file_declared_above_max_source_bytes_is_refused_unread(api: httpx.Client) -> None:
    upload = create_upload(api)

    conn = begin_put(upload["url"], {"Content-Length": str(MAX + 1), "Content-Type": "video/mp4"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()

    assert response.status == 413
    assert body["success"] is False and body["error"]["code"] == 413
    assert api.get(f"/on-demand/{upload['uploadId']}").status_code == 404


def test_an_empty_file_is_refused(api: httpx.Client) -> None:
    upload = create_upload(api)

    assert_error(HTTP.put(upload["url"], content=b""), 400)
    assert_error(ask_status(upload["url"], 0), 400)
    assert api.get(f"/on-demand/{upload['uploadId']}").status_code == 404


# ---------------------------------------------------------------- signatures


def with_query(url: str, **changes: str | None) -> str:
    """The URL with query parameters replaced; None drops one."""
    parts = urlsplit(url)
    query = {**dict(parse_qsl(parts.query)), **changes}
    return parts._replace(query=urlencode({k: v for k, v in query.items() if v is not None})).geturl()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url, other: with_query(url, signature="A" * 43), id="forged-signature"),
        pytest.param(lambda url, other: with_query(url, expires="9999999999"), id="extended-expiry"),
        pytest.param(lambda url, other: urlsplit(other)._replace(query=urlsplit(url).query).geturl(),
                     id="signature-of-another-upload"),
        pytest.param(lambda url, other: with_query(url, signature=None), id="no-signature"),
        pytest.param(lambda url, other: with_query(url, expires=None), id="no-expiry"),
        pytest.param(lambda url, other: urlsplit(url)._replace(query="").geturl(), id="no-query"),
        pytest.param(lambda url, other: with_query(url, expires="\u00b2"), id="expiry-not-ascii-digits"),
        pytest.param(lambda url, other: with_query(url, expires="9" * 5000), id="expiry-absurdly-long"),
    ],
)
def test_an_altered_url_is_forbidden(api: httpx.Client, clip_bytes: bytes, tamper: Any) -> None:
    upload, other = create_upload(api), create_upload(api)
    url = tamper(upload["url"], other["url"])

    assert_error(HTTP.put(url, content=clip_bytes[:100]), 403)
    assert_error(HTTP.put(url, content=clip_bytes[:100], headers={"Content-Range": "bytes 0-99/1000"}), 403)
    assert_error(HTTP.post(url, headers={"x-goog-resumable": "start"}), 403)
    for row in (upload, other):
        assert committed(ask_status(row["url"], 1000)) == 0


def test_an_expired_url_is_forbidden(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api)
    expired = server.runtime.upload_urls.url(upload["uploadId"], utcnow() - timedelta(seconds=1))

    error = assert_error(HTTP.put(expired, content=clip_bytes), 403)

    assert "expired" in error["message"].lower()
    assert api.get(f"/on-demand/{upload['uploadId']}").status_code == 404


def test_a_signed_url_for_an_unknown_upload_is_not_found(server: Server) -> None:
    url = server.runtime.upload_urls.url(str(uuid.uuid4()), utcnow() + timedelta(hours=1))

    assert_error(HTTP.put(url, content=b"data"), 404)


# ---------------------------------------------------------------- cancelling


def test_cancel_stops_the_upload_and_drops_its_bytes(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api, corsOrigin="https://app.example", timeout=3600,
                           pushMediaSettings={"accessPolicy": "private", "metadata": {"k": "v"}})
    assert committed(put_chunk(upload["url"], clip_bytes[:CHUNK], 0, len(clip_bytes))) == CHUNK
    storage = server.runtime.storage
    assert storage.list(upload_prefix(upload["uploadId"]))

    response = api.put(f"/on-demand/upload/{upload['uploadId']}/cancel")

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["uploadId"] == upload["uploadId"]
    assert data["status"] == "cancelled"
    assert data["url"] == upload["url"]
    assert data["corsOrigin"] == "https://app.example"
    assert data["maxResolution"] == "1080p"
    assert data["accessPolicy"] == "private"
    assert data["metadata"] == {"k": "v"}
    assert data["timeout"] == 3600
    assert storage.list(upload_prefix(upload["uploadId"])) == []
    assert_error(put_chunk(upload["url"], clip_bytes[CHUNK:2 * CHUNK], CHUNK, len(clip_bytes)), 410)
    assert_error(HTTP.put(upload["url"], content=clip_bytes), 410)
    assert api.get(f"/on-demand/{upload['uploadId']}").status_code == 404


def test_cancelling_a_completed_upload_is_refused(api: httpx.Client, clip_bytes: bytes) -> None:
    upload = create_upload(api)
    completed_media_id(HTTP.put(upload["url"], content=clip_bytes))

    assert_error(api.put(f"/on-demand/upload/{upload['uploadId']}/cancel"), 400)


def test_cancel_unknown_upload(api: httpx.Client) -> None:
    assert_error(api.put(f"/on-demand/upload/{uuid.uuid4()}/cancel"), 404)


def test_cancel_with_an_invalid_upload_id(api: httpx.Client) -> None:
    error = assert_error(api.put("/on-demand/upload/not-a-uuid/cancel"), 422)

    assert [f["field"] for f in error["fields"]] == ["uploadId"]


def test_cancel_from_another_workspace_is_not_found(api: httpx.Client, server: Server, settings: Settings) -> None:
    upload = create_upload(api)

    stranger = api.put(f"/on-demand/upload/{upload['uploadId']}/cancel", auth=make_token(settings, "other"))

    assert_error(stranger, 404)
    assert committed(ask_status(upload["url"], 1000)) == 0  # still open


# ---------------------------------------------------------------- browsers


def test_cors_for_the_uploads_origin(api: httpx.Client, clip_bytes: bytes) -> None:
    upload = create_upload(api, corsOrigin="https://app.example")
    url = upload["url"]

    preflight = httpx.request("OPTIONS", url, headers={
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-range, content-type",
    })

    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-range" in preflight.headers["Access-Control-Allow-Headers"].lower()
    start = HTTP.post(url, headers={"Origin": "https://app.example", "x-goog-resumable": "start"})
    chunk = put_chunk(start.headers["Location"], clip_bytes[:CHUNK], 0, len(clip_bytes), Origin="https://app.example")
    for response in (start, chunk):
        assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
        exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
        assert {"range", "location"} <= exposed


HOSTILE_ORIGINS = ["https://app.example\r\nX-Injected: 1", "https://app.example\n", "https://bücher.example",
                   "https://app.example/path", "app.example", "https://", "https://user@app.example", "null ",
                   "https://app.example:123456", "*, https://app.example"]


def test_a_cors_origin_must_be_an_origin(api: httpx.Client) -> None:
    for origin in HOSTILE_ORIGINS:
        response = api.post("/on-demand/upload", json={"corsOrigin": origin,
                                                       "pushMediaSettings": {"accessPolicy": "public"}})
        error = assert_error(response, 422)
        assert [f["field"] for f in error["fields"]] == ["corsOrigin"], origin
    for origin in ("*", "https://app.example", "http://localhost:3000", "https://xn--bcher-kva.example",
                   "http://[::1]:8080"):
        assert create_upload(api, corsOrigin=origin)["corsOrigin"] == origin


def test_hostile_content_range_headers_are_refused_with_400(api: httpx.Client) -> None:
    url = create_upload(api)["url"]
    huge = "9" * 4301
    for header in (f"bytes 0-{huge}/*", f"bytes 0-1/{huge}", f"bytes */{huge}", "bytes 0-\u0661/2", "bytes 0-1/2/3",
                   "bytes -1-2/3", "bytes 0-99999999999999999999/*"):
        response = httpx.put(url, content=b"ab", headers={"Content-Range": header.encode("utf-8")})
        assert_error(response, 400)
    assert committed(ask_status(url, 1000)) == 0


def test_parts_of_an_upload_that_expired_unfinished_are_swept(api: httpx.Client, server: Server,
                                                               clip_bytes: bytes) -> None:
    upload = create_upload(api)
    assert put_chunk(upload["url"], clip_bytes[:1000], 0, len(clip_bytes)).status_code == 308
    fresh = create_upload(api)
    assert put_chunk(fresh["url"], clip_bytes[:1000], 0, len(clip_bytes)).status_code == 308
    with server.runtime.db.write() as session:
        session.get(Upload, upload["uploadId"]).expires_at = utcnow() - timedelta(hours=2)

    assert sweep_expired(server.runtime) == 1
    assert server.runtime.storage.list(f"uploads/{upload['uploadId']}") == []
    assert server.runtime.storage.list(f"uploads/{fresh['uploadId']}") != []  # still within its time
    listed = {u["uploadId"]: u["status"] for u in api.get("/on-demand/uploads").json()["data"]}
    assert listed[upload["uploadId"]] == "timed_out" and listed[fresh["uploadId"]] == "waiting"


# ---------------------------------------------------------------- parts are stored before they are committed


def part_keys(server: Server, upload_id: str) -> list[str]:
    return server.runtime.storage.list(f"{upload_prefix(upload_id)}/parts")


def test_the_loser_of_a_race_for_an_offset_leaves_the_winners_part(
    api: httpx.Client, server: Server, settings: Settings, clip_bytes: bytes
) -> None:
    """Both requests passed the offset check on arrival; the one that commits second is refused and its part,
    stored before it knew, goes without touching the winner's."""
    upload = create_upload(api)
    url, total = upload["url"], len(clip_bytes)
    loser = begin_put(url, {"Content-Range": f"bytes 0-{CHUNK - 1}/{total}", "Content-Length": str(CHUNK)})
    wait_until(lambda: bool(scratch_uploads(settings)), what="the first request being received")

    assert committed(put_chunk(url, clip_bytes[:CHUNK], 0, total)) == CHUNK
    loser.send(b"\xff" * CHUNK)
    response = loser.getresponse()
    body = json.loads(response.read())
    loser.close()

    assert response.status == 400, body
    assert "overlaps" in body["error"]["message"]
    [winner] = part_keys(server, upload["uploadId"])
    assert server.runtime.storage.read(winner) == clip_bytes[:CHUNK]
    media_id = completed_media_id(send_in_chunks(url, clip_bytes, CHUNK))
    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_a_part_stored_but_never_committed_stays_out_of_the_original(
    api: httpx.Client, server: Server, clip_bytes: bytes
) -> None:
    """A request that died between storing its part and committing it (a crash) leaves an orphan beside the parts."""
    upload = create_upload(api)
    upload_id, storage = upload["uploadId"], server.runtime.storage
    assert committed(put_chunk(upload["url"], clip_bytes[:CHUNK], 0, len(clip_bytes))) == CHUNK
    for offset in (0, CHUNK):
        storage.write(upload_part_key(upload_id, offset, "0" * 32), [b"\0" * CHUNK])

    media_id = completed_media_id(send_in_chunks(upload["url"], clip_bytes, CHUNK))

    media = wait_for(api, media_id, settled)
    assert media["status"] != "Failed", media
    assert media_bytes(server, media_id) == clip_bytes
    assert storage.list(upload_prefix(upload_id)) == []  # orphans go with the parts


def test_a_new_session_drops_the_parts_of_the_old_one(api: httpx.Client, server: Server, clip_bytes: bytes) -> None:
    upload = create_upload(api)
    first = HTTP.post(upload["url"], headers={"x-goog-resumable": "start"}).headers["Location"]
    assert committed(put_chunk(first, clip_bytes[:CHUNK], 0, len(clip_bytes))) == CHUNK
    assert len(part_keys(server, upload["uploadId"])) == 1

    second = HTTP.post(upload["url"], headers={"x-goog-resumable": "start"}).headers["Location"]

    assert part_keys(server, upload["uploadId"]) == []
    assert_error(put_chunk(first, clip_bytes[CHUNK:2 * CHUNK], CHUNK, len(clip_bytes)), 404)
    media_id = completed_media_id(send_in_chunks(second, clip_bytes))
    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_an_upload_sent_again_after_a_sweep_is_assembled_from_the_new_parts_only(
    api: httpx.Client, server: Server, clip_bytes: bytes
) -> None:
    """The sweeper resets the committed offset; parts recorded before it are no longer part of the upload."""
    upload = create_upload(api)
    assert committed(put_chunk(upload["url"], b"\0" * CHUNK, 0, len(clip_bytes))) == CHUNK
    with server.runtime.db.write() as session:
        session.get(Upload, upload["uploadId"]).expires_at = utcnow() - timedelta(hours=2)
    assert sweep_expired(server.runtime) == 1

    media_id = completed_media_id(send_in_chunks(upload["url"], clip_bytes))

    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes


def test_an_upload_begun_before_parts_were_recorded_is_assembled_from_its_listed_parts(
    api: httpx.Client, server: Server, clip_bytes: bytes
) -> None:
    """Migration 0008 leaves `parts` empty (None) on uploads in flight; their parts, old keys and new, are listed."""
    upload = create_upload(api)
    upload_id, storage = upload["uploadId"], server.runtime.storage
    assert committed(put_chunk(upload["url"], clip_bytes[:CHUNK], 0, len(clip_bytes))) == CHUNK
    [part] = part_keys(server, upload_id)
    storage.write(f"{upload_prefix(upload_id)}/parts/{0:020d}", [storage.read(part)])  # the key before 0008
    storage.delete(part)
    with server.runtime.db.write() as session:
        session.get(Upload, upload_id).parts = None

    media_id = completed_media_id(send_in_chunks(upload["url"], clip_bytes, CHUNK))

    wait_for(api, media_id, settled)
    assert media_bytes(server, media_id) == clip_bytes
