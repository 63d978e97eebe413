"""Playlists (spec 7.22): a manual playlist holds the media it was given, in the order given; a smart one is the
workspace's media created (or updated) within its date ranges, in its play order, worked out on every read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, selectinload

from reelhouse.db.models import Media, Playlist, PlaylistItem
from reelhouse.wire.errors import ApiError, canonical_uuid, invalid_field, not_found
from reelhouse.wire.schemas import CreatePlaylistRequest, DateRange, UpdatePlaylistRequest


def create_playlist(session: Session, workspace_id: str, request: CreatePlaylistRequest) -> Playlist:
    """409 when the workspace already has a playlist with this `referenceId`."""
    taken = select(Playlist.id).where(Playlist.workspace_id == workspace_id,
                                      Playlist.reference_id == request.reference_id)
    if session.scalar(taken) is not None:
        raise ApiError(409, "Duplicate reference ID",
                       f"A playlist with referenceId {request.reference_id!r} already exists in this workspace.")
    playlist = Playlist(
        workspace_id=workspace_id, name=request.name, reference_id=request.reference_id, type=request.type,
        description=request.description, play_order=request.play_order, limit=request.limit,
        filters=request.metadata.model_dump(exclude_none=True) if request.metadata else {},
    )
    session.add(playlist)
    session.flush()
    return playlist


def get_playlist(session: Session, workspace_id: str, playlist_id: str) -> Playlist:
    playlist = session.scalars(
        select(Playlist).where(Playlist.workspace_id == workspace_id, Playlist.id == playlist_id)
        .options(selectinload(Playlist.items).selectinload(PlaylistItem.media))
    ).first()
    if playlist is None:
        raise not_found("Playlist")
    return playlist


def update_playlist(playlist: Playlist, request: UpdatePlaylistRequest) -> None:
    playlist.name = request.name
    playlist.description = request.description


def _bound(value: str, *, end: bool) -> datetime:
    """Naive UTC, as stored; a bare end date takes in the whole of that day."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    if end and len(value) == 10:  # YYYY-MM-DD
        parsed += timedelta(days=1)
    return parsed


def _within(column: object, dates: DateRange) -> list[ColumnElement[bool]]:
    where = []
    if dates.start_date:
        where.append(column >= _bound(dates.start_date, end=False))  # type: ignore[operator]
    if dates.end_date:
        bound = _bound(dates.end_date, end=True)
        where.append(column < bound if len(dates.end_date) == 10 else column <= bound)  # type: ignore[operator]
    return where


def media_of(session: Session, playlist: Playlist) -> Sequence[Media]:
    """What the playlist plays, in order."""
    if playlist.type == "manual":
        return [item.media for item in playlist.items]
    where = [Media.workspace_id == playlist.workspace_id]
    for key, column in (("createdDate", Media.created_at), ("updatedDate", Media.updated_at)):
        if playlist.filters.get(key):
            where += _within(column, DateRange.model_validate(playlist.filters[key]))
    order = Media.created_at.desc() if playlist.play_order == "createdDate DESC" else Media.created_at.asc()
    return session.scalars(select(Media).where(*where).order_by(order, Media.id).limit(playlist.limit)).all()


def _ids(media_ids: list[str]) -> list[str]:
    """The ids in canonical form; 422 naming `mediaIds` for a malformed or repeated one."""
    ids = [canonical_uuid(value) for value in media_ids]
    if None in ids:
        raise invalid_field("mediaIds", "must be media IDs")
    if len(set(ids)) != len(ids):
        raise invalid_field("mediaIds", "lists a media more than once")
    return ids  # type: ignore[return-value]


def _manual(playlist: Playlist) -> None:
    if playlist.type != "manual":
        raise ApiError(400, "Not a manual playlist",
                       "A smart playlist holds the media its date ranges select; only manual playlists take media.")


def add_media(session: Session, playlist: Playlist, media_ids: list[str]) -> None:
    """Appends the media not in the playlist yet, in the order given; 404 for one the workspace does not have."""
    _manual(playlist)
    ids = _ids(media_ids)
    found = set(session.scalars(select(Media.id).where(Media.workspace_id == playlist.workspace_id,
                                                       Media.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found("Media") if len(missing) == len(ids) else ApiError(
            404, "Media not found", f"No media {missing[0]} in this workspace.")
    present = {item.media_id for item in playlist.items}
    new = [i for i in ids if i not in present]
    if len(present) + len(new) > playlist.limit:
        raise invalid_field("mediaIds", f"the playlist holds at most {playlist.limit} media")
    start = max((item.position for item in playlist.items), default=-1) + 1
    for offset, media_id in enumerate(new):
        playlist.items.append(PlaylistItem(media_id=media_id, position=start + offset))
    session.flush()


def reorder_media(session: Session, playlist: Playlist, media_ids: list[str]) -> None:
    """The playlist's media in a new order: `mediaIds` lists each of them exactly once."""
    _manual(playlist)
    ids = _ids(media_ids)
    by_id = {item.media_id: item for item in playlist.items}
    if set(ids) != set(by_id):
        raise invalid_field("mediaIds", "must list every media of the playlist exactly once")
    for position, media_id in enumerate(ids):
        by_id[media_id].position = position
    session.flush()
    session.expire(playlist, ["items"])


def remove_media(session: Session, playlist: Playlist, media_ids: list[str]) -> None:
    _manual(playlist)
    ids = _ids(media_ids)
    present = {item.media_id for item in playlist.items}
    absent = [i for i in ids if i not in present]
    if absent:
        raise invalid_field("mediaIds", f"media {absent[0]} is not in the playlist")
    playlist.items = [item for item in playlist.items if item.media_id not in ids]
    session.flush()
