"""Chaos: `reelhouse serve` as a real process, killed with SIGKILL at random points under a mixed load of resumable
uploads, URL pulls (good and broken) and their transcodes, and restarted on the same data dir and port each time.

Afterwards nothing may be lost: every media ends Ready or Failed with a reason, every upload resumed from the
server's committed offset stores exactly the file's bytes, and every event in the webhook outbox reached the
receiver at least once. The kill points come from a seeded RNG; the seed is printed, and REELHOUSE_CHAOS_SEED
replays a run.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from reelhouse.settings import Settings
from reelhouse.storage.keys import original_key
from tests.clips import make_clip
from tests.conftest import ON_POSTGRES, free_port, make_token
from tests.test_webhooks import Receiver, poll

pytestmark = pytest.mark.skipif(
    ON_POSTGRES, reason="one chaos run (about a minute of kills and restarts) is enough; it runs in the SQLite pass")

KILLS = 4
CHUNK = 8 * 1024
UPLOADERS = 4  # each uploads the clip again and again until the last restart, so every kill meets uploads in flight
PULLS = 6
BROKEN_PULLS = 3
PULL_SPACING = 1.0  # seconds between pull requests, so pulls and their transcodes meet the kills too
T = TypeVar("T")


@dataclass
class ServeProcess:
    """`reelhouse serve` in its own process group, so a kill takes its ffmpeg children too, as a host crash would."""

    data_dir: Path
    port: int
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "reelhouse", "serve", "--data-dir", str(self.data_dir), "--port", str(self.port)],
            env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)

        def ready() -> bool:
            assert self.popen is not None and self.popen.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        poll(ready, "reelhouse serve ready", timeout=30)

    def kill(self) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


def persist(call: Callable[[], T], deadline: float) -> T:
    """Repeats `call` while the server is down (killed, or not back yet); a client's retry loop."""
    while True:
        try:
            return call()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def answered(response: httpx.Response) -> httpx.Response:
    """Any answer the server gives, killed or not, is one a client can act on: never a 5xx."""
    assert response.status_code < 500, response.text
    return response


@dataclass
class UploadOutcome:
    media_id: str
    resumes: int  # times the client had to ask the server for its offset after a failed request


def upload_in_chunks(api: httpx.Client, http: httpx.Client, data: bytes, deadline: float) -> UploadOutcome:
    """A resumable upload as a careful client does it: after any failure, ask the server what it holds and go on."""
    created = persist(lambda: answered(api.post("/on-demand/upload", json={
        "pushMediaSettings": {"accessPolicy": "public"}})), deadline)
    assert created.status_code == 201, created.text
    url = created.json()["data"]["url"]
    total, offset, resumes = len(data), 0, 0
    while True:
        acknowledged = offset
        piece = data[offset:offset + CHUNK]
        try:
            response = answered(http.put(url, content=piece, headers={
                "Content-Range": f"bytes {offset}-{offset + len(piece) - 1}/{total}"}))
        except httpx.TransportError:
            resumes += 1
            response = persist(lambda: answered(http.put(url, headers={"Content-Range": f"bytes */{total}"})),
                               deadline)
        if response.status_code == 200:
            return UploadOutcome(response.json()["data"]["mediaId"], resumes)
        assert response.status_code == 308, response.text
        held = response.headers.get("Range")
        offset = int(held.removeprefix("bytes=0-")) + 1 if held else 0
        assert offset >= acknowledged, f"the server acknowledged {acknowledged} bytes, then held {offset}"
        time.sleep(0.25)  # a slow link, so that a kill finds uploads half done


def upload_until(done: threading.Event, api: httpx.Client, http: httpx.Client, data: bytes,
                 deadline: float) -> list[UploadOutcome]:
    outcomes = [upload_in_chunks(api, http, data, deadline)]
    while not done.is_set():
        outcomes.append(upload_in_chunks(api, http, data, deadline))
    return outcomes


def pull(api: httpx.Client, url: str, delay: float, deadline: float) -> None:
    """Creates a pull media; a kill may lose the answer, so the client's retry may create a second one."""
    time.sleep(delay)
    response = persist(lambda: answered(api.post("/on-demand", json={
        "inputs": [{"type": "video", "url": url}], "accessPolicy": "public"})), deadline)
    assert response.status_code == 201, response.text


def outbox(database: Path) -> dict[str, tuple[str, str]]:
    """Every event id in the webhook outbox, with its type and object id."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return {row[0]: (row[1], row[2]) for row in connection.execute(
            "SELECT id, type, object_id FROM webhook_events")}


def media_ids(database: Path) -> set[str]:
    """Every media the server created, those whose creation answer a kill swallowed included."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        return {row[0] for row in connection.execute("SELECT id FROM media")}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A tiny clip (about 10 chunks) for both the uploads and the pulls."""
    folder = tmp_path / "origin"
    folder.mkdir()
    return make_clip(folder / "clip.mp4", seconds=2, width=160, height=120)


@pytest.fixture
def origin(source: Path) -> Iterator[str]:
    """A static file server for the pull URLs."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(source.parent)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_killing_the_server_under_load_loses_nothing(tmp_path: Path, source: Path, origin: str) -> None:
    seed = int(os.environ.get("REELHOUSE_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"chaos seed {seed} (replay with REELHOUSE_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    data = source.read_bytes()
    assert len(data) > 4 * CHUNK

    data_dir = tmp_path / "data"
    credentials = make_token(Settings(data_dir=data_dir))
    env = {name: value for name, value in os.environ.items() if not name.startswith("REELHOUSE_")}
    env |= {"REELHOUSE_ALLOWED_NETWORKS": "127.0.0.1/32", "REELHOUSE_JOB_LEASE_SECONDS": "2",
            "REELHOUSE_WEBHOOK_RETRY_BASE": "0.2", "REELHOUSE_WORKERS": "2",
            # A kill mid-delivery leaves the endpoint leased for 2 x this + 10 s (delivery.py); the receiver is local.
            "REELHOUSE_WEBHOOK_TIMEOUT": "2",
            # Every kill costs each running job an attempt (so a file that kills its worker cannot loop forever):
            # a fine file's job may meet every kill, and must still end Ready.
            "REELHOUSE_JOB_MAX_ATTEMPTS": str(KILLS + 1)}
    server = ServeProcess(data_dir, free_port(), env, tmp_path / "serve.log")
    receiver = Receiver()
    server.start()
    kills: list[float] = []
    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=10) as api, \
                httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201
            started = time.monotonic()
            deadline = started + 60
            chaos_over = threading.Event()

            def chaos() -> None:
                try:
                    for _ in range(KILLS):
                        time.sleep(rng.uniform(0.5, 3.0))
                        server.kill()
                        kills.append(round(time.monotonic() - started, 2))
                        time.sleep(rng.uniform(0.0, 1.0))
                        server.start()
                finally:
                    chaos_over.set()

            urls = [f"{origin}/clip.mp4"] * PULLS + [f"{origin}/missing.mp4"] * BROKEN_PULLS
            rng.shuffle(urls)
            with ThreadPoolExecutor(max_workers=UPLOADERS + len(urls) + 1) as pool:
                killer = pool.submit(chaos)
                uploaders = [pool.submit(upload_until, chaos_over, api, http, data, deadline)
                             for _ in range(UPLOADERS)]
                pulls = [pool.submit(pull, api, url, i * PULL_SPACING, deadline) for i, url in enumerate(urls)]
                killer.result()
                outcomes = [outcome for future in uploaders for outcome in future.result()]
                for future in pulls:
                    future.result()
            resumes = sum(outcome.resumes for outcome in outcomes)
            print(f"killed at {kills} s; {len(outcomes)} uploads, {resumes} resumed after a failed request")
            assert len(kills) == KILLS
            assert resumes >= 1, "no kill met an upload in flight: the run proved nothing about resuming"

            # Every media (duplicates from lost answers included) ends final, a fine file Ready.
            database = data_dir / "reelhouse.db"
            rows = media_ids(database)
            assert len(rows) >= len(outcomes) + len(urls)
            uploaded = {outcome.media_id for outcome in outcomes}
            assert uploaded <= rows

            def final() -> dict[str, dict[str, Any]] | None:
                media = {media_id: answered(api.get(f"/on-demand/{media_id}")).json()["data"] for media_id in rows}
                return media if all(m["status"] in ("Ready", "Failed") for m in media.values()) else None

            media = poll(lambda: persist(final, time.monotonic() + 10), "every media final", timeout=60)
            failed = {media_id: m.get("error") for media_id, m in media.items() if m["status"] == "Failed"}
            for media_id, error in failed.items():
                assert error, f"{media_id} failed without a reason"
                assert "HTTP 404" in error, f"{media_id} of a fine file failed: {error}"
            assert len(failed) >= BROKEN_PULLS
            assert len(rows) - len(failed) >= len(outcomes) + PULLS

            # Each upload's stored original is the file, byte for byte.
            for media_id in uploaded:
                assert (data_dir / "objects" / original_key(media_id)).read_bytes() == data, media_id

            # Every event in the outbox reached the receiver at least once.
            def delivered() -> bool:
                received = {hit.event["id"] for hit in list(receiver.hits)}
                return set(outbox(database)) <= received

            poll(delivered, "every outbox event delivered", timeout=30)
            events = outbox(database)
            # ... and each media's end was announced.
            for media_id, one in media.items():
                assert (f"video.media.{one['status'].lower()}", media_id) in events.values(), media_id
            received = [hit.event["id"] for hit in list(receiver.hits)]
            print(f"{len(rows)} media ({len(rows) - len(failed)} Ready, {len(failed)} Failed), {len(events)} events,"
                  f" {len(received)} deliveries ({len(received) - len(set(received))} repeated)")
    finally:
        server.kill()
        receiver.stop()
