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


def test_channel_and_bundle_orders_racing_never_oversell_a_component(app, factories):
    """Orders on a splitting channel race for a product at two locations, and bundle orders
    race plain orders for the bundle's components: every unit held is held once, each
    bundle line takes all of its components or none, and nothing ever exceeds on hand."""
    from app.services import bundles, channels

    setup = system_actor("tests")
    store = factories.store()
    near, far = factories.location(store), factories.location(store)
    cup, lid = factories.product(store), factories.product(store)
    kit = factories.product(store)
    bundles.set_components(actor=setup, bundle_id=kit.id, parts=[(cup.id, 2), (lid.id, 1)])
    entries = {
        (p.id, loc.id): factories.entry(quantity=q, store=store, location=loc, product=p).id
        for p, loc, q in ((cup, near, 30), (cup, far, 20), (lid, near, 12), (lid, far, 40))
    }
    web = channels.create_channel(actor=setup, store_id=store.id, code="WEB",
                                  location_ids=[near.id, far.id], allow_split=True)
    # Plain ids: the workers must not touch the main thread's ORM objects.
    ids = SimpleNamespace(store=store.id, kit=kit.id, cup=cup.id, lid=lid.id, far=far.id,
                          web=web.id)
    before = ledger_rows()

    def call(thread: int, n: int) -> stock.StockChange:
        if thread % 3 == 0:  # a bundle, put together at the first location that can
            line = {"product_id": ids.kit, "quantity": 1 + n % 2}
        elif thread % 3 == 1:  # cups, split across the channel's locations if need be
            line = {"product_id": ids.cup, "quantity": 1 + (thread + n) % 3}
        else:  # lids at one place, named
            line = {"product_id": ids.lid, "location_id": ids.far, "quantity": 1}
        return stock.reserve_order(
            actor=system_actor(f"checkout-{thread}"), store_id=ids.store,
            order_ref=f"ORDER-{thread}-{n}", channel_id=ids.web,
            lines=[{**line, "line_ref": "L1"}])

    outcomes = hammer(app, THREADS, ROUNDS, call)

    assert outcomes.errors_not_of(OrderShort) == [], summary(outcomes)
    kit_id, cup_id, lid_id = ids.kit, ids.cup, ids.lid
    held = {key: entry_row(entry_id) for key, entry_id in entries.items()}
    assert all(row.reserved_quantity <= row.quantity for row in held.values())
    # What the successful orders say they hold is exactly what the entries hold.
    claimed = {entry_id: 0 for entry_id in entries.values()}
    location_of = {(p, loc): entry for (p, loc), entry in entries.items()}
    for change in outcomes.values:
        for line in change.details["lines"]:
            if line["product_id"] == kit_id:
                for part in line["components"]:
                    claimed[location_of[(part["product_id"], line["location_id"])]] += \
                        part["quantity"]
            elif "allocations" in line:
                for piece in line["allocations"]:
                    claimed[location_of[(line["product_id"], piece["location_id"])]] += \
                        piece["quantity"]
            else:
                claimed[location_of[(line["product_id"], line["location_id"])]] += \
                    line["quantity"]
    assert {e: held[k].reserved_quantity for k, e in entries.items()} == claimed
    # A bundle line holds two cups for each lid, at one location.
    for change in outcomes.values:
        line = change.details["lines"][0]
        if line["product_id"] == kit_id:
            by_part = {p["product_id"]: p["quantity"] for p in line["components"]}
            assert by_part == {cup_id: 2 * line["quantity"], lid_id: line["quantity"]}
    sold = {change.details["lines"][0]["product_id"] for change in outcomes.values}
    assert {kit_id, cup_id, lid_id} <= sold, summary(outcomes)
    assert ledger_rows() - before == sum(len(c.movement_ids) for c in outcomes.values)
    assert_invariants()
