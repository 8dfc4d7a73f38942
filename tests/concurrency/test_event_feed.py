"""The feed under a storm: while sixteen writers change one store's stock, a reader paging
the feed after the last number it saw never finds a gap, never sees a number twice, and in
the end has read exactly one stock.changed per ledger row, in ledger order per entry."""

from __future__ import annotations

import threading

from oracle import assert_invariants, committed
from sqlalchemy import select

from app.extensions import db
from app.permissions import system_actor
from app.services import events, stock
from app.services.errors import InsufficientStock
from app.services.stock.engine import movements

from .harness import hammer, summary

THREADS = 16
ROUNDS = 20


def test_a_reader_paging_during_a_storm_sees_every_number_once_in_order(
    app, make_store, make_location, make_product, make_entry
):
    store = make_store()
    made = [make_entry(quantity=30, threshold=10, store=store, location=make_location(store),
                       product=make_product(store)) for _ in range(4)]
    actor = system_actor("storm")
    store_id = store.id
    db.session.remove()
    stop = threading.Event()
    seen: list[dict] = []
    problems: list[str] = []

    def read_along() -> None:
        after = 0
        with app.app_context():
            while True:
                done = stop.is_set()
                page = events.feed(actor, store_id=store_id, after=after, limit=7)
                numbers = [e["sequence"] for e in page.events]
                if numbers != list(range(after + 1, after + 1 + len(numbers))):
                    problems.append(f"after {after} the feed gave {numbers}")
                seen.extend(page.events)
                after = page.next_after
                db.session.remove()
                if done and not page.has_more:
                    return

    reader = threading.Thread(target=read_along, daemon=True)
    reader.start()

    def change(thread: int, n: int) -> int:
        entry = made[(thread + n) % len(made)]
        delta = -3 if (thread + n) % 3 else 5
        return stock.adjust_stock(actor=actor, entry_id=entry.id, delta=delta,
                                  reason="storm").movement_ids[0]

    outcomes = hammer(app, THREADS, ROUNDS, change)
    stop.set()
    reader.join(60)
    assert not reader.is_alive(), "the reader never caught up"
    assert outcomes.errors_not_of(InsufficientStock) == [], summary(outcomes)
    assert problems == []

    assert [e["sequence"] for e in seen] == list(range(1, len(seen) + 1))
    ledger = committed(select(movements.c.id, movements.c.entry_id)
                       .where(movements.c.store_id == store_id).order_by(movements.c.id))
    changed = [e for e in seen if e["type"] == "stock.changed"]
    assert sorted(e["data"]["movement_id"] for e in changed) == [m.id for m in ledger]
    for entry in made:
        ids = [e["data"]["movement_id"] for e in changed if e["data"]["entry_id"] == entry.id]
        assert ids == sorted(ids), "an entry's changes were numbered out of their order"
    assert_invariants()
