"""reelhouse_sdk against a real reelhouse server: the seed's methods in all three forms (sync, async, standalone),
typed errors, page iterators, idempotent creates, bad input refused before any request."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from reelhouse_sdk import Reelhouse, ReelhouseCore, RequestOptions, Result, Security, errors, funcs, models
from sqlalchemy import select, update

from reelhouse.api.idempotency import REPLAY_WINDOW, sweep_expired_keys
from reelhouse.db.models import IdempotencyKey, utcnow
from tests.conftest import Server, module_server, wait_until


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, tuple[str, str]]]:
    with module_server(tmp_path_factory) as running:
        yield running


@pytest.fixture
def client(shared: tuple[Server, tuple[str, str]]) -> Iterator[Reelhouse]:
    server, (token_id, secret) = shared
    with Reelhouse(security=Security(username=token_id, password=secret), server_url=f"{server.url}/v1/",
                   retry_config=None, timeout_ms=30_000) as c:
        yield c


def ready_media(client: Reelhouse, file_server: str, **settings: Any) -> models.Media:
    created = client.input_video.create(body={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                              "access_policy": "public", **settings})
    return client.manage_videos.wait_until_ready(created.data.id, timeout=90, poll_interval=0.2)


Caller = Callable[..., Any]


def sync_caller(client: Reelhouse, namespace: str = "manage_videos") -> Caller:
    return lambda name, **kw: getattr(getattr(client, namespace), name)(**kw)


def async_caller(client: Reelhouse, namespace: str = "manage_videos") -> Caller:
    async def call(name: str, **kw: Any) -> Any:
        try:
            return await getattr(getattr(client, namespace), f"{name}_async")(**kw)
        finally:
            await client.aclose()  # each asyncio.run has its own loop: the connection pool must not outlive it

    return lambda name, **kw: asyncio.run(call(name, **kw))


def standalone_caller(client: Reelhouse, namespace: str = "manage_videos") -> Caller:
    """The standalone function of each method, on a bare ReelhouseCore; a failed Result raises its error so one
    scenario checks all three forms."""
    core = ReelhouseCore(security=client.security, server_url=client.server_url, retry_config=None)

    def call(name: str, **kw: Any) -> Any:
        result = getattr(funcs, f"{namespace}_{name}")(core, **kw)
        assert isinstance(result, Result)
        assert result.ok == (result.error is None)
        if not result.ok:
            raise result.error
        return result.value

    return call


FORMS = pytest.mark.parametrize("form", [sync_caller, async_caller, standalone_caller],
                                ids=["sync", "async", "standalone"])


@FORMS
def test_every_seed_method(form: Callable[[Reelhouse], Caller], client: Reelhouse, file_server: str) -> None:
    call = form(client)
    media = ready_media(client, file_server)

    got = call("get", media_id=media.id).data
    assert got.status == models.MediaStatus.READY and got.playback_ids[0].access_policy == models.AccessPolicy.PUBLIC
    assert isinstance(got.created_at, datetime) and got.duration == pytest.approx(2, abs=0.3)

    updated = call("update", media_id=media.id, body={"metadata": {"user": "fastpix_admin"}, "title": "test title"})
    assert (updated.data.title, updated.data.metadata) == ("test title", {"user": "fastpix_admin"})

    info = call("retrieve_media_input_info", media_id=media.id).data
    assert info.configuration["url"].endswith("/clip.mp4") and info.file.container_format

    track = call("add_track", media_id=media.id, body={"tracks": {
        "url": f"{file_server}/tone.m4a", "type": "audio", "languageCode": "it", "languageName": "Italian"}}).data
    assert (track.type, track.language_name) == ("audio", "Italian")
    with pytest.raises(errors.TrackDuplicateRequestError, match="Duplicate track"):
        call("add_track", media_id=media.id, body=models.AddTrackRequest(tracks=models.TrackRequest(
            url=f"{file_server}/tone.m4a", type="audio", language_code="it", language_name="Italian")))
    renamed = call("update_track", media_id=media.id, track_id=track.id, body={"language_name": "french"}).data
    assert renamed.language_name == "french"

    source_audio = next(t for t in got.tracks if t.type == "audio")
    generated = call("generate_subtitle_track", media_id=media.id, track_id=source_audio.id,
                     body={"languageName": "English", "languageCode": "en-US"}).data
    assert (generated.type, generated.language_code) == ("subtitle", "en-US")

    with pytest.raises(errors.BadRequestError, match="Summary not enabled") as raised:
        call("get_summary", media_id=media.id)
    assert raised.value.status_code == 400 and raised.value.code == 400

    mp4 = call("update_mp4_support", media_id=media.id, body={"mp4Support": "capped_4k"}).data
    assert mp4.id == media.id
    with pytest.raises(errors.DuplicateMp4SupportError):
        call("update_mp4_support", media_id=media.id, body={"mp4_support": "capped_4k"})

    upload = client.input_video.upload(body={"push_media_settings": {"access_policy": "public"}}).data
    listed = call("list_uploads", limit=50)
    assert upload.upload_id in {u.upload_id for u in listed.data} and listed.pagination.total_records >= 1
    cancelled = call("cancel_upload", upload_id=upload.upload_id).data
    assert cancelled.status == "cancelled"

    assert call("delete", media_id=media.id).success
    with pytest.raises(errors.MediaNotFoundError) as missing:
        call("get", media_id=media.id)
    assert missing.value.status_code == 404 and isinstance(missing.value, errors.FastpixDefaultError)


def test_typed_errors(client: Reelhouse, shared: tuple[Server, tuple[str, str]]) -> None:
    server, _ = shared
    with Reelhouse(security={"username": "nobody", "password": "wrong"}, server_url=server.url,
                   retry_config=None) as stranger, pytest.raises(errors.InvalidPermissionError) as denied:
        stranger.manage_videos.list()
    assert denied.value.status_code == 401 and "Unauthorized" in str(denied.value)

    with pytest.raises(errors.ValidationError) as invalid:
        client.manage_videos.get(media_id="not-a-uuid")
    assert [(f.field, f.message) for f in invalid.value.fields] == [("mediaId", "is invalid")]
    assert "mediaId: is invalid" in str(invalid.value)

    with pytest.raises(errors.ValidationError) as refused:  # the server's own limit: at most 10 metadata keys
        client.input_video.create(body={"inputs": [{"type": "video", "url": "https://example.com/a.mp4"}],
                                        "metadata": {f"k{i}": "v" for i in range(11)}})
    assert refused.value.fields[0].field == "metadata"

    with pytest.raises(errors.BadRequestError, match="Invalid input URL: only http and https"):
        client.input_video.create(body={"inputs": [{"type": "video", "url": "ftp://example.com/a.mp4"}]})


def test_bad_input_fails_before_any_request(client: Reelhouse) -> None:
    with pytest.raises(TypeError, match="media_id must be a string"):
        client.manage_videos.get(media_id=42)
    with pytest.raises(TypeError):
        client.manage_videos.get(media_id="x", colour="blue")
    with pytest.raises(ValueError, match="titel"):
        client.manage_videos.update(media_id="x", body={"titel": "typo"})
    with pytest.raises(ValueError, match="limit"):
        client.manage_videos.list(limit=500)
    with pytest.raises(TypeError, match="options"):
        client.manage_videos.list(options={"retries": None})
    with pytest.raises(ValueError, match="server_url"):
        Reelhouse(security={"username": "a", "password": "b"}, server_url="localhost:8000")


def test_credentials_and_url_from_the_environment(shared: tuple[Server, tuple[str, str]],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server, (token_id, secret) = shared
    monkeypatch.setenv("REELHOUSE_URL", server.url)  # no /v1: the client adds it
    monkeypatch.setenv("REELHOUSE_TOKEN_ID", token_id)
    monkeypatch.setenv("REELHOUSE_TOKEN_SECRET", secret)
    with Reelhouse(retry_config=None) as client:
        assert client.manage_videos.list(limit=1).success


def test_pages_are_iterated_to_the_end(client: Reelhouse) -> None:
    made = {client.input_video.upload(body={"cors_origin": "*"}).data.upload_id for _ in range(3)}
    seen = [u.upload_id for u in client.manage_videos.iter_uploads(limit=1)]
    assert made <= set(seen) and len(seen) == len(set(seen)) == client.manage_videos.list_uploads().pagination.total_records
    for upload_id in made:
        client.manage_videos.cancel_upload(upload_id=upload_id)


def test_media_iterators_sync_and_async(client: Reelhouse, file_server: str) -> None:
    ids = {client.input_video.create(body={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}]}).data.id
           for _ in range(2)}
    assert ids <= {m.id for m in client.manage_videos.iter(limit=1)}

    async def collect() -> set[str]:
        try:
            return {m.id async for m in client.manage_videos.iter_async(limit=1)}
        finally:
            await client.aclose()

    assert ids <= asyncio.run(collect())


def test_idempotent_create_returns_the_first_media(client: Reelhouse, file_server: str) -> None:
    body = {"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}], "metadata": {"order": "1"}}
    before = client.manage_videos.list(limit=1).pagination.total_records
    first = client.input_video.create(body=body, idempotency_key="order-1")
    again = client.input_video.create(body=dict(reversed(body.items())), idempotency_key="order-1")
    assert again.data.id == first.data.id and again.data.created_at == first.data.created_at
    assert client.manage_videos.list(limit=1).pagination.total_records == before + 1

    with pytest.raises(errors.ValidationError, match="Idempotency-Key reused"):
        client.input_video.create(body={**body, "metadata": {"order": "2"}}, idempotency_key="order-1")
    with pytest.raises(errors.ValidationError, match="Idempotency-Key reused"):  # a key names one request
        client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="order-1")
    upload = client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="upload-1")
    assert client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="upload-1").data.upload_id == \
        upload.data.upload_id


# --- the rest of the API: playback ids, signing keys, AI toggles, webhooks ----------------------------------

@pytest.fixture(scope="module")
def pending_media(shared: tuple[Server, tuple[str, str]], file_server: str) -> models.Media:
    """A media of this module's server, without waiting for it: playback ids and toggles need no Ready media."""
    server, (token_id, secret) = shared
    with Reelhouse(security={"username": token_id, "password": secret}, server_url=server.url) as c:
        return c.input_video.create(body={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}]}).data


@FORMS
def test_playback_ids_and_their_rules(form: Callable[..., Caller], client: Reelhouse,
                                      pending_media: models.Media) -> None:
    call, media_id = form(client, "playback"), pending_media.id
    made = call("create_playback_id", media_id=media_id, body={"access_policy": "private"}).data
    assert made.access_policy == models.AccessPolicy.PRIVATE and made.id
    assert made.id in {p.id for p in call("list_playback_ids", media_id=media_id).data}
    assert call("get_playback_id", media_id=media_id, playback_id=made.id).data.id == made.id

    domains = call("update_domain_restrictions", media_id=media_id, playback_id=made.id,
                   body={"defaultPolicy": "deny", "allow": ["example.com"]}).data
    assert (domains.default_policy, domains.allow) == ("deny", ["example.com"])
    kept = call("update_domain_restrictions", media_id=media_id, playback_id=made.id,
                body={"deny": ["bad.example"]}).data  # a PATCH keeps what it leaves out
    assert (kept.default_policy, kept.allow, kept.deny) == ("deny", ["example.com"], ["bad.example"])
    agents = call("update_user_agent_restrictions", media_id=media_id, playback_id=made.id,
                  body=models.RestrictionRulesRequest(deny=["curl"])).data
    assert (agents.default_policy, agents.deny) == ("allow", ["curl"])
    rules = call("get_playback_id", media_id=media_id, playback_id=made.id).data.access_restrictions
    assert rules.domains.allow == ["example.com"] and rules.user_agents.deny == ["curl"]

    assert call("delete_playback_id", media_id=media_id, playback_id=made.id).success
    with pytest.raises(errors.NotFoundError):
        call("get_playback_id", media_id=media_id, playback_id=made.id)
    assert made.id not in {p.id for p in call("list_playback_ids", media_id=media_id).data}


@FORMS
def test_signing_keys(form: Callable[..., Caller], client: Reelhouse) -> None:
    call = form(client, "signing_keys")
    made = call("create").data
    assert made.private_key and made.id
    assert made.id in {k.id for k in call("list", limit=50).data}
    got = call("get", signing_key_id=made.id).data
    assert got.id == made.id and got.public_key and got.private_key is None  # shown once, at creation
    assert call("delete", signing_key_id=made.id).success
    with pytest.raises(errors.NotFoundError):
        call("get", signing_key_id=made.id)


@FORMS
def test_in_video_ai_feature_toggles(form: Callable[..., Caller], client: Reelhouse,
                                     pending_media: models.Media) -> None:
    call, media_id = form(client, "in_video_ai_features"), pending_media.id
    assert call("update_chapters", media_id=media_id, body={"chapters": True}).data.is_chapters_enabled
    assert client.manage_videos.get(media_id=media_id).data.chapters is not None
    assert call("update_chapters", media_id=media_id, body=models.UpdateChaptersRequest(chapters=False)) \
        .data.is_chapters_enabled is False
    assert client.manage_videos.get(media_id=media_id).data.chapters is None

    on = call("update_summary", media_id=media_id, body={"generate": True, "summaryLength": 50}).data
    assert (on.media_id, on.is_summary_enabled) == (media_id, True)
    # asked for: preparing, or already made or given up on once the media is Ready and the job ran
    assert client.manage_videos.get(media_id=media_id).data.summary.status in ("preparing", "ready", "failed")
    assert call("update_summary", media_id=media_id, body={"generate": False}).data.is_summary_enabled is False
    assert client.manage_videos.get(media_id=media_id).data.summary is None
    with pytest.raises(errors.BadRequestError, match="Summary not enabled"):
        client.manage_videos.get_summary(media_id=media_id)
    with pytest.raises(errors.MediaNotFoundError):
        call("update_summary", media_id="3fa85f64-5717-4562-b3fc-2c963f66afa6", body={"generate": True})


@FORMS
def test_webhook_endpoints_and_deliveries(form: Callable[..., Caller], client: Reelhouse,
                                          odd_server: Callable[[int, str, bytes], str]) -> None:
    call, target = form(client, "webhooks"), odd_server(200, "text/plain", b"ok") + "/hook"
    made = call("create", body={"url": target, "events": ["video.media.upload"]}).data
    assert made.secret and made.events == ["video.media.upload"] and made.enabled
    assert call("get", webhook_id=made.id).data.secret is None  # shown at creation and rotation only
    assert made.id in {w.id for w in call("list", limit=50).data}

    rotated = call("rotate_secret", webhook_id=made.id).data
    assert rotated.secret and rotated.secret != made.secret and rotated.previous_secret_expires_at is not None

    upload = client.input_video.upload(body={"cors_origin": "*"}).data
    deliveries: list[models.Delivery] = []

    def delivered() -> bool:
        deliveries[:] = call("list_deliveries", webhook_id=made.id).data
        return bool(deliveries) and deliveries[0].status == "delivered"

    wait_until(delivered, what="a delivery")
    [delivery] = deliveries
    assert (delivery.event_type, delivery.object_id) == ("video.media.upload", upload.upload_id)
    assert delivery.attempts[0].status_code == 200
    again = call("redeliver", webhook_id=made.id, delivery_id=delivery.id).data
    assert again.id == delivery.id and again.status == "pending"
    wait_until(lambda: len(call("list_deliveries", webhook_id=made.id).data[0].attempts) == 2, what="a redelivery")

    paused = call("update", webhook_id=made.id, body={"enabled": False}).data
    assert (paused.enabled, paused.events) == (False, ["video.media.upload"])  # left out: kept
    every = call("update", webhook_id=made.id, body=models.UpdateWebhookRequest(events=None)).data
    assert (every.events, every.enabled) == (None, False)  # set to None: sent as null, every event again

    assert call("delete", webhook_id=made.id).success
    with pytest.raises(errors.NotFoundError):
        call("get", webhook_id=made.id)


def test_wait_until_ready_async(client: Reelhouse, file_server: str) -> None:
    async def both() -> tuple[models.Media, errors.MediaFailedError]:
        try:
            good, bad = [(await client.input_video.create_async(body={
                "inputs": [{"type": "video", "url": f"{file_server}/{name}"}]})).data for name in ("clip.mp4", "page.html")]
            ready = await client.manage_videos.wait_until_ready_async(good.id, timeout=90, poll_interval=0.2)
            with pytest.raises(errors.MediaFailedError) as failed:
                await client.manage_videos.wait_until_ready_async(bad.id, timeout=90, poll_interval=0.2)
            return ready, failed.value
        finally:
            await client.aclose()

    ready, failed = asyncio.run(both())
    assert ready.status == models.MediaStatus.READY and ready.duration == pytest.approx(2, abs=0.3)
    assert failed.media.status == models.MediaStatus.FAILED and "failed:" in str(failed)


def test_expired_idempotency_keys_are_swept(client: Reelhouse, shared: tuple[Server, tuple[str, str]]) -> None:
    server, _ = shared
    first = client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="old-key").data
    kept = client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="fresh-key").data
    with server.runtime.db.write() as session:  # a day and a bit later
        session.execute(update(IdempotencyKey).where(IdempotencyKey.key == "old-key")
                        .values(created_at=utcnow() - REPLAY_WINDOW - timedelta(minutes=1)))
    assert sweep_expired_keys(server.runtime) == 1
    with server.runtime.db.read() as session:
        assert set(session.scalars(select(IdempotencyKey.key))) >= {"fresh-key"}
        assert session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "old-key")) is None
    assert sweep_expired_keys(server.runtime) == 0
    # the swept key names a new request; the fresh one still replays
    assert client.input_video.upload(body={"cors_origin": "https://a.example"}, idempotency_key="old-key") \
        .data.upload_id != first.upload_id
    assert client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="fresh-key").data.upload_id == \
        kept.upload_id


# --- servers that misbehave ---------------------------------------------------------------------------------

@pytest.fixture
def odd_server() -> Iterator[Callable[[int, str, bytes], str]]:
    """A server that answers every request (GET or POST) with one fixed (status, content type, body)."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, content_type: str, body: bytes) -> str:
        class Fixed(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Fixed)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()


def test_html_and_garbage_answers_are_readable_errors(odd_server: Callable[[int, str, bytes], str]) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    cases = [
        (odd_server(502, "text/html", page), errors.ServerError, "502 Bad Gateway"),
        (odd_server(200, "text/html", page), errors.UnexpectedResponseError, "502 Bad Gateway"),
        (odd_server(200, "application/json", b'{"success": true, "data": {"nope": 1}}'),
         errors.UnexpectedResponseError, "not a valid"),
        (odd_server(404, "application/octet-stream", bytes(range(40))), errors.NotFoundError, "HTTP 404"),
    ]
    for url, error, text in cases:
        with Reelhouse(security={"username": "a", "password": "b"}, server_url=url, retry_config=None) as c, \
                pytest.raises(error, match=text) as raised:
            c.manage_videos.get(media_id="3fa85f64-5717-4562-b3fc-2c963f66afa6")
        assert isinstance(raised.value, errors.ReelhouseError) and raised.value.status_code in (200, 404, 502)


def test_network_failures_are_typed() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    with Reelhouse(security={"username": "a", "password": "b"}, server_url=f"http://127.0.0.1:{closed_port}",
                   retry_config=None) as c, pytest.raises(errors.ConnectionError):
        c.manage_videos.list()

    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with Reelhouse(security={"username": "a", "password": "b"}, server_url=url, retry_config=None) as c:
            with pytest.raises(errors.TimeoutError):
                c.manage_videos.list(options=RequestOptions(timeout_ms=300))
            result = funcs.manage_videos_list(c, options=RequestOptions(timeout_ms=300))
            assert not result.ok and isinstance(result.error, errors.TimeoutError)


def test_the_sdk_imports_nothing_from_the_server() -> None:
    import ast
    from pathlib import Path

    import reelhouse_sdk

    for path in Path(reelhouse_sdk.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "reelhouse" or n.startswith("reelhouse.") for n in names), path
