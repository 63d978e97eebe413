"""What a media says, worked out: `PATCH …/summary`, `GET …/summary`, `PATCH …/chapters`, `…/named-entities`,
`…/moderation` (spec 7.18-7.19).

Turning one on queues its job once the media is Ready; the result shows on the media (`summary`/`chapters`/
`namedEntities`/`moderation` records), in `GET …/summary`, and as `/stream/{playbackId}/chapters.vtt`.
"""

from __future__ import annotations

from fastapi import APIRouter

from reelhouse.api.deps import MediaIdDep, RuntimeDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.catalog import insights, media
from reelhouse.db.enums import InsightKind, InsightStatus
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import (
    ChaptersToggleOut,
    Envelope,
    ModerationToggleOut,
    NamedEntitiesToggleOut,
    SummaryToggleOut,
    UpdateChaptersRequest,
    UpdateModerationRequest,
    UpdateNamedEntitiesRequest,
    UpdateSummaryRequest,
)

router = APIRouter(route_class=WireRoute, tags=["in-video AI"])


@router.patch("/on-demand/{mediaId}/summary", response_model=Envelope[SummaryToggleOut],
              summary="Generate or turn off the video summary")
def update_summary(
    media_id: MediaIdDep, body: UpdateSummaryRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[SummaryToggleOut]:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        insights.toggle(session, row, InsightKind.SUMMARY, body.generate, body.summary_length)
        return Envelope(data=SummaryToggleOut(media_id=row.id, is_summary_enabled=body.generate))


@router.get("/on-demand/{mediaId}/summary", response_model=Envelope[str], summary="Get the summary of a video")
def read_summary(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[str]:
    """The summary text. Every state without one is a 400 (FastPix's own answer when it is off), so a client that
    accepts only 200, like the SDK, gets an error whose message says which state: not enabled, not ready yet
    (ask again after `video.mediaAI.summary.ready`), or not available and why (e.g. too little speech)."""
    with rt.db.read() as session:
        insight = views.insight(media.get_media(session, workspace, media_id), InsightKind.SUMMARY)
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
        row = media.get_media(session, workspace, media_id)
        insights.toggle(session, row, InsightKind.CHAPTERS, body.chapters, None)
        return Envelope(data=ChaptersToggleOut(media_id=row.id, is_chapters_enabled=body.chapters))


@router.patch("/on-demand/{mediaId}/named-entities", response_model=Envelope[NamedEntitiesToggleOut],
              summary="Generate or turn off named entities")
def update_named_entities(
    media_id: MediaIdDep, body: UpdateNamedEntitiesRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[NamedEntitiesToggleOut]:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        insights.toggle(session, row, InsightKind.NAMED_ENTITIES, body.named_entities, None)
        return Envelope(data=NamedEntitiesToggleOut(media_id=row.id, is_named_entities_enabled=body.named_entities))


@router.patch("/on-demand/{mediaId}/moderation", response_model=Envelope[ModerationToggleOut],
              summary="Moderate what a video shows and says")
def update_moderation(
    media_id: MediaIdDep, body: UpdateModerationRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[ModerationToggleOut]:
    """The request has no off switch (spec 7.19): asking again redoes moderation if it failed or the type changed."""
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        insights.moderate(session, row, body.moderation.type)
        return Envelope(data=ModerationToggleOut(media_id=row.id, is_moderation_enabled=True))
