"""Webhooks: a store's endpoints, their delivery logs and Redeliver, on the same service
functions and permission (webhooks:manage) as the Webhooks screens.

A new endpoint's signing secret, and a rotated one, is in that one answer and nowhere
else: those two changes take no Idempotency-Key, so no copy of the secret is kept for a
replay. The others are idempotent by nature (PUT, DELETE) or harmless to repeat
(redeliver queues the same event again, with the same webhook-id).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import current_app

from app.api.auth import api_actor
from app.api.common import api_blueprint
from app.api.schemas import (
    DeliveryArgs,
    DeliveryOut,
    DeliveryPageOut,
    WebhookCreateIn,
    WebhookEnabledIn,
    WebhookFieldsIn,
    WebhookListArgs,
    WebhookListOut,
    WebhookOut,
    WebhookWithSecretOut,
)
from app.services import queries, webhooks

bp = api_blueprint(
    "store_webhooks", "/api/v1/store/webhooks",
    "Signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp, "
    "webhook-signature) for a store's events, retried with backoff for about a day and "
    "in order per entry. Needs webhooks:manage, held by owners and admins.",
)
WEBHOOK_ID = "<int(min=1, max=2147483647):webhook_id>"
DELIVERY_ID = "<int(min=1, max=2147483647):delivery_id>"


def _policy() -> webhooks.Policy:
    return webhooks.policy_from(current_app.config)


def _out(view: webhooks.EndpointView) -> dict[str, Any]:
    body = asdict(view)
    body["event_types"] = list(view.event_types)
    return body


@bp.route("", methods=["GET"])
@bp.arguments(WebhookListArgs, location="query")
@bp.response(200, WebhookListOut)
def list_webhooks(args: dict[str, Any]) -> Any:
    """A store's webhooks, oldest first, with their pending and dead deliveries."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    return {"items": [_out(v) for v in webhooks.list_endpoints(actor, store_id)]}


@bp.route("", methods=["POST"])
@bp.arguments(WebhookCreateIn)
@bp.response(201, WebhookWithSecretOut)
def create_webhook(args: dict[str, Any]) -> Any:
    """Add a webhook; it is sent what happens from now on. The answer carries its signing
    secret, shown this once."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    view, secret = webhooks.create_endpoint(
        actor, store_id, url=args["url"], description=args["description"],
        event_types=args["event_types"], policy=_policy())
    return {**_out(view), "secret": secret}


@bp.route(f"/{WEBHOOK_ID}", methods=["GET"])
@bp.response(200, WebhookOut)
def get_webhook(webhook_id: int) -> Any:
    """One webhook."""
    return _out(webhooks.get_endpoint(api_actor(), webhook_id))


@bp.route(f"/{WEBHOOK_ID}", methods=["PUT"])
@bp.arguments(WebhookFieldsIn)
@bp.response(200, WebhookOut)
def update_webhook(args: dict[str, Any], webhook_id: int) -> Any:
    """Change where a webhook's events go and which ones: every field as it should now be."""
    return _out(webhooks.update_endpoint(
        api_actor(), webhook_id, url=args["url"], description=args["description"],
        event_types=args["event_types"], policy=_policy()))


@bp.route(f"/{WEBHOOK_ID}/enabled", methods=["PUT"])
@bp.arguments(WebhookEnabledIn)
@bp.response(200, WebhookOut)
def set_webhook_enabled(args: dict[str, Any], webhook_id: int) -> Any:
    """Turn a webhook off, or on again (its failures forgotten: what waited is sent)."""
    return _out(webhooks.set_enabled(api_actor(), webhook_id, args["enabled"]))


@bp.route(f"/{WEBHOOK_ID}/secret", methods=["POST"])
@bp.response(200, WebhookWithSecretOut)
def rotate_webhook_secret(webhook_id: int) -> Any:
    """A new signing secret, in this answer only; the old one stops signing at once."""
    view, secret = webhooks.rotate_secret(api_actor(), webhook_id)
    return {**_out(view), "secret": secret}


@bp.route(f"/{WEBHOOK_ID}", methods=["DELETE"])
@bp.response(200, WebhookOut)
def delete_webhook(webhook_id: int) -> Any:
    """Remove a webhook and its delivery log; nothing more is sent to it."""
    return _out(webhooks.delete_endpoint(api_actor(), webhook_id))


@bp.route(f"/{WEBHOOK_ID}/deliveries", methods=["GET"])
@bp.arguments(DeliveryArgs, location="query")
@bp.response(200, DeliveryPageOut)
def list_deliveries(args: dict[str, Any], webhook_id: int) -> Any:
    """A webhook's deliveries, newest first, a page at a time."""
    rows, next_before = webhooks.delivery_log(api_actor(), webhook_id,
                                              before=args.get("before"))
    return {"deliveries": [asdict(r) for r in rows], "next_before": next_before}


@bp.route(f"/deliveries/{DELIVERY_ID}/redeliver", methods=["POST"])
@bp.response(200, DeliveryOut)
def redeliver(delivery_id: int) -> Any:
    """Send a delivery again at the next run, with the same webhook-id."""
    return asdict(webhooks.redeliver(api_actor(), delivery_id))
