"""What a media offers besides HLS: `PATCH …/update-mp4Support` (MP4/M4A downloads) and `PATCH …/source-access`."""

from __future__ import annotations

from fastapi import APIRouter

from reelhouse.api.deps import MediaIdDep, RuntimeDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.catalog import downloads, media
from reelhouse.storage.keys import download_key
from reelhouse.wire import views
from reelhouse.wire.schemas import Envelope, MediaOut, UpdateMp4SupportRequest, UpdateSourceAccessRequest

router = APIRouter(route_class=WireRoute, tags=["media"])


@router.patch("/on-demand/{mediaId}/update-mp4Support", response_model=Envelope[MediaOut], summary="Update mp4Support")
def update_mp4_support(
    media_id: MediaIdDep, body: UpdateMp4SupportRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        dropped = downloads.update_mp4_support(session, row, None if body.mp4_support == "none" else body.mp4_support)
        out = views.media(row, rt.settings.base_url)
    for kind in dropped:
        rt.storage.delete(download_key(row.id, kind.file))
    return Envelope(data=out)


@router.patch("/on-demand/{mediaId}/source-access", response_model=Envelope[MediaOut], summary="Update source access")
def update_source_access(
    media_id: MediaIdDep, body: UpdateSourceAccessRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    with rt.db.write() as session:
        row = media.get_media(session, workspace, media_id)
        downloads.update_source_access(session, row, body.source_access)
        return Envelope(data=views.media(row, rt.settings.base_url))
