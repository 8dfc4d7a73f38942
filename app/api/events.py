"""The event feed: what happened to a store's stock and purchase orders, in commit order,
for integrators who prefer pulling to webhooks."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor
from app.api.common import api_blueprint
from app.api.schemas import EventPageOut, EventsArgs
from app.services import events

bp = api_blueprint(
    "store_events", "/api/v1/store/events",
    "A store's events, numbered 1, 2, 3 … without a gap in the order they committed: every "
    "ledger row's stock.changed, an entry crossing into low stock, out of stock or back "
    "(stock.low, stock.out, stock.back_in_stock), reservation.expired and the purchase "
    "order events. Keep the last sequence handled and ask after it: a consumer that was "
    "down reads everything it missed once, with no gap and no duplicate. Needs "
    "inventory:read.",
)


@bp.route("", methods=["GET"])
@bp.arguments(EventsArgs, location="query")
@bp.response(200, EventPageOut)
def list_events(args: dict[str, Any]) -> Any:
    """List the store's events after a sequence number, oldest first."""
    page = events.feed(api_actor(), store_id=args.get("store_id"), after=args["after"],
                       limit=args["limit"])
    return {"store_id": page.store_id, "events": page.events, "next_after": page.next_after,
            "has_more": page.has_more}
