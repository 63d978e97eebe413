"""Clips: a media cut from a span of another, Ready media of the same workspace (`fp_mediaId://<mediaId>`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reelhouse.catalog.media import find_media
from reelhouse.db.enums import MediaStatus
from reelhouse.media.trim import Span, SpanError
from reelhouse.wire.errors import canonical_uuid, invalid_field
from reelhouse.wire.schemas import CLIP_SCHEME

URL_FIELD = "inputs.0.url"


def clipped_id(url: str) -> str | None:
    """The media id an `fp_mediaId://` URL names, None for any other URL; 422 when it names no id."""
    if not url.startswith(CLIP_SCHEME):
        return None
    media_id = canonical_uuid(url.removeprefix(CLIP_SCHEME))
    if media_id is None:
        raise invalid_field(URL_FIELD, f"{CLIP_SCHEME} must be followed by a media ID")
    return media_id


def check_source(session: Session, workspace_id: str, media_id: str, start: float | None, end: float | None) -> str:
    """The id of the media to cut from: one of this workspace (any other is unknown here), Ready, and long
    enough for the span; each refusal a 422 naming the field at fault."""
    source = find_media(session, workspace_id, media_id)
    if source is None:
        raise invalid_field(URL_FIELD, "names no media of this workspace")
    if source.status != MediaStatus.READY or source.duration is None:
        raise invalid_field(URL_FIELD, f"the media is not Ready yet (it is {source.status}); clip it once it is")
    try:
        Span(start or 0.0, end).within(source.duration)
    except SpanError as exc:
        field = "startTime" if str(exc).startswith("startTime") else "endTime"
        raise invalid_field(f"inputs.0.{field}", str(exc)) from None
    return source.id
