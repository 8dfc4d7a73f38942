"""Store-scoped inventory: the seed API's /store/inventory endpoints, acting in the stores
the token's user is a member of, with that membership's permissions."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor
from app.api.common import (
    IDEMPOTENCY_HEADER,
    api_blueprint,
    changed,
    entry_id_of,
    idempotency_key,
    require_readable_filters,
)
from app.api.presenters import entry_filters, item_stock, product_summary
from app.api.schemas import (
    AdjustStockIn,
    CloseHoldsIn,
    CountStockIn,
    CreateEntryIn,
    EntryOut,
    EntryPageOut,
    ItemOut,
    ListArgs,
    ProductStockOut,
    ReserveStockIn,
    ReturnStockIn,
    SetStockIn,
    StockChangeOut,
    TransferStockIn,
    UpdateEntryIn,
)
from app.services import items, queries, stock

bp = api_blueprint(
    "store_inventory", "/api/v1/store/inventory",
    "Inventory of the stores the token's user belongs to. Name an entry by `entry_id`, or "
    "by `product_id` and `location` code as the seed API does.",
)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}
ENTRY_ID = "<int(min=1, max=2147483647):entry_id>"
PRODUCT_ID = "<int(min=1, max=2147483647):product_id>"


@bp.route("", methods=["GET"])
@bp.arguments(ListArgs, location="query")
@bp.response(200, EntryPageOut)
def list_entries(args: dict[str, Any]) -> Any:
    """List entries with the overview's filters, search, sort and cursor pagination."""
    require_readable_filters(args)
    return queries.list_entries(
        api_actor(), entry_filters(args), cursor=args.get("cursor"), limit=args["limit"]
    )


@bp.route("", methods=["POST"])
@bp.arguments(CreateEntryIn)
@bp.response(201, StockChangeOut)
@bp.doc(**MUTATION)
def create_entry(args: dict[str, Any]) -> Any:
    """Start tracking a product at a location, optionally with opening stock."""
    actor = api_actor()
    store_id = queries.product_store(actor, args["product_id"])
    return changed(stock.create_entry(
        actor=actor, product_id=args["product_id"],
        location_id=queries.resolve_location(actor, args["location"], store_id=store_id),
        quantity=args["quantity"], low_stock_threshold=args["low_stock_threshold"],
        incoming_quantity=args["incoming_quantity"], reason=args.get("reason"),
        unit_cost=args.get("unit_cost"), idempotency_key=idempotency_key(),
    ), 201)


@bp.route("/set", methods=["POST"])
@bp.arguments(SetStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def set_stock(args: dict[str, Any]) -> Any:
    """Replace on-hand with an exact quantity (never below what is reserved)."""
    return changed(stock.set_stock(
        actor=api_actor(), entry_id=entry_id_of(args), quantity=args["quantity"],
        reason=args.get("reason"), expected_version=args.get("expected_version"),
        expected_quantity=args.get("expected_quantity"), idempotency_key=idempotency_key(),
    ))


@bp.route("/adjust", methods=["POST"])
@bp.arguments(AdjustStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def adjust_stock(args: dict[str, Any]) -> Any:
    """Add (positive quantity) or remove (negative) on-hand units, with a reason."""
    return changed(stock.adjust_stock(
        actor=api_actor(), entry_id=entry_id_of(args), delta=args["quantity"],
        reason=args["reason"], reference=args.get("reference"),
        idempotency_key=idempotency_key(),
    ))


@bp.route("/reserve", methods=["POST"])
@bp.arguments(ReserveStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def reserve_stock(args: dict[str, Any]) -> Any:
    """Hold units for an order line; refused when fewer are available."""
    return changed(stock.reserve_stock(
        actor=api_actor(), entry_id=entry_id_of(args), quantity=args["quantity"],
        order_ref=args["order_ref"], line_ref=args.get("line_ref"),
        expires_at=args.get("expires_at"), reason=args.get("reason"),
        idempotency_key=idempotency_key(),
    ))


@bp.route("/release", methods=["POST"])
@bp.arguments(CloseHoldsIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def release_stock(args: dict[str, Any]) -> Any:
    """Give held units back to available: one reservation, or a quantity of an entry."""
    return changed(stock.release_stock(**_hold_args(args)))


@bp.route("/fulfill", methods=["POST"])
@bp.arguments(CloseHoldsIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def fulfill_stock(args: dict[str, Any]) -> Any:
    """Ship held units: on-hand and reserved go down together."""
    return changed(stock.fulfill_stock(**_hold_args(args)))


@bp.route("/return", methods=["POST"])
@bp.arguments(ReturnStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def return_stock(args: dict[str, Any]) -> Any:
    """Put returned units back on hand, with a reason."""
    return changed(stock.return_stock(
        actor=api_actor(), entry_id=entry_id_of(args), quantity=args["quantity"],
        reason=args["reason"], reference=args.get("reference"),
        idempotency_key=idempotency_key(),
    ))


@bp.route("/count", methods=["POST"])
@bp.arguments(CountStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def count_stock(args: dict[str, Any]) -> Any:
    """Record a physical count; the discrepancy is kept in the ledger."""
    return changed(stock.count_stock(
        actor=api_actor(), entry_id=entry_id_of(args), counted_quantity=args["counted_quantity"],
        reason=args.get("reason"), expected_version=args.get("expected_version"),
        expected_quantity=args.get("expected_quantity"), idempotency_key=idempotency_key(),
    ))


@bp.route("/transfer", methods=["POST"])
@bp.arguments(TransferStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def transfer_stock(args: dict[str, Any]) -> Any:
    """Move units between two locations of the product's store, both sides or neither."""
    actor = api_actor()
    store_id = queries.product_store(actor, args["product_id"])
    return changed(stock.transfer_stock(
        actor=actor, product_id=args["product_id"],
        from_location_id=queries.resolve_location(actor, args["from_location"], store_id=store_id,
                                                  field="from_location"),
        to_location_id=queries.resolve_location(actor, args["to_location"], store_id=store_id,
                                                field="to_location"),
        quantity=args["quantity"], reason=args.get("reason"), reference=args.get("reference"),
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/product/{PRODUCT_ID}", methods=["GET"])
@bp.response(200, ProductStockOut)
def product(product_id: int) -> Any:
    """A product's stock per location, with totals and its status."""
    return product_summary(queries.product_stock(api_actor(), product_id))


@bp.route("/item/<int(min=1, max=2147483647):item_id>", methods=["GET"])
@bp.response(200, ItemOut)
def item(item_id: int) -> Any:
    """An item with its options and each variant's stock per location, with totals."""
    return item_stock(items.get_item(api_actor(), item_id))


@bp.route(f"/{ENTRY_ID}", methods=["GET"])
@bp.response(200, EntryOut)
def get_entry(entry_id: int) -> Any:
    """One entry with its names, quantities and status."""
    return queries.get_entry(api_actor(), entry_id)


@bp.route(f"/{ENTRY_ID}", methods=["PUT"], endpoint="update_entry")
@bp.arguments(UpdateEntryIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def update_entry(args: dict[str, Any], entry_id: int) -> Any:
    """Update an entry's settings: its low-stock threshold (0 disables it)."""
    return changed(stock.set_threshold(
        actor=api_actor(), entry_id=entry_id, low_stock_threshold=args["low_stock_threshold"],
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/{ENTRY_ID}", methods=["DELETE"], endpoint="delete_entry")
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def delete_entry(entry_id: int) -> Any:
    """Delete an entry with nothing reserved; its ledger closes with a `deleted` row."""
    return changed(stock.delete_entry(
        actor=api_actor(), entry_id=entry_id, idempotency_key=idempotency_key(),
    ))


def _hold_args(args: dict[str, Any]) -> dict[str, Any]:
    named = {"reservation_id": args["reservation_id"]} if "reservation_id" in args else {
        "entry_id": entry_id_of(args)
    }
    return {
        **named, "actor": api_actor(), "quantity": args.get("quantity"),
        "order_ref": args.get("order_ref"), "line_ref": args.get("line_ref"),
        "reason": args.get("reason"), "idempotency_key": idempotency_key(),
    }
