"""Suppliers, what they supply, and the currency a store keeps its costs in: each change
audited, bad input named field by field, only purchasing managers may make them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.permissions import RECEIVE
from app.services import bundles, purchasing
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError


def events(**where):
    rows = db.session.execute(
        select(AuditEvent).filter_by(**where).order_by(AuditEvent.id)).scalars().all()
    db.session.rollback()
    return rows


@pytest.fixture
def acme(store, owner):
    return purchasing.create_supplier(
        actor=owner, store_id=store.id, name="Acme Supply", contact_name="Ada",
        email="orders@acme.example", phone="+44 20 7946 0000", lead_time_days=5,
        notes="Ships Mondays.\nCall before noon.")


def test_a_supplier_quotes_in_the_stores_currency_unless_told(acme, store, owner):
    assert (acme.name, acme.currency, acme.lead_time_days, acme.archived) == (
        "Acme Supply", "USD", 5, False)
    assert acme.notes == "Ships Mondays.\nCall before noon."
    [event] = events(action="supplier.created")
    assert (event.object_type, event.object_id, event.object_label, event.store_id) == (
        "supplier", acme.id, "Acme Supply", store.id)
    assert event.changes["currency"] == [None, "USD"]
    other = purchasing.create_supplier(actor=owner, store_id=store.id, name="Kyoto",
                                       currency=" jpy ")
    assert other.currency == "JPY"
    assert [s.name for s in purchasing.list_suppliers(owner, store.id)] == [
        "Acme Supply", "Kyoto"]


def test_bad_supplier_fields_are_refused_naming_each(store, owner, refused, acme):
    with refused(ValidationError, fields={
        "name": "This field is required.",
        "email": "Enter an email address, like orders@example.com.",
        "phone": "Must be at most 40 characters.",
        "lead_time_days": "Must be at most 365.",
        "notes": "Must not contain control characters (found U+0000).",
        "currency": "Enter a three-letter currency code, like EUR.",
    }):
        purchasing.create_supplier(actor=owner, store_id=store.id, name="  ",
                                   email="ada at acme", phone="1" * 41, lead_time_days=400,
                                   notes="a\x00b", currency="euro")
    with refused(Conflict, "This store already has a supplier named ACME supply."):
        purchasing.create_supplier(actor=owner, store_id=store.id, name="ACME supply")
    with refused(NotFound, "Store not found."):
        purchasing.create_supplier(actor=owner, store_id="1", name="X")


def test_changing_a_supplier_records_each_field(acme, owner, store, make_product, refused):
    changed = purchasing.update_supplier(
        actor=owner, supplier_id=acme.id, name="Acme Ltd", contact_name="Ada",
        email="orders@acme.example", phone=None, lead_time_days=9,
        notes="Ships Mondays.\nCall before noon.")
    assert (changed.name, changed.phone, changed.lead_time_days) == ("Acme Ltd", None, 9)
    [event] = events(action="supplier.updated")
    assert event.changes == {"name": ["Acme Supply", "Acme Ltd"],
                             "phone": ["+44 20 7946 0000", None], "lead_time_days": [5, 9]}

    # The currency changes while nothing is priced in it, and not after.
    purchasing.update_supplier(actor=owner, supplier_id=acme.id, name="Acme Ltd",
                               currency="EUR")
    purchasing.set_supplier_item(actor=owner, supplier_id=acme.id,
                                 product_id=make_product(store).id, unit_cost="1.50")
    with refused(Conflict, "Acme Ltd's items and orders are priced in EUR: its currency can "
                           "change only while it has neither."):
        purchasing.update_supplier(actor=owner, supplier_id=acme.id, name="Acme Ltd",
                                   currency="GBP")


def test_supplier_items_keep_one_preferred_supplier_per_variant(
    acme, store, owner, make_product, refused
):
    kettle = make_product(store, "KET-1")
    other = purchasing.create_supplier(actor=owner, store_id=store.id, name="Other")
    first = purchasing.set_supplier_item(
        actor=owner, supplier_id=acme.id, product_id=kettle.id, unit_cost="2.40",
        supplier_sku="AC-991", pack_size=6, min_order_qty=12, preferred=True)
    assert (first.unit_cost, first.pack_size, first.min_order_qty, first.preferred,
            first.supplier_sku) == (Decimal("2.4"), 6, 12, True, "AC-991")

    purchasing.set_supplier_item(actor=owner, supplier_id=other.id, product_id=kettle.id,
                                 unit_cost="2.10", preferred=True)
    offers = purchasing.product_suppliers(owner, kettle.id)
    assert [(o.supplier_name, o.preferred, o.unit_cost) for o in offers] == [
        ("Other", True, Decimal("2.1")), ("Acme Supply", False, Decimal("2.4"))]

    # The same supplier and variant again changes the item; a change is audited.
    again = purchasing.set_supplier_item(actor=owner, supplier_id=acme.id,
                                         product_id=kettle.id, unit_cost="2.35", pack_size=6,
                                         min_order_qty=12, supplier_sku="AC-991")
    assert again.id == first.id and again.unit_cost == Decimal("2.35")
    assert [e.action for e in events(object_type="supplier", object_id=acme.id)] == [
        "supplier.created", "supplier.item_added", "supplier.item_updated"]
    assert events(action="supplier.item_updated")[0].changes == {
        "unit_cost": ["2.4000", "2.3500"]}

    purchasing.remove_supplier_item(actor=owner, supplier_item_id=again.id)
    assert [o.supplier_name for o in purchasing.product_suppliers(owner, kettle.id)] == [
        "Other"]


def test_bad_supplier_items_are_refused(acme, store, owner, make_product, refused, admin_actor):
    kettle = make_product(store, "KET-1")
    with refused(ValidationError, fields={
        "unit_cost": "Enter an amount, like 12.50.",
        "pack_size": "Must be at least 1.",
        "min_order_qty": "Must not be negative.",
        "preferred": "Choose yes or no.",
    }):
        purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=kettle.id,
                                     unit_cost=2.5, pack_size=0, min_order_qty=-1,
                                     preferred="yes")
    amount = "Enter an amount, like 12.50."
    for value, message in (("-1", amount), ("1e3", amount), ("１２", amount), (True, amount),
                           (float("nan"), amount), ("0.00001", "Use at most 4 decimals."),
                           ("1000000001", "Must be at most 1,000,000,000."),
                           (Decimal("-0.5"), "Must not be negative.")):
        with refused(ValidationError, fields={"unit_cost": message}):
            purchasing.set_supplier_item(actor=owner, supplier_id=acme.id,
                                         product_id=kettle.id, unit_cost=value)
    ebook = make_product(store, "EBOOK", type="service")
    with refused(Conflict, "EBOOK is a service product: its stock is unlimited and is never "
                           "bought in."):
        purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=ebook.id,
                                     unit_cost=1)
    kit = make_product(store, "KIT")
    bundles.set_components(actor=admin_actor, bundle_id=kit.id, parts=[(kettle.id, 1)])
    with refused(Conflict):
        purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=kit.id,
                                     unit_cost=1)


def test_archiving_waits_for_open_orders_and_ends_preference(
    acme, store, location, owner, make_product, refused
):
    kettle = make_product(store, "KET-1")
    purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=kettle.id,
                                 unit_cost=1, preferred=True)
    order = purchasing.create_purchase_order(
        actor=owner, supplier_id=acme.id,
        lines=[{"product_id": kettle.id, "location_id": location.id, "quantity": 1}])
    with refused(Conflict, "Acme Supply has orders not yet closed (PO-0001): receive or "
                           "cancel them first."):
        purchasing.archive_supplier(actor=owner, supplier_id=acme.id)
    purchasing.cancel_purchase_order(actor=owner, order_id=order.id)

    archived = purchasing.archive_supplier(actor=owner, supplier_id=acme.id)
    assert archived.archived
    assert purchasing.product_suppliers(owner, kettle.id) == []
    assert events(action="supplier.archived")[0].changes == {
        "archived": [False, True], "preferred_items": [1, 0]}
    with refused(Conflict, "Acme Supply is archived: it takes no new orders."):
        purchasing.create_purchase_order(actor=owner, supplier_id=acme.id)
    assert purchasing.list_suppliers(owner, store.id) == []
    assert purchasing.unarchive_supplier(actor=owner, supplier_id=acme.id).archived is False


def test_only_purchasing_managers_manage_suppliers(acme, store, member, refused, make_store):
    receiver = member(store, "staff", grants=(RECEIVE,))
    admin = member(store, "admin")
    with refused(PermissionDenied, "You do not have permission to do this (purchasing:manage)."):
        purchasing.update_supplier(actor=receiver, supplier_id=acme.id, name="Mine")
    assert purchasing.update_supplier(actor=admin, supplier_id=acme.id, name="Acme Supply",
                                      lead_time_days=3).lead_time_days == 3
    assert purchasing.get_supplier(receiver, acme.id).name == "Acme Supply"
    stranger = member(make_store(), "owner")
    with refused(NotFound, "Supplier not found."):
        purchasing.archive_supplier(actor=stranger, supplier_id=acme.id)
    with refused(NotFound):
        purchasing.get_supplier(stranger, acme.id)


def test_the_stores_currency_changes_only_before_it_keeps_costs(
    store, owner, location, make_product, refused
):
    assert purchasing.set_store_currency(actor=owner, store_id=store.id, currency="eur") == "EUR"
    [event] = events(action="store.updated")
    assert event.changes == {"currency": ["USD", "EUR"]}
    local = purchasing.create_supplier(actor=owner, store_id=store.id, name="Local")
    assert local.currency == "EUR"
    purchasing.create_purchase_order(actor=owner, supplier_id=local.id)
    with refused(Conflict, f"{store.name} already keeps costs in EUR: its currency can change "
                           "only before it has purchase orders or known costs."):
        purchasing.set_store_currency(actor=owner, store_id=store.id, currency="GBP")
