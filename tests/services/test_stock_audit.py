"""What the stock engine changes that is not stock — a threshold, a new entry — goes to the
audit trail in the same transaction: one row per entry, before and after, bulk work and
imports under their batch; refused or failed work leaves no row."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Product
from app.services import audit, stock
from app.services.errors import NotFound
from app.services.stock import apply_import


def events(**where: Any) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    rows = list(db.session.scalars(query))
    db.session.rollback()
    return rows


def test_a_threshold_change_records_who_which_entry_and_before_after(
    make_entry, store, location, owner
):
    entry = make_entry(quantity=10, threshold=2, store=store, location=location)

    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=5)

    [event] = events(action="entry.threshold_set")
    assert (event.object_type, event.object_id, event.store_id, event.product_id) == (
        "entry", entry.id, store.id, entry.product_id)
    assert event.changes == {"low_stock_threshold": [2, 5]}
    assert event.actor_id == owner.user_id
    assert event.object_label.endswith(f"at {location.code}")


def test_setting_the_threshold_it_already_has_records_nothing(make_entry, owner, store):
    entry = make_entry(quantity=10, threshold=3, store=store)

    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=3)

    assert events(action="entry.threshold_set") == []


def test_a_refused_threshold_change_records_nothing(make_entry, store, member, refused):
    entry = make_entry(quantity=10, store=store)
    other = member(store, "staff")  # staff may not change thresholds unless granted

    with refused(Exception):
        stock.set_threshold(actor=other, entry_id=entry.id, low_stock_threshold=4)
    with refused(NotFound):
        stock.set_threshold(actor=other, entry_id=entry.id + 99, low_stock_threshold=4)


def test_a_new_entry_records_its_start_beside_its_opening_stock(
    make_product, make_location, store, owner
):
    product = make_product(store)
    where = make_location(store, "shelf")

    change = stock.create_entry(actor=owner, product_id=product.id, location_id=where.id,
                                quantity=0, low_stock_threshold=4)

    [event] = events(action="entry.created")
    assert (event.object_id, event.product_id, event.store_id) == (
        change.entry.id, product.id, store.id)
    assert event.changes == {"low_stock_threshold": [None, 4]}


def test_bulk_threshold_records_each_changed_entry_under_one_batch(
    make_entry, make_location, store, owner
):
    a = make_entry(quantity=5, threshold=0, store=store)
    b = make_entry(quantity=5, threshold=6, store=store, location=make_location(store, "b"))
    c = make_entry(quantity=5, threshold=1, store=store, location=make_location(store, "c"))

    change = stock.bulk_threshold(
        actor=owner, selection=stock.selection(entry_ids=[a.id, b.id, c.id]),
        low_stock_threshold=6,
    )

    rows = events(action="entry.threshold_set")
    assert [(e.object_id, e.changes["low_stock_threshold"]) for e in rows] == [
        (a.id, [0, 6]), (c.id, [1, 6])]
    assert {e.batch_ref for e in rows} == {change.details["batch_ref"]}
    assert change.details["changed"] == 2


def test_an_import_records_thresholds_and_new_entries_under_its_batch(
    make_entry, make_product, make_location, store, location, owner
):
    mug = make_entry(quantity=10, threshold=2, store=store, location=location)
    towel = make_product(store, "TWL-9", title="Towel")
    spare = make_location(store, "spare")
    mug_sku = db.session.get(Product, mug.product_id).sku
    db.session.rollback()
    data = ("store,location,sku,quantity,threshold\r\n"
            f"{store.slug},{location.code},{mug_sku},10,7\r\n"
            f"{store.slug},{spare.code},{towel.sku},0,3\r\n").encode()

    result = apply_import(data, actor=owner)

    changed, created = events(batch_ref=result.batch_ref)
    assert (changed.action, changed.object_id, changed.changes) == (
        "entry.threshold_set", mug.id, {"low_stock_threshold": [2, 7]})
    assert (created.action, created.product_id, created.changes) == (
        "entry.created", towel.id, {"low_stock_threshold": [None, 3]})


@pytest.mark.parametrize("verb", ["threshold", "bulk_threshold", "import", "create"])
def test_a_failed_audit_write_undoes_the_change(
    verb, make_entry, make_product, make_location, store, location, owner, snapshot,
    monkeypatch,
):
    entry = make_entry(quantity=10, threshold=2, store=store, location=location)
    product = make_product(store, "NEW-1")
    spot = make_location(store, "x")
    sku = db.session.get(Product, entry.product_id).sku
    db.session.rollback()
    before = snapshot()

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the audit trail could not be written")

    monkeypatch.setattr(audit, "record_many", broken)
    with pytest.raises(RuntimeError):
        if verb == "threshold":
            stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=9)
        elif verb == "bulk_threshold":
            stock.bulk_threshold(actor=owner, selection=stock.selection(entry_ids=[entry.id]),
                                 low_stock_threshold=9)
        elif verb == "import":
            apply_import(f"store,location,sku,quantity,threshold\r\n"
                         f"{store.slug},{location.code},{sku},12,9\r\n".encode(), actor=owner)
        else:
            stock.create_entry(actor=owner, product_id=product.id,
                               location_id=spot.id, quantity=3)

    assert snapshot() == before
