"""The Celery dispatcher against a real Redis broker: one message per queued job on its kind's queue, claimed by id
under the job's lease, so a repeated message runs nothing twice and a lost one is handed on again by the sweep.

Messages are read from the broker and handed to the task function directly, the way a Celery worker thread would;
tests/test_topology.py runs real `reelhouse worker` processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from reelhouse.cli import main
from reelhouse.db.models import Job, Media, Workspace, utcnow
from reelhouse.jobs.celery_app import RUN_JOB, CeleryWorker
from reelhouse.jobs.dispatch import ALL_QUEUES
from reelhouse.jobs.params import TrackParams
from reelhouse.jobs.queue import enqueue
from reelhouse.settings import Settings
from tests.conftest import RedisServer, free_port
from tests.test_jobs import KIND, Recorder, load

QUEUE = "transcode"  # the queue of KIND (track)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def worker(tmp_path: Path, redis_server: RedisServer, recorder: Recorder) -> Iterator[CeleryWorker]:
    settings = Settings(data_dir=tmp_path / "data", broker_url=redis_server.url, job_lease_seconds=1)
    celery_worker = CeleryWorker(settings, ALL_QUEUES, 1, steps=lambda kind: recorder.step())
    for queue in ALL_QUEUES:  # a module-wide broker: start from empty queues
        with celery_worker.app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    yield celery_worker
    celery_worker.runtime.close()


def new_job(worker: CeleryWorker, revision: int = 1) -> str:
    with worker.runtime.db.write() as session:
        workspace = Workspace(name=f"celery-{revision}")
        session.add(workspace)
        session.flush()
        media = Media(workspace_id=workspace.id)
        session.add(media)
        session.flush()
        return enqueue(session, KIND, media, TrackParams(track="t", revision=revision)).id


def take_messages(worker: CeleryWorker, queue: str = QUEUE) -> list[tuple[str, list[str], object]]:
    """Every message waiting on `queue`, removed from it: (task name, args, eta)."""
    taken = []
    with worker.app.connection_for_write() as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            taken.append((message.headers["task"], args, message.headers.get("eta")))
    return taken


def test_a_queued_job_becomes_one_message_naming_it_on_its_kinds_queue(worker: CeleryWorker) -> None:
    job_id = new_job(worker)

    assert take_messages(worker) == [(RUN_JOB, [job_id], None)]
    assert take_messages(worker, "ai") == []


def test_a_repeated_message_runs_the_job_once(worker: CeleryWorker, recorder: Recorder) -> None:
    job_id = new_job(worker)
    [(_, args, _)] = take_messages(worker)

    worker.run_job(*args)
    worker.run_job(*args)

    assert recorder.runs == [job_id]
    assert load(worker.runtime, job_id).status == "done"


def test_messages_delivered_twice_at_once_run_the_job_once(worker: CeleryWorker, recorder: Recorder) -> None:
    job_id = new_job(worker)
    started = threading.Barrier(2)

    def deliver() -> None:
        started.wait()
        worker.run_job(job_id)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert recorder.runs == [job_id]


def test_a_lost_message_is_handed_on_again_by_the_sweep(worker: CeleryWorker, recorder: Recorder) -> None:
    job_id = new_job(worker)
    assert take_messages(worker) == [(RUN_JOB, [job_id], None)]  # taken and dropped: lost

    worker.sweep()

    [(_, args, _)] = take_messages(worker)
    worker.run_job(*args)
    assert recorder.runs == [job_id]


def test_the_sweep_leaves_jobs_whose_messages_still_wait(worker: CeleryWorker) -> None:
    job_id = new_job(worker)

    worker.sweep()

    assert take_messages(worker) == [(RUN_JOB, [job_id], None)]  # not a second one


def test_a_dead_workers_job_is_handed_on_once_its_lease_runs_out(worker: CeleryWorker, recorder: Recorder) -> None:
    job_id = new_job(worker)
    take_messages(worker)
    assert worker.runtime.jobs.claim_by_id(job_id) is not None  # a worker took it, then died holding it

    worker.sweep()
    assert take_messages(worker) == []  # its lease still runs

    with worker.runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    worker.sweep()
    [(_, args, _)] = take_messages(worker)
    worker.run_job(*args)

    assert recorder.runs == [job_id]
    assert (load(worker.runtime, job_id).status, load(worker.runtime, job_id).attempts) == ("done", 2)


def test_a_failed_attempt_comes_back_as_a_message_due_when_its_backoff_ends(tmp_path: Path,
                                                                              redis_server: RedisServer) -> None:
    def fail_once(attempt: int) -> None:
        if attempt == 1:
            raise RuntimeError("the disk hiccuped")

    recorder = Recorder(fail_once)
    settings = Settings(data_dir=tmp_path / "data", broker_url=redis_server.url)
    worker = CeleryWorker(settings, [QUEUE], 1, steps=lambda kind: recorder.step())
    try:
        take_messages(worker)
        job_id = new_job(worker)
        [(_, args, _)] = take_messages(worker)

        worker.run_job(*args)

        job = load(worker.runtime, job_id)
        assert (job.status, job.error) == ("queued", "RuntimeError: the disk hiccuped")
        [(task, retry_args, eta)] = take_messages(worker)
        assert (task, retry_args) == (RUN_JOB, [job_id])
        assert eta is not None and eta.startswith(job.run_after.isoformat()[:19])
        worker.run_job(job_id)  # too early: the backoff has not ended
        assert len(recorder.runs) == 1
    finally:
        worker.runtime.close()


def test_jobs_wait_while_the_broker_is_away_and_run_when_it_returns(tmp_path: Path, recorder: Recorder) -> None:
    broker = RedisServer(tmp_path)
    broker.start()
    settings = Settings(data_dir=tmp_path / "data", broker_url=broker.url)
    worker = CeleryWorker(settings, [QUEUE], 1, steps=lambda kind: recorder.step())
    try:
        broker.stop()
        job_id = new_job(worker)  # commits; the message cannot be sent
        assert load(worker.runtime, job_id).status == "queued"

        broker.start()  # empty: whatever the broker held is gone too
        worker.sweep()
        [(_, args, _)] = take_messages(worker)
        worker.run_job(*args)

        assert recorder.runs == [job_id]
    finally:
        worker.runtime.close()
        broker.stop()


@pytest.mark.parametrize("command", [["worker"], ["serve", "--no-workers"]])
def test_an_unreachable_broker_stops_the_start_with_one_line_naming_the_setting(tmp_path: Path,
                                                                               command: list[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    result = CliRunner().invoke(main, [*command, "--data-dir", str(tmp_path)], env={"REELHOUSE_BROKER_URL": url})

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: REELHOUSE_BROKER_URL: no broker answers at redis://127.0.0.1:")


def test_a_worker_needs_a_broker(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--data-dir", str(tmp_path)], env={"REELHOUSE_BROKER_URL": ""})

    assert result.exit_code == 1
    assert "REELHOUSE_BROKER_URL is not set" in result.output


def test_a_worker_refuses_an_unknown_queue(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--queues", "transcode,gpu", "--data-dir", str(tmp_path)],
                                env={"REELHOUSE_BROKER_URL": "redis://127.0.0.1:1/0"})

    assert result.exit_code == 2
    assert "unknown queue gpu" in result.output
