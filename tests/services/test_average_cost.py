"""The moving average cost, against a table worked out by hand: receipts average their cost
in, everything else keeps it, transfers bring the source's, and every ledger row carries
the cost in effect. Costs are stored × 10,000 (2.00 is 20000)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from oracle import assert_invariants
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry
from app.services import purchasing, stock
from app.services.errors import ValidationError
from app.services.stock.receipts import moving_average

entries = InventoryEntry.__table__


@pytest.fixture
def buy(store, owner):
    """buy(product, location, quantity, cost): an order of one line, placed and received."""
    supplier = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")

    def receive(product, location, quantity: int, cost: str) -> stock.StockChange:
        order = purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": product.id, "location_id": location.id,
                    "quantity": quantity, "unit_cost": cost}])
        purchasing.order_purchase_order(actor=owner, order_id=order.id)
        return purchasing.receive_purchase_order(
            actor=owner, order_id=order.id,
            lines=[{"line_id": order.lines[0].id, "quantity": quantity}])

    return receive


def average(entry_id: int) -> int | None:
    value = db.session.scalar(select(entries.c.average_cost).where(entries.c.id == entry_id))
    db.session.rollback()
    return value


@pytest.mark.parametrize(("on_hand", "avg", "quantity", "cost", "expected"), [
    (0, None, 10, 20_000, 20_000),        # nothing there: the receipt sets it
    (5, None, 10, 20_000, 20_000),        # units of unknown cost: the receipt sets it
    (10, 20_000, 5, 30_000, 23_333),      # 350,000 / 15 = 23,333.3…
    (1, 1, 1, 2, 2),                      # 3 / 2 = 1.5: half up
    (2, 1, 1, 1, 1),                      # the same cost leaves it exactly
    (3, 10, 0, 99, 10),                   # nothing added
    (3, 10, 4, None, 10),                 # units of unknown cost keep it
    (999_999_999, 10**13, 1, 0, 9_999_999_990_000),  # exact at the limits
])
def test_the_moving_average_by_its_formula(on_hand, avg, quantity, cost, expected):
    assert moving_average(on_hand, avg, quantity, cost) == expected


def test_the_average_follows_receipts_and_holds_through_everything_else(
    store, location, make_product, owner, buy, ledger
):
    """ step                        on hand  average (× 10,000)
        receive 10 at 2.00              10   20000
        receive 5 at 3.00               15   (10×20000 + 5×30000) / 15 = 23333.3 → 23333
        adjust −3 (damaged)             12   23333 kept
        reserve 2, fulfill 2            10   23333 kept
        receive 8 at 1.2345             18   (10×23333 + 8×12345) / 18 = 18449.4 → 18449
        count 18 → 20                   20   18449 kept
        return 1                        21   18449 kept
        count to 0                       0   18449 kept (nothing left to value)
        receive 4 at 5.00                4   50000: on hand was 0, so the receipt sets it
    """
    product = make_product(store, "KET-1")
    entry_id = buy(product, location, 10, "2.00").entry.id
    expected = [20_000]
    buy(product, location, 5, "3.00")
    expected.append(23_333)
    stock.adjust_stock(actor=owner, entry_id=entry_id, delta=-3, reason="Damaged")
    expected.append(23_333)
    hold = stock.reserve_stock(actor=owner, entry_id=entry_id, quantity=2, order_ref="S-1")
    stock.fulfill_stock(actor=owner, reservation_id=hold.reservation_ids[0])
    expected += [23_333, 23_333]
    buy(product, location, 8, "1.2345")
    expected.append(18_449)
    stock.count_stock(actor=owner, entry_id=entry_id, counted_quantity=20)
    expected.append(18_449)
    stock.return_stock(actor=owner, entry_id=entry_id, quantity=1, reason="Came back")
    expected.append(18_449)
    stock.count_stock(actor=owner, entry_id=entry_id, counted_quantity=0)
    expected.append(18_449)
    last = buy(product, location, 4, "5.00")
    expected.append(50_000)

    assert last.entry.average_cost == average(entry_id) == 50_000
    rows = ledger(entry_id)
    assert [r["type"] for r in rows] == [
        "received", "received", "adjustment", "reserved", "fulfilled", "received", "count",
        "returned", "count", "received"]
    # Each row carries the cost in effect: a receipt its own, any other the average.
    assert [r["unit_cost"] for r in rows] == [
        20_000, 30_000, 23_333, 23_333, 23_333, 12_345, 18_449, 18_449, 18_449, 50_000]
    assert_invariants()


def test_a_transfer_brings_the_sources_average(store, location, make_location, make_product,
                                               owner, buy, ledger):
    """ A: 10 at 2.00; B: 10 at 4.00.
        move 5 A → B        B: (10×40000 + 5×20000) / 15 = 33333.3 → 33333; A keeps 20000
        move 3 A → C (new)  C: 20000, A's
        move 2 D → B        D's cost unknown: B keeps 33333
    """
    product = make_product(store, "KET-1")
    shelf, spare = make_location(store, "b"), make_location(store, "c")
    a = buy(product, location, 10, "2.00").entry.id
    b = buy(product, shelf, 10, "4.00").entry.id

    moved = stock.transfer_stock(actor=owner, product_id=product.id,
                                 from_location_id=location.id, to_location_id=shelf.id,
                                 quantity=5)
    assert [(e.id, e.average_cost) for e in moved.entries] == [(a, 20_000), (b, 33_333)]
    stock.transfer_stock(actor=owner, product_id=product.id, from_location_id=location.id,
                         to_location_id=spare.id, quantity=3)
    c = db.session.scalar(select(entries.c.id).where(entries.c.location_id == spare.id))
    db.session.rollback()
    assert (average(a), average(c)) == (20_000, 20_000)

    loose = make_location(store, "d")
    stock.create_entry(actor=owner, product_id=product.id, location_id=loose.id, quantity=4)
    stock.transfer_stock(actor=owner, product_id=product.id, from_location_id=loose.id,
                         to_location_id=shelf.id, quantity=2)
    assert average(b) == 33_333
    assert [r["unit_cost"] for r in ledger(b)] == [40_000, 20_000, 33_333]
    assert_invariants()


def test_opening_stock_and_imports_of_unknown_cost_leave_it_unknown(
    store, location, make_product, owner, ledger
):
    product = make_product(store, "KET-1")
    change = stock.create_entry(actor=owner, product_id=product.id, location_id=location.id,
                                quantity=5)
    assert change.entry.average_cost is None
    stock.adjust_stock(actor=owner, entry_id=change.entry.id, delta=2, reason="Found")
    assert [r["unit_cost"] for r in ledger(change.entry.id)] == [None, None]
    assert_invariants()


def test_the_views_show_costs_as_amounts(store, location, make_product, owner, buy):
    product = make_product(store, "KET-1")
    buy(product, location, 3, "0.0125")
    [order] = purchasing.list_purchase_orders(owner, store.id)
    assert (order.total, order.status) == (Decimal("0.0375"), "received")


def test_an_opening_unit_cost_starts_the_average_and_the_first_receipt_averages_in(
    store, location, make_product, owner, buy, ledger
):
    """ opening stock 6 at 1.50      average 15000, carried by the opening row
        receive 4 at 2.00             (6×15000 + 4×20000) / 10 = 17000
    """
    product = make_product(store, "KET-1")
    change = stock.create_entry(actor=owner, product_id=product.id, location_id=location.id,
                                quantity=6, unit_cost="1.50")
    assert change.entry.average_cost == average(change.entry.id) == 15_000
    buy(product, location, 4, "2.00")
    assert average(change.entry.id) == 17_000
    rows = ledger(change.entry.id)
    assert [(r["type"], r["reason"], r["unit_cost"]) for r in rows] == [
        ("received", "Opening stock", 15_000), ("received", None, 20_000)]
    assert_invariants()


@pytest.mark.parametrize(("quantity", "cost", "message"), [
    (0, "1.50", "A unit cost goes with opening stock: enter a quantity too, or leave the "
                "cost for the first receipt."),
    (3, "-1", "Enter an amount, like 12.50."),
    (3, "1.23456", "Use at most 4 decimals."),
    (3, "abc", "Enter an amount, like 12.50."),
    (3, 1.5, "Enter an amount, like 12.50."),  # a float: never exact
])
def test_a_bad_opening_unit_cost_is_refused_naming_it(
    store, location, make_product, owner, refused, quantity, cost, message
):
    product = make_product(store, "KET-1")
    with refused(ValidationError, fields={"unit_cost": message}):
        stock.create_entry(actor=owner, product_id=product.id, location_id=location.id,
                           quantity=quantity, unit_cost=cost)
