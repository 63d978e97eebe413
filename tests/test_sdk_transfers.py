"""reelhouse_sdk's transfers against a real server: resumable uploads through a dropped connection and a server
restart, retries behind a misbehaving proxy, webhook verification of real deliveries, signed playback, and the
`reelhouse media` CLI as a subprocess."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from reelhouse_sdk import BackoffStrategy, Reelhouse, RequestOptions, RetryConfig, errors, webhooks
from reelhouse_sdk.playback import sign_token
from reelhouse_sdk.uploads import CHUNK_UNIT

from reelhouse.storage.keys import original_key
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS, Server, module_server, start_server, wait_until

FAST_RETRIES = RetryConfig("backoff", BackoffStrategy(50, 200, 2.0, 30_000), retry_connection_errors=True)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, tuple[str, str]]]:
    with module_server(tmp_path_factory) as running:
        yield running


def client_for(url: str, credentials: tuple[str, str], retries: RetryConfig | None = FAST_RETRIES) -> Reelhouse:
    return Reelhouse(security={"username": credentials[0], "password": credentials[1]}, server_url=url,
                     retry_config=retries, timeout_ms=15_000)


@pytest.fixture(scope="module")
def big_clip(clips: Path) -> Path:
    """A real video over 1 MiB (noise compresses badly), so it takes several 256 KiB chunks."""
    path = make_clip(clips / "noisy.mp4", seconds=2, extra=["-vf", "noise=alls=100:allf=t", "-b:v", "6M"])
    assert path.stat().st_size > 4 * CHUNK_UNIT
    return path


def stored_original(server: Server, media_id: str) -> bytes:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return server.runtime.storage.read(original_key(media_id))
        except Exception:
            time.sleep(0.2)
    raise AssertionError("the original was never stored")


class FlakyProxy:
    """Forwards HTTP to `target`, misbehaving on the first `count` requests: `503`, `429` (Retry-After: 1),
    `drop` (close without answering) or `cut` (read part of a PUT body, then close)."""

    def __init__(self, target: str, mode: str, count: int) -> None:
        self.target, self.mode, self.left, self.seen = target, mode, count, 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                proxy.seen += 1
                length = int(self.headers.get("Content-Length") or 0)
                if proxy.left > 0 and (proxy.mode != "cut" or self.command == "PUT" and length >= CHUNK_UNIT):
                    proxy.left -= 1
                    if proxy.mode in ("drop", "cut"):
                        if proxy.mode == "cut":
                            self.rfile.read(length // 2)
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.rfile.read(length)
                    status = 503 if proxy.mode == "503" else 429
                    self.send_response(status)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                answer = httpx.request(self.command, proxy.target + self.path, headers=headers, content=body)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = handle_one

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.mark.parametrize("mode", ["503", "429", "drop"])
def test_retries_get_through_a_misbehaving_server(shared: tuple[Server, tuple[str, str]], mode: str) -> None:
    server, credentials = shared
    proxy = FlakyProxy(server.url, mode, count=2)
    try:
        with client_for(proxy.url, credentials) as client:
            started = time.monotonic()
            assert client.manage_videos.list(limit=1).success
            assert proxy.seen == 3
            if mode == "429":  # Retry-After: 1, twice
                assert time.monotonic() - started >= 1.9
            proxy.left = 1
            with pytest.raises(errors.FastpixDefaultError if mode != "drop" else errors.ConnectionError):
                client.manage_videos.list(options=RequestOptions(retries=None))
    finally:
        proxy.close()


def test_a_post_is_retried_only_with_an_idempotency_key(shared: tuple[Server, tuple[str, str]]) -> None:
    server, credentials = shared
    proxy = FlakyProxy(server.url, "503", count=1)
    try:
        with client_for(proxy.url, credentials) as client:
            with pytest.raises(errors.ServerError):
                client.input_video.upload(body={"cors_origin": "*"})
            proxy.left = 2
            made = client.input_video.upload(body={"cors_origin": "*"}, idempotency_key="retry-me")
            assert made.data.upload_id and proxy.seen == 4
    finally:
        proxy.close()


def test_upload_resumes_after_a_dropped_connection(shared: tuple[Server, tuple[str, str]], big_clip: Path) -> None:
    server, credentials = shared
    proxy = FlakyProxy(server.url, "cut", count=2)
    try:
        with client_for(server.url, credentials) as direct:
            upload = direct.input_video.upload(body={"push_media_settings": {"access_policy": "public"}}).data
            seen: list[int] = []
            with client_for(proxy.url, credentials) as through_proxy:
                # the signed URL names the server; send it through the proxy instead
                proxy_url = upload.url.replace(server.url, proxy.url)
                media = through_proxy.uploads.resume(proxy_url, big_clip, chunk_size=CHUNK_UNIT,
                                                     progress=lambda sent, total: seen.append(sent))
            assert proxy.left == 0, "the connection was never cut"
            assert seen == sorted(seen) and seen[-1] == big_clip.stat().st_size
            assert stored_original(server, media.id) == big_clip.read_bytes()
    finally:
        proxy.close()


def test_upload_survives_a_server_restart(tmp_path: Path, big_clip: Path) -> None:
    from tests.conftest import make_token, server_settings

    settings = server_settings(tmp_path / "data", None)
    credentials = make_token(settings)
    running = {"server": start_server(settings)}
    restarted = threading.Event()

    def restart_once(sent: int, total: int) -> None:
        if sent >= 2 * CHUNK_UNIT and not restarted.is_set():
            restarted.set()
            running["server"].stop()
            threading.Timer(1.0, lambda: running.update(server=start_server(settings))).start()

    try:
        with client_for(running["server"].url, credentials) as client:
            media = client.uploads.upload_file(big_clip, chunk_size=CHUNK_UNIT, progress=restart_once, title="restart")
            assert restarted.is_set() and media.title == "restart"
            assert stored_original(running["server"], media.id) == big_clip.read_bytes()
    finally:
        wait_until(lambda: "server" in running, what="restart")
        running["server"].stop()


def test_bad_files_are_refused_and_leave_no_media(shared: tuple[Server, tuple[str, str]], tmp_path: Path,
                                                  big_clip: Path) -> None:
    server, credentials = shared
    with client_for(server.url, credentials) as client:
        before = client.manage_videos.list_uploads().pagination.total_records
        with pytest.raises(errors.UploadError, match="no such file"):
            client.uploads.upload_file(tmp_path / "missing.mp4")
        (tmp_path / "empty.mp4").write_bytes(b"")
        with pytest.raises(errors.UploadError, match="empty"):
            client.uploads.upload_file(tmp_path / "empty.mp4")
        assert client.manage_videos.list_uploads().pagination.total_records == before  # nothing was created

        changing = tmp_path / "changing.mp4"
        changing.write_bytes(big_clip.read_bytes())

        def append(sent: int, total: int) -> None:
            if sent and sent < total:
                with changing.open("ab") as f:
                    f.write(b"more")

        made: list[Any] = []
        with pytest.raises(errors.UploadError, match="changed during the upload"):
            client.uploads.upload_file(changing, chunk_size=CHUNK_UNIT, progress=append, on_upload=made.append)
        assert client.manage_videos.list_uploads(limit=50).data  # the upload is there, cancelled
        cancelled = [u for u in client.manage_videos.iter_uploads() if u.upload_id == made[0].upload_id]
        assert cancelled[0].status == "cancelled"


class Receiver:
    """Records webhook deliveries (raw body and headers)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.deliveries.append((body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"


def test_webhook_deliveries_verify(shared: tuple[Server, tuple[str, str]]) -> None:
    server, credentials = shared
    receiver = Receiver()
    try:
        with client_for(server.url, credentials) as client:
            endpoint = client.webhooks.create(body={"url": receiver.url, "events": ["video.media.upload"]}).data
            upload = client.input_video.upload(body={"cors_origin": "*"}).data
            wait_until(lambda: receiver.deliveries, what="a delivery")
            body, headers = receiver.deliveries[0]
            event = webhooks.verify(body, headers, endpoint.secret)
            assert event["type"] == "video.media.upload" and event["data"]["uploadId"] == upload.upload_id

            fastpix_only = {"FastPix-Signature": headers["FastPix-Signature"]}
            assert webhooks.verify(body, fastpix_only, endpoint.secret.removeprefix("whsec_"))["id"] == event["id"]
            for tampered, hdrs in [(body + b" ", headers), (body + b" ", fastpix_only)]:
                with pytest.raises(errors.WebhookVerificationError):
                    webhooks.verify(tampered, hdrs, endpoint.secret)
            other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
            with pytest.raises(errors.WebhookVerificationError):
                webhooks.verify(body, headers, other_secret)
            with pytest.raises(errors.WebhookVerificationError, match="away from now"):
                webhooks.verify(body, headers, endpoint.secret, tolerance=-1)
            client.webhooks.delete(webhook_id=endpoint.id)
    finally:
        receiver.httpd.shutdown()


def test_a_signed_token_opens_a_private_stream(shared: tuple[Server, tuple[str, str]], file_server: str) -> None:
    server, credentials = shared
    with client_for(server.url, credentials) as client:
        created = client.input_video.create(body={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                                  "access_policy": "private"}).data
        media = client.manage_videos.wait_until_ready(created.id, timeout=90, poll_interval=0.2)
        key = client.signing_keys.create().data
        playback_id = media.playback_ids[0].id
        assert httpx.get(client.playback.stream_url(playback_id)).status_code == 403
        token = sign_token(playback_id, key.id, key.private_key, expires_in=60)
        played = httpx.get(client.playback.stream_url(playback_id, token=token))
        assert played.status_code == 200 and played.text.startswith("#EXTM3U")
        assert httpx.get(client.playback.stream_url(playback_id, token=token[:-4] + "AAAA")).status_code == 403


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reelhouse", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


@IN_ONE_PASS  # the CLI speaks HTTP through the SDK: the server's database is not what it tests
def test_media_cli(shared: tuple[Server, tuple[str, str]], clips: Path) -> None:
    server, (token_id, secret) = shared
    env = {"REELHOUSE_URL": server.url, "REELHOUSE_TOKEN_ID": token_id, "REELHOUSE_TOKEN_SECRET": secret}

    uploaded = run_cli("media", "upload", str(clips / "clip.mp4"), "--title", "From the CLI", "--wait", "--json",
                       env=env)
    assert uploaded.returncode == 0, uploaded.stderr
    [made] = json.loads(uploaded.stdout)
    assert made["status"] == "Ready" and made["title"] == "From the CLI"
    playlist = httpx.get(made["streamUrl"])
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")

    table = run_cli("media", "list", env=env)
    assert table.returncode == 0 and made["id"] in table.stdout and "From the CLI" in table.stdout
    got = json.loads(run_cli("media", "get", made["id"], "--json", env=env).stdout)
    assert got["id"] == made["id"] and got["status"] == "Ready"
    renamed = run_cli("media", "update", made["id"], "--title", "Renamed", "--meta", "k=v", "--json", env=env)
    assert json.loads(renamed.stdout)["metadata"] == {"k": "v"}
    assert run_cli("media", "mp4", made["id"], "capped-4k", env=env).returncode == 0

    summary = run_cli("media", "summary", made["id"], env=env)
    assert summary.returncode == 1 and summary.stderr.strip() == \
        "Error: Summary not enabled: Summary is not enabled for the requested media"
    missing = run_cli("media", "get", "3fa85f64-5717-4562-b3fc-2c963f66afa6", env=env)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "not found" in missing.stderr.lower()

    upload_id = Reelhouse(security={"username": token_id, "password": secret}, server_url=server.url) \
        .input_video.upload(body={"cors_origin": "*"}).data.upload_id
    assert upload_id in run_cli("uploads", "list", env=env).stdout
    cancelled = json.loads(run_cli("uploads", "cancel", upload_id, "--json", env=env).stdout)
    assert cancelled["status"] == "cancelled"
    assert run_cli("media", "delete", made["id"], env=env).returncode == 0


@IN_ONE_PASS
def test_media_cli_tracks_subtitles_and_what_people_read(shared: tuple[Server, tuple[str, str]], clips: Path,
                                                         file_server: str) -> None:
    server, (token_id, secret) = shared
    env = {"REELHOUSE_URL": server.url, "REELHOUSE_TOKEN_ID": token_id, "REELHOUSE_TOKEN_SECRET": secret}

    uploaded = run_cli("media", "upload", str(clips / "clip.mp4"), env=env)
    assert uploaded.returncode == 0, uploaded.stderr
    header, row = uploaded.stdout.splitlines()
    assert header.split() == ["id", "status", "title", "streamUrl"]
    media_id, rest = row.split(maxsplit=1)
    columns, url = rest.rsplit(maxsplit=1)
    status = columns.removesuffix("clip.mp4").strip()  # as far as ingest got by then, e.g. "In Queue"
    assert columns.endswith(" clip.mp4") and url.startswith(f"{server.url}/stream/")
    assert status in ("Created", "Downloading", "Downloaded", "Validating", "In Queue", "Processing", "Ready")
    [bar] = uploaded.stderr.splitlines()  # piped: the bar is drawn once, finished, without escape codes
    kb = f"{(clips / 'clip.mp4').stat().st_size / 1000:.1f}"
    assert bar.startswith("clip.mp4 ━") and f" {kb}/{kb} kB " in bar and "\x1b" not in uploaded.stderr

    with client_for(server.url, (token_id, secret)) as client:
        client.manage_videos.wait_until_ready(media_id, timeout=90, poll_interval=0.2)
        added = run_cli("media", "tracks", "add", media_id, f"{file_server}/tone.m4a", "--type", "audio",
                        "--language", "it", "--name", "Italian", "--json", env=env)
        assert added.returncode == 0, added.stderr
        track = json.loads(added.stdout)
        assert (track["type"], track["languageCode"], track["languageName"]) == ("audio", "it", "Italian")

        renamed = run_cli("media", "tracks", "update", media_id, track["id"], "--name", "Italiano", env=env)
        assert renamed.returncode == 0 and track["id"] in renamed.stdout and "Italiano" in renamed.stdout
        [kept] = [t for t in client.manage_videos.get(media_id=media_id).data.tracks if t.id == track["id"]]
        assert (kept.language_code, kept.language_name) == ("it", "Italiano")  # only what was given changed

        assert run_cli("media", "tracks", "rm", media_id, track["id"], env=env).returncode == 0
        assert track["id"] not in {t.id for t in client.manage_videos.get(media_id=media_id).data.tracks}

        subtitles = run_cli("media", "subtitles", media_id, "--language", "en", "--json", env=env)
        assert subtitles.returncode == 0, subtitles.stderr
        made = json.loads(subtitles.stdout)
        assert (made["type"], made["languageCode"], made["languageName"]) == ("subtitle", "en-US", "English")
        assert made["id"] in {t.id for t in client.manage_videos.get(media_id=media_id).data.tracks}


def test_media_cli_errors_are_one_readable_line(shared: tuple[Server, tuple[str, str]], tmp_path: Path) -> None:
    server, (token_id, secret) = shared
    env = {"REELHOUSE_URL": server.url, "REELHOUSE_TOKEN_ID": token_id, "REELHOUSE_TOKEN_SECRET": secret}
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{unused.getsockname()[1]}"
    with client_for(server.url, (token_id, secret)) as client:
        uploads_before = client.manage_videos.list_uploads().pagination.total_records
        cases = {
            ("media", "list", "--token-secret", "wrong"): "Unauthorized",
            ("media", "list", "--server", nowhere, "--retry-for", "1"): f"{nowhere}/v1/on-demand",
            ("media", "upload", str(tmp_path / "missing.mp4")): "missing.mp4: no such file",
        }
        with ThreadPoolExecutor() as pool:  # three Python start-ups side by side
            results = list(pool.map(lambda args: run_cli(*args, env=env), cases))
        for result, text in zip(results, cases.values(), strict=True):
            assert result.returncode == 1 and result.stdout == "", result
            [line] = result.stderr.splitlines()
            assert line.startswith("Error: ") and text in line, line
        assert client.manage_videos.list_uploads().pagination.total_records == uploads_before
