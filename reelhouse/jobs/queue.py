"""The job queue: enqueue inside the caller's transaction, claim under a lease, finish or retry.

A job is keyed by (media, step, params), so enqueueing the same step twice is a no-op. A worker
holds a lease it renews while the job runs; when a worker dies its lease runs out and any worker
claims the job again. Claiming is a compare-and-set UPDATE, which is race-free on SQLite and
PostgreSQL alike. Enqueueing announces the job to the dispatch seam once the transaction commits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from reelhouse.db.engine import Database, after_commit
from reelhouse.db.enums import JobKind, JobStatus
from reelhouse.db.models import Job, Media, Workspace, new_id, utcnow
from reelhouse.jobs.dispatch import JobQueued
from reelhouse.jobs.params import Params
from reelhouse.settings import Settings


def job_key(kind: str, media_id: str | None, params: dict[str, Any]) -> str:
    return f"{kind}:{media_id}:{json.dumps(params, sort_keys=True, separators=(',', ':'))}"


def enqueue(session: Session, kind: JobKind, media: Media, params: Params | None = None) -> Job:
    """Adds the job to the caller's transaction, so it exists exactly when the change that needs it commits;
    a job that already ran (done or failed) is queued afresh."""
    stored = params.model_dump(exclude_none=True) if params is not None else {}
    key = job_key(kind, media.id, stored)
    job = session.scalar(select(Job).where(Job.key == key))
    if job is None:
        job = Job(key=key, kind=kind, workspace_id=media.workspace_id, media_id=media.id, params=stored)
        session.add(job)
    elif job.status in (JobStatus.DONE, JobStatus.FAILED):
        job.status, job.attempts, job.error, job.progress, job.run_after = JobStatus.QUEUED, 0, None, 0.0, utcnow()
    session.flush()
    after_commit(session, JobQueued(job.id, kind))
    return job


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= now),
        and_(Job.status == JobStatus.RUNNING, Job.lease_until < now),
    )


def _under_cap(now: datetime, cap: int) -> ColumnElement[bool]:
    """The job's workspace has fewer than `cap` jobs running under a live lease (a dead worker's do not count)."""
    running = aliased(Job)
    count = (
        select(func.count()).select_from(running)
        .where(running.workspace_id == Job.workspace_id, running.status == JobStatus.RUNNING, running.lease_until >= now)
        .correlate(Job).scalar_subquery()
    )
    return count < cap


def _held(job: Job) -> tuple[ColumnElement[bool], ...]:
    """The claim `job` came from is still this worker's."""
    return Job.id == job.id, Job.status == JobStatus.RUNNING, Job.claim == job.claim


class JobQueue:
    """Claiming and settling jobs, for whatever runs them."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.max_attempts = settings.job_max_attempts
        self.workspace_cap = settings.workspace_max_running_jobs

    def claim(self, kinds: Iterable[str]) -> Job | None:
        """The oldest claimable job of these kinds whose workspace is under its running-jobs cap, now this
        worker's; None when there is none. A job over the cap stays queued and is claimed once one finishes."""
        kinds = list(kinds)
        with self.db.write() as session:
            now = utcnow()
            candidates = session.execute(
                select(Job.id, Job.workspace_id)
                .where(Job.kind.in_(kinds), _claimable(now), _under_cap(now, self.workspace_cap))
                .order_by(Job.created_at).limit(8)
            ).all()
            for job_id, workspace_id in candidates:
                if self._take(session, job_id, workspace_id, now):
                    return session.get(Job, job_id)
        return None

    def claim_by_id(self, job_id: str) -> Job | None:
        """The job a message named, now this worker's; None when it is not claimable (done, failed, running under
        a live lease, backing off, or gone: a repeated or stale message then changes nothing) or its workspace is
        at its cap (the job stays queued, and the sweep hands it on again)."""
        with self.db.write() as session:
            workspace_id = session.scalar(select(Job.workspace_id).where(Job.id == job_id))
            if workspace_id is None:
                return None
            return session.get(Job, job_id) if self._take(session, job_id, workspace_id, utcnow()) else None

    def _take(self, session: Session, job_id: str, workspace_id: str, now: datetime) -> bool:
        """Compare-and-set: only one worker's UPDATE finds the job still claimable and its workspace under the cap.
        Claims in one workspace queue on its row (PostgreSQL; SQLite writes one at a time anyway), so two workers
        cannot both take the last place."""
        session.execute(select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
        claimed = session.execute(
            update(Job)
            .where(Job.id == job_id, _claimable(now), _under_cap(now, self.workspace_cap))
            .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, claim=new_id(), lease_until=now + self.lease)
        )
        return claimed.rowcount == 1

    def stranded(self, kinds: Iterable[str], limit: int = 1000) -> list[JobQueued]:
        """Jobs of these kinds that are claimable now (queued and due, or running past their lease) in workspaces
        under their cap, oldest first: what a sweep hands on again when no message for them may be left."""
        now = utcnow()
        with self.db.read() as session:
            rows = session.execute(
                select(Job.id, Job.kind)
                .where(Job.kind.in_(list(kinds)), _claimable(now), _under_cap(now, self.workspace_cap))
                .order_by(Job.created_at).limit(limit)
            ).all()
        return [JobQueued(job_id, JobKind(kind)) for job_id, kind in rows]

    def holds(self, session: Session, job: Job) -> bool:
        """Whether the claim `job` came from is still this worker's, in `session`'s transaction: a worker that stalled
        past its lease asks before it changes what the worker that took over now owns."""
        return session.scalar(select(func.count()).select_from(Job).where(*_held(job))) == 1

    def renew(self, claims: Iterable[Job]) -> None:
        """Extends the leases this worker still holds (a claim taken over by another worker is left alone)."""
        with self.db.write() as session:
            for job in claims:
                session.execute(update(Job).where(*_held(job)).values(lease_until=utcnow() + self.lease))

    def progress(self, job_id: str, fraction: float) -> None:
        with self.db.write() as session:
            session.execute(update(Job).where(Job.id == job_id).values(progress=max(0.0, min(1.0, fraction))))

    def complete(self, job: Job) -> None:
        with self.db.write() as session:
            session.execute(
                update(Job).where(*_held(job)).values(status=JobStatus.DONE, progress=1.0, lease_until=None, error=None)
            )

    def retry_or_fail(
        self, job: Job, error: str, *, permanent: bool, on_give_up: Callable[[Session], None] | None = None
    ) -> bool:
        """Schedules another attempt with jittered exponential backoff; returns True when the job gave up.
        A worker whose claim was taken over (it stalled past its lease) changes nothing and returns False.
        `on_give_up` records the final failure where users see it, in the transaction that fails the job: a crash
        leaves both or neither, never a failed job beside a media still waiting for it."""
        give_up = permanent or job.attempts >= self.max_attempts
        with self.db.write() as session:
            values: dict[str, Any] = {"error": error[:4000], "lease_until": None}
            if give_up:
                values["status"] = JobStatus.FAILED
                if on_give_up is not None and job.media_id is not None:
                    # The media's row before the job's: the order deleting a media takes them in (its cascade), so
                    # a failure recorded while the media is deleted waits instead of deadlocking (PostgreSQL).
                    session.execute(select(Media.id).where(Media.id == job.media_id).with_for_update())
            else:
                delay = min(300.0, 2.0 ** job.attempts) * (0.5 + random.random())
                values.update(status=JobStatus.QUEUED, run_after=utcnow() + timedelta(seconds=delay))
            held = session.execute(update(Job).where(*_held(job)).values(**values)).rowcount == 1
            if held and not give_up:
                after_commit(session, JobQueued(job.id, JobKind(job.kind), not_before=values["run_after"]))
            elif give_up and held and on_give_up is not None:
                on_give_up(session)
        return give_up and held
