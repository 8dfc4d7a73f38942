"""Reports that lead somewhere, at a 390-px phone and a 1400-px desk: staff open Low stock,
sort it by how short each entry is, narrow it to one location, fix an entry from its row
(the row updates in place and says it is no longer low), export what they see, and open a
reorder line's entry."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import InventoryEntry, Location, Product

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1400, "height": 900}},
}


@pytest.fixture
def running_low(shop) -> dict[str, int]:
    """Three spoons in the back room set to warn below 130, 115 and 110 (101–103 on hand),
    and a reorder point on the mug, so each report has rows to sort and act on."""
    thresholds = {"spoon_01": 130, "spoon_02": 115, "spoon_03": 110}
    for name, threshold in thresholds.items():
        db.session.execute(update(InventoryEntry).where(
            InventoryEntry.id == shop.entries[name]).values(low_stock_threshold=threshold))
    db.session.execute(update(Product).where(Product.sku == "MUG-BLU").values(
        reorder_point=20, reorder_quantity=24))
    db.session.commit()
    backroom = db.session.scalar(
        db.select(Location.id).where(Location.code == "BACKROOM"))
    db.session.remove()
    return {"backroom": backroom}


def rows(page: Page) -> list[str]:
    return page.locator("table[data-rows] > tbody > tr").evaluate_all(
        "rows => rows.map(r => r.id)")


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_sort_filter_fix_and_export_a_report(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, running_low,
) -> None:
    phone = width == "phone"
    page = new_context(**WIDTHS[width]).new_page()
    sign_in(page, shop.clerk)
    page.goto("/reports/low-stock")
    expect(page.get_by_role("heading", name="Low stock", level=1)).to_be_visible()
    e = shop.entries
    # Available lowest first by default: the mug (3), then the spoons (101, 102, 103).
    assert rows(page) == [f"entry-{e[n]}" for n in ("mug_shelf", "spoon_01", "spoon_02",
                                                    "spoon_03")]

    # Sort by how short each entry is, most first.
    if phone:
        sort = page.get_by_label("Sort by", exact=True)
        expect(sort).to_be_hidden()  # folded behind one button
        page.locator("summary", has_text="Filter and sort").click()
        sort.select_option(label="Short by")
        expect(page).to_have_url(re.compile(r"sort=shortfall"))
        page.get_by_label("Order").select_option(label="Highest or Z first")
    else:
        heading = page.get_by_role("columnheader", name="Short by")
        heading.get_by_role("link").click()
        expect(heading).to_have_attribute("aria-sort", "ascending")
        heading.get_by_role("link").click()
        expect(heading).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"sort=shortfall&dir=desc"))
    by_shortfall = [f"entry-{e[n]}" for n in ("spoon_01", "spoon_02", "spoon_03", "mug_shelf")]
    expect(page.locator("table[data-rows] > tbody > tr").first).to_have_id(by_shortfall[0])
    assert rows(page) == by_shortfall
    # The sort field says the same as the headings.
    expect(page.get_by_label("Sort by", exact=True)).to_have_value("shortfall")

    # One location: the back room's spoons only.
    page.get_by_label("Location").select_option(label="BACKROOM")
    expect(page).to_have_url(re.compile(rf"location={running_low['backroom']}"))
    expect(page.locator(f"#entry-{e['mug_shelf']}")).to_have_count(0)
    assert rows(page) == by_shortfall[:3]
    expect(page.get_by_role("link", name="Remove filter Location: BACKROOM")).to_be_visible()

    # Fix the first spoon from its row: the row stays, marked, and says it left the report.
    row = page.locator(f"#entry-{e['spoon_01']}")
    row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Change (+ adds, − removes)").fill("+40")
    dialog.get_by_label("Reason", exact=True).fill("Delivery")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(dialog).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\brow-changed\b"))
    expect(row.get_by_role("status")).to_have_text(
        "Adjusted +40: on hand 101 → 141. No longer low.")
    expect(row.get_by_role("link", name="Adjust", exact=True)).to_be_focused()
    # At the top of the page the flash above pushes the rows down a line (as on the
    # overview); the row's own note stays on screen.
    expect(row.get_by_role("status")).to_be_in_viewport()
    assert rows(page) == by_shortfall[:3]

    # The export carries the same filters and order, and reads the stock as it is now.
    export = page.get_by_role("link", name="Export CSV")
    href = export.get_attribute("href")
    assert href.startswith("/reports/low-stock.csv?") and "sort=shortfall" in href
    assert f"location={running_low['backroom']}" in href and "dir=desc" in href
    body = page.request.get(href).text().lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(body)))
    assert [line[2] for line in lines[1:]] == ["SPN-02", "SPN-03"]

    # Nothing scrolls sideways, and on a phone the row is a card with its action on screen.
    width_px = WIDTHS[width]["viewport"]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width_px
    if phone:
        action = page.locator(f"#entry-{e['spoon_02']}").get_by_role(
            "link", name="Adjust", exact=True)
        box = action.bounding_box()
        assert box and box["x"] + box["width"] <= width_px

    # Reorder: a line leads to its entry's page.
    page.goto("/reports/reorder")
    assert page.evaluate("document.documentElement.scrollWidth") <= width_px
    page.get_by_role("link", name="Blue Mug").click()
    expect(page.get_by_role("heading", name=re.compile("Blue Mug"), level=1)).to_be_visible()


def test_the_keyboard_reaches_a_report_rows_actions(
    new_context: Callable[..., BrowserContext], sign_in, shop, running_low,
) -> None:
    page = new_context(**WIDTHS["desk"]).new_page()
    sign_in(page, shop.clerk)
    page.goto("/reports/out-of-stock")
    page.locator("body").focus()
    page.keyboard.press("j")
    first = page.locator("table[data-rows] > tbody > tr").first
    expect(first).to_be_focused()
    page.keyboard.press("s")  # Set on hand
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("VAS-GRN")  # Green Vase sorts first
    dialog.get_by_label("New on hand").fill("8")
    dialog.get_by_role("button", name="Set quantity").click()
    expect(dialog).to_have_count(0)
    expect(first.get_by_role("status")).to_contain_text("Back in stock.")
