"""Create-time transforms (intro/outro, expunged ranges, splicing, watermark, audio swap and imposed tracks): the
request's URLs checked before anything is recorded, subtitle inputs as tracks, and each transform's
`video.media.<transform>.ready` event once the media it built is Ready. The building is jobs/transforms.py's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from reelhouse.catalog.media import on_ready
from reelhouse.db.models import Media
from reelhouse.net.fetch import AddressPolicy, FetchError, check_url
from reelhouse.webhooks.events import emit_media
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import Input, TrackRequest


def parsed(inputs: Sequence[dict[str, Any]]) -> list[Input]:
    """A media's recorded inputs as the request gave them."""
    return [Input.model_validate(item) for item in inputs]


def asked(inputs: Sequence[Input]) -> list[str]:
    """The transforms the inputs ask for, in the order they are applied."""
    return [name for item in inputs for name in item.transforms()]


def check_urls(policy: AddressPolicy, inputs: Sequence[Input]) -> None:
    """Every file a transform or subtitle pulls must be one the server may fetch: refused now, naming the field,
    rather than failing the media later. It resolves hosts: call it before opening a write transaction."""
    for position, item in enumerate(inputs):
        for field, url in item.urls():
            try:
                check_url(url, policy)
            except FetchError as exc:
                raise ApiError(400, "Invalid input URL", f"inputs.{position}.{field}: {exc}") from None


def subtitle_tracks(inputs: Sequence[Input]) -> list[TrackRequest]:
    """The subtitle inputs as the tracks they become once the media is Ready."""
    return [TrackRequest.model_validate(i.model_dump(include={"type", "url", "language_code", "language_name"}))
            for i in inputs if i.type == "subtitle"]


@on_ready
def _announce(session: Session, media: Media) -> None:
    for name in asked(parsed(media.inputs)):
        emit_media(session, f"video.media.{name}.ready", media)
