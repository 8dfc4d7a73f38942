from datetime import datetime, timedelta

import pytest

from app.clock import frozen_at
from app.services import stock
from app.services.errors import InsufficientStock, ReservationNotActive, ValidationError

T0 = datetime(2030, 10, 1, 12, 0)
LATER = T0 + timedelta(minutes=30)


def _hold(actor, entry, quantity, *, minutes=15, order_ref="ORD"):
    with frozen_at(T0):
        return stock.reserve_stock(
            actor=actor, entry_id=entry.id, quantity=quantity, order_ref=order_ref,
            expires_at=T0 + timedelta(minutes=minutes) if minutes is not None else None,
        ).reservation_ids[0]


def test_expiring_returns_the_units_and_names_the_expiry_in_the_ledger(
    make_entry, admin_actor, holds, ledger, trail, stored
):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 4, order_ref="ORD-7")

    with frozen_at(LATER):
        expired = stock.expire_reservations()

    assert expired == 1
    [hold] = holds(entry.id)
    assert (hold["status"], hold["open_quantity"], hold["quantity"], hold["closed_at"]) == (
        "expired", 0, 4, LATER
    )
    assert stored(entry.id)["reserved_quantity"] == 0
    assert trail(entry.id)[-1] == ("released", 0, -4, 10, 0)
    row = ledger(entry.id)[-1]
    assert (row["actor_id"], row["actor_name"], row["reason"], row["reference"],
            row["reservation_id"], row["store_id"], row["created_at"]) == (
        None, "system:expiry", "Reservation expired", "ORD-7", hold_id, entry.store_id, LATER
    )


def test_expiring_twice_changes_nothing_the_second_time(make_entry, admin_actor, snapshot):
    entry = make_entry(quantity=10)
    _hold(admin_actor, entry, 4)
    with frozen_at(LATER):
        assert stock.expire_reservations() == 1
    before = snapshot()

    with frozen_at(LATER + timedelta(hours=1)):
        assert stock.expire_reservations() == 0

    assert snapshot() == before


def test_only_holds_past_their_expiry_are_retired(make_entry, admin_actor, holds, stored):
    entry = make_entry(quantity=20)
    due = _hold(admin_actor, entry, 2, minutes=10)
    on_the_dot = _hold(admin_actor, entry, 3, minutes=30)
    later = _hold(admin_actor, entry, 4, minutes=31)
    forever = _hold(admin_actor, entry, 5, minutes=None)

    with frozen_at(LATER):
        assert stock.expire_reservations() == 2

    assert {h["id"]: h["status"] for h in holds(entry.id)} == {
        due: "expired", on_the_dot: "expired", later: "active", forever: "active",
    }
    assert stored(entry.id)["reserved_quantity"] == 9


def test_nothing_expires_before_its_time(make_entry, admin_actor, snapshot):
    entry = make_entry(quantity=10)
    _hold(admin_actor, entry, 4, minutes=15)
    before = snapshot()

    with frozen_at(T0 + timedelta(minutes=14, seconds=59)):
        assert stock.expire_reservations() == 0

    assert snapshot() == before


def test_expire_accepts_an_explicit_moment(make_entry, admin_actor, holds):
    entry = make_entry(quantity=10)
    _hold(admin_actor, entry, 4, minutes=15)

    assert stock.expire_reservations(now=T0 + timedelta(minutes=1)) == 0
    assert stock.expire_reservations(now=LATER) == 1
    assert [h["status"] for h in holds(entry.id)] == ["expired"]


def test_expire_sweeps_every_entry_whatever_the_batch_size(
    store, location, make_product, make_entry, admin_actor, stored
):
    entries = [make_entry(quantity=5, location=location, product=make_product(store))
               for _ in range(5)]
    for entry in entries:
        _hold(admin_actor, entry, 2)
        _hold(admin_actor, entry, 1)

    with frozen_at(LATER):
        assert stock.expire_reservations(batch_size=2) == 10

    assert [stored(e.id)["reserved_quantity"] for e in entries] == [0] * 5


def test_reserve_retires_expired_holds_when_otherwise_short(
    make_entry, admin_actor, holds, trail, ledger
):
    entry = make_entry(quantity=10)
    stale = _hold(admin_actor, entry, 8)

    with frozen_at(LATER):
        change = stock.reserve_stock(
            actor=admin_actor, entry_id=entry.id, quantity=5, order_ref="NEW"
        )

    assert (change.entry.quantity, change.entry.reserved_quantity) == (10, 5)
    assert [(h["id"], h["status"]) for h in holds(entry.id)] == [
        (stale, "expired"), (change.reservation_ids[0], "active"),
    ]
    assert trail(entry.id)[-2:] == [("released", 0, -8, 10, 0), ("reserved", 0, 5, 10, 5)]
    assert ledger(entry.id)[-2]["actor_name"] == "system:expiry"


def test_reserve_leaves_expired_holds_alone_when_stock_suffices(
    make_entry, admin_actor, holds
):
    entry = make_entry(quantity=10)
    stale = _hold(admin_actor, entry, 3)

    with frozen_at(LATER):
        stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=2, order_ref="N")

    assert holds(entry.id)[0]["id"] == stale
    assert holds(entry.id)[0]["status"] == "active"


def test_reserve_still_short_after_retiring_expired_holds_changes_nothing(
    make_entry, admin_actor, refused
):
    entry = make_entry(quantity=10)
    _hold(admin_actor, entry, 4)
    _hold(admin_actor, entry, 5, minutes=None)

    with frozen_at(LATER), refused(
        InsufficientStock, "Insufficient stock available. Available: 5, Requested: 7"
    ):
        stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=7, order_ref="N")


def test_an_order_retires_expired_holds_when_otherwise_short(
    store, make_entry, admin_actor, holds, trail
):
    entry = make_entry(quantity=10, store=store)
    stale = _hold(admin_actor, entry, 6)
    line = {"product_id": entry.product_id, "location_id": entry.location_id}

    with frozen_at(LATER):
        change = stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="NEW",
            lines=[{**line, "quantity": 3, "line_ref": "a"}, {**line, "quantity": 3,
                                                               "line_ref": "b"}],
        )

    assert change.entries[0].reserved_quantity == 6
    assert [(h["id"], h["status"]) for h in holds(entry.id)][0] == (stale, "expired")
    # The ledger replays in order: the first line, the expiry it needed, the second line.
    assert trail(entry.id)[-3:] == [
        ("reserved", 0, 3, 10, 9), ("released", 0, -6, 10, 3), ("reserved", 0, 3, 10, 6),
    ]


def test_an_expired_reservation_cannot_be_released_or_fulfilled(
    make_entry, admin_actor, refused
):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 4)
    with frozen_at(LATER):
        stock.expire_reservations()

    for close in (stock.release_stock, stock.fulfill_stock):
        with refused(ReservationNotActive, f"Reservation {hold_id} is expired, not active"):
            close(actor=admin_actor, reservation_id=hold_id)


def test_a_keyed_hold_retried_after_its_expiry_replays_instead_of_failing(
    make_entry, admin_actor, stored
):
    entry = make_entry(quantity=10)
    request = dict(
        actor=admin_actor, entry_id=entry.id, quantity=3, order_ref="ORD-R",
        expires_at=T0 + timedelta(minutes=15), idempotency_key="hold-once",
    )
    with frozen_at(T0):
        first = stock.reserve_stock(**request)
    with frozen_at(LATER):  # the client's retry arrives after the hold's expiry
        again = stock.reserve_stock(**request)

    assert again.replayed and not first.replayed
    assert (again.entries, again.movement_ids, again.reservation_ids) == (
        first.entries, first.movement_ids, first.reservation_ids
    )
    assert stored(entry.id)["reserved_quantity"] == 3


def test_a_keyed_order_retried_after_its_expiry_replays_instead_of_failing(
    make_entry, admin_actor, store, stored
):
    """The idempotency record answers before the expiry is checked: the retry gets the
    first result, not "Must be in the future"."""
    entry = make_entry(quantity=10, store=store)
    request = dict(
        actor=admin_actor, store_id=store.id, order_ref="ORD-R", idempotency_key="order-once",
        expires_at=T0 + timedelta(minutes=15),
        lines=[{"product_id": entry.product_id, "location_id": entry.location_id,
                "quantity": 4, "line_ref": "l1"}],
    )
    with frozen_at(T0):
        first = stock.reserve_order(**request)
    with frozen_at(LATER):
        again = stock.reserve_order(**request)

    assert again.replayed and not first.replayed
    assert again.to_json() == first.to_json()
    assert stored(entry.id)["reserved_quantity"] == 4


def test_a_new_hold_with_a_past_expiry_is_refused_and_changes_nothing(
    make_entry, admin_actor, stored, snapshot
):
    entry = make_entry(quantity=10)
    before = snapshot()
    with frozen_at(LATER):
        for key in (None, "late-key"):
            with pytest.raises(ValidationError) as refused:
                stock.reserve_stock(
                    actor=admin_actor, entry_id=entry.id, quantity=3, order_ref="ORD-L",
                    expires_at=T0, idempotency_key=key,
                )
            assert refused.value.fields == {"expires_at": "Must be in the future."}
    assert snapshot() == before
