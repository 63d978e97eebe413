"""What a media offers besides HLS: MP4/M4A downloads (`mp4Support`) and its original (`sourceAccess`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from reelhouse.catalog.media import on_ready
from reelhouse.db.enums import JobKind, MediaStatus
from reelhouse.db.models import Media
from reelhouse.jobs.params import Mp4Params
from reelhouse.jobs.queue import enqueue
from reelhouse.media import mp4
from reelhouse.webhooks.events import emit_media
from reelhouse.wire.errors import ApiError


def enqueue_downloads(session: Session, media: Media) -> None:
    """A job for each requested rendition without an outcome, in the caller's transaction."""
    settled = {d.type for d in media.downloads}
    for kind in mp4.requested(media.mp4_support):
        if kind.type not in settled:
            enqueue(session, JobKind.MP4, media, Mp4Params(type=kind.type))


@on_ready
def _offer_downloads(session: Session, media: Media) -> None:
    """What a media that just became Ready owes its downloads: the renditions it asked for, and `source.ready`."""
    enqueue_downloads(session, media)
    if media.source_access:
        emit_media(session, "video.media.source.ready", media)


def update_mp4_support(session: Session, media: Media, value: str | None) -> list[mp4.Kind]:
    """Renditions no longer asked for go at once; new ones are made once Ready. Returns the kinds whose files
    to delete once the transaction commits."""
    if media.mp4_support == value:
        raise ApiError(400, "Duplicate mp4Support", f"mp4Support is already {value or 'none'!r} for this media.")
    media.mp4_support = value
    wanted = {kind.type for kind in mp4.requested(value)}
    media.downloads = [d for d in media.downloads if d.type in wanted]
    if media.status == MediaStatus.READY:
        enqueue_downloads(session, media)
    session.flush()
    return [kind for kind in mp4.KINDS.values() if kind.type not in wanted]


def update_source_access(session: Session, media: Media, source_access: bool) -> None:
    """The original stays stored either way (renditions are made from it); this only opens or closes its download."""
    changed = media.source_access != source_access
    media.source_access = source_access
    session.flush()
    if changed and not source_access:
        emit_media(session, "video.media.source.deleted", media)
    elif changed and media.status == MediaStatus.READY:  # before Ready, the Ready transition announces it
        emit_media(session, "video.media.source.ready", media)
