"""Purchase orders from draft to received: numbering, lines, ordering, receiving, cancelling,
and the incoming quantity derived from them after every step."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from oracle import assert_invariants
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import AuditEvent, InventoryEntry, PurchaseOrderLine
from app.services import bundles, purchasing, stock
from app.services.errors import (
    Conflict,
    EntryHasIncoming,
    LocationAwaitsStock,
    NotFound,
    StalePurchaseOrder,
    ValidationError,
)
from app.services.ledger import verify_ledger
from app.services.locations import archive_location

entries = InventoryEntry.__table__


@pytest.fixture
def supplier(store, owner):
    return purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme Supply",
                                      lead_time_days=7)


@pytest.fixture
def kettle(store, make_product):
    return make_product(store, "KET-1", title="Kettle")


@pytest.fixture
def back(store, make_location):
    return make_location(store, "back")


def incoming(product_id: int, location_id: int) -> int | None:
    """The entry's incoming as committed; None when there is no entry."""
    value = db.session.scalar(
        select(entries.c.incoming_quantity).where(entries.c.product_id == product_id,
                                                  entries.c.location_id == location_id)
    )
    db.session.rollback()
    return value


def on_hand(product_id: int, location_id: int) -> int:
    value = db.session.scalar(
        select(entries.c.quantity).where(entries.c.product_id == product_id,
                                         entries.c.location_id == location_id)
    )
    db.session.rollback()
    return int(value)


def events(**where):
    rows = db.session.execute(
        select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)
    ).scalars().all()
    db.session.rollback()
    return rows


def test_an_order_goes_from_draft_to_received_and_incoming_follows_every_step(
    store, location, back, supplier, kettle, make_product, owner, ledger
):
    mug = make_product(store, "MUG-1", title="Mug")
    stock.create_entry(actor=owner, product_id=mug.id, location_id=location.id, quantity=3)

    draft = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id, expected_on=date(2030, 9, 1), notes="Dock 2",
        lines=[{"product_id": kettle.id, "location_id": back.id, "quantity": 10,
                "unit_cost": "4.50"},
               {"product_id": mug.id, "location_id": location.id, "quantity": 6,
                "unit_cost": 2}],
    )
    assert (draft.number, draft.status, draft.currency, draft.version) == (
        "PO-0001", "draft", "USD", 1)
    assert [(x.sku, x.location_code, x.ordered_qty, x.unit_cost) for x in draft.lines] == [
        ("KET-1", "BACK", 10, Decimal("4.5")), ("MUG-1", "MAIN", 6, Decimal("2"))]
    assert draft.total == Decimal("57")
    # A draft brings nothing yet: no incoming, and no entry made for the kettle.
    assert (incoming(kettle.id, back.id), incoming(mug.id, location.id)) == (None, 0)

    ordered = purchasing.order_purchase_order(actor=owner, order_id=draft.id,
                                              expected_version=1)
    assert (ordered.status, ordered.ordered_by_name, ordered.version) == (
        "ordered", owner.name, 2)
    # The kettle's entry now exists, empty, awaiting what is on its way.
    assert (incoming(kettle.id, back.id), on_hand(kettle.id, back.id)) == (10, 0)
    assert incoming(mug.id, location.id) == 6

    kettle_line = next(x for x in ordered.lines if x.sku == "KET-1")
    first = purchasing.receive_purchase_order(
        actor=owner, order_id=draft.id, lines=[{"line_id": kettle_line.id, "quantity": 4}])
    assert first.details["status"] == "partially_received"
    assert (incoming(kettle.id, back.id), on_hand(kettle.id, back.id)) == (6, 4)
    [row] = ledger(first.entry.id)
    assert (row["type"], row["quantity_delta"], row["quantity_after"], row["reference"],
            row["purchase_order_line_id"], row["unit_cost"], row["actor_id"]) == (
        "received", 4, 4, "PO-0001", kettle_line.id, 45_000, owner.user_id)
    assert purchasing.get_purchase_order(owner, draft.id).status == "partially_received"

    last = purchasing.receive_purchase_order(
        actor=owner, order_id=draft.id,
        lines=[{"line_id": kettle_line.id, "quantity": 6},
               {"product_id": mug.id, "location_id": location.id, "quantity": 6}])
    assert last.details["status"] == "received"
    # Both rows of the receipt share one batch.
    assert len({r["batch_ref"] for e in last.entries for r in ledger(e.id)[-1:]}) == 1
    assert (incoming(kettle.id, back.id), on_hand(kettle.id, back.id)) == (0, 10)
    assert (incoming(mug.id, location.id), on_hand(mug.id, location.id)) == (0, 9)
    done = purchasing.get_purchase_order(owner, draft.id)
    assert (done.status, done.closed_by_name, done.outstanding_qty) == (
        "received", owner.name, 0)
    assert [x.received_qty for x in done.lines] == [10, 6]
    assert [e.action for e in events(object_type="purchase_order", object_id=draft.id)] == [
        "purchase_order.created", "purchase_order.ordered", "purchase_order.received",
        "purchase_order.received"]
    assert_invariants()


def test_orders_are_numbered_per_store(store, supplier, owner, make_store, member):
    other = make_store()
    boss = member(other, "owner")
    theirs = purchasing.create_supplier(actor=boss, store_id=other.id, name="Acme Supply")

    numbers = [purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id).number
               for _ in range(3)]
    assert numbers == ["PO-0001", "PO-0002", "PO-0003"]
    assert purchasing.create_purchase_order(actor=boss, supplier_id=theirs.id).number == (
        "PO-0001")
    found = purchasing.find_purchase_order(owner, store.id, " po-0002 ")
    assert found.number == "PO-0002"
    listed = purchasing.list_purchase_orders(owner, store.id)
    assert [x.number for x in listed] == ["PO-0003", "PO-0002", "PO-0001"]


def test_a_line_without_a_cost_takes_the_suppliers(store, location, supplier, kettle, owner,
                                                   make_product, refused):
    purchasing.set_supplier_item(actor=owner, supplier_id=supplier.id, product_id=kettle.id,
                                 unit_cost="3.25")
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 2}])
    assert order.lines[0].unit_cost == Decimal("3.25")

    other = make_product(store, "OTHER-1")
    with refused(ValidationError, fields={
        "lines[0].unit_cost": "This supplier has no cost on record for the product: enter one."
    }):
        purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": other.id, "location_id": location.id, "quantity": 2}])


def test_bad_lines_are_refused_naming_each_field(store, location, supplier, kettle, owner,
                                                refused):
    with refused(ValidationError, fields={
        "lines[0].quantity": "Must be at least 1.",
        "lines[1].product_id": "Choose a product.",
        "lines[1].unit_cost": "Enter an amount, like 12.50.",
        "lines[2].location_id": "Choose a location.",
        "lines[2].unit_cost": "Use at most 4 decimals.",
        "lines[3]": "Each line needs product_id, location_id and quantity.",
        "lines[4].product_id": "Line 1 already orders this product to this location.",
        "expected_on": "Enter a date.",
        "exchange_rate": "Enter a rate, like 1.0825.",
    }):
        purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id, expected_on="2030-09-01",
            exchange_rate=1.1,
            lines=[
                {"product_id": kettle.id, "location_id": location.id, "quantity": 0,
                 "unit_cost": 1},
                {"product_id": "7", "location_id": location.id, "quantity": 1,
                 "unit_cost": 1.5},
                {"product_id": kettle.id, "location_id": None, "quantity": 1,
                 "unit_cost": "0.00001"},
                "KET-1 x 3",
                {"product_id": kettle.id, "location_id": location.id, "quantity": 1,
                 "unit_cost": 1},
            ])


def test_lines_to_foreign_or_stockless_products_and_places_are_refused(
    store, location, supplier, kettle, owner, make_product, make_store, make_location,
    refused, admin_actor,
):
    foreign = make_location(make_store())
    with refused(NotFound, fields={"lines[0].location_id": "No such location in this store."}):
        purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": kettle.id, "location_id": foreign.id, "quantity": 1,
                    "unit_cost": 1}])
    ebook = make_product(store, "EBOOK", type="digital")
    with refused(Conflict, "EBOOK is a digital product: its stock is unlimited and is never "
                           "bought in."):
        purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": ebook.id, "location_id": location.id, "quantity": 1,
                    "unit_cost": 1}])
    kit = make_product(store, "KIT")
    bundles.set_components(actor=admin_actor, bundle_id=kit.id, parts=[(kettle.id, 2)])
    with refused(Conflict, "KIT is a bundle: it holds no stock of its own. Buy its components "
                           "instead."):
        purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id,
            lines=[{"product_id": kit.id, "location_id": location.id, "quantity": 1,
                    "unit_cost": 1}])


def test_lines_change_only_while_the_order_is_a_draft(
    store, location, back, supplier, kettle, make_product, owner, refused
):
    mug = make_product(store, "MUG-1")
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 5,
                "unit_cost": "1.10"}])
    order = purchasing.add_purchase_order_lines(
        actor=owner, order_id=order.id, expected_version=1,
        lines=[{"product_id": mug.id, "location_id": back.id, "quantity": 2, "unit_cost": 3}])
    assert [x.sku for x in order.lines] == ["KET-1", "MUG-1"]
    with refused(ValidationError, fields={
        "lines[0].product_id": "PO-0001 already orders this product to this location: "
                               "change that line instead."
    }):
        purchasing.add_purchase_order_lines(
            actor=owner, order_id=order.id,
            lines=[{"product_id": mug.id, "location_id": back.id, "quantity": 1,
                    "unit_cost": 3}])
    kettle_line, mug_line = order.lines
    order = purchasing.update_purchase_order_line(actor=owner, line_id=kettle_line.id,
                                                  quantity=8, unit_cost="1.05")
    assert (order.lines[0].ordered_qty, order.lines[0].unit_cost, order.version) == (
        8, Decimal("1.05"), 3)
    with refused(StalePurchaseOrder, "PO-0001 changed since you loaded it. Check it as it "
                                     "stands now and try again."):
        purchasing.remove_purchase_order_line(actor=owner, line_id=mug_line.id,
                                              expected_version=2)
    order = purchasing.remove_purchase_order_line(actor=owner, line_id=mug_line.id,
                                                  expected_version=3)
    assert [x.sku for x in order.lines] == ["KET-1"]
    assert [e.action for e in events(object_type="purchase_order")] == [
        "purchase_order.created", "purchase_order.lines_added", "purchase_order.line_changed",
        "purchase_order.line_removed"]

    purchasing.order_purchase_order(actor=owner, order_id=order.id)
    with refused(Conflict, "PO-0001 is ordered: only a draft can change its lines."):
        purchasing.update_purchase_order_line(actor=owner, line_id=kettle_line.id,
                                              quantity=9, unit_cost=1)
    # The expected date and the notes still change: a supplier says it will be late.
    later = purchasing.update_purchase_order(actor=owner, order_id=order.id,
                                             expected_on=date(2030, 10, 1), notes="Late")
    assert (later.expected_on, later.notes) == (date(2030, 10, 1), "Late")


def test_ordering_is_refused_when_nothing_could_arrive(
    store, location, supplier, kettle, owner, refused, make_location
):
    empty = purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id)
    with refused(Conflict, "PO-0001 has no lines: add what to order first."):
        purchasing.order_purchase_order(actor=owner, order_id=empty.id)

    closing = make_location(store, "closing")
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": closing.id, "quantity": 1,
                "unit_cost": 1}])
    archive_location(actor=owner, location_id=closing.id)
    with refused(Conflict, "Location CLOSING is archived: nothing can be ordered to it."):
        purchasing.order_purchase_order(actor=owner, order_id=order.id)

    purchasing.cancel_purchase_order(actor=owner, order_id=order.id)
    with refused(Conflict, "PO-0002 is cancelled: only a draft can be ordered."):
        purchasing.order_purchase_order(actor=owner, order_id=order.id)


def test_an_order_in_another_currency_needs_its_rate_before_ordering(
    store, location, kettle, owner, refused
):
    euro = purchasing.create_supplier(actor=owner, store_id=store.id, name="Euro GmbH",
                                      currency="eur")
    assert euro.currency == "EUR"
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=euro.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 3,
                "unit_cost": "10.00"}])
    assert (order.currency, order.exchange_rate) == ("EUR", None)
    with refused(Conflict, "PO-0001 is in EUR: give the exchange rate to USD before ordering, "
                           "so what it brings can be valued."):
        purchasing.order_purchase_order(actor=owner, order_id=order.id)

    order = purchasing.update_purchase_order(actor=owner, order_id=order.id,
                                             exchange_rate="1.1")
    assert order.exchange_rate == Decimal("1.1")
    purchasing.order_purchase_order(actor=owner, order_id=order.id)
    with refused(Conflict, "PO-0001 was placed at its rate: only a draft's rate can change."):
        purchasing.update_purchase_order(actor=owner, order_id=order.id, exchange_rate="1.2")
    # A later date from the supplier leaves the rate the order was placed at.
    later = purchasing.update_purchase_order(actor=owner, order_id=order.id,
                                             expected_on=date(2030, 12, 1))
    assert (later.expected_on, later.exchange_rate) == (date(2030, 12, 1), Decimal("1.1"))
    change = purchasing.receive_purchase_order(
        actor=owner, order_id=order.id, lines=[{"line_id": order.lines[0].id, "quantity": 3}])
    # 10.00 EUR at 1.1 is 11.00 USD, the cost the stock is valued at.
    assert change.entry.average_cost == 110_000

    usd = purchasing.create_supplier(actor=owner, store_id=store.id, name="Local")
    with refused(ValidationError, fields={
        "exchange_rate": "The order is in the store's currency (USD): it needs no rate."
    }):
        purchasing.create_purchase_order(actor=owner, supplier_id=usd.id, exchange_rate="1.3")


def test_cancelling_takes_what_is_still_awaited_out_of_incoming(
    store, location, supplier, kettle, owner, refused
):
    first = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 10,
                "unit_cost": 1}])
    second = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 4,
                "unit_cost": 1}])
    for order in (first, second):
        purchasing.order_purchase_order(actor=owner, order_id=order.id)
    assert incoming(kettle.id, location.id) == 14

    purchasing.receive_purchase_order(
        actor=owner, order_id=first.id, lines=[{"line_id": first.lines[0].id, "quantity": 3}])
    assert (incoming(kettle.id, location.id), on_hand(kettle.id, location.id)) == (11, 3)

    cancelled = purchasing.cancel_purchase_order(actor=owner, order_id=first.id,
                                                 reason="Supplier out of stock")
    assert (cancelled.status, cancelled.closed_by_name) == ("cancelled", owner.name)
    # What it delivered stays; the 7 it will never bring leave incoming; the other order's
    # 4 are still on their way.
    assert (incoming(kettle.id, location.id), on_hand(kettle.id, location.id)) == (4, 3)
    [event] = events(action="purchase_order.cancelled")
    assert event.changes == {"status": ["partially_received", "cancelled"],
                             "reason": [None, "Supplier out of stock"]}
    with refused(Conflict, "PO-0001 is cancelled: there is nothing left to cancel."):
        purchasing.cancel_purchase_order(actor=owner, order_id=first.id)
    with refused(Conflict, "PO-0001 is cancelled: only an ordered purchase order is received."):
        purchasing.receive_purchase_order(
            actor=owner, order_id=first.id, lines=[{"line_id": first.lines[0].id,
                                                    "quantity": 1}])

    purchasing.cancel_purchase_order(actor=owner, order_id=second.id)
    assert incoming(kettle.id, location.id) == 0
    draft = purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id)
    assert purchasing.cancel_purchase_order(actor=owner, order_id=draft.id).status == (
        "cancelled")
    assert_invariants()


def test_stock_on_its_way_keeps_its_entry_and_location(
    store, location, supplier, kettle, owner, refused
):
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 5,
                "unit_cost": 1}])
    purchasing.order_purchase_order(actor=owner, order_id=order.id)
    entry_id = db.session.scalar(select(entries.c.id).where(entries.c.product_id == kettle.id))
    db.session.rollback()

    with refused(EntryHasIncoming, "Entry has 5 units on open purchase orders; receive or "
                                   "cancel them first"):
        stock.delete_entry(actor=owner, entry_id=entry_id)
    with refused(LocationAwaitsStock, "MAIN awaits 5 units on open purchase orders; receive "
                                      "or cancel them first."):
        archive_location(actor=owner, location_id=location.id)

    purchasing.cancel_purchase_order(actor=owner, order_id=order.id)
    stock.delete_entry(actor=owner, entry_id=entry_id)
    archive_location(actor=owner, location_id=location.id)


def test_verify_names_incoming_that_no_open_order_explains(
    store, location, supplier, kettle, owner, corrupts_ledger
):
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 5,
                "unit_cost": 1}])
    purchasing.order_purchase_order(actor=owner, order_id=order.id)
    assert verify_ledger() == []
    db.session.execute(text("UPDATE inventory_entries SET incoming_quantity = 2"))
    db.session.execute(text("UPDATE purchase_order_lines SET ordered_qty = 9"))
    db.session.commit()

    entry_id = db.session.scalar(select(entries.c.id))
    assert [str(m) for m in verify_ledger()] == [
        f"entry {entry_id}: incoming is 2, open purchase orders say 9"]
    db.session.execute(text("DELETE FROM inventory_entries"))
    db.session.commit()
    assert [str(m) for m in verify_ledger()] == [
        f"incoming of product {kettle.id} at location {location.id} (no entry) is 0, open "
        "purchase orders say 9"]


def test_lines_never_hold_more_than_ordered_plus_confirmed(store, location, supplier, kettle,
                                                          owner):
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 5,
                "unit_cost": 1}])
    line_id = order.lines[0].id
    with pytest.raises(IntegrityError, match="received_within_ordered"):
        db.session.execute(
            text("UPDATE purchase_order_lines SET received_qty = 6 WHERE id = :id"),
            {"id": line_id})
        db.session.flush()
    db.session.rollback()
    stored = db.session.get(PurchaseOrderLine, line_id)
    assert (stored.received_qty, stored.over_received_qty) == (0, 0)
    db.session.rollback()


def test_an_order_keeps_where_it_is_to_arrive(
    store, location, back, supplier, owner, make_store, make_location, refused, admin_actor
):
    """Chosen when the draft is started, shown with the order; only one of the store's
    active locations, refused naming deliver_to_id otherwise."""
    order = purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id,
                                             deliver_to_id=back.id)
    assert (order.deliver_to_id, order.deliver_to_code) == (back.id, back.code)
    assert purchasing.get_purchase_order(owner, order.id).deliver_to_code == back.code
    assert purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id).deliver_to_id is None

    foreign = make_location(make_store())
    with refused(NotFound, fields={"deliver_to_id": "No such location."}):
        purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id,
                                         deliver_to_id=foreign.id)
    with refused(ValidationError, fields={"deliver_to_id": "Choose a location from the list."}):
        purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id,
                                         deliver_to_id="2")
    archive_location(actor=admin_actor, location_id=location.id)
    with refused(Conflict, fields={"deliver_to_id": f"{location.code} is archived."}):
        purchasing.create_purchase_order(actor=owner, supplier_id=supplier.id,
                                         deliver_to_id=location.id)
