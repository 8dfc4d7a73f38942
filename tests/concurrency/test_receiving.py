"""Receiving races: 16 people receiving one purchase order line at once receive exactly what
was ordered, never more unless they confirm it, and never lose a unit; receipts racing
cancellations, other orders and other stock changes on the same entries keep incoming,
on hand and the average cost exact.

Each race also runs against `naive_receive`, a read-modify-write kept here on purpose, and
must fail there: a race test that cannot fail proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from oracle import assert_invariants, committed, invariant_violations, ledger_rows
from sqlalchemy import insert, select, update

from app.clock import utcnow
from app.extensions import db
from app.models import InventoryEntry, PurchaseOrder, PurchaseOrderLine, StockMovement
from app.permissions import Actor, system_actor
from app.services import purchasing, stock
from app.services.errors import Conflict, InsufficientStock, OverReceipt

from .harness import Outcomes, hammer, summary

THREADS = 16
ROUNDS = 25
RACES = [
    pytest.param(1, 100, id="1-of-100"),
    pytest.param(3, 101, id="3-of-101"),
    pytest.param(7, 101, id="7-of-101"),
]
entries = InventoryEntry.__table__
lines = PurchaseOrderLine.__table__
orders = PurchaseOrder.__table__
movements = StockMovement.__table__


def ordered_line(factories: Any, quantity: int, *, cost: str = "2.00") -> tuple[Any, Any]:
    """An order placed for `quantity` of a new product at a new location: (order, line)."""
    owner = system_actor("buyer")
    store = factories.store()
    location = factories.location(store)
    product = factories.product(store)
    supplier = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": product.id, "location_id": location.id, "quantity": quantity,
                "unit_cost": cost}])
    order = purchasing.order_purchase_order(actor=owner, order_id=order.id)
    return order, order.lines[0]


def naive_receive(*, actor: Actor, order_id: int, lines: list[dict[str, Any]],
                  **_: Any) -> stock.StockChange:
    """The bug this battery exists to catch: read the line and the entry, check in Python,
    write absolute values. A plain transaction (a deferred BEGIN on SQLite, READ COMMITTED
    on PostgreSQL), no locks; otherwise it writes what the service writes."""
    session = db.session
    try:
        (wanted,) = lines
        line = session.execute(select(lines_table).where(
            lines_table.c.id == wanted["line_id"])).one()
        quantity = wanted["quantity"]
        if line.received_qty + quantity > line.ordered_qty:
            raise OverReceipt("PO", [{"field": "lines[0].quantity", "label": "line",
                                      "quantity": quantity, "ordered": line.ordered_qty,
                                      "received": line.received_qty, "over": 1}])
        entry = session.execute(select(entries).where(
            entries.c.product_id == line.product_id,
            entries.c.location_id == line.location_id)).one()
        time.sleep(0.001)  # the gap every real request has between its read and its write
        now = utcnow()
        received = line.received_qty + quantity
        session.execute(update(lines_table).where(lines_table.c.id == line.id)
                        .values(received_qty=received))
        session.execute(update(entries).where(entries.c.id == entry.id).values(
            quantity=entry.quantity + quantity,
            incoming_quantity=max(line.ordered_qty - received, 0),
            version=entry.version + 1, updated_at=now))
        session.execute(update(orders).where(orders.c.id == order_id).values(
            status="received" if received >= line.ordered_qty else "partially_received",
            closed_at=now if received >= line.ordered_qty else None))
        movement = session.execute(insert(movements).values(
            store_id=entry.store_id, entry_id=entry.id, product_id=entry.product_id,
            location_id=entry.location_id, type="received", quantity_delta=quantity,
            reserved_delta=0, quantity_after=entry.quantity + quantity,
            reserved_after=entry.reserved_quantity, unit_cost=line.unit_cost,
            purchase_order_line_id=line.id, actor_name=actor.name, created_at=now,
        ).returning(movements.c.id)).scalar_one()
        session.commit()
        return stock.StockChange("receive", movement_ids=(movement,))
    except BaseException:
        session.rollback()
        raise


lines_table = lines


def real_receive(**kwargs: Any) -> stock.StockChange:
    return purchasing.receive_purchase_order(**kwargs)


def refused_cleanly(error: Exception) -> bool:
    """An over-receipt refused, or an order already received in full."""
    return isinstance(error, OverReceipt) or (
        type(error) is Conflict and "only an ordered purchase order is received" in str(error))


def run_receiving_race(
    app: Flask, order: Any, line: Any, quantity: int, ordered: int,
    receive: Callable[..., stock.StockChange],
) -> tuple[list[str], Outcomes]:
    """16 × 25 receipts of `quantity` of one line at once; every way the outcome misses the
    pass criteria, and the outcomes themselves."""
    before = ledger_rows()
    actors = [system_actor(f"dock-{t}") for t in range(THREADS)]

    def call(thread: int, n: int) -> stock.StockChange:
        return receive(actor=actors[thread], order_id=order.id,
                       lines=[{"line_id": line.id, "quantity": quantity}])

    outcomes = hammer(app, THREADS, ROUNDS, call)
    granted = len(outcomes.results)
    expected = ordered // quantity
    problems = []
    if granted != expected:
        problems.append(f"{granted} receipts taken, expected exactly {expected}")
    others = [e for _, _, e in outcomes.errors if not refused_cleanly(e)]
    if others:
        problems.append(f"{len(others)} errors other than a refusal, e.g. {others[0]!r}")
    (stored,) = committed(select(lines_table).where(lines_table.c.id == line.id))
    (entry,) = committed(select(entries).where(entries.c.product_id == line.product_id))
    if stored.received_qty != expected * quantity:
        problems.append(f"the line received {stored.received_qty}, expected "
                        f"{expected * quantity}")
    if entry.quantity != stored.received_qty:
        problems.append(f"on hand is {entry.quantity} for {stored.received_qty} received: "
                        "units lost or invented")
    if entry.incoming_quantity != ordered - expected * quantity:
        problems.append(f"incoming is {entry.incoming_quantity}, expected "
                        f"{ordered - expected * quantity}")
    if ledger_rows() - before != granted:
        problems.append(f"{ledger_rows() - before} ledger rows for {granted} receipts")
    problems.extend(invariant_violations())
    return problems, outcomes


@pytest.mark.parametrize(("quantity", "ordered"), RACES)
def test_concurrent_receipts_of_one_line_take_exactly_what_was_ordered(
    app, factories, quantity, ordered
):
    order, line = ordered_line(factories, ordered)

    problems, outcomes = run_receiving_race(app, order, line, quantity, ordered, real_receive)

    assert problems == [], summary(outcomes)
    assert len(outcomes.errors) == THREADS * ROUNDS - ordered // quantity
    status = committed(select(orders.c.status).where(orders.c.id == order.id))[0][0]
    assert status == ("received" if ordered % quantity == 0 else "partially_received")
    assert_invariants()


def test_the_receiving_race_catches_a_naive_read_modify_write(app, factories, backend):
    order, line = ordered_line(factories, 100)

    problems, outcomes = run_receiving_race(app, order, line, 1, 100, naive_receive)

    print(f"\nnaive receive 1 of 100 on {backend}: {summary(outcomes)}; "
          f"{len(problems)} problem(s): {problems[:3]}")
    assert problems, "a naive read-modify-write passed the race: the test cannot fail"


def test_confirmed_over_receipts_racing_unconfirmed_ones_lose_no_unit(app, factories):
    """Half the docks confirm whatever they receive, half do not: the unconfirmed never
    take the line past what was ordered plus what others confirmed, and every unit taken
    is on hand, on the line and in the ledger."""
    order, line = ordered_line(factories, 60)
    actors = [system_actor(f"dock-{t}") for t in range(THREADS)]

    def call(thread: int, n: int) -> stock.StockChange:
        return purchasing.receive_purchase_order(
            actor=actors[thread], order_id=order.id, confirm_over=thread % 2 == 0,
            lines=[{"line_id": line.id, "quantity": 2}])

    outcomes = hammer(app, THREADS, 10, call)

    assert all(refused_cleanly(e) for _, _, e in outcomes.errors), summary(outcomes)
    taken = 2 * len(outcomes.results)
    (stored,) = committed(select(lines_table).where(lines_table.c.id == line.id))
    (entry,) = committed(select(entries).where(entries.c.product_id == line.product_id))
    assert (stored.received_qty, entry.quantity) == (taken, taken)
    # The confirmed docks alone bring 160: the line filled, and everything past 60 is
    # covered by a confirmation.
    assert taken >= 60 and stored.over_received_qty == taken - 60
    # An unconfirmed dock is refused as an over-receipt; a confirmed one only once the
    # order is closed as received.
    for thread, _, error in outcomes.errors:
        if thread % 2 == 0:
            assert type(error) is Conflict, error
    assert_invariants()


def test_receipts_racing_cancellations_other_orders_and_stock_changes_keep_incoming_exact(
    app, factories
):
    """Two products at two locations; each round a thread places an order for all four
    pairs, receives part of another, cancels a third, or moves and adjusts the stock there.
    Whatever interleaving comes, incoming equals what open orders still bring, on hand and
    the average cost replay from the ledger, and nothing deadlocks."""
    owner = system_actor("buyer")
    store = factories.store()
    places = [factories.location(store) for _ in range(2)]
    goods = [factories.product(store) for _ in range(2)]
    supplier = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    for product in goods:
        for place in places:
            stock.create_entry(actor=owner, product_id=product.id, location_id=place.id,
                               quantity=20)
    pairs = [(p.id, loc.id) for p in goods for loc in places]

    def place_order(n: int) -> Any:
        order = purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": p, "location_id": loc, "quantity": 5 + n % 3,
                    "unit_cost": f"{1 + (n % 4)}.25"} for p, loc in pairs])
        return purchasing.order_purchase_order(actor=owner, order_id=order.id)

    # Open orders to receive from and cancel, made before the storm.
    stocked = [place_order(n) for n in range(THREADS)]

    def call(thread: int, n: int) -> Any:
        actor = system_actor(f"worker-{thread}")
        kind = (thread + n) % 4
        target = stocked[(thread * 7 + n) % len(stocked)]
        if kind == 0:
            return place_order(thread + n)
        if kind == 1:
            picked = target.lines if (thread + n) % 2 else list(reversed(target.lines))
            return purchasing.receive_purchase_order(
                actor=actor, order_id=target.id, confirm_over=n % 5 == 0,
                lines=[{"line_id": x.id, "quantity": 1 + n % 2} for x in picked[:3]])
        if kind == 2 and n % 3 == 0:
            return purchasing.cancel_purchase_order(actor=actor, order_id=target.id)
        product = goods[n % 2]
        there, back = (places[0], places[1]) if thread % 2 else (places[1], places[0])
        if kind == 2:
            return stock.transfer_stock(actor=actor, product_id=product.id,
                                        from_location_id=there.id, to_location_id=back.id,
                                        quantity=1)
        entry_id = committed(select(entries.c.id).where(
            entries.c.product_id == product.id, entries.c.location_id == there.id))[0][0]
        return stock.adjust_stock(actor=actor, entry_id=entry_id, delta=-1 if n % 2 else 1,
                                  reason="storm")

    outcomes = hammer(app, THREADS, 12, call)

    unexpected = [e for _, _, e in outcomes.errors
                  if not (refused_cleanly(e) or isinstance(e, InsufficientStock)
                          or (type(e) is Conflict and "nothing left to cancel" in str(e)))]
    assert unexpected == [], summary(outcomes)
    assert len(outcomes.results) > THREADS * 12 // 2, summary(outcomes)
    assert_invariants()
