"""CSV import of the item and options columns: a known SKU's cells must agree with the
catalog; an unknown SKU that names its item joins that item (or makes one) with the
catalog's checks; an exported store imports back into itself unchanged, and into an empty
store as the same catalog and stock."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, InventoryEntry, Item, ItemVariant, Location, Product, Store
from app.permissions import ADJUST, CATALOG, THRESHOLD, Actor
from app.services import catalog, export, items, stock
from app.services.csvfile import csv_chunks
from app.services.errors import ImportRefused
from app.services.queries import EntryFilters
from app.services.stock import apply_import, describe, import_catalog, plan_import

HEADER = "store,location,sku,quantity,threshold,item,options"


def csv_bytes(*rows: tuple[Any, ...], header: str = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


def exported(actor: Actor, store: Store) -> bytes:
    """The store's entries CSV, as the overview's export writes it."""
    rows = export.iter_entries_csv(actor, EntryFilters(store_id=store.id))
    text = "".join(csv_chunks(export.CSV_COLUMNS, (row.cells() for row in rows)))
    db.session.rollback()
    return text.encode()


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def errors_of(plan: stock.ImportPlan) -> list[tuple[int | None, str]]:
    return [(line, message) for line, kind, message in plan.problems() if kind == "error"]


def catalog_of(store: Store) -> list[tuple[Any, ...]]:
    """Every variant of the store: item, option names, SKU, product title, values, type,
    reorder point and order-up-to level."""
    rows = db.session.execute(
        select(Item.title, Item.option1, Item.option2, Item.option3, Product.sku,
               Product.title, ItemVariant.value1, ItemVariant.value2, ItemVariant.value3,
               Product.type, Product.reorder_point, Product.reorder_up_to)
        .join(ItemVariant, ItemVariant.item_id == Item.id)
        .join(Product, Product.id == ItemVariant.product_id)
        .where(Item.store_id == store.id)
    ).all()
    db.session.rollback()
    return sorted(tuple(r) for r in rows)


def stock_of(store: Store) -> list[tuple[Any, ...]]:
    rows = db.session.execute(
        select(Location.code, Product.sku, InventoryEntry.quantity,
               InventoryEntry.low_stock_threshold)
        .join(Location, Location.id == InventoryEntry.location_id)
        .join(Product, Product.id == InventoryEntry.product_id)
        .where(InventoryEntry.store_id == store.id)
    ).all()
    db.session.rollback()
    return sorted(tuple(r) for r in rows)


def items_titled(store: Store, title: str) -> list[Item]:
    found = list(db.session.scalars(
        select(Item).where(Item.store_id == store.id, Item.title == title).order_by(Item.id)
    ))
    db.session.expunge_all()
    db.session.rollback()
    return found


@pytest.fixture
def shop(store: Store, location: Location, admin_actor: Actor,
         make_location: Callable[..., Location]) -> dict[str, Any]:
    """Parka (Color: Black; Size: S, M, reorder point 5, up to 12) and a mug made alone,
    stocked at MAIN and SPARE; no reservations, so an export carries everything."""
    spare = make_location(store, "spare")
    options = [items.Option("Color", ("Black",)), items.Option("Size", ("S", "M"))]
    parka = items.create_item(actor=admin_actor, store_id=store.id, title="Parka",
                              options=options,
                              variants_to_make=items.generate(options, "PRK", reorder_point=5,
                                                              reorder_up_to=12))
    mug = catalog.create_product(actor=admin_actor, store_id=store.id, sku="MUG-1",
                                 title="Mug")
    small, medium = parka.product_ids
    for product_id, place, quantity, threshold in (
        (small, location, 5, 2), (medium, location, 3, 0), (medium, spare, 1, 1),
        (mug.id, location, 10, 4),
    ):
        stock.create_entry(actor=admin_actor, product_id=product_id, location_id=place.id,
                           quantity=quantity, low_stock_threshold=threshold)
    return {"store": store, "slug": store.slug, "main": location, "spare": spare,
            "parka": parka, "mug": mug}


# --------------------------------------------------------------------------- new SKUs


def test_an_unknown_sku_naming_its_item_and_options_becomes_a_variant_of_that_item(
    shop: dict[str, Any], owner: Actor, trail: Callable[[int], list[tuple[Any, ...]]],
) -> None:
    data = csv_bytes((shop["slug"], "MAIN", "PRK-BLACK-XL", 4, 1, "Parka",
                      "Color: Black; Size: XL"))
    plan = plan_import(data, actor=owner)
    assert errors_of(plan) == [] and not plan.has_warnings
    row = plan.rows[0]
    assert row.new_variant is not None and row.creates_product
    assert row.new_variant.describe() == "variant PRK-BLACK-XL of Parka (Color: Black; Size: XL)"
    assert describe(plan) == "1 rows, 0 to update, 1 to create, 0 unchanged, 1 product to add"
    before = catalog_of(shop["store"])

    result = apply_import(data, actor=owner, seen=plan.seen())
    assert (result.created, result.new_products, result.new_items) == (1, 1, 0)
    assert stock.describe_result(result).startswith(
        "0 entries updated, 1 created, 1 product added, 1 ledger row in batch import-")
    assert catalog_of(shop["store"]) == sorted([
        *before,
        # The new variant takes the item's first variant's settings, as adding a value does.
        ("Parka", "Color", "Size", None, "PRK-BLACK-XL", "Parka - Black / XL", "Black", "XL",
         "", "physical", 5, 12),
    ])
    view = items.get_item(owner, shop["parka"].id)
    assert [(o.name, o.values) for o in view.options] == [
        ("Color", ("Black",)), ("Size", ("S", "M", "XL"))]
    new = next(v for v in view.variants if v.sku == "PRK-BLACK-XL")
    cell = new.cells[shop["main"].id]
    assert (cell.quantity, cell.threshold) == (4, 1)
    assert trail(cell.entry_id) == [("received", 4, 0, 4, 0)]
    recorded = db.session.execute(
        select(AuditEvent.action, AuditEvent.object_label, AuditEvent.changes)
        .where(AuditEvent.batch_ref == result.batch_ref).order_by(AuditEvent.id)
    ).all()
    db.session.rollback()
    assert [(a, label) for a, label, _ in recorded] == [
        ("product.created", "PRK-BLACK-XL"), ("entry.created", "PRK-BLACK-XL at MAIN")]
    assert recorded[0][2]["item"] == [None, "Parka"]
    assert recorded[0][2]["options"] == [None, "Black / XL"]


def test_an_item_the_store_lacks_is_made_once_for_all_its_rows_and_locations(
    shop: dict[str, Any], owner: Actor,
) -> None:
    slug = shop["slug"]
    data = csv_bytes(
        (slug, "MAIN", "JKT-RED-S", 2, "", "Jacket", "Color: Red; Size: S"),
        (slug, "SPARE", "JKT-RED-S", 1, 3, "Jacket", "Color: Red; Size: S"),
        (slug, "MAIN", "JKT-RED-M", 3, "", "Jacket", "Color: Red; Size: M"),
    )
    plan = plan_import(data, actor=owner)
    assert errors_of(plan) == []
    first, again, medium = plan.rows
    assert first.new_variant is again.new_variant
    assert first.new_variant.describe() == (
        "variant JKT-RED-S of the new item Jacket (Color: Red; Size: S)")
    assert [r.creates_product for r in plan.rows] == [True, False, True]
    assert medium.new_variant.item is first.new_variant.item
    assert describe(plan).endswith("2 products (1 new item) to add")

    result = apply_import(data, actor=owner, seen=plan.seen())
    assert (result.created, result.new_products, result.new_items) == (3, 2, 1)
    [jacket] = items_titled(shop["store"], "Jacket")
    assert jacket.option_names == ["Color", "Size"]
    view = items.get_item(owner, jacket.id)
    assert [(v.sku, v.values) for v in view.variants] == [
        ("JKT-RED-S", ("Red", "S")), ("JKT-RED-M", ("Red", "M"))]
    assert ("SPARE", "JKT-RED-S", 1, 3) in stock_of(shop["store"])


def test_a_row_without_options_makes_an_item_of_its_own_titled_by_the_title_column(
    shop: dict[str, Any], owner: Actor,
) -> None:
    slug = shop["slug"]
    data = csv_bytes(
        (slug, "MAIN", "MUG-2", 1, "Mug", "", "Mug, large"),
        (slug, "MAIN", "MUG-3", 1, "Mug", "", ""),
        header="store,location,sku,quantity,item,options,title",
    )
    plan = plan_import(data, actor=owner)
    assert errors_of(plan) == []
    assert plan.rows[0].new_variant.describe() == "product MUG-2, the new item Mug (no options)"
    apply_import(data, actor=owner, seen=plan.seen())
    mugs = items_titled(shop["store"], "Mug")
    assert len(mugs) == 3 and all(m.option_names == [] for m in mugs)
    assert [(c[0], c[4], c[5]) for c in catalog_of(shop["store"]) if c[0] == "Mug"] == [
        ("Mug", "MUG-1", "Mug"), ("Mug", "MUG-2", "Mug, large"), ("Mug", "MUG-3", "Mug")]


def test_an_unknown_sku_without_an_item_is_still_refused(
    shop: dict[str, Any], owner: Actor,
) -> None:
    slug = shop["slug"]
    plan = plan_import(csv_bytes((slug, "MAIN", "NEW-1", 1, "", "", "")), actor=owner)
    assert errors_of(plan) == [(2, f"Unknown SKU “NEW-1” in {slug}: to add it to the "
                                   "catalog, name its item in the item column")]


@pytest.mark.parametrize(("item", "options", "message"), [
    ("Parka", "Colour: Black; Size: XL",
     "Options: Parka has the options Color, Size; this row names Colour, Size"),
    ("Parka", "Color: Black",
     "Options: Parka has the options Color, Size; this row names Color"),
    ("Parka", "Color: Black; Size: S",
     "Options: Parka already has Color: Black; Size: S, as SKU PRK-BLACK-S"),
    ("Parka", "Color: black; Size: XL", "Options: Parka writes its Color “Black”, not “black”"),
    ("P" * 201, "", "Item: the title is longer than 200 characters"),
    ("Parka\tcoat", "", "Item: the title must not contain control characters"),
    ("Parka\x00", "", "The item must not contain control characters (found U+0000)"),
])
def test_a_new_variant_meets_the_catalogs_checks(
    shop: dict[str, Any], owner: Actor, refused: Callable[..., Any],
    item: str, options: str, message: str,
) -> None:
    data = csv_bytes((shop["slug"], "MAIN", "NEW-1", 1, "", item, options))
    plan = plan_import(data, actor=owner)
    assert [m for _, m in errors_of(plan)] == [message]
    assert plan.rows[0].new_variant is None
    with refused(ImportRefused):
        apply_import(data, actor=owner)


def test_a_new_skus_length_its_title_and_its_rows_must_agree(
    shop: dict[str, Any], owner: Actor,
) -> None:
    slug = shop["slug"]
    long_sku = "S" * 65
    data = csv_bytes(
        (slug, "MAIN", long_sku, 1, "Thing", "", ""),
        (slug, "MAIN", "NEW-1", 1, "Parka", "Color: Black; Size: XL", ""),
        (slug, "SPARE", "NEW-1", 1, "Parka", "Color: Black; Size: XXL", ""),
        (slug, "MAIN", "NEW-2", 1, "Cap", "", "T" * 201),
        header="store,location,sku,quantity,item,options,title",
    )
    assert errors_of(plan_import(data, actor=owner)) == [
        (2, f"The SKU {'S' * 24}… is longer than 64 characters, too long for a new product"),
        (4, "Item and options: line 3 adds variant NEW-1 of Parka (Color: Black; Size: XL); "
            "this row says Parka (Color: Black; Size: XXL)"),
        (5, "The title is longer than 200 characters"),
    ]


def test_an_item_holds_at_most_max_variants_and_a_title_must_name_one_item(
    shop: dict[str, Any], owner: Actor, admin_actor: Actor, monkeypatch: pytest.MonkeyPatch,
) -> None:
    slug = shop["slug"]
    monkeypatch.setattr(items, "MAX_VARIANTS", 3)
    data = csv_bytes((slug, "MAIN", "NEW-1", 1, "", "Parka", "Color: Black; Size: L"),
                     (slug, "MAIN", "NEW-2", 1, "", "Parka", "Color: Black; Size: XL"))
    assert errors_of(plan_import(data, actor=owner)) == [
        (3, "Options: Parka would have 4 variants; an item has at most 3")]
    monkeypatch.undo()
    options = [items.Option("Color", ("Red",)), items.Option("Size", ("S",))]
    items.create_item(actor=admin_actor, store_id=shop["store"].id, title="Parka",
                      options=options, variants_to_make=items.generate(options, "PRK2"))
    assert errors_of(plan_import(data, actor=owner))[0] == (
        2, "Item: the store has 2 items called “Parka” with the options Color, Size; add "
           "this variant on its item's page")


# --------------------------------------------------------------------------- known SKUs


def test_a_known_skus_item_and_options_must_agree_with_the_catalog(
    shop: dict[str, Any], owner: Actor, refused: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slug = shop["slug"]
    loose = Product(store_id=shop["store"].id, sku="LOOSE-1", title="Loose")
    db.session.add(loose)  # a product with no item, as rows loaded outside the app are
    db.session.commit()
    data = csv_bytes(
        (slug, "MAIN", "PRK-BLACK-S", 5, "", "Parka", "Color: Black; Size: S"),  # agrees
        (slug, "MAIN", "PRK-BLACK-M", 3, "", "Jacket", "Color: Black; Size: M"),
        (slug, "SPARE", "PRK-BLACK-M", 1, "", "Parka", "Color: Black; Size: L"),
        (slug, "SPARE", "PRK-BLACK-S", 2, "", "Parka", "Size: S; Color: Black"),
        (slug, "MAIN", "MUG-1", 10, "", "Mug", "Color: Blue"),
        (slug, "SPARE", "MUG-1", 2, "", "", ""),  # blank cells claim nothing
        (slug, "MAIN", "LOOSE-1", 1, "", "Loose", ""),
    )
    plan = plan_import(data, actor=owner)
    expected = [
        (3, "Item: PRK-BLACK-M is a variant of “Parka”, not “Jacket”; an import does not "
            "move variants or rename items"),
        (4, "Options: PRK-BLACK-M is “Color: Black; Size: M”, not “Color: Black; Size: L”; "
            "an import does not change a variant's options"),
        (5, "Options: PRK-BLACK-S is “Color: Black; Size: S”, not “Size: S; Color: Black”; "
            "an import does not change a variant's options"),
        (6, "Options: MUG-1 has no options, not “Color: Blue”; an import does not change a "
            "variant's options"),
        (8, "Item: LOOSE-1 belongs to no item; leave the item blank"),
    ]
    assert errors_of(plan) == expected
    # A large file reads the store's variants whole: the same answer.
    monkeypatch.setattr(import_catalog, "BULK_KEYS", 0)
    assert errors_of(plan_import(data, actor=owner)) == expected
    with refused(ImportRefused):
        apply_import(data, actor=owner)


OPTION_CELLS = [
    ("Color Black", "Options: “Color Black” is not an option and its value: write each as "
                    "“Name: value”, separated by semicolons, for example “Color: Black; Size: M”"),
    ("Color: Black; Color: Red", "Options: The option Color is named twice"),
    ("A: 1; B: 2; C: 3; D: 4", "Options: An item has at most 3 options; this one has 4"),
    ("Color: " + "x" * 10_000,
     f"Options: Color: the value {'x' * 20}… is longer than 60 characters"),
    ("C" * 50 + ": x", f"Options: The option name {'C' * 20}… is longer than 40 characters"),
    (": Black", "Options: Every option needs a name, such as Color or Size"),
    ("Color:", "Options: The option Color has no value"),
    ("Color: Bl\tack", "Options: Color must not contain control characters"),
    ("Color: Bl\x07ack", "The options must not contain control characters (found U+0007)"),
    ("Color: Black\x85", "The options must not contain control characters (found U+0085)"),
]


@pytest.mark.parametrize("sku", ["PRK-BLACK-S", "NEW-1"])
@pytest.mark.parametrize(("cell", "message"), OPTION_CELLS,
                         ids=[f"options{n}" for n in range(len(OPTION_CELLS))])
def test_a_malformed_options_cell_is_a_row_problem_naming_the_column(
    shop: dict[str, Any], owner: Actor, refused: Callable[..., Any],
    sku: str, cell: str, message: str,
) -> None:
    data = csv_bytes((shop["slug"], "SPARE", sku, 5, "", "Parka", cell))
    plan = plan_import(data, actor=owner)
    assert errors_of(plan) == [(2, message)]
    with refused(ImportRefused):
        apply_import(data, actor=owner)


# --------------------------------------------------------------------------- permissions


def test_adding_to_the_catalog_needs_the_catalog_permission(
    shop: dict[str, Any], member: Callable[..., Actor],
) -> None:
    slug = shop["slug"]
    data = csv_bytes(
        (slug, "MAIN", "PRK-BLACK-S", 6, 3, "Parka", "Color: Black; Size: S"),
        (slug, "MAIN", "PRK-BLACK-XL", 4, "", "Parka", "Color: Black; Size: XL"),
    )
    clerk = member(shop["store"], "staff", grants=(ADJUST, THRESHOLD))
    assert errors_of(plan_import(data, actor=clerk)) == [
        (3, f"You may not add products to the catalog in {slug} ({CATALOG})")]
    manager = member(shop["store"], "staff", grants=(ADJUST, THRESHOLD, CATALOG))
    assert plan_import(data, actor=manager).ok


# --------------------------------------------------------------------------- round trips


def test_an_export_imported_into_its_own_store_changes_nothing(
    shop: dict[str, Any], owner: Actor, snapshot: Callable[[], Any],
) -> None:
    data = exported(owner, shop["store"])
    assert read_csv(data)[0][-2:] == ["item", "options"]
    plan = plan_import(data, actor=owner)
    assert plan.ok and not plan.has_warnings
    assert (plan.updates, plan.creates, plan.unchanged) == (0, 0, 4)
    before = snapshot()
    result = apply_import(data, actor=owner, seen=plan.seen())
    assert (result.movements, result.created, result.new_products) == (0, 0, 0)
    assert snapshot() == before  # no ledger, catalog or audit row


def test_an_export_imported_into_an_empty_store_rebuilds_its_catalog_and_stock(
    shop: dict[str, Any], owner: Actor, admin_actor: Actor,
    make_store: Callable[..., Store], make_location: Callable[..., Location],
) -> None:
    source = shop["store"]
    # What else a catalog holds: three options, a value with a colon, a title a spreadsheet
    # would run as a formula, two items of one title.
    options = [items.Option("Roast", ("Dark",)), items.Option("Grind", ("Fine", "Whole")),
               items.Option("Ratio", ("1:2",))]
    coffee = items.create_item(actor=admin_actor, store_id=source.id, title="=Coffee",
                               options=options, variants_to_make=items.generate(options, "COF"))
    other_mug = catalog.create_product(actor=admin_actor, store_id=source.id, sku="MUG-9",
                                       title="Mug")
    for product_id in (*coffee.product_ids, other_mug.id):
        stock.create_entry(actor=admin_actor, product_id=product_id,
                           location_id=shop["spare"].id, quantity=product_id % 7,
                           low_stock_threshold=1)
    data = exported(admin_actor, source)

    target = make_store()
    for code in ("MAIN", "SPARE"):
        make_location(target, code)
    lines = read_csv(data)
    moved = [lines[0], *([target.slug, *row[1:]] for row in lines[1:])]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(moved)
    plan = plan_import(out.getvalue().encode(), actor=admin_actor)
    assert errors_of(plan) == [] and not plan.has_warnings
    assert plan.creates == len(lines) - 1
    assert (len(plan.new_variants), plan.new_items) == (6, 4)
    apply_import(out.getvalue().encode(), actor=admin_actor, seen=plan.seen())

    def without_reorder(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # A file carries no reorder settings: the copies take the defaults.
        return [r[:-2] for r in rows]

    assert without_reorder(catalog_of(target)) == without_reorder(catalog_of(source))
    assert stock_of(target) == stock_of(source)
    again = read_csv(exported(admin_actor, target))

    def comparable(rows: list[list[str]]) -> list[list[str]]:
        store, version = rows[0].index("store"), rows[0].index("version")
        return [[c for n, c in enumerate(r) if n not in (store, version)] for r in rows]

    assert comparable(again) == comparable(lines)
    assert any(r[-2:] == ["'=Coffee", "Roast: Dark; Grind: Fine; Ratio: 1:2"] for r in again)


# --------------------------------------------------------------------------- preview → apply


def test_a_catalog_change_after_the_preview_refuses_the_apply(
    shop: dict[str, Any], owner: Actor, admin_actor: Actor, refused: Callable[..., Any],
) -> None:
    slug = shop["slug"]
    data = csv_bytes((slug, "MAIN", "JKT-RED-S", 2, "", "Jacket", "Color: Red; Size: S"))
    plan = plan_import(data, actor=owner)
    assert plan.seen() == {2: -2}
    options = [items.Option("Color", ("Red",)), items.Option("Size", ("M",))]
    items.create_item(actor=admin_actor, store_id=shop["store"].id, title="Jacket",
                      options=options, variants_to_make=items.generate(options, "JKT"))
    with refused(ImportRefused) as info:
        apply_import(data, actor=owner, seen=plan.seen())
    assert info.value.lines == [
        "line 2 JKT-RED-S: no such product now; it would join the item Jacket"]

    # Someone adds the SKU itself: the row would now stock a product, not make one.
    again = plan_import(data, actor=owner)
    assert again.seen() == {2: -1}
    items.add_option_value(actor=admin_actor, item_id=items_titled(shop["store"], "Jacket")[0].id,
                           option=2, value="S", sku_prefix="JKT")
    with refused(ImportRefused) as info:
        apply_import(data, actor=owner, seen=again.seen())
    assert info.value.lines == ["line 2 JKT-RED-S at MAIN: no entry now"]
