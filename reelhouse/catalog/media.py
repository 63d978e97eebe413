"""Media: created with what its options ask for, found by media or upload id, moved through its lifecycle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, joinedload

from reelhouse.db.engine import Database
from reelhouse.db.enums import InsightKind, JobKind, MediaStatus, TrackStatus
from reelhouse.db.models import Insight, Media, PlaybackId, Track
from reelhouse.jobs.queue import enqueue
from reelhouse.webhooks.events import emit_media
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError, not_found
from reelhouse.wire.schemas import AUTO_SUBTITLE_LANGUAGES, AccessRestrictions, MediaSettings, UpdateMediaRequest

OPTION_FIELDS = ("subtitles", "summary", "chapters", "named_entities", "moderation")
OnReady = Callable[[Session, Media], None]
_on_ready: list[OnReady] = []
_on_encoded: list[OnReady] = []
T = TypeVar("T")


def on_ready(rule: OnReady) -> OnReady:
    """Registers what a media owes once it turns Ready (in the transaction that makes it Ready). It may still be
    encoding then: what needs its whole timeline registers with `on_encoded` instead."""
    _on_ready.append(rule)
    return rule


def on_encoded(rule: OnReady) -> OnReady:
    """Registers what waits for the media's finished timeline (in the transaction that publishes its last segment)."""
    _on_encoded.append(rule)
    return rule


def encoded(media: Media) -> bool:
    """Ready and its encode ended: every segment boundary, which added tracks follow, is final."""
    own = [r for r in media.renditions if r.track_id is None]
    return media.status == MediaStatus.READY and bool(own) and all(r.complete for r in own)


def refuse_unsupported(settings: MediaSettings, reason: str | None = None) -> None:
    """A 400 naming the feature, rather than accepting a request whose options would be silently ignored."""
    reason = reason or settings.unsupported()
    if reason:
        raise ApiError(400, "Unsupported option", reason)


def new_playback_id(policy: str, restrictions: AccessRestrictions | None) -> PlaybackId:
    restrictions = restrictions or AccessRestrictions()
    return PlaybackId(
        access_policy=policy,
        domains=restrictions.domains.model_dump(),
        user_agents=restrictions.user_agents.model_dump(),
    )


def create_media(
    session: Session,
    *,
    workspace_id: str,
    settings: MediaSettings,
    inputs: list[dict[str, Any]],
    source_url: str | None = None,
    upload_id: str | None = None,
    source_media_id: str | None = None,
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
        source_media_id=source_media_id,
    )
    media.clip_start, media.clip_end = settings.trim()
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
    if settings.named_entities:
        media.insights.append(Insight(kind=InsightKind.NAMED_ENTITIES))
    if settings.moderation is not None:
        media.insights.append(Insight(kind=InsightKind.MODERATION))
    session.add(media)
    session.flush()
    enqueue(session, JobKind.INGEST, media)
    emit_media(session, "video.media.created", media)
    if upload_id is not None:
        emit_media(session, "video.upload.media_created", media)
    return media


# Built once, with parameters: SQLAlchemy then reuses the compiled SQL without building the statement and its cache
# key again on every request.
_BY_ID = select(Media).where(
    Media.workspace_id == bindparam("workspace"), or_(Media.id == bindparam("media"), Media.upload_id == bindparam("media"))
)
_RENDERABLE = _BY_ID.options(*(joinedload(r) for r in views.RENDERED))  # and everything its wire form shows


def find_media(session: Session, workspace_id: str, media_id: str) -> Media | None:
    """By media id, or by the id of the direct upload that created it (FastPix accepts both)."""
    return session.scalars(_BY_ID, {"workspace": workspace_id, "media": media_id}).first()


def get_media(session: Session, workspace_id: str, media_id: str) -> Media:
    """The media with everything its wire form shows, in one query; 404 when the workspace has none such."""
    media = session.scalars(_RENDERABLE, {"workspace": workspace_id, "media": media_id}).unique().first()
    if media is None:
        raise not_found()
    return media


# GET media's read, the API's busiest, and the media list's, each made from one statement read outside a transaction
# (`Database.snapshot`): the media joined to everything its wire form shows, each part's columns in mapper order.
# Loading that join through a session and the ORM cost 2.5 to 4.5 times the statement itself (profiled on both
# databases); a list page loaded each related table with a query of its own besides.
_SHOWN = [(None, Media), *((r.key, r.property.mapper.class_) for r in views.RENDERED)]
_KEYS = [["id", *(a.key for a in sa_inspect(model).column_attrs if a.key != "id")] for _, model in _SHOWN]


def _joined(where: ColumnElement[bool], *order: ColumnElement[Any]) -> Select[Any]:
    """The media matching `where`, in `order`, each joined to what it shows (in each relationship's own order)."""
    statement = select(*(getattr(model, key) for (_, model), keys in zip(_SHOWN, _KEYS) for key in keys))
    statement = statement.select_from(Media)
    for relationship in views.RENDERED:
        statement = statement.outerjoin(relationship)
    return statement.where(where).order_by(*order, *(c for r in views.RENDERED for c in r.property.order_by or ()))


def _listed(newest_first: bool, where: ColumnElement[bool]) -> Select[Any]:
    """A page of the media matching `where` by creation time, then id, both the same way: an index on (workspace,
    created_at, id) walked either way yields the page's ids without sorting the workspace."""
    order = (Media.created_at.desc(), Media.id.desc()) if newest_first else (Media.created_at.asc(), Media.id.asc())
    page = select(Media.id).where(where).order_by(*order).limit(bindparam("limit")).offset(bindparam("start"))
    return _joined(Media.id.in_(page), *order)


_SNAPSHOT = _joined(_BY_ID.whereclause)  # type: ignore[arg-type]
# A workspace's media, or only those clipped from one media (`clips_of`).
_PAGED = {False: Media.workspace_id == bindparam("workspace"),
          True: and_(Media.workspace_id == bindparam("workspace"), Media.source_media_id == bindparam("source"))}
_LISTED = {(newest_first, clips): _listed(newest_first, where) for clips, where in _PAGED.items()
           for newest_first in (True, False)}
_COUNTED = {clips: select(func.count()).select_from(Media).where(where) for clips, where in _PAGED.items()}


def media_snapshot(db: Database, workspace_id: str, media_id: str) -> Media:
    """`get_media` without a session: a detached copy, to render and never to change. Its relationships hold
    what the join found, in order, each row once; 404 when the workspace has none such."""
    found = _assembled(db.snapshot(_SNAPSHOT, {"workspace": workspace_id, "media": media_id}))
    if not found:
        raise not_found()
    return found[0]


def media_page_snapshot(db: Database, workspace_id: str, limit: int, start: int, newest_first: bool,
                        clips_of: str | None = None) -> tuple[list[Media], int]:
    """The workspace's media (or those clipped from the media `clips_of`) from the `start`th, at most `limit`, newest
    or oldest first, as `media_snapshot` reads each; and how many there are in all."""
    clips = clips_of is not None
    params = {"workspace": workspace_id, "source": clips_of}
    total = db.snapshot(_COUNTED[clips], params)[0][0]
    rows = db.snapshot(_LISTED[(newest_first, clips)], {**params, "limit": limit, "start": start})
    return _assembled(rows), total


def _assembled(rows: Sequence[Row[Any]]) -> list[Media]:
    """The media in the rows of a `_joined` statement, in their order, each relationship holding the rows the join
    found for it in the order they first appear (a media with two playback IDs and three tracks takes six rows)."""
    made: dict[str, Media] = {}
    seen: set[tuple[int, Any]] = set()
    for row in rows:
        media = made.get(row[0])
        if media is None:
            media = made[row[0]] = _detached(Media, _KEYS[0], row[:len(_KEYS[0])])
            for relationship, _ in _SHOWN[1:]:
                media.__dict__[relationship] = []
        start = len(_KEYS[0])
        for part, ((relationship, model), keys) in enumerate(zip(_SHOWN[1:], _KEYS[1:])):
            values = row[start:start + len(keys)]
            start += len(keys)
            if values[0] is not None and (part, values[0]) not in seen:  # its id; None where an outer join found none
                seen.add((part, values[0]))
                media.__dict__[relationship].append(_detached(model, keys, values))
    return list(made.values())


def _detached(model: type[T], keys: list[str], values: Sequence[Any]) -> T:
    """An instance of `model` holding `values` as loaded attributes, as the ORM's loader fills one, outside any
    session: reading it never queries."""
    made = sa_inspect(model).class_manager.new_instance()
    made.__dict__.update(zip(keys, values))
    return made


def locked_media(session: Session, workspace_id: str, media_id: str) -> Media:
    """The media, locked until the commit, so a change racing its turn to Ready (a track added, say) is made
    exactly once; 404 when the workspace has none such."""
    media = find_media(session, workspace_id, media_id)
    if media is None:
        raise not_found()
    session.refresh(media, with_for_update=True)
    return media


def update_media(session: Session, media: Media, request: UpdateMediaRequest) -> None:
    """The fields sent replace the stored ones; `video.media.updated` tells of it."""
    if request.metadata is not None:
        media.meta = dict(request.metadata)
    if request.title is not None:
        media.title = request.title
    if request.creator_id is not None:
        media.creator_id = request.creator_id
    session.flush()
    emit_media(session, "video.media.updated", media)


def delete_media(session: Session, media: Media) -> None:
    """Removes the media and everything it owns from the database, `video.media.deleted` with it; its objects go
    once the transaction commits (`storage.keys.purge_media`)."""
    emit_media(session, "video.media.deleted", media)
    session.delete(media)


def set_status(db: Database, media_id: str, status: MediaStatus) -> None:
    """A step's progress through the lifecycle, in a transaction of its own."""
    with db.write() as session:
        media = session.get(Media, media_id)
        if media is not None:
            media.status = status


def mark_ready(session: Session, media: Media) -> None:
    """The media plays: `video.media.ready` is announced and what waited for it (downloads, insights) follows, in the
    caller's transaction."""
    media.status = MediaStatus.READY
    media.error = None
    session.flush()
    emit_media(session, "video.media.ready", media)
    for rule in _on_ready:
        rule(session, media)


def mark_encoded(session: Session, media: Media) -> None:
    """Its encode ended (see `encoded`): what waited for the whole timeline (tracks) follows, in the caller's
    transaction."""
    session.flush()
    for rule in _on_encoded:
        rule(session, media)


def mark_failed(session: Session, media: Media, error: str) -> None:
    """The media will never play; `error` says why, to people."""
    media.status = MediaStatus.FAILED
    media.error = error
    session.flush()
    emit_media(session, "video.media.failed", media)
