"""`/on-demand/{mediaId}/playback-ids`: the public or private handles a media is played through (spec 7.20)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.api.deps import MediaIdDep, RuntimeDep, WorkspaceDep, uuid_param
from reelhouse.api.routing import WireRoute
from reelhouse.catalog.media import find_media, get_media, new_playback_id
from reelhouse.db.models import PlaybackId
from reelhouse.runtime import Runtime
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, not_found
from reelhouse.wire.schemas import CreatePlaybackIdRequest, Envelope, PlaybackIdOut, RestrictionRules, SuccessOnly

router = APIRouter(route_class=WireRoute, tags=["playback"])


PlaybackIdDep = Annotated[str, Depends(uuid_param("playbackId"))]
PlaybackIdQueryDep = Annotated[str, Depends(uuid_param("playbackId", Query))]


def _playback(session: Session, workspace_id: str, media_id: str, playback_id: str) -> PlaybackId:
    """The playback ID only when it belongs to this media of this workspace: others are indistinguishable from none."""
    media = find_media(session, workspace_id, media_id)
    if media is None:
        raise not_found()
    row = session.scalar(select(PlaybackId).where(PlaybackId.id == playback_id, PlaybackId.media_id == media.id))
    if row is None:
        raise not_found("Playback ID")
    return row


@router.post(
    "/on-demand/{mediaId}/playback-ids",
    status_code=201,
    response_model=Envelope[PlaybackIdOut],
    summary="Create a playback ID",
)
def create_playback_id(
    media_id: MediaIdDep, body: CreatePlaybackIdRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[PlaybackIdOut]:
    if body.access_policy == "drm":
        raise ApiError(400, "Unsupported option", "DRM playback is not supported by this server")
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        row = new_playback_id(body.access_policy, body.access_restrictions)
        row.resolution = body.resolution
        media.playback_ids.append(row)
        session.flush()
        return Envelope(data=views.playback_id(row))


@router.get(
    "/on-demand/{mediaId}/playback-ids", response_model=Envelope[list[PlaybackIdOut]], summary="List playback IDs"
)
def list_playback_ids(media_id: MediaIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[list[PlaybackIdOut]]:
    with rt.db.read() as session:
        media = get_media(session, workspace, media_id)
        return Envelope(data=[views.playback_id(row) for row in media.playback_ids])


@router.get(
    "/on-demand/{mediaId}/playback-ids/{playbackId}",
    response_model=Envelope[PlaybackIdOut],
    summary="Get a playback ID",
)
def get_playback_id(
    media_id: MediaIdDep,
    playback_id: PlaybackIdDep,
    rt: RuntimeDep,
    workspace: WorkspaceDep,
) -> Envelope[PlaybackIdOut]:
    with rt.db.read() as session:
        return Envelope(data=views.playback_id(_playback(session, workspace, media_id, playback_id)))


@router.delete("/on-demand/{mediaId}/playback-ids", response_model=SuccessOnly, summary="Delete a playback ID")
def delete_playback_id(
    media_id: MediaIdDep,
    playback_id: PlaybackIdQueryDep,
    rt: RuntimeDep,
    workspace: WorkspaceDep,
) -> SuccessOnly:
    """Playback checks read the row on every request, so its URLs stop working as soon as this commits."""
    with rt.db.write() as session:
        session.delete(_playback(session, workspace, media_id, playback_id))
    return SuccessOnly()


def _update_rules(
    rt: Runtime, workspace: str, media_id: str, playback_id: str, body: RestrictionRules, column: str
) -> Envelope[RestrictionRules]:
    """A PATCH: the fields sent replace the stored ones, the fields left out are kept."""
    with rt.db.write() as session:
        row = _playback(session, workspace, media_id, playback_id)
        rules: dict[str, Any] = {**RestrictionRules().model_dump(), **getattr(row, column),
                                 **body.model_dump(include=body.model_fields_set)}
        setattr(row, column, rules)
    return Envelope(data=RestrictionRules.model_validate(rules))


@router.patch(
    "/on-demand/{mediaId}/playback-ids/{playbackId}/domains",
    response_model=Envelope[RestrictionRules],
    summary="Update domain restrictions",
)
def update_domains(
    media_id: MediaIdDep,
    playback_id: PlaybackIdDep,
    body: RestrictionRules,
    rt: RuntimeDep,
    workspace: WorkspaceDep,
) -> Envelope[RestrictionRules]:
    return _update_rules(rt, workspace, media_id, playback_id, body, "domains")


@router.patch(
    "/on-demand/{mediaId}/playback-ids/{playbackId}/user-agents",
    response_model=Envelope[RestrictionRules],
    summary="Update user-agent restrictions",
)
def update_user_agents(
    media_id: MediaIdDep,
    playback_id: PlaybackIdDep,
    body: RestrictionRules,
    rt: RuntimeDep,
    workspace: WorkspaceDep,
) -> Envelope[RestrictionRules]:
    return _update_rules(rt, workspace, media_id, playback_id, body, "user_agents")
