"""`flask inventory import FILE`: a preview by default, --apply for all rows or none."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import InventoryEntry, Location, Product, StockMovement, Store
from app.services.ledger import verify_ledger

HEADER = "store,location,sku,quantity,threshold,reason"


def run(app: Flask, *args: str):
    result = app.test_cli_runner().invoke(args=list(args))
    db.session.rollback()
    return result


@pytest.fixture
def stock(seeded_app: Flask) -> list[tuple[int, str, str, str, int, int]]:
    """Three demo entries without reservations: (id, store slug, location, sku, on hand,
    threshold)."""
    rows = db.session.execute(
        select(InventoryEntry.id, Store.slug, Location.code, Product.sku,
               InventoryEntry.quantity, InventoryEntry.low_stock_threshold)
        .join(Store, Store.id == InventoryEntry.store_id)
        .join(Location, Location.id == InventoryEntry.location_id)
        .join(Product, Product.id == InventoryEntry.product_id)
        .where(InventoryEntry.reserved_quantity == 0, Store.slug == "northwind")
        .order_by(InventoryEntry.id).limit(3)
    ).all()
    db.session.rollback()
    return [tuple(r) for r in rows]


def write(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "stock.csv"
    path.write_text("\ufeff" + "\r\n".join((HEADER, *lines)) + "\r\n", encoding="utf-8")
    return str(path)


def quantities(ids: list[int]) -> list[int]:
    values = db.session.execute(
        select(InventoryEntry.quantity).where(InventoryEntry.id.in_(ids))
        .order_by(InventoryEntry.id)
    ).scalars().all()
    db.session.rollback()
    return list(values)


def test_preview_lists_changes_and_changes_nothing(seeded_app, stock, tmp_path):
    (eid, slug, loc, sku, qty, _), *_ = stock
    movements = db.session.scalar(select(func.count()).select_from(StockMovement))
    path = write(tmp_path, f"{slug},{loc},{sku},{qty + 5},,")
    result = run(seeded_app, "inventory", "import", path)
    assert result.exit_code == 0, result.output
    assert "1 rows, 1 to update, 0 to create, 0 unchanged." in result.output
    assert f"line 2: {slug} {loc} {sku}: on hand {qty:,} → {qty + 5:,} (+5)" in result.output
    assert "Dry run: nothing changed." in result.output
    assert quantities([eid]) == [qty]
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == movements


def test_apply_writes_one_batch_and_the_ledger_verifies(seeded_app, stock, tmp_path):
    lines = [f"{slug},{loc},{sku},{qty + n + 1},7,Spring count" for n, (_, slug, loc, sku, qty, _)
             in enumerate(stock)]
    result = run(seeded_app, "inventory", "import", write(tmp_path, *lines), "--apply")
    assert result.exit_code == 0, result.output
    assert "Imported: 3 entries updated, 0 created, 3 ledger rows in batch import-" in \
        result.output
    ref = result.output.rsplit("batch ", 1)[1].strip().rstrip(".")
    rows = db.session.execute(
        select(StockMovement.entry_id, StockMovement.type, StockMovement.reason,
               StockMovement.actor_name)
        .where(StockMovement.batch_ref == ref).order_by(StockMovement.entry_id)
    ).all()
    assert [tuple(r) for r in rows] == [
        (eid, "set", "Spring count", "system:import") for eid, *_ in stock
    ]
    assert quantities([s[0] for s in stock]) == [s[4] + n + 1 for n, s in enumerate(stock)]
    assert verify_ledger() == []


def test_errors_exit_1_with_line_numbers_and_apply_nothing(seeded_app, stock, tmp_path):
    (eid, slug, loc, sku, qty, _), *_ = stock
    path = write(tmp_path, f"{slug},{loc},{sku},{qty + 1},,", f"{slug},NOWHERE,{sku},1,,",
                 f"{slug},{loc},NO-SUCH-SKU,x,,")
    result = run(seeded_app, "inventory", "import", path, "--apply")
    assert result.exit_code == 1
    assert f"error: line 3: Unknown location code “NOWHERE” in {slug}" in result.output
    assert f"error: line 4: Unknown SKU “NO-SUCH-SKU” in {slug}" in result.output
    assert "error: line 4: Quantity “x” is not a whole number" in result.output
    assert "Nothing was imported" in result.output
    assert quantities([eid]) == [qty]


def test_as_a_user_uses_their_permissions(seeded_app, stock, tmp_path):
    (eid, slug, loc, sku, qty, _), *_ = stock
    path = write(tmp_path, f"{slug},{loc},{sku},{qty + 1},,")
    viewer = run(seeded_app, "inventory", "import", path, "--apply", "--as",
                 "viewer@stockroom.test")
    assert viewer.exit_code == 1
    assert f"You may not change stock in {slug} (inventory:adjust)" in viewer.output
    nobody = run(seeded_app, "inventory", "import", path, "--as", "nobody@example.test")
    assert nobody.exit_code == 1 and "No active user nobody@example.test." in nobody.output
    staff = run(seeded_app, "inventory", "import", path, "--apply", "--as",
                "staff@stockroom.test")
    assert staff.exit_code == 0, staff.output
    assert quantities([eid]) == [qty + 1]


def test_a_new_variant_is_listed_then_made_and_needs_the_catalog_permission(seeded_app,
                                                                            tmp_path):
    path = tmp_path / "variants.csv"
    path.write_text("store,location,sku,quantity,item,options\r\n"
                    "northwind,WAREHOUSE_MAIN,NW-PRK-RED-M,3,Summit Down Parka,"
                    "Color: Red; Size: M\r\n", encoding="utf-8")
    preview = run(seeded_app, "inventory", "import", str(path))
    assert preview.exit_code == 0, preview.output
    assert "1 rows, 0 to update, 1 to create, 0 unchanged, 1 product to add." in preview.output
    assert ("line 2: northwind WAREHOUSE_MAIN NW-PRK-RED-M: creates variant NW-PRK-RED-M of "
            "Summit Down Parka (Color: Red; Size: M), new entry, on hand 3") in preview.output
    assert db.session.scalar(select(func.count()).where(Product.sku == "NW-PRK-RED-M")) == 0

    staff = run(seeded_app, "inventory", "import", str(path), "--apply", "--as",
                "staff@stockroom.test")
    assert staff.exit_code == 1
    assert ("error: line 2: You may not add products to the catalog in northwind "
            "(catalog:manage)") in staff.output
    assert db.session.scalar(select(func.count()).where(Product.sku == "NW-PRK-RED-M")) == 0

    applied = run(seeded_app, "inventory", "import", str(path), "--apply")
    assert applied.exit_code == 0, applied.output
    assert "0 entries updated, 1 created, 1 product added, 1 ledger row in batch" in \
        applied.output
    assert db.session.scalar(select(func.count()).where(Product.sku == "NW-PRK-RED-M")) == 1
    assert verify_ledger() == []


def test_a_malformed_options_cell_exits_1_naming_the_column(seeded_app, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("store,location,sku,quantity,item,options\r\n"
                    "northwind,WAREHOUSE_MAIN,NW-PRK-RED-M,3,Summit Down Parka,"
                    "Color Red\r\n", encoding="utf-8")
    result = run(seeded_app, "inventory", "import", str(path), "--apply")
    assert result.exit_code == 1
    assert "error: line 2: Options: “Color Red” is not an option and its value" in result.output
    assert "Nothing was imported" in result.output
    assert db.session.scalar(select(func.count()).where(Product.sku == "NW-PRK-RED-M")) == 0
