"""Running jobs: `JobRunner` runs a claimed job to completion, retry or final failure — the one way a job runs,
whichever executor claimed it — and `WorkerPool` is the embedded executor, threads inside `reelhouse serve` that
claim jobs and hand them to it.

The heavy lifting happens in ffmpeg subprocesses, so threads are enough to keep every core busy
while the API stays responsive. They wait on this process's `jobs` wake-up between polls.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reelhouse import logs
from reelhouse.db.models import Job, Media
from reelhouse.jobs import registry
from reelhouse.jobs.step import ClaimLost, PermanentError, Step
from reelhouse.metrics import JOB_SECONDS
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import purge_media

log = logging.getLogger(__name__)


@dataclass
class JobRunner:
    """Runs claimed jobs and, between `start` and `stop`, renews the leases of those still running."""

    runtime: Runtime
    steps: Callable[[str], Step[Any]] = registry.step
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _running: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._spawn(self._keep_leases, "reelhouse-leases")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _keep_leases(self) -> None:
        interval = self.runtime.jobs.lease.total_seconds() / 3
        while not self._stop.wait(interval):
            with self._lock:
                running = list(self._running.values())
            try:
                self.runtime.jobs.renew(running)
            except Exception:
                log.exception("could not renew job leases")

    def run(self, job: Job) -> None:
        """Runs one claimed job to completion, retry or final failure."""
        token = logs.job_id.set(job.id)
        try:
            self._run(job)
        finally:
            logs.job_id.reset(token)

    def _run(self, job: Job) -> None:
        step = self.steps(job.kind)
        queue = self.runtime.jobs
        if job.attempts > queue.max_attempts:  # its workers kept dying mid-run
            self._fail(step, job, job.error or "processing was interrupted too many times", permanent=True)
            return
        scratch = self.runtime.settings.scratch_dir / f"{job.id}.{job.claim}"  # a dead attempt's ffmpeg may linger
        scratch.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._running[job.id] = job
        log.info("job %s %s media=%s started (attempt %d)", job.kind, job.id, job.media_id, job.attempts)
        started = time.monotonic()
        outcome = "done"
        try:
            step.run(step.context(self.runtime, job, scratch))
            queue.complete(job)
            log.info("job %s %s media=%s done", job.kind, job.id, job.media_id)
        except PermanentError as exc:
            outcome = self._fail(step, job, str(exc), permanent=True)
        except ClaimLost as exc:  # the worker that took the job over settles it
            outcome = "superseded"
            log.warning("job %s %s media=%s stopped: %s", job.kind, job.id, job.media_id, exc)
        except Exception as exc:
            log.exception("job %s %s media=%s failed", job.kind, job.id, job.media_id)
            outcome = self._fail(step, job, f"{type(exc).__name__}: {exc}", permanent=False)
        finally:
            JOB_SECONDS.labels(job.kind, outcome).observe(time.monotonic() - started)
            with self._lock:
                self._running.pop(job.id, None)
            shutil.rmtree(scratch, ignore_errors=True)
            self._purge_if_deleted(job)

    def _purge_if_deleted(self, job: Job) -> None:
        """A job may store objects after its media was deleted and purged; whatever it left goes now."""
        if job.media_id is None:
            return
        with self.runtime.db.read() as session:
            deleted = session.get(Media, job.media_id) is None
        if deleted:
            purge_media(self.runtime.storage, job.media_id)

    def _fail(self, step: Step[Any], job: Job, error: str, *, permanent: bool) -> str:
        """Retries the job, or fails it and records the failure where users see it in one transaction; returns
        which. A give-up that raises fails the job alone: the media's state is then settled by `jobs.reconcile`."""
        params = step.params.model_validate(job.params)
        try:
            gave_up = self.runtime.jobs.retry_or_fail(
                job, error, permanent=permanent, on_give_up=lambda session: step.give_up(session, job, params, error))
        except Exception:
            log.exception("job %s %s media=%s: could not record its failure", job.kind, job.id, job.media_id)
            gave_up = self.runtime.jobs.retry_or_fail(job, error, permanent=permanent)
        if not gave_up:
            return "retry"
        log.warning("job %s %s media=%s gave up: %s", job.kind, job.id, job.media_id, error)
        return "failed"


@dataclass
class WorkerPool(JobRunner):
    """The embedded executor: `size` threads that claim jobs of `kinds` and run them."""

    size: int = 0
    kinds: tuple[str, ...] = tuple(registry.STEPS)
    poll_seconds: float = 0.5

    def start(self) -> None:
        for n in range(self.size):
            self._spawn(self._work, f"reelhouse-worker-{n}")
        if self.size:
            super().start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wakeup.set()
        super().stop(timeout)

    @property
    def _wakeup(self) -> threading.Event:
        return self.runtime.wakeups.jobs

    def _work(self) -> None:
        while not self._stop.is_set():
            self._wakeup.clear()  # before looking, so a job queued meanwhile is not slept through
            try:
                job = self.runtime.jobs.claim(self.kinds)
            except Exception:
                log.exception("could not claim a job")
                job = None
            if job is None:
                self._wakeup.wait(self.poll_seconds)
                continue
            try:
                self.run(job)
            except Exception:  # e.g. the database refused the outcome: the lease runs out and the job is retried
                log.exception("job %s %s media=%s could not be finished", job.kind, job.id, job.media_id)
