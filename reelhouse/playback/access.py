"""Who may play what: a playback ID's policy and restrictions, checked on every stream, image and download request."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from reelhouse.api.errors import ApiError
from reelhouse.catalog import is_uuid
from reelhouse.db.models import Media, PlaybackId
from reelhouse.runtime import Runtime


@dataclass(frozen=True)
class Grant:
    """A request allowed to play `media` through `playback`; `token` is carried into playlist URIs."""

    media: Media
    playback: PlaybackId
    token: str | None


def not_found() -> ApiError:
    return ApiError(404, "Not found", "No such playback ID or file.")


def authorize(rt: Runtime, playback_id: str, request: Request) -> Grant:
    """404 for unknown, malformed or deleted playback IDs; 403 when the policy refuses this request."""
    if not is_uuid(playback_id):
        raise not_found()
    with rt.db.read() as session:
        row = session.execute(
            select(PlaybackId, Media).join(Media, Media.id == PlaybackId.media_id).where(PlaybackId.id == playback_id)
        ).first()
        if row is None:
            raise not_found()
        playback, media = row
        media.renditions  # noqa: B018 - loaded for use after the session
    token = request.query_params.get("token")
    if playback.access_policy != "public":
        raise ApiError(403, "Forbidden", "This playback ID is private; a signed token is required.")
    return Grant(media, playback, token)
