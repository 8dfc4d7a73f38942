"""An owner imports stock from a CSV file in Chromium: upload, read the preview, apply."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, StockMovement

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

HEADER = "store,location,sku,title,quantity,reserved,available,threshold,status,version"


def test_owner_previews_and_applies_an_import(
    page: Page, shop, sign_in: Callable[..., None], tmp_path: Path, page_problems,
) -> None:
    csv_file = tmp_path / "harbour.csv"
    csv_file.write_text("\ufeff" + "\r\n".join([
        HEADER,
        "harbour-street,WAREHOUSE_A,MUG-BLU,Blue Mug,15,0,15,5,in_stock,1",
        "harbour-street,SHELF_B,MUG-BLU,Blue Mug,3,0,3,5,low_stock,99",  # unchanged, stale
        "harbour-street,SHELF_B,POT-RED,Red Teapot,6,,,,,",  # no entry yet: created
    ]) + "\r\n", encoding="utf-8")
    sign_in(page, shop.owner)

    page.goto("/import")
    expect(page.get_by_role("heading", name="Import stock from a CSV file")).to_be_visible()
    page.get_by_label("CSV file (UTF-8)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview import").click()

    expect(page.get_by_role("heading", name="Import preview")).to_be_visible()
    rows = page.locator("table.import-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Changed since export (version 99, now 1)")
    expect(page.locator("table.import-rows")).to_contain_text("10 → 15")
    expect(page.locator("table.import-rows")).to_contain_text("new: 6")

    # With warnings, apply needs the box ticked: the server says so (422) and keeps the preview.
    page_problems.expect("422")
    page.get_by_role("button", name="Apply import").click()
    expect(page.locator(".field-error")).to_have_text(
        "Tick the box to confirm you have read the warnings."
    )
    page.get_by_label("I have read the warnings").check()
    page.get_by_role("button", name="Apply import").click()

    expect(page.get_by_role("heading", name="Import applied")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("1 entry updated, 1 created, 2 ledger rows")
    ref = page.locator(".page-head code").inner_text()
    assert re.fullmatch(r"import-[0-9a-f]{32}", ref)

    db.session.rollback()
    mug = db.session.get(InventoryEntry, shop.entries["mug_warehouse"])
    assert mug is not None and mug.quantity == 15
    kinds = sorted(db.session.scalars(
        select(StockMovement.type).where(StockMovement.batch_ref == ref)
    ))
    assert kinds == ["received", "set"]


def test_owner_sees_the_products_an_import_adds_before_applying_it(
    page: Page, shop, sign_in: Callable[..., None], tmp_path: Path,
) -> None:
    """A file with item and options columns: one row adds a size to an item, two make a
    new item; the preview lists them above the rows, and applying makes them."""
    from app.permissions import system_actor
    from app.services import items

    options = [items.Option("Color", ("Black",)), items.Option("Size", ("S", "M"))]
    parka = items.create_item(actor=system_actor("tests"), store_id=shop.store_id,
                              title="Summit Parka", options=options,
                              variants_to_make=items.generate(options, "PRK"))
    db.session.remove()
    csv_file = tmp_path / "new-sizes.csv"
    csv_file.write_text("\r\n".join([
        "store,location,sku,quantity,item,options",
        "harbour-street,WAREHOUSE_A,PRK-BLACK-XL,4,Summit Parka,Color: Black; Size: XL",
        "harbour-street,WAREHOUSE_A,CAP-RED,2,Wool Cap,Color: Red",
        "harbour-street,SHELF_B,CAP-RED,1,Wool Cap,Color: Red",
    ]) + "\r\n", encoding="utf-8")
    sign_in(page, shop.owner)

    page.goto("/import")
    page.get_by_label("CSV file (UTF-8)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview import").click()

    added = page.get_by_role("region", name="New in the catalog")
    expect(added).to_contain_text("Applying adds 2 products to the catalog (1 new item)")
    expect(added.get_by_role("listitem")).to_have_text([
        "Creates variant PRK-BLACK-XL of Summit Parka (Color: Black; Size: XL)",
        "Creates variant CAP-RED of the new item Wool Cap (Color: Red)",
    ])
    expect(page.locator("table.import-rows")).to_contain_text(
        "Stocks the new CAP-RED (line 3 creates it)")
    page.get_by_role("button", name="Apply import").click()

    expect(page.get_by_role("status")).to_contain_text(
        "0 entries updated, 3 created, 2 products (1 new item) added, 3 ledger rows")
    page.goto(f"/catalog/items/{parka.id}")
    expect(page.locator("table.matrix")).to_contain_text("PRK-BLACK-XL")
