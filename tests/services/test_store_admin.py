"""Stores administration: opening, renaming, archiving and unarchiving stores (platform admins
only), and the cross-store statistics, checked against a plain-Python count of random data."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from statements import recorded_statements

from app.clock import utcnow
from app.extensions import db
from app.models import InventoryEntry, Location, Membership, Product, Store, User
from app.permissions import Actor
from app.services import admin_stats, queries, stock, stores
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError


def stored_store(store_id: int) -> dict[str, Any]:
    row = db.session.execute(select(Store.__table__).where(Store.id == store_id)).one()
    db.session.rollback()
    return dict(row._mapping)


# --------------------------------------------------------------------------- create


def test_create_store_trims_and_stores_the_name_and_slug(admin_actor: Actor) -> None:
    store = stores.create_store(actor=admin_actor, name="  Corner Shop ", slug=" corner-shop ")
    row = stored_store(store.id)
    assert (row["name"], row["slug"], row["archived_at"]) == ("Corner Shop", "corner-shop", None)


@pytest.mark.parametrize(
    ("name", "slug", "fields"),
    [
        ("", "", {"name": "This field is required.", "slug": "This field is required."}),
        ("   ", "ok", {"name": "This field is required."}),
        ("Shop", "Not A Slug", {"slug": "Use lowercase letters, digits and single hyphens."}),
        ("Shop", "double--hyphen", {"slug": "Use lowercase letters, digits and single hyphens."}),
        ("Shop", "-edge", {"slug": "Use lowercase letters, digits and single hyphens."}),
        ("x" * 121, "ok", {"name": "Must be at most 120 characters."}),
        ("Shop", "a" * 61, {"slug": "Must be at most 60 characters."}),
        ("Bell\x07", "ok", {"name": "Must not contain control characters."}),
        (None, 5, {"name": "This field is required.", "slug": "Enter text."}),
    ],
)
def test_create_store_names_every_bad_field_and_changes_nothing(
    admin_actor: Actor, refused: Callable[..., Any], name: Any, slug: Any,
    fields: dict[str, str],
) -> None:
    with refused(ValidationError, fields=fields):
        stores.create_store(actor=admin_actor, name=name, slug=slug)


def test_a_taken_slug_is_a_conflict(admin_actor: Actor, refused: Callable[..., Any]) -> None:
    stores.create_store(actor=admin_actor, name="First", slug="twin")
    with refused(Conflict, "A store with the slug twin already exists."):
        stores.create_store(actor=admin_actor, name="Second", slug="twin")


@pytest.mark.parametrize("role", ["owner", "admin", "staff"])
def test_only_platform_admins_open_stores(
    store: Store, member: Callable[..., Actor], refused: Callable[..., Any], role: str
) -> None:
    actor = member(store, role)
    with refused(PermissionDenied, "You do not have permission to do this (stores:manage)."):
        stores.create_store(actor=actor, name="Mine", slug="mine")


# --------------------------------------------------------------------------- rename


def test_rename_changes_the_name_and_keeps_the_slug(admin_actor: Actor, store: Store) -> None:
    old_name, slug = store.name, store.slug
    state = stores.rename_store(actor=admin_actor, store_id=store.id, name="  Harbor Two ")
    assert (state.previous_name, state.name, state.slug) == (old_name, "Harbor Two", slug)
    row = stored_store(store.id)
    assert (row["name"], row["slug"]) == ("Harbor Two", slug)


def test_rename_to_the_same_name_changes_nothing(
    admin_actor: Actor, store: Store, snapshot: Callable[[], Any]
) -> None:
    name = store.name
    before = snapshot()
    state = stores.rename_store(actor=admin_actor, store_id=store.id, name=name)
    assert state.previous_name == state.name == name
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("  ", "This field is required."),
        (None, "This field is required."),
        ("y" * 121, "Must be at most 120 characters."),
        ("Tab\tname", "Must not contain control characters."),
        (42, "Enter text."),
    ],
)
def test_rename_refuses_bad_names(
    admin_actor: Actor, store: Store, refused: Callable[..., Any], name: Any, message: str
) -> None:
    with refused(ValidationError, fields={"name": message}):
        stores.rename_store(actor=admin_actor, store_id=store.id, name=name)


def test_an_archived_store_can_be_renamed(admin_actor: Actor, store: Store) -> None:
    stores.archive_store(actor=admin_actor, store_id=store.id)
    state = stores.rename_store(actor=admin_actor, store_id=store.id, name="Closed shop")
    assert state.archived and stored_store(store.id)["name"] == "Closed shop"


# --------------------------------------------------------------------------- archive


def test_archive_and_unarchive_touch_nothing_but_the_store(
    admin_actor: Actor, store: Store, make_entry: Callable[..., Any],
    snapshot: Callable[[], dict[str, Any]],
) -> None:
    entry = make_entry(store=store, quantity=9, reserved=3)
    before = snapshot()
    archived = stores.archive_store(actor=admin_actor, store_id=store.id)
    assert archived.archived and stored_store(store.id)["archived_at"] == archived.archived_at
    after = snapshot()
    # Stock, holds, ledger and memberships are left exactly as they were; the audit trail
    # records the archiving.
    untouched = ("stores", "audit_events")
    assert {k: v for k, v in after.items() if k not in untouched} == {
        k: v for k, v in before.items() if k not in untouched
    }
    restored = stores.unarchive_store(actor=admin_actor, store_id=store.id)
    assert not restored.archived and stored_store(store.id)["archived_at"] is None
    assert {k: v for k, v in snapshot().items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }
    assert queries.get_entry(admin_actor, entry.id).reserved_quantity == 3


def test_archiving_twice_and_unarchiving_an_active_store_are_conflicts(
    admin_actor: Actor, make_store: Callable[..., Store], refused: Callable[..., Any]
) -> None:
    store = make_store("Old Pier")
    with refused(Conflict, "Store Old Pier is not archived."):
        stores.unarchive_store(actor=admin_actor, store_id=store.id)
    stores.archive_store(actor=admin_actor, store_id=store.id)
    with refused(Conflict, "Store Old Pier is already archived."):
        stores.archive_store(actor=admin_actor, store_id=store.id)


@pytest.mark.parametrize("role", ["owner", "admin", "staff"])
@pytest.mark.parametrize("verb", ["rename", "archive", "unarchive"])
def test_members_may_not_rename_or_archive_their_store(
    store: Store, member: Callable[..., Actor], refused: Callable[..., Any], role: str,
    verb: str,
) -> None:
    actor = member(store, role)
    with refused(PermissionDenied, "You do not have permission to do this (stores:manage)."):
        _call(verb, actor, store.id)


@pytest.mark.parametrize("verb", ["rename", "archive", "unarchive"])
@pytest.mark.parametrize("store_id", ["other", 999_999, 0, -1, "1", True, None, 2**31, 1.0])
def test_foreign_unknown_and_malformed_store_ids_are_not_found(
    store: Store, make_store: Callable[..., Store], member: Callable[..., Actor],
    admin_actor: Actor, refused: Callable[..., Any], verb: str, store_id: Any,
) -> None:
    if store_id == "other":
        # An owner elsewhere learns nothing about a store they are not in.
        actor, target = member(make_store(), "owner"), store.id
    else:
        actor, target = admin_actor, store_id
    with refused(NotFound, "Store not found."):
        _call(verb, actor, target)


def _call(verb: str, actor: Actor, store_id: Any) -> Any:
    if verb == "rename":
        return stores.rename_store(actor=actor, store_id=store_id, name="New name")
    if verb == "archive":
        return stores.archive_store(actor=actor, store_id=store_id)
    return stores.unarchive_store(actor=actor, store_id=store_id)


# --------------------------------------------------------------------------- statistics


def expected_status(product: Product, quantity: int, reserved: int, threshold: int) -> str:
    """The SPEC's status rules, written out again here rather than read from the code."""
    if product.type != "physical":
        return "in_stock"
    available = quantity - reserved
    if available <= 0:
        return "on_backorder" if product.allow_backorder else "out_of_stock"
    if threshold > 0 and available <= threshold:
        return "low_stock"
    return "in_stock"


def oracle(store_ids: list[int]) -> dict[int, dict[str, int]]:
    """Every statistic of every store, counted row by row in Python."""
    db.session.rollback()
    products = {p.id: p for p in db.session.scalars(select(Product))}
    out: dict[int, dict[str, int]] = {}
    for store_id in store_ids:
        rows = list(db.session.scalars(
            select(InventoryEntry).where(InventoryEntry.store_id == store_id)
        ))
        statuses = [
            expected_status(products[e.product_id], e.quantity, e.reserved_quantity,
                            e.low_stock_threshold)
            for e in rows
        ]
        places = list(db.session.scalars(select(Location).where(Location.store_id == store_id)))
        members = db.session.execute(
            select(Membership.role).join(User, User.id == Membership.user_id)
            .where(Membership.store_id == store_id, User.active.is_(True))
        ).scalars().all()
        out[store_id] = {
            "total_entries": len(rows),
            "total_quantity": sum(e.quantity for e in rows),
            "total_reserved": sum(e.reserved_quantity for e in rows),
            "total_available": sum(e.quantity - e.reserved_quantity for e in rows),
            **{s: statuses.count(s) for s in queries.STATUSES},
            "unique_locations": len({e.location_id for e in rows}),
            "locations": sum(1 for p in places if p.archived_at is None),
            "archived_locations": sum(1 for p in places if p.archived_at is not None),
            "products": sum(1 for p in products.values()
                            if p.store_id == store_id and p.archived_at is None),
            "members": len(members),
            "owners": members.count("owner"),
        }
    db.session.rollback()
    return out


def random_platform(
    rng: random.Random, admin_actor: Actor, make_store: Callable[..., Store],
    make_location: Callable[..., Location], make_product: Callable[..., Product],
    make_user: Callable[..., User],
) -> list[int]:
    """A few stores with random stock, thresholds, holds, backorders, archived places and
    products, members (some deactivated), an empty store and an archived one."""
    ids = []
    for n in range(rng.randint(3, 5)):
        store = make_store(f"Store {rng.randint(0, 99)} {n}")
        ids.append(store.id)
        if n == 0:
            continue  # a store with nothing in it yet
        places = [make_location(store) for _ in range(rng.randint(1, 4))]
        goods = [
            make_product(store, allow_backorder=rng.random() < 0.3)
            for _ in range(rng.randint(1, 6))
        ]
        goods.append(make_product(store, type="digital"))  # unlimited: never has entries
        for product in goods[:-1]:
            for place in rng.sample(places, rng.randint(0, len(places))):
                quantity = rng.choice([0, 0, 1, 2, 5, 9, 40, 1000])
                change = stock.create_entry(
                    actor=admin_actor, product_id=product.id, location_id=place.id,
                    quantity=quantity, low_stock_threshold=rng.choice([0, 0, 1, 3, 10]),
                )
                held = rng.randint(0, quantity) if quantity and rng.random() < 0.5 else 0
                if held:
                    stock.reserve_stock(actor=admin_actor, entry_id=change.entry.id,
                                            quantity=held, order_ref=f"ORD-{change.entry.id}")
        if rng.random() < 0.6:
            db.session.execute(update(Location).where(Location.id == places[0].id)
                               .values(archived_at=utcnow()))
        if rng.random() < 0.5:
            db.session.execute(update(Product).where(Product.id == goods[0].id)
                               .values(archived_at=utcnow()))
        for _ in range(rng.randint(0, 4)):
            user = make_user(role=rng.choice(["owner", "admin", "staff"]), store=store)
            if rng.random() < 0.25:
                db.session.execute(update(User).where(User.id == user.id).values(active=False))
        db.session.commit()
    stores.archive_store(actor=admin_actor, store_id=ids[-1])
    return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_statistics_match_a_count_of_every_row(
    seed: int, admin_actor: Actor, make_store: Callable[..., Store],
    make_location: Callable[..., Location], make_product: Callable[..., Product],
    make_user: Callable[..., User],
) -> None:
    ids = random_platform(random.Random(seed), admin_actor, make_store, make_location,
                          make_product, make_user)
    expected = oracle(ids)
    overview = admin_stats.stores_overview(admin_actor)

    assert [s.id for s in overview.archived] == [ids[-1]]
    assert sorted(s.id for s in overview.active) == sorted(ids[:-1])
    assert [s.name for s in overview.active] == sorted(s.name for s in overview.active)
    for stats in overview.stores:
        got = {k: getattr(stats, k) for k in expected[stats.id]}
        assert got == expected[stats.id], stats.name
        assert stats == admin_stats.store_stats(admin_actor, stats.id)

    active = [expected[i] for i in ids[:-1]]
    totals = overview.totals
    assert totals.stores == len(active)
    assert totals.stores_with_inventory == sum(1 for s in active if s["total_entries"])
    assert totals.unique_locations == sum(s["unique_locations"] for s in active)
    assert totals.low_stock_count == sum(s["low_stock"] for s in active)
    for key in ("total_entries", "total_quantity", "total_reserved", "total_available"):
        assert getattr(totals, key) == sum(s[key] for s in active), key

    # Over every store, the totals agree with the overview's own platform statistics.
    everything = admin_stats.totals(overview.stores)
    platform = queries.stock_stats(admin_actor)
    for key in ("total_entries", "total_quantity", "total_reserved", "total_available",
                "low_stock_count", "stores_with_inventory", "unique_locations"):
        assert getattr(everything, key) == platform[key], key


def test_statistics_of_every_store_take_one_query(
    admin_actor: Actor, make_store: Callable[..., Store], make_entry: Callable[..., Any],
) -> None:
    for _ in range(4):
        make_entry(store=make_store(), quantity=3)
    db.session.rollback()
    with recorded_statements() as seen:
        overview = admin_stats.stores_overview(admin_actor)
    assert len(overview.active) == 4
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1
    assert "GROUP BY" in seen[-1].upper()


def test_statistics_are_for_platform_admins_only(
    store: Store, member: Callable[..., Actor]
) -> None:
    owner = member(store, "owner")
    with pytest.raises(PermissionDenied):
        admin_stats.stores_overview(owner)
    with pytest.raises(PermissionDenied):
        admin_stats.store_stats(owner, store.id)


@pytest.mark.parametrize("store_id", [999_999, 0, "1", True, 2**31])
def test_statistics_of_an_unknown_store_are_not_found(admin_actor: Actor, store_id: Any) -> None:
    with pytest.raises(NotFound, match="Store not found."):
        admin_stats.store_stats(admin_actor, store_id)
