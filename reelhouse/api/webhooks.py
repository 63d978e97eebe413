"""`/webhooks` routes (a reelhouse extension): endpoints, their signing secrets and their delivery log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session, selectinload

from reelhouse.api.deps import PageDep, RuntimeDep, WorkspaceDep
from reelhouse.api.routing import WireRoute
from reelhouse.db.models import Webhook, WebhookDelivery
from reelhouse.runtime import Runtime
from reelhouse.webhooks import endpoints
from reelhouse.wire import webhooks as wire
from reelhouse.wire.errors import invalid_field, not_found
from reelhouse.wire.schemas import Envelope, ListEnvelope, SuccessOnly
from reelhouse.wire.webhooks import CreateWebhookRequest, DeliveryOut, UpdateWebhookRequest, WebhookOut

router = APIRouter(route_class=WireRoute, tags=["webhooks"])

WebhookIdPath = Annotated[str, Path(alias="webhookId", max_length=255, json_schema_extra={"format": "uuid"})]
DeliveryIdPath = Annotated[str, Path(alias="deliveryId", max_length=255, json_schema_extra={"format": "uuid"})]


def check_target_field(rt: Runtime, url: str) -> None:
    """A URL that cannot receive webhooks is a 422 on the `url` field."""
    try:
        endpoints.check_target(url, rt.address_policy)
    except endpoints.InvalidTarget as exc:
        raise invalid_field("url", str(exc)) from None


def get_webhook(session: Session, workspace_id: str, webhook_id: str) -> Webhook:
    endpoint = endpoints.find(session, workspace_id, webhook_id)
    if endpoint is None:
        raise not_found("Webhook")
    return endpoint


def get_delivery(session: Session, endpoint: Webhook, delivery_id: str) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != endpoint.id:
        raise not_found("Delivery")
    return delivery


@router.post("/webhooks", status_code=201, response_model=Envelope[WebhookOut], summary="Create a webhook endpoint")
def create_webhook(body: CreateWebhookRequest, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[WebhookOut]:
    """The response carries the signing secret; it is shown again only when rotated."""
    check_target_field(rt, body.url)
    with rt.db.write() as session:
        endpoint = endpoints.create(session, workspace, body.url, body.events, body.enabled)
        return Envelope(data=wire.webhook(endpoint, secret=True))


@router.get("/webhooks", response_model=ListEnvelope[WebhookOut], summary="List webhook endpoints")
def list_webhooks(rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep) -> ListEnvelope[WebhookOut]:
    with rt.db.read() as session:
        rows, pagination = page.select(session, Webhook, Webhook.workspace_id == workspace, by=Webhook.created_at)
        data = [wire.webhook(row) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.get("/webhooks/{webhookId}", response_model=Envelope[WebhookOut], summary="Get a webhook endpoint")
def read_webhook(webhook_id: WebhookIdPath, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[WebhookOut]:
    with rt.db.read() as session:
        return Envelope(data=wire.webhook(get_webhook(session, workspace, webhook_id)))


@router.patch("/webhooks/{webhookId}", response_model=Envelope[WebhookOut], summary="Update a webhook endpoint")
def update_webhook(
    webhook_id: WebhookIdPath, body: UpdateWebhookRequest, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[WebhookOut]:
    if body.url is not None:
        check_target_field(rt, body.url)
    with rt.db.write() as session:
        endpoint = get_webhook(session, workspace, webhook_id)
        if body.url is not None:
            endpoint.url = body.url
        if "events" in body.model_fields_set:
            endpoint.events = body.events
        if body.enabled is not None:
            endpoints.enable(session, endpoint, body.enabled)
        return Envelope(data=wire.webhook(endpoint))


@router.delete("/webhooks/{webhookId}", response_model=SuccessOnly, summary="Delete a webhook endpoint")
def delete_webhook(webhook_id: WebhookIdPath, rt: RuntimeDep, workspace: WorkspaceDep) -> SuccessOnly:
    """Its pending deliveries are dropped with it."""
    with rt.db.write() as session:
        session.delete(get_webhook(session, workspace, webhook_id))
    return SuccessOnly()


@router.post(
    "/webhooks/{webhookId}/rotate-secret", response_model=Envelope[WebhookOut], summary="Rotate the signing secret"
)
def rotate_secret(webhook_id: WebhookIdPath, rt: RuntimeDep, workspace: WorkspaceDep) -> Envelope[WebhookOut]:
    """Returns the new secret. The old one keeps signing `webhook-signature` (next to the new) for a grace period."""
    with rt.db.write() as session:
        endpoint = get_webhook(session, workspace, webhook_id)
        endpoints.rotate_secret(endpoint, timedelta(seconds=rt.settings.webhook_secret_grace))
        return Envelope(data=wire.webhook(endpoint, secret=True))


@router.get(
    "/webhooks/{webhookId}/deliveries", response_model=ListEnvelope[DeliveryOut], summary="List deliveries and attempts"
)
def list_deliveries(
    webhook_id: WebhookIdPath, rt: RuntimeDep, workspace: WorkspaceDep, page: PageDep
) -> ListEnvelope[DeliveryOut]:
    """Newest first by default; each delivery carries every attempt made, with status, latency and response."""
    with rt.db.read() as session:
        endpoint = get_webhook(session, workspace, webhook_id)
        rows, pagination = page.select(
            session, WebhookDelivery, WebhookDelivery.webhook_id == endpoint.id, by=WebhookDelivery.event_seq,
            options=[selectinload(WebhookDelivery.event), selectinload(WebhookDelivery.log)],
        )
        data = [wire.delivery(row) for row in rows]
    return ListEnvelope(data=data, pagination=pagination)


@router.post(
    "/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
    status_code=202,
    response_model=Envelope[DeliveryOut],
    summary="Send a delivery again",
)
def redeliver(
    webhook_id: WebhookIdPath, delivery_id: DeliveryIdPath, rt: RuntimeDep, workspace: WorkspaceDep
) -> Envelope[DeliveryOut]:
    """Queues the event again at once, delivered or not, with a fresh retry window."""
    with rt.db.write() as session:
        delivery = get_delivery(session, get_webhook(session, workspace, webhook_id), delivery_id)
        endpoints.redeliver(session, delivery)
        session.flush()
        return Envelope(data=wire.delivery(delivery))
