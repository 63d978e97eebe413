"""Creating, finding and deleting media: the rules shared by the API, the upload endpoint and the workers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from reelhouse.db.enums import InsightKind, TrackStatus
from reelhouse.db.models import Insight, Media, PlaybackId, Track
from reelhouse.jobs.queue import JobQueue
from reelhouse.storage import Storage
from reelhouse.storage.keys import media_prefix, upload_prefix
from reelhouse.webhooks.events import emit_media
from reelhouse.wire.schemas import AUTO_SUBTITLE_LANGUAGES, AccessRestrictions, MediaSettings

OPTION_FIELDS = ("subtitles", "summary", "chapters", "named_entities", "moderation")


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def new_playback_id(policy: str, restrictions: AccessRestrictions | None) -> PlaybackId:
    restrictions = restrictions or AccessRestrictions()
    return PlaybackId(
        access_policy=policy,
        domains=restrictions.domains.model_dump(),
        user_agents=restrictions.user_agents.model_dump(),
    )


def create_media(
    session: Session,
    queue: JobQueue,
    *,
    workspace_id: str,
    settings: MediaSettings,
    inputs: list[dict[str, Any]],
    source_url: str | None = None,
    upload_id: str | None = None,
    base_url: str,
) -> Media:
    """Adds the media, its first playback ID, the subtitles, summary and chapters its options ask for, its ingest
    job and its webhook events to the caller's transaction."""
    media = Media(
        workspace_id=workspace_id,
        upload_id=upload_id,
        title=settings.title,
        creator_id=settings.creator_id,
        meta=dict(settings.metadata),
        max_resolution=settings.max_resolution,
        media_quality=settings.media_quality,
        source_access=settings.source_access,
        optimize_audio=settings.optimize_audio,
        mp4_support=settings.mp4_support,
        inputs=inputs,
        options=settings.model_dump(include=set(OPTION_FIELDS), exclude_none=True),
        source_url=source_url,
    )
    media.playback_ids.append(new_playback_id(settings.access_policy, settings.access_restrictions))
    if settings.subtitles is not None:  # from the original's audio, once the media is Ready
        code = settings.subtitles.language_code
        media.tracks.append(Track(type="subtitle", status=TrackStatus.PREPARING, position=1, language_code=code,
                                  language_name=settings.subtitles.language_name or AUTO_SUBTITLE_LANGUAGES[code],
                                  meta=settings.subtitles.metadata))
    if settings.summary is not None and settings.summary.generate:
        media.insights.append(Insight(kind=InsightKind.SUMMARY, length=settings.summary.summary_length))
    if settings.chapters:
        media.insights.append(Insight(kind=InsightKind.CHAPTERS))
    session.add(media)
    session.flush()
    queue.enqueue(session, "ingest", workspace_id=workspace_id, media_id=media.id)
    emit_media(session, "video.media.created", media, base_url=base_url)
    if upload_id is not None:
        emit_media(session, "video.upload.media_created", media, base_url=base_url)
    return media


def find_media(session: Session, workspace_id: str, media_id: str, *options: ORMOption) -> Media | None:
    """By media id, or by the id of the direct upload that created it (FastPix accepts both).
    `options` eager-load what the caller is about to read."""
    query = select(Media).where(
        Media.workspace_id == workspace_id, or_(Media.id == media_id, Media.upload_id == media_id)
    )
    return session.scalars(query.options(*options)).unique().first()


def purge_media_objects(storage: Storage, media_id: str, upload_id: str | None = None) -> None:
    """Everything the media owns, including the parts of its upload that ingest had not assembled yet."""
    storage.delete_prefix(media_prefix(media_id))
    if upload_id is not None:
        storage.delete_prefix(upload_prefix(upload_id))
