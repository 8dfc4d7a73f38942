"""The ledger's read models: the audit log, an entry's history and chart series, the CSV
feed. Filters, keyset paging, date bounds and tenancy, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.clock import frozen_at
from app.extensions import db
from app.permissions import ADJUST, AUDIT
from app.services import stock
from app.services.cursors import encode_cursor
from app.services.errors import NotFound, ValidationError
from app.services.queries import movements as ledger
from app.services.queries.movements import MovementFilters

T0 = datetime(2026, 3, 2, 9, 0)


def at(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


@pytest.fixture
def world(make_store, make_location, make_product, make_entry, member, make_user, actor_of,
          admin_actor):
    """Store "a": two locations, two products, three entries moved on known days by the
    owner (a user) and by the system; store "b" alike, foreign to a's people."""
    a, b = make_store("Alpha"), make_store("Beta")
    shelf, back = make_location(a, "SHELF"), make_location(a, "BACK")
    mug, cap = make_product(a, "MUG-1", title="Blue Mug"), make_product(a, "CAP-1", title="Cap")
    owner_user = make_user(role="owner", store=a)
    owner_user.name = "Olivia Owner"
    db.session.commit()
    owner = actor_of(owner_user)
    with frozen_at(at(0)):
        mug_shelf = make_entry(quantity=10, store=a, location=shelf, product=mug)
        mug_back = make_entry(quantity=4, store=a, location=back, product=mug)
        cap_shelf = make_entry(quantity=7, store=a, location=shelf, product=cap)
    with frozen_at(at(1)):
        stock.adjust_stock(actor=owner, entry_id=mug_shelf.id, delta=-2, reason="Broken")
    with frozen_at(at(2)):
        stock.reserve_stock(actor=owner, entry_id=mug_shelf.id, quantity=3, order_ref="O-1")
    with frozen_at(at(3)):
        stock.adjust_stock(actor=admin_actor, entry_id=cap_shelf.id, delta=5,
                               reason="Delivery", reference="PO-9")
    with frozen_at(at(4)):
        stock.set_stock(actor=owner, entry_id=mug_back.id, quantity=6)
    b_place = make_location(b, "SHELF")
    with frozen_at(at(1)):
        foreign = make_entry(quantity=50, store=b, location=b_place)
    return SimpleNamespace(
        a=a, b=b, shelf=shelf, back=back, mug=mug, cap=cap, owner=owner,
        owner_user=owner_user, mug_shelf=mug_shelf, mug_back=mug_back, cap_shelf=cap_shelf,
        foreign=foreign, b_place=b_place, auditor_b=member(b, "owner"),
        admin=admin_actor, member=member,
    )


def kinds(page) -> list[tuple[str, int]]:
    return [(m.type, m.entry_id) for m in page.rows]


def test_the_log_is_newest_first_with_names_joined(world):
    page = ledger.list_movements(world.owner, MovementFilters())
    assert kinds(page) == [
        ("set", world.mug_back.id),
        ("adjustment", world.cap_shelf.id),
        ("reserved", world.mug_shelf.id),
        ("adjustment", world.mug_shelf.id),
        ("received", world.cap_shelf.id),
        ("received", world.mug_back.id),
        ("received", world.mug_shelf.id),
    ]
    assert page.total == 7 and not page.total_capped
    newest = page.rows[0]
    assert (newest.sku, newest.title, newest.location_code, newest.store_name) == (
        "MUG-1", "Blue Mug", "BACK", "Alpha"
    )
    assert (newest.quantity_delta, newest.quantity_after, newest.available_after) == (2, 6, 6)
    assert newest.actor_id == world.owner_user.id and newest.entry_exists
    reserved = page.rows[2]
    assert (reserved.reserved_delta, reserved.reserved_after, reserved.available_after) == (
        3, 3, 5
    )
    assert reserved.type_label == "Reserved"


def test_the_log_shows_only_stores_the_actor_may_audit(world):
    assert {m.store_id for m in ledger.list_movements(world.admin, MovementFilters()).rows} == {
        world.a.id, world.b.id
    }
    assert {m.store_id for m in ledger.list_movements(world.auditor_b, MovementFilters()).rows} \
        == {world.b.id}
    staff = world.member(world.a, "staff", grants=(ADJUST,))
    assert ledger.can_audit(staff) is False
    assert ledger.list_movements(staff, MovementFilters()).rows == []
    auditing_staff = world.member(world.a, "staff", grants=(AUDIT,))
    assert ledger.can_audit(auditing_staff)
    assert ledger.list_movements(auditing_staff, MovementFilters()).total == 7


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (lambda w: {"store_id": w.a.id}, 7),
        (lambda w: {"product_id": w.mug.id}, 5),
        (lambda w: {"location_id": w.back.id}, 2),
        (lambda w: {"product_id": w.mug.id, "location_id": w.shelf.id}, 3),
        (lambda w: {"movement_type": "adjustment"}, 2),
        (lambda w: {"actor_id": w.owner_user.id}, 3),
        (lambda w: {"actor_name": "system:"}, 4),
        (lambda w: {"actor_name": w.owner_user.email.upper()}, 3),
        (lambda w: {"actor_name": "olivia"}, 3),  # the display name, not in the ledger
        (lambda w: {"actor_name": "100%_"}, 0),  # LIKE wildcards are literal
        (lambda w: {"date_from": date(2026, 3, 3)}, 4),
        (lambda w: {"date_to": date(2026, 3, 3)}, 4),
        (lambda w: {"date_from": date(2026, 3, 3), "date_to": date(2026, 3, 3)}, 1),
        (lambda w: {"date_to": date.max}, 7),
    ],
)
def test_each_filter_narrows_the_log(world, filters, expected):
    page = ledger.list_movements(world.owner, MovementFilters(**filters(world)))
    assert page.total == expected == len(page.rows)


def test_a_date_range_includes_the_whole_of_its_last_day_in_utc(world, admin_actor):
    entry = world.cap_shelf
    with frozen_at(datetime(2026, 3, 20, 23, 59, 59, 999999)):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="late")
    with frozen_at(datetime(2026, 3, 21, 0, 0)):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="next")
    day = date(2026, 3, 20)
    rows = ledger.list_movements(
        world.owner, MovementFilters(date_from=day, date_to=day)
    ).rows
    assert [m.reason for m in rows] == ["late"]
    rows = ledger.list_movements(world.owner, MovementFilters(date_from=date(2026, 3, 21))).rows
    assert [m.reason for m in rows] == ["next"]


def test_ids_from_a_foreign_store_match_nothing_and_have_no_name(world):
    for filters in (
        MovementFilters(store_id=world.b.id),
        MovementFilters(product_id=world.foreign.product_id),
        MovementFilters(location_id=world.b_place.id),
        MovementFilters(actor_id=world.auditor_b.user_id),
    ):
        assert ledger.list_movements(world.owner, filters).rows == []
        assert set(ledger.filter_names(world.owner, filters).values()) == {None}
    assert list(ledger.iter_movements_csv(world.owner, MovementFilters(store_id=world.b.id))) \
        == []


def test_filter_names_name_what_the_actor_may_audit(world):
    names = ledger.filter_names(world.owner, MovementFilters(
        store_id=world.a.id, product_id=world.mug.id, location_id=world.back.id,
        actor_id=world.owner_user.id,
    ))
    assert names == {"store": "Alpha", "product": "MUG-1 — Blue Mug", "location": "BACK",
                     "actor": world.owner_user.email}


def test_keyset_pages_walk_both_ways_without_gaps_or_repeats(world, admin_actor):
    # Movements sharing one timestamp: the id breaks the tie.
    with frozen_at(at(5)):
        for _ in range(6):
            stock.adjust_stock(actor=admin_actor, entry_id=world.cap_shelf.id, delta=1,
                                   reason="same moment")
    everything = [m.id for m in ledger.list_movements(world.owner, MovementFilters()).rows]
    assert len(everything) == 13

    seen, cursors, cursor = [], [], None
    while True:
        page = ledger.list_movements(world.owner, MovementFilters(), cursor=cursor, limit=4)
        assert page.total == 13
        seen += [m.id for m in page.rows]
        cursors.append(cursor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == everything
    assert len(cursors) == 4

    # Back from the last page, page by page, to the first.
    back, cursor = [], page.prev_cursor
    while cursor is not None:
        page = ledger.list_movements(world.owner, MovementFilters(), cursor=cursor, limit=4)
        back = [m.id for m in page.rows] + back
        assert page.next_cursor is not None
        cursor = page.prev_cursor
    assert back == everything[:12]
    assert ledger.list_movements(world.owner, MovementFilters(), limit=4).prev_cursor is None


def test_a_forged_cursor_is_refused_naming_the_cursor(world):
    with pytest.raises(ValidationError) as info:
        ledger.list_movements(world.owner, MovementFilters(),
                              cursor=encode_cursor("MUG-1", 5, backwards=False))
    assert set(info.value.fields) == {"cursor"}
    with pytest.raises(ValidationError):
        ledger.list_movements(world.owner, MovementFilters(), cursor="not-a-cursor")


def test_a_huge_log_counts_up_to_a_cap(world, monkeypatch):
    monkeypatch.setattr(ledger, "COUNT_CAP", 3)
    page = ledger.list_movements(world.owner, MovementFilters(), limit=2)
    assert (page.total, page.total_capped, len(page.rows)) == (3, True, 2)


def test_csv_rows_are_every_match_newest_first(world, monkeypatch):
    monkeypatch.setattr(ledger, "CSV_BATCH", 2)  # several batches through the cursor
    filters = MovementFilters(store_id=world.a.id)
    streamed = [m.id for m in ledger.iter_movements_csv(world.owner, filters)]
    assert streamed == [m.id for m in ledger.list_movements(world.owner, filters).rows]
    typed = list(ledger.iter_movements_csv(world.owner, MovementFilters(movement_type="set")))
    assert [(m.type, m.quantity_after) for m in typed] == [("set", 6)]


def test_an_entry_history_needs_only_read_access_to_its_store(world):
    reader = world.member(world.a, "staff")
    page = ledger.entry_history(reader, world.mug_shelf.id)
    assert [m.type for m in page.rows] == ["reserved", "adjustment", "received"]
    assert page.total == 3
    for outsider, entry_id in ((world.auditor_b, world.mug_shelf.id),
                               (reader, world.foreign.id), (reader, 987_654)):
        with pytest.raises(NotFound):
            ledger.entry_history(outsider, entry_id)
        with pytest.raises(NotFound):
            ledger.entry_series(outsider, entry_id, at(0))


def test_an_entry_history_pages_by_keyset(world, admin_actor):
    for n in range(5):
        with frozen_at(at(6, n)):
            stock.adjust_stock(actor=admin_actor, entry_id=world.mug_back.id, delta=1,
                                   reason=f"r{n}")
    first = ledger.entry_history(world.owner, world.mug_back.id, limit=3)
    second = ledger.entry_history(world.owner, world.mug_back.id, cursor=first.next_cursor,
                                  limit=3)
    assert [m.reason for m in first.rows] == ["r4", "r3", "r2"]
    assert [m.type for m in second.rows] == ["adjustment", "adjustment", "set"]
    assert second.next_cursor is not None
    assert [m.quantity_after for m in second.rows] == [8, 7, 6]


def test_an_entry_history_outlives_the_entry(world, admin_actor):
    with frozen_at(at(7)):
        stock.delete_entry(actor=admin_actor, entry_id=world.mug_back.id, reason="closed")
    page = ledger.entry_history(world.owner, world.mug_back.id)
    assert [m.type for m in page.rows] == ["deleted", "set", "received"]
    assert not any(m.entry_exists for m in page.rows)
    assert page.rows[0].quantity_after == 0


def test_an_entry_without_movements_has_an_empty_history(world, make_location, make_entry):
    with frozen_at(at(0)):
        empty = make_entry(quantity=0, store=world.a, location=make_location(world.a))
    assert ledger.entry_history(world.owner, empty.id).rows == []
    assert ledger.entry_series(world.owner, empty.id, at(-30)) == []


def test_the_series_starts_with_the_quantities_carried_into_the_window(world):
    since = at(1, 12)
    points = ledger.entry_series(world.owner, world.mug_shelf.id, since)
    # Before the window: received 10, then adjusted to 8 on day 1. In it: 3 reserved.
    assert points == [(since, 8, 8), (at(2), 8, 5)]
    everything = ledger.entry_series(world.owner, world.mug_shelf.id, at(-1))
    assert everything == [(at(0), 10, 10), (at(1), 8, 8), (at(2), 8, 5)]


def test_the_series_keeps_the_latest_points_when_there_are_too_many(world, monkeypatch):
    monkeypatch.setattr(ledger, "SERIES_CAP", 2)
    points = ledger.entry_series(world.owner, world.mug_shelf.id, at(-1))
    assert [p.at for p in points] == [at(1), at(2)]
