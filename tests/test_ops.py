"""Operations: liveness and readiness, Prometheus metrics, request ids and JSON logs, storage failures counted."""

from __future__ import annotations

import inspect
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reelhouse import logs
from reelhouse.metrics import exposition
from reelhouse.settings import Settings
from reelhouse.storage import MemoryStorage, Storage
from reelhouse.storage.metered import Metered
from tests.api_helpers import create_media
from tests.conftest import Server, free_port, make_token, start_server, wait_for


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_healthz_answers_while_the_process_lives(server: Server) -> None:
    response = httpx.get(f"{server.url}/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database_and_storage(server: Server) -> None:
    response = httpx.get(f"{server.url}/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "failing": [], "checks": {"database": "ok", "storage": "ok"}}


@pytest.fixture
def brokerless(settings: Settings) -> Iterator[Server]:
    """A server configured with a broker that does not answer (it went away after the start)."""
    running = start_server(settings.model_copy(update={"broker_url": f"redis://127.0.0.1:{free_port()}/0"}))
    yield running
    running.stop()


def test_readyz_names_an_unreachable_broker(brokerless: Server) -> None:
    response = httpx.get(f"{brokerless.url}/readyz", timeout=30)

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["failing"]) == ("unavailable", ["broker"])
    assert body["checks"]["broker"].startswith("BrokerUnreachable: REELHOUSE_BROKER_URL: no broker answers")


def test_api_calls_still_succeed_while_the_broker_is_away(brokerless: Server, settings: Settings,
                                                          file_server: str) -> None:
    """The job is committed and waits in the database; the sweep hands it on once the broker is back."""
    with httpx.Client(base_url=f"{brokerless.url}/v1", auth=make_token(settings), timeout=30) as api:
        media = create_media(api, f"{file_server}/clip.mp4")
        assert api.get(f"/on-demand/{media['id']}").json()["data"]["status"] in ("Created", "Downloading")


def test_a_request_id_is_echoed_or_made_up(server: Server) -> None:
    given = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "lb-7f3a.1"})
    made_up = httpx.get(f"{server.url}/healthz")
    refused = httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "no spaces or\tcontrols"})

    assert given.headers["x-request-id"] == "lb-7f3a.1"
    assert len(made_up.headers["x-request-id"]) == 32
    assert refused.headers["x-request-id"] != "no spaces or\tcontrols"


def test_metrics_show_request_latency_by_route_and_jobs_by_kind(server: Server, api: httpx.Client,
                                                                 file_server: str) -> None:
    media = create_media(api, f"{file_server}/clip.mp4")
    wait_for(api, media["id"], lambda m: m["status"] == "Ready")
    api.get("/on-demand/not-a-media")

    response = httpx.get(f"{server.url}/metrics")

    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    by_template = {tuple(sorted(labels)) for name, labels in found if name == "reelhouse_http_request_duration_seconds_count"}
    routes = {(dict(labels)["method"], dict(labels)["route"].removeprefix("/v1"), dict(labels)["status"])
              for labels in by_template}  # the template as the route declares it; FastAPI may leave out the prefix
    assert {("GET", "/on-demand/{mediaId}", "200"), ("POST", "/on-demand", "201"),
            ("GET", "/on-demand/{mediaId}", "422")} <= routes
    assert found[("reelhouse_jobs", frozenset({("kind", "speech"), ("status", "failed")}))] == 0
    done = [labels for name, labels in found if name == "reelhouse_job_duration_seconds_count"
            and ("outcome", "done") in labels]
    assert frozenset({("kind", "ingest"), ("outcome", "done")}) in done


def test_json_logs_carry_the_request_and_job_ids() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        logs.configure("json")
        root.handlers[0].setStream(stream)
        request, job = logs.request_id.set("req-1"), logs.job_id.set("job-9")
        logging.getLogger("reelhouse.test").info("transcoded %d rungs", 3)
        logs.request_id.reset(request)
        logs.job_id.reset(job)
    finally:
        root.handlers[:], root.level = saved
    line = json.loads(stream.getvalue())

    assert {k: line[k] for k in ("level", "name", "message", "request_id", "job_id")} == {
        "level": "INFO", "name": "reelhouse.test", "message": "transcoded 3 rungs", "request_id": "req-1",
        "job_id": "job-9"}
    assert "time" in line


def test_metered_storage_passes_every_operation_on() -> None:
    """A method added to the storage interface must be passed on here too, or the wrapper would hide the backend's."""
    public = {name for name, _ in inspect.getmembers(Storage, inspect.isfunction) if not name.startswith("_")}
    assert {name for name in public if name not in vars(Metered)} == set()


def test_backend_failures_are_counted_but_missing_objects_are_not(tmp_path: Path) -> None:
    class Full(MemoryStorage):
        def write(self, key: str, chunks: object, *, durable: bool = False) -> int:
            raise OSError(28, "No space left on device")

    storage = Metered(Full())

    def errors(operation: str) -> float:
        text = samples(exposition().decode())
        return text.get(("reelhouse_storage_errors_total", frozenset({("operation", operation)})), 0.0)

    before_write, before_read = errors("write"), errors("read")
    with pytest.raises(OSError):
        storage.write("media/x/original", [b"data"])
    with pytest.raises(Exception, match="x"):
        storage.read("media/x/missing")

    assert errors("write") == before_write + 1
    assert errors("read") == before_read
