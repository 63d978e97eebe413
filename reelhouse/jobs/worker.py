"""Embedded workers: threads inside `reelhouse serve` that claim and run jobs.

The heavy lifting happens in ffmpeg subprocesses, so threads are enough to keep every core busy
while the API stays responsive. They wait on the embedded dispatcher's `jobs` event between polls.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reelhouse.db.models import Job, Media
from reelhouse.jobs import registry
from reelhouse.jobs.step import PermanentError, Step
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import purge_media

log = logging.getLogger(__name__)


@dataclass
class WorkerPool:
    runtime: Runtime
    size: int
    steps: Callable[[str], Step[Any]] = registry.step
    kinds: tuple[str, ...] = tuple(registry.STEPS)
    poll_seconds: float = 0.5
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _running: dict[str, Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for n in range(self.size):
            self._spawn(self._work, f"reelhouse-worker-{n}")
        if self.size:
            self._spawn(self._keep_leases, "reelhouse-leases")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wakeup.set()
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

    @property
    def _wakeup(self) -> threading.Event:
        return self.runtime.dispatcher.jobs

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

    def run(self, job: Job) -> None:
        """Runs one claimed job to completion, retry or final failure."""
        step = self.steps(job.kind)
        queue = self.runtime.jobs
        if job.attempts > queue.max_attempts:  # its workers kept dying mid-run
            self._fail(step, job, job.error or "processing was interrupted too many times", permanent=True)
            return
        scratch = self.runtime.settings.scratch_dir / job.id
        scratch.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._running[job.id] = job
        log.info("job %s %s media=%s started (attempt %d)", job.kind, job.id, job.media_id, job.attempts)
        try:
            step.run(step.context(self.runtime, job, scratch))
            queue.complete(job)
            log.info("job %s %s media=%s done", job.kind, job.id, job.media_id)
        except PermanentError as exc:
            self._fail(step, job, str(exc), permanent=True)
        except Exception as exc:
            log.exception("job %s %s media=%s failed", job.kind, job.id, job.media_id)
            self._fail(step, job, f"{type(exc).__name__}: {exc}", permanent=False)
        finally:
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

    def _fail(self, step: Step[Any], job: Job, error: str, *, permanent: bool) -> None:
        """Retries the job, or fails it and records the failure where users see it in one transaction. A give-up
        that raises fails the job alone: the media's state is then settled by `jobs.reconcile`."""
        params = step.params.model_validate(job.params)
        try:
            gave_up = self.runtime.jobs.retry_or_fail(
                job, error, permanent=permanent, on_give_up=lambda session: step.give_up(session, job, params, error))
        except Exception:
            log.exception("job %s %s media=%s: could not record its failure", job.kind, job.id, job.media_id)
            gave_up = self.runtime.jobs.retry_or_fail(job, error, permanent=permanent)
        if gave_up:
            log.warning("job %s %s media=%s gave up: %s", job.kind, job.id, job.media_id, error)
