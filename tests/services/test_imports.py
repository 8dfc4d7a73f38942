"""CSV import: the dry-run plan names every problem by line; apply is all or nothing, one
ledger row per changed entry, all sharing the batch reference."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Event, InventoryEntry, Location, Product, StockMovement, Store
from app.permissions import ADJUST, Actor
from app.services import stock
from app.services.errors import ImportRefused
from app.services.stock import apply_import, plan_import

HEADER = "store,location,sku,title,quantity,reserved,available,threshold,status,version"
SHORT = "store,location,sku,quantity,threshold"


def csv_bytes(*lines: str, header: str = HEADER, bom: bool = True) -> bytes:
    text = "\r\n".join((header, *lines)) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode()


def batch_rows(ref: str) -> list[dict[str, Any]]:
    rows = [
        dict(r._mapping)
        for r in db.session.execute(
            select(StockMovement.__table__).where(StockMovement.batch_ref == ref)
            .order_by(StockMovement.id)
        )
    ]
    db.session.rollback()
    return rows


def entry_at(product: Product, location: Location) -> InventoryEntry | None:
    db.session.expire_all()
    found = db.session.scalar(
        select(InventoryEntry).where(
            InventoryEntry.product_id == product.id, InventoryEntry.location_id == location.id
        )
    )
    db.session.rollback()
    return found


@pytest.fixture
def shop(
    store: Store,
    location: Location,
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
    make_entry: Callable[..., stock.EntryState],
) -> dict[str, Any]:
    """MAIN holds a mug (10, 3 reserved) and a towel (5); SPARE holds nothing yet."""
    spare = make_location(store, "spare")
    mug = make_product(store, "MUG-1", title="Mug")
    towel = make_product(store, "TWL-1", title="Towel")
    gift = make_product(store, "GIFT-1", title="Gift card", type="digital")
    mug_entry = make_entry(store=store, location=location, product=mug, quantity=10,
                           reserved=3, threshold=2)
    towel_entry = make_entry(store=store, location=location, product=towel, quantity=5)
    return {"store": store, "main": location, "spare": spare, "mug": mug, "towel": towel,
            "gift": gift, "mug_entry": mug_entry, "towel_entry": towel_entry}


def row(shop: dict[str, Any], location: str, sku: str, quantity: Any, *, threshold: Any = "",
        version: Any = "") -> str:
    slug = shop["store"].slug
    return f"{slug},{location},{sku},Title,{quantity},0,0,{threshold},in_stock,{version}"


def test_apply_sets_creates_and_updates_thresholds_as_one_batch(
    shop: dict[str, Any], owner: Actor, trail: Callable[[int], list[tuple[Any, ...]]],
    stored: Callable[[int], dict[str, Any] | None],
) -> None:
    data = csv_bytes(
        row(shop, "MAIN", "MUG-1", 12, threshold=4),
        row(shop, "main", "TWL-1", 5),  # unchanged: writes nothing
        row(shop, "SPARE", "MUG-1", 7, threshold=1),  # no entry yet: created with stock
    )
    plan = plan_import(data, actor=owner)
    assert plan.ok and (plan.updates, plan.creates, plan.unchanged) == (1, 1, 1)
    mug = plan.rows[0]
    assert (mug.line, mug.old_quantity, mug.new_quantity, mug.delta) == (2, 10, 12, 2)
    assert (mug.old_threshold, mug.new_threshold) == (2, 4)

    result = apply_import(data, actor=owner, seen=plan.seen())
    assert result.batch_ref.startswith("import-")
    assert (result.created, result.movements, result.unchanged) == (1, 2, 1)

    mug_entry = shop["mug_entry"]
    assert stored(mug_entry.id)["quantity"] == 12
    assert stored(mug_entry.id)["low_stock_threshold"] == 4
    assert stored(mug_entry.id)["version"] == mug_entry.version + 1
    assert trail(mug_entry.id)[-1] == ("set", 2, 0, 12, 3)
    assert len(trail(shop["towel_entry"].id)) == 1  # only its opening row
    created = entry_at(shop["mug"], shop["spare"])
    assert created is not None
    assert (created.quantity, created.low_stock_threshold) == (7, 1)
    assert trail(created.id) == [("received", 7, 0, 7, 0)]
    rows = batch_rows(result.batch_ref)
    assert {r["entry_id"] for r in rows} == {created.id, mug_entry.id}
    assert {r["reason"] for r in rows} == {"CSV import"}
    assert {r["actor_id"] for r in rows} == {owner.user_id}


def test_reason_column_and_threshold_only_rows(
    shop: dict[str, Any], owner: Actor, trail: Callable[[int], list[tuple[Any, ...]]],
    stored: Callable[[int], dict[str, Any] | None],
) -> None:
    data = csv_bytes(
        f"{shop['store'].slug},MAIN,MUG-1,8,Stocktake March,",
        f"{shop['store'].slug},MAIN,TWL-1,5,,9",
        header="store,location,sku,quantity,reason,threshold",
    )
    result = apply_import(data, actor=owner)
    assert [r["reason"] for r in batch_rows(result.batch_ref)] == ["Stocktake March"]
    towel = stored(shop["towel_entry"].id)
    assert (towel["quantity"], towel["low_stock_threshold"]) == (5, 9)
    assert towel["version"] == shop["towel_entry"].version  # a threshold is not a stock change
    assert len(trail(shop["towel_entry"].id)) == 1


def test_a_file_full_of_bad_rows_applies_nothing_and_names_every_line(
    shop: dict[str, Any], owner: Actor, make_store: Callable[..., Store],
    refused: Callable[..., Any],
) -> None:
    foreign = make_store()
    slug = shop["store"].slug
    data = csv_bytes(
        row(shop, "MAIN", "MUG-1", 12),  # fine on its own
        "nope,MAIN,MUG-1,T,1,0,0,,,",
        f"{foreign.slug},MAIN,MUG-1,T,1,0,0,,,",
        row(shop, "ATTIC", "MUG-1", 1),
        row(shop, "MAIN", "NOPE-9", 1),
        row(shop, "MAIN", "GIFT-1", 1),
        row(shop, "MAIN", "TWL-1", "ten"),
        row(shop, "MAIN", "TWL-1", "1.5"),
        row(shop, "SPARE", "TWL-1", -4),
        row(shop, "SPARE", "MUG-1", 2_000_000_000),
        row(shop, "MAIN", "MUG-1", 2),  # below reserved, and a duplicate of line 2
        row(shop, "MAIN", "TWL-1", 3, threshold="x"),
        f"{slug},,TWL-1,T,,0,0,,,",
        f"{slug},MAIN,BAD\x00SKU,T,1,0,0,,,",
    )
    plan = plan_import(data, actor=owner)
    assert not plan.ok
    errors = [(line, message) for line, kind, message in plan.problems() if kind == "error"]
    assert (3, "Unknown store “nope”") in errors
    assert (4, f"Unknown store “{foreign.slug}”") in errors  # never says it exists
    assert (5, f"Unknown location code “ATTIC” in {slug}") in errors
    assert (6, f"Unknown SKU “NOPE-9” in {slug}") in errors
    assert (7, "GIFT-1 is a digital product: its stock is unlimited and needs no entry") in errors
    assert (8, "Quantity “ten” is not a whole number") in errors
    assert (9, "Quantity “1.5” is not a whole number") in errors
    assert (10, "Quantity -4 is negative") in errors
    assert (11, "Quantity 2000000000 is out of range (at most 1,000,000,000)") in errors
    assert (12, "Quantity 2 is below reserved 3") in errors
    assert (12, "Duplicate row: line 2 already sets MUG-1 at MAIN") in errors
    assert (13, "Threshold “x” is not a whole number") in errors
    assert (14, "The location is missing") in errors
    assert (14, "The quantity is missing") in errors
    assert (15, "The sku is not a valid name") in errors
    assert {line for line, _ in errors} == set(range(3, 16))

    with refused(ImportRefused) as info:
        apply_import(data, actor=owner)
    assert "13 rows with errors" in info.value.message
    assert "line 12: Quantity 2 is below reserved 3" in info.value.lines


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty. Start from the overview's CSV export."),
        (b"store,location,sku\r\nx,y,z\r\n", "Missing required column: quantity."),
        (b"store,location,sku,quantity\r\n", "The file has a header but no rows to import."),
        (b"store,sku,quantity\r\n\xff\xfe,1\r\n", "The file is not UTF-8 text"),
    ],
)
def test_file_level_errors(owner: Actor, content: bytes, message: str) -> None:
    plan = plan_import(content, actor=owner)
    assert not plan.ok
    assert plan.file_errors[0].startswith(message)


def test_too_many_rows_is_a_file_error(shop: dict[str, Any], owner: Actor) -> None:
    data = csv_bytes(*(row(shop, "MAIN", f"SKU-{n}", 1) for n in range(4)))
    plan = plan_import(data, actor=owner, max_rows=3)
    assert plan.file_errors and "more than 3 rows" in plan.file_errors[0]
    assert plan_import(data, actor=owner, max_rows=None).file_errors == []


def test_semicolons_no_bom_and_neutralised_cells(
    shop: dict[str, Any], owner: Actor, make_product: Callable[..., Product],
) -> None:
    make_product(shop["store"], "-DASH", title="Dash")
    data = csv_bytes(
        f"{shop['store'].slug};MAIN;'-DASH;3", header="store;location;sku;quantity", bom=False
    )
    plan = plan_import(data, actor=owner)
    assert plan.ok, list(plan.problems())
    assert (plan.rows[0].sku, plan.rows[0].creates, plan.rows[0].new_quantity) == ("-DASH", True, 3)


def test_permissions_are_checked_per_row_and_per_change(
    shop: dict[str, Any], member: Callable[..., Actor],
) -> None:
    clerk = member(shop["store"], "staff", grants=(ADJUST,))
    data = csv_bytes(
        row(shop, "MAIN", "MUG-1", 11),  # allowed: inventory:adjust
        row(shop, "MAIN", "TWL-1", 5, threshold=3),  # threshold needs inventory:threshold
        row(shop, "SPARE", "TWL-1", 2),  # a new entry needs catalog:manage
    )
    errors = [(n, m) for n, kind, m in plan_import(data, actor=clerk).problems()
              if kind == "error"]
    slug = shop["store"].slug
    assert errors == [
        (3, f"You may not change low-stock thresholds in {slug} (inventory:threshold)"),
        (4, f"You may not create entries in {slug} (catalog:manage)"),
    ]
    viewer = member(shop["store"], "staff")
    assert [m for _, _, m in plan_import(csv_bytes(row(shop, "MAIN", "MUG-1", 11)),
                                         actor=viewer).problems()] == [
        f"You may not change stock in {slug} (inventory:adjust)"
    ]
    # An exported file imported back unchanged needs no permission to change anything.
    assert plan_import(csv_bytes(row(shop, "MAIN", "MUG-1", 10)), actor=viewer).ok


def test_changed_since_export_is_a_warning(
    shop: dict[str, Any], owner: Actor, admin_actor: Actor,
) -> None:
    entry = shop["mug_entry"]
    exported = entry.version
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="found one")
    plan = plan_import(csv_bytes(row(shop, "MAIN", "MUG-1", 15, version=exported)), actor=owner)
    assert plan.ok
    assert plan.rows[0].warnings == [
        f"Changed since export (version {exported}, now {exported + 1})"
    ]
    assert (plan.rows[0].old_quantity, plan.rows[0].delta) == (11, 4)


def test_a_change_between_preview_and_apply_refuses_the_whole_file(
    shop: dict[str, Any], owner: Actor, admin_actor: Actor, refused: Callable[..., Any],
) -> None:
    data = csv_bytes(row(shop, "MAIN", "MUG-1", 20), row(shop, "MAIN", "TWL-1", 9))
    plan = plan_import(data, actor=owner)
    stock.adjust_stock(actor=admin_actor, entry_id=shop["towel_entry"].id, delta=-1,
                           reason="broken")
    with refused(ImportRefused) as info:
        apply_import(data, actor=owner, seen=plan.seen())
    assert info.value.message.startswith("Nothing was imported: 1 row changed since the preview")
    now = shop["towel_entry"].version + 1
    assert info.value.lines == [f"line 3 TWL-1 at MAIN: on hand now 4, version {now}"]


def test_applying_the_same_batch_twice_writes_once(
    shop: dict[str, Any], owner: Actor, stored: Callable[[int], dict[str, Any] | None],
) -> None:
    data = csv_bytes(row(shop, "MAIN", "TWL-1", 9))
    plan = plan_import(data, actor=owner)
    ref = stock.new_batch_ref()
    first = apply_import(data, actor=owner, batch_ref=ref, seen=plan.seen())
    again = apply_import(data, actor=owner, batch_ref=ref, seen=plan.seen())
    assert (first.replayed, again.replayed, again.movements) == (False, True, 1)
    assert len(batch_rows(ref)) == 1
    assert stored(shop["towel_entry"].id)["quantity"] == 9


def test_no_new_entries_at_archived_locations(
    shop: dict[str, Any], owner: Actor, stored: Callable[[int], dict[str, Any] | None],
) -> None:
    from app.clock import utcnow

    spare = db.session.get(Location, shop["spare"].id)
    spare.archived_at = utcnow()
    main = db.session.get(Location, shop["main"].id)
    main.archived_at = utcnow()
    db.session.commit()
    plan = plan_import(csv_bytes(row(shop, "SPARE", "MUG-1", 4), row(shop, "MAIN", "TWL-1", 6)),
                       actor=owner)
    assert [(r.line, r.errors) for r in plan.rows] == [
        (2, ["The location SPARE is archived: no new entry can be made there"]),
        (3, []),  # an existing entry there can still be set
    ]


def test_large_files_read_whole_stores_with_the_same_plan(
    shop: dict[str, Any], owner: Actor, monkeypatch: pytest.MonkeyPatch,
    make_store: Callable[..., Store], make_location: Callable[..., Location],
    make_product: Callable[..., Product], make_entry: Callable[..., stock.EntryState],
) -> None:
    other = make_store()  # an entry elsewhere that a whole-store read must not pick up
    make_entry(store=other, location=make_location(other, "MAIN"),
               product=make_product(other, "MUG-1"), quantity=50)
    data = csv_bytes(row(shop, "MAIN", "MUG-1", 12), row(shop, "SPARE", "TWL-1", 2),
                     row(shop, "MAIN", "NOPE", 1))

    def summary() -> list[tuple[Any, ...]]:
        return [(r.line, r.entry_id, r.old_quantity, r.new_quantity, r.errors)
                for r in plan_import(data, actor=owner).rows]

    by_key = summary()
    monkeypatch.setattr(stock.imports, "BULK_KEYS", 0)
    assert summary() == by_key
    assert by_key[0][1:3] == (shop["mug_entry"].id, 10)
    result = apply_import(data.replace(b"NOPE", b"TWL-1").replace(b"SPARE,TWL-1", b"SPARE,MUG-1"),
                          actor=owner)
    assert result.movements == 3


@pytest.mark.parametrize("cells", [
    ("\x0bMAIN", "MUG-1", "3"), ("MAIN", "MUG-1\x85", "3"), ("MAIN", "MUG-1", "3\x0b"),
    ("MAIN", "MUG-1", "15\u00a0"), ("MAIN", "MUG-1", "\u20073"), ("MAIN", "MUG-1", "3\x0c"),
])
def test_a_control_character_or_unicode_space_at_a_cells_edge_is_a_row_error(
    shop: dict[str, Any], owner: Actor, cells: tuple[str, str, str],
) -> None:
    """Trimming a cell takes ASCII spaces, tabs and line breaks only: a vertical tab, U+0085
    or a no-break space stays, and the row is refused instead of read as MAIN, MUG-1 or 15."""
    location, sku, quantity = cells
    plan = plan_import(csv_bytes(row(shop, location, sku, quantity)), actor=owner)
    assert not plan.ok
    errors = [message for line, kind, message in plan.problems() if kind == "error"]
    assert errors and all(line == 2 for line, kind, _ in plan.problems() if kind == "error")


def outbox(store_id: int) -> list[tuple[str, int | None]]:
    """The store's events so far, oldest first: (type, entry id)."""
    rows = db.session.execute(
        select(Event.type, Event.entry_id).where(Event.store_id == store_id)
        .order_by(Event.sequence)
    ).all()
    db.session.rollback()
    return [(r.type, r.entry_id) for r in rows]


def test_a_threshold_only_row_that_crosses_tells_the_outbox(
    shop: dict[str, Any], owner: Actor
) -> None:
    """Towel: 5 on hand; a threshold of 9 makes it low, with no ledger row, as the form does."""
    def told() -> list[tuple[str, int | None]]:
        return outbox(shop["store"].id)

    before = len(told())
    apply_import(csv_bytes(f"{shop['store'].slug},MAIN,TWL-1,5,9", header=SHORT), actor=owner)
    assert told()[before:] == [("stock.low", shop["towel_entry"].id)]
    apply_import(csv_bytes(f"{shop['store'].slug},MAIN,TWL-1,5,0", header=SHORT), actor=owner)
    assert told()[before + 1:] == [("stock.back_in_stock", shop["towel_entry"].id)]


def test_a_row_changing_quantity_and_threshold_together_crosses_from_the_old_threshold(
    shop: dict[str, Any], owner: Actor
) -> None:
    """Towel: 5 on hand, no threshold (in stock). A row with 7 and a threshold of 9 leaves
    it low: one stock.low. Judged by the new threshold on both sides, 5 would already have
    counted as low and the crossing would go untold. Then 6 with threshold 0: back."""
    def told() -> list[tuple[str, int | None]]:
        return outbox(shop["store"].id)

    towel = shop["towel_entry"].id
    before = len(told())
    apply_import(csv_bytes(f"{shop['store'].slug},MAIN,TWL-1,7,9", header=SHORT), actor=owner)
    assert told()[before:] == [("stock.changed", towel), ("stock.low", towel)]
    apply_import(csv_bytes(f"{shop['store'].slug},MAIN,TWL-1,6,0", header=SHORT), actor=owner)
    assert told()[before + 2:] == [("stock.changed", towel), ("stock.back_in_stock", towel)]


def test_a_unit_cost_column_costs_a_new_entrys_opening_stock_and_nothing_else(
    shop: dict[str, Any], owner: Actor
) -> None:
    """Created with stock: its average cost and its opening row's cost. On an existing
    entry, or a new one without stock, the cost is ignored with a warning; a bad one is an
    error naming the column."""
    slug = shop["store"].slug
    header = "store,location,sku,quantity,unit_cost"
    data = csv_bytes(f"{slug},SPARE,MUG-1,4,2.50", f"{slug},MAIN,TWL-1,5,9.99",
                     f"{slug},SPARE,TWL-1,0,1.00", header=header)
    plan = plan_import(data, actor=owner)
    assert plan.ok
    assert [(line, kind, message) for line, kind, message in plan.problems()] == [
        (3, "warning", "Unit cost ignored: it starts a new entry's opening stock only; an "
                       "existing entry's cost comes from its receipts"),
        (4, "warning", "Unit cost ignored: the new entry has no opening stock to cost"),
    ]
    apply_import(data, actor=owner)
    mug = entry_at(shop["mug"], shop["spare"])
    towel = entry_at(shop["towel"], shop["spare"])
    assert mug is not None and towel is not None
    assert (mug.average_cost, towel.average_cost) == (25_000, None)
    db.session.rollback()
    assert db.session.scalar(select(StockMovement.unit_cost).where(
        StockMovement.entry_id == mug.id)) == 25_000
    db.session.rollback()

    bad = plan_import(csv_bytes(f"{slug},SPARE,GIFT-1,4,1.234567", header=header), actor=owner)
    assert ("error", "The unit cost: use at most 4 decimals") in [
        (kind, message) for _, kind, message in bad.problems()]
