"""The seed documents' variant-level and sales-channel examples, made through the API on a
store shaped like the demo's Northwind Outfitters, each answered with the shape the seed
shows.

Seed 003 (an inventory module) describes variants that each get their own stock record,
stock levels per location, availability summed over a sales channel's locations, an order
reserved from a location of its channel, that location changed later, and fulfilment and
returns. Seed 004 (a storefront's inventory API) reads an item's rows per variant in
public, filters and counts the merchant's rows by status, and adjusts, reserves, releases
and sets the threshold of one row. Their paths are Stockroom's own `/api/v1/...` (SPEC.md
decides where the seeds differ); each test names the seed's request it stands for.

With STOCKROOM_SEED_EXAMPLES set to a file name, the requests and answers are also written
there as Markdown, one section per example.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from app.permissions import ADJUST, system_actor
from app.services import channels, purchasing

from .helpers import ApiClient

ITEMS = "/api/v1/store/items"
INV = "/api/v1/store/inventory"
ORDERS = "/api/v1/orders"
# The quantities of an inventory level in seed 003, and of a row in seed 004, as
# Stockroom names them on an entry.
LEVEL_FIELDS = {"quantity", "reserved_quantity", "available_quantity", "incoming_quantity",
                "low_stock_threshold", "status"}


@dataclass
class Exchange:
    seed: str
    example: str
    method: str
    url: str
    body: Any
    status: int
    answer: Any
    seed_says: str | None = None  # the seed's own request this one stands for
    brief: bool = False  # a step setting the scene: written as one line


@dataclass
class Journal:
    """Every request the examples make, in order, with its answer."""

    exchanges: list[Exchange] = field(default_factory=list)


JOURNAL = Journal()


@pytest.fixture(scope="module", autouse=True)
def _written_out() -> Iterator[None]:
    yield
    target = os.environ.get("STOCKROOM_SEED_EXAMPLES")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            out.write(markdown(JOURNAL.exchanges))


class Asker:
    """Sends one example's request as a client and keeps it with its answer."""

    def __init__(self, client: ApiClient, seed: str, *, brief: bool = False) -> None:
        self.client, self.seed, self.brief = client, seed, brief

    def __call__(self, example: str, method: str, url: str, body: Any = None, *,
                 status: int = 200, client: ApiClient | None = None,
                 seed_says: str | None = None, brief: bool = False) -> Any:
        who = client or self.client
        if method == "get":
            response = who.get(url)
        elif method == "delete":
            response = who.delete(url)
        else:
            response = getattr(who, method)(url, body)
        answer = response.get_json()
        JOURNAL.exchanges.append(Exchange(self.seed, example, method.upper(), url, body,
                                          response.status_code, answer, seed_says,
                                          brief or self.brief))
        assert response.status_code == status, (example, answer)
        return answer


@pytest.fixture
def northwind(make_store, make_location, api_as) -> SimpleNamespace:
    """Northwind Outfitters as the demo has it, in small: three locations, a web shop
    selling from the warehouse then the shop floor (splitting a line when it must), a
    counter selling from the shop floor; the catalog is made by the examples."""
    store = make_store("Northwind Outfitters")
    places = {code: make_location(store, code)
              for code in ("WAREHOUSE_MAIN", "STORE_FRONT", "RETURNS_BAY")}
    setup = system_actor("tests")
    channels.create_channel(actor=setup, store_id=store.id, code="WEB", name="Web shop",
                            location_ids=[places["WAREHOUSE_MAIN"].id,
                                          places["STORE_FRONT"].id], allow_split=True)
    channels.create_channel(actor=setup, store_id=store.id, code="COUNTER",
                            name="Shop counter", location_ids=[places["STORE_FRONT"].id])
    # Every client before the first request that writes (SQLite: an open read cannot
    # become a write once the app has committed).
    return SimpleNamespace(store=store, places=places, owner=api_as("owner", store),
                           admin=api_as("platform_admin"), clerk=api_as("staff", store),
                           stockist=api_as("staff", store, grants=(ADJUST,)))


def stock_the_parka(ask: Asker, variants: dict[str, int]) -> dict[str, int]:
    """Opening stock per variant and location; returns the entries' ids by "SKU@CODE"."""
    entries = {}
    for sku, code, quantity, extra in (
        ("NW-PRK-BLK-S", "WAREHOUSE_MAIN", 4, {}),
        ("NW-PRK-BLK-S", "STORE_FRONT", 3, {}),
        ("NW-PRK-BLK-M", "STORE_FRONT", 2, {}),
        ("NW-PRK-GLB-S", "WAREHOUSE_MAIN", 1, {"low_stock_threshold": 2}),
        ("NW-PRK-GLB-M", "WAREHOUSE_MAIN", 0, {}),
    ):
        made = ask(f"Stock {sku} at {code}", "post", INV,
                   {"product_id": variants[sku], "location": code, "quantity": quantity,
                    **extra}, status=201, brief=True,
                   seed_says="an inventory level set for a variant at a location")
        entries[f"{sku}@{code}"] = made["entries"][0]["id"]
    return entries


def order_ten(store_id: int, location_id: int, product_id: int) -> None:
    """Ten units on their way: incoming is what open purchase orders still await."""
    setup = system_actor("tests")
    supplier = purchasing.create_supplier(actor=setup, store_id=store_id, name="Alpine Down")
    order = purchasing.create_purchase_order(
        actor=setup, supplier_id=supplier.id,
        lines=[{"product_id": product_id, "location_id": location_id, "quantity": 10,
                "unit_cost": "80.00"}])
    purchasing.order_purchase_order(actor=setup, order_id=order.id)


def make_catalog(ask: Asker) -> SimpleNamespace:
    """The parka with a SKU given per variant, and a digital gift card."""
    parka = ask("A product with variants, each its own stock-kept unit", "post", ITEMS, {
        "title": "Summit Down Parka",
        "options": [{"name": "Color", "values": ["Black", "Glacier Blue"]},
                    {"name": "Size", "values": ["S", "M"]}],
        "variants": [{"options": {"Color": c, "Size": s}, "sku": f"NW-PRK-{code}-{s}"}
                     for c, code in (("Black", "BLK"), ("Glacier Blue", "GLB"))
                     for s in ("S", "M")],
    }, status=201, seed_says="003: a product variant created, with its inventory item")
    gift = ask("A variant whose stock is not managed", "post", ITEMS, {
        "title": "Gift Card EUR 25", "product_type": "digital", "sku_prefix": "NW-GC25",
    }, status=201, seed_says="003: a variant with manage_inventory disabled")
    return SimpleNamespace(
        parka=parka, gift=gift, gift_id=gift["variants"][0]["product_id"],
        variants={v["sku"]: v["product_id"] for v in parka["variants"]})


# --------------------------------------------------------------------------- seed 003


def test_seed_003_variants_levels_channels_and_an_orders_lifecycle(northwind):
    ask = Asker(northwind.owner, "003")
    made = make_catalog(ask)

    # "When a product variant … is created, … an inventory item [is created] along with
    # the product variant": each variant is its own product, with its own SKU and no
    # stock yet.
    assert [(v["sku"], v["options"], v["locations"]) for v in made.parka["variants"]] == [
        ("NW-PRK-BLK-S", {"Color": "Black", "Size": "S"}, []),
        ("NW-PRK-BLK-M", {"Color": "Black", "Size": "M"}, []),
        ("NW-PRK-GLB-S", {"Color": "Glacier Blue", "Size": "S"}, []),
        ("NW-PRK-GLB-M", {"Color": "Glacier Blue", "Size": "M"}, [])]
    assert len({v["product_id"] for v in made.parka["variants"]}) == 4
    # A variant whose stock is not managed has no level to make: it is unlimited.
    [card] = made.gift["variants"]
    assert (card["unlimited"], card["total_available"], card["locations"]) == (True, None, [])

    # "Inventory Levels [are created] when the admin sets the available quantity of a
    # product variant in a stock location": an entry per variant and location.
    entries = stock_the_parka(ask, made.variants)
    order_ten(northwind.store.id, northwind.places["WAREHOUSE_MAIN"].id,
              made.variants["NW-PRK-GLB-M"])
    level = ask("An inventory level: stocked, reserved and incoming at one location",
                "get", f"{INV}/{entries['NW-PRK-GLB-M@WAREHOUSE_MAIN']}",
                seed_says="InventoryLevel: stocked_quantity, reserved_quantity, "
                          "incoming_quantity")
    assert LEVEL_FIELDS <= set(level)
    # Incoming stock does not count towards what is in stock.
    assert (level["quantity"], level["incoming_quantity"], level["available_quantity"],
            level["status"]) == (0, 10, 0, "out_of_stock")

    # "An inventory item can exist in multiple locations": the item's read, per variant
    # and location.
    item = ask("A variant's levels across locations", "get",
               f"{INV}/item/{made.parka['item_id']}",
               seed_says="an inventory item's levels in several stock locations")
    black_s = item["variants"][0]
    assert [(c["location"], c["quantity"], c["reserved"], c["available"])
            for c in black_s["locations"]] == [("STORE_FRONT", 3, 0, 3),
                                               ("WAREHOUSE_MAIN", 4, 0, 4)]
    assert (black_s["total_quantity"], black_s["total_available"]) == (7, 7)

    # "The Medusa backend retrieves the locations based on the sales channel of the cart
    # … summing all the stocked_quantity … the reserved_quantity is subtracted".
    pids = [made.variants["NW-PRK-BLK-S"], made.variants["NW-PRK-BLK-M"], made.gift_id]
    query = "&".join(f"product_id={p}" for p in pids)
    web = ask("Availability over the web shop's locations", "get",
              f"/api/v1/store/channels/WEB/availability?{query}",
              seed_says="cart validation: stocked − reserved summed over the sales "
                        "channel's locations")
    assert web["locations"] == ["WAREHOUSE_MAIN", "STORE_FRONT"]
    blk_s, blk_m, gift = web["products"]
    assert (blk_s["available"], blk_s["locations"]) == (7, [
        {"location": "WAREHOUSE_MAIN", "available": 4}, {"location": "STORE_FRONT",
                                                         "available": 3}])
    assert blk_m["available"] == 2
    # "If a product variant doesn't have an inventory item … the variant is assumed to be
    # available in stock": unlimited, never a count.
    assert (gift["unlimited"], gift["available"]) == (True, None)
    counter = ask("Availability over the counter's one location", "get",
                  f"/api/v1/store/channels/COUNTER/availability?{query}",
                  seed_says="the same, for another sales channel")
    assert [p["available"] for p in counter["products"][:2]] == [3, 2]

    # "When an order is placed, … [the backend] reserve[s] the ordered quantity of line
    # items … from the available stock locations associated with the order's sales
    # channel." Stockroom takes the first of the channel's locations that covers a line.
    reserved = ask("An order reserved on its sales channel", "post",
                   f"{ORDERS}/NW-1001/reserve", {
                       "channel": "WEB", "lines": [
                           {"line_ref": "L1", "product_id": made.variants["NW-PRK-BLK-S"],
                            "quantity": 2},
                           {"line_ref": "L2", "product_id": made.variants["NW-PRK-BLK-M"],
                            "quantity": 1},
                           {"line_ref": "L3", "product_id": made.gift_id, "quantity": 1}]},
                   seed_says="order placement: a reservation item per line item, at a "
                             "location of the order's sales channel")
    places = {p.id: code for code, p in northwind.places.items()}
    lines = {line["line_ref"]: line for line in reserved["details"]["lines"]}
    assert places[lines["L1"]["location_id"]] == "WAREHOUSE_MAIN"
    assert places[lines["L2"]["location_id"]] == "STORE_FRONT"
    order = ask("The order's reservation items", "get", f"{ORDERS}/NW-1001",
                seed_says="ReservationItem: line_item_id, location_id, quantity")
    holds = {r["line_ref"]: r for r in order["reservations"]}
    assert {"id", "line_ref", "product_id", "location_id", "location", "quantity",
            "status"} <= set(holds["L1"])
    assert (holds["L1"]["product_id"], holds["L1"]["location"], holds["L1"]["quantity"],
            holds["L1"]["status"]) == (made.variants["NW-PRK-BLK-S"], "WAREHOUSE_MAIN", 2,
                                       "active")

    # "The admin can later change which stock location the item will be fulfilled from."
    moved = ask("A reservation moved to another location", "post",
                f"{ORDERS}/NW-1001/reservations/{holds['L1']['id']}/move",
                {"location": "STORE_FRONT", "reason": "Ship from the shop"},
                seed_says="the admin changes which location a line is fulfilled from")
    after = {places[e["location_id"]]: e for e in moved["entries"]}
    assert (after["WAREHOUSE_MAIN"]["reserved_quantity"],
            after["STORE_FRONT"]["reserved_quantity"]) == (0, 2)
    # The order's reservation item now names its new location.
    now = ask("The moved reservation item", "get", f"{ORDERS}/NW-1001",
              seed_says="ReservationItem.location_id after the change")
    assert [(r["line_ref"], r["location"]) for r in now["reservations"]] == [
        ("L1", "STORE_FRONT"), ("L2", "STORE_FRONT")]

    # "When an item in the order is fulfilled … subtract the inventory level's
    # reserved_quantity from the stocked_quantity."
    shipped = ask("The order fulfilled", "post", f"{ORDERS}/NW-1001/fulfill", {},
                  seed_says="order fulfillment: reserved taken from stocked")
    front = {(e["product_id"], places[e["location_id"]]): e for e in shipped["entries"]}
    black_s_front = front[(made.variants["NW-PRK-BLK-S"], "STORE_FRONT")]
    assert (black_s_front["quantity"], black_s_front["reserved_quantity"]) == (1, 0)

    # "When an item in the order is returned … increment the inventory level's
    # stocked_quantity with the returned amount."
    returned = ask("A line returned", "post", f"{ORDERS}/NW-1001/return",
                   {"lines": [{"line_ref": "L1", "quantity": 1}], "reason": "Wrong size"},
                   seed_says="order return: stocked raised by the returned amount")
    assert [(places[e["location_id"]], e["quantity"]) for e in returned["entries"]] == [
        ("STORE_FRONT", 2)]


# --------------------------------------------------------------------------- seed 004


def test_seed_004_rows_per_variant_and_a_rows_mutations(northwind, anonymous):
    ask = Asker(northwind.owner, "004")
    setup = Asker(northwind.owner, "004", brief=True)
    made = make_catalog(setup)
    entries = stock_the_parka(setup, made.variants)

    # `api<Inventory[]>(/public/inventory/${itemId})`: one row per variant, what a
    # storefront's product page needs. The public read says how many can be sold and the
    # status; on hand, reserved and the threshold are the merchant's reads.
    rows = ask("Public: an item's rows for a product page", "get",
               f"/api/v1/public/items/{made.parka['item_id']}/availability",
               client=anonymous, seed_says="GET /public/inventory/${itemId}")
    assert [(r["sku"], r["options"], r["available"], r["status"])
            for r in rows["variants"]] == [
        ("NW-PRK-BLK-S", {"Color": "Black", "Size": "S"}, 7, "in_stock"),
        ("NW-PRK-BLK-M", {"Color": "Black", "Size": "M"}, 2, "in_stock"),
        ("NW-PRK-GLB-S", {"Color": "Glacier Blue", "Size": "S"}, 1, "low_stock"),
        ("NW-PRK-GLB-M", {"Color": "Glacier Blue", "Size": "M"}, 0, "out_of_stock")]
    # "… and at the item level for items without variants": one row.
    single = ask("Public: an item without variants has one row", "get",
                 f"/api/v1/public/items/{made.gift['item_id']}/availability",
                 client=anonymous, seed_says="GET /public/inventory/${itemId}, no variants")
    assert single["variants"] == [{"product_id": made.gift_id, "sku": "NW-GC25",
                                   "options": {}, "unlimited": True, "status": "in_stock"}]
    # The merchant's read of the same item: every variant's on hand, reserved and
    # available per location.
    merchant = ask("Merchant: the item's rows with on hand and reserved", "get",
                   f"{INV}/item/{made.parka['item_id']}",
                   seed_says="Inventory rows: onHand, reserved, available per variant")
    assert [(v["sku"], v["total_quantity"], v["total_available"])
            for v in merchant["variants"]] == [
        ("NW-PRK-BLK-S", 7, 7), ("NW-PRK-BLK-M", 2, 2), ("NW-PRK-GLB-S", 1, 1),
        ("NW-PRK-GLB-M", 0, 0)]

    # `/merchant/inventory?stockStatus=LOW_STOCK`, "enriched with item name".
    low = ask("Merchant: rows filtered by status", "get", f"{INV}?status=low_stock",
              seed_says="GET /merchant/inventory?stockStatus=LOW_STOCK")
    assert [(r["sku"], r["title"], r["location"], r["available_quantity"],
             r["low_stock_threshold"], r["status"]) for r in low["items"]] == [
        ("NW-PRK-GLB-S", "Summit Down Parka - Glacier Blue / S", "WAREHOUSE_MAIN", 1, 2,
         "low_stock")]
    assert LEVEL_FIELDS <= set(low["items"][0]) and low["total"] == 1
    # `/merchant/inventory/summary` → { IN_STOCK, LOW_STOCK, OUT_OF_STOCK, total }: a
    # store's member counts each status with the list's total; a platform admin reads
    # them in one request.
    totals = {status: ask(f"Merchant: how many rows are {status}", "get",
                          f"{INV}?status={status}&limit=1", brief=True,
                          seed_says="GET /merchant/inventory/summary")["total"]
              for status in ("in_stock", "low_stock", "out_of_stock")}
    assert totals == {"in_stock": 3, "low_stock": 1, "out_of_stock": 1}
    summary = ask("Platform admin: the counts by status", "get",
                  f"/api/v1/admin/inventory/stats?store_id={northwind.store.id}",
                  client=northwind.admin, seed_says="GET /merchant/inventory/summary")
    assert (summary["in_stock"], summary["low_stock"], summary["out_of_stock"],
            summary["total_entries"]) == (3, 1, 1, 5)

    # POST /merchant/inventory/:id/adjust { delta: 24, reason: "Received PO #1182" }.
    row = entries["NW-PRK-BLK-S@WAREHOUSE_MAIN"]
    adjusted = ask("Adjust on hand by a signed delta", "post", f"{INV}/adjust",
                   {"entry_id": row, "quantity": 24, "reason": "Received PO #1182"},
                   seed_says='POST /merchant/inventory/:id/adjust {delta: 24, reason: '
                             '"Received PO #1182"}')
    assert (adjusted["entries"][0]["quantity"], adjusted["entries"][0]["available_quantity"]
            ) == (28, 28)
    # "adjust rejects a delta that would push available negative"; "reason is required".
    short = ask("Adjust below what is available is refused", "post", f"{INV}/adjust",
                {"entry_id": row, "quantity": -29, "reason": "Shrinkage"}, status=409,
                seed_says="adjust rejects a delta that would push available negative")
    assert short["error"]["message"] == ("Insufficient stock available. Available: 28, "
                                         "Requested: 29")
    no_reason = ask("Adjust without a reason is refused", "post", f"{INV}/adjust",
                    {"entry_id": row, "quantity": -1}, status=422,
                    seed_says="reason is required on adjust (1–200 chars)")
    assert "reason" in no_reason["error"]["fields"]

    # reserve { quantity: 2, reason: "manual hold" }: Stockroom holds for an order, so the
    # hold names one (SPEC: reserve takes an order/line reference).
    held = ask("Hold units (available → reserved)", "post", f"{INV}/reserve",
               {"entry_id": row, "quantity": 2, "order_ref": "MANUAL-HOLD",
                "reason": "manual hold"},
               seed_says='POST /merchant/inventory/:id/reserve {quantity: 2, reason: '
                         '"manual hold"}')
    assert (held["entries"][0]["reserved_quantity"], held["entries"][0]["available_quantity"]
            ) == (2, 26)
    ask("A hold beyond what is available is refused", "post", f"{INV}/reserve",
        {"entry_id": row, "quantity": 27, "order_ref": "MANUAL-HOLD"}, status=409,
        seed_says="reserve rejects if quantity > available")
    # release { quantity: 2 }; "Rejects if quantity > reserved".
    over = ask("Releasing more than is reserved is refused", "post", f"{INV}/release",
               {"entry_id": row, "quantity": 4}, status=409,
               seed_says="release rejects if quantity > reserved")
    assert over["error"]["message"] == "Cannot release 4: only 2 reserved"
    released = ask("Release a hold (reserved → available)", "post", f"{INV}/release",
                   {"entry_id": row, "quantity": 2},
                   seed_says="POST /merchant/inventory/:id/release {quantity: 2}")
    assert (released["entries"][0]["reserved_quantity"],
            released["entries"][0]["available_quantity"]) == (0, 28)

    # threshold { lowStockThreshold: 5 }: "Recomputes stockStatus immediately".
    blk_m = entries["NW-PRK-BLK-M@STORE_FRONT"]
    ask("Set the low-stock threshold", "put", f"{INV}/{blk_m}", {"low_stock_threshold": 5},
        seed_says="POST /merchant/inventory/:id/threshold {lowStockThreshold: 5}")
    assert ask("The row's status after the threshold", "get", f"{INV}/{blk_m}",
               seed_says="recomputes stockStatus immediately")["status"] == (
        "low_stock")
    assert ask("Threshold 0 turns it off", "put", f"{INV}/{blk_m}",
               {"low_stock_threshold": 0}, seed_says="0 disables it")["operation"] == (
        "threshold")
    assert ask("The row's status with no threshold", "get", f"{INV}/{blk_m}")["status"] == (
        "in_stock")

    # "Mutations require inventory:adjust; … Staff needs that group": per operation in
    # Stockroom (SPEC: adjust needs inventory:adjust, reserve and release inventory:reserve).
    refused = ask("Staff without the group are refused", "post", f"{INV}/adjust",
                  {"entry_id": row, "quantity": 1, "reason": "Found"}, status=403,
                  client=northwind.clerk, seed_says="mutations require inventory:adjust")
    assert "inventory:adjust" in refused["error"]["message"]
    ask("Staff with the group may", "post", f"{INV}/adjust",
        {"entry_id": row, "quantity": 1, "reason": "Found"}, client=northwind.stockist,
        seed_says="Staff needs that group")


# --------------------------------------------------------------------------- the document


def trimmed(value: Any) -> Any:
    """An answer short enough to read: long lists cut to their first two items."""
    if isinstance(value, list):
        kept = [trimmed(v) for v in value[:2]]
        return kept + [f"… {len(value) - 2} more"] if len(value) > 2 else kept
    if isinstance(value, dict):
        return {k: trimmed(v) for k, v in value.items()}
    return value


def compact(value: Any, level: int = 0, width: int = 96) -> str:
    """JSON with what fits on a line kept on one."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + 2 * level <= width or not isinstance(value, dict | list):
        return flat
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        inner = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {compact(v, level + 1, width)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(inner) + "\n" + "  " * level + "}"
    inner = [pad + compact(v, level + 1, width) for v in value]
    return "[\n" + ",\n".join(inner) + "\n" + "  " * level + "]"


def markdown(exchanges: list[Exchange]) -> str:
    """The exchanges by seed: each example's request as sent, its status and its answer
    (trimmed); the steps that set the scene one line each."""
    blocks = ["# The seeds' variant-level and channel examples through Stockroom's API"]
    for seed in sorted({e.seed for e in exchanges}):
        blocks.append(f"## Seed {seed}")
        steps: list[str] = []
        for e in (x for x in exchanges if x.seed == seed):
            sent = f" `{compact(e.body, width=10**6)}`" if e.body is not None else ""
            if e.brief:
                total = (f" (total {e.answer['total']})"
                         if isinstance(e.answer, dict) and "total" in e.answer else "")
                steps.append(f"- {e.example}: `{e.method} {e.url}`{sent} → {e.status}{total}")
                continue
            if steps:
                blocks.append("\n".join(steps))
                steps = []
            blocks.append(f"### {e.example}")
            if e.seed_says:
                blocks.append(f"Seed: {e.seed_says}")
            blocks.append(f"`{e.method} {e.url}` → **{e.status}**")
            if e.body is not None:
                blocks.append(f"```json\n{compact(e.body)}\n```")
            blocks.append(f"```json\n{compact(trimmed(e.answer))}\n```")
        if steps:
            blocks.append("\n".join(steps))
    return "\n\n".join(blocks) + "\n"
