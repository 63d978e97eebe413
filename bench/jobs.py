"""Job system benchmark: the embedded pool vs Celery, side by side on one PostgreSQL.

Run:  .venv/bin/python bench/jobs.py [--jobs 1000]   (needs PostgreSQL at REELHOUSE_TEST_POSTGRES or 127.0.0.1,
and redis-server on PATH)

1. Overhead: `--jobs` queued short jobs (a step that does nothing) committed in one transaction, run by the
   embedded pool (2 threads) and by 2 `reelhouse worker`-equivalent processes (Celery, concurrency 1 each, Redis
   broker): wall time from the commit to the last job done, and per job.
2. Upload complete → Ready for a standard 60 s 720p H.264/AAC input: an embedded `serve` vs the scaled topology
   (`serve --no-workers` + 2 `reelhouse worker` processes), each a fresh database.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reelhouse.db.models import Job, Media, Workspace  # noqa: E402
from reelhouse.jobs.celery_app import CeleryWorker, dispatcher_for  # noqa: E402
from reelhouse.jobs.params import TrackParams  # noqa: E402
from reelhouse.jobs.queue import enqueue  # noqa: E402
from reelhouse.jobs.step import Step  # noqa: E402
from reelhouse.jobs.worker import WorkerPool  # noqa: E402
from reelhouse.media.ffmpeg import find_ffmpeg  # noqa: E402
from reelhouse.runtime import Runtime  # noqa: E402
from reelhouse.settings import Settings  # noqa: E402
from reelhouse.testing import free_port, make_token, start_server  # noqa: E402

ADMIN = os.environ.get("REELHOUSE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1/postgres")
NOOP: Step[TrackParams] = Step(TrackParams, lambda ctx: None, lambda rt, job, params, error: None)
REELHOUSE = [sys.executable, "-m", "reelhouse"]


@contextmanager
def database() -> Iterator[str]:
    admin = sqlalchemy.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"reelhouse_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis(folder: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def queue_jobs(rt: Runtime, count: int) -> float:
    """Commits `count` jobs in one transaction; returns the moment of the commit (after the dispatcher's sends)."""
    with rt.db.write() as session:
        workspace = Workspace(name="bench")
        session.add(workspace)
        session.flush()
        media = Media(workspace_id=workspace.id)
        session.add(media)
        session.flush()
        for n in range(count):
            enqueue(session, "track", media, TrackParams(track="t", revision=n))
        started = time.perf_counter()
    return started


def wait_done(rt: Runtime, count: int) -> float:
    while True:
        with rt.db.read() as session:
            if session.scalar(select(func.count()).select_from(Job).where(Job.status == "done")) >= count:
                return time.perf_counter()
        time.sleep(0.02)


def embedded_jobs(settings: Settings, count: int) -> float:
    rt = Runtime.open(settings)
    pool = WorkerPool(rt, steps=lambda kind: NOOP, size=2, kinds=("track",))
    pool.start()
    try:
        started = queue_jobs(rt, count)
        return wait_done(rt, count) - started
    finally:
        pool.stop()
        rt.close()


def celery_jobs(settings: Settings, count: int, folder: Path) -> float:
    env = {**os.environ, "REELHOUSE_DATABASE_URL": settings.database_url or "",
           "REELHOUSE_BROKER_URL": settings.broker_url or "", "REELHOUSE_DATA_DIR": str(folder)}
    workers = [subprocess.Popen([sys.executable, __file__, "--noop-worker"], env=env) for _ in range(2)]
    rt = Runtime.open(settings, dispatcher=dispatcher_for(settings))
    try:
        time.sleep(4)  # the workers connect
        started = queue_jobs(rt, count)
        return wait_done(rt, count) - started
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait()
        rt.close()


def upload_to_ready(base: str, auth: tuple[str, str], source: Path) -> float:
    with httpx.Client(base_url=f"{base}/v1", auth=auth, timeout=600) as api:
        upload = api.post("/on-demand/upload", json={"pushMediaSettings": {"accessPolicy": "public"}}).json()["data"]
        httpx.put(upload["url"], content=source.read_bytes(), timeout=600).raise_for_status()
        done = time.perf_counter()
        while api.get(f"/on-demand/{upload['uploadId']}").json()["data"].get("status") != "Ready":
            time.sleep(0.02)
        return time.perf_counter() - done


def scaled_ready(database_url: str, broker_url: str, folder: Path, source: Path) -> float:
    port = free_port()
    env = {**os.environ, "REELHOUSE_DATABASE_URL": database_url, "REELHOUSE_BROKER_URL": broker_url,
           "REELHOUSE_DATA_DIR": str(folder), "REELHOUSE_PORT": str(port)}
    processes = [subprocess.Popen([*REELHOUSE, "serve", "--no-workers"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)]
    processes += [subprocess.Popen([*REELHOUSE, "worker"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for _ in range(2)]
    try:
        auth = make_token(Settings(data_dir=folder, database_url=database_url))
        wait(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200)
        time.sleep(3)  # the workers connect
        return upload_to_ready(f"http://127.0.0.1:{port}", auth, source)
    finally:
        for process in processes:
            process.terminate()
            process.wait()


def embedded_ready(database_url: str, folder: Path, source: Path) -> float:
    settings = Settings(data_dir=folder, database_url=database_url, port=free_port())
    auth = make_token(settings)
    server = start_server(settings)
    try:
        return upload_to_ready(server.url, auth, source)
    finally:
        server.stop()


def wait(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("not ready within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--noop-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_worker:
        CeleryWorker(Settings(), ["transcode"], 1, steps=lambda kind: NOOP).run()
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with redis(folder) as broker_url:
            with database() as url:
                embedded = embedded_jobs(Settings(data_dir=folder / "e", database_url=url), args.jobs)
            with database() as url:
                celery = celery_jobs(Settings(data_dir=folder / "c", database_url=url, broker_url=broker_url),
                                     args.jobs, folder / "c")
            print(f"{args.jobs} no-op jobs, 2-way: embedded pool {embedded:.2f} s ({embedded / args.jobs * 1000:.2f} ms/job), "
                  f"Celery 2 workers {celery:.2f} s ({celery / args.jobs * 1000:.2f} ms/job)")
            source = folder / "h264_720p.mp4"
            subprocess.run([find_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc2=size=1280x720:rate=30:duration=60", "-f", "lavfi", "-i",
                            "sine=frequency=440:sample_rate=48000:duration=60", "-c:v", "libx264", "-preset", "faster",
                            "-g", "60", "-b:v", "3M", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
                            str(source)], check=True)
            with database() as url:
                ready_embedded = embedded_ready(url, folder / "re", source)
            with database() as url:
                ready_scaled = scaled_ready(url, broker_url, folder / "rs", source)
            print(f"standard 60 s 720p upload complete -> Ready: embedded {ready_embedded:.2f} s, "
                  f"scaled (serve --no-workers + 2 workers) {ready_scaled:.2f} s ({ready_scaled / ready_embedded:.2f}x)")


if __name__ == "__main__":
    main()
