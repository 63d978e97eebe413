"""Summaries and chapters of what a media says: `PATCH …/summary`, `GET …/summary`, `PATCH …/chapters` (spec 7.18-7.19).

Turning one on queues its job once the media is Ready; the result shows on the media (`summary`/`chapters`
records), in `GET …/summary`, and as `/stream/{playbackId}/chapters.vtt`.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from reelhouse.api.deps import MediaIdDep, RuntimeDep, WorkspaceDep
from reelhouse.api.media import get_media
from reelhouse.api.routing import WireRoute
from reelhouse.db.enums import InsightKind, InsightStatus, MediaStatus
from reelhouse.db.models import Insight, Media
from reelhouse.jobs import ai
from reelhouse.runtime import Runtime
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import (
    ChaptersToggleOut,
    Envelope,
    SummaryToggleOut,
    UpdateChaptersRequest,
    UpdateSummaryRequest,
)

router = APIRouter(route_class=WireRoute, tags=["in-video AI"])


def _toggle(rt: Runtime, session: Session, media: Media, kind: InsightKind, enabled: bool, length: int | None) -> None:
    """Off drops the result; on (again) makes it unless it is already made or being made as asked, so a failed
    one is retried and a new summaryLength redoes the summary."""
    insight = next((i for i in media.insights if i.kind == kind), None)
    if not enabled:
        if insight is not None:
            media.insights.remove(insight)
        return
    if insight is not None and insight.length == length and insight.status != InsightStatus.FAILED:
        return
    if media.status == MediaStatus.FAILED:
        raise ApiError(400, "Media failed", "A media that failed to process has nothing to work from.")
    if insight is None:
        insight = Insight(kind=kind)
        media.insights.append(insight)
    insight.status, insight.length, insight.data, insight.error = InsightStatus.PREPARING, length, None, None
    session.flush()
    if media.status == MediaStatus.READY:
        ai.enqueue(rt, session, media, insight)


@router.patch("/on-demand/{mediaId}/summary", response_model=Envelope[SummaryToggleOut],
              summary="Generate or turn off the video summary")
def update_summary(
    media_id: MediaIdDep, body: UpdateSummaryRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[SummaryToggleOut]:
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        _toggle(rt, session, media, InsightKind.SUMMARY, body.generate, body.summary_length)
        out = SummaryToggleOut(media_id=media.id, is_summary_enabled=body.generate)
    rt.jobs.notify()
    return Envelope(data=out)


@router.get("/on-demand/{mediaId}/summary", response_model=Envelope[str], summary="Get the summary of a video")
def read_summary(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[str]:
    """The summary text. Every state without one is a 400 (FastPix's own answer when it is off), so a client that
    accepts only 200, like the SDK, gets an error whose message says which state: not enabled, not ready yet
    (ask again after `video.mediaAI.summary.ready`), or not available and why (e.g. too little speech)."""
    with rt.db.read() as session:
        insight = views.insight(get_media(session, workspace, media_id), InsightKind.SUMMARY)
    if insight is None:
        raise ApiError(400, "Summary not enabled", "Summary is not enabled for the requested media")
    if insight.status == InsightStatus.PREPARING:
        raise ApiError(400, "Summary not ready", "The summary is still being generated; ask again once the "
                       "video.mediaAI.summary.ready webhook arrives or the media's summary.status is ready.")
    if insight.status == InsightStatus.FAILED:
        raise ApiError(400, "Summary not available", f"No summary can be made: {insight.error}.")
    return Envelope(data=insight.data)


@router.patch("/on-demand/{mediaId}/chapters", response_model=Envelope[ChaptersToggleOut],
              summary="Generate or turn off video chapters")
def update_chapters(
    media_id: MediaIdDep, body: UpdateChaptersRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[ChaptersToggleOut]:
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        _toggle(rt, session, media, InsightKind.CHAPTERS, body.chapters, None)
        out = ChaptersToggleOut(media_id=media.id, is_chapters_enabled=body.chapters)
    rt.jobs.notify()
    return Envelope(data=out)
