"""Stock tallies: the overview's totals, kept by triggers, equal a count over every entry
after every kind of change, fold without changing, and stay exact when a product's type
changes while an entry of it is being created."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from pausing import paused_at_ledger_write
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import StockTally
from app.permissions import Actor
from app.services import catalog, queries, stock, tallies

tally_rows = StockTally.__table__


def _exact(actor: Actor, *store_ids: int | None) -> dict[str, int]:
    """The totals for the actor and for each store, asserted equal to the long count."""
    for store_id in (None, *store_ids):
        kept = queries.stock_stats(actor, store_id=store_id)
        counted = queries.stock_stats_scan(actor, store_id=store_id)
        assert kept == counted, (store_id, kept, counted)
    db.session.rollback()
    assert tallies.verify() == []
    return queries.stock_stats(actor)


def _rows() -> int:
    count = db.session.scalar(select(func.count()).select_from(tally_rows))
    db.session.rollback()
    return int(count)


def _product_update(actor: Actor, product: Any, **changes: Any) -> None:
    fields = {"sku": product.sku, "title": product.title, "product_type": product.type,
              "allow_backorder": product.allow_backorder}
    catalog.update_product(actor=actor, product_id=product.id, **(fields | changes))


def test_every_kind_of_change_keeps_the_totals_exact(
    store, make_store, make_location, make_product, make_entry, admin_actor
):
    other = make_store()
    main, back = make_location(store, "MAIN"), make_location(store, "BACK")
    kettle = make_product(store, "KETTLE")
    pot = make_product(store, "POT")
    a = make_entry(store=store, location=main, product=kettle, quantity=10, threshold=4)
    b = make_entry(store=store, location=main, product=pot, quantity=3)
    make_entry(store=other, quantity=7, threshold=9)
    stats = _exact(admin_actor, store.id, other.id)
    assert (stats["total_entries"], stats["total_quantity"], stats["low_stock"]) == (3, 20, 1)

    stock.adjust_stock(actor=admin_actor, entry_id=a.id, delta=-7, reason="damaged")
    assert _exact(admin_actor, store.id)["low_stock"] == 2
    held = stock.reserve_stock(actor=admin_actor, entry_id=b.id, quantity=3,
                                   order_ref="ORDER-1")
    assert _exact(admin_actor, store.id)["out_of_stock"] == 1
    _product_update(admin_actor, pot, allow_backorder=True)
    stats = _exact(admin_actor, store.id)
    assert (stats["out_of_stock"], stats["on_backorder"]) == (0, 1)
    stock.release_stock(actor=admin_actor, reservation_id=held.reservation_ids[0])
    stock.set_threshold(actor=admin_actor, entry_id=b.id, low_stock_threshold=3)
    assert _exact(admin_actor, store.id)["on_backorder"] == 0
    # A transfer that creates the target entry, then one that empties the source.
    stock.transfer_stock(actor=admin_actor, product_id=kettle.id, from_location_id=main.id,
                             to_location_id=back.id, quantity=2)
    assert _exact(admin_actor, store.id)["unique_locations"] == 3
    stock.set_stock(actor=admin_actor, entry_id=a.id, quantity=0, reason="recount")
    stock.count_stock(actor=admin_actor, entry_id=b.id, counted_quantity=1)
    stock.return_stock(actor=admin_actor, entry_id=b.id, quantity=2, reason="returned")
    _exact(admin_actor, store.id)
    # A physical product with stock but nothing reserved may turn digital: never short.
    _product_update(admin_actor, pot, product_type="digital", allow_backorder=False)
    stats = _exact(admin_actor, store.id)
    assert stats["low_stock"] + stats["out_of_stock"] + stats["on_backorder"] == 2
    _product_update(admin_actor, pot, product_type="physical")
    _exact(admin_actor, store.id)

    everything = stock.selection(entry_ids=[a.id, b.id])
    stock.bulk_adjust(actor=admin_actor, selection=everything, delta=5, reason="delivery")
    stock.bulk_threshold(actor=admin_actor, selection=everything, low_stock_threshold=6)
    assert _exact(admin_actor, store.id)["low_stock"] == 2
    stock.delete_entry(actor=admin_actor, entry_id=a.id)
    stats = _exact(admin_actor, store.id, other.id)
    assert (stats["total_entries"], stats["stores_with_inventory"]) == (3, 2)


def test_fold_leaves_one_row_per_location_and_drops_emptied_ones(
    store, make_location, make_product, make_entry, admin_actor
):
    main, spare = make_location(store, "MAIN"), make_location(store, "SPARE")
    entry = make_entry(store=store, location=main, quantity=50, threshold=5)
    gone = make_entry(store=store, location=spare, quantity=0)
    for _ in range(12):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-1, reason="sold")
    stock.delete_entry(actor=admin_actor, entry_id=gone.id)
    before = _exact(admin_actor, store.id)
    assert _rows() > 12

    removed = tallies.fold()

    assert removed > 12
    assert _rows() == 1  # SPARE summed to nothing and went
    assert _exact(admin_actor, store.id) == before
    assert tallies.fold() == 1 and _rows() == 1  # folding again changes nothing


def test_a_read_folds_once_enough_rows_pile_up(
    store, make_entry, admin_actor, monkeypatch
):
    entry = make_entry(store=store, quantity=100)
    monkeypatch.setattr(tallies, "FOLD_AFTER", 5)
    for _ in range(4):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="found")
    queries.stock_stats(admin_actor, store_id=store.id)
    assert _rows() == 5  # 1 + 4 rows past the first: not yet
    for _ in range(3):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="found")
    stats = queries.stock_stats(admin_actor, store_id=store.id)
    assert _rows() == 1
    assert stats["total_quantity"] == 107
    _exact(admin_actor, store.id)


def test_a_store_filter_outside_the_actors_stores_shows_nothing(
    store, make_store, make_entry, owner
):
    other = make_store()
    make_entry(store=other, quantity=9)
    make_entry(store=store, quantity=4)
    assert queries.stock_stats(owner)["total_quantity"] == 4
    assert queries.stock_stats(owner, store_id=other.id)["total_entries"] == 0


def test_verify_names_the_location_whose_tallies_drifted(
    app, store, location, make_entry, admin_actor
):
    make_entry(store=store, location=location, quantity=5)
    db.session.execute(
        text("INSERT INTO stock_tallies (store_id, location_id, entries, quantity, reserved, "
             "low_stock, out_of_stock, on_backorder) VALUES (:s, :l, 0, 2, 0, 0, 0, 0)"),
        {"s": store.id, "l": location.id},
    )
    db.session.commit()
    assert tallies.verify() == [
        f"store {store.id}, location {location.id}: tallies quantity 7 (entries say 5)"
    ]
    tallies.rebuild()
    assert tallies.verify() == []


# --------------------------------------------------------------------------- concurrency


def _create_paused_before_commit(app, monkeypatch, actor, product, location_id):
    """Start create_entry (3 units, threshold 5: low while the product is physical) in a
    thread that stops, mid-transaction, right after inserting the entry and its opening
    ledger row (its tally row written with the product as it then was)."""
    return paused_at_ledger_write(app, monkeypatch, "create", lambda: stock.create_entry(
        actor=actor, product_id=product.id, location_id=location_id, quantity=3,
        low_stock_threshold=5,
    ))


def _made_digital_in_another_thread(app, actor, product, outcome):
    def run() -> None:
        with app.app_context():
            try:
                _product_update(actor, product, product_type="digital")
                outcome["update"] = "done"
            except Exception as exc:  # judged by the test
                outcome["update"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def race_scene(backend, store, location, make_product):
    if backend != "postgresql":
        pytest.skip("SQLite runs one writer at a time; the race needs row-level locking")
    product = make_product(store, "RACE")
    # Plain values: the threads must not load anything through this session.
    scene = SimpleNamespace(id=product.id, sku=product.sku, title=product.title,
                            type=product.type, allow_backorder=product.allow_backorder,
                            location_id=location.id)
    db.session.rollback()
    return scene


def test_a_type_change_waits_for_an_entry_being_created(
    app, monkeypatch, admin_actor, store, location, race_scene
):
    creating, release, outcome = _create_paused_before_commit(
        app, monkeypatch, admin_actor, race_scene, race_scene.location_id
    )
    updating = _made_digital_in_another_thread(app, admin_actor, race_scene, outcome)
    updating.join(0.5)
    assert updating.is_alive(), "the product changed under an entry being created"
    release.set()
    creating.join(20)
    updating.join(20)

    assert outcome["update"] == "done"
    assert not isinstance(outcome["create"], Exception), outcome["create"]
    assert tallies.verify() == []
    stats = queries.stock_stats(admin_actor, store_id=store.id)
    assert (stats["total_entries"], stats["low_stock"], stats["in_stock"]) == (1, 0, 1)


def test_the_race_catches_an_entry_created_without_the_product_lock(
    app, monkeypatch, admin_actor, store, location, race_scene
):
    monkeypatch.setattr(stock.entries, "lock_products_for_new_entries", lambda *a, **k: None)
    creating, release, outcome = _create_paused_before_commit(
        app, monkeypatch, admin_actor, race_scene, race_scene.location_id
    )
    updating = _made_digital_in_another_thread(app, admin_actor, race_scene, outcome)
    updating.join(20)  # nothing holds it now
    release.set()
    creating.join(20)

    assert outcome["update"] == "done"
    # The new entry was counted low (physical), and the change never saw it: the
    # tallies drifted, which is what the lock prevents.
    assert tallies.verify() == [
        f"store {store.id}, location {location.id}: tallies low_stock 1 (entries say 0)"
    ]
    tallies.rebuild()


def test_folding_while_stock_changes_loses_nothing(
    app, backend, store, make_location, make_entry, admin_actor
):
    places = [make_location(store, f"BIN_{n}") for n in range(3)]
    entries = [make_entry(store=store, location=place, quantity=500) for place in places]
    store_id = store.id  # read here: the threads must not load through this session
    db.session.rollback()
    errors: list[Exception] = []

    def adjust(entry_id: int) -> None:
        with app.app_context():
            for _ in range(40):
                try:
                    stock.adjust_stock(actor=admin_actor, entry_id=entry_id, delta=-1,
                                           reason="sold")
                except Exception as exc:  # collected and judged below
                    errors.append(exc)

    def fold() -> None:
        with app.app_context():
            for _ in range(15):
                try:
                    tallies.fold([store_id])
                except Exception as exc:  # collected and judged below
                    errors.append(exc)

    threads = [threading.Thread(target=adjust, args=(e.id,)) for e in entries]
    threads += [threading.Thread(target=fold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert _exact(admin_actor, store_id)["total_quantity"] == 3 * 460


def test_a_read_does_not_wait_on_a_busy_database_to_fold(
    app, backend, store, make_entry, admin_actor, monkeypatch
):
    """SQLite: while another connection holds the write lock (a long import, say), a read
    that would fold gives its totals at once and leaves the fold to a later read, instead
    of waiting out the busy timeout."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL folds under row locks, which writers never take")
    entry = make_entry(store=store, quantity=100)
    monkeypatch.setattr(tallies, "FOLD_AFTER", 2)
    for _ in range(4):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="found")
    store_id = store.id
    db.session.rollback()

    with db.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as other:
        other.begin()  # holds the write lock, as a writer would
        started = time.perf_counter()
        stats = queries.stock_stats(admin_actor, store_id=store_id)
        waited = time.perf_counter() - started
        other.rollback()

    assert stats["total_quantity"] == 104
    assert waited < 1, f"the read waited {waited:.1f} s for the write lock"
    assert _rows() == 5  # not folded
    queries.stock_stats(admin_actor, store_id=store_id)
    assert _rows() == 1  # the next read folds
