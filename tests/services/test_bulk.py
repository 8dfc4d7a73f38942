"""Bulk adjust and bulk threshold: preview, all-or-nothing apply, one ledger row per entry
sharing a batch reference, the selection's scope, the cap and idempotent repeats."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, StockMovement
from app.permissions import ADJUST, RESERVE, THRESHOLD, system_actor
from app.services import stock
from app.services.errors import (
    BulkRefused,
    IdempotencyKeyReused,
    InsufficientStock,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from app.services.queries import EntryFilters

movements = StockMovement.__table__
entries = InventoryEntry.__table__


@pytest.fixture
def three(make_entry, store, location, make_product):
    """Three entries of one store at one location: 10 on hand (2 reserved), 5, and 1."""
    return [
        make_entry(quantity=10, reserved=2, store=store, location=location),
        make_entry(quantity=5, store=store, location=location),
        make_entry(quantity=1, store=store, location=location),
    ]


def ids(rows) -> list[int]:
    return [r.id for r in rows]


def batch_rows(batch_ref: str) -> list[dict[str, Any]]:
    rows = [dict(r._mapping) for r in db.session.execute(
        select(movements).where(movements.c.batch_ref == batch_ref).order_by(movements.c.id)
    )]
    db.session.rollback()
    return rows


# --------------------------------------------------------------------------- adjust


def test_bulk_adjust_changes_every_entry_with_one_ledger_row_each(three, owner, stored):
    chosen = stock.selection(entry_ids=ids(three))

    change = stock.bulk_adjust(actor=owner, selection=chosen, delta=4, reason="Delivery",
                              reference="PO-7")

    assert [stored(e.id)["quantity"] for e in three] == [14, 9, 5]
    assert [stored(e.id)["version"] for e in three] == [e.version + 1 for e in three]
    assert change.details["count"] == 3
    assert (change.details["on_hand_before"], change.details["on_hand_after"]) == (16, 28)
    rows = batch_rows(change.details["batch_ref"])
    assert [(r["entry_id"], r["type"], r["quantity_delta"], r["quantity_after"],
             r["reserved_after"], r["reason"], r["reference"], r["actor_id"]) for r in rows] == [
        (three[0].id, "adjustment", 4, 14, 2, "Delivery", "PO-7", owner.user_id),
        (three[1].id, "adjustment", 4, 9, 0, "Delivery", "PO-7", owner.user_id),
        (three[2].id, "adjustment", 4, 5, 0, "Delivery", "PO-7", owner.user_id),
    ]


def test_preview_shows_before_after_and_every_problem_and_changes_nothing(
    three, owner, snapshot
):
    before = snapshot()
    preview = stock.preview_bulk_adjust(
        actor=owner, selection=stock.selection(entry_ids=ids(three)), delta=-3, reason="Damaged"
    )

    assert snapshot() == before
    assert [(line.entry_id, line.before, line.after) for line in preview.lines] == [
        (three[0].id, 10, 7), (three[1].id, 5, 2), (three[2].id, 1, -2),
    ]
    assert [(line.entry_id, line.problem) for line in preview.problems] == [
        (three[2].id, "Insufficient stock available. Available: 1, Requested: 3"),
    ]
    assert preview.lines[1].status_after == "in_stock"


def test_one_failing_entry_applies_nothing_and_names_it(three, owner, refused):
    with refused(BulkRefused) as info:
        stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=ids(three)),
                         delta=-6, reason="Write-off")

    message = str(info.value)
    assert message.startswith("Nothing was applied: 2 entries would break the rules.")
    assert "Insufficient stock available. Available: 5, Requested: 6" in message
    assert "Insufficient stock available. Available: 1, Requested: 6" in message
    assert [p.entry_id for p in info.value.problems] == [three[1].id, three[2].id]


def test_reserved_units_count_against_a_removal(make_entry, store, owner, refused):
    held = make_entry(quantity=10, reserved=8, store=store)

    with refused(BulkRefused) as info:
        stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=[held.id]),
                         delta=-3, reason="Count")
    assert "Available: 2, Requested: 3" in str(info.value)


def test_above_the_limit_is_a_problem_too(make_entry, store, owner, refused):
    big = make_entry(quantity=999_999_999, store=store)

    with refused(BulkRefused) as info:
        stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=[big.id]),
                         delta=2, reason="Count")
    assert "On hand would exceed the maximum of 1,000,000,000." in str(info.value)


@pytest.mark.parametrize(
    ("delta", "reason", "fields"),
    [
        (0, "x", {"delta": "Must not be zero."}),
        (1, "  ", {"reason": "This field is required."}),
        (1, "x" * 201, {"reason": "Must be at most 200 characters."}),
        ("1", "x", {"delta": "Enter a whole number."}),
        (2_000_000_000, "x", {"delta": "Must be between -1,000,000,000 and 1,000,000,000."}),
    ],
)
def test_bad_values_are_refused_by_field(three, owner, refused, delta, reason, fields):
    with refused(ValidationError, fields=fields):
        stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=ids(three)),
                         delta=delta, reason=reason)


def test_an_empty_or_malformed_selection_names_the_selection():
    with pytest.raises(ValidationError) as empty:
        stock.selection(entry_ids=[])
    assert empty.value.fields == {"selection": "Select at least one entry."}
    with pytest.raises(ValidationError) as junk:
        stock.selection(entry_ids=[1, "2", True])
    assert junk.value.fields == {
        "selection": "The selection holds something that is not an entry."
    }


# --------------------------------------------------------------------------- by filter


def test_all_matching_the_filter_is_read_again_when_applied(
    make_entry, store, location, owner, stored
):
    low = make_entry(quantity=2, threshold=5, store=store, location=location)
    fine = make_entry(quantity=50, threshold=5, store=store, location=location)
    chosen = stock.selection(filters=EntryFilters(status="low_stock"))
    preview = stock.preview_bulk_adjust(actor=owner, selection=chosen, delta=10, reason="Top up")
    assert [line.entry_id for line in preview.lines] == [low.id]

    # Between preview and apply another entry drops to low stock: it is included.
    stock.adjust_stock(actor=owner, entry_id=fine.id, delta=-47, reason="Sold")
    change = stock.bulk_adjust(actor=owner, selection=chosen, delta=10, reason="Top up")

    assert change.details["count"] == 2
    assert (stored(low.id)["quantity"], stored(fine.id)["quantity"]) == (12, 13)


def test_a_filter_never_reaches_stores_without_the_permission(
    make_store, make_location, make_entry, member, stored
):
    mine, theirs, read_only = make_store(), make_store(), make_store()
    actor_user = member(mine, "owner")
    # The same person is read-only staff in a third store.
    from app.models import Membership
    db.session.add(Membership(user_id=actor_user.user_id, store_id=read_only.id, role="staff"))
    db.session.commit()
    from app.permissions import actor_for_user
    actor = actor_for_user(actor_user.user_id)

    ours = make_entry(quantity=5, store=mine)
    foreign = make_entry(quantity=5, store=theirs)
    looked_at = make_entry(quantity=5, store=read_only)

    chosen = stock.selection(filters=EntryFilters())
    assert stock.count_matching(actor, EntryFilters(), ADJUST) == 1
    change = stock.bulk_adjust(actor=actor, selection=chosen, delta=1, reason="All of mine")

    assert change.details["count"] == 1
    assert [stored(e.id)["quantity"] for e in (ours, foreign, looked_at)] == [6, 5, 5]


def test_a_filter_that_matches_nothing_changeable_says_so(make_entry, store, refused, member):
    make_entry(quantity=5, store=store)
    viewer = member(store, "staff")

    with refused(ValidationError, fields={
        "selection": "No entries you may change match these filters."
    }):
        stock.bulk_adjust(actor=viewer, selection=stock.selection(filters=EntryFilters()),
                         delta=1, reason="x")


# --------------------------------------------------------------------------- scope


def test_a_foreign_entry_id_is_not_found_and_nothing_changes(
    three, make_entry, make_store, owner, refused
):
    foreign = make_entry(quantity=50, store=make_store())

    with refused(NotFound) as info:
        stock.bulk_adjust(actor=owner,
                          selection=stock.selection(entry_ids=[*ids(three), foreign.id]),
                          delta=1, reason="x")
    assert str(info.value) == (
        f"1 selected entry was not found (id {foreign.id}). Nothing was changed."
    )


def test_a_missing_id_reads_the_same_as_a_foreign_one(three, owner, refused):
    with refused(NotFound) as info:
        stock.preview_bulk_adjust(actor=owner, selection=stock.selection(entry_ids=[999_999]),
                                 delta=1, reason="x")
    assert str(info.value) == "1 selected entry was not found (id 999999). Nothing was changed."


@pytest.mark.parametrize(("grants", "allowed"), [((), False), ((RESERVE,), False),
                                                 ((ADJUST,), True)])
def test_staff_need_inventory_adjust(three, store, member, refused, grants, allowed, stored):
    staff = member(store, "staff", grants=grants)
    chosen = stock.selection(entry_ids=ids(three[:2]))
    if allowed:
        stock.bulk_adjust(actor=staff, selection=chosen, delta=1, reason="x")
        assert stored(three[0].id)["quantity"] == 11
    else:
        with refused(PermissionDenied):
            stock.bulk_adjust(actor=staff, selection=chosen, delta=1, reason="x")


# --------------------------------------------------------------------------- cap


def test_more_than_the_cap_is_refused_with_the_count(
    three, owner, refused, monkeypatch
):
    monkeypatch.setattr(stock.bulk, "MAX_BULK", 2)
    message = ("At most 2 entries per bulk action; this selection has 3. "
               "Narrow the filters and try again.")
    with pytest.raises(ValidationError) as chosen:
        stock.selection(entry_ids=ids(three))
    assert chosen.value.fields == {"selection": message}

    with refused(ValidationError, fields={"selection": message}):
        stock.bulk_adjust(actor=owner, selection=stock.selection(filters=EntryFilters()),
                         delta=1, reason="x")


def test_the_cap_is_five_thousand():
    assert stock.MAX_BULK == 5_000


# --------------------------------------------------------------------------- repeats


def test_a_repeat_with_the_same_key_applies_once(three, owner, stored):
    chosen = stock.selection(entry_ids=ids(three))
    first = stock.bulk_adjust(actor=owner, selection=chosen, delta=2, reason="x",
                             idempotency_key="bulk-1")
    again = stock.bulk_adjust(actor=owner, selection=chosen, delta=2, reason="x",
                             idempotency_key="bulk-1")

    assert again.replayed and again.details == first.details
    assert [stored(e.id)["quantity"] for e in three] == [12, 7, 3]
    assert len(batch_rows(first.details["batch_ref"])) == 3


def test_the_same_key_for_another_request_is_refused(three, owner, refused):
    chosen = stock.selection(entry_ids=ids(three))
    stock.bulk_adjust(actor=owner, selection=chosen, delta=2, reason="x", idempotency_key="k")

    with refused(IdempotencyKeyReused):
        stock.bulk_adjust(actor=owner, selection=chosen, delta=3, reason="x",
                         idempotency_key="k")


def test_a_refused_bulk_leaves_its_key_free_for_a_corrected_retry(three, owner, stored):
    chosen = stock.selection(entry_ids=ids(three))
    with pytest.raises(BulkRefused):
        stock.bulk_adjust(actor=owner, selection=chosen, delta=-5, reason="x",
                         idempotency_key="retry")
    stock.bulk_adjust(actor=owner, selection=chosen, delta=-1, reason="x",
                     idempotency_key="retry-2")
    assert [stored(e.id)["quantity"] for e in three] == [9, 4, 0]


# --------------------------------------------------------------------------- threshold


def test_bulk_threshold_sets_every_entry_without_ledger_rows(three, owner, stored, ledger):
    trails = {e.id: ledger(e.id) for e in three}
    preview = stock.preview_bulk_threshold(
        actor=owner, selection=stock.selection(entry_ids=ids(three)), low_stock_threshold=6
    )
    assert [(line.before, line.after, line.status_after) for line in preview.lines] == [
        (0, 6, "in_stock"), (0, 6, "low_stock"), (0, 6, "low_stock"),
    ]

    change = stock.bulk_threshold(actor=owner, selection=stock.selection(entry_ids=ids(three)),
                                 low_stock_threshold=6)

    batch = change.details.pop("batch_ref")
    assert change.details == {"count": 3, "changed": 3, "low_stock_threshold": 6}
    assert len(batch) == 32
    for entry in three:
        row = stored(entry.id)
        assert (row["low_stock_threshold"], row["version"]) == (6, entry.version)
        assert ledger(entry.id) == trails[entry.id]


def test_bulk_threshold_needs_inventory_threshold(three, store, member, refused):
    clerk = member(store, "staff", grants=(ADJUST,))
    with refused(PermissionDenied):
        stock.bulk_threshold(actor=clerk, selection=stock.selection(entry_ids=ids(three)),
                            low_stock_threshold=3)
    keeper = member(store, "staff", grants=(THRESHOLD,))
    stock.bulk_threshold(actor=keeper, selection=stock.selection(entry_ids=ids(three)),
                        low_stock_threshold=3)


def test_a_negative_threshold_is_refused(three, owner, refused):
    with refused(ValidationError, fields={"low_stock_threshold": "Must not be negative."}):
        stock.bulk_threshold(actor=owner, selection=stock.selection(entry_ids=ids(three)),
                            low_stock_threshold=-1)


# --------------------------------------------------------------------------- concurrency


def naive_bulk_adjust(*, actor: Any, entry_ids: list[int], delta: int, reason: str) -> None:
    """The bug the race below exists to catch: read every entry, check in Python, write
    absolute values, in a plain transaction (deferred on SQLite, READ COMMITTED on
    PostgreSQL), without locks or guards."""
    session = db.session
    try:
        rows = session.execute(
            select(entries).where(entries.c.id.in_(entry_ids)).order_by(entries.c.id)
        ).all()
        if any(r.quantity + delta < r.reserved_quantity for r in rows):
            raise BulkRefused([])
        for r in rows:
            session.execute(
                entries.update().where(entries.c.id == r.id)
                .values(quantity=r.quantity + delta, version=r.version + 1)
            )
            session.execute(movements.insert().values(
                store_id=r.store_id, entry_id=r.id, product_id=r.product_id,
                location_id=r.location_id, type="adjustment", quantity_delta=delta,
                reserved_delta=0, quantity_after=r.quantity + delta,
                reserved_after=r.reserved_quantity, reason=reason, actor_name=actor.name,
            ))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def real_bulk_adjust(*, actor: Any, entry_ids: list[int], delta: int, reason: str) -> None:
    stock.bulk_adjust(actor=actor, selection=stock.selection(entry_ids=entry_ids), delta=delta,
                     reason=reason)


def race_bulk_against_reserves(app, targets, on_hand: int, adjust) -> list[str]:
    """Two workers take 3 units from every entry at once while six reserve single units at
    random; returns every way the outcome breaks the rules."""
    target_ids = ids(targets)
    reserved = {i: 0 for i in target_ids}
    removals: list[int] = []
    unexpected: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def remover(n: int) -> None:
        actor = system_actor(f"bulk-{n}")
        with app.app_context():
            barrier.wait(timeout=30)
            for _ in range(8):
                try:
                    adjust(actor=actor, entry_ids=target_ids, delta=-3, reason="Shrinkage")
                except BulkRefused:
                    continue
                except Exception as exc:  # judged below
                    with lock:
                        unexpected.append(exc)
                else:
                    with lock:
                        removals.append(n)

    def reserver(n: int) -> None:
        actor = system_actor(f"reserve-{n}")
        rng = random.Random(n)
        with app.app_context():
            barrier.wait(timeout=30)
            for k in range(20):
                entry_id = rng.choice(target_ids)
                try:
                    stock.reserve_stock(actor=actor, entry_id=entry_id, quantity=1,
                                            order_ref=f"O-{n}-{k}")
                except InsufficientStock:
                    continue
                except Exception as exc:  # judged below
                    with lock:
                        unexpected.append(exc)
                else:
                    with lock:
                        reserved[entry_id] += 1

    workers = [threading.Thread(target=remover, args=(n,)) for n in range(2)]
    workers += [threading.Thread(target=reserver, args=(n,)) for n in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not any(w.is_alive() for w in workers), "a worker is stuck"
    problems = [f"unexpected {exc!r}" for exc in unexpected[:3]]
    db.session.rollback()
    for entry_id in target_ids:
        row = db.session.execute(
            select(entries.c.quantity, entries.c.reserved_quantity).where(entries.c.id == entry_id)
        ).one()
        if row.quantity != on_hand - 3 * len(removals):
            problems.append(f"entry {entry_id}: on hand {row.quantity}, expected "
                            f"{on_hand - 3 * len(removals)}")
        if row.reserved_quantity != reserved[entry_id]:
            problems.append(f"entry {entry_id}: {row.reserved_quantity} reserved, "
                            f"{reserved[entry_id]} granted")
        if not 0 <= row.reserved_quantity <= row.quantity:
            problems.append(f"entry {entry_id}: oversold")
    db.session.rollback()
    return problems


def test_concurrent_bulk_removals_and_reserves_never_oversell(app, make_entry, store, location):
    targets = [make_entry(quantity=30, store=store, location=location) for _ in range(4)]
    assert race_bulk_against_reserves(app, targets, 30, real_bulk_adjust) == []


def test_the_race_catches_a_naive_bulk_adjust(app, make_entry, store, location,
                                              corrupts_ledger):
    targets = [make_entry(quantity=30, store=store, location=location) for _ in range(4)]
    problems = race_bulk_against_reserves(app, targets, 30, naive_bulk_adjust)
    assert problems != []
