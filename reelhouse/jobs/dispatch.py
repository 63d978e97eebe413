"""The dispatch seam: how work a transaction queued reaches whatever runs it, once the transaction commits.

Rows stay the truth. A job or a webhook delivery exists exactly when the change that needs it commits, and every
runner claims rows under a lease, so a lost or repeated signal does no harm: a poll finds what a signal missed.
A `Dispatcher` only says "look now". The embedded one (`Wakeups`) wakes this process's job and delivery threads;
a distributed one sends a message per job to the queue its kind belongs to.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reelhouse.db.enums import JobKind

# The queue each kind of work belongs to, for a distributed dispatcher: workers serve some or all of them, so speech
# recognition never starves transcoding.
WEBHOOKS = "webhooks"
QUEUES: dict[JobKind, str] = {
    JobKind.INGEST: "transcode",
    JobKind.TRANSCODE: "transcode",
    JobKind.LADDER: "transcode",
    JobKind.CHUNK: "transcode",
    JobKind.LADDER_CHUNK: "transcode",
    JobKind.MP4: "transcode",
    JobKind.TRACK: "transcode",
    JobKind.NORMALISE_AUDIO: "transcode",
    JobKind.SPEECH: "ai",
    JobKind.SUMMARY: "ai",
    JobKind.CHAPTERS: "ai",
    JobKind.NAMED_ENTITIES: "ai",
    JobKind.MODERATION: "ai",
}
ALL_QUEUES = (*dict.fromkeys(QUEUES.values()), WEBHOOKS)


def kinds_of(queue: str) -> list[JobKind]:
    return [kind for kind, name in QUEUES.items() if name == queue]


@dataclass(frozen=True)
class JobQueued:
    job_id: str
    kind: JobKind
    not_before: datetime | None = None  # a retry backing off: claimable from then on


@dataclass(frozen=True)
class DeliveriesDue:
    """Webhook deliveries were queued or rescheduled to now."""


class Dispatcher(ABC):
    """Called by the database with the work its committed transaction announced (`db.engine.after_commit`)."""

    def __call__(self, work: list[object]) -> None:
        jobs = [w for w in work if isinstance(w, JobQueued)]
        if jobs:
            self.jobs_queued(jobs)
        if any(isinstance(w, DeliveriesDue) for w in work):
            self.deliveries_due()

    @abstractmethod
    def jobs_queued(self, jobs: Sequence[JobQueued]) -> None: ...

    @abstractmethod
    def deliveries_due(self) -> None: ...

    @abstractmethod
    def check(self) -> None:
        """Raises, saying why, when whatever carries the work cannot be reached (for start-up and readiness)."""


class Wakeups(Dispatcher):
    """The embedded dispatcher: events that this process's worker and delivery threads wait on between polls."""

    def __init__(self) -> None:
        self.jobs = threading.Event()
        self.deliveries = threading.Event()

    def jobs_queued(self, jobs: Sequence[JobQueued]) -> None:
        self.jobs.set()

    def deliveries_due(self) -> None:
        self.deliveries.set()

    def check(self) -> None:
        """Threads of this process: always there."""
