"""The delivery worker: POSTs due deliveries, records every attempt, retries with backoff.

A dispatcher thread claims endpoints that have a delivery due and starts one thread per claimed endpoint.
The claim is a lease on the endpoint row, so each endpoint has at most one delivery in flight across all
nodes: a slow or dead receiver holds one thread, never the others, and its events stay in order. Per endpoint,
an object's events go strictly in emission order (a later one waits while an earlier one is pending); events
of different objects do not wait for each other. Everything lives in rows, so a restart picks up where the
last process stopped, and an expired lease frees an endpoint whose node died mid-delivery.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from reelhouse import __version__
from reelhouse.db.enums import DeliveryStatus
from reelhouse.db.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent, Workspace, utcnow
from reelhouse.metrics import WEBHOOK_FAILURES, WEBHOOK_LAG_SECONDS
from reelhouse.net.fetch import PostResult, post
from reelhouse.runtime import Runtime
from reelhouse.webhooks import signing
from reelhouse.wire import webhooks as wire
from reelhouse.wire.views import timestamp

log = logging.getLogger(__name__)

MAX_DELAY = 3600.0  # the longest wait between two attempts, once backoff has grown
RESPONSE_EXCERPT = 1024  # bytes of a receiver's answer kept in the attempt log
BURST = 20  # deliveries in a row to one endpoint before endpoints waiting longer get the thread


def retry_after(value: str | None) -> float | None:
    """The seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff(attempts: int, base: float, asked: float | None = None) -> float:
    """Exponential with jitter, so receivers coming back are not hit by every sender at once; never sooner
    than the receiver asked."""
    delay = min(MAX_DELAY, base * 2 ** min(attempts - 1, 32)) * random.uniform(0.5, 1.5)
    return max(delay, asked or 0.0)


def envelope(event: WebhookEvent, workspace_name: str, earlier: list[WebhookAttempt]) -> bytes:
    """The FastPix envelope (spec section 9), compact JSON: these exact bytes are signed and sent."""
    body = {
        "type": event.type,
        "id": event.id,
        "object": {"type": event.object_type, "id": event.object_id},
        "workspace": {"id": event.workspace_id, "name": workspace_name},
        "status": event.type.rsplit(".", 1)[-1],
        "data": event.data,
        "createdAt": timestamp(event.created_at),
        "attempts": [
            wire.attempt(a).model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"response"})
            for a in earlier
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _deliverable(now: datetime) -> ColumnElement[bool]:
    """Due, and no earlier event of the same object is still owed to the same endpoint."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.webhook_id == WebhookDelivery.webhook_id,
        earlier.object_id == WebhookDelivery.object_id,
        earlier.status == DeliveryStatus.PENDING,
        earlier.event_seq < WebhookDelivery.event_seq,
    )
    return and_(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now, ~blocked)


def _claimable(now: datetime) -> ColumnElement[bool]:
    """An enabled endpoint with no delivery in flight."""
    return and_(Webhook.enabled.is_(True), or_(Webhook.lease_until.is_(None), Webhook.lease_until < now))


def _next_delivery(session: Session, webhook_id: str, now: datetime) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, _deliverable(now))
        .order_by(WebhookDelivery.event_seq, WebhookDelivery.created_at)
        .limit(1)
    )


@dataclass(frozen=True)
class _Request:
    delivery_id: str
    url: str
    body: bytes
    headers: dict[str, str]


class DeliveryWorker:
    """Delivery threads inside `reelhouse serve` (or `reelhouse worker --queues webhooks`); `size` endpoints are delivered to in parallel. They wait on the
    process's `deliveries` wake-up between polls."""

    def __init__(self, runtime: Runtime, size: int, poll_seconds: float = 1.0) -> None:
        self.db = runtime.db
        self.settings = runtime.settings
        self.policy = runtime.address_policy
        self.size = size
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=2 * self.settings.webhook_timeout + 10)  # outlives any one attempt
        self._wakeup = runtime.wakeups.deliveries
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Thread] = {}
        self._dispatcher: threading.Thread | None = None

    def start(self) -> None:
        if not self.size:
            return
        self._dispatcher = threading.Thread(target=self._dispatch, name="reelhouse-webhooks", daemon=True)
        self._dispatcher.start()

    def stop(self) -> None:
        """Lets attempts in flight finish (each is bounded by the delivery timeout)."""
        self._stopping.set()
        self._wakeup.set()
        deadline = time.monotonic() + self.settings.webhook_timeout + 5
        if self._dispatcher is not None:
            self._dispatcher.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            threads = list(self._inflight.values())
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()  # before looking, so a wake-up arriving meanwhile is not lost
            try:
                self._start_due()
            except Exception:
                log.exception("could not look for due webhook deliveries")
            self._wakeup.wait(self.poll_seconds)

    def _start_due(self) -> None:
        with self._lock:
            free = self.size - len(self._inflight)
        if free <= 0:
            return
        for webhook_id in self._claim(free):
            thread = threading.Thread(target=self._run, args=(webhook_id,), name="reelhouse-webhook", daemon=True)
            with self._lock:
                self._inflight[webhook_id] = thread
            thread.start()

    def _claim(self, limit: int) -> list[str]:
        """Leases up to `limit` endpoints with a delivery due, longest waiting first.

        Looks in a read transaction first, so an idle server never takes the write lock.
        """
        now = utcnow()
        with self.db.read() as session:
            candidates = session.scalars(
                select(WebhookDelivery.webhook_id)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(_deliverable(now), _claimable(now))
                .group_by(WebhookDelivery.webhook_id)
                .order_by(func.min(WebhookDelivery.next_attempt_at))
                .limit(limit)
            ).all()
        if not candidates:
            return []
        claimed: list[str] = []
        with self.db.write() as session:
            for webhook_id in candidates:
                lease = update(Webhook).where(Webhook.id == webhook_id, _claimable(now))
                leased = session.execute(lease.values(lease_until=now + self.lease))
                if leased.rowcount == 1:
                    claimed.append(webhook_id)
        return claimed

    def _run(self, webhook_id: str) -> None:
        """Delivers to one leased endpoint until nothing is due or its turn is over."""
        try:
            for turn in range(BURST, 0, -1):
                if not self._deliver(webhook_id, keep_lease=turn > 1 and not self._stopping.is_set()):
                    break
        except Exception:
            log.exception("webhook delivery to endpoint %s failed", webhook_id)
            self._release(webhook_id)
        finally:
            with self._lock:
                self._inflight.pop(webhook_id, None)
            self._wakeup.set()  # a thread is free, and this endpoint may want another turn

    def _release(self, webhook_id: str) -> None:
        with self.db.write() as session:
            session.execute(update(Webhook).where(Webhook.id == webhook_id).values(lease_until=None))

    def _deliver(self, webhook_id: str, *, keep_lease: bool) -> bool:
        """One attempt at the endpoint's next deliverable event; True when the lease is kept for another."""
        request = self._next_request(webhook_id)
        if request is None:
            self._release(webhook_id)
            return False
        started, clock = utcnow(), time.monotonic()
        result: PostResult | None = None
        error: str | None = None
        try:
            result = post(request.url, request.body, request.headers, self.policy,
                          timeout=self.settings.webhook_timeout, max_response_bytes=RESPONSE_EXCERPT)
        except Exception as exc:  # FetchError for every network failure; anything else must not kill the thread
            error = str(exc) or type(exc).__name__
        attempt = WebhookAttempt(
            started_at=started,
            status_code=result.status if result else None,
            latency_ms=round((time.monotonic() - clock) * 1000),
            response=result.body_excerpt if result else None,
            error=error,
        )
        return self._record(webhook_id, request.delivery_id, attempt, result, keep_lease=keep_lease)

    def _next_request(self, webhook_id: str) -> _Request | None:
        """The endpoint's next deliverable event, enveloped and signed; None when nothing is due."""
        with self.db.read() as session:
            now = utcnow()
            endpoint = session.get(Webhook, webhook_id)
            delivery = _next_delivery(session, webhook_id, now)
            if endpoint is None or delivery is None:
                return None
            event = delivery.event
            body = envelope(event, session.get_one(Workspace, event.workspace_id).name, list(delivery.log))
            grace = endpoint.previous_secret_until
            previous = endpoint.previous_secret if grace is not None and grace > now else None
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"reelhouse-webhooks/{__version__}",
                **signing.headers(endpoint.secret, previous, event.id, int(time.time()), body),
            }
            return _Request(delivery.id, endpoint.url, body, headers)

    def _record(
        self, webhook_id: str, delivery_id: str, attempt: WebhookAttempt, result: PostResult | None, *, keep_lease: bool
    ) -> bool:
        """Logs the attempt, settles or reschedules the delivery, and keeps the lease only when another
        delivery is due (one transaction). Returns whether it was kept."""
        with self.db.write() as session:
            endpoint = session.get(Webhook, webhook_id)
            delivery = session.get(WebhookDelivery, delivery_id)
            if endpoint is None or delivery is None:  # deleted meanwhile
                return False
            delivery.attempts += 1
            attempt.delivery_id, attempt.number = delivery.id, delivery.attempts
            session.add(attempt)
            outcome = f"HTTP {result.status}" if result else attempt.error
            log.info("webhook %s event %s attempt %d: %s", endpoint.url, delivery.event_seq, delivery.attempts, outcome)
            if result is not None and 200 <= result.status < 300:
                delivery.status = DeliveryStatus.DELIVERED
                WEBHOOK_LAG_SECONDS.observe((utcnow() - delivery.event.created_at).total_seconds())
            else:
                if result is not None and result.status == 410:
                    endpoint.enabled = False
                    endpoint.disabled_reason = f"the receiver answered 410 Gone on {timestamp(utcnow())}"
                self._reschedule(delivery, result)
                WEBHOOK_FAILURES.labels(final=str(delivery.status == DeliveryStatus.FAILED).lower()).inc()
            session.flush()
            now = utcnow()
            keep = keep_lease and endpoint.enabled and _next_delivery(session, webhook_id, now) is not None
            endpoint.lease_until = now + self.lease if keep else None
            return keep

    def _reschedule(self, delivery: WebhookDelivery, result: PostResult | None) -> None:
        asked = retry_after(result.headers.get("retry-after")) if result else None
        window = timedelta(seconds=self.settings.webhook_retry_window)
        delay = backoff(delivery.attempts, self.settings.webhook_retry_base, asked)
        next_attempt_at = utcnow() + min(timedelta(seconds=delay), window)
        if next_attempt_at > delivery.retry_from + window:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = next_attempt_at
