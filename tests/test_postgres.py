"""The scale-out database: the same flows on PostgreSQL (skipped where no server answers).

`REELHOUSE_TEST_DATABASE=postgres scripts/test` runs the whole suite on PostgreSQL instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reelhouse.settings import Settings
from tests.conftest import Server, make_token, start_server, wait_for


@pytest.fixture
def pg_server(settings: Settings, postgres_url: str) -> Iterator[tuple[Server, tuple[str, str]]]:
    settings = settings.model_copy(update={"database_url": postgres_url})
    credentials = make_token(settings)
    running = start_server(settings)
    yield running, credentials
    running.stop()


def test_upload_pull_transcode_and_isolation_on_postgres(pg_server, file_server: str, clips: Path) -> None:
    server, credentials = pg_server
    assert server.runtime.db.engine.dialect.name == "postgresql"
    with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
        pulled = api.post("/on-demand", json={"inputs": [{"type": "video", "url": f"{file_server}/clip.mp4"}],
                                              "accessPolicy": "public", "metadata": {"db": "pg"}})
        assert pulled.status_code == 201, pulled.text
        upload = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}}).json()["data"]
        assert httpx.put(upload["url"], content=(clips / "clip.mp4").read_bytes()).status_code == 200
        for media_id in (pulled.json()["data"]["id"], upload["uploadId"]):
            media = wait_for(api, media_id, lambda m: m["status"] in ("Ready", "Failed"))
            assert media["status"] == "Ready", media.get("error")
            assert httpx.get(f"{server.url}/stream/{media['playbackIds'][0]['id']}.m3u8").status_code == 200
        listed = api.get("/on-demand", params={"limit": 1, "offset": 2, "orderBy": "asc"}).json()
        assert listed["pagination"] == {"totalRecords": 2, "currentOffset": 2, "offsetCount": 2}
        assert api.patch(f"/on-demand/{upload['uploadId']}", json={"metadata": {"k": "v"}}).json()["data"][
            "metadata"] == {"k": "v"}
    with httpx.Client(base_url=f"{server.url}/v1", auth=make_token(server.settings, "other"), timeout=30) as other:
        assert other.get(f"/on-demand/{upload['uploadId']}").status_code == 404
        assert other.get("/on-demand").json()["pagination"]["totalRecords"] == 0
