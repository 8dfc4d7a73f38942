"""Locations as an owner manages them: create, list with totals, rename, archive, restore."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

import pytest
from pausing import paused_at_ledger_write
from sqlalchemy import select, update
from statements import recorded_statements

from app.clock import frozen_at, utcnow
from app.extensions import db
from app.models import Location
from app.services import locations, queries, stock
from app.services.errors import (
    Conflict,
    LocationHoldsStock,
    NotFound,
    PermissionDenied,
    ValidationError,
)

T0 = datetime(2030, 7, 1, 15, 0)


def _archived_at(location_id: int) -> datetime | None:
    db.session.rollback()
    value = db.session.scalar(select(Location.archived_at).where(Location.id == location_id))
    db.session.rollback()
    return value


# --------------------------------------------------------------------------- create and list


def test_create_normalizes_the_code_and_lists_it_with_zero_totals(store, owner):
    created = locations.create_location(actor=owner, store_id=store.id, code=" warehouse_a ",
                                        name=" Back room ")

    assert (created.code, created.name) == ("WAREHOUSE_A", "Back room")
    [row] = locations.list_locations(owner, store.id)
    assert (row.id, row.code, row.name, row.entries, row.on_hand, row.reserved, row.archived) == (
        created.id, "WAREHOUSE_A", "Back room", 0, 0, 0, False
    )


def test_a_duplicate_code_in_any_case_is_refused_naming_the_code(store, owner, refused):
    locations.create_location(actor=owner, store_id=store.id, code="WAREHOUSE_A")

    with refused(Conflict, "This store already has a location WAREHOUSE_A."):
        locations.create_location(actor=owner, store_id=store.id, code="warehouse_a")


def test_the_same_code_is_free_in_another_store(store, owner, make_store, admin_actor):
    other = make_store()
    locations.create_location(actor=owner, store_id=store.id, code="SHELF")

    created = locations.create_location(actor=admin_actor, store_id=other.id, code="shelf")

    assert created.store_id == other.id and created.code == "SHELF"


@pytest.mark.parametrize(
    ("code", "name", "fields"),
    [
        ("", "", {"code": "This field is required."}),
        ("   ", "", {"code": "This field is required."}),
        ("bad code!", "", {"code": "Use letters, digits, hyphens and underscores."}),
        ("A" * 65, "", {"code": "Must be at most 64 characters."}),
        ("OK", "x" * 121, {"name": "Must be at most 120 characters."}),
        ("OK", "tab\there", {"name": "Must not contain control characters."}),
    ],
)
def test_bad_codes_and_names_name_the_field_and_change_nothing(
    store, owner, refused, code, name, fields
):
    with refused(ValidationError, fields=fields):
        locations.create_location(actor=owner, store_id=store.id, code=code, name=name)


def test_the_list_sums_entries_on_hand_and_reserved_per_location_in_sql(
    store, owner, make_location, make_product, make_entry
):
    main, spare = make_location(store, "MAIN"), make_location(store, "SPARE")
    make_location(store, "EMPTY")
    make_entry(store=store, location=main, quantity=70, reserved=5)
    make_entry(store=store, location=main, quantity=50)
    make_entry(store=store, location=spare, quantity=0)

    store_id = store.id
    with recorded_statements() as seen:
        rows = locations.list_locations(owner, store_id)
    statements = [s for s in seen if s.lstrip().upper().startswith("SELECT")]

    assert [(r.code, r.entries, r.on_hand, r.reserved, r.available) for r in rows] == [
        ("EMPTY", 0, 0, 0, 0), ("MAIN", 2, 120, 5, 115), ("SPARE", 1, 0, 0, 0),
    ]
    # One statement checks the store, one reads every location with its totals.
    assert len(statements) == 2, statements


def test_archived_locations_come_after_the_active_ones(store, owner, make_location):
    old, new = make_location(store, "AAA_OLD"), make_location(store, "ZZZ_NEW")
    locations.archive_location(actor=owner, location_id=old.id)

    assert [(r.code, r.archived) for r in locations.list_locations(owner, store.id)] == [
        (new.code, False), (old.code, True),
    ]


# --------------------------------------------------------------------------- rename


def test_rename_changes_the_name_and_never_the_code(store, owner, make_location):
    place = make_location(store, "DOCK")

    after = locations.rename_location(actor=owner, location_id=place.id, name="  Loading dock ")

    assert (after.code, after.name) == ("DOCK", "Loading dock")
    db.session.rollback()
    assert db.session.get(Location, place.id).code == "DOCK"


def test_rename_checks_the_name(store, owner, make_location, refused):
    place = make_location(store, "DOCK")

    with refused(ValidationError, fields={"name": "Must be at most 120 characters."}):
        locations.rename_location(actor=owner, location_id=place.id, name="n" * 121)


# --------------------------------------------------------------------------- archive


def test_archive_is_refused_while_stock_is_held_and_says_how_much(
    store, owner, make_location, make_entry, refused
):
    place = make_location(store, "warehouse_a")
    for n in range(14):
        # 13 entries of 8 and one of 16: 120 units; 5 of them reserved.
        make_entry(store=store, location=place, quantity=16 if n == 0 else 8,
                   reserved=5 if n == 0 else 0)
    make_entry(store=store, location=place, quantity=0)  # an empty entry holds nothing

    with refused(
        LocationHoldsStock,
        "WAREHOUSE_A still holds 120 units in 14 entries (5 reserved); move or remove them first.",
    ) as info:
        locations.archive_location(actor=owner, location_id=place.id)

    assert (info.value.units, info.value.entries, info.value.reserved) == (120, 14, 5)
    assert _archived_at(place.id) is None


def test_the_refusal_reads_well_for_one_unit_without_reservations(
    store, owner, make_location, make_entry
):
    place = make_location(store, "BIN_7")
    make_entry(store=store, location=place, quantity=1)

    with pytest.raises(LocationHoldsStock) as info:
        locations.archive_location(actor=owner, location_id=place.id)

    assert str(info.value) == "BIN_7 still holds 1 unit in 1 entry; move or remove them first."


def test_an_emptied_location_archives_and_leaves_every_picker(
    store, owner, make_location, make_product, make_entry, refused
):
    place, other = make_location(store, "OLD"), make_location(store, "NEW")
    product = make_product(store)
    entry = make_entry(store=store, location=place, product=product, quantity=3)
    stock.transfer_stock(actor=owner, product_id=product.id, from_location_id=place.id,
                             to_location_id=other.id, quantity=3)

    with frozen_at(T0):
        after = locations.archive_location(actor=owner, location_id=entry.location_id)

    assert (after.archived, after.archived_at, after.entries, after.on_hand) == (True, T0, 1, 0)
    assert place.id not in {o.id for o in queries.store_locations(owner, store_id=store.id)}
    with refused(Conflict, "The target location is archived."):
        stock.transfer_stock(actor=owner, product_id=product.id, from_location_id=other.id,
                                 to_location_id=place.id, quantity=1)
    fresh = make_product(store)
    with refused(Conflict, "Location OLD is archived."):
        stock.create_entry(actor=owner, product_id=fresh.id, location_id=place.id)


def test_archive_twice_and_restore_twice_are_refused(store, owner, make_location, refused):
    place = make_location(store, "SHED")
    locations.archive_location(actor=owner, location_id=place.id)

    with refused(Conflict, "SHED is already archived."):
        locations.archive_location(actor=owner, location_id=place.id)

    restored = locations.unarchive_location(actor=owner, location_id=place.id)
    assert restored.archived is False and _archived_at(place.id) is None
    with refused(Conflict, "SHED is not archived."):
        locations.unarchive_location(actor=owner, location_id=place.id)


# --------------------------------------------------------------------------- who may


def test_staff_read_the_list_but_manage_only_with_the_catalog_group(
    store, member, make_location, refused
):
    place = make_location(store, "DOCK")
    viewer, clerk = member(store, "staff"), member(store, "staff", grants=("catalog:manage",))

    assert [r.code for r in locations.list_locations(viewer, store.id)] == ["DOCK"]
    for call in (
        lambda a: locations.create_location(actor=a, store_id=store.id, code="NEW"),
        lambda a: locations.rename_location(actor=a, location_id=place.id, name="x"),
        lambda a: locations.archive_location(actor=a, location_id=place.id),
        lambda a: locations.unarchive_location(actor=a, location_id=place.id),
    ):
        with refused(PermissionDenied, "You do not have permission to do this (catalog:manage)."):
            call(viewer)

    assert locations.rename_location(actor=clerk, location_id=place.id, name="Dock").name == "Dock"
    assert locations.archive_location(actor=clerk, location_id=place.id).archived


def test_another_stores_locations_do_not_exist_for_its_owner(
    store, owner, make_store, make_location, refused
):
    foreign_store = make_store()
    foreign = make_location(foreign_store, "THEIRS")

    with refused(NotFound, "Store not found."):
        locations.list_locations(owner, foreign_store.id)
    with refused(NotFound, "Store not found."):
        locations.create_location(actor=owner, store_id=foreign_store.id, code="MINE")
    for call in (
        lambda: locations.get_location(owner, foreign.id),
        lambda: locations.rename_location(actor=owner, location_id=foreign.id, name="x"),
        lambda: locations.archive_location(actor=owner, location_id=foreign.id),
        lambda: locations.unarchive_location(actor=owner, location_id=foreign.id),
    ):
        with refused(NotFound, "Location not found."):
            call()


@pytest.mark.parametrize("bad", [0, -1, 2**31, "1", None, True, 1.0])
def test_malformed_ids_are_not_found(store, owner, bad, refused):
    with refused(NotFound):
        locations.archive_location(actor=owner, location_id=bad)
    with refused(NotFound):
        locations.list_locations(owner, bad)


# --------------------------------------------------------------------------- concurrency


def _transfer_paused_after_its_stock_update(app, monkeypatch, owner, product, source, target):
    """Start a transfer into `target` that stops, mid-transaction, right after it has
    changed both entries; returns (thread, release event, outcome dict)."""
    return paused_at_ledger_write(app, monkeypatch, "transfer", lambda: stock.transfer_stock(
        actor=owner, product_id=product.id, from_location_id=source.id,
        to_location_id=target.id, quantity=4,
    ))


@pytest.fixture
def transfer_scene(store, make_location, make_product, make_entry):
    source, target = make_location(store, "SOURCE"), make_location(store, "TARGET")
    product = make_product(store)
    make_entry(store=store, location=source, product=product, quantity=10)
    # An existing, empty entry at the target: nothing there yet for a check to see.
    make_entry(store=store, location=target, product=product, quantity=0)
    return source, target, product


@pytest.fixture
def transfer_scene_without_target(store, make_location, make_product, make_entry):
    """As transfer_scene, but the transfer creates the target entry: no entry lock to meet,
    only the lock on the location."""
    source, target = make_location(store, "SOURCE"), make_location(store, "TARGET")
    product = make_product(store)
    make_entry(store=store, location=source, product=product, quantity=10)
    return source, target, product


@pytest.mark.parametrize("scene", ["transfer_scene", "transfer_scene_without_target"])
def test_archive_waits_for_a_transfer_in_flight_and_then_refuses(
    app, owner, monkeypatch, scene, request
):
    source, target, product = request.getfixturevalue(scene)
    db.session.rollback()
    transfer, release, outcome = _transfer_paused_after_its_stock_update(
        app, monkeypatch, owner, product, source, target
    )

    def archive() -> None:
        with app.app_context():
            try:
                outcome["archive"] = locations.archive_location(actor=owner, location_id=target.id)
            except Exception as exc:  # judged below
                outcome["archive"] = exc

    archiver = threading.Thread(target=archive, daemon=True)
    archiver.start()
    archiver.join(0.5)
    assert archiver.is_alive(), "archive did not wait for the transfer holding the entry"
    release.set()
    transfer.join(20)
    archiver.join(20)

    assert not isinstance(outcome["transfer"], Exception), outcome["transfer"]
    assert isinstance(outcome["archive"], LocationHoldsStock), outcome["archive"]
    assert str(outcome["archive"]) == (
        "TARGET still holds 4 units in 1 entry; move or remove them first."
    )
    assert _archived_at(target.id) is None


def _naive_archive(location_id: int, between: Callable[[], None] = lambda: None) -> None:
    """Check, then write, with no lock: what archive_location must not be. `between` runs
    in the gap between the check and the write, where the race happens."""
    held = db.session.scalar(
        select(db.func.coalesce(db.func.sum(stock.engine.entries.c.quantity), 0))
        .where(stock.engine.entries.c.location_id == location_id)
    )
    if held:
        raise LocationHoldsStock("?", int(held), 0, 0)
    between()
    db.session.execute(
        update(Location.__table__).where(Location.id == location_id).values(archived_at=utcnow())
    )
    db.session.commit()


def test_the_race_catches_an_archive_that_checks_without_locking(
    app, backend, owner, monkeypatch, transfer_scene
):
    if backend != "postgresql":
        pytest.skip("SQLite serializes every writer; the naive race needs row-level locking")
    source, target, product = transfer_scene
    db.session.rollback()
    transfer, release, outcome = _transfer_paused_after_its_stock_update(
        app, monkeypatch, owner, product, source, target
    )
    try:
        with app.app_context():
            # The transfer commits in the gap (its lock on the location would otherwise
            # hold the naive write until the pause gives up).
            _naive_archive(target.id, between=lambda: (release.set(), transfer.join(20)))
    finally:
        release.set()
        transfer.join(20)

    # The naive check saw the empty entry, archived, and the transfer landed stock there.
    assert _archived_at(target.id) is not None
    [row] = [r for r in locations.list_locations(owner, target.store_id) if r.id == target.id]
    assert row.on_hand == 4
