"""`/on-demand` media routes: create from URL, list, get, update, delete, input info."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from reelhouse.api.deps import MediaIdDep, PageDep, RuntimeDep, WorkspaceDep, near_data
from reelhouse.api.idempotency import IdempotencyDep
from reelhouse.api.routing import WireRoute, wire_json
from reelhouse.catalog import clips, media, tracks, transforms
from reelhouse.db.generation import Remembered
from reelhouse.net.fetch import FetchError, check_url
from reelhouse.storage.keys import purge_media
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import (
    CreatedMediaOut,
    CreateMediaRequest,
    Envelope,
    InputInfoOut,
    ListEnvelope,
    MediaOut,
    SuccessOnly,
    UpdateMediaRequest,
)

router = APIRouter(route_class=WireRoute, tags=["media"])


@router.post("/on-demand", status_code=201, response_model=Envelope[CreatedMediaOut], summary="Create media from URL")
def create_media(
    body: CreateMediaRequest, rt: RuntimeDep, workspace: WorkspaceDep, idempotency: IdempotencyDep
) -> Envelope[CreatedMediaOut] | JSONResponse:
    if (first := idempotency.replay(rt, body)) is not None:
        return first
    for item in body.inputs:
        media.refuse_unsupported(body, item.unsupported())
    media.refuse_unsupported(body)
    if body.subtitles is not None:
        tracks.check_speech_language(rt.settings, body.subtitles.language_code)
    url = body.video.url or ""
    clip_of = clips.clipped_id(url)
    if clip_of is None:
        try:
            check_url(url, rt.address_policy)
        except FetchError as exc:
            raise ApiError(400, "Invalid input URL", str(exc)) from None
    transforms.check_urls(rt.address_policy, body.inputs)
    subtitles = transforms.subtitle_tracks(body.inputs)
    inputs = [i.model_dump(exclude_none=True) for i in body.inputs]
    with rt.db.write() as session:
        if clip_of is not None:
            clip_of = clips.check_source(session, workspace, clip_of, *body.trim())
        row = media.create_media(session, workspace_id=workspace, settings=body, inputs=inputs, source_url=url,
                                 source_media_id=clip_of)
        for subtitle in subtitles:  # made once the media is Ready
            tracks.add_track(session, row, subtitle)
        out = Envelope(data=views.created_media(row))
        idempotency.remember(session, body, 201, out)
        return out


@router.get("/on-demand", response_model=ListEnvelope[MediaOut], summary="List media")
async def list_media(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[MediaOut]:
    def listed() -> ListEnvelope[MediaOut]:
        rows, total = media.media_page_snapshot(rt.db, workspace, page.limit, page.start, page.order_by == "desc")
        return ListEnvelope(data=[views.media(row, rt.settings.base_url) for row in rows], pagination=page.pagination(total))

    return await near_data(rt, listed)


# GET media's body, per process, until a row it shows changes (SQLite's shared change count; none on PostgreSQL). Kept
# as bytes: a hit is sent as it is, and the garbage collector has nothing to walk in ten thousand of them.
_rendered: Remembered[tuple[str, str], bytes] = Remembered(10_000)


@router.get("/on-demand/{mediaId}", response_model=Envelope[MediaOut], summary="Get a media by ID")
async def read_media(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Response:
    """A media polled while it processes costs no database read until it changes (`db.generation.Remembered`)."""
    kept = _rendered.current(rt.db.generation)
    body = None if kept is None else kept.get((workspace, media_id))
    if body is None:
        def read() -> bytes:
            return wire_json(Envelope(data=views.media(media.media_snapshot(rt.db, workspace, media_id),
                                                       rt.settings.base_url)))

        body = await near_data(rt, read)
        if kept is not None:
            kept[(workspace, media_id)] = body
    return Response(body, media_type="application/json")


@router.patch("/on-demand/{mediaId}", response_model=Envelope[MediaOut], summary="Update a media by ID")
def update_media(
    media_id: MediaIdDep, body: UpdateMediaRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        media.update_media(session, row, body)
        return Envelope(data=views.media(row, rt.settings.base_url))


@router.delete("/on-demand/{mediaId}", response_model=SuccessOnly, summary="Delete a media by ID")
def delete_media(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        media.delete_media(session, row)
    purge_media(rt.storage, row.id, row.upload_id)
    return SuccessOnly()


@router.get("/on-demand/{mediaId}/input-info", response_model=Envelope[InputInfoOut], summary="Get info of media inputs")
def input_info(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[InputInfoOut]:
    with rt.db.read() as session:
        row = media.get_media(session, workspace, media_id)
        upload_url = rt.upload_urls.url(row.upload.id, row.upload.expires_at) if row.upload else None
        return Envelope(data=views.input_info(row, upload_url))
