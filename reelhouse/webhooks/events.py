"""The outbox: events are rows written in the transaction of the change they report.

Emitting never commits and never talks to the network. The event and one delivery per matching endpoint
join the caller's transaction, so a crash can neither lose an event nor announce a change that rolled back;
the delivery worker sends them after the commit. How to emit, from any code holding a write session:

    emit_media(session, "video.media.ready", media)
    emit_upload(session, "video.media.upload", upload, url=rt.upload_urls.url(upload.id, upload.expires_at))

`data` is rendered at that moment exactly as GET would return the object, so call it after the change
(after `session.flush()` when `updatedAt` must show it). The dispatch seam hears of the new deliveries once the
transaction commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.db.engine import after_commit, public_url
from reelhouse.db.models import Media, Upload, Webhook, WebhookDelivery, WebhookEvent
from reelhouse.jobs.dispatch import DeliveriesDue
from reelhouse.wire import views
from reelhouse.wire.webhooks import EVENT_TYPES


def emit(
    session: Session, event_type: str, *, workspace_id: str, object_type: str, object_id: str, data: dict[str, Any]
) -> None:
    """Adds the event and a delivery to every enabled endpoint that wants it; nothing when none does."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    enabled = session.scalars(select(Webhook).where(Webhook.workspace_id == workspace_id, Webhook.enabled.is_(True)))
    endpoints = [e for e in enabled if e.events is None or event_type in e.events]
    if not endpoints:
        return
    row = WebhookEvent(
        workspace_id=workspace_id, type=event_type, object_type=object_type, object_id=object_id, data=data
    )
    session.add(row)
    session.flush()
    for endpoint in endpoints:
        session.add(WebhookDelivery(webhook_id=endpoint.id, event_seq=row.seq, object_id=object_id))
    after_commit(session, DeliveriesDue())


def emit_media(session: Session, event_type: str, media: Media) -> None:
    """A media event whose `data` is the media as GET /on-demand/{id} returns it now."""
    data = views.media(media, public_url(session)).model_dump(mode="json", by_alias=True, exclude_none=True)
    emit(session, event_type, workspace_id=media.workspace_id, object_type="media", object_id=media.id, data=data)


def emit_upload(session: Session, event_type: str, upload: Upload, *, url: str) -> None:
    """An upload event whose `data` is the DirectUpload, as the upload list returns it now."""
    data = views.upload(upload, url).model_dump(mode="json", by_alias=True, exclude_none=True)
    emit(session, event_type, workspace_id=upload.workspace_id, object_type="upload", object_id=upload.id, data=data)
