"""Embedded workers: threads inside `reelhouse serve` that claim and run jobs.

The heavy lifting happens in ffmpeg subprocesses, so threads are enough to keep every core busy
while the API stays responsive.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reelhouse.catalog import purge_media_objects
from reelhouse.db.models import Job, Media
from reelhouse.media.ffmpeg import FFmpegError, run_ffmpeg
from reelhouse.media.probe import ProbeError, ProbeResult, probe
from reelhouse.runtime import Runtime

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """Retrying cannot help (the input is not media, the URL is refused...); the message is shown to users."""


@dataclass
class JobContext:
    runtime: Runtime
    job: Job
    scratch: Path

    def progress(self, fraction: float) -> None:
        self.runtime.jobs.progress(self.job.id, fraction)
        log.info("job %s %s media=%s progress %.0f%%", self.job.kind, self.job.id, self.job.media_id, fraction * 100)

    def probe(self, path: Path, *, what: str | None = None) -> ProbeResult:
        """Probes a file this job works on; one that is not usable media fails the job for good, the reason shown
        to users (after "<what>: " when given)."""
        try:
            return probe(path)
        except ProbeError as exc:
            raise PermanentError(f"{what}: {exc}" if what else str(exc)) from None

    def ffmpeg(self, args: list[str], *, duration: float, work: float, what: str) -> None:
        """Runs ffmpeg for this job. It is killed after a generous but finite time — `work` times the media's
        duration, scaled by the ffmpeg_timeout_factor setting — so a stuck run never holds a worker; progress is
        recorded in 10 % steps; a failure is permanent and reads "<what>: <ffmpeg's error>"."""
        settings = self.runtime.settings
        reported = -1.0

        def progress(seconds: float) -> None:
            nonlocal reported
            fraction = min(1.0, seconds / max(duration, 0.001))
            if fraction - reported >= 0.1:
                reported = fraction
                self.progress(fraction)

        timeout = 120 + duration * work * settings.ffmpeg_timeout_factor
        try:
            run_ffmpeg(args, timeout=timeout, ffmpeg=settings.ffmpeg_path, on_progress=progress)
        except FFmpegError as exc:
            raise PermanentError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class Handler:
    run: Callable[[JobContext], None]
    give_up: Callable[[Runtime, Job, str], None]  # records the final failure where users see it


@dataclass
class WorkerPool:
    runtime: Runtime
    handlers: Mapping[str, Handler]
    size: int
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
        self.runtime.jobs.notify()
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

    def _work(self) -> None:
        queue = self.runtime.jobs
        while not self._stop.is_set():
            try:
                job = queue.claim(self.handlers)
            except Exception:
                log.exception("could not claim a job")
                job = None
            if job is None:
                queue.wakeup.wait(self.poll_seconds)
                queue.wakeup.clear()
                continue
            try:
                self.run(job)
            except Exception:  # e.g. the database refused the outcome: the lease runs out and the job is retried
                log.exception("job %s %s media=%s could not be finished", job.kind, job.id, job.media_id)

    def run(self, job: Job) -> None:
        """Runs one claimed job to completion, retry or final failure."""
        handler = self.handlers[job.kind]
        queue = self.runtime.jobs
        if job.attempts > queue.max_attempts:  # its workers kept dying mid-run
            self._fail(handler, job, job.error or "processing was interrupted too many times", permanent=True)
            return
        scratch = self.runtime.settings.scratch_dir / job.id
        scratch.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._running[job.id] = job
        log.info("job %s %s media=%s started (attempt %d)", job.kind, job.id, job.media_id, job.attempts)
        try:
            handler.run(JobContext(self.runtime, job, scratch))
            queue.complete(job)
            log.info("job %s %s media=%s done", job.kind, job.id, job.media_id)
        except PermanentError as exc:
            self._fail(handler, job, str(exc), permanent=True)
        except Exception as exc:
            log.exception("job %s %s media=%s failed", job.kind, job.id, job.media_id)
            self._fail(handler, job, f"{type(exc).__name__}: {exc}", permanent=False)
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
            purge_media_objects(self.runtime.storage, job.media_id)

    def _fail(self, handler: Handler, job: Job, error: str, *, permanent: bool) -> None:
        if self.runtime.jobs.retry_or_fail(job, error, permanent=permanent):
            log.warning("job %s %s media=%s gave up: %s", job.kind, job.id, job.media_id, error)
            handler.give_up(self.runtime, job, error)
