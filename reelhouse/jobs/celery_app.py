"""Celery as the distributed executor, behind the dispatch seam: with `REELHOUSE_BROKER_URL` set, every job a
transaction queues becomes one message (the job id alone) on the queue of its kind of work, and `reelhouse worker`
processes on any number of machines run them.

The database stays the truth. A message only says "this job may be claimable": the task claims the row by id under
its lease, so a repeated message finds it taken and does nothing, and one that is lost — a broker restart, a worker
killed holding it unacknowledged — is made up for by the sweep, which hands on again the claimable jobs of every
queue whose broker queue is empty. Retries and their backoff are the job queue's (`JobQueue.retry_or_fail`): a
retry is announced like any queued job, its message due when the backoff ends. Messages are acknowledged after
the job ran (`acks_late`) and each worker thread takes one at a time (prefetch 1), so long transcodes never hold
work another worker could do; speech recognition has a queue of its own, so it never starves transcoding.

Webhook deliveries need no message each: the delivery threads of the workers serving the `webhooks` queue claim
due deliveries from the database, as in `serve`; a message on that queue only wakes one of them early.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC
from typing import Any

from celery import Celery
from kombu.exceptions import ChannelError, OperationalError
from kombu.utils.url import maybe_sanitize_url

from reelhouse.jobs import registry
from reelhouse.jobs.dispatch import QUEUES, WEBHOOKS, Dispatcher, JobQueued, kinds_of
from reelhouse.jobs.step import Step
from reelhouse.jobs.worker import JobRunner
from reelhouse.runtime import Runtime
from reelhouse.settings import Settings
from reelhouse.storage import Storage
from reelhouse.webhooks.delivery import DeliveryWorker

log = logging.getLogger(__name__)

RUN_JOB = "reelhouse.run_job"
DELIVERIES_DUE = "reelhouse.deliveries_due"


class BrokerUnreachable(Exception):
    """The broker did not answer; the message names the setting."""


def celery_app(broker_url: str) -> Celery:
    app = Celery("reelhouse", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_timeout=5,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker that goes away is waited for, however long
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


class CeleryDispatcher(Dispatcher):
    """Sends one message per queued job, and a wake-up to the webhooks queue when deliveries are due."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def jobs_queued(self, jobs: Sequence[JobQueued]) -> None:
        for job in jobs:
            eta = job.not_before.replace(tzinfo=UTC) if job.not_before else None
            self.app.send_task(RUN_JOB, args=[job.job_id], queue=QUEUES[job.kind], eta=eta)

    def deliveries_due(self) -> None:
        self.app.send_task(DELIVERIES_DUE, queue=WEBHOOKS, expires=60)

    def check(self) -> None:
        with self.app.connection_for_write() as connection:
            try:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
            except Exception as exc:
                where = maybe_sanitize_url(self.app.conf.broker_url)  # the password masked
                raise BrokerUnreachable(f"REELHOUSE_BROKER_URL: no broker answers at {where} ({exc})") from None

    def waiting(self, queue: str) -> int:
        """Messages waiting in a broker queue (not those workers hold); 0 for a queue never declared."""
        with self.app.connection_for_write() as connection:
            try:
                return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:
                return 0


def dispatcher_for(settings: Settings) -> CeleryDispatcher | None:
    """The distributed dispatcher when a broker is configured; None means the embedded one."""
    return CeleryDispatcher(celery_app(settings.broker_url)) if settings.broker_url else None


class CeleryWorker:
    """`reelhouse worker`: a Celery worker whose threads run the jobs of `queues`, the webhook delivery threads when
    it serves the webhooks queue, and the sweep."""

    def __init__(self, settings: Settings, queues: Sequence[str], concurrency: int, *,
                 storage: Storage | None = None, steps: Callable[[str], Step[Any]] = registry.step) -> None:
        dispatcher = dispatcher_for(settings)
        assert dispatcher is not None, "a Celery worker needs REELHOUSE_BROKER_URL"
        self.dispatcher, self.app = dispatcher, dispatcher.app
        self.queues, self.concurrency = list(queues), concurrency
        self.runtime = Runtime.open(settings, storage=storage, dispatcher=dispatcher)
        self.runner = JobRunner(self.runtime, steps=steps)
        self.deliveries = DeliveryWorker(self.runtime, settings.webhook_workers if WEBHOOKS in queues else 0)
        self.sweep_seconds = settings.job_lease_seconds  # a dead worker's job is claimable again after a lease
        self._stop = threading.Event()
        self.app.task(name=RUN_JOB, ignore_result=True)(self.run_job)
        self.app.task(name=DELIVERIES_DUE, ignore_result=True)(self.runtime.wakeups.deliveries.set)

    def run_job(self, job_id: str) -> None:
        """The task: claims the job the message names and runs it; a message for a job not claimable is dropped."""
        job = self.runtime.jobs.claim_by_id(job_id)
        if job is None:
            log.debug("job %s is not claimable: a repeated or stale message", job_id)
            return
        self.runner.run(job)

    def sweep(self) -> None:
        """Hands on again the claimable jobs of each queue served here whose broker queue is empty: nothing will
        bring them otherwise. One still in flight meanwhile gets a second message, which does no harm."""
        for queue in self.queues:
            kinds = kinds_of(queue)
            if not kinds or self.dispatcher.waiting(queue):
                continue
            stranded = self.runtime.jobs.stranded(kinds)
            if stranded:
                log.info("sweep: handing on %d %s jobs again", len(stranded), queue)
                self.dispatcher.jobs_queued(stranded)

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self.sweep_seconds):
            try:
                self.sweep()
            except (OperationalError, OSError) as exc:
                log.warning("sweep: the broker cannot be reached (%s); jobs wait in the database", exc)
            except Exception:
                log.exception("sweep failed")

    def run(self) -> None:
        """Serves until SIGTERM or SIGINT (Celery's warm shutdown: jobs in flight finish first)."""
        self.runner.start()
        self.deliveries.start()
        sweeper = threading.Thread(target=self._sweep_forever, name="reelhouse-sweep", daemon=True)
        sweeper.start()
        try:
            worker = self.app.Worker(
                hostname=f"reelhouse-{os.getpid()}@{socket.gethostname()}",
                queues=self.queues, concurrency=self.concurrency, pool="threads",
                without_mingle=True, without_gossip=True, loglevel="INFO",
            )
            worker.start()
        finally:
            self._stop.set()
            self.deliveries.stop()
            self.runner.stop()
            self.runtime.close()
