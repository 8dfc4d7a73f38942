"""Buying stock: suppliers and what they supply, purchase orders from draft to received,
receipts against them, and what the stock on hand is worth. The same service functions as
the screens, with the same permissions: purchasing:manage to manage suppliers and orders
(and to see any cost), inventory:receive to receive.

Every change takes an Idempotency-Key. A receipt is a stock change: its first answer is
kept with the ledger rows it wrote. The others keep the answer they gave, as the catalog's
changes do, and a repeat gets it back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify

from app.api.auth import api_actor
from app.api.catalog import fields_named
from app.api.common import IDEMPOTENCY_HEADER, api_blueprint, changed, idempotency_key
from app.api.schemas import (
    PurchaseOrderCancelIn,
    PurchaseOrderCreateIn,
    PurchaseOrderLinesIn,
    PurchaseOrderLineUpdateIn,
    PurchaseOrderListArgs,
    PurchaseOrderOut,
    PurchaseOrderPageOut,
    PurchaseOrderUpdateIn,
    PurchaseOrderVersionIn,
    ReceiptIn,
    StockChangeOut,
    SupplierCreateIn,
    SupplierItemIn,
    SupplierItemListOut,
    SupplierItemOut,
    SupplierListArgs,
    SupplierListOut,
    SupplierOut,
    SupplierUpdateIn,
    ValuationArgs,
    ValuationOut,
)
from app.permissions import PURCHASING, RECEIVE, Actor
from app.services import purchasing, queries
from app.services.cursors import decode_cursor, encode_cursor
from app.services.errors import NotFound, PermissionDenied
from app.services.idempotency import Outcome, once
from app.services.queries import valuation

bp = api_blueprint(
    "store_purchasing", "/api/v1/store",
    "Suppliers, what they supply, purchase orders and receipts, and the stock's value, in "
    "the stores the token's user belongs to. Managing suppliers and orders, and seeing "
    "any cost, needs purchasing:manage; receiving needs inventory:receive, and a token "
    "with that alone reads orders without their costs. Amounts are decimal text (\"12.50\") "
    "in and out, exact to four decimals, in the supplier's currency for supplier items "
    "and orders and in the store's for stock value.",
)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}
SUPPLIER_ID = "<int(min=1, max=2147483647):supplier_id>"
PRODUCT_ID = "<int(min=1, max=2147483647):product_id>"
ORDER_ID = "<int(min=1, max=2147483647):order_id>"
LINE_ID = "<int(min=1, max=2147483647):line_id>"
SUPPLIER_OUT = SupplierOut()
ITEM_OUT = SupplierItemOut()
ORDER_OUT = PurchaseOrderOut()
SUMMARY_OUT = PurchaseOrderPageOut()


# --------------------------------------------------------------------------- suppliers


@bp.route("/suppliers", methods=["GET"])
@bp.arguments(SupplierListArgs, location="query")
@bp.response(200, SupplierListOut)
def list_suppliers(args: dict[str, Any]) -> Any:
    """A store's suppliers by name; archived ones too with include_archived=true."""
    actor = api_actor()
    store_id = _buying_store(actor, args.get("store_id"))
    return {"items": purchasing.list_suppliers(actor, store_id,
                                               include_archived=args["include_archived"])}


@bp.route("/suppliers", methods=["POST"])
@bp.arguments(SupplierCreateIn)
@bp.response(201, SupplierOut)
@bp.doc(**MUTATION)
def create_supplier(args: dict[str, Any]) -> Any:
    """Add a supplier to a store, quoting in its currency (the store's when left out)."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    fields = {k: v for k, v in args.items() if k != "store_id"}

    def work() -> dict[str, Any]:
        made = purchasing.create_supplier(actor=actor, store_id=store_id, **fields)
        return SUPPLIER_OUT.dump(made)  # type: ignore[no-any-return]

    return _answer(once("supplier.create", actor, idempotency_key(),
                        {**args, "store_id": store_id}, work), 201)


@bp.route(f"/suppliers/{SUPPLIER_ID}", methods=["GET"])
@bp.response(200, SupplierOut)
def get_supplier(supplier_id: int) -> Any:
    """One supplier."""
    return _supplier(api_actor(), supplier_id)


@bp.route(f"/suppliers/{SUPPLIER_ID}", methods=["PUT"])
@bp.arguments(SupplierUpdateIn)
@bp.response(200, SupplierOut)
@bp.doc(**MUTATION)
def update_supplier(args: dict[str, Any], supplier_id: int) -> Any:
    """Change a supplier: every field as it should now be (a left-out currency keeps the
    supplier's; it changes only while the supplier has no items and no orders)."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        made = purchasing.update_supplier(actor=actor, supplier_id=supplier_id, **args)
        return SUPPLIER_OUT.dump(made)  # type: ignore[no-any-return]

    return _answer(once("supplier.update", actor, idempotency_key(),
                        {**args, "supplier_id": supplier_id}, work), 200)


@bp.route(f"/suppliers/{SUPPLIER_ID}/archive", methods=["POST"])
@bp.response(200, SupplierOut)
@bp.doc(**MUTATION)
def archive_supplier(supplier_id: int) -> Any:
    """Retire a supplier: no new orders or items, no longer anyone's preferred supplier.
    Refused (409) while it has drafts or open orders."""
    return _archived(supplier_id, archived=True)


@bp.route(f"/suppliers/{SUPPLIER_ID}/unarchive", methods=["POST"])
@bp.response(200, SupplierOut)
@bp.doc(**MUTATION)
def unarchive_supplier(supplier_id: int) -> Any:
    """Bring an archived supplier back."""
    return _archived(supplier_id, archived=False)


@bp.route(f"/suppliers/{SUPPLIER_ID}/items", methods=["GET"])
@bp.response(200, SupplierItemListOut)
def list_supplier_items(supplier_id: int) -> Any:
    """What a supplier sells, by SKU, at its cost in the supplier's currency."""
    actor = api_actor()
    _supplier(actor, supplier_id)
    return {"items": purchasing.list_supplier_items(actor, supplier_id)}


@bp.route(f"/suppliers/{SUPPLIER_ID}/items/{PRODUCT_ID}", methods=["PUT"])
@bp.arguments(SupplierItemIn)
@bp.response(200, SupplierItemOut)
@bp.doc(**MUTATION)
def set_supplier_item(args: dict[str, Any], supplier_id: int, product_id: int) -> Any:
    """Record what the supplier sells a product (a variant) for, its SKU there, the pack
    it comes in and the least it takes; the same product again changes it."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        made = purchasing.set_supplier_item(actor=actor, supplier_id=supplier_id,
                                            product_id=product_id, **args)
        return ITEM_OUT.dump(made)  # type: ignore[no-any-return]

    return _answer(once("supplier.item_set", actor, idempotency_key(),
                        {**args, "supplier_id": supplier_id, "product_id": product_id},
                        work), 200)


@bp.route(f"/suppliers/{SUPPLIER_ID}/items/{PRODUCT_ID}", methods=["DELETE"])
@bp.response(200, SupplierItemListOut)
@bp.doc(**MUTATION)
def remove_supplier_item(supplier_id: int, product_id: int) -> Any:
    """The supplier no longer sells this product; orders made keep their lines. Answers
    what the supplier still sells."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        _supplier(actor, supplier_id)
        item = next((i for i in purchasing.list_supplier_items(actor, supplier_id)
                     if i.product_id == product_id), None)
        if item is None:
            raise NotFound("The supplier has no item for this product.",
                           {"product_id": "Not sold by this supplier."})
        purchasing.remove_supplier_item(actor=actor, supplier_item_id=item.id)
        return SupplierItemListOut().dump(  # type: ignore[no-any-return]
            {"items": purchasing.list_supplier_items(actor, supplier_id)})

    return _answer(once("supplier.item_remove", actor, idempotency_key(),
                        {"supplier_id": supplier_id, "product_id": product_id}, work), 200)


# --------------------------------------------------------------------------- orders


@bp.route("/purchase-orders", methods=["GET"])
@bp.arguments(PurchaseOrderListArgs, location="query")
@bp.response(200, PurchaseOrderPageOut)
def list_purchase_orders(args: dict[str, Any]) -> Any:
    """A store's purchase orders, newest first, a page at a time (next_cursor); by status
    (or open: ordered and partly received) and supplier."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    costs = _may_read_orders(actor, store_id)
    before = (decode_cursor(args["cursor"], int, ranked=False).id
              if args.get("cursor") else None)
    found = purchasing.list_purchase_orders(
        actor, store_id, status=args.get("status"), supplier_id=args.get("supplier_id"),
        limit=args["limit"] + 1, before_id=before)
    page = found[:args["limit"]]
    more = len(found) > args["limit"]
    body = SUMMARY_OUT.dump({
        "items": page,
        "next_cursor": encode_cursor(page[-1].id, page[-1].id, backwards=False)
        if more else None,
    })
    if not costs:
        for item in body["items"]:
            item["total"] = None
    # Sent as it is: the schema above describes it, and it is already dumped.
    return jsonify(body)


@bp.route("/purchase-orders", methods=["POST"])
@bp.arguments(PurchaseOrderCreateIn)
@bp.response(201, PurchaseOrderOut)
@bp.doc(**MUTATION)
def create_purchase_order(args: dict[str, Any]) -> Any:
    """Start a draft order to a supplier, in the supplier's currency, with lines (each a
    product to a location; a line without unit_cost takes the supplier's on record)."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        made = purchasing.create_purchase_order(actor=actor, **args)
        return _order(actor, made)

    return _answer(once("purchase_order.create", actor, idempotency_key(), args, work), 201)


@bp.route(f"/purchase-orders/{ORDER_ID}", methods=["GET"])
@bp.response(200, PurchaseOrderOut)
def get_purchase_order(order_id: int) -> Any:
    """One order with its lines: ordered, received and still awaited."""
    actor = api_actor()
    view = purchasing.get_purchase_order(actor, order_id)
    _may_read_orders(actor, view.store_id)
    return jsonify(_order(actor, view))


@bp.route(f"/purchase-orders/{ORDER_ID}", methods=["PUT"])
@bp.arguments(PurchaseOrderUpdateIn)
@bp.response(200, PurchaseOrderOut)
@bp.doc(**MUTATION)
def update_purchase_order(args: dict[str, Any], order_id: int) -> Any:
    """Change an order's expected date and notes (until it is closed) and its exchange
    rate (while a draft): every field as it should now be."""
    return _order_change("purchase_order.update", order_id, args,
                         lambda actor: purchasing.update_purchase_order(
                             actor=actor, order_id=order_id, **args))


@bp.route(f"/purchase-orders/{ORDER_ID}/lines", methods=["POST"])
@bp.arguments(PurchaseOrderLinesIn)
@bp.response(201, PurchaseOrderOut)
@bp.doc(**MUTATION)
def add_purchase_order_lines(args: dict[str, Any], order_id: int) -> Any:
    """Add lines to a draft."""
    return _order_change("purchase_order.add_lines", order_id, args,
                         lambda actor: purchasing.add_purchase_order_lines(
                             actor=actor, order_id=order_id, **args), status=201)


@bp.route(f"/purchase-orders/{ORDER_ID}/lines/{LINE_ID}", methods=["PATCH"])
@bp.arguments(PurchaseOrderLineUpdateIn)
@bp.response(200, PurchaseOrderOut)
@bp.doc(**MUTATION)
def update_purchase_order_line(args: dict[str, Any], order_id: int, line_id: int) -> Any:
    """Change a draft line's quantity and unit cost."""
    def change(actor: Actor) -> Any:
        _line_of(actor, order_id, line_id)
        return purchasing.update_purchase_order_line(actor=actor, line_id=line_id, **args)

    return _order_change("purchase_order.update_line", order_id,
                         {**args, "line_id": line_id}, change)


@bp.route(f"/purchase-orders/{ORDER_ID}/lines/{LINE_ID}", methods=["DELETE"])
@bp.response(200, PurchaseOrderOut)
@bp.doc(**MUTATION)
def remove_purchase_order_line(order_id: int, line_id: int) -> Any:
    """Take a line off a draft."""
    def change(actor: Actor) -> Any:
        _line_of(actor, order_id, line_id)
        return purchasing.remove_purchase_order_line(actor=actor, line_id=line_id)

    return _order_change("purchase_order.remove_line", order_id, {"line_id": line_id}, change)


@bp.route(f"/purchase-orders/{ORDER_ID}/order", methods=["POST"])
@bp.arguments(PurchaseOrderVersionIn)
@bp.response(200, PurchaseOrderOut)
@bp.doc(**MUTATION)
def order_purchase_order(args: dict[str, Any], order_id: int) -> Any:
    """Place a draft with its supplier: what it brings becomes incoming at each line's
    location. An order in another currency than the store's needs its exchange rate."""
    return _order_change("purchase_order.order", order_id, args,
                         lambda actor: purchasing.order_purchase_order(
                             actor=actor, order_id=order_id, **args))


@bp.route(f"/purchase-orders/{ORDER_ID}/cancel", methods=["POST"])
@bp.arguments(PurchaseOrderCancelIn)
@bp.response(200, PurchaseOrderOut)
@bp.doc(**MUTATION)
def cancel_purchase_order(args: dict[str, Any], order_id: int) -> Any:
    """Cancel a draft or an open order: what it has not delivered leaves incoming; what
    it delivered stays."""
    return _order_change("purchase_order.cancel", order_id, args,
                         lambda actor: purchasing.cancel_purchase_order(
                             actor=actor, order_id=order_id, **args))


@bp.route(f"/purchase-orders/{ORDER_ID}/receipts", methods=["POST"])
@bp.arguments(ReceiptIn)
@bp.response(201, StockChangeOut)
@bp.doc(**MUTATION)
def receive(args: dict[str, Any], order_id: int) -> Any:
    """Receive units of an ordered purchase order, all lines or none, as one batch of
    `received` ledger rows: on hand, incoming and each entry's average cost follow. More
    than a line awaits is refused (409 over_receipt, naming each line) unless
    confirm_over_receipt is true. Needs inventory:receive."""
    with fields_named({"confirm_over": "confirm_over_receipt"}):
        change = purchasing.receive_purchase_order(
            actor=api_actor(), order_id=order_id, lines=args["lines"],
            confirm_over=args["confirm_over_receipt"], reason=args.get("reason"),
            idempotency_key=idempotency_key())
    return changed(change, 201)


# --------------------------------------------------------------------------- value


@bp.route("/valuation", methods=["GET"])
@bp.arguments(ValuationArgs, location="query")
@bp.response(200, ValuationOut)
def stock_value(args: dict[str, Any]) -> Any:
    """What the stock on hand is worth (on hand × moving average cost) per store and
    location, in each store's currency, with entries that have stock and no cost counted
    apart; every store the token may see costs in, or the one store or location asked
    for."""
    try:
        return valuation.stock_value(api_actor(), store_id=args.get("store_id"),
                                     location_id=args.get("location_id"))
    except NotFound as exc:
        raise NotFound(exc.message, {f"{k}_id": v for k, v in exc.fields.items()}) from None


# --------------------------------------------------------------------------- helpers


def _buying_store(actor: Actor, store_id: int | None) -> int:
    """The store a request names (or the actor's only one), where the actor may buy."""
    store_id = queries.resolve_store(actor, store_id)
    if not actor.can(PURCHASING, store_id):
        raise PermissionDenied(PURCHASING)
    return store_id


def _supplier(actor: Actor, supplier_id: int) -> purchasing.SupplierView:
    """A supplier the actor may manage: what it supplies, and at what cost, is buying's."""
    view = purchasing.get_supplier(actor, supplier_id)
    if not actor.can(PURCHASING, view.store_id):
        raise PermissionDenied(PURCHASING)
    return view


def _may_read_orders(actor: Actor, store_id: int) -> bool:
    """Whether the actor reads a store's orders with their costs (purchasing:manage) or
    without (inventory:receive: what to receive, not what it cost). Raises
    PermissionDenied for anyone else, naming the one a staff member may be granted."""
    if actor.can(PURCHASING, store_id):
        return True
    if actor.can(RECEIVE, store_id):
        return False
    raise PermissionDenied(RECEIVE)


def _order(actor: Actor, view: purchasing.PurchaseOrderView) -> dict[str, Any]:
    body: dict[str, Any] = ORDER_OUT.dump(view)
    if not actor.can(PURCHASING, view.store_id):
        body.update(total=None, exchange_rate=None)
        for line in body["lines"]:
            line["unit_cost"] = None
    return body


def _line_of(actor: Actor, order_id: int, line_id: int) -> None:
    """NotFound naming line_id unless the line is one of the order's."""
    view = purchasing.get_purchase_order(actor, order_id)
    if not any(line.id == line_id for line in view.lines):
        raise NotFound(f"{view.number} has no line {line_id}.",
                       {"line_id": "No such line on this order."})


def _order_change(operation: str, order_id: int, args: Mapping[str, Any], change: Any,
                  *, status: int = 200) -> tuple[Response, int, dict[str, str]]:
    actor = api_actor()

    def work() -> dict[str, Any]:
        return _order(actor, change(actor))

    return _answer(once(operation, actor, idempotency_key(),
                        {**args, "order_id": order_id}, work), status)


def _archived(supplier_id: int, *, archived: bool) -> Any:
    actor = api_actor()
    service = purchasing.archive_supplier if archived else purchasing.unarchive_supplier

    def work() -> dict[str, Any]:
        return SUPPLIER_OUT.dump(  # type: ignore[no-any-return]
            service(actor=actor, supplier_id=supplier_id))

    return _answer(once("supplier.archive" if archived else "supplier.unarchive", actor,
                        idempotency_key(), {"supplier_id": supplier_id}, work), 200)


def _answer(outcome: Outcome, status: int) -> tuple[Response, int, dict[str, str]]:
    """A change's answer; a replay says so in a header, so the body is the first one's."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return jsonify(outcome.body), status, headers
