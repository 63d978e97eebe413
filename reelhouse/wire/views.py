"""Rows to wire objects, formatted the way FastPix clients parse them (spec section 4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from reelhouse.db.enums import DownloadStatus, InsightKind, InsightStatus, MediaStatus, TrackStatus, UploadStatus
from reelhouse.db.models import Insight, Media, PlaybackId, Playlist, Track, Upload, utcnow
from reelhouse.media import mp4
from reelhouse.media.ladder import HEIGHTS
from reelhouse.wire.schemas import (
    AccessRestrictions,
    CancelledUploadOut,
    CreatedMediaOut,
    GeneratedSubtitleOut,
    GeneratedTrackOut,
    InputInfoFile,
    InputInfoOut,
    InsightOut,
    MediaOut,
    Mp4SupportOut,
    PlaybackIdOut,
    PlaylistFilters,
    PlaylistMediaOut,
    PlaylistOut,
    PlaylistSummaryOut,
    RestrictionRules,
    TrackOut,
    UploadOut,
)


def timestamp(value: datetime) -> str:
    """RFC 3339 with microseconds and Z, as the live API sends."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration(seconds: float | None) -> str | None:
    """A decimal-seconds string: the one form both fastpix-python 1.1 (str) and 1.2 (float) accept."""
    return None if seconds is None else f"{seconds:.2f}"


def playback_id(row: PlaybackId) -> PlaybackIdOut:
    return PlaybackIdOut(
        id=row.id,
        access_policy=row.access_policy,
        access_restrictions=AccessRestrictions(
            domains=RestrictionRules.model_validate(row.domains or {}),
            user_agents=RestrictionRules.model_validate(row.user_agents or {}),
        ),
        resolution=row.resolution,
    )


def track(row: Track) -> TrackOut:
    if row.type == "video":
        return TrackOut(id=row.id, type="video", status=row.status, width=row.width, height=row.height,
                        frame_rate=row.frame_rate)
    return TrackOut(id=row.id, type=row.type, status=row.status, language_code=row.language_code or "und",
                    language_name=row.language_name or "default", title=row.title, url=row.url,
                    closed_captions=row.closed_captions if row.type == "subtitle" else None,
                    error=row.error if row.status == TrackStatus.FAILED else None)


def generated_track(row: Track) -> GeneratedTrackOut:
    return GeneratedTrackOut(id=row.id, language_code=row.language_code or "und", language_name=row.language_name or "",
                             title=row.title, metadata=row.meta, status=row.status)


def generated_subtitles(row: Media) -> list[GeneratedSubtitleOut]:
    return [GeneratedSubtitleOut(id=t.id, status=t.status, language_code=t.language_code or "und",
                                 language_name=t.language_name or "", error=t.error)
            for t in row.tracks if t.generated]


def insight(row: Media, kind: InsightKind) -> InsightOut | None:
    """The record of a summary or chapters; None (left out) when not enabled."""
    found: Insight | None = next((i for i in row.insights if i.kind == kind), None)
    if found is None:
        return None
    if found.status == InsightStatus.PREPARING and row.status == MediaStatus.FAILED:  # its job will never run
        return InsightOut(status=InsightStatus.FAILED, error="the media failed to process")
    return InsightOut(status=found.status, data=found.data, error=found.error)


def source_resolution(media: Media) -> str | None:
    """FastPix reports the source's short side without a `p` (live: "720")."""
    if media.width is None or media.height is None:
        return None
    return str(min(media.width, media.height))


def mp4_support(row: Media) -> list[Mp4SupportOut] | None:
    """Each requested rendition: `preparing` until its job records the outcome; omitted when none is requested."""
    recorded = {d.type: d for d in row.downloads}
    pending = DownloadStatus.FAILED if row.status == MediaStatus.FAILED else DownloadStatus.PREPARING
    entries = []
    for kind in mp4.requested(row.mp4_support):
        done = recorded.get(kind.type)
        entries.append(Mp4SupportOut(type=kind.type, status=done.status if done else pending, ext=kind.ext,
                                     width=done.width if done else None, height=done.height if done else None))
    return entries or None


RENDERED = (Media.playback_ids, Media.tracks, Media.downloads, Media.insights)  # what `media()` reads: load eagerly


def media(row: Media, base_url: str) -> MediaOut:
    ready = row.status == MediaStatus.READY and row.playback_ids
    return MediaOut(
        id=row.id,
        workspace_id=row.workspace_id,
        source_media_id=row.source_media_id,
        status=row.status,
        thumbnail=f"{base_url}/images/{row.playback_ids[0].id}/thumbnail.png" if ready and not row.is_audio_only else None,
        title=row.title,
        creator_id=row.creator_id,
        metadata=row.meta,
        media_quality=row.media_quality,
        max_resolution=row.max_resolution,  # what the user asked for (SDK: "specified by the user"), as on create
        source_resolution=source_resolution(row),
        source_access=row.source_access,
        optimize_audio=row.optimize_audio,
        mp4_support=mp4_support(row),
        playback_ids=[playback_id(p) for p in row.playback_ids],
        tracks=[track(t) for t in row.tracks],
        generated_subtitles=generated_subtitles(row),
        summary=insight(row, InsightKind.SUMMARY),
        chapters=insight(row, InsightKind.CHAPTERS),
        named_entities=insight(row, InsightKind.NAMED_ENTITIES),
        moderation=insight(row, InsightKind.MODERATION),
        is_audio_only=row.is_audio_only,
        subtitle_available=any(t.type == "subtitle" and t.status == TrackStatus.AVAILABLE for t in row.tracks),
        duration=duration(row.duration),
        frame_rate=row.frame_rate,
        aspect_ratio=row.aspect_ratio,
        upload_id=row.upload_id,
        error=row.error,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )


CLIP_SOURCE_RESOLUTIONS = {str(h) for h in HEIGHTS.values()}


def media_clip(row: Media, base_url: str) -> MediaOut:
    """A media as get-media-clips lists it: the SDK reads `sourceResolution` there as a closed enum of the tiers,
    so a source of another size (240 lines, say) is null rather than a value the client would refuse."""
    out = media(row, base_url)
    if out.source_resolution not in CLIP_SOURCE_RESOLUTIONS:
        out.source_resolution = None
    return out


def created_media(row: Media) -> CreatedMediaOut:
    return CreatedMediaOut(
        id=row.id,
        status=row.status,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
        playback_ids=[playback_id(p) for p in row.playback_ids],
        metadata=row.meta,
        max_resolution=row.max_resolution,
        media_quality=row.media_quality,
        inputs=row.inputs,
        optimize_audio=row.optimize_audio,
        source_access=row.source_access,
    )


def upload_status(row: Upload) -> str:
    """`timed_out` is derived, not stored: an unfinished upload whose URL has expired."""
    if row.status == UploadStatus.WAITING and row.expires_at <= utcnow():
        return "timed_out"
    return row.status


def upload(row: Upload, url: str) -> UploadOut:
    settings = dict(row.settings)
    restrictions = settings.get("accessRestrictions") or AccessRestrictions().model_dump()
    settings["playbackIds"] = [{"accessPolicy": settings["accessPolicy"], "accessRestrictions": restrictions}]
    return UploadOut(
        upload_id=row.id,
        status=upload_status(row),
        url=url,
        timeout=row.timeout,
        cors_origin=row.cors_origin,
        push_media_settings=settings,
        media_id=row.media.id if row.media else None,
    )


def cancelled_upload(row: Upload, url: str) -> CancelledUploadOut:
    return CancelledUploadOut(
        upload_id=row.id,
        status=upload_status(row),
        url=url,
        timeout=row.timeout,
        cors_origin=row.cors_origin,
        max_resolution=row.settings.get("maxResolution", "1080p"),
        access_policy=row.settings["accessPolicy"],
        metadata=row.settings.get("metadata", {}),
    )


def input_info(row: Media, upload_url: str | None) -> InputInfoOut:
    file = None
    if row.container_format:
        source_tracks = [track(t) for t in row.tracks if t.stream_index is not None]  # not the added ones
        file = InputInfoFile(container_format=row.container_format, tracks=source_tracks)
    return InputInfoOut(configuration={"url": row.source_url or upload_url}, file=file)


def playlist_media(row: Media, base_url: str) -> PlaylistMediaOut:
    ready = row.status == MediaStatus.READY and row.playback_ids and not row.is_audio_only
    return PlaylistMediaOut(
        id=row.id, status=row.status, duration=duration(row.duration), source_resolution=source_resolution(row),
        thumbnail=f"{base_url}/images/{row.playback_ids[0].id}/thumbnail.png" if ready else None,
        created_at=timestamp(row.created_at),
    )


def playlist(row: Playlist, media_list: Sequence[Media], base_url: str) -> PlaylistOut:
    return PlaylistOut(
        id=row.id, name=row.name, reference_id=row.reference_id, type=row.type, description=row.description,
        play_order=row.play_order, limit=row.limit,
        metadata=PlaylistFilters.model_validate(row.filters) if row.filters else None,
        media_list=[playlist_media(m, base_url) for m in media_list], media_count=len(media_list),
        workspace_id=row.workspace_id, created_at=timestamp(row.created_at), updated_at=timestamp(row.updated_at),
    )


def playlist_summary(row: Playlist, media_count: int) -> PlaylistSummaryOut:
    return PlaylistSummaryOut(id=row.id, name=row.name, type=row.type, reference_id=row.reference_id,
                              created_at=timestamp(row.created_at), media_count=media_count)
