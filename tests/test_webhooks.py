"""Webhooks end to end: endpoints over the API and CLI, signed deliveries to real receivers on loopback,
retries, restarts, ordering and the delivery log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook as StandardWebhook

from reelhouse.cli import main
from reelhouse.settings import Settings
from reelhouse.webhooks.delivery import MAX_DELAY, backoff, retry_after
from tests.api_helpers import create_media, error_of, invalid_fields
from tests.conftest import free_port, make_token, start_server, wait_for

Answer = tuple[int, dict[str, str]]


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every POST; `answer(n)` decides the n-th reply (from 0)."""

    def __init__(self, port: int = 0, answer: Callable[[int], Answer] = lambda n: (200, {})) -> None:
        self.hits: list[Hit] = []
        self.answer = answer
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits.append(Hit(dict(self.headers.items()), body))
                status, headers = receiver.answer(len(receiver.hits) - 1)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 20) -> list[Hit]:
        poll(lambda: len(self.hits) >= count, f"{count} deliveries", timeout)
        return self.hits

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def poll(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """Waits until `condition()` is truthy and returns it; fails the test when it never is."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return value


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Retries after a fraction of a second, so a test sees several attempts."""
    return settings.model_copy(update={"webhook_retry_base": 0.2, "webhook_timeout": 10.0})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


def add_webhook(api: httpx.Client, url: str, **body: Any) -> dict[str, Any]:
    response = api.post("/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def deliveries(api: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/webhooks/{webhook_id}/deliveries", params={"orderBy": "asc", "limit": 50})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create_upload(api: httpx.Client) -> dict[str, Any]:
    response = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def fastpix_signature(secret: str, body: bytes) -> str:
    """Exactly spec section 9, keyed with the secret's base64 part."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def assert_signed(hit: Hit, secret: str) -> None:
    assert hit.headers["FastPix-Signature"] == fastpix_signature(secret, hit.body)
    StandardWebhook(secret).verify(hit.body, hit.headers)  # raises unless webhook-signature holds
    assert hit.headers["webhook-id"] == hit.event["id"]


# ---------------------------------------------------------------- events of a media's life


# What no step between creation and the PATCH changes.
STABLE = ("id", "workspaceId", "title", "mediaQuality", "playbackIds", "uploadId", "createdAt",
          "sourceAccess")


def test_upload_flow_events_arrive_in_order_signed_and_as_get_shows_them(
    api: httpx.Client, receiver: Receiver, clips: Path
) -> None:
    hook = add_webhook(api, receiver.url)
    upload = create_upload(api)
    put = httpx.put(upload["url"], content=(clips / "clip.mp4").read_bytes(), headers={"Content-Type": "video/mp4"})
    assert put.status_code in (200, 201), put.text
    media_id = wait_for(api, upload["uploadId"], lambda m: m["status"] in ("Ready", "Failed"))["id"]
    patched = api.patch(f"/on-demand/{media_id}", json={"metadata": {"stage": "patched"}}).json()["data"]
    before_delete = api.get(f"/on-demand/{media_id}").json()["data"]
    assert api.delete(f"/on-demand/{media_id}").status_code == 200

    poll(lambda: any(h.event["type"] == "video.media.deleted" for h in receiver.hits), "the deleted event")
    for hit in receiver.hits:
        assert_signed(hit, hook["secret"])
    upload_event, *media_events = [h.event for h in receiver.hits]
    assert upload_event["type"] == "video.media.upload"
    assert upload_event["object"] == {"type": "upload", "id": upload["uploadId"]}
    assert upload_event["data"] == upload  # rendered in the transaction that answered the POST
    expected = ["video.media.created", "video.upload.media_created", "video.media.ready", "video.media.updated",
                "video.media.deleted"]
    assert [e["type"] for e in media_events] == expected  # in order, none twice, nothing unexpected
    by_type = {e["type"]: e for e in media_events}
    for event in media_events:
        assert event["object"] == {"type": "media", "id": media_id}
        assert event["workspace"]["name"] == "Default" and event["workspace"]["id"] == patched["workspaceId"]
        assert event["attempts"] == []
        assert event["status"] == event["type"].rsplit(".", 1)[-1]
    created = by_type["video.media.created"]["data"]
    assert created["status"] == "Created"
    assert {k: created.get(k) for k in STABLE} == {k: patched.get(k) for k in STABLE}
    assert by_type["video.media.ready"]["data"]["status"] == "Ready"
    assert by_type["video.media.updated"]["data"] == patched
    assert by_type["video.media.deleted"]["data"] == before_delete


def test_failed_ingest_is_announced(api: httpx.Client, receiver: Receiver, file_server: str) -> None:
    add_webhook(api, receiver.url, events=["video.media.failed"])
    media_id = create_media(api, f"{file_server}/garbage.mp4")["id"]
    failed = wait_for(api, media_id, lambda m: m["status"] == "Failed")

    [hit] = receiver.wait(1)
    assert hit.event["type"] == "video.media.failed"
    assert hit.event["data"]["status"] == "Failed"
    assert hit.event["data"]["error"] == failed["error"]


def test_event_filter_and_cancel(api: httpx.Client, receiver: Receiver) -> None:
    hook = add_webhook(api, receiver.url, events=["video.media.upload.cancelled"])
    upload = create_upload(api)
    assert api.put(f"/on-demand/upload/{upload['uploadId']}/cancel").status_code == 200

    [hit] = receiver.wait(1)
    assert hit.event["type"] == "video.media.upload.cancelled"
    assert hit.event["data"]["status"] == "cancelled"
    assert len(deliveries(api, hook["id"])) == 1  # the upload-created event was never owed to this endpoint


# ---------------------------------------------------------------- never lost


def test_receiver_that_is_down_gets_every_event_when_it_comes_back(api: httpx.Client) -> None:
    port = free_port()  # nothing listens yet: connection refused
    hook = add_webhook(api, f"http://127.0.0.1:{port}/hook")
    uploads = [create_upload(api)["uploadId"] for _ in range(3)]
    poll(lambda: all(d["attempts"] for d in deliveries(api, hook["id"])), "a failed attempt at each delivery")

    receiver = Receiver(port)
    try:
        hits = receiver.wait(3)
        assert sorted(h.event["data"]["uploadId"] for h in hits) == sorted(uploads)
        log = poll(lambda: (d := deliveries(api, hook["id"])) and all(x["status"] == "delivered" for x in d) and d,
                   "every delivery delivered")
    finally:
        receiver.stop()
    for delivery in log:
        *failures, success = delivery["attempts"]
        assert failures and all(a["error"] and "statusCode" not in a for a in failures)
        assert success["statusCode"] == 200 and success["response"] == "ok"
        assert [a["number"] for a in delivery["attempts"]] == list(range(1, len(failures) + 2))


def test_event_pending_at_shutdown_is_delivered_after_restart(settings: Settings, credentials: tuple[str, str]) -> None:
    port = free_port()
    server = start_server(settings)
    with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
        hook = add_webhook(api, f"http://127.0.0.1:{port}/hook")
        upload_id = create_upload(api)["uploadId"]
        [pending] = poll(lambda: [d for d in deliveries(api, hook["id"]) if d["attempts"]], "a failed attempt")
        assert pending["status"] == "pending"
    server.stop()

    receiver = Receiver(port)
    server = start_server(settings)
    try:
        [hit] = receiver.wait(1)
        assert hit.event["data"]["uploadId"] == upload_id
    finally:
        server.stop()
        receiver.stop()


def test_errors_are_retried_honouring_retry_after(api: httpx.Client) -> None:
    answers = [(503, {"Retry-After": "1"}), (500, {}), (200, {})]
    receiver = Receiver(answer=lambda n: answers[n])
    try:
        hook = add_webhook(api, receiver.url)
        create_upload(api)
        hits = receiver.wait(3)
        [delivery] = poll(lambda: [d for d in deliveries(api, hook["id"]) if d["status"] == "delivered"], "delivered")
    finally:
        receiver.stop()
    assert len({h.event["id"] for h in hits}) == 1
    assert [len(h.event["attempts"]) for h in hits] == [0, 1, 2]  # each retry carries the attempts before it
    assert [a["statusCode"] for a in hits[2].event["attempts"]] == [503, 500]
    first, second, third = delivery["attempts"]
    assert [first["statusCode"], second["statusCode"], third["statusCode"]] == [503, 500, 200]
    assert all(isinstance(a["latencyMs"], int) for a in delivery["attempts"])
    waited = datetime.fromisoformat(second["startedAt"]) - datetime.fromisoformat(first["startedAt"])
    assert waited >= timedelta(seconds=1)  # the receiver's Retry-After, not the 0.2 s backoff


def test_410_disables_the_endpoint(api: httpx.Client) -> None:
    receiver = Receiver(answer=lambda n: (410, {}))
    try:
        hook = add_webhook(api, receiver.url)
        create_upload(api)
        receiver.wait(1)
        disabled = poll(lambda: (w := api.get(f"/webhooks/{hook['id']}").json()["data"]) and not w["enabled"] and w,
                        "the endpoint disabled")
    finally:
        receiver.stop()
    assert "410" in disabled["disabledReason"]
    [delivery] = deliveries(api, hook["id"])
    assert [a["statusCode"] for a in delivery["attempts"]] == [410]
    create_upload(api)
    assert len(deliveries(api, hook["id"])) == 1  # a disabled endpoint is owed nothing new

    enabled = api.patch(f"/webhooks/{hook['id']}", json={"enabled": True}).json()["data"]
    assert enabled["enabled"] is True and "disabledReason" not in enabled


def test_hanging_receiver_does_not_hold_up_another_endpoint(api: httpx.Client, receiver: Receiver) -> None:
    release = threading.Event()
    hanging = Receiver(answer=lambda n: (release.wait(30), (200, {}))[1])
    try:
        slow = add_webhook(api, hanging.url)
        add_webhook(api, receiver.url)
        create_upload(api)
        hanging.wait(1)  # the slow endpoint now holds its request open
        receiver.wait(1)
        [in_flight] = deliveries(api, slow["id"])
        assert in_flight["status"] == "pending" and in_flight["attempts"] == []  # its attempt has not ended
    finally:
        release.set()
        hanging.stop()
    poll(lambda: deliveries(api, slow["id"])[0]["status"] == "delivered", "the slow endpoint delivered")


# ---------------------------------------------------------------- the delivery log, redelivery, secrets


def test_delivery_log_and_redeliver(api: httpx.Client, receiver: Receiver) -> None:
    hook = add_webhook(api, receiver.url)
    create_upload(api)
    receiver.wait(1)
    [delivery] = poll(lambda: [d for d in deliveries(api, hook["id"]) if d["status"] == "delivered"], "delivered")
    assert delivery["eventType"] == "video.media.upload" and delivery["webhookId"] == hook["id"]
    assert delivery["eventId"] == receiver.hits[0].event["id"]

    response = api.post(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")

    assert response.status_code == 202, response.text
    assert response.json()["data"]["status"] == "pending"
    first, again = receiver.wait(2)
    assert again.event["id"] == first.event["id"]
    assert_signed(again, hook["secret"])
    [logged] = poll(lambda: [d for d in deliveries(api, hook["id"]) if len(d["attempts"]) == 2], "two attempts")
    assert logged["status"] == "delivered"
    assert error_of(api.post(f"/webhooks/{hook['id']}/deliveries/{hook['id']}/redeliver"), 404)


def test_rotated_secret_signs_next_to_the_old_one(api: httpx.Client, receiver: Receiver) -> None:
    hook = add_webhook(api, receiver.url)
    response = api.post(f"/webhooks/{hook['id']}/rotate-secret")
    assert response.status_code == 200, response.text
    rotated = response.json()["data"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    assert rotated["previousSecretExpiresAt"]
    assert "secret" not in api.get(f"/webhooks/{hook['id']}").json()["data"]

    create_upload(api)
    [hit] = receiver.wait(1)

    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    assert_signed(hit, rotated["secret"])
    StandardWebhook(hook["secret"]).verify(hit.body, hit.headers)


# ---------------------------------------------------------------- the endpoints API


def test_endpoints_crud_and_pagination(api: httpx.Client, receiver: Receiver) -> None:
    first = add_webhook(api, receiver.url, events=["video.media.ready", "video.media.ready"], enabled=False)
    second = add_webhook(api, receiver.url)
    assert first["events"] == ["video.media.ready"] and first["enabled"] is False
    assert "events" not in second  # every event type

    page = api.get("/webhooks", params={"limit": 1, "orderBy": "asc"}).json()
    assert [w["id"] for w in page["data"]] == [first["id"]]
    assert page["pagination"] == {"totalRecords": 2, "currentOffset": 1, "offsetCount": 2}
    assert all("secret" not in w for w in page["data"])

    updated = api.patch(f"/webhooks/{first['id']}", json={"events": None, "url": receiver.url + "/v2"}).json()["data"]
    assert "events" not in updated and updated["url"].endswith("/v2")
    assert api.delete(f"/webhooks/{first['id']}").json() == {"success": True}
    error_of(api.get(f"/webhooks/{first['id']}"), 404)
    assert "/v1/webhooks/{webhookId}/deliveries" in api.get("/openapi.json").json()["paths"]


def test_invalid_endpoints_are_refused_in_the_envelope(api: httpx.Client) -> None:
    assert invalid_fields(api.post("/webhooks", json={"url": "ftp://example.com/hook"})) == ["url"]
    assert invalid_fields(api.post("/webhooks", json={"url": "http://10.1.2.3/hook"})) == ["url"]  # private
    assert invalid_fields(api.post("/webhooks", json={})) == ["url"]
    unknown = api.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "events": ["video.media.ready", "nope"]})
    assert invalid_fields(unknown) == ["events"]
    assert "nope" in unknown.json()["error"]["fields"][0]["message"]
    assert invalid_fields(api.post("/webhooks", json={"url": "http://127.0.0.1:9/h", "events": []})) == ["events"]
    error_of(api.post("/webhooks", content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    hook = add_webhook(api, "http://127.0.0.1:9/h")
    assert invalid_fields(api.patch(f"/webhooks/{hook['id']}", json={"url": "file:///etc/passwd"})) == ["url"]


def test_another_workspace_cannot_see_or_touch_an_endpoint(api: httpx.Client, settings: Settings) -> None:
    hook = add_webhook(api, "http://127.0.0.1:9/h")
    with httpx.Client(base_url=str(api.base_url), auth=make_token(settings, "Other"), timeout=30) as other:
        assert other.get("/webhooks").json()["data"] == []
        error_of(other.get(f"/webhooks/{hook['id']}"), 404)
        error_of(other.patch(f"/webhooks/{hook['id']}", json={"enabled": False}), 404)
        error_of(other.post(f"/webhooks/{hook['id']}/rotate-secret"), 404)
        error_of(other.get(f"/webhooks/{hook['id']}/deliveries"), 404)
        error_of(other.delete(f"/webhooks/{hook['id']}"), 404)
    assert api.get(f"/webhooks/{hook['id']}").json()["data"]["enabled"] is True


# ---------------------------------------------------------------- CLI and retry rules


def test_cli_manages_endpoints(tmp_path: Path) -> None:
    def cli(*args: str) -> str:
        result = CliRunner().invoke(main, [*args, "--data-dir", str(tmp_path)])
        assert result.exit_code == 0, result.output
        return result.output

    added = cli("webhooks", "add", "https://93.184.215.14/hook", "--events", "video.media.ready,video.media.failed")
    webhook_id = added.split()[2]
    secret = added.split()[4]
    assert secret.startswith("whsec_")
    listed = cli("webhooks", "list")
    assert webhook_id in listed and "video.media.ready,video.media.failed" in listed and secret not in listed
    rotated = cli("webhooks", "rotate-secret", webhook_id).split()[1]
    assert rotated.startswith("whsec_") and rotated != secret
    assert cli("webhooks", "deliveries", webhook_id) == ""
    bad = CliRunner().invoke(main, ["webhooks", "add", "http://127.0.0.1/x", "--data-dir", str(tmp_path)])
    assert bad.exit_code != 0 and "private" in bad.output
    unknown = CliRunner().invoke(main, ["webhooks", "add", "https://93.184.215.14/", "--events", "video.nope",
                                        "--data-dir", str(tmp_path)])
    assert unknown.exit_code != 0 and "video.nope" in unknown.output
    cli("webhooks", "rm", webhook_id)
    assert webhook_id not in cli("webhooks", "list")


def test_retry_after_and_backoff() -> None:
    assert retry_after("120") == 120
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("-5") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: no extra wait
    assert 5 <= backoff(1, 10) <= 15
    assert 10 <= backoff(2, 10) <= 30
    assert backoff(60, 10) <= 1.5 * MAX_DELAY
    assert backoff(1, 10, asked=600) == 600
