"""Multi-line orders at once: opposite line orders never deadlock, and an order is reserved
whole or not at all, even when its lines race other orders for the last units."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

from oracle import assert_invariants, entry_row, ledger_rows

from app.models import Store
from app.permissions import system_actor
from app.services import stock
from app.services.errors import OrderShort

from .harness import hammer, summary

THREADS = 16
ROUNDS = 25


def quantities(*entry_ids: int) -> list[tuple[int, int]]:
    return [(entry_row(i).quantity, entry_row(i).reserved_quantity) for i in entry_ids]


def two_entries(
    factories: SimpleNamespace, stock_a: int, stock_b: int
) -> tuple[Store, list[stock.EntryState]]:
    store = factories.store()
    location = factories.location(store)
    return store, [
        factories.entry(quantity=stock, store=store, location=location,
                        product=factories.product(store))
        for stock in (stock_a, stock_b)
    ]


def order_call(
    store_id: int, a: stock.EntryState, b: stock.EntryState,
    quantity_of: Callable[[int, int], int] = lambda thread, n: 1,
) -> Callable[[int, int], stock.StockChange]:
    """Each call reserves an order with a line on A and a line on B."""

    def call(thread: int, n: int) -> stock.StockChange:
        lines = [
            {"product_id": e.product_id, "location_id": e.location_id,
             "quantity": quantity_of(thread, n), "line_ref": f"L{i}"}
            for i, e in enumerate((a, b))
        ]
        if (thread + n) % 2:
            lines.reverse()  # half the orders name the entries the other way round
        return stock.reserve_order(
            actor=system_actor(f"checkout-{thread}"), store_id=store_id,
            order_ref=f"ORDER-{thread}-{n}", lines=lines,
        )

    return call


def test_opposite_multi_line_orders_never_deadlock(app, factories):
    store, (a, b) = two_entries(factories, 5000, 5000)
    before = ledger_rows()

    outcomes = hammer(
        app, THREADS, ROUNDS, order_call(store.id, a, b, lambda t, n: 1 + (t + n) % 3)
    )

    assert outcomes.errors == [], summary(outcomes)
    wanted = sum(1 + (t + n) % 3 for t in range(THREADS) for n in range(ROUNDS))
    assert quantities(a.id, b.id) == [(5000, wanted), (5000, wanted)]
    assert ledger_rows() - before == 2 * THREADS * ROUNDS
    assert_invariants()


def test_orders_racing_for_the_last_units_are_all_or_nothing(app, factories):
    # 400 orders each want one unit of A (50 on hand) and one of B (plenty).
    store, (a, b) = two_entries(factories, 50, 1000)
    before = ledger_rows()

    outcomes = hammer(app, THREADS, ROUNDS, order_call(store.id, a, b))

    assert len(outcomes.results) == 50, summary(outcomes)
    short = outcomes.errors_of(OrderShort)
    assert len(short) == THREADS * ROUNDS - 50, summary(outcomes)
    # Each refusal names A's line, and only it, with what was left of A.
    assert all(
        [(line["label"].split(":")[0], line["available"], line["requested"])
         for line in e.short_lines] == [("L0", 0, 1)]
        for e in short
    )
    # No order holds B without A: every short order left both lines untouched.
    assert quantities(a.id, b.id) == [(50, 50), (1000, 50)]
    assert ledger_rows() - before == 2 * 50
    assert_invariants()
