"""Clips: `GET /on-demand/{sourceMediaId}/media-clips` (the media cut from a media) and
`GET /on-demand/{livestreamId}/live-clips` (a live stream's recordings, which this server, having no live streams,
never has)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path

from reelhouse.api.deps import Authenticated, PageDep, RuntimeDep, WorkspaceDep, uuid_param
from reelhouse.api.routing import WireRoute
from reelhouse.catalog import media
from reelhouse.wire import views
from reelhouse.wire.errors import invalid_field, not_found
from reelhouse.wire.schemas import ListEnvelope, MediaOut, Pagination

router = APIRouter(route_class=WireRoute, tags=["media"])
LIVE_STREAM_ID = re.compile(r"^[0-9a-fA-F]{32}$")  # FastPix live stream ids are 32 hex digits, not UUIDs


@router.get("/on-demand/{sourceMediaId}/media-clips", response_model=ListEnvelope[MediaOut],
            summary="Get all clips of a media")
def media_clips(
    source_media_id: Annotated[str, Depends(uuid_param("sourceMediaId"))], rt: RuntimeDep, workspace: WorkspaceDep,
    page: PageDep,
) -> ListEnvelope[MediaOut]:
    """A page of the clips cut from the media, which may have been deleted since: its clips live on."""
    rows, total = media.media_page_snapshot(rt.db, workspace, page.limit, page.start, page.order_by == "desc",
                                            clips_of=source_media_id)
    if not total:
        with rt.db.read() as session:
            if media.find_media(session, workspace, source_media_id) is None:
                raise not_found("Media clip")
    return ListEnvelope(data=[views.media_clip(row, rt.settings.base_url) for row in rows],
                        pagination=page.pagination(total))


@router.get("/on-demand/{livestreamId}/live-clips", response_model=ListEnvelope[MediaOut],
            summary="Get all clips of a live stream")
def live_clips(
    _: Authenticated, page: PageDep, livestream_id: Annotated[str, Path(alias="livestreamId", json_schema_extra={"pattern": LIVE_STREAM_ID.pattern})],
) -> ListEnvelope[MediaOut]:
    """An empty page: this server runs no live streams, so none has recordings (the SDK maps no 404 here)."""
    if not LIVE_STREAM_ID.match(livestream_id):
        raise invalid_field("livestreamId")
    return ListEnvelope(data=[], pagination=Pagination(total_records=0, current_offset=page.page, offset_count=0))
