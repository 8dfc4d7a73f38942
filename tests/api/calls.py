"""The API's endpoints as data, for the matrices and the idempotency tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from flask import current_app

from app.permissions import (
    ADJUST,
    CATALOG,
    DELETE,
    PURCHASING,
    RECEIVE,
    RESERVE,
    THRESHOLD,
    system_actor,
)
from app.services import catalog, channels, items, purchasing, stock, webhooks

INV = "/api/v1/store/inventory"
REORDER = "/api/v1/store/reorder-suggestions"
ORDERS = "/api/v1/orders"
ITEMS = "/api/v1/store/items"
SUPPLIERS = "/api/v1/store/suppliers"
POS = "/api/v1/store/purchase-orders"


@dataclass(frozen=True)
class Call:
    name: str
    permission: str | None  # None: a read, open to every member
    method: str
    url: Callable[[SimpleNamespace], str]
    body: Callable[[SimpleNamespace], Any] = lambda s: None


def entry(s: SimpleNamespace) -> dict[str, Any]:
    return {"entry_id": s.a.entry.id}


def by_code(s: SimpleNamespace) -> dict[str, Any]:
    return {"product_id": s.a.product.id, "location": "A_MAIN"}


CALLS = [
    Call("list", None, "get", lambda s: f"{INV}?store_id={s.a.store.id}"),
    Call("get entry", None, "get", lambda s: f"{INV}/{s.a.entry.id}"),
    Call("product", None, "get", lambda s: f"{INV}/product/{s.a.product.id}"),
    Call("item", None, "get", lambda s: f"{INV}/item/{s.a.item.id}"),
    Call("order", None, "get", lambda s: f"{ORDERS}/ORD-M?store_id={s.a.store.id}"),
    Call("availability", None, "post", lambda s: f"{ORDERS}/availability",
         lambda s: {"store_id": s.a.store.id,
                    "lines": [{"product_id": s.a.product.id, "quantity": 1}]}),
    Call("set", ADJUST, "post", lambda s: f"{INV}/set", lambda s: {**entry(s), "quantity": 11}),
    Call("set by code", ADJUST, "post", lambda s: f"{INV}/set",
         lambda s: {**by_code(s), "quantity": 11}),
    Call("adjust", ADJUST, "post", lambda s: f"{INV}/adjust",
         lambda s: {**entry(s), "quantity": 1, "reason": "Found"}),
    Call("count", ADJUST, "post", lambda s: f"{INV}/count",
         lambda s: {**by_code(s), "counted_quantity": 9}),
    Call("return", ADJUST, "post", lambda s: f"{INV}/return",
         lambda s: {**entry(s), "quantity": 1, "reason": "RMA"}),
    Call("transfer", ADJUST, "post", lambda s: f"{INV}/transfer",
         lambda s: {"product_id": s.a.product.id, "from_location": "A_MAIN",
                    "to_location": "A_SPARE", "quantity": 1}),
    Call("reserve", RESERVE, "post", lambda s: f"{INV}/reserve",
         lambda s: {**by_code(s), "quantity": 1, "order_ref": "X"}),
    Call("release", RESERVE, "post", lambda s: f"{INV}/release",
         lambda s: {**entry(s), "quantity": 1}),
    Call("fulfill", RESERVE, "post", lambda s: f"{INV}/fulfill",
         lambda s: {**by_code(s), "quantity": 1}),
    Call("threshold", THRESHOLD, "put", lambda s: f"{INV}/{s.a.entry.id}",
         lambda s: {"low_stock_threshold": 4}),
    Call("delete", DELETE, "delete", lambda s: f"{INV}/{s.empty.id}"),
    Call("create", CATALOG, "post", lambda s: INV,
         lambda s: {"product_id": s.a.product.id, "location": "A_NEW", "quantity": 3}),
    Call("order reserve", RESERVE, "post", lambda s: f"{ORDERS}/ORD-N/reserve",
         lambda s: {"store_id": s.a.store.id, "lines": [
             {"line_ref": "L1", "product_id": s.a.product.id, "location": "A_MAIN",
              "quantity": 1}]}),
    Call("order release", RESERVE, "post", lambda s: f"{ORDERS}/SETUP/release",
         lambda s: {"store_id": s.a.store.id}),
    Call("order fulfill", RESERVE, "post", lambda s: f"{ORDERS}/SETUP/fulfill",
         lambda s: {"store_id": s.a.store.id}),
    Call("order reserve on a channel", RESERVE, "post", lambda s: f"{ORDERS}/ORD-C/reserve",
         lambda s: {"store_id": s.a.store.id, "channel": "A_WEB", "lines": [
             {"line_ref": "C1", "product_id": s.a.product.id, "quantity": 1}]}),
    Call("move reservation", RESERVE, "post",
         lambda s: f"{ORDERS}/ORD-H/reservations/{s.hold.id}/move",
         lambda s: {"location": "A_MOVE", "reason": "Closer to the customer"}),
    Call("channel availability", None, "get",
         lambda s: f"/api/v1/store/channels/A_WEB/availability?store_id={s.a.store.id}"
                   f"&product_id={s.a.product.id}"),
    Call("order return", ADJUST, "post", lambda s: f"{ORDERS}/ORD-M/return",
         lambda s: {"store_id": s.a.store.id, "lines": [{"line_ref": "L1", "quantity": 1}],
                    "reason": "Returned"}),
    Call("create item", CATALOG, "post", lambda s: ITEMS,
         lambda s: {"store_id": s.a.store.id, "title": "Rain shell",
                    "options": [{"name": "Color", "values": ["Red", "Navy"]},
                                {"name": "Size", "values": ["S", "M"]}],
                    "sku_prefix": "A-RSH", "reorder_point": 2}),
    Call("create item with skus", CATALOG, "post", lambda s: ITEMS,
         lambda s: {"store_id": s.a.store.id, "title": "Trail tent",
                    "options": [{"name": "Size", "values": ["2P", "3P"]}],
                    "variants": [{"options": {"Size": "2P"}, "sku": "A-TENT-2",
                                  "gtin": "4006381333931"},
                                 {"options": {"Size": "3P"}, "sku": "A-TENT-3"}]}),
    Call("update item", CATALOG, "patch", lambda s: f"{ITEMS}/{s.parka.id}",
         lambda s: {"title": "Storm parka", "description": "Warm", "status": "draft"}),
    Call("add option value", CATALOG, "post", lambda s: f"{ITEMS}/{s.parka.id}/option-values",
         lambda s: {"option": "Size", "value": "L", "sku_prefix": "A-PRK"}),
    Call("archive item", CATALOG, "post", lambda s: f"{ITEMS}/{s.parka.id}/archive"),
    Call("unarchive item", CATALOG, "post", lambda s: f"{ITEMS}/{s.shelved.id}/unarchive"),
    Call("reorder suggestions", None, "get",
         lambda s: f"{REORDER}?store_id={s.a.store.id}&sort=suggested&order=desc&limit=10"),
    Call("set components", CATALOG, "put",
         lambda s: f"/api/v1/store/products/{s.kit.id}/components",
         lambda s: {"components": [{"product_id": s.a.product.id, "quantity": 2}]}),
    Call("create supplier", PURCHASING, "post", lambda s: SUPPLIERS,
         lambda s: {"store_id": s.a.store.id, "name": "Bolt & Nut", "contact_name": "Ada",
                    "email": "orders@bolt.example", "phone": "+44 20 7946 0000",
                    "currency": "eur", "lead_time_days": 12, "notes": "Net 30"}),
    Call("update supplier", PURCHASING, "put", lambda s: f"{SUPPLIERS}/{s.supplier.id}",
         lambda s: {"name": "Acme Wholesale", "email": "sales@acme.example",
                    "lead_time_days": 5, "notes": "Ships Mondays"}),
    Call("archive supplier", PURCHASING, "post",
         lambda s: f"{SUPPLIERS}/{s.idle_supplier.id}/archive"),
    Call("unarchive supplier", PURCHASING, "post",
         lambda s: f"{SUPPLIERS}/{s.gone_supplier.id}/unarchive"),
    Call("set supplier item", PURCHASING, "put",
         lambda s: f"{SUPPLIERS}/{s.supplier.id}/items/{s.a.product.id}",
         lambda s: {"unit_cost": "2.25", "supplier_sku": "AC-MUG", "pack_size": 6,
                    "min_order_qty": 12}),
    Call("remove supplier item", PURCHASING, "delete",
         lambda s: f"{SUPPLIERS}/{s.supplier.id}/items/{s.a.product.id}"),
    Call("create purchase order", PURCHASING, "post", lambda s: POS,
         lambda s: {"supplier_id": s.supplier.id, "expected_on": "2031-05-01",
                    "notes": "Second floor dock", "lines": [
                        {"product_id": s.a.product.id, "location_id": s.a.location.id,
                         "quantity": 3, "unit_cost": "1.95"}]}),
    Call("update purchase order", PURCHASING, "put", lambda s: f"{POS}/{s.draft.id}",
         lambda s: {"expected_on": "2031-06-01", "notes": "Call before delivery"}),
    Call("add purchase order lines", PURCHASING, "post", lambda s: f"{POS}/{s.draft.id}/lines",
         lambda s: {"lines": [{"product_id": s.a.product.id, "location_id": s.a.spare.id,
                               "quantity": 2}]}),
    Call("update purchase order line", PURCHASING, "patch",
         lambda s: f"{POS}/{s.draft.id}/lines/{s.draft_line.id}",
         lambda s: {"quantity": 6, "unit_cost": "1.80"}),
    Call("remove purchase order line", PURCHASING, "delete",
         lambda s: f"{POS}/{s.draft.id}/lines/{s.draft_line.id}"),
    Call("place purchase order", PURCHASING, "post", lambda s: f"{POS}/{s.draft.id}/order",
         lambda s: {}),
    Call("cancel purchase order", PURCHASING, "post", lambda s: f"{POS}/{s.placed.id}/cancel",
         lambda s: {"reason": "Found a cheaper supplier"}),
    Call("receive purchase order", RECEIVE, "post", lambda s: f"{POS}/{s.placed.id}/receipts",
         lambda s: {"lines": [{"line_id": s.placed_line.id, "quantity": 2}],
                    "reason": "Morning delivery"}),
]
# The purchasing reads: costs are buying's, so they need purchasing:manage, unlike the
# inventory reads above open to every member; orders may be read with inventory:receive
# too (without their costs: what to receive, not what it cost).
PURCHASING_READS = [
    Call("list suppliers", PURCHASING, "get", lambda s: f"{SUPPLIERS}?store_id={s.a.store.id}"),
    Call("get supplier", PURCHASING, "get", lambda s: f"{SUPPLIERS}/{s.supplier.id}"),
    Call("list supplier items", PURCHASING, "get",
         lambda s: f"{SUPPLIERS}/{s.supplier.id}/items"),
    Call("list purchase orders", RECEIVE, "get",
         lambda s: f"{POS}?store_id={s.a.store.id}&status=open&supplier_id={s.supplier.id}"
                   "&limit=5"),
    Call("get purchase order", RECEIVE, "get", lambda s: f"{POS}/{s.placed.id}"),
    Call("valuation", PURCHASING, "get",
         lambda s: f"/api/v1/store/valuation?store_id={s.a.store.id}"
                   f"&location_id={s.a.location.id}"),
]
MUTATIONS = [c for c in CALLS if c.permission is not None]
ids = [c.name for c in CALLS]


def build_scene(world, make_location, make_entry) -> SimpleNamespace:
    """The world, plus an empty entry to delete, a location to create an entry at, order
    ORD-M whose line L1 has shipped, to return, the catalog's items and bundle, and
    suppliers and purchase orders."""
    a = world.a
    make_location(a.store, "A_NEW")
    empty = make_entry(store=a.store, location=a.spare, product=a.product, quantity=0)
    setup = system_actor("tests")
    # A webhook that the scene's changes are queued for (it is never sent: nothing runs
    # deliver_due here), so its log holds deliveries to send again.
    hook, _ = webhooks.create_endpoint(setup, a.store.id, url="http://127.0.0.1:9/hooks",
                                       policy=webhooks.policy_from(current_app.config))
    held = stock.reserve_stock(actor=setup, entry_id=a.entry.id, quantity=1,
                                   order_ref="ORD-M", line_ref="L1")
    stock.fulfill_stock(actor=setup, reservation_id=held.reservation_ids[0])
    # A channel selling from A_MAIN then A_SPARE, and an active hold with somewhere to move.
    channels.create_channel(actor=setup, store_id=a.store.id, code="A_WEB",
                            location_ids=[a.location.id, a.spare.id])
    moving_to = make_location(a.store, "A_MOVE")
    make_entry(store=a.store, location=moving_to, product=a.product, quantity=5)
    hold = stock.reserve_stock(actor=setup, entry_id=a.entry.id, quantity=1,
                               order_ref="ORD-H", line_ref="H1")
    # An item with an option, an archived one to restore, a product to make a bundle of.
    sizes = [items.Option("Size", ("S", "M"))]
    parka = items.create_item(actor=setup, store_id=a.store.id, title="Parka", options=sizes,
                              variants_to_make=items.generate(sizes, "A-PRK"))
    shelved = items.create_item(actor=setup, store_id=a.store.id, title="Old parka",
                                options=sizes, variants_to_make=items.generate(sizes, "A-OLD"))
    items.archive_item(actor=setup, item_id=shelved.id)
    kit = catalog.create_product(actor=setup, store_id=a.store.id, sku="A-KIT", title="Kit")
    # Acme sells the mug; a draft of 4 and an order of 5 placed (incoming) to A_MAIN; a
    # supplier with no orders to archive, and an archived one to bring back.
    supplier = purchasing.create_supplier(actor=setup, store_id=a.store.id, name="Acme")
    purchasing.set_supplier_item(actor=setup, supplier_id=supplier.id,
                                 product_id=a.product.id, unit_cost="2.00")
    draft = purchasing.create_purchase_order(actor=setup, supplier_id=supplier.id, lines=[
        {"product_id": a.product.id, "location_id": a.location.id, "quantity": 4}])
    placed = purchasing.create_purchase_order(actor=setup, supplier_id=supplier.id, lines=[
        {"product_id": a.product.id, "location_id": a.location.id, "quantity": 5}])
    purchasing.order_purchase_order(actor=setup, order_id=placed.id)
    idle = purchasing.create_supplier(actor=setup, store_id=a.store.id, name="Idle")
    gone = purchasing.create_supplier(actor=setup, store_id=a.store.id, name="Gone")
    purchasing.archive_supplier(actor=setup, supplier_id=gone.id)
    # A line to reorder: none of it at A_MAIN (reorder point 5, so 10 suggested), sold by a
    # supplier of the store, to draft a purchase order for.
    due = catalog.create_product(actor=setup, store_id=a.store.id, sku="A-REORDER",
                                 title="Reorder me", reorder_point=5, reorder_quantity=10)
    stock.create_entry(actor=setup, product_id=due.id, location_id=a.location.id)
    seller = purchasing.create_supplier(actor=setup, store_id=a.store.id, name="A Supply")
    purchasing.set_supplier_item(actor=setup, supplier_id=seller.id, product_id=due.id,
                                 unit_cost="2", preferred=True)
    webhooks.fan_out()
    delivery = webhooks.delivery_log(setup, hook.id, limit=1)[0][0]
    return SimpleNamespace(a=a, b=world.b, empty=empty,
                           webhook=SimpleNamespace(id=hook.id),
                           delivery=SimpleNamespace(id=delivery.id),
                           hold=SimpleNamespace(id=hold.reservation_ids[0]),
                           parka=SimpleNamespace(id=parka.id),
                           shelved=SimpleNamespace(id=shelved.id), kit=SimpleNamespace(id=kit.id),
                           supplier=SimpleNamespace(id=supplier.id),
                           idle_supplier=SimpleNamespace(id=idle.id),
                           gone_supplier=SimpleNamespace(id=gone.id),
                           draft=SimpleNamespace(id=draft.id),
                           draft_line=SimpleNamespace(id=draft.lines[0].id),
                           placed=SimpleNamespace(id=placed.id),
                           placed_line=SimpleNamespace(id=placed.lines[0].id),
                           reorder=SimpleNamespace(id=due.id))


def call(client: Any, c: Call, scene: SimpleNamespace, *, key: str | None = None,
         body: Any = None, url: str | None = None) -> Any:
    """Make the call `c` describes, optionally with an Idempotency-Key or another body."""
    url = url or c.url(scene)
    if c.method == "get":
        return client.get(url)
    if c.method == "delete":
        return client.delete(url, key=key)
    return getattr(client, c.method)(url, body if body is not None else c.body(scene), key=key)
