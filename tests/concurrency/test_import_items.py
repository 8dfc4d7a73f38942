"""CSV imports adding variants to one item at once.

An item holds at most MAX_VARIANTS variants. Each import counts the item's variants while
planning and adds its own; two imports that both count before either writes would each
stay within the limit and together break it. Applying locks the items a file adds to
before reading them (PostgreSQL; SQLite has one writer at a time), so the imports that
come later count the earlier ones' variants and refuse. An import that reads the items
without the lock must fail this test.
"""

from __future__ import annotations

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
