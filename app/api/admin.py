"""Cross-store inventory for platform admins: the seed API's /admin/inventory endpoints."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor, require_platform_admin
from app.api.common import (
    IDEMPOTENCY_HEADER,
    api_blueprint,
    changed,
    entry_id_of,
    idempotency_key,
    require_readable_filters,
)
from app.api.presenters import entry_filters, product_summary
from app.api.schemas import (
    AdminAdjustStockIn,
    AdminListArgs,
    AdminSetStockIn,
    EntryPageOut,
    LocationOut,
    LowStockArgs,
    LowStockOut,
    ProductStockOut,
    StatsOut,
    StockChangeOut,
    StoreArgs,
    StoreInventoryOut,
    StoreListArgs,
    StoreOut,
    UpdateEntryIn,
)
from app.services import queries, stock

bp = api_blueprint(
    "admin_inventory", "/api/v1/admin/inventory",
    "Every store's inventory, for platform admins (403 for anyone else).",
)
bp.before_request(require_platform_admin)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}
ID = "<int(min=1, max=2147483647):{}>"


@bp.route("", methods=["GET"])
@bp.arguments(AdminListArgs, location="query")
@bp.response(200, EntryPageOut)
def list_entries(args: dict[str, Any]) -> Any:
    """List entries across stores; filter by store_id, location, status, low_stock=N."""
    require_readable_filters(args)
    return queries.list_entries(
        api_actor(), entry_filters(args), cursor=args.get("cursor"), limit=args["limit"]
    )


@bp.route("/stats", methods=["GET"])
@bp.arguments(StoreArgs, location="query")
@bp.response(200, StatsOut)
def stats(args: dict[str, Any]) -> Any:
    """Platform statistics: totals, low stock, stores, locations, counts by status."""
    require_readable_filters(args)
    return queries.stock_stats(api_actor(), store_id=args.get("store_id"))


@bp.route("/low-stock", methods=["GET"])
@bp.arguments(LowStockArgs, location="query")
@bp.response(200, LowStockOut(many=True))
def low_stock(args: dict[str, Any]) -> Any:
    """Low-stock alerts; with ?threshold=N, every entry with at most N available."""
    require_readable_filters(args)
    return queries.low_stock(
        api_actor(), store_id=args.get("store_id"), threshold=args.get("threshold"),
        limit=args["limit"],
    )


@bp.route("/stores", methods=["GET"])
@bp.response(200, StoreOut(many=True))
def stores() -> Any:
    """Stores with their inventory totals."""
    return queries.store_summaries(api_actor())


@bp.route("/locations", methods=["GET"])
@bp.arguments(StoreArgs, location="query")
@bp.response(200, LocationOut(many=True))
def locations(args: dict[str, Any]) -> Any:
    """Active locations, optionally of one store."""
    require_readable_filters(args)
    return queries.store_locations(api_actor(), store_id=args.get("store_id"))


@bp.route(f"/stores/{ID.format('store_id')}", methods=["GET"])
@bp.arguments(StoreListArgs, location="query")
@bp.response(200, StoreInventoryOut)
def store_inventory(args: dict[str, Any], store_id: int) -> Any:
    """One store: its totals, statistics and a page of its entries."""
    require_readable_filters(args)
    actor = api_actor()
    store_id = queries.resolve_store(actor, store_id)
    return {
        "store": queries.store_summaries(actor, store_id=store_id)[0],
        "stats": queries.stock_stats(actor, store_id=store_id),
        "page": queries.list_entries(
            actor, entry_filters(args, store_id=store_id), cursor=args.get("cursor"),
            limit=args["limit"],
        ),
    }


@bp.route(f"/products/{ID.format('product_id')}", methods=["GET"])
@bp.response(200, ProductStockOut)
def product(product_id: int) -> Any:
    """A product's stock per location, with totals and its status."""
    return product_summary(queries.product_stock(api_actor(), product_id))


@bp.route("/set", methods=["POST"])
@bp.arguments(AdminSetStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def set_stock(args: dict[str, Any]) -> Any:
    """Replace on-hand with an exact quantity at an entry of the given store."""
    return changed(stock.set_stock(
        actor=api_actor(), entry_id=entry_id_of(args, args["store_id"]),
        quantity=args["quantity"], reason=args.get("reason"),
        expected_version=args.get("expected_version"),
        expected_quantity=args.get("expected_quantity"), idempotency_key=idempotency_key(),
    ))


@bp.route("/adjust", methods=["POST"])
@bp.arguments(AdminAdjustStockIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def adjust_stock(args: dict[str, Any]) -> Any:
    """Add or remove on-hand units at an entry of the given store, with a reason."""
    return changed(stock.adjust_stock(
        actor=api_actor(), entry_id=entry_id_of(args, args["store_id"]),
        delta=args["quantity"], reason=args["reason"], reference=args.get("reference"),
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/{ID.format('entry_id')}", methods=["PUT"], endpoint="update_entry")
@bp.arguments(UpdateEntryIn)
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def update_entry(args: dict[str, Any], entry_id: int) -> Any:
    """Update an entry's low-stock threshold (0 disables it)."""
    return changed(stock.set_threshold(
        actor=api_actor(), entry_id=entry_id, low_stock_threshold=args["low_stock_threshold"],
        idempotency_key=idempotency_key(),
    ))


@bp.route(f"/{ID.format('entry_id')}", methods=["DELETE"], endpoint="delete_entry")
@bp.response(200, StockChangeOut)
@bp.doc(**MUTATION)
def delete_entry(entry_id: int) -> Any:
    """Delete an entry with nothing reserved."""
    return changed(stock.delete_entry(
        actor=api_actor(), entry_id=entry_id, idempotency_key=idempotency_key(),
    ))
