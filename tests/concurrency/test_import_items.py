"""CSV imports adding variants to the same items at once.

An item holds at most MAX_VARIANTS variants. Each import counts the item's variants while
planning and adds its own; two imports that both count before either writes would each
stay within the limit and together break it. Applying locks the items a file adds to
before reading them (PostgreSQL; SQLite has one writer at a time), so the imports that
come later count the earlier ones' variants and refuse. An import that reads the items
without the lock must fail this test.

It locks them in id order, whatever the order of the stores in its file: two imports
naming the stores in opposite orders would otherwise each hold one store's item and wait
for the other's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from oracle import assert_invariants
from sqlalchemy import func, select

from app.extensions import db
from app.models import ItemVariant
from app.permissions import system_actor
from app.services import items, stock
from app.services.errors import ImportRefused
from app.services.stock import import_catalog

from .harness import hammer, summary

THREADS = 8
ROUNDS = 3
LIMIT = 4  # MAX_VARIANTS for the race: an item of 2 variants takes 2 more


def race(app: Any, slug: str, store_id: int, location_id: int) -> list[str]:
    actor = system_actor("race")
    problems: list[str] = []
    for n in range(ROUNDS):
        options = [items.Option("Color", ("Black",)), items.Option("Size", ("S", "M"))]
        made = items.create_item(actor=actor, store_id=store_id, title=f"Parka {n}",
                                 options=options,
                                 variants_to_make=items.generate(options, f"P{n}"))

        def call(thread: int, _round: int, n: int = n) -> Any:
            data = (f"store,location,sku,quantity,item,options\r\n"
                    f"{slug},MAIN,P{n}-T{thread},1,Parka {n},Color: Black; Size: T{thread}\r\n")
            return stock.apply_import(data.encode(), actor=actor)

        db.session.rollback()  # no read snapshot held across the race
        outcomes = hammer(app, THREADS, 1, call)
        variants = db.session.scalar(select(func.count()).select_from(ItemVariant)
                                     .where(ItemVariant.item_id == made.id))
        db.session.rollback()
        unexpected = outcomes.errors_not_of(ImportRefused)
        if unexpected:
            problems.append(f"round {n}: {summary(outcomes)}: {unexpected[0]!r}")
        if variants > LIMIT:
            problems.append(f"round {n}: the item has {variants} variants, more than {LIMIT}")
        if len(outcomes.results) != LIMIT - 2 or variants != LIMIT:
            problems.append(f"round {n}: {summary(outcomes)}, {variants} variants")
    return problems


@pytest.fixture
def shop(make_store: Any, make_location: Any, monkeypatch: pytest.MonkeyPatch
         ) -> tuple[str, int, int]:
    monkeypatch.setattr(items, "MAX_VARIANTS", LIMIT)
    store = make_store()
    location = make_location(store, "MAIN")
    return store.slug, store.id, location.id


def test_imports_adding_variants_at_once_keep_an_item_within_its_limit(
    app: Any, shop: tuple[str, int, int],
) -> None:
    problems = race(app, *shop)

    assert problems == []
    assert_invariants()


def test_the_race_catches_an_import_that_reads_the_items_without_locking_them(
    app: Any, shop: tuple[str, int, int], backend: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: an apply plans alone there")
    unlocked = import_catalog._items_titled
    monkeypatch.setattr(import_catalog, "_items_titled",
                        lambda session, titles, *, lock: unlocked(session, titles, lock=False))

    problems = race(app, *shop)

    print(f"\nunlocked import on {backend}: {len(problems)} problem(s): {problems[:2]}")
    assert problems, "imports that read the items unlocked passed the race: it cannot fail"


# --------------------------------------------------------------------------- lock order

DEADLOCK_ROUNDS = 6


def crossing(app: Any, slugs: list[str], store_ids: list[int]) -> list[str]:
    """Two imports at once, each adding a variant to the item "Parka" of both stores, the
    stores in opposite orders in their files. Both must go through, every round."""
    actor = system_actor("race")
    options = [items.Option("Size", ("S",))]
    parkas = [items.create_item(actor=actor, store_id=store_id, title="Parka", options=options,
                                variants_to_make=items.generate(options, f"P{n}")).id
              for n, store_id in enumerate(store_ids)]
    problems: list[str] = []
    for n in range(DEADLOCK_ROUNDS):
        def call(thread: int, _round: int, n: int = n) -> Any:
            order = slugs if thread == 0 else slugs[::-1]
            data = "store,location,sku,quantity,item,options\r\n" + "".join(
                f"{slug},MAIN,R{n}-T{thread},1,Parka,Size: R{n}T{thread}\r\n" for slug in order)
            return stock.apply_import(data.encode(), actor=actor)

        db.session.rollback()
        outcomes = hammer(app, 2, 1, call)
        if outcomes.errors:
            problems.append(f"round {n}: {summary(outcomes)}: {outcomes.errors[0][2]!r}"[:300])
    counts = [db.session.scalar(select(func.count()).select_from(ItemVariant)
                                .where(ItemVariant.item_id == parka)) for parka in parkas]
    db.session.rollback()
    expected = 1 + 2 * DEADLOCK_ROUNDS - 2 * len(problems)
    if counts != [expected, expected]:
        problems.append(f"variants {counts}, expected {expected} each")
    return problems


@pytest.fixture
def two_stores(make_store: Any, make_location: Any) -> tuple[list[str], list[int]]:
    stores = [make_store(), make_store()]
    for store in stores:
        make_location(store, "MAIN")
    return [s.slug for s in stores], [s.id for s in stores]


def test_imports_adding_to_items_of_two_stores_in_opposite_orders_never_deadlock(
    app: Any, two_stores: tuple[list[str], list[int]],
) -> None:
    problems = crossing(app, *two_stores)

    assert problems == []
    assert_invariants()


def test_the_race_catches_imports_that_lock_items_in_file_order(
    app: Any, two_stores: tuple[list[str], list[int]], backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has one writer at a time: no lock order to get wrong")
    unlocked = import_catalog._items_titled

    def store_by_store(session: Any, titles: dict[int, set[str]], *, lock: bool) -> Any:
        # Each store's items locked in turn, in the order the file names the stores.
        for store_id in titles:
            session.execute(select(import_catalog.items.c.id)
                            .where(import_catalog.items.c.store_id == store_id)
                            .order_by(import_catalog.items.c.id).with_for_update()).all()
            time.sleep(0.05)
        return unlocked(session, titles, lock=False)

    monkeypatch.setattr(import_catalog, "_items_titled", store_by_store)

    problems = crossing(app, *two_stores)

    print(f"\nfile-order locks on {backend}: {len(problems)} problem(s): {problems[:1]}")
    assert problems, "imports locking items in file order passed: the test cannot fail"
