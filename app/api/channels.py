"""Sales channels: what a store can sell on each, from the channel's locations."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor
from app.api.common import api_blueprint
from app.api.schemas import ChannelArgs, ChannelAvailabilityOut
from app.services import channels, queries

bp = api_blueprint(
    "channels", "/api/v1/store/channels",
    "A store's sales channels, each selling from an ordered list of its locations. Reserve "
    "an order on one with `channel` in the order's reserve request.",
)


@bp.route("/<string(minlength=1, maxlength=40):code>/availability", methods=["GET"])
@bp.arguments(ChannelArgs, location="query")
@bp.response(200, ChannelAvailabilityOut)
def channel_availability(args: dict[str, Any], code: str) -> Any:
    """What products can sell on a sales channel now: the available stock of its
    locations, summed, and per location in the channel's order."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    channel = channels.find_channel(actor, store_id, code)
    rows = channels.channel_availability(actor, channel.id, args["product_id"])
    return {
        "channel": channel.code, "store_id": store_id,
        "locations": list(channel.location_codes), "allow_split": channel.allow_split,
        "products": [
            {"product_id": r.product_id, "sku": r.sku, "unlimited": r.unlimited,
             "available": r.available,
             "locations": [{"location": c, "available": n} for c, n in r.by_location]}
            for r in rows
        ],
    }
