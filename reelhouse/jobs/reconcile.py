"""The safety net under the job queue: a media that is not final while none of its jobs is left to finish it.

A job's final failure and the media's final state commit together (`JobQueue.retry_or_fail`), so no crash between
them can strand a media. This sweep covers whatever else might: a give-up that raised, a bug in a step that
completed without settling its media, rows edited by hand. Such a media would otherwise stay `Downloading` or
`Processing` forever, with no `video.media.failed` event for its owner.
"""

from __future__ import annotations

import logging

from sqlalchemy import exists, select

from reelhouse.catalog.media import mark_failed
from reelhouse.db.enums import JobStatus, MediaStatus
from reelhouse.db.models import Job, Media
from reelhouse.runtime import Runtime

log = logging.getLogger(__name__)

STOPPED = "processing stopped before the media was ready"


def fail_stranded(rt: Runtime) -> int:
    """Fails every media that is neither Ready nor Failed although it has jobs and all of them have finished,
    with the last failed job's error as the reason; returns how many it failed."""
    unfinished = (JobStatus.QUEUED, JobStatus.RUNNING)
    with rt.db.write() as session:
        stranded = session.scalars(
            select(Media)
            .where(
                Media.status.not_in((MediaStatus.READY, MediaStatus.FAILED)),
                exists().where(Job.media_id == Media.id),
                ~exists().where(Job.media_id == Media.id, Job.status.in_(unfinished)),
            )
            .with_for_update()
        ).all()
        for media in stranded:
            error = session.scalar(
                select(Job.error)
                .where(Job.media_id == media.id, Job.status == JobStatus.FAILED, Job.error.is_not(None))
                .order_by(Job.updated_at.desc())
                .limit(1)
            )
            log.warning("media %s was %s with no job left to finish it: failing it", media.id, media.status)
            mark_failed(session, media, error or STOPPED)
        return len(stranded)
