"""What a media offers besides HLS: `PATCH …/update-mp4Support` (MP4/M4A downloads) and `PATCH …/source-access`."""

from __future__ import annotations

from fastapi import APIRouter

from reelhouse.api.deps import MediaIdDep, RuntimeDep, WorkspaceDep
from reelhouse.api.media import get_media
from reelhouse.api.routing import WireRoute
from reelhouse.db.enums import MediaStatus
from reelhouse.jobs import downloads
from reelhouse.media import mp4
from reelhouse.storage.keys import download_key
from reelhouse.webhooks.events import emit_media
from reelhouse.wire import views
from reelhouse.wire.errors import ApiError
from reelhouse.wire.schemas import Envelope, MediaOut, UpdateMp4SupportRequest, UpdateSourceAccessRequest

router = APIRouter(route_class=WireRoute, tags=["media"])


@router.patch("/on-demand/{mediaId}/update-mp4Support", response_model=Envelope[MediaOut], summary="Update mp4Support")
def update_mp4_support(
    media_id: MediaIdDep, body: UpdateMp4SupportRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    """Renditions no longer asked for go at once (rows now, files after the commit); new ones are made once Ready."""
    value = None if body.mp4_support == "none" else body.mp4_support
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        if media.mp4_support == value:
            raise ApiError(400, "Duplicate mp4Support", f"mp4Support is already {body.mp4_support!r} for this media.")
        media.mp4_support = value
        wanted = {kind.type for kind in mp4.requested(value)}
        media.downloads = [d for d in media.downloads if d.type in wanted]
        if media.status == MediaStatus.READY:
            downloads.enqueue(rt, session, media)
        session.flush()
        out = views.media(media, rt.settings.base_url)
    for kind in mp4.KINDS.values():
        if kind.type not in wanted:
            rt.storage.delete(download_key(media.id, kind.file))
    rt.jobs.notify()
    return Envelope(data=out)


@router.patch("/on-demand/{mediaId}/source-access", response_model=Envelope[MediaOut], summary="Update source access")
def update_source_access(
    media_id: MediaIdDep, body: UpdateSourceAccessRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[MediaOut]:
    """The original stays stored either way (renditions are made from it); this only opens or closes its download."""
    with rt.db.write() as session:
        media = get_media(session, workspace, media_id)
        changed = media.source_access != body.source_access
        media.source_access = body.source_access
        session.flush()
        if changed and not body.source_access:
            emit_media(session, "video.media.source.deleted", media, base_url=rt.settings.base_url)
        elif changed and media.status == MediaStatus.READY:  # before Ready, the Ready transition announces it
            emit_media(session, "video.media.source.ready", media, base_url=rt.settings.base_url)
        return Envelope(data=views.media(media, rt.settings.base_url))
