"""The scaled-out topology on loopback: PostgreSQL, a Redis broker, `reelhouse serve --no-workers` API processes and
two `reelhouse worker` processes, each a real subprocess, with the same flows as the embedded default.

Upload → Ready → the HLS stream decodes; `kill -9` of the worker in the middle of a 60 s re-encode → the other worker
finishes it; the webhook receiver gets the same events as from an embedded server; a second API process serves the
same media. Storage is S3 (moto's server), each process with a data directory of its own, as on separate machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from reelhouse.db.models import Job
from reelhouse.media.ffmpeg import find_ffmpeg
from reelhouse.settings import Settings
from tests.clips import make_clip
from tests.conftest import IN_ONE_PASS, RedisServer, free_port, fresh_postgres, make_token, start_server, wait_for
from tests.test_webhooks import Receiver, poll

pytestmark = [IN_ONE_PASS, pytest.mark.timeout(240)]  # always PostgreSQL, so once is enough

LEASE_SECONDS = 3  # how soon the surviving worker takes over a killed worker's job
REELHOUSE = [sys.executable, "-m", "reelhouse"]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, Any]]:
        """Its JSON log lines so far."""
        parsed = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                parsed.append(json.loads(line))
        return parsed

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # whatever it left running: a killed worker's ffmpeg


@dataclass
class Topology:
    folder: Path
    env: dict[str, str]
    credentials: tuple[str, str]
    database_url: str
    public_port: int  # the first API's: the URL in upload URLs and payloads, as a load balancer's would be
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str) -> Process:
        log = self.folder / f"{name}.log"
        data_dir = self.folder / ("data" if "REELHOUSE_STORAGE_URL" not in self.env else name)
        popen = subprocess.Popen([*REELHOUSE, *args, "--data-dir", str(data_dir)], env=self.env,
                                 stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def api(self, name: str, port: int | None = None) -> str:
        port = port or free_port()
        process = self.start(name, "serve", "--no-workers", "--port", str(port))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            assert process.popen.poll() is None, process.log.read_text()
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        poll(ready, f"{name} ready", timeout=30)
        return url

    def job(self, media_id: str, kind: str) -> Job | None:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as connection:
                row = connection.execute(select(Job).where(Job.media_id == media_id, Job.kind == kind)).first()
                return Job(**row._mapping) if row else None
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def bucket(s3_server: str) -> str:
    """Where every process keeps its objects: a bucket on moto's S3 server, reached through the AWS variables."""
    import boto3

    name = f"topology-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def storage_env(bucket: str) -> dict[str, str]:
    """What makes every process see the same objects: S3, each process with a data directory of its own, as on
    separate machines."""
    return {"REELHOUSE_STORAGE_URL": f"s3://{bucket}/library"}


def stored_keys(bucket: str) -> list[str]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="library/")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer,
             storage_env: dict[str, str]) -> Iterator[Topology]:
    folder = tmp_path_factory.mktemp("topology")
    with fresh_postgres() as database_url:
        public_port = free_port()
        env = {
            **os.environ,
            **storage_env,
            "REELHOUSE_DATABASE_URL": database_url,
            "REELHOUSE_BROKER_URL": redis_server.url,
            "REELHOUSE_ALLOWED_NETWORKS": "127.0.0.1/32",
            "REELHOUSE_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "REELHOUSE_LOG_FORMAT": "json",
            "REELHOUSE_PUBLIC_URL": f"http://127.0.0.1:{public_port}",  # links in webhook payloads, from any node
        }
        credentials = make_token(Settings(data_dir=folder / "data", database_url=database_url))
        running = Topology(folder, env, credentials, database_url, public_port)
        try:
            yield running
        finally:
            for process in running.processes:
                process.stop()


def upload(api: httpx.Client, path: Path) -> tuple[str, str]:
    """(upload id, media id) of a direct upload of `path`, its last byte acknowledged."""
    response = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}})
    assert response.status_code == 201, response.text
    created = response.json()["data"]
    put = httpx.put(created["url"], content=path.read_bytes(), timeout=60)
    assert put.status_code in (200, 201), put.text
    media = wait_for(api, created["uploadId"], lambda m: "id" in m, timeout=30)
    return created["uploadId"], media["id"]


def decodes(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_ffmpeg(), "-v", "error", "-i", url, "-f", "null", "-"], capture_output=True,
                          text=True, timeout=120)


def event_types(receiver: Receiver, *object_ids: str) -> list[str]:
    return [h.event["type"] for h in receiver.hits if h.event["object"]["id"] in object_ids]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A short H.264 clip (played by stream copy) and 60 s of MPEG-2 that must be re-encoded (small, but long)."""
    folder = tmp_path_factory.mktemp("sources")
    return {
        "clip": make_clip(folder / "clip.mp4", seconds=2),
        "long": make_clip(folder / "long.mpg", seconds=60, width=320, height=180, fps=50,
                          vcodec="mpeg2video", acodec="mp2"),
    }


def embedded_events(tmp_path: Path, sources: dict[str, Path]) -> dict[str, list[str]]:
    """The event types an embedded server sends for an upload of each source, for comparison."""
    settings = Settings(data_dir=tmp_path / "embedded", host="127.0.0.1", port=free_port(),
                        allowed_networks=["127.0.0.1/32"])
    credentials = make_token(settings)
    server = start_server(settings)
    receiver = Receiver()
    try:
        with httpx.Client(base_url=f"{server.url}/v1", auth=credentials, timeout=30) as api:
            assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201
            flows = {name: upload(api, path) for name, path in sources.items()}
            for _upload_id, media_id in flows.values():
                wait_for(api, media_id, lambda m: m["status"] == "Ready", timeout=90)
            wait_for_events(receiver, flows.values())
            return {name: event_types(receiver, *ids) for name, ids in flows.items()}
    finally:
        receiver.stop()
        server.stop()


def wait_for_events(receiver: Receiver, flows: Any) -> None:
    for _upload_id, media_id in flows:
        poll(lambda media_id=media_id: "video.media.ready" in event_types(receiver, media_id), "the ready event")
    time.sleep(1)  # anything sent after ready would arrive now


def started_by(workers: list[Process], job_id: str) -> Callable[[], Process | None]:
    def which() -> Process | None:
        for worker in workers:
            if any(line.get("job_id") == job_id and "started" in line["message"] for line in worker.lines()):
                return worker
        return None

    return which


def test_the_scaled_topology_runs_the_embedded_flows(topology: Topology, sources: dict[str, Path], bucket: str,
                                                    tmp_path: Path) -> None:
    expected = embedded_events(tmp_path, sources)
    first_api = topology.api("api-1", topology.public_port)
    workers = [topology.start(f"worker-{n}", "worker", "--concurrency", "1") for n in (1, 2)]
    receiver = Receiver()
    try:
        with httpx.Client(base_url=f"{first_api}/v1", auth=topology.credentials, timeout=30) as api:
            assert api.post("/webhooks", json={"url": receiver.url}).status_code == 201

            # Upload → Ready → the stream decodes end to end, through the API process.
            clip = upload(api, sources["clip"])
            ready = wait_for(api, clip[1], lambda m: m["status"] == "Ready", timeout=60)
            master = f"{first_api}/stream/{ready['playbackIds'][0]['id']}.m3u8"
            assert decodes(master).returncode == 0, decodes(master).stderr

            # kill -9 of the worker re-encoding the long source: the other one finishes it.
            long = upload(api, sources["long"])
            transcode = poll(lambda: topology.job(long[1], "transcode"), "the transcode job", timeout=30)
            victim = poll(started_by(workers, transcode.id), "a worker starting the re-encode", timeout=30)
            victim.popen.send_signal(signal.SIGKILL)
            victim.popen.wait(10)
            assert topology.job(long[1], "transcode").status == "running"  # killed in the middle
            finished = wait_for(api, long[1], lambda m: m["status"] in ("Ready", "Failed"), timeout=90)
            assert finished["status"] == "Ready"  # it plays while the survivor still encodes: wait for the end
            job = poll(lambda: (j := topology.job(long[1], "transcode")).status in ("done", "failed") and j, "the re-encode",
                       timeout=90)
            assert (job.status, job.attempts) == ("done", 2)
            survivor = next(w for w in workers if w is not victim)
            assert started_by([survivor], transcode.id)() is survivor
            long_master = f"{first_api}/stream/{finished['playbackIds'][0]['id']}.m3u8"
            decoded = decodes(long_master)
            assert decoded.returncode == 0 and decoded.stderr == "", decoded.stderr
            assert "EXT-X-STREAM-INF" in httpx.get(long_master).text

            # The webhook receiver got what an embedded server sends, no more, no less.
            wait_for_events(receiver, [clip, long])
            assert {"clip": event_types(receiver, *clip), "long": event_types(receiver, *long)} == expected

            # A second API process serves the same media.
            second_api = topology.api("api-2")
            with httpx.Client(base_url=f"{second_api}/v1", auth=topology.credentials, timeout=30) as other:
                assert other.get(f"/on-demand/{long[1]}").json()["data"] == api.get(f"/on-demand/{long[1]}").json()["data"]
            assert httpx.get(master.replace(first_api, second_api)).text == httpx.get(master).text
            assert decodes(master.replace(first_api, second_api)).returncode == 0

            ready_check = httpx.get(f"{first_api}/readyz").json()
            assert ready_check["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}

            # Every object is in the bucket, none under any process's data directory.
            keys = stored_keys(bucket)
            for _, media_id in (clip, long):
                assert f"library/media/{media_id}/original" in keys
                assert any(key.startswith(f"library/media/{media_id}/hls/") for key in keys)
            assert not [p for p in topology.folder.rglob("*") if "objects" in p.relative_to(topology.folder).parts]
    finally:
        receiver.stop()
