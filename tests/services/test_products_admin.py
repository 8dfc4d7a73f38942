"""Products as an owner manages them: create, edit, archive, list and search, stock them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Product
from app.services import catalog, locations, queries, stock
from app.services.catalog import gtin_check_digit
from app.services.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ReservedStockBlocksTypeChange,
    ValidationError,
)
from app.services.stock import engine

EAN13 = "4006381333931"
UPC_A = "036000291452"
GTIN8 = "96385074"
GTIN14 = "1001234567890" + gtin_check_digit("1001234567890")


def _stored(product_id: int) -> Product:
    db.session.rollback()
    product = db.session.get(Product, product_id)
    assert product is not None
    db.session.expunge(product)
    return product


def _fields(**changes: Any) -> dict[str, Any]:
    return {
        "sku": "MUG-BLU", "title": "Blue mug", "gtin": EAN13, "product_type": "physical",
        "allow_backorder": False, "reorder_point": 4, "reorder_quantity": 12, **changes,
    }


@pytest.fixture
def mug(store, owner):
    return catalog.create_product(actor=owner, store_id=store.id, **_fields())


# --------------------------------------------------------------------------- GTIN


@pytest.mark.parametrize("code", [EAN13, UPC_A, GTIN8, GTIN14])
def test_every_gtin_length_with_a_right_check_digit_is_accepted(store, owner, code):
    product = catalog.create_product(actor=owner, store_id=store.id,
                                     **_fields(sku=f"S-{code}", gtin=f" {code} "))

    assert _stored(product.id).gtin == code


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("4006381333932", "The check digit is wrong: after 400638133393 it should be 1, not 2. "
                          "Check for a typing error."),
        ("40063813339", "A GTIN has 8, 12, 13 or 14 digits; this one has 11."),
        ("4006381333931000", "A GTIN has 8, 12, 13 or 14 digits; this one has 16."),
        ("40063813339X1", "A GTIN has digits only (0–9), no spaces or letters."),
        ("4006 381333931", "A GTIN has digits only (0–9), no spaces or letters."),
        ("４００６３８１３３３９３１", "A GTIN has digits only (0–9), no spaces or letters."),
    ],
)
def test_a_bad_gtin_says_what_is_wrong_and_changes_nothing(
    store, owner, refused, code, message
):
    with refused(ValidationError, fields={"gtin": message}):
        catalog.create_product(actor=owner, store_id=store.id, **_fields(gtin=code))


def test_editing_checks_the_gtin_too(mug, owner, refused):
    with refused(ValidationError, fields={"gtin": "A GTIN has 8, 12, 13 or 14 digits; "
                                                  "this one has 5."}):
        catalog.update_product(actor=owner, product_id=mug.id, **_fields(gtin="12345"))


# --------------------------------------------------------------------------- other fields


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"sku": " "}, {"sku": "This field is required."}),
        ({"title": ""}, {"title": "This field is required."}),
        ({"sku": "S" * 65}, {"sku": "Must be at most 64 characters."}),
        ({"title": "bell\x07"}, {"title": "Must not contain control characters."}),
        ({"product_type": "vinyl"},
         {"product_type": "Choose one of: physical, digital, service, subscription."}),
        ({"allow_backorder": "yes"}, {"allow_backorder": "Choose yes or no."}),
        ({"reorder_point": -1}, {"reorder_point": "Must not be negative."}),
        ({"reorder_point": 1.5}, {"reorder_point": "Enter a whole number."}),
        ({"reorder_point": True}, {"reorder_point": "Enter a whole number."}),
        ({"reorder_quantity": 10**10},
         {"reorder_quantity": "Must be between -1,000,000,000 and 1,000,000,000."}),
        ({"reorder_quantity": "12"}, {"reorder_quantity": "Enter a whole number."}),
    ],
)
def test_bad_fields_are_named_on_create_and_on_edit(mug, store, owner, refused, changes, fields):
    with refused(ValidationError, fields=fields):
        catalog.create_product(actor=owner, store_id=store.id,
                               **_fields(**{"sku": "NEW", **changes}))
    with refused(ValidationError, fields=fields):
        catalog.update_product(actor=owner, product_id=mug.id, **_fields(**changes))


def test_edit_changes_every_field_and_keeps_the_stock(
    mug, store, owner, make_location, make_entry
):
    entry = make_entry(store=store, location=make_location(store), product=_stored(mug.id),
                       quantity=7)

    after = catalog.update_product(
        actor=owner, product_id=mug.id,
        **_fields(sku=" MUG-NAVY ", title=" Navy mug ", gtin=None, allow_backorder=True,
                  reorder_point=0, reorder_quantity=30),
    )

    saved = _stored(mug.id)
    assert (saved.sku, saved.title, saved.gtin, saved.allow_backorder, saved.reorder_point,
            saved.reorder_quantity) == ("MUG-NAVY", "Navy mug", None, True, 0, 30)
    assert (after.sku, after.on_hand, after.entries) == ("MUG-NAVY", 7, 1)
    assert queries.get_entry(owner, entry.id).sku == "MUG-NAVY"


def test_a_sku_taken_in_the_store_is_refused_on_create_and_edit(mug, store, owner, refused):
    other = catalog.create_product(actor=owner, store_id=store.id, **_fields(sku="CUP"))

    with refused(Conflict, "This store already has a product with the SKU MUG-BLU."):
        catalog.create_product(actor=owner, store_id=store.id, **_fields(sku=" MUG-BLU "))
    with refused(Conflict, "This store already has a product with the SKU MUG-BLU."):
        catalog.update_product(actor=owner, product_id=other.id, **_fields(sku="MUG-BLU"))
    # Saving a product under its own SKU is no conflict.
    assert catalog.update_product(actor=owner, product_id=mug.id, **_fields()).sku == "MUG-BLU"


def test_another_store_may_use_the_same_sku(mug, make_store, admin_actor):
    other = make_store()

    assert catalog.create_product(actor=admin_actor, store_id=other.id, **_fields()).id != mug.id


def test_unlimited_products_never_allow_backorders_after_an_edit(mug, owner):
    catalog.update_product(actor=owner, product_id=mug.id,
                           **_fields(product_type="service", allow_backorder=True))

    saved = _stored(mug.id)
    assert (saved.type, saved.allow_backorder) == ("service", False)


# --------------------------------------------------------------------------- type changes


def test_a_product_with_reserved_units_cannot_turn_unlimited(
    mug, store, owner, make_location, make_entry, refused
):
    product = _stored(mug.id)
    make_entry(store=store, location=make_location(store), product=product, quantity=9,
               reserved=3)
    make_entry(store=store, location=make_location(store), product=product, quantity=4,
               reserved=2)

    with refused(
        ReservedStockBlocksTypeChange,
        "MUG-BLU has 5 reserved units in 2 entries: release or fulfill them before making it "
        "a digital product.",
    ):
        catalog.update_product(actor=owner, product_id=mug.id, **_fields(product_type="digital"))


def test_stock_without_reservations_stays_when_a_product_turns_unlimited_and_back(
    mug, store, owner, make_location, make_entry
):
    entry = make_entry(store=store, location=make_location(store), product=_stored(mug.id),
                       quantity=6)

    catalog.update_product(actor=owner, product_id=mug.id,
                           **_fields(product_type="subscription"))
    assert queries.get_entry(owner, entry.id).unlimited
    assert catalog.get_product(owner, mug.id).unlimited

    catalog.update_product(actor=owner, product_id=mug.id, **_fields(product_type="physical"))
    view = queries.get_entry(owner, entry.id)
    assert (view.unlimited, view.quantity) == (False, 6)


# --------------------------------------------------------------------------- archive


def test_archive_hides_a_product_from_the_list_reorder_and_public_read_only(
    store, owner, make_location, make_entry
):
    product = catalog.create_product(actor=owner, store_id=store.id,
                                     **_fields(reorder_point=50))
    entry = make_entry(store=store, location=make_location(store), product=_stored(product.id),
                       quantity=5)
    filters = queries.ReportFilters(store_id=store.id)
    assert [line.product_id for line in queries.reorder_suggestions(owner, filters).rows] == [
        product.id
    ]

    after = catalog.archive_product(actor=owner, product_id=product.id)

    assert after.archived and _stored(product.id).archived_at is not None
    assert catalog.list_products(owner, store.id).rows == []
    assert [p.id for p in catalog.list_products(owner, store.id, archived=True).rows] == [
        product.id
    ]
    assert queries.reorder_suggestions(owner, filters).rows == []
    with pytest.raises(NotFound):
        queries.public_availability(product.id)
    # The overview still lists its entries: their stock is real until moved or written off.
    page = queries.list_entries(owner, queries.EntryFilters(store_id=store.id))
    assert [r.id for r in page.rows] == [entry.id]

    catalog.unarchive_product(actor=owner, product_id=product.id)
    assert _stored(product.id).archived_at is None
    assert queries.public_availability(product.id).available == 5


def test_archive_and_restore_twice_are_refused(mug, owner, refused):
    catalog.archive_product(actor=owner, product_id=mug.id)
    with refused(Conflict, "MUG-BLU is already archived."):
        catalog.archive_product(actor=owner, product_id=mug.id)
    catalog.unarchive_product(actor=owner, product_id=mug.id)
    with refused(Conflict, "MUG-BLU is not archived."):
        catalog.unarchive_product(actor=owner, product_id=mug.id)


# --------------------------------------------------------------------------- list and search


def test_the_list_pages_by_sku_with_totals_and_unlimited_products(
    store, owner, make_location, make_entry
):
    place, other = make_location(store), make_location(store)
    made = {
        sku: catalog.create_product(actor=owner, store_id=store.id,
                                    **_fields(sku=sku, gtin=None, product_type=kind))
        for sku, kind in (("E", "physical"), ("B", "physical"), ("D", "digital"),
                          ("A", "physical"), ("C", "service"))
    }
    make_entry(store=store, location=place, product=_stored(made["A"].id), quantity=8,
               reserved=2)
    make_entry(store=store, location=other, product=_stored(made["A"].id), quantity=4)

    first = catalog.list_products(owner, store.id, limit=2)
    second = catalog.list_products(owner, store.id, limit=2, cursor=first.next_cursor)
    third = catalog.list_products(owner, store.id, limit=2, cursor=second.next_cursor)

    assert [[p.sku for p in page.rows] for page in (first, second, third)] == [
        ["A", "B"], ["C", "D"], ["E"],
    ]
    assert (first.total, third.next_cursor) == (5, None)
    a = first.rows[0]
    assert (a.on_hand, a.reserved, a.entries, a.unlimited) == (12, 2, 2, False)
    assert [p.unlimited for p in second.rows] == [True, True]


def test_search_matches_sku_and_title_in_any_case_and_the_gtin_exactly(store, owner):
    catalog.create_product(actor=owner, store_id=store.id, **_fields())
    catalog.create_product(actor=owner, store_id=store.id,
                           **_fields(sku="TEE-1", title="Mugshot tee", gtin=UPC_A))
    catalog.create_product(actor=owner, store_id=store.id,
                           **_fields(sku="CAP_50%", title="Cap", gtin=None))

    def skus(term: str) -> list[str]:
        return [p.sku for p in catalog.list_products(owner, store.id, search=term).rows]

    assert skus("mug") == ["MUG-BLU", "TEE-1"]
    assert skus("tee-") == ["TEE-1"]
    assert skus(UPC_A) == ["TEE-1"]
    assert skus(UPC_A[:6]) == []  # a GTIN matches whole, not in part
    assert skus("%") == ["CAP_50%"]  # wildcards are searched for, not obeyed
    assert skus("_") == ["CAP_50%"]


def test_a_forged_cursor_names_the_cursor(store, owner):
    with pytest.raises(ValidationError) as info:
        catalog.list_products(owner, store.id, cursor="not-a-cursor")

    assert info.value.fields == {"cursor": "This page link is no longer valid."}


def test_stocking_options_leave_out_archived_and_already_stocked_locations(
    mug, store, owner, make_location, make_entry
):
    stocked, free, retired = (make_location(store, c) for c in ("B_STOCKED", "A_FREE", "C_OLD"))
    make_entry(store=store, location=stocked, product=_stored(mug.id), quantity=1)
    locations.archive_location(actor=owner, location_id=retired.id)

    assert [o.code for o in catalog.stocking_options(owner, mug.id)] == ["A_FREE"]
    stock.create_entry(actor=owner, product_id=mug.id, location_id=free.id, quantity=3)
    assert catalog.stocking_options(owner, mug.id) == []
    assert db.session.scalar(
        select(InventoryEntry.quantity).where(InventoryEntry.location_id == free.id)
    ) == 3


# --------------------------------------------------------------------------- who may


def test_staff_read_products_but_change_them_only_with_the_catalog_group(
    mug, store, member, refused
):
    viewer, clerk = member(store, "staff"), member(store, "staff", grants=("catalog:manage",))

    assert [p.sku for p in catalog.list_products(viewer, store.id).rows] == ["MUG-BLU"]
    assert catalog.get_product(viewer, mug.id).sku == "MUG-BLU"
    denied = "You do not have permission to do this (catalog:manage)."
    for call in (
        lambda a: catalog.create_product(actor=a, store_id=store.id, **_fields(sku="NEW")),
        lambda a: catalog.update_product(actor=a, product_id=mug.id, **_fields(title="x")),
        lambda a: catalog.archive_product(actor=a, product_id=mug.id),
        lambda a: catalog.unarchive_product(actor=a, product_id=mug.id),
    ):
        with refused(PermissionDenied, denied):
            call(viewer)

    assert catalog.update_product(actor=clerk, product_id=mug.id,
                                  **_fields(title="Mug")).title == "Mug"


def test_another_stores_products_do_not_exist_for_its_owner(
    store, owner, make_store, admin_actor, refused
):
    foreign_store = make_store()
    theirs = catalog.create_product(actor=admin_actor, store_id=foreign_store.id, **_fields())

    with refused(NotFound, "Store not found."):
        catalog.list_products(owner, foreign_store.id)
    with refused(NotFound, "Store not found."):
        catalog.create_product(actor=owner, store_id=foreign_store.id, **_fields(sku="X"))
    for call in (
        lambda: catalog.get_product(owner, theirs.id),
        lambda: catalog.update_product(actor=owner, product_id=theirs.id, **_fields()),
        lambda: catalog.archive_product(actor=owner, product_id=theirs.id),
        lambda: catalog.stocking_options(owner, theirs.id),
    ):
        with refused(NotFound, "Product not found."):
            call()


@pytest.mark.parametrize("bad", [0, -3, 2**31, "1", None, False])
def test_malformed_product_ids_are_not_found(owner, bad, refused):
    with refused(NotFound, "Product not found."):
        catalog.update_product(actor=owner, product_id=bad, **_fields())
    with refused(NotFound, "Product not found."):
        catalog.get_product(owner, bad)


# --------------------------------------------------------------------------- concurrency


def test_a_type_change_waits_for_a_reservation_in_flight_and_then_refuses(
    app, mug, store, owner, make_location, make_entry, monkeypatch
):
    entry = make_entry(store=store, location=make_location(store), product=_stored(mug.id),
                       quantity=10)
    db.session.rollback()
    paused, release, outcome = threading.Event(), threading.Event(), {}
    real_write = engine.write_ledger

    def write_ledger(*args: Any, **kwargs: Any) -> list[int]:
        movement_ids = real_write(*args, **kwargs)
        if threading.current_thread().name == "reserve":
            paused.set()
            release.wait(20)
        return movement_ids

    monkeypatch.setattr(engine, "write_ledger", write_ledger)

    def reserve() -> None:
        with app.app_context():
            try:
                outcome["reserve"] = stock.reserve_stock(
                    actor=owner, entry_id=entry.id, quantity=3, order_ref="ORD-1")
            except Exception as exc:  # judged below
                outcome["reserve"] = exc

    def change_type() -> None:
        with app.app_context():
            try:
                outcome["update"] = catalog.update_product(
                    actor=owner, product_id=mug.id, **_fields(product_type="digital"))
            except Exception as exc:  # judged below
                outcome["update"] = exc

    holder = threading.Thread(target=reserve, name="reserve", daemon=True)
    holder.start()
    assert paused.wait(20), "the reservation never reached its ledger write"
    changer = threading.Thread(target=change_type, daemon=True)
    changer.start()
    changer.join(0.5)
    assert changer.is_alive(), "the type change did not wait for the reservation"
    release.set()
    holder.join(20)
    changer.join(20)

    assert not isinstance(outcome["reserve"], Exception), outcome["reserve"]
    assert isinstance(outcome["update"], ReservedStockBlocksTypeChange), outcome["update"]
    assert _stored(mug.id).type == "physical"
