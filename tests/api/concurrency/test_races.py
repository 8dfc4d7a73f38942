"""Races through the API, on SQLite and PostgreSQL: sixteen clients at once, each with its
own test client (so its own app context, session and connection)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from oracle import assert_invariants
from sqlalchemy import func, select

from app.extensions import db
from app.models import IdempotencyRecord, Reservation, StockMovement
from app.services import stock

from ..helpers import ApiClient

THREADS = 16
JOIN_TIMEOUT_S = 120


def together(app: Any, token: str, work: Callable[[ApiClient, int], list[Any]]) -> list[Any]:
    """Run `work(client, thread)` in THREADS threads released at once; every response and
    every exception comes back, none is swallowed."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = ApiClient(app.test_client(), token)
        try:
            barrier.wait(timeout=30)
            out = work(client, n)
        except BaseException as exc:  # judged by the test
            out = [exc]
        with lock:
            results.extend(out)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a client never finished"
    return results


def count(model: Any, *where: Any) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)))


def statuses(responses: list[Any]) -> Counter:
    return Counter(r.status_code if hasattr(r, "status_code") else repr(r) for r in responses)


@pytest.fixture
def stocked(make_store, make_location, make_product, make_entry, make_user, token_for):
    store = make_store()
    location = make_location(store, "MAIN")
    product = make_product(store, "RACE-1")
    entry = make_entry(store=store, location=location, product=product, quantity=100)
    token = token_for(make_user(role="owner", store=store))
    return store, product, entry, token


def test_sixteen_concurrent_requests_with_one_key_have_one_effect(app, stocked, read_entry):
    _, _, entry, token = stocked
    body = {"entry_id": entry.id, "quantity": 7, "order_ref": "ORD-K", "line_ref": "L1"}
    responses = together(app, token, lambda client, n: [
        client.post("/api/v1/store/inventory/reserve", body, key="checkout-attempt-1")
    ])
    assert statuses(responses) == {200: THREADS}, statuses(responses)
    bodies = {r.get_data() for r in responses}
    assert len(bodies) == 1, "every repeat replays the one first response"
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == THREADS - 1
    assert read_entry(entry.id).reserved_quantity == 7
    assert count(Reservation, Reservation.entry_id == entry.id) == 1
    assert count(StockMovement, StockMovement.entry_id == entry.id,
                 StockMovement.type == "reserved") == 1
    assert count(IdempotencyRecord) == 1
    assert_invariants()


def test_no_oversell_when_sixteen_clients_race_for_the_stock(app, stocked, read_entry):
    _, _, entry, token = stocked
    body = {"entry_id": entry.id, "quantity": 1, "order_ref": "RACE"}
    responses = together(app, token, lambda client, n: [
        client.post("/api/v1/store/inventory/reserve", {**body, "line_ref": f"{n}-{i}"})
        for i in range(25)
    ])
    seen = statuses(responses)
    assert seen == {200: 100, 409: 300}, seen
    refusals = {r.get_json()["error"]["code"] for r in responses if r.status_code == 409}
    assert refusals == {"insufficient_stock"}
    current = read_entry(entry.id)
    assert (current.quantity, current.reserved_quantity) == (100, 100)
    assert_invariants()


def slow_hold_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between reading an order's holds and reserving, so that without
    the entry lock every concurrent repeat would read "no hold yet"."""
    read = stock.orders._line_holds

    def slowly(*args: Any) -> Any:
        held = read(*args)
        time.sleep(0.05)
        return held

    monkeypatch.setattr(stock.orders, "_line_holds", slowly)


def test_concurrent_order_reserves_of_one_order_hold_its_lines_once(
    app, stocked, read_entry, monkeypatch
):
    """No key: the order's own holds make the sixteen repeats one reservation."""
    slow_hold_reads(monkeypatch)
    _, product, entry, token = stocked
    body = {"lines": [{"line_ref": "L1", "product_id": product.id, "location": "MAIN",
                       "quantity": 5}]}
    responses = together(app, token, lambda client, n: [
        client.post("/api/v1/orders/ORD-ONCE/reserve", body)
    ])
    assert statuses(responses) == {200: THREADS}, statuses(responses)
    lines = Counter(r.get_json()["details"]["lines"][0]["status"] for r in responses)
    assert lines == {"reserved": 1, "already_reserved": THREADS - 1}
    assert read_entry(entry.id).reserved_quantity == 5
    assert count(Reservation, Reservation.order_ref == "ORD-ONCE") == 1
    assert_invariants()


def test_orders_racing_for_the_last_units_never_oversell(app, stocked, read_entry):
    """Sixteen orders of 2 lines each (4 + 3 units) on 100 units: at most 14 fit, and an
    order that does not fit reserves nothing."""
    _, product, entry, token = stocked
    lines = [
        {"line_ref": "A", "product_id": product.id, "location": "MAIN", "quantity": 4},
        {"line_ref": "B", "product_id": product.id, "location": "MAIN", "quantity": 3},
    ]

    def order(client: ApiClient, n: int) -> list[Any]:
        return [client.post(f"/api/v1/orders/ORD-{n}/reserve", {"lines": lines})]

    responses = together(app, token, order)
    seen = statuses(responses)
    assert seen == {200: 14, 409: 2}, seen
    assert read_entry(entry.id).reserved_quantity == 98
    holds = count(Reservation, Reservation.status == "active")
    assert holds == 28
    assert_invariants()


def test_the_order_race_needs_the_lock(app, stocked, backend, monkeypatch):
    """The control: without locking the entries before reading the order's holds,
    concurrent repeats on PostgreSQL each see no hold and reserve the line again. (SQLite
    serialises whole write transactions, so there the lock is a no-op.)"""
    if backend != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises the read with the write")
    _, product, entry, token = stocked
    slow_hold_reads(monkeypatch)
    monkeypatch.setattr(stock.orders, "lock_entries", lambda session, ids: None)
    body = {"lines": [{"line_ref": "L1", "product_id": product.id, "location": "MAIN",
                       "quantity": 1}]}
    together(app, token, lambda client, n: [client.post("/api/v1/orders/ORD-NAIVE/reserve",
                                                        body)])
    holds = count(Reservation, Reservation.order_ref == "ORD-NAIVE")
    assert holds > 1, "the unlocked version did not double-reserve: the race test proves nothing"
