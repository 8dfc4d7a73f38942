"""Reorder suggestions per location, as the reorder report shows them, and draft purchase
orders made from chosen lines: the same service functions as the screen."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor
from app.api.common import IDEMPOTENCY_HEADER, api_blueprint, idempotency_key
from app.api.schemas import DraftOrdersOut, ReorderArgs, ReorderOrdersIn, ReorderPageOut
from app.services import purchasing, queries
from app.services.errors import NotFound

bp = api_blueprint(
    "store_reorder", "/api/v1/store/reorder-suggestions",
    "What to reorder at each location of the stores the token's user belongs to: each "
    "variant whose available stock and what is coming (open and draft purchase orders) has "
    "fallen to its reorder point, with the quantity to order and the supplier to order it "
    "from. Drafting purchase orders from them needs purchasing:manage.",
)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}


@bp.route("", methods=["GET"])
@bp.arguments(ReorderArgs, location="query")
@bp.response(200, ReorderPageOut)
def list_suggestions(args: dict[str, Any]) -> Any:
    """List reorder suggestions, grouped by supplier, filtered by store, location and
    supplier, sorted and cursor-paginated."""
    actor = api_actor()
    filters = queries.ReportFilters(
        store_id=args.get("store_id"), location_id=args.get("location_id"),
        supplier_id=args.get("supplier_id"), without_supplier=args["no_supplier"],
        sort=args["sort"], descending=args["order"] == "desc",
    )
    _require_readable(actor, filters)
    page = queries.reorder_suggestions(actor, filters, cursor=args.get("cursor"),
                                       limit=args["limit"])
    return {"items": [_suggestion(line) for line in page.rows], "total": page.total,
            "total_capped": page.total_capped, "next_cursor": page.next_cursor,
            "prev_cursor": page.prev_cursor}


@bp.route("/purchase-orders", methods=["POST"])
@bp.arguments(ReorderOrdersIn)
@bp.response(201, DraftOrdersOut)
@bp.doc(**MUTATION)
def create_purchase_orders(args: dict[str, Any]) -> Any:
    """Draft purchase orders from chosen lines, all or none: one per supplier and
    destination location, each line at its suggested quantity and the supplier's cost.
    A line no longer suggested, or (with expected_quantity) suggested at another quantity,
    is refused with 409; drafts count as coming, so only the same Idempotency-Key repeats."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    made = purchasing.create_reorder_purchase_orders(
        actor=actor, store_id=store_id, lines=args["lines"], idempotency_key=idempotency_key(),
    )
    headers = {"Idempotent-Replayed": "true"} if made and made[0].replayed else {}
    return {"purchase_orders": [_order(order) for order in made]}, 201, headers


def _require_readable(actor: Any, filters: queries.ReportFilters) -> None:
    """Filters naming a store, location or supplier the user cannot read, or a location or
    supplier of another store than the one named, are 404 naming them."""
    try:
        queries.require_readable(actor, store_id=filters.store_id,
                                 location_id=filters.location_id)
    except NotFound as exc:
        raise NotFound(exc.message, {f"{k}_id": v for k, v in exc.fields.items()}) from None
    if filters.location_id is not None and filters.store_id is not None and (
        queries.location_store(actor, filters.location_id) != filters.store_id
    ):
        raise NotFound("No such location in this store.", {"location_id": "No such location."})
    if filters.supplier_id is not None:
        try:
            sells_in = queries.supplier_store(actor, filters.supplier_id)
        except NotFound as exc:
            raise NotFound(exc.message, {"supplier_id": "No such supplier."}) from None
        if filters.store_id is not None and sells_in != filters.store_id:
            raise NotFound("No such supplier in this store.",
                           {"supplier_id": "No such supplier."})


def _suggestion(line: queries.ReorderSuggestion) -> dict[str, Any]:
    supplier = None if line.supplier_id is None else {
        "id": line.supplier_id, "name": line.supplier_name, "supplier_sku": line.supplier_sku,
        "currency": line.currency, "lead_time_days": line.lead_time_days,
        "unit_cost": line.unit_cost, "last_cost": line.last_cost,
        "pack_size": line.pack_size, "min_order_qty": line.min_order_qty,
    }
    return {
        "entry_id": line.entry_id, "store_id": line.store_id, "store_name": line.store_name,
        "product_id": line.product_id, "sku": line.sku, "title": line.title,
        "location_id": line.location_id, "location": line.location_code,
        "quantity": line.quantity, "reserved_quantity": line.reserved_quantity,
        "available_quantity": line.available_quantity,
        "incoming_quantity": line.incoming_quantity, "on_draft_quantity": line.on_draft,
        "reorder_point": line.reorder_point,
        "reorder_point_from": "location" if line.point_from_location else "product",
        "reorder_quantity": line.reorder_quantity, "reorder_up_to": line.reorder_up_to,
        "shortfall": line.shortfall,
        "suggested_quantity": line.suggested, "supplier": supplier,
    }


def _order(order: purchasing.PurchaseOrderView) -> dict[str, Any]:
    return {
        "id": order.id, "number": order.number, "status": order.status,
        "store_id": order.store_id, "supplier_id": order.supplier_id,
        "supplier_name": order.supplier_name, "currency": order.currency,
        "total": order.total,
        "lines": [{"id": x.id, "product_id": x.product_id, "sku": x.sku, "title": x.title,
                   "location_id": x.location_id, "location": x.location_code,
                   "ordered_quantity": x.ordered_qty, "unit_cost": x.unit_cost}
                  for x in order.lines],
    }
