"""A bounded schemathesis run over /v1/openapi.json with valid credentials and real ids (issue 12): whatever the
schema allows a client to send, the server never answers 5xx. SQLite pass only: the routes are the same on
PostgreSQL, and the run is the slowest test there is."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reelhouse.testing import make_token, start_server
from tests.conftest import server_settings

pytestmark = pytest.mark.skipif(os.environ.get("REELHOUSE_TEST_DATABASE") == "postgres",
                                reason="the fuzz run is bounded by time; one pass (SQLite) is enough")

BUDGET_SECONDS = 50.0
EXAMPLES_PER_OPERATION = 25


def real_ids(api: httpx.Client) -> dict[str, str]:
    """One of each object the paths name, so generated requests reach past the 404."""
    upload = api.post("/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public"}})
    media = api.post("/on-demand", json={"inputs": [{"type": "video", "url": "http://127.0.0.1:9/clip.mp4"}],
                                         "accessPolicy": "public"}).json()["data"]
    playback = api.post(f"/on-demand/{media['id']}/playback-ids", json={"accessPolicy": "public"}).json()["data"]
    key = api.post("/iam/signing-keys").json()["data"]
    webhook = api.post("/webhooks", json={"url": "http://127.0.0.1:9/hook"}).json()["data"]
    playlist = api.post("/on-demand/playlists", json={"name": "fuzz", "referenceId": "fuzz", "type": "manual"})
    ids = {
        "uploadId": upload.json()["data"]["uploadId"], "mediaId": media["id"], "sourceMediaId": media["id"],
        "playbackId": playback[0]["id"] if isinstance(playback, list) else playback["id"],
        "signingKeyId": key["id"], "webhookId": webhook["id"],
    }
    if playlist.status_code == 201:
        ids["playlistId"] = playlist.json()["data"]["id"]
    return ids


def fuzz(operation: schemathesis.APIOperation, stop: float, call: Callable[[schemathesis.Case, bool], None]) -> None:
    """Up to EXAMPLES_PER_OPERATION generated requests for `operation`, until `stop`; `call` sends each, using the
    real ids when told to."""

    @given(case=operation.as_strategy(), use_real=st.booleans())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case, use_real: bool) -> None:
        if time.monotonic() < stop:
            call(case, use_real)

    run()


def test_no_generated_request_gets_a_5xx(tmp_path: Path) -> None:
    config = server_settings(tmp_path / "data", None).model_copy(update={"workers": 0, "webhook_workers": 0})
    credentials = make_token(config)
    server = start_server(config)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []

    def call(case: schemathesis.Case, use_real: bool) -> None:
        if use_real and case.method.upper() != "DELETE":  # a real id deleted would make the rest 404
            for name in case.path_parameters or {}:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        response = case.call(base_url=server.url, auth=credentials, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}")

    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
            ids = real_ids(api)
        operations = [result.ok() for result in schemathesis.openapi.from_url(f"{server.url}/v1/openapi.json")
                      .get_all_operations()]
        deadline = time.monotonic() + BUDGET_SECONDS
        for n, operation in enumerate(operations):
            now = time.monotonic()
            fuzz(operation, now + (deadline - now) / (len(operations) - n), call)  # what is left, shared fairly
        cases = sum(statuses.values())
        print(f"fuzz: {cases} cases over {len(operations)} operations, {len(server_errors)} answered 5xx; "
              f"statuses {dict(sorted(statuses.items()))}")
        assert cases >= 5 * len(operations), "the run was too short to mean anything"
        assert server_errors == []
    finally:
        server.stop()
