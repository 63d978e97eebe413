"""`/on-demand/playlists…` (spec 7.22): create, list, read, rename and delete playlists; add, reorder and remove
the media of a manual one. Registered before the `/on-demand/{mediaId}` routes, which would otherwise take
`playlists` for a media id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from reelhouse.api.deps import PageDep, RuntimeDep, WorkspaceDep, uuid_param
from reelhouse.api.routing import WireRoute
from reelhouse.catalog import playlists
from reelhouse.db.models import Playlist
from reelhouse.runtime import Runtime
from reelhouse.wire import views
from reelhouse.wire.schemas import (
    CreatePlaylistRequest,
    Envelope,
    ListEnvelope,
    MediaIdsRequest,
    PlaylistOut,
    PlaylistSummaryOut,
    SuccessOnly,
    UpdatePlaylistRequest,
)

router = APIRouter(route_class=WireRoute, tags=["playlists"])
PlaylistIdDep = Annotated[str, Depends(uuid_param("playlistId"))]


def _out(rt: Runtime, session: Session, row: Playlist) -> PlaylistOut:
    return views.playlist(row, playlists.media_of(session, row), rt.settings.base_url)


@router.post("/on-demand/playlists", status_code=201, response_model=Envelope[PlaylistOut], summary="Create a playlist")
def create_playlist(body: CreatePlaylistRequest, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[PlaylistOut]:
    with rt.db.write() as session:
        row = playlists.create_playlist(session, workspace, body)
        return Envelope(data=_out(rt, session, row))


@router.get("/on-demand/playlists", response_model=ListEnvelope[PlaylistSummaryOut], summary="Get all playlists")
def list_playlists(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[PlaylistSummaryOut]:
    with rt.db.read() as session:
        rows, pagination = page.select(session, Playlist, Playlist.workspace_id == workspace, by=Playlist.created_at)
        data = [views.playlist_summary(row, len(playlists.media_of(session, row))) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.get("/on-demand/playlists/{playlistId}", response_model=Envelope[PlaylistOut], summary="Get a playlist by ID")
def read_playlist(playlist_id: PlaylistIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[PlaylistOut]:
    with rt.db.read() as session:
        return Envelope(data=_out(rt, session, playlists.get_playlist(session, workspace, playlist_id)))


@router.put("/on-demand/playlists/{playlistId}", response_model=Envelope[PlaylistOut], summary="Update a playlist")
def update_playlist(
    playlist_id: PlaylistIdDep, body: UpdatePlaylistRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[PlaylistOut]:
    with rt.db.write() as session:
        row = playlists.get_playlist(session, workspace, playlist_id)
        playlists.update_playlist(row, body)
        session.flush()
        return Envelope(data=_out(rt, session, row))


@router.delete("/on-demand/playlists/{playlistId}", response_model=SuccessOnly, summary="Delete a playlist")
def delete_playlist(playlist_id: PlaylistIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    with rt.db.write() as session:
        session.delete(playlists.get_playlist(session, workspace, playlist_id))
    return SuccessOnly()


@router.patch("/on-demand/playlists/{playlistId}/media", response_model=Envelope[PlaylistOut],
              summary="Add media to a playlist")
def add_media(
    playlist_id: PlaylistIdDep, body: MediaIdsRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[PlaylistOut]:
    with rt.db.write() as session:
        row = playlists.get_playlist(session, workspace, playlist_id)
        playlists.add_media(session, row, body.media_ids)
        return Envelope(data=_out(rt, session, row))


@router.put("/on-demand/playlists/{playlistId}/media", response_model=Envelope[PlaylistOut],
            summary="Change the order of the media in a playlist")
def reorder_media(
    playlist_id: PlaylistIdDep, body: MediaIdsRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[PlaylistOut]:
    with rt.db.write() as session:
        row = playlists.get_playlist(session, workspace, playlist_id)
        playlists.reorder_media(session, row, body.media_ids)
        return Envelope(data=_out(rt, session, row))


@router.delete("/on-demand/playlists/{playlistId}/media", response_model=Envelope[PlaylistOut],
               summary="Remove media from a playlist")
def remove_media(
    playlist_id: PlaylistIdDep, body: MediaIdsRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[PlaylistOut]:
    with rt.db.write() as session:
        row = playlists.get_playlist(session, workspace, playlist_id)
        playlists.remove_media(session, row, body.media_ids)
        return Envelope(data=_out(rt, session, row))
