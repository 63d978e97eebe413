"""Managing webhook endpoints: the rules the API and the CLI share."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelhouse.db.engine import after_commit
from reelhouse.db.enums import DeliveryStatus
from reelhouse.db.models import Webhook, WebhookDelivery, utcnow
from reelhouse.jobs.dispatch import DeliveriesDue
from reelhouse.net.fetch import AddressPolicy, FetchError, check_url
from reelhouse.webhooks.signing import new_secret


class InvalidTarget(ValueError):
    """The URL cannot receive webhooks; the message says why, fit for whoever typed it."""


def check_target(url: str, policy: AddressPolicy) -> None:
    """http(s) only, and no private address unless the media-pull setting allows it.

    Call it before opening a write transaction: it resolves the host. Deliveries check again at connect time.
    """
    try:
        check_url(url, policy)
    except FetchError as exc:
        raise InvalidTarget(str(exc)) from None


def create(session: Session, workspace_id: str, url: str, events: list[str] | None, enabled: bool = True) -> Webhook:
    endpoint = Webhook(workspace_id=workspace_id, url=url, events=events, enabled=enabled, secret=new_secret())
    session.add(endpoint)
    session.flush()
    return endpoint


def find(session: Session, workspace_id: str, webhook_id: str) -> Webhook | None:
    """Another workspace's endpoint is as good as missing."""
    return session.scalar(select(Webhook).where(Webhook.id == webhook_id, Webhook.workspace_id == workspace_id))


def enable(session: Session, endpoint: Webhook, enabled: bool) -> None:
    """Re-enabling forgets why it was disabled; deliveries still pending resume."""
    endpoint.enabled = enabled
    if enabled:
        endpoint.disabled_reason = None
        after_commit(session, DeliveriesDue())


def rotate_secret(endpoint: Webhook, grace: timedelta) -> None:
    """The old secret keeps signing `webhook-signature` for `grace`, so receivers can switch without gaps."""
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, utcnow() + grace
    endpoint.secret = new_secret()


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Sends the event again now with a fresh retry window; the attempt log carries on."""
    now = utcnow()
    delivery.status, delivery.next_attempt_at, delivery.retry_from = DeliveryStatus.PENDING, now, now
    after_commit(session, DeliveriesDue())
