"""`/on-demand` media routes: create from URL, list, get, update, delete, input info."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session, joinedload, selectinload

from reelhouse import catalog
from reelhouse.api.deps import MediaIdDep, PageDep, RuntimeDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.api.tracks import add_track, check_speech_language, check_track_url
from reelhouse.db.models import Media
from reelhouse.net.fetch import FetchError, check_url
from reelhouse.webhooks.events import emit_media
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, not_found
from reelhouse.wire.schemas import (
    CreatedMediaOut,
    CreateMediaRequest,
    Envelope,
    InputInfoOut,
    ListEnvelope,
    MediaOut,
    MediaSettings,
    SuccessOnly,
    TrackRequest,
    UpdateMediaRequest,
)

router = APIRouter(route_class=WireRoute, tags=["media"])


def refuse_unsupported(settings: MediaSettings, reason: str | None = None) -> None:
    """A 400 naming the feature, rather than accepting a request whose options would be silently ignored."""
    reason = reason or settings.unsupported()
    if reason:
        raise ApiError(400, "Unsupported option", reason)


def get_media(session: Session, workspace_id: str, media_id: str) -> Media:
    """The media with everything its wire form shows, in one query."""
    media = catalog.find_media(session, workspace_id, media_id, *(joinedload(r) for r in views.RENDERED))
    if media is None:
        raise not_found()
    return media


@router.post("/on-demand", status_code=201, response_model=Envelope[CreatedMediaOut], summary="Create media from URL")
def create_media(body: CreateMediaRequest, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[CreatedMediaOut]:
    for item in body.inputs:
        refuse_unsupported(body, item.unsupported())
    refuse_unsupported(body)
    if body.subtitles is not None:
        check_speech_language(rt, body.subtitles.language_code)
    url = next(i.url for i in body.inputs if i.type == "video")
    try:
        check_url(url, rt.settings.address_policy)
    except FetchError as exc:
        raise ApiError(400, "Invalid input URL", str(exc)) from None
    subtitles = [TrackRequest.model_validate(i.model_dump(include={"type", "url", "language_code", "language_name"}))
                 for i in body.inputs if i.type == "subtitle"]
    for subtitle in subtitles:
        check_track_url(rt, subtitle.url)
    inputs = [i.model_dump(exclude_none=True) for i in body.inputs]
    with rt.db.write() as session:
        media = catalog.create_media(
            session, rt.jobs, workspace_id=workspace, settings=body, inputs=inputs, source_url=url,
            base_url=rt.settings.base_url,
        )
        for subtitle in subtitles:  # made once the media is Ready
            add_track(rt, session, media, subtitle)
        out = views.created_media(media)
    rt.jobs.notify()
    return Envelope(data=out)


@router.get("/on-demand", response_model=ListEnvelope[MediaOut], summary="List media")
def list_media(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[MediaOut]:
    with rt.db.read() as session:
        rows, pagination = page.select(session, Media, Media.workspace_id == workspace, by=Media.created_at,
                                       options=[selectinload(r) for r in views.RENDERED])
        data = [views.media(row, rt.settings.base_url) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.get("/on-demand/{mediaId}", response_model=Envelope[MediaOut], summary="Get a media by ID")
def read_media(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[MediaOut]:
    with rt.db.read() as session:
        return Envelope(data=views.media(get_media(session, workspace, media_id), rt.settings.base_url))


@router.patch("/on-demand/{mediaId}", response_model=Envelope[MediaOut], summary="Update a media by ID")
def update_media(
    media_id: MediaIdDep, body: UpdateMediaRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        if body.metadata is not None:
            media.meta = dict(body.metadata)
        if body.title is not None:
            media.title = body.title
        if body.creator_id is not None:
            media.creator_id = body.creator_id
        session.flush()
        emit_media(session, "video.media.updated", media, base_url=rt.settings.base_url)
        return Envelope(data=views.media(media, rt.settings.base_url))


@router.delete("/on-demand/{mediaId}", response_model=SuccessOnly, summary="Delete a media by ID")
def delete_media(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        emit_media(session, "video.media.deleted", media, base_url=rt.settings.base_url)
        session.delete(media)
        deleted_id, upload_id = media.id, media.upload_id
    catalog.purge_media_objects(rt.storage, deleted_id, upload_id)
    return SuccessOnly()


@router.get("/on-demand/{mediaId}/input-info", response_model=Envelope[InputInfoOut], summary="Get info of media inputs")
def input_info(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[InputInfoOut]:
    with rt.db.read() as session:
        media = get_media(session, workspace, media_id)
        upload_url = rt.upload_urls.url(media.upload.id, media.upload.expires_at) if media.upload else None
        return Envelope(data=views.input_info(media, upload_url))
