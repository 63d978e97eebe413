"""`/on-demand/{mediaId}/tracks`: add, update and delete audio and subtitle tracks, and generate subtitles from an
audio track by speech recognition (spec 7.7-7.10).

Rows change here, with their webhook events, in one transaction; the `track` job makes each file playable,
and the files of a removed rendition go after the commit that stops naming them.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from reelhouse import catalog
from reelhouse.ai import models, speech
from reelhouse.api.deps import MediaIdDep, RuntimeDep, TrackIdDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.db.enums import MediaStatus, TrackStatus
from reelhouse.db.models import Media, Track
from reelhouse.jobs import tracks as track_jobs
from reelhouse.net.fetch import FetchError, check_url
from reelhouse.runtime import Runtime
from reelhouse.storage.keys import rendition_prefix
from reelhouse.webhooks.events import emit_media
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, not_found
from reelhouse.wire.schemas import (
    AddTrackRequest,
    Envelope,
    GeneratedTrackOut,
    GenerateSubtitlesRequest,
    SuccessOnly,
    TrackOut,
    TrackRequest,
    UpdateTrackRequest,
)

router = APIRouter(route_class=WireRoute, tags=["tracks"])


def check_track_url(rt: Runtime, url: str) -> None:
    """A URL the server must not or cannot fetch is refused now rather than failing the track later."""
    try:
        check_url(url, rt.settings.address_policy)
    except FetchError as exc:
        raise ApiError(400, "Invalid track URL", str(exc)) from None


def check_speech_language(rt: Runtime, language_code: str) -> None:
    """A language the configured speech model cannot recognise is refused now, with the setting that would."""
    try:
        supported = speech.supports(language_code, rt.settings)
    except models.ModelError as exc:
        raise ApiError(400, "Speech recognition unavailable", str(exc)) from None
    if not supported:
        raise ApiError(400, "Unsupported language", str(speech.UnsupportedLanguageError(language_code, rt.settings)))


def _locked_media(session: Session, workspace_id: str, media_id: str) -> Media:
    """The media, locked until the commit, so a track added while it turns Ready is made exactly once."""
    media = catalog.find_media(session, workspace_id, media_id)
    if media is None:
        raise not_found()
    session.refresh(media, with_for_update=True)
    return media


def _added_track(media: Media, track_id: str) -> Track:
    track = next((t for t in media.tracks if t.id == track_id), None)
    if track is None:
        raise not_found("Track")
    if track.stream_index is not None:
        raise ApiError(400, "Source track", "Tracks read from the media's own file cannot be changed or deleted.")
    return track


def _refuse_duplicate(media: Media, track_type: str, language_code: str, track: Track | None = None) -> None:
    """One track per type and language, so players can tell them apart (the SDK's TrackDuplicateRequestError)."""
    code = language_code.lower()
    if any(t.type == track_type and (t.language_code or "").lower() == code and t is not track for t in media.tracks):
        raise ApiError(400, "Duplicate track", f"The media already has a {track_type} track in {language_code!r}.")


def add_track(rt: Runtime, session: Session, media: Media, request: TrackRequest) -> Track:
    return _add(rt, session, media, Track(
        type=request.type, url=request.url, language_code=request.language_code, language_name=request.language_name,
        title=request.title, closed_captions=request.type == "subtitle" and request.closed_captions))


def _add(rt: Runtime, session: Session, media: Media, track: Track) -> Track:
    """Adds a `preparing` track in the caller's transaction: made at once if the media plays, else when it does."""
    if media.status == MediaStatus.FAILED:
        raise ApiError(400, "Media failed", "Tracks cannot be added to a media that failed to process.")
    _refuse_duplicate(media, track.type, track.language_code or "")
    track.status = TrackStatus.PREPARING
    track.position = max((t.position for t in media.tracks), default=0) + 1
    media.tracks.append(track)
    session.flush()
    if media.status == MediaStatus.READY:
        track_jobs.enqueue(rt, session, media, track)
    emit_media(session, "video.media.track.created", media, base_url=rt.settings.base_url)
    return track


@router.post("/on-demand/{mediaId}/tracks", status_code=201, response_model=Envelope[TrackOut],
             summary="Add an audio or subtitle track")
def add(media_id: MediaIdDep, body: AddTrackRequest, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[TrackOut]:
    check_track_url(rt, body.tracks.url)
    with rt.db.write() as session:
        track = add_track(rt, session, _locked_media(session, workspace, media_id), body.tracks)
        out = views.track(track)
    rt.jobs.notify()
    return Envelope(data=out)


@router.post("/on-demand/{mediaId}/tracks/{trackId}/generate-subtitles", response_model=Envelope[GeneratedTrackOut],
             summary="Generate subtitles from an audio track")
def generate_subtitles(
    media_id: MediaIdDep, track_id: TrackIdDep, body: GenerateSubtitlesRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[GeneratedTrackOut]:
    """A subtitle track, `preparing` until speech recognition of the audio track is published. Asking again while
    the media has a subtitle track in that language, being generated or not, is the duplicate-track 400."""
    check_speech_language(rt, body.language_code)
    with rt.db.write() as session:
        media = _locked_media(session, workspace, media_id)
        audio = next((t for t in media.tracks if t.id == track_id), None)
        if audio is None:
            raise not_found("Track")
        if audio.type != "audio":
            has_audio = any(t.type == "audio" for t in media.tracks)
            reason = (f"Subtitles are generated from an audio track, not a {audio.type} track." if has_audio
                      else "The media has no audio track to transcribe.")
            raise ApiError(400, "Not an audio track", reason)
        if audio.status != TrackStatus.AVAILABLE:
            raise ApiError(400, "Audio track not ready", f"The audio track is {audio.status}; it can be transcribed "
                           "once it is available.")
        track = _add(rt, session, media, Track(
            type="subtitle", language_code=body.language_code, language_name=body.language_name, title=body.title,
            meta=body.metadata, source_track_id=audio.id))
        out = views.generated_track(track)
    rt.jobs.notify()
    return Envelope(data=out)


@router.patch("/on-demand/{mediaId}/tracks/{trackId}", response_model=Envelope[TrackOut], summary="Update a track")
def update(
    media_id: MediaIdDep, track_id: TrackIdDep, body: UpdateTrackRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[TrackOut]:
    """Labels change at once; a new `url` keeps the track ID and plays the old file until the new one is ready."""
    if body.url is not None:
        check_track_url(rt, body.url)
    with rt.db.write() as session:
        media = _locked_media(session, workspace, media_id)
        track = _added_track(media, track_id)
        if body.language_code is not None:
            _refuse_duplicate(media, track.type, body.language_code, track)
        labels = body.model_dump(by_alias=False, exclude_none=True, exclude={"url", "closed_captions"})
        if body.closed_captions is not None and track.type == "subtitle":
            labels["closed_captions"] = body.closed_captions
        for field, value in labels.items():
            setattr(track, field, value)
        for rendition in media.renditions:
            if rendition.track_id == track.id:
                track_jobs.label(track, rendition)
        if body.url is not None:
            track.url, track.revision, track.error = body.url, track.revision + 1, None
            track.status = TrackStatus.PREPARING
            if media.status == MediaStatus.READY:
                track_jobs.enqueue(rt, session, media, track)
        session.flush()
        emit_media(session, "video.media.track.updated", media, base_url=rt.settings.base_url)
        if body.url is None:  # a new file announces itself once it plays
            emit_media(session, "video.media.updated", media, base_url=rt.settings.base_url)
        out = views.track(track)
    rt.jobs.notify()
    return Envelope(data=out)


@router.delete("/on-demand/{mediaId}/tracks/{trackId}", response_model=SuccessOnly, summary="Delete a track")
def delete(media_id: MediaIdDep, track_id: TrackIdDep, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    """The master playlist stops naming the track at the commit; its files go right after."""
    with rt.db.write() as session:
        media = _locked_media(session, workspace, media_id)
        track = _added_track(media, track_id)
        removed = [r for r in media.renditions if r.track_id == track.id]
        for rendition in removed:
            media.renditions.remove(rendition)
        media.tracks.remove(track)
        session.flush()
        emit_media(session, "video.media.track.deleted", media, base_url=rt.settings.base_url)
        emit_media(session, "video.media.updated", media, base_url=rt.settings.base_url)
    for rendition in removed:
        rt.storage.delete_prefix(rendition_prefix(media.id, rendition.name))
    return SuccessOnly()
