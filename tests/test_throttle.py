"""Failed authentications are throttled per client address and per token id (issue 12): 429 in the error envelope
with Retry-After, so a secret cannot be guessed at the speed of the network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelhouse.api.throttle import FailureThrottle
from reelhouse.testing import start_server
from tests.conftest import Server, make_token, server_settings


@pytest.fixture
def strict_server(tmp_path: Path, database_url: str | None) -> Iterator[tuple[Server, tuple[str, str]]]:
    settings = server_settings(tmp_path / "data", database_url).model_copy(
        update={"auth_failure_limit": 3, "auth_failure_window": 600.0, "workers": 0})
    credentials = make_token(settings)
    running = start_server(settings)
    yield running, credentials
    running.stop()


def media_list(server: Server, auth: tuple[str, str], address: str) -> httpx.Response:
    # uvicorn takes the client address from X-Forwarded-For when the peer is 127.0.0.1, as behind a local proxy.
    return httpx.get(f"{server.url}/v1/on-demand", auth=auth, headers={"X-Forwarded-For": address}, timeout=10)


def test_wrong_secrets_from_one_address_get_429_with_retry_after(strict_server) -> None:
    server, (token_id, secret) = strict_server
    for n in range(3):
        assert media_list(server, (f"guess-{n}", "wrong"), "203.0.113.7").status_code == 401

    refused = media_list(server, (token_id, secret), "203.0.113.7")

    assert refused.status_code == 429
    assert refused.json()["success"] is False and refused.json()["error"]["code"] == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 600
    assert media_list(server, (token_id, secret), "203.0.113.8").status_code == 200  # other clients are not hurt


def test_wrong_secrets_for_one_token_from_many_addresses_get_429(strict_server) -> None:
    server, (token_id, secret) = strict_server
    for n in range(3):
        assert media_list(server, (token_id, "wrong"), f"198.51.100.{n}").status_code == 401

    assert media_list(server, (token_id, "wrong"), "198.51.100.99").status_code == 429
    assert media_list(server, (token_id, secret), "198.51.100.99").status_code == 429  # guessing stops here too


def test_failures_leave_the_window_as_time_passes() -> None:
    now = [0.0]
    throttle = FailureThrottle(limit=2, window=60, clock=lambda: now[0])
    throttle.failed("a")
    now[0] = 30
    throttle.failed("a")
    assert throttle.retry_after("a", "b") == 30  # the first failure leaves the window at t=60
    now[0] = 60.5
    assert throttle.retry_after("a") is None
    assert throttle.retry_after("b") is None
