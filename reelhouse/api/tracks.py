"""`/on-demand/{mediaId}/tracks`: add, update and delete audio and subtitle tracks, and generate subtitles from an
audio track by speech recognition (spec 7.7-7.10). The rules are `catalog.tracks`'."""

from __future__ import annotations

from fastapi import APIRouter

from reelhouse.api.deps import MediaIdDep, RuntimeDep, TrackIdDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.catalog import media, tracks
from reelhouse.storage.keys import rendition_prefix
from reelhouse.wire import views
from reelhouse.wire.schemas import (
    AddTrackRequest,
    Envelope,
    GeneratedTrackOut,
    GenerateSubtitlesRequest,
    SuccessOnly,
    TrackOut,
    UpdateTrackRequest,
)

router = APIRouter(route_class=WireRoute, tags=["tracks"])


@router.post("/on-demand/{mediaId}/tracks", status_code=201, response_model=Envelope[TrackOut],
             summary="Add an audio or subtitle track")
def add(media_id: MediaIdDep, body: AddTrackRequest, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[TrackOut]:
    tracks.check_track_url(rt.address_policy, body.tracks.url)
    with rt.db.write() as session:
        track = tracks.add_track(session, media.locked_media(session, workspace, media_id), body.tracks)
        return Envelope(data=views.track(track))


@router.post("/on-demand/{mediaId}/tracks/{trackId}/generate-subtitles", response_model=Envelope[GeneratedTrackOut],
             summary="Generate subtitles from an audio track")
def generate_subtitles(
    media_id: MediaIdDep, track_id: TrackIdDep, body: GenerateSubtitlesRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[GeneratedTrackOut]:
    tracks.check_speech_language(rt.settings, body.language_code)
    with rt.db.write() as session:
        track = tracks.generate_subtitles(session, media.locked_media(session, workspace, media_id), track_id, body)
        return Envelope(data=views.generated_track(track))


@router.patch("/on-demand/{mediaId}/tracks/{trackId}", response_model=Envelope[TrackOut], summary="Update a track")
def update(
    media_id: MediaIdDep, track_id: TrackIdDep, body: UpdateTrackRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[TrackOut]:
    if body.url is not None:
        tracks.check_track_url(rt.address_policy, body.url)
    with rt.db.write() as session:
        track = tracks.update_track(session, media.locked_media(session, workspace, media_id), track_id, body)
        return Envelope(data=views.track(track))


@router.delete("/on-demand/{mediaId}/tracks/{trackId}", response_model=SuccessOnly, summary="Delete a track")
def delete(media_id: MediaIdDep, track_id: TrackIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    with rt.db.write() as session:
        row = media.locked_media(session, workspace, media_id)
        removed = tracks.delete_track(session, row, track_id)
    for name in removed:
        rt.storage.delete_prefix(rendition_prefix(row.id, name))
    return SuccessOnly()
