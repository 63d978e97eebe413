"""Webhook event types, and endpoints, deliveries and attempts as the API and the delivery envelopes show them."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from reelhouse.db.enums import DeliveryStatus
from reelhouse.db.models import Webhook, WebhookAttempt, WebhookDelivery, utcnow
from reelhouse.wire.schemas import TRANSFORMS, Wire
from reelhouse.wire.views import timestamp

MEDIA_EVENTS = (
    "video.media.created",
    "video.media.ready",
    "video.media.failed",
    "video.media.updated",
    "video.media.deleted",
    "video.media.track.created",
    "video.media.track.ready",
    "video.media.track.updated",
    "video.media.track.deleted",
    "video.media.subtitle.generated.ready",
    "video.media.source.ready",
    "video.media.source.deleted",
    "video.media.mp4Support.ready",
    *(f"video.media.{name}.ready" for name in TRANSFORMS),
    "video.mediaAI.summary.ready",
    "video.mediaAI.chapters.ready",
    "video.mediaAI.named-entities.ready",
    "video.mediaAI.moderation.ready",
    "video.upload.media_created",
)
UPLOAD_EVENTS = ("video.media.upload", "video.media.upload.cancelled")
EVENT_TYPES = frozenset(MEDIA_EVENTS + UPLOAD_EVENTS)


def check_events(events: list[str]) -> list[str]:
    """An event-type filter, without duplicates; a ValueError names the types that do not exist."""
    if not events:
        raise ValueError("name at least one event type, or leave the filter out to send every type")
    unknown = sorted(set(events) - EVENT_TYPES)
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)}")
    return list(dict.fromkeys(events))


Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
EventFilter = Annotated[list[str], AfterValidator(check_events)]


class CreateWebhookRequest(Wire):
    url: Url
    events: EventFilter | None = Field(default=None, description="event types to send; left out, every type")
    enabled: bool = True


class UpdateWebhookRequest(Wire):
    """Fields left out stay as they are; `"events": null` sends every type again."""

    url: Url | None = None
    events: EventFilter | None = None
    enabled: bool | None = None


class WebhookOut(Wire):
    id: str
    url: str
    events: list[str] | None = Field(default=None, description="left out when every event type is sent")
    enabled: bool
    disabled_reason: str | None = None
    secret: str | None = Field(default=None, description="the signing secret; shown only on creation and rotation")
    previous_secret_expires_at: str | None = Field(default=None, description="until then the old secret signs too")
    created_at: str


class AttemptOut(Wire):
    number: int
    started_at: str
    status_code: int | None = None
    latency_ms: int
    response: str | None = Field(default=None, description="the start of the receiver's response body")
    error: str | None = None


class DeliveryOut(Wire):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    object_type: str
    object_id: str
    status: str = Field(description="pending, delivered, or failed once the retry window closed")
    next_attempt_at: str | None = None
    created_at: str
    updated_at: str
    attempts: list[AttemptOut]


def webhook(row: Webhook, *, secret: bool = False) -> WebhookOut:
    grace_until = row.previous_secret_until
    return WebhookOut(
        id=row.id,
        url=row.url,
        events=row.events,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        secret=row.secret if secret else None,
        previous_secret_expires_at=timestamp(grace_until) if grace_until and grace_until > utcnow() else None,
        created_at=timestamp(row.created_at),
    )


def attempt(row: WebhookAttempt) -> AttemptOut:
    return AttemptOut(
        number=row.number,
        started_at=timestamp(row.started_at),
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        response=row.response,
        error=row.error,
    )


def delivery(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        webhook_id=row.webhook_id,
        event_id=row.event.id,
        event_type=row.event.type,
        object_type=row.event.object_type,
        object_id=row.object_id,
        status=row.status,
        next_attempt_at=timestamp(row.next_attempt_at) if row.status == DeliveryStatus.PENDING else None,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
        attempts=[attempt(a) for a in row.log],
    )
