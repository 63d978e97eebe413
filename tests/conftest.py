"""Shared fixtures: a real reelhouse server on loopback, access tokens, a static file server for pull URLs."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from fastpix_python import Fastpix, models

from reelhouse.settings import Settings
from reelhouse.testing import Server, free_port, make_token, start_server
from tests.clips import make_clip

__all__ = ["Server", "make_token", "settled", "start_server", "wait_for"]


POSTGRES_ADMIN_URL = os.environ.get("REELHOUSE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1/postgres")
ON_POSTGRES = os.environ.get("REELHOUSE_TEST_DATABASE") == "postgres"  # run the whole suite on PostgreSQL
# For a module whose database does not follow REELHOUSE_TEST_DATABASE: running it in both CI passes repeats it.
IN_ONE_PASS = pytest.mark.skipif(ON_POSTGRES, reason="its database is fixed, whatever the pass: the SQLite pass runs it")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards; skips where no server answers."""
    try:
        admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no driver, no server, no access
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__})")
    name = f"reelhouse_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite in the data dir), or a fresh PostgreSQL database when REELHOUSE_TEST_DATABASE=postgres."""
    return request.getfixturevalue("postgres_url") if ON_POSTGRES else None


def server_settings(data_dir: Path, database_url: str | None) -> Settings:
    """Settings of a test server on a free loopback port, with its data in `data_dir`."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        host="127.0.0.1",
        port=free_port(),
        allowed_networks=["127.0.0.1/32"],  # the static file server below; other private targets stay refused
        workers=1,
        job_lease_seconds=3,
        max_source_bytes=50 * 1024 * 1024,
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return server_settings(tmp_path / "data", database_url)


@contextmanager
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, tuple[str, str]]]:
    """A server (and a token for it) that one test module shares; on PostgreSQL when the suite runs there."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(fresh_postgres()) if ON_POSTGRES else None
        settings = server_settings(tmp_path_factory.mktemp("server") / "data", database_url)
        credentials = make_token(settings)
        running = start_server(settings)
        stack.callback(running.stop)
        yield running, credentials


def sdk_client(server: Server, token_id: str, secret: str) -> Fastpix:
    """The official FastPix client pointed at this server as spec 2.2 says; no retries, so failures surface at once."""
    return Fastpix(security=models.Security(username=token_id, password=secret), server_url=f"{server.url}/v1/",
                   retry_config=None, timeout_ms=30000)


@pytest.fixture
def fp(server: Server, credentials: tuple[str, str]) -> Iterator[Fastpix]:
    with sdk_client(server, *credentials) as client:
        yield client


@pytest.fixture
def credentials(settings: Settings) -> tuple[str, str]:
    return make_token(settings)


@pytest.fixture
def server(settings: Settings, credentials: tuple[str, str]) -> Iterator[Server]:
    running = start_server(settings)
    yield running
    running.stop()


@pytest.fixture
def api(server: Server, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of tiny generated media, made once per test run."""
    folder = tmp_path_factory.mktemp("clips")
    make_clip(folder / "clip.mp4", seconds=2)
    make_clip(folder / "silent.mp4", seconds=2, audio=False)
    make_clip(folder / "tone.m4a", seconds=2)
    (folder / "page.html").write_text("<!doctype html><html><body>not a video</body></html>")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "garbage.mp4").write_bytes(bytes(range(256)) * 64)
    return folder


@pytest.fixture(scope="session")
def file_server(clips: Path) -> Iterator[str]:
    """Serves the clips folder over HTTP on 127.0.0.1, as a remote origin for pull URLs."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(clips)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's standalone S3 server (the real HTTP API) on 127.0.0.1, reached through the standard AWS variables as
    an operator's MinIO would be; its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    url = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ENDPOINT_URL": url, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
            env.setenv(name, value)
        yield url
    moto.stop()


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """A fresh, empty bucket for one test."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def wait_for(api: httpx.Client, media_id: str, done: Callable[[dict], bool], timeout: float = 60) -> dict:
    """Polls the media until `done(media)` holds; fails the test with the last state otherwise."""
    deadline = time.monotonic() + timeout
    media: dict = {}
    while time.monotonic() < deadline:
        response = api.get(f"/on-demand/{media_id}")
        if response.status_code == 200:
            media = response.json()["data"]
            if done(media):
                return media
        time.sleep(0.1)
    raise AssertionError(f"media {media_id} never reached the expected state; last: {media}")


def wait_until(condition: Callable[[], bool], timeout: float = 15, what: str = "condition") -> None:
    """Polls `condition` until it holds; fails the test when it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never held within {timeout} s")
        time.sleep(0.02)


def settled(media: dict) -> bool:
    """Ingest is over: the media was handed to transcoding, is playable, or failed."""
    return media["status"] in ("In Queue", "Processing", "Ready", "Failed")


class RedisServer:
    """A private redis-server on a free loopback port, which a test may stop and start again (a broker outage)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


REDIS_SERVER = shutil.which("redis-server") or "redis-server"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A broker for Celery tests; skips where no redis-server can be run."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
