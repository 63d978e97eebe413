"""The job queue and the embedded workers, without HTTP: dedup, leases, retries, crash recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete as sqlalchemy_delete
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reelhouse.catalog.media import set_status
from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import Job, Media, Webhook, WebhookEvent, Workspace, utcnow
from reelhouse.jobs import registry
from reelhouse.jobs.params import Params, TrackParams
from reelhouse.jobs.queue import enqueue as enqueue_job
from reelhouse.jobs.reconcile import fail_stranded
from reelhouse.jobs.step import JobContext, PermanentError, Step
from reelhouse.jobs.worker import WorkerPool
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from tests.conftest import wait_until


class Recorder:
    """A fake job handler: counts runs, runs `behaviour` on each, records give-ups."""

    def __init__(self, behaviour: Callable[[int], None] = lambda attempt: None) -> None:
        self.behaviour = behaviour
        self.runs: list[str] = []
        self.gave_up: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def run(self, ctx: JobContext[TrackParams]) -> None:
        with self._lock:
            self.runs.append(ctx.job.id)
            attempt = len(self.runs)
        self.behaviour(attempt)

    def give_up(self, session: Session, job: Job, params: TrackParams, error: str) -> None:
        self.gave_up.append((job.id, error))

    def step(self) -> Step[TrackParams]:
        return Step(TrackParams, self.run, self.give_up)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime.open(Settings(data_dir=tmp_path / "data", workers=0, job_lease_seconds=1, job_max_attempts=3))
    yield rt
    rt.close()


@pytest.fixture
def media_id(runtime: Runtime) -> str:
    with runtime.db.write() as session:
        workspace = Workspace(name="jobs")
        session.add(workspace)
        session.flush()
        media = Media(workspace_id=workspace.id)
        session.add(media)
        session.flush()
        return media.id


KIND = JobKind.TRACK  # any kind: these tests run their own step for it


def enqueue(rt: Runtime, media_id: str, revision: int = 1) -> str:
    with rt.db.write() as session:
        return enqueue_job(session, KIND, session.get(Media, media_id), TrackParams(track="t", revision=revision)).id


def pool_for(rt: Runtime, step: Step[TrackParams], size: int) -> WorkerPool:
    return WorkerPool(rt, steps=lambda kind: step, size=size, kinds=(KIND,), poll_seconds=0.05)


def load(rt: Runtime, job_id: str) -> Job:
    with rt.db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def make_claimable_now(rt: Runtime, job_id: str) -> None:
    """Time travel: the retry's backoff has passed."""
    with rt.db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - timedelta(seconds=1)))


def start_pool(rt: Runtime, recorder: Recorder) -> WorkerPool:
    pool = pool_for(rt, recorder.step(), size=1)
    pool.start()
    return pool


def test_enqueueing_the_same_step_twice_makes_one_job(runtime: Runtime, media_id: str) -> None:
    first = enqueue(runtime, media_id, revision=1)
    again = enqueue(runtime, media_id, revision=1)
    other = enqueue(runtime, media_id, revision=2)

    assert again == first
    assert other != first
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 2


def test_a_job_is_claimed_once_under_a_lease(runtime: Runtime, media_id: str) -> None:
    job_id = enqueue(runtime, media_id)
    claimed_at = utcnow()

    job = runtime.jobs.claim([KIND])

    assert job is not None and job.id == job_id
    assert (job.status, job.attempts) == ("running", 1)
    assert job.lease_until is not None and job.lease_until > claimed_at  # not utcnow(): a 1 s lease may pass by now
    assert runtime.jobs.claim([KIND]) is None
    assert runtime.jobs.claim([JobKind.TRANSCODE]) is None


def test_a_failed_attempt_is_retried_later_until_attempts_run_out(runtime: Runtime, media_id: str) -> None:
    job_id = enqueue(runtime, media_id)

    for attempt in (1, 2):
        job = runtime.jobs.claim([KIND])
        assert job is not None and job.attempts == attempt
        assert runtime.jobs.retry_or_fail(job, f"boom {attempt}", permanent=False) is False
        retry = load(runtime, job_id)
        assert (retry.status, retry.error, retry.lease_until) == ("queued", f"boom {attempt}", None)
        assert retry.run_after > utcnow()
        assert runtime.jobs.claim([KIND]) is None  # backing off
        make_claimable_now(runtime, job_id)

    job = runtime.jobs.claim([KIND])
    assert job is not None and job.attempts == 3
    assert runtime.jobs.retry_or_fail(job, "boom 3", permanent=False) is True
    assert (load(runtime, job_id).status, load(runtime, job_id).error) == ("failed", "boom 3")
    assert runtime.jobs.claim([KIND]) is None


def test_a_permanent_error_gives_up_at_once(runtime: Runtime, media_id: str) -> None:
    def refuse(attempt: int) -> None:
        raise PermanentError("the input is not a video")

    recorder = Recorder(refuse)
    job_id = enqueue(runtime, media_id)
    pool = pool_for(runtime, recorder.step(), size=0)

    pool.run(runtime.jobs.claim([KIND]))

    assert recorder.gave_up == [(job_id, "the input is not a video")]
    job = load(runtime, job_id)
    assert (job.status, job.attempts, job.error) == ("failed", 1, "the input is not a video")


def test_a_crashing_attempt_is_retried_and_then_succeeds(runtime: Runtime, media_id: str) -> None:
    def flaky(attempt: int) -> None:
        if attempt == 1:
            raise RuntimeError("ffmpeg vanished")

    recorder = Recorder(flaky)
    job_id = enqueue(runtime, media_id)
    pool = start_pool(runtime, recorder)
    try:
        wait_until(lambda: load(runtime, job_id).status == "done", what="the retried job finishing")
    finally:
        pool.stop()

    job = load(runtime, job_id)
    assert (job.attempts, job.error) == (2, None)
    assert recorder.runs == [job_id, job_id]
    assert recorder.gave_up == []


def test_a_dead_workers_job_is_taken_over_when_its_lease_runs_out(runtime: Runtime, media_id: str) -> None:
    job_id = enqueue(runtime, media_id)
    assert runtime.jobs.claim([KIND]) is not None  # a worker claims it, then dies without a word

    recorder = Recorder()
    pool = start_pool(runtime, recorder)
    try:
        wait_until(lambda: load(runtime, job_id).status == "done", what="the abandoned job finishing")
    finally:
        pool.stop()

    assert load(runtime, job_id).attempts == 2
    assert recorder.runs == [job_id]


def test_a_stalled_claim_stays_lost_after_the_job_is_queued_afresh(runtime: Runtime, media_id: str) -> None:
    """A worker stalls past its lease; another takes the job over and finishes it; the job is queued afresh (its
    attempts count starts again) and claimed once more. The stalled worker, waking with the same attempts count as
    the new claim, must not take that claim for its own: it would end or renew a job another worker is running."""
    job_id = enqueue(runtime, media_id)
    stalled = runtime.jobs.claim([KIND])
    assert stalled is not None
    with runtime.db.write() as session:  # time travel: the stalled worker's lease has run out
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    took_over = runtime.jobs.claim([KIND])
    assert took_over is not None
    runtime.jobs.complete(took_over)
    enqueue(runtime, media_id)
    running = runtime.jobs.claim([KIND])
    assert running is not None and running.attempts == stalled.attempts

    with runtime.db.read() as session:
        assert not runtime.jobs.holds(session, stalled)
        assert runtime.jobs.holds(session, running)
    runtime.jobs.complete(stalled)
    runtime.jobs.renew([stalled])
    job = load(runtime, job_id)
    assert (job.status, job.lease_until) == ("running", running.lease_until)


def test_a_long_job_keeps_its_lease_and_runs_once(runtime: Runtime, media_id: str) -> None:
    recorder = Recorder(lambda attempt: time.sleep(2.5 * runtime.jobs.lease.total_seconds()))
    job_id = enqueue(runtime, media_id)
    pools = [start_pool(runtime, recorder), start_pool(runtime, recorder)]  # the idle one keeps trying to claim
    try:
        wait_until(lambda: load(runtime, job_id).status == "done", what="the long job finishing")
    finally:
        for pool in pools:
            pool.stop()

    assert recorder.runs == [job_id]
    assert load(runtime, job_id).attempts == 1


def test_a_worker_survives_a_failing_give_up(runtime: Runtime, media_id: str) -> None:
    def refuse(attempt: int) -> None:
        if attempt == 1:
            raise PermanentError("not media")

    def broken_give_up(session: Session, job: Job, params: TrackParams, error: str) -> None:
        raise RuntimeError("could not record the failure")

    recorder = Recorder(refuse)
    pool = pool_for(runtime, Step(TrackParams, recorder.run, broken_give_up), size=1)
    pool.start()
    try:
        first = enqueue(runtime, media_id, revision=1)
        wait_until(lambda: load(runtime, first).status == "failed", what="the first job failing")
        second = enqueue(runtime, media_id, revision=2)
        wait_until(lambda: load(runtime, second).status == "done", what="the next job running")
    finally:
        pool.stop()


class Killed(BaseException):
    """The process dying at this point: nothing after it runs and the open transaction never commits."""


def subscribe(rt: Runtime, media_id: str) -> None:
    """A webhook endpoint in the media's workspace, so media events are written to the outbox."""
    with rt.db.write() as session:
        media = session.get(Media, media_id)
        session.add(Webhook(workspace_id=media.workspace_id, url="http://127.0.0.1:9/hook", secret="whsec_test"))


def media_state(rt: Runtime, media_id: str) -> tuple[str, str | None, list[str]]:
    with rt.db.read() as session:
        media = session.get(Media, media_id)
        events = session.scalars(select(WebhookEvent.type).where(WebhookEvent.object_id == media_id)).all()
        return media.status, media.error, list(events)


def test_a_kill_while_a_job_fails_never_strands_its_media(runtime: Runtime, media_id: str) -> None:
    subscribe(runtime, media_id)
    set_status(runtime.db, media_id, MediaStatus.DOWNLOADING)
    with runtime.db.write() as session:
        job_id = enqueue_job(session, JobKind.INGEST, session.get(Media, media_id)).id
    real = registry.step(JobKind.INGEST)

    def unreachable(ctx: JobContext[Params]) -> None:
        raise PermanentError("could not download the input: 404 Not Found")

    def killed_while_giving_up(session: Session, job: Job, params: Params, error: str) -> None:
        raise Killed  # after the job was marked failed, before the media was

    pool = WorkerPool(runtime, steps=lambda kind: Step(Params, unreachable, killed_while_giving_up))
    with pytest.raises(Killed):
        pool.run(runtime.jobs.claim([JobKind.INGEST]))

    job = load(runtime, job_id)
    status, _, events = media_state(runtime, media_id)
    assert job.status != "failed", "the job failed for good while its media was left " + status
    assert status == "Downloading" and "video.media.failed" not in events

    with runtime.db.write() as session:  # restarted: the dead process's lease has run out
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
    pool = WorkerPool(runtime, steps=lambda kind: Step(Params, unreachable, real.give_up))
    pool.run(runtime.jobs.claim([JobKind.INGEST]))

    assert load(runtime, job_id).status == "failed"
    assert media_state(runtime, media_id) == (
        "Failed", "could not download the input: 404 Not Found", ["video.media.failed"])


def test_a_media_whose_jobs_all_finished_without_settling_it_is_failed(runtime: Runtime, media_id: str) -> None:
    subscribe(runtime, media_id)
    set_status(runtime.db, media_id, MediaStatus.PROCESSING)
    with runtime.db.write() as session:
        media = session.get(Media, media_id)
        ingest = enqueue_job(session, JobKind.INGEST, media)
        transcode = enqueue_job(session, JobKind.TRANSCODE, media)
    assert fail_stranded(runtime) == 0  # queued jobs will settle it
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == ingest.id).values(status="done"))
        session.execute(update(Job).where(Job.id == transcode.id).values(status="running"))
    assert fail_stranded(runtime) == 0  # a running one too
    with runtime.db.write() as session:
        session.execute(update(Job).where(Job.id == transcode.id).values(status="failed", error="ffmpeg: out of memory"))

    assert fail_stranded(runtime) == 1

    assert media_state(runtime, media_id) == ("Failed", "ffmpeg: out of memory", ["video.media.failed"])
    assert fail_stranded(runtime) == 0


def test_deleting_a_media_stops_its_running_ffmpeg(runtime: Runtime, media_id: str, tmp_path: Path) -> None:
    enqueue(runtime, media_id)
    job = runtime.jobs.claim([KIND])
    ctx = JobContext(runtime, job, TrackParams(track="t", revision=1), tmp_path)
    outcome: list[BaseException] = []

    def encode_forever() -> None:
        try:
            ctx.ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=160x120", "-f", "null", "-"], duration=5, work=1,
                       what="encoding failed")
        except BaseException as exc:
            outcome.append(exc)

    encoder = threading.Thread(target=encode_forever)
    encoder.start()
    time.sleep(0.5)
    with runtime.db.write() as session:
        session.delete(session.get(Media, media_id))

    encoder.join(30)
    assert not encoder.is_alive(), "ffmpeg kept running for a deleted media"
    assert [str(e) for e in outcome] == ["the media was deleted or failed"]


def test_a_failure_recorded_while_its_media_is_deleted_does_not_deadlock(tmp_path: Path, postgres_url: str) -> None:
    """The worker fails a job (and, in the same transaction, its media) while a DELETE of the media runs: on
    PostgreSQL both must take the rows in one order, or the database kills one of them (the API answered 500)."""
    rt = Runtime.open(Settings(data_dir=tmp_path / "data", database_url=postgres_url, workers=0))
    try:
        with rt.db.write() as session:
            workspace = Workspace(name="deadlock")
            session.add(workspace)
            session.flush()
            media = Media(workspace_id=workspace.id)
            session.add(media)
            session.flush()
            media_id = enqueue_job(session, JobKind.INGEST, media).media_id
        job = rt.jobs.claim([JobKind.INGEST])
        assert job is not None
        deleting, deleted = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def delete_media() -> None:
            try:
                with rt.db.write() as session:
                    deleting.set()
                    session.execute(sqlalchemy_delete(Media).where(Media.id == media_id))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                deleted.set()

        def give_up(session: Session) -> None:
            threading.Thread(target=delete_media, daemon=True).start()
            deleting.wait(5)
            time.sleep(0.5)  # the DELETE is now waiting on a lock this transaction holds
            session.execute(update(Media).where(Media.id == media_id).values(status=MediaStatus.FAILED))

        rt.jobs.retry_or_fail(job, "not media", permanent=True, on_give_up=give_up)
        assert deleted.wait(10)
        assert errors == []
        with rt.db.read() as session:
            assert session.get(Media, media_id) is None
    finally:
        rt.close()


def test_a_workspace_at_its_running_jobs_cap_waits_while_others_run(tmp_path: Path) -> None:
    rt = Runtime.open(Settings(data_dir=tmp_path / "data", workers=0, workspace_max_running_jobs=2))
    try:
        with rt.db.write() as session:
            bulk, other = Workspace(name="bulk"), Workspace(name="other")
            session.add_all([bulk, other])
            session.flush()
            bulk_media = [Media(workspace_id=bulk.id) for _ in range(4)]
            other_media = Media(workspace_id=other.id)
            session.add_all([*bulk_media, other_media])
            session.flush()
            bulk_jobs = [enqueue_job(session, KIND, m, TrackParams(track="t", revision=1)).id for m in bulk_media]
            other_job = enqueue_job(session, KIND, other_media, TrackParams(track="t", revision=1)).id

        first, second = rt.jobs.claim([KIND]), rt.jobs.claim([KIND])
        assert {first.id, second.id} == set(bulk_jobs[:2])  # the oldest two, up to the cap
        assert rt.jobs.claim_by_id(bulk_jobs[2]) is None  # a message for a third changes nothing...
        assert rt.jobs.claim([KIND]).id == other_job  # ...and the other tenant is not starved
        assert rt.jobs.claim([KIND]) is None

        rt.jobs.complete(first)
        assert rt.jobs.claim_by_id(bulk_jobs[2]).id == bulk_jobs[2]  # the waiting job is claimed once one finished
        with rt.db.read() as session:
            assert session.get(Job, bulk_jobs[3]).status == "queued"
    finally:
        rt.close()
