"""Receiving against a purchase order: partial and complete receipts, over-receipts only
when confirmed, bad input named field by field, idempotent repeats, who may receive."""

from __future__ import annotations

import pytest
from oracle import assert_invariants
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry
from app.permissions import RECEIVE
from app.services import purchasing
from app.services.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    OverReceipt,
    PermissionDenied,
    StalePurchaseOrder,
    ValidationError,
)

entries = InventoryEntry.__table__


@pytest.fixture
def order(store, location, owner, make_product):
    """PO-0001, ordered: 10 kettles and 4 mugs to MAIN."""
    supplier = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    kettle, mug = make_product(store, "KET-1"), make_product(store, "MUG-1")
    draft = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 10,
                "unit_cost": "2.00"},
               {"product_id": mug.id, "location_id": location.id, "quantity": 4,
                "unit_cost": "1.00"}])
    return purchasing.order_purchase_order(actor=owner, order_id=draft.id)


def quantities(product_id: int) -> tuple[int, int]:
    row = db.session.execute(
        select(entries.c.quantity, entries.c.incoming_quantity)
        .where(entries.c.product_id == product_id)
    ).one()
    db.session.rollback()
    return tuple(row)  # type: ignore[return-value]


def test_more_than_a_line_awaits_is_refused_until_confirmed(order, owner, refused, ledger):
    kettle, mug = order.lines
    purchasing.receive_purchase_order(actor=owner, order_id=order.id,
                                      lines=[{"line_id": kettle.id, "quantity": 8}])

    with refused(OverReceipt, "More than PO-0001 ordered: KET-1 at MAIN: receiving 5 would make "
                              "13 of 10 ordered (3 over); MUG-1 at MAIN: receiving 6 would "
                              "make 6 of 4 ordered (2 over). Confirm the over-receipt to take "
                              "the extra units.") as info:
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id,
            lines=[{"line_id": kettle.id, "quantity": 5}, {"line_id": mug.id, "quantity": 6}])
    assert info.value.fields == {
        "lines[0].quantity": "3 more than this line awaits; confirm to take them.",
        "lines[1].quantity": "2 more than this line awaits; confirm to take them.",
    }

    change = purchasing.receive_purchase_order(
        actor=owner, order_id=order.id, confirm_over=True,
        lines=[{"line_id": kettle.id, "quantity": 5}, {"line_id": mug.id, "quantity": 4}])
    assert change.details["status"] == "received"
    assert change.details["lines"] == [
        {"line_id": kettle.id, "quantity": 5, "over": 3},
        {"line_id": mug.id, "quantity": 4, "over": 0}]
    after = purchasing.get_purchase_order(owner, order.id)
    assert [(x.received_qty, x.over_received_qty, x.outstanding_qty) for x in after.lines] == [
        (13, 3, 0), (4, 0, 0)]
    assert quantities(kettle.product_id) == (13, 0)
    last = ledger(change.entries[0].id)[-1]
    assert (last["quantity_delta"], last["reason"]) == (5, "3 beyond the order, confirmed")
    assert_invariants()


def test_a_confirmation_covers_only_its_own_extra_units(order, owner, refused):
    kettle = order.lines[0]
    purchasing.receive_purchase_order(actor=owner, order_id=order.id, confirm_over=True,
                                      lines=[{"line_id": kettle.id, "quantity": 12}])
    # 2 over were confirmed; one more unconfirmed unit is still over.
    with refused(OverReceipt):
        purchasing.receive_purchase_order(actor=owner, order_id=order.id,
                                          lines=[{"line_id": kettle.id, "quantity": 1}])


def test_lines_are_named_by_product_and_location_as_a_scanner_finds_them(
    order, owner, location, refused
):
    kettle = order.lines[0]
    change = purchasing.receive_purchase_order(
        actor=owner, order_id=order.id,
        lines=[{"product_id": kettle.product_id, "location_id": location.id, "quantity": 2}])
    assert change.details["lines"] == [{"line_id": kettle.id, "quantity": 2, "over": 0}]
    assert quantities(kettle.product_id) == (2, 8)


def test_bad_receipts_are_refused_naming_each_field(order, owner, refused, store, make_location):
    kettle, mug = order.lines
    with refused(ValidationError, fields={"lines": "Add at least one line received."}):
        purchasing.receive_purchase_order(actor=owner, order_id=order.id, lines=[])
    with refused(ValidationError, fields={
        "lines[0].quantity": "Must be at least 1.",
        "lines[1].line_id": "Choose a line of the order.",
        "lines[2].product_id": "Choose a product (or a line_id).",
        "lines[2].location_id": "Choose a location.",
        "lines[2].quantity": "Enter a whole number.",
        "lines[3]": "Each line needs line_id (or product_id and location_id) and quantity.",
        "confirm_over": "Choose yes or no.",
    }):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id, confirm_over="yes",
            lines=[{"line_id": kettle.id, "quantity": 0},
                   {"line_id": "1", "quantity": 1},
                   {"quantity": "1e3"},
                   [kettle.id, 1]])
    with refused(ValidationError, fields={
        "lines[1].quantity": "Line 1 of this receipt already receives this order line."
    }):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id,
            lines=[{"line_id": kettle.id, "quantity": 1},
                   {"product_id": kettle.product_id, "location_id": kettle.location_id,
                    "quantity": 1}])
    with refused(NotFound, fields={"lines[0].line_id": "No such line on this order."}):
        purchasing.receive_purchase_order(actor=owner, order_id=order.id,
                                          lines=[{"line_id": 999_999, "quantity": 1}])
    elsewhere = make_location(store, "elsewhere")
    with refused(NotFound, fields={"lines[0].product_id": "Not on this order at this location."}):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id,
            lines=[{"product_id": kettle.product_id, "location_id": elsewhere.id,
                    "quantity": 1}])
    with refused(NotFound, fields={"order_id": "No such purchase order."}):
        purchasing.receive_purchase_order(actor=owner, order_id="1",
                                          lines=[{"line_id": kettle.id, "quantity": 1}])


def test_a_draft_is_not_received(store, location, owner, make_product, refused):
    supplier = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    product = make_product(store)
    draft = purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": product.id, "location_id": location.id, "quantity": 1,
                "unit_cost": 1}])
    with refused(Conflict, "PO-0001 is draft: only an ordered purchase order is received."):
        purchasing.receive_purchase_order(actor=owner, order_id=draft.id,
                                          lines=[{"line_id": draft.lines[0].id, "quantity": 1}])


def test_a_repeated_receipt_with_its_key_receives_once(order, owner, refused, ledger):
    kettle = order.lines[0]
    lines = [{"line_id": kettle.id, "quantity": 3}]
    first = purchasing.receive_purchase_order(actor=owner, order_id=order.id, lines=lines,
                                              idempotency_key="dock-2-0815")
    again = purchasing.receive_purchase_order(actor=owner, order_id=order.id, lines=lines,
                                              idempotency_key="dock-2-0815")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.movement_ids == first.movement_ids
    assert quantities(kettle.product_id) == (3, 7)
    assert len(ledger(first.entry.id)) == 1
    with refused(IdempotencyKeyReused):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id, lines=[{"line_id": kettle.id, "quantity": 4}],
            idempotency_key="dock-2-0815")


def test_staff_granted_receiving_receive_but_do_not_buy(order, store, member, refused,
                                                       make_store):
    receiver = member(store, "staff", grants=(RECEIVE,))
    looker = member(store, "staff")
    kettle = order.lines[0]

    change = purchasing.receive_purchase_order(actor=receiver, order_id=order.id,
                                               lines=[{"line_id": kettle.id, "quantity": 1}])
    assert change.entry.quantity == 1
    with refused(PermissionDenied, "You do not have permission to do this (inventory:receive)."):
        purchasing.receive_purchase_order(actor=looker, order_id=order.id,
                                          lines=[{"line_id": kettle.id, "quantity": 1}])
    with refused(PermissionDenied, "You do not have permission to do this (purchasing:manage)."):
        purchasing.cancel_purchase_order(actor=receiver, order_id=order.id)
    with refused(PermissionDenied, "You do not have permission to do this (purchasing:manage)."):
        purchasing.create_supplier(actor=receiver, store_id=store.id, name="Mine")
    # Anyone in the store reads the order; nobody outside it learns it exists.
    assert purchasing.get_purchase_order(looker, order.id).number == "PO-0001"
    stranger = member(make_store(), "owner")
    with refused(NotFound, "Purchase order not found."):
        purchasing.receive_purchase_order(actor=stranger, order_id=order.id,
                                          lines=[{"line_id": kettle.id, "quantity": 1}])
    with refused(NotFound):
        purchasing.get_purchase_order(stranger, order.id)


def test_a_receipt_counted_against_an_older_version_is_refused(order, owner, refused):
    kettle, mug = order.lines
    seen = order.version
    purchasing.receive_purchase_order(actor=owner, order_id=order.id,
                                      lines=[{"line_id": kettle.id, "quantity": 8}])

    # Counted (and an extra confirmed) against 10 awaited; only 2 are awaited now.
    with refused(StalePurchaseOrder, "PO-0001 changed since you loaded it. Check it as it "
                                     "stands now and try again."):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id, confirm_over=True, expected_version=seen,
            lines=[{"line_id": kettle.id, "quantity": 10}])
    with refused(ValidationError, fields={"expected_version": "Must be at least 1."}):
        purchasing.receive_purchase_order(
            actor=owner, order_id=order.id, expected_version=0,
            lines=[{"line_id": mug.id, "quantity": 1}])

    now = purchasing.get_purchase_order(owner, order.id)
    change = purchasing.receive_purchase_order(
        actor=owner, order_id=order.id, expected_version=now.version,
        lines=[{"line_id": kettle.id, "quantity": 2}, {"line_id": mug.id, "quantity": 4}])
    assert change.details["status"] == "received"
    assert purchasing.get_purchase_order(owner, order.id).version == now.version + 1
