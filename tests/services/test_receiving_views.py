"""What the receiving screens read: the open orders one may receive against, an order found
by its printed number, the codes a scanner may read for each line, the open lines a
variant's units go to at a location ("whatever arrives"), and a receipt after the fact."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import StockMovement
from app.permissions import RECEIVE
from app.services import purchasing
from app.services.errors import NotFound, PermissionDenied


@pytest.fixture
def dock(store, location, owner, make_location, make_product):
    """Two suppliers; at MAIN kettles awaited on three orders (PO-0002 due 3 May, PO-0003
    due 1 May, PO-0004 undated), mugs on PO-0002 (to MAIN and BACK); PO-0001 a draft and
    PO-0005 cancelled, both for kettles at MAIN."""
    back = make_location(store, "back")
    acme = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    bolt = purchasing.create_supplier(actor=owner, store_id=store.id, name="Bolt & Co")
    kettle = make_product(store, "KET-1", title="Kettle", gtin="4006381333931")
    mug = make_product(store, "MUG-1", title="Mug")
    purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=kettle.id,
                                 unit_cost="2.00", supplier_sku="AC-KET")
    purchasing.set_supplier_item(actor=owner, supplier_id=bolt.id, product_id=kettle.id,
                                 unit_cost="2.10", supplier_sku="BOLT-99")

    def order(supplier, lines, expected_on=None, place=True):
        draft = purchasing.create_purchase_order(
            actor=owner, supplier_id=supplier.id, expected_on=expected_on,
            lines=[{"product_id": p.id, "location_id": at.id, "quantity": n,
                    "unit_cost": "1.00"} for p, at, n in lines])
        return purchasing.order_purchase_order(actor=owner, order_id=draft.id) if (
            place) else draft

    draft = order(acme, [(kettle, location, 1)], place=False)
    may3 = order(acme, [(kettle, location, 5), (mug, location, 2), (mug, back, 3)],
                 expected_on=date(2031, 5, 3))
    may1 = order(bolt, [(kettle, location, 4)], expected_on=date(2031, 5, 1))
    undated = order(acme, [(kettle, location, 6)])
    cancelled = order(bolt, [(kettle, location, 9)], expected_on=date(2031, 4, 1))
    purchasing.cancel_purchase_order(actor=owner, order_id=cancelled.id)
    return type("Dock", (), dict(
        store=store, main=location, back=back, acme=acme, bolt=bolt, kettle=kettle, mug=mug,
        draft=draft, may3=may3, may1=may1, undated=undated, cancelled=cancelled))


def test_open_orders_are_listed_soonest_expected_first_with_what_they_await(dock, owner):
    listed = purchasing.list_receivable_orders(owner)

    assert [(o.number, o.supplier_name, o.expected_on, o.outstanding_qty, o.destinations)
            for o in listed] == [
        ("PO-0003", "Bolt & Co", date(2031, 5, 1), 4, ("MAIN",)),
        ("PO-0002", "Acme", date(2031, 5, 3), 10, ("BACK", "MAIN")),
        ("PO-0004", "Acme", None, 6, ("MAIN",)),
    ]
    assert listed[1].line_count == 3 and listed[1].status_label == "Ordered"


def test_a_line_received_in_full_is_no_longer_a_destination(dock, owner):
    mug_back = next(x for x in dock.may3.lines if x.location_code == "BACK")
    purchasing.receive_purchase_order(actor=owner, order_id=dock.may3.id,
                                      lines=[{"line_id": mug_back.id, "quantity": 3}])
    purchasing.receive_purchase_order(actor=owner, order_id=dock.may1.id, confirm_over=True,
                                      lines=[{"line_id": dock.may1.lines[0].id, "quantity": 6}])

    listed = purchasing.list_receivable_orders(owner, store_id=dock.store.id)
    assert [(o.number, o.status, o.outstanding_qty, o.destinations) for o in listed] == [
        ("PO-0002", "partially_received", 7, ("MAIN",)),
        ("PO-0004", "ordered", 6, ("MAIN",)),
    ]


def test_only_stores_where_one_may_receive_are_listed(dock, member, make_store, refused):
    receiver = member(dock.store, "staff", grants=(RECEIVE,))
    looker = member(dock.store, "staff")
    stranger = member(make_store(), "owner")

    assert len(purchasing.list_receivable_orders(receiver)) == 3
    assert purchasing.list_receivable_orders(looker) == []
    assert purchasing.list_receivable_orders(stranger) == []
    with refused(PermissionDenied):
        purchasing.list_receivable_orders(looker, store_id=dock.store.id)
    with refused(NotFound, "Store not found."):
        purchasing.list_receivable_orders(stranger, store_id=dock.store.id)
    assert purchasing.find_orders_to_receive(looker, "PO-0002") == []
    assert purchasing.find_orders_to_receive(stranger, "PO-0002") == []


def test_an_order_is_found_by_its_number_in_any_case_and_any_status(dock, owner):
    (found,) = purchasing.find_orders_to_receive(owner, "  po-0005 ")
    assert (found.id, found.status, found.is_open, found.outstanding_qty) == (
        dock.cancelled.id, "cancelled", False, 0)
    assert found.destinations == ("MAIN",)
    (draft,) = purchasing.find_orders_to_receive(owner, "PO-0001", store_id=dock.store.id)
    assert draft.status == "draft"
    assert purchasing.find_orders_to_receive(owner, "PO-0099") == []
    assert purchasing.find_orders_to_receive(owner, "") == []
    assert purchasing.find_orders_to_receive(owner, "PO-" + "9" * 40) == []


def test_a_line_answers_to_its_sku_gtin_and_this_suppliers_sku(dock, owner, member,
                                                               make_store):
    kettle, mug_back, mug_main = dock.may3.lines
    assert (kettle.sku, mug_back.location_code, mug_main.location_code) == (
        "KET-1", "BACK", "MAIN")

    codes = purchasing.receiving_codes(owner, dock.may3.id)
    assert codes == {kettle.id: ("KET-1", "4006381333931", "AC-KET"),
                     mug_back.id: ("MUG-1",), mug_main.id: ("MUG-1",)}
    assert purchasing.receiving_codes(owner, dock.may1.id) == {
        dock.may1.lines[0].id: ("KET-1", "4006381333931", "BOLT-99")}
    with pytest.raises(NotFound):
        purchasing.receiving_codes(member(make_store(), "owner"), dock.may3.id)
    with pytest.raises(NotFound):
        purchasing.receiving_codes(owner, "1")


def test_open_lines_at_a_location_come_soonest_expected_first(dock, owner, member, make_store):
    found = purchasing.open_lines_at(owner, dock.main.id, [dock.mug.id, dock.kettle.id])

    assert [(x.sku, x.number, x.outstanding_qty, x.expected_on) for x in found] == [
        ("KET-1", "PO-0003", 4, date(2031, 5, 1)),
        ("KET-1", "PO-0002", 5, date(2031, 5, 3)),
        ("KET-1", "PO-0004", 6, None),
        ("MUG-1", "PO-0002", 2, date(2031, 5, 3)),
    ]
    assert {x.location_code for x in found} == {"MAIN"}
    assert found[0].order_version == dock.may1.version
    assert found[0].supplier_name == "Bolt & Co"

    # A line received in full leaves; partly received, it stays with what it still awaits.
    purchasing.receive_purchase_order(actor=owner, order_id=dock.may1.id,
                                      lines=[{"line_id": dock.may1.lines[0].id, "quantity": 4}])
    kettle_line = dock.may3.lines[0]
    purchasing.receive_purchase_order(actor=owner, order_id=dock.may3.id,
                                      lines=[{"line_id": kettle_line.id, "quantity": 2}])
    again = purchasing.open_lines_at(owner, dock.main.id, [dock.kettle.id])
    assert [(x.number, x.outstanding_qty) for x in again] == [("PO-0002", 3), ("PO-0004", 6)]
    assert purchasing.open_lines_at(owner, dock.back.id, [dock.kettle.id]) == []
    assert purchasing.open_lines_at(owner, dock.main.id, []) == []
    with pytest.raises(NotFound):
        purchasing.open_lines_at(member(make_store(), "owner"), dock.main.id, [dock.kettle.id])


def test_a_receipt_reads_back_by_its_first_ledger_row(dock, owner, member, make_store,
                                                     make_entry, make_product):
    kettle, _mug_back, mug_main = dock.may3.lines
    change = purchasing.receive_purchase_order(
        actor=owner, order_id=dock.may3.id, reason="Delivery note 7781",
        lines=[{"line_id": mug_main.id, "quantity": 2}, {"line_id": kettle.id, "quantity": 3}])
    later = purchasing.receive_purchase_order(
        actor=owner, order_id=dock.may1.id, lines=[{"line_id": dock.may1.lines[0].id,
                                                    "quantity": 1}])
    first_row = min(change.movement_ids)

    (receipt,) = purchasing.get_receipts(owner, [first_row])
    assert (receipt.number, receipt.supplier_name, receipt.status, receipt.quantity) == (
        "PO-0002", "Acme", "partially_received", 5)
    assert receipt.received_by == owner.name
    assert [(x.sku, x.location_code, x.quantity, x.on_hand_after, x.outstanding_qty, x.reason)
            for x in receipt.lines] == [
        ("KET-1", "MAIN", 3, 3, 2, "Delivery note 7781"),
        ("MUG-1", "MAIN", 2, 2, 0, "Delivery note 7781"),
    ]
    both = purchasing.get_receipts(owner, [min(later.movement_ids), first_row])
    assert [(r.number, r.lines[0].on_hand_after) for r in both] == [
        ("PO-0003", 4), ("PO-0002", 3)]

    # A ledger row that is no receipt, another store's receipt, nothing at all: not found.
    other = make_entry(store=dock.store, location=dock.back, quantity=5,
                       product=make_product(dock.store, "LAMP-1"))
    created = db.session.scalar(select(StockMovement.id).where(
        StockMovement.entry_id == other.id))
    db.session.rollback()
    for ids in ([created], [999_999], [], ["1"], list(range(1, 200))):
        with pytest.raises(NotFound, match="Receipt not found."):
            purchasing.get_receipts(owner, ids)
    with pytest.raises(NotFound):
        purchasing.get_receipts(member(make_store(), "owner"), [first_row])


def test_a_code_names_the_stores_product_by_sku_first_then_gtin(dock, owner, member,
                                                                 make_store, make_product):
    other = make_store()
    make_product(other, "KET-1")
    # A product whose SKU is another's GTIN: the SKU wins.
    twin = make_product(dock.store, "4006381333931", title="Odd SKU")

    assert purchasing.product_for_code(owner, dock.store.id, " ket-1 ") == (
        dock.kettle.id, "KET-1")
    assert purchasing.product_for_code(owner, dock.store.id, "4006381333931") == (
        twin.id, "4006381333931")
    assert purchasing.product_for_code(owner, dock.store.id, "NOPE") is None
    assert purchasing.product_for_code(owner, dock.store.id, "") is None
    assert purchasing.product_for_code(owner, other.id, "KET-1") is None  # not a member
    assert purchasing.product_for_code(member(other, "owner"), other.id, "ket-1") is not None
