"""The `reelhouse` command line: token management in-process, and `serve` as the real process an operator starts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from reelhouse.cli import main
from reelhouse.settings import Settings
from reelhouse.tokens import REVOCATION_CHECK_SECONDS
from tests.conftest import Server, free_port, wait_for


@pytest.fixture(autouse=True)
def same_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI must reach the database the test server uses (PostgreSQL when the suite runs on it)."""
    if "settings" in request.fixturenames and request.getfixturevalue("settings").database_url:
        monkeypatch.setenv("REELHOUSE_DATABASE_URL", request.getfixturevalue("settings").database_url)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def create_token(data_dir: Path) -> dict[str, str]:
    result = cli("tokens", "create", "--json", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # exactly one JSON object, so scripts can parse stdout as is
    token = json.loads(lines[0])
    assert set(token) == {"id", "secret"}
    return token


def status(server_url: str, token: dict[str, str]) -> int:
    response = httpx.get(f"{server_url}/v1/on-demand", auth=(token["id"], token["secret"]), timeout=30)
    return response.status_code


def test_created_token_authenticates(settings: Settings, server: Server) -> None:
    token = create_token(settings.data_dir)

    assert status(server.url, token) == 200


def test_tokens_list_shows_ids_not_secrets(settings: Settings) -> None:
    token = create_token(settings.data_dir)

    result = cli("tokens", "list", "--data-dir", str(settings.data_dir))

    assert result.exit_code == 0, result.output
    assert token["id"] in result.output
    assert token["secret"] not in result.output


def test_revoked_token_is_refused_and_unlisted(settings: Settings, server: Server) -> None:
    token = create_token(settings.data_dir)
    assert status(server.url, token) == 200

    result = cli("tokens", "revoke", token["id"], "--data-dir", str(settings.data_dir))

    assert result.exit_code == 0, result.output
    time.sleep(REVOCATION_CHECK_SECONDS)  # how long a running server may still accept a token revoked elsewhere
    assert status(server.url, token) == 401
    assert token["id"] not in cli("tokens", "list", "--data-dir", str(settings.data_dir)).output
    again = cli("tokens", "revoke", token["id"], "--data-dir", str(settings.data_dir))
    assert again.exit_code != 0


def test_revoking_an_unknown_token_fails(tmp_path: Path) -> None:
    result = cli("tokens", "revoke", "no-such-token", "--data-dir", str(tmp_path))

    assert result.exit_code != 0
    assert "no-such-token" in result.output


def test_tokens_of_named_workspaces_are_isolated(settings: Settings, server: Server, file_server: str) -> None:
    data_dir = str(settings.data_dir)
    first = cli("tokens", "create", "--json", "--workspace", "one", "--data-dir", data_dir)
    second = cli("tokens", "create", "--json", "--workspace", "two", "--data-dir", data_dir)
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    body = {"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}], "accessPolicy": "public"}

    created = httpx.post(f"{server.url}/v1/on-demand", json=body, auth=(one["id"], one["secret"]), timeout=30)

    assert created.status_code == 201, created.text
    listed = httpx.get(f"{server.url}/v1/on-demand", auth=(two["id"], two["secret"]), timeout=30).json()
    assert listed["pagination"]["totalRecords"] == 0


# ---------------------------------------------------------------- `reelhouse serve`


class Serve:
    """`python -m reelhouse serve` in a subprocess, its output captured to a file (pipes could fill and stall it)."""

    def __init__(self, data_dir: Path, log: Path, *options: str, workers: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "REELHOUSE_WORKERS": str(workers)}
        command = [sys.executable, "-m", "reelhouse", "serve", "--data-dir", str(data_dir), "--port", str(self.port),
                   *options]
        with log.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.output}"
            try:
                if httpx.get(f"{self.url}/v1/openapi.json", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve never answered:\n{self.output}")

    @property
    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


StartServe = Callable[..., Serve]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServe]:
    """Starts `serve` processes on demand and stops whichever are still running at the end."""
    started: list[Serve] = []

    def start(data_dir: Path, log_name: str, *options: str, workers: int = 0) -> Serve:
        process = Serve(data_dir, tmp_path / log_name, *options, workers=workers)
        started.append(process)
        process.wait_until_up()
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.stop()


def test_serve_prints_a_working_token_on_first_start_only(tmp_path: Path, serve: StartServe) -> None:
    data_dir = tmp_path / "data"

    first = serve(data_dir, "first.log")
    match = re.search(r"token id:\s*(\S+)\s+secret:\s*(\S+)", first.output)
    assert match, first.output
    token = {"id": match[1], "secret": match[2]}
    assert status(first.url, token) == 200
    first.stop()
    assert first.process.returncode in (0, -signal.SIGTERM), first.output  # uvicorn re-raises the signal it handled

    second = serve(data_dir, "second.log")
    assert "secret" not in second.output.lower(), second.output
    assert status(second.url, token) == 200


def test_serve_with_several_processes_shares_one_library(tmp_path: Path, serve: StartServe, clips: Path) -> None:
    """`--processes 2`: requests land on either process, and the jobs one enqueues are run by one of them."""
    data_dir = tmp_path / "data"
    token = create_token(data_dir)
    running = serve(data_dir, "processes.log", "--processes", "2", workers=1)
    auth = (token["id"], token["secret"])
    with httpx.Client(base_url=f"{running.url}/v1", auth=auth, timeout=30) as api:
        upload = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}}).json()["data"]
        assert httpx.put(upload["url"], content=(clips / "clip.mp4").read_bytes()).status_code == 200
        media = wait_for(api, upload["uploadId"], lambda m: m["status"] in ("Ready", "Failed"))
        assert media["status"] == "Ready", media.get("error")
        assert all(api.get(f"/on-demand/{media['id']}").status_code == 200 for _ in range(20))
    assert running.output.count("Spawning worker-") == 2, running.output
