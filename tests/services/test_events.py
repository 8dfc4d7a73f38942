"""The outbox: every ledger row has its stock.changed event, written by the same
transaction; entries crossing a level say so once; each store numbers its events without a
gap; the feed reads them back after a number."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from app.database import joining, write_transaction
from app.extensions import db
from app.models import Event, EventSequence, StockMovement
from app.services import events, stock
from app.services.errors import NotFound, ValidationError
from app.services.ledger import verify_ledger


def store_events(store_id: int) -> list[Any]:
    return list(db.session.execute(
        select(Event.sequence, Event.type, Event.entry_id, Event.movement_id)
        .where(Event.store_id == store_id).order_by(Event.sequence)
    ))


def kinds(store_id: int, after: int = 0) -> list[str]:
    return [e.type for e in store_events(store_id) if e.sequence > after]


def last_number(store_id: int) -> int:
    return max((e.sequence for e in store_events(store_id)), default=0)


def test_every_ledger_row_has_its_stock_changed_event_numbered_per_store(
    make_entry, make_store, owner, store
):
    entry = make_entry(quantity=10, store=store)
    other = make_entry(quantity=3, store=make_store())
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-4, reason="damaged")

    mine = store_events(store.id)
    assert [e.sequence for e in mine] == list(range(1, len(mine) + 1))
    movements = list(db.session.scalars(
        select(StockMovement.id).where(StockMovement.store_id == store.id)
        .order_by(StockMovement.id)
    ))
    assert [e.movement_id for e in mine if e.type == "stock.changed"] == movements
    theirs = store_events(other.store_id)
    assert [e.sequence for e in theirs] == list(range(1, len(theirs) + 1))
    assert db.session.get(EventSequence, store.id).last_sequence == len(mine)
    assert verify_ledger() == []


def test_the_payload_names_the_entry_its_quantities_before_and_after_and_the_actor(
    make_entry, owner, store
):
    entry = make_entry(quantity=10, reserved=2, store=store)
    change = stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-3, reason="damaged",
                                reference="RMA-9")

    page = events.feed(owner, store_id=store.id, after=last_number(store.id) - 1)
    (sent,) = page.events
    assert sent["type"] == "stock.changed"
    assert sent["id"] == f"evt_{store.id}_{sent['sequence']}"
    assert sent["timestamp"].endswith("Z")
    data = sent["data"]
    assert data["entry_id"] == entry.id
    assert data["movement_id"] == change.movement_ids[0]
    assert data["product_id"] == entry.product_id
    assert data["location_id"] == entry.location_id
    assert data["sku"] and data["location"]
    assert (data["quantity_before"], data["quantity_after"]) == (10, 7)
    assert (data["reserved_before"], data["reserved_after"]) == (2, 2)
    assert (data["available_before"], data["available_after"]) == (8, 5)
    assert (data["movement_type"], data["reason"], data["reference"]) == (
        "adjustment", "damaged", "RMA-9")
    assert data["actor"] == {"user_id": owner.user_id, "name": owner.name}


def test_crossings_are_told_once_each_way(make_entry, owner, store):
    """Threshold 5: 10 → 6 → 4 (low) → 3 → 0 (out) → 2 (low) → 12 (back), then a
    reservation takes it low and its release brings it back."""
    entry = make_entry(quantity=10, threshold=5, store=store)
    start = last_number(store.id)
    for delta in (-4, -2, -1, -3, 2, 10):
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=delta, reason="test")
    held = stock.reserve_stock(actor=owner, entry_id=entry.id, quantity=8, order_ref="O-1")
    stock.release_stock(actor=owner, reservation_id=held.reservation_ids[0], quantity=8)

    assert [k for k in kinds(store.id, start) if k != "stock.changed"] == [
        "stock.low", "stock.out", "stock.low", "stock.back_in_stock",
        "stock.low", "stock.back_in_stock",
    ]
    crossings = [e for e in events.feed(owner, store_id=store.id, after=start).events
                 if e["type"] != "stock.changed"]
    assert [(e["data"]["status"], e["data"]["available_after"]) for e in crossings] == [
        ("low_stock", 4), ("out_of_stock", 0), ("low_stock", 2), ("in_stock", 12),
        ("low_stock", 4), ("in_stock", 12),
    ]
    # Each crossing follows the stock.changed of the row that made it, naming that row.
    sequence = [(e["type"], e["data"].get("movement_id"))
                for e in events.feed(owner, store_id=store.id, after=start).events]
    for i, (kind, movement) in enumerate(sequence):
        if kind != "stock.changed":
            assert sequence[i - 1] == ("stock.changed", movement)


def test_a_threshold_change_that_crosses_is_told_without_a_ledger_row(
    make_entry, owner, store
):
    entry = make_entry(quantity=12, store=store)
    start = last_number(store.id)
    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=8)   # 12 > 8
    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=20)  # low
    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=15)  # still low
    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=0)   # back

    told = events.feed(owner, store_id=store.id, after=start).events
    assert [(e["type"], e["data"]["low_stock_threshold"]) for e in told] == [
        ("stock.low", 20), ("stock.back_in_stock", 0)]
    assert all("movement_id" not in e["data"] for e in told)
    assert told[0]["data"]["available_after"] == 12


def test_bulk_changes_tell_each_entry(make_entry, make_location, owner, store):
    made = [make_entry(quantity=5, threshold=3, store=store,
                       location=make_location(store)) for _ in range(4)]
    start = last_number(store.id)
    stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=[e.id for e in made]),
                      delta=-3, reason="shrink")

    told = events.feed(owner, store_id=store.id, after=start).events
    assert [e["type"] for e in told] == ["stock.changed", "stock.low"] * 4
    assert sorted(e["data"]["entry_id"] for e in told[::2]) == sorted(e.id for e in made)
    assert all(e["data"]["movement_id"] for e in told)
    assert verify_ledger() == []


def test_a_change_rolled_back_leaves_no_event_and_no_gap(make_entry, owner, store):
    entry = make_entry(quantity=10, store=store)
    start = last_number(store.id)
    with pytest.raises(RuntimeError), write_transaction() as session, joining(session):
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="lost")
        raise RuntimeError("the request failed after the change")
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-2, reason="lost")

    told = store_events(store.id)[start:]
    assert [(e.sequence, e.type) for e in told] == [(start + 1, "stock.changed")]
    assert verify_ledger() == []


def test_a_change_whose_event_cannot_be_written_does_not_happen(
    make_entry, owner, store, stored, monkeypatch
):
    entry = make_entry(quantity=10, store=store)

    def broken(session, store_id, count):
        raise RuntimeError("the outbox is unwritable")

    monkeypatch.setattr(events, "_take_numbers", broken)
    with pytest.raises(RuntimeError):
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="lost")
    monkeypatch.undo()

    assert stored(entry.id)["quantity"] == 10
    assert verify_ledger() == []


def test_verify_finds_a_ledger_row_without_its_event(make_entry, store, corrupts_ledger):
    entry = make_entry(quantity=10, store=store)
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
            conn.execute(text("DELETE FROM events WHERE entry_id = :e"), {"e": entry.id})
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER events_no_delete")
            conn.execute(text("DELETE FROM events WHERE entry_id = :e"), {"e": entry.id})

    found = {m.what for m in verify_ledger()}
    assert any(w.startswith("stock.changed events of movement") for w in found)
    assert f"events numbered in store {store.id}" in found


def test_the_outbox_is_append_only(make_entry, store):
    make_entry(quantity=1, store=store)
    for statement in ("UPDATE events SET type = 'stock.low'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))


def test_the_feed_pages_after_a_number(make_entry, owner, store):
    entry = make_entry(quantity=50, store=store)
    for _ in range(5):
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="sold")
    total = last_number(store.id)

    seen: list[int] = []
    after = 0
    while True:
        page = events.feed(owner, store_id=store.id, after=after, limit=2)
        seen += [e["sequence"] for e in page.events]
        after = page.next_after
        if not page.has_more:
            break
    assert seen == list(range(1, total + 1))
    empty = events.feed(owner, store_id=store.id, after=total)
    assert (empty.events, empty.next_after, empty.has_more) == ([], total, False)


@pytest.mark.parametrize(("after", "limit", "field"), [
    (-1, 10, "after"), ("3", 10, "after"), (True, 10, "after"),
    (0, 0, "limit"), (0, 1001, "limit"), (0, 2.5, "limit"),
])
def test_the_feed_refuses_bad_paging(owner, store, refused, after, limit, field):
    with refused(ValidationError) as caught:
        events.feed(owner, store_id=store.id, after=after, limit=limit)
    assert set(caught.value.fields) == {field}


def test_the_feed_of_another_store_is_not_found(make_store, owner, refused):
    other = make_store()
    with refused(NotFound, "Store not found."):
        events.feed(owner, store_id=other.id)
