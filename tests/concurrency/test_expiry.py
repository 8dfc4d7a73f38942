"""Expiry, in the concurrency context: a sweep racing releases of the same holds.

Each hold ends exactly once, released or expired; units come back to available; sweeping
again changes nothing; a release that loses the race is told the hold is closed.
(Expiry in depth is covered by the service tests.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from oracle import assert_invariants, committed, entry_row, ledger_rows
from sqlalchemy import select, text

from app.clock import frozen_at, utcnow
from app.models import Reservation
from app.permissions import system_actor
from app.services import stock
from app.services.errors import ReservationNotActive

from .harness import hammer, summary

THREADS = 16
ROUNDS = 3


def statuses() -> dict[int, str]:
    return {r.id: r.status for r in committed(select(Reservation.id, Reservation.status))}


def test_sweep_racing_releases_ends_each_hold_once(app, make_entry, admin_actor):
    entry = make_entry(quantity=100)
    start = utcnow()
    with frozen_at(start):
        expiring = [
            stock.reserve_stock(
                actor=admin_actor, entry_id=entry.id, quantity=2, order_ref=f"EXP-{n}",
                expires_at=start + timedelta(hours=1),
            ).reservation_ids[0]
            for n in range(30)
        ]
        lasting = [
            stock.reserve_stock(
                actor=admin_actor, entry_id=entry.id, quantity=1, order_ref=f"KEEP-{n}",
            ).reservation_ids[0]
            for n in range(20)
        ]
    # Workers 1–15 release 45 holds (26 expiring ones, racing the sweep, and 19 lasting
    # ones); 4 expiring and 1 lasting hold are left alone. Worker 0 sweeps every round.
    targets = expiring[:26] + lasting[:19]
    ledger_before = ledger_rows()

    def call(thread: int, n: int) -> tuple[str, int]:
        if thread == 0:
            return "sweep", stock.expire_reservations()
        hold = targets[(thread - 1) * ROUNDS + n]
        stock.release_stock(actor=system_actor(f"clerk-{thread}"), reservation_id=hold)
        return "release", hold

    with frozen_at(start + timedelta(hours=2)):
        outcomes = hammer(app, THREADS, ROUNDS, call)

        refused = outcomes.errors_of(ReservationNotActive)
        assert len(refused) == len(outcomes.errors), summary(outcomes)
        released = {value for kind, value in outcomes.values if kind == "release"}
        swept = sum(value for kind, value in outcomes.values if kind == "sweep")
        final = statuses()
        assert {final[h] for h in lasting[:19]} == {"released"}
        assert final[lasting[19]] == "active"
        for hold in expiring:
            assert final[hold] == ("released" if hold in released else "expired")
        assert swept == sum(s == "expired" for s in final.values())
        assert len(refused) == len(targets) - len(released)  # only holds the sweep took
        assert all("expired" in e.message for e in refused)
        after = entry_row(entry.id)
        assert (after.quantity, after.reserved_quantity) == (100, 1)
        assert ledger_rows() - ledger_before == len(released) + swept

        # Sweeping again finds nothing, writes nothing, and leaves the entry's version alone.
        assert stock.expire_reservations() == 0
        assert stock.expire_reservations() == 0
        assert entry_row(entry.id) == after
        assert ledger_rows() - ledger_before == len(released) + swept
    assert_invariants()


def wait_until_blocked(backend: str) -> None:
    """Give the second request time to read the hold and queue for the entry's lock."""
    if backend != "postgresql":
        time.sleep(0.3)  # SQLite: it waits in BEGIN IMMEDIATE, which nothing can observe
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (row,) = committed(query)
        if row[0]:
            return
        time.sleep(0.01)
    raise AssertionError("the second request never waited for the entry")


@pytest.mark.parametrize(
    ("closer", "pause_in", "status"),
    [pytest.param("sweep", "expire_entry", "expired", id="sweep"),
     pytest.param("release", "_take_from_hold", "released", id="release")],
)
def test_a_hold_closed_while_a_release_waits_is_reported_as_closed(
    app, make_entry, admin_actor, backend, monkeypatch, closer, pause_in, status
):
    entry = make_entry(quantity=10)
    start = utcnow()
    with frozen_at(start):
        hold = stock.reserve_stock(
            actor=admin_actor, entry_id=entry.id, quantity=2, order_ref="ORDER-1",
            expires_at=start + timedelta(hours=1),
        ).reservation_ids[0]
    # The first request closes the hold and then stalls, holding the entry's lock, until
    # the second one (a release of the same hold) has read it as active and queued.
    closed, go = threading.Event(), threading.Event()
    original = getattr(stock.holds, pause_in)

    def stalling(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not closed.is_set():
            closed.set()
            go.wait(10)
        return result

    monkeypatch.setattr(stock.holds, pause_in, stalling)
    first = (
        stock.expire_reservations if closer == "sweep"
        else partial(stock.release_stock, actor=admin_actor, reservation_id=hold)
    )
    second = partial(stock.release_stock, actor=system_actor("clerk"), reservation_id=hold)
    ledger_before = ledger_rows()

    with frozen_at(start + timedelta(hours=2)), ThreadPoolExecutor(2) as pool:
        closing = pool.submit(in_context, app, first)
        assert closed.wait(10)
        waiting = pool.submit(in_context, app, second)
        wait_until_blocked(backend)
        go.set()
        closing.result(10)
        with pytest.raises(ReservationNotActive) as refused:
            waiting.result(10)

    assert refused.value.message == f"Reservation {hold} is {status}, not active"
    assert statuses()[hold] == status
    assert entry_row(entry.id).reserved_quantity == 0
    assert ledger_rows() - ledger_before == 1
    assert_invariants()


def in_context(app: Any, call: Callable[[], Any]) -> Any:
    with app.app_context():
        return call()
