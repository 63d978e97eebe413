"""Summaries and chapters of what a media says (spec 7.18-7.19): turned on and off, made once the media plays."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reelhouse.catalog.media import on_ready
from reelhouse.db.enums import InsightKind, InsightStatus, JobKind, MediaStatus
from reelhouse.db.models import Insight, Media
from reelhouse.jobs.params import InsightParams
from reelhouse.jobs.queue import enqueue
from reelhouse.wire.errors import ApiError


def enqueue_insight(session: Session, media: Media, insight: Insight) -> None:
    """A job for the insight as now asked for, in the caller's transaction."""
    enqueue(session, JobKind(insight.kind), media, params(media, insight.kind, insight.length))


def params(media: Media, kind: str, length: int | None) -> InsightParams:
    """What a job for this insight of the media, as now asked for, works to."""
    return InsightParams(length=length, moderation=moderation_type(media) if kind == InsightKind.MODERATION else None)


def moderation_type(media: Media) -> str:
    """The moderation asked for last: `video`, `audio` or `av`."""
    return (media.options.get("moderation") or {}).get("type", "audio")


def moderate(session: Session, media: Media, kind: str) -> None:
    """Moderation of `kind`; a different kind than asked for before redoes it (the request has no off switch)."""
    changed = moderation_type(media) != kind
    media.options = {**media.options, "moderation": {"type": kind}}
    toggle(session, media, InsightKind.MODERATION, True, None, redo=changed)


@on_ready
def _make_waiting_insights(session: Session, media: Media) -> None:
    """Summaries and chapters asked for before the media was playable are made now."""
    for insight in media.insights:
        if insight.status == InsightStatus.PREPARING:
            enqueue_insight(session, media, insight)


def toggle(session: Session, media: Media, kind: InsightKind, enabled: bool, length: int | None, *,
           redo: bool = False) -> None:
    """Off drops the result; on (again) makes it unless it is already made or being made as asked, so a failed
    one is retried and a new summaryLength (or `redo`) makes it anew."""
    insight = next((i for i in media.insights if i.kind == kind), None)
    if not enabled:
        if insight is not None:
            media.insights.remove(insight)
        return
    if insight is not None and insight.length == length and insight.status != InsightStatus.FAILED and not redo:
        return
    if media.status == MediaStatus.FAILED:
        raise ApiError(400, "Media failed", "A media that failed to process has nothing to work from.")
    if insight is None:
        insight = Insight(kind=kind)
        media.insights.append(insight)
    insight.status, insight.length, insight.data, insight.error = InsightStatus.PREPARING, length, None, None
    session.flush()
    if media.status == MediaStatus.READY:
        enqueue_insight(session, media, insight)
