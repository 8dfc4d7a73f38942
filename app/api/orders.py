"""The order flow: check availability for several lines, then reserve an order's lines all
or nothing, release them when payment fails, fulfill them on shipment, take returns.

An order is named by its reference in the path; its reservations are the record of each
line's state, so sending any of these again for the same order line changes nothing.
"""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor
from app.api.common import IDEMPOTENCY_HEADER, api_blueprint, changed, idempotency_key
from app.api.presenters import line_availability
from app.api.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    MoveReservationIn,
    OrderArgs,
    OrderCloseIn,
    OrderOut,
    OrderReserveIn,
    OrderReturnIn,
    StockChangeOut,
)
from app.services import channels, queries, stock
from app.services.errors import ValidationError

bp = api_blueprint(
    "orders", "/api/v1/orders",
    "Reservations for an order flow. `store_id` may be left out when the token's user "
    "belongs to one store only.",
)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}
ORDER_REF = "<string(minlength=1, maxlength=100):order_ref>"


@bp.route("/availability", methods=["POST"])
@bp.arguments(AvailabilityIn)
@bp.response(200, AvailabilityOut)
def availability(args: dict[str, Any]) -> Any:
    """Check several lines at once: for each, what is available and whether it suffices."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    lines = queries.with_location_ids(actor, store_id, args["lines"])
    answers = line_availability(queries.order_availability(actor, store_id, lines))
    return {
        "store_id": store_id,
        "all_sufficient": all(line["sufficient"] for line in answers),
        "lines": answers,
    }


@bp.route(f"/{ORDER_REF}", methods=["GET"])
@bp.arguments(OrderArgs, location="query")
@bp.response(200, OrderOut)
def order(args: dict[str, Any], order_ref: str) -> Any:
    """Every reservation the order has had, with its status."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    return {
        "store_id": store_id,
        "order_ref": order_ref.strip(),
        "reservations": queries.order_reservations(actor, store_id, order_ref),
    }


@bp.route(f"/{ORDER_REF}/reserve", methods=["POST"])
@bp.arguments(OrderReserveIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def reserve(args: dict[str, Any], order_ref: str) -> Any:
    """Reserve the order's lines, all or none; lines already reserved are left as they are."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    channel_id = (channels.find_channel(actor, store_id, args["channel"]).id
                  if args.get("channel") else None)
    return changed(stock.reserve_order(
        actor=actor, store_id=store_id, order_ref=order_ref,
        lines=queries.with_location_ids(actor, store_id, args["lines"]),
        expires_in_seconds=args.get("expires_in_seconds"), idempotency_key=idempotency_key(),
        channel_id=channel_id,
    ))


@bp.route(f"/{ORDER_REF}/reservations/<int(min=1, max=2147483647):reservation_id>/move",
          methods=["POST"])
@bp.arguments(MoveReservationIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def move(args: dict[str, Any], order_ref: str, reservation_id: int) -> Any:
    """Move an active reservation of the order to another location of its store: released
    where it is held, held there, in one change; refused when that location cannot cover
    it."""
    actor = api_actor()
    store_id = queries.reservation_store(actor, reservation_id, order_ref=order_ref)
    location_id = queries.resolve_location(actor, args["location"], store_id=store_id)
    try:
        return changed(stock.move_reservation(
            actor=actor, reservation_id=reservation_id, location_id=location_id,
            reason=args.get("reason"), idempotency_key=idempotency_key(),
        ))
    except ValidationError as exc:
        # The request names the location by its code, as `location`.
        raise ValidationError({("location" if k == "location_id" else k): v
                               for k, v in exc.fields.items()}) from exc


@bp.route(f"/{ORDER_REF}/release", methods=["POST"])
@bp.arguments(OrderCloseIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def release(args: dict[str, Any], order_ref: str) -> Any:
    """Give back what the order (or some lines) still holds, e.g. when payment fails."""
    actor = api_actor()
    return changed(stock.release_order(
        actor=actor, store_id=queries.resolve_store(actor, args.get("store_id")),
        order_ref=order_ref, line_refs=args.get("line_refs"), reason=args.get("reason"),
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/{ORDER_REF}/fulfill", methods=["POST"])
@bp.arguments(OrderCloseIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def fulfill(args: dict[str, Any], order_ref: str) -> Any:
    """Ship what the order (or some lines) holds: on-hand and reserved go down together."""
    actor = api_actor()
    return changed(stock.fulfill_order(
        actor=actor, store_id=queries.resolve_store(actor, args.get("store_id")),
        order_ref=order_ref, line_refs=args.get("line_refs"), reason=args.get("reason"),
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/{ORDER_REF}/return", methods=["POST"])
@bp.arguments(OrderReturnIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def return_lines(args: dict[str, Any], order_ref: str) -> Any:
    """Put shipped units of the order's lines back on hand where they left from."""
    actor = api_actor()
    return changed(stock.return_order(
        actor=actor, store_id=queries.resolve_store(actor, args.get("store_id")),
        order_ref=order_ref, lines=args["lines"], reason=args["reason"],
        idempotency_key=idempotency_key(),
    ))
