"""An item with options in a real browser, on a 390-px phone and a 1400-px desk: from a
variant's stock page to its item, the variant × location matrix scrolling inside its own
region (never the page), and a cell's Adjust dialog changing the number it shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Location
from app.permissions import system_actor
from app.services import items, stock

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1400, "height": 900}},
}
OPTIONS = [items.Option("Color", ("Black", "Glacier Blue")),
           items.Option("Size", ("S", "M", "L"))]


@pytest.fixture
def parka(shop) -> dict[str, int]:
    """Summit Parka in two colours and three sizes, stocked across the shop's three
    locations: PRK-BLACK-S 6 at WAREHOUSE_A, 2 at SHELF_B; PRK-BLACK-M 4 at BACKROOM."""
    actor = system_actor("browser-tests")
    made = items.create_item(actor=actor, store_id=shop.store_id, title="Summit Parka",
                             options=OPTIONS, variants_to_make=items.generate(OPTIONS, "PRK"))
    places = {code: id_ for code, id_ in db.session.execute(select(Location.code, Location.id))}
    black_s, black_m = made.product_ids[:2]

    def stocked(product_id: int, code: str, quantity: int) -> int:
        return stock.create_entry(actor=actor, product_id=product_id, location_id=places[code],
                                  quantity=quantity).entry.id

    ids = {"item": made.id, "black_s": black_s,
           "black_s_warehouse": stocked(black_s, "WAREHOUSE_A", 6)}
    stocked(black_s, "SHELF_B", 2)
    stocked(black_m, "BACKROOM", 4)
    db.session.remove()
    return ids


@pytest.mark.parametrize("width", WIDTHS)
def test_from_a_variant_to_its_item_and_adjusting_a_cell(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, parka
) -> None:
    page: Page = new_context(**WIDTHS[width]).new_page()
    sign_in(page, shop.owner)

    # The variant's stock page names its item and its option values.
    page.goto(f"/products/{parka['black_s']}")
    variant_of = page.locator(".variant-of")
    expect(variant_of).to_have_text("Variant of Summit Parka — Color: Black, Size: S")
    variant_of.get_by_role("link", name="Summit Parka").click()
    expect(page.get_by_role("heading", name="Summit Parka", level=1)).to_be_visible()
    expect(page.locator(".crumbs")).to_contain_text("Harbour Street")

    # The page never scrolls sideways; the matrix scrolls inside its own labelled region,
    # and the variant column stays on screen.
    width_px = WIDTHS[width]["viewport"]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width_px
    region = page.get_by_role("region", name="Stock per variant and location")
    expect(region).to_have_attribute("tabindex", "0")
    row = page.locator(f"#variant-{parka['black_s']}")
    variant = row.locator("th.variant")
    if width == "phone":
        scrolls = region.evaluate("el => el.scrollWidth > el.clientWidth")
        assert scrolls, "at 390 px the matrix should scroll inside its region"
        region.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    box = variant.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width_px, box
    expect(variant).to_contain_text("Black / S")

    # A cell opens its entry's Adjust dialog; applying it updates the cell and the totals.
    cell = page.locator(f"#cell-{parka['black_s_warehouse']}")
    expect(cell.locator(".on-hand")).to_have_text("6")
    cell.get_by_role("link", name=re.compile(r"^Adjust PRK-BLACK-S at WAREHOUSE_A")).click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("PRK-BLACK-S")
    dialog.get_by_label("Change (+ adds, − removes)").fill("5")
    dialog.get_by_label("Reason", exact=True).fill("Delivery")
    dialog.get_by_role("button", name="Apply adjustment").click()

    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(cell.locator(".on-hand")).to_have_text("11")
    expect(cell.locator(".available")).to_have_text("11")
    expect(page.locator("#total-all")).to_have_text("17 / 17")
    expect(page.locator(".flash-success")).to_contain_text("on hand 6 → 11")
    # Focus is back on the cell's link, ready for the next change.
    expect(cell.get_by_role("link")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= width_px


def test_without_javascript_a_cell_opens_the_adjust_page_and_comes_back(
    new_context: Callable[..., BrowserContext], sign_in, shop, parka
) -> None:
    page: Page = new_context(java_script_enabled=False).new_page()
    page.goto("/sign-in")
    page.get_by_label("Email").fill(shop.owner)
    page.get_by_label("Password").fill(shop.password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/catalog/items/{parka['item']}")

    cell = page.locator(f"#cell-{parka['black_s_warehouse']}")
    cell.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/inventory/entries/{parka['black_s_warehouse']}"
                                        r"/adjust"))
    page.get_by_label("Change (+ adds, − removes)").fill("-1")
    page.get_by_label("Reason", exact=True).fill("Damaged")
    page.get_by_role("button", name="Apply adjustment").click()

    expect(page).to_have_url(re.compile(rf"/catalog/items/{parka['item']}$"))
    expect(page.locator(f"#cell-{parka['black_s_warehouse']} .on-hand")).to_have_text("5")


def test_archiving_an_item_asks_first_then_archives_every_variant(
    new_context: Callable[..., BrowserContext], sign_in, shop, parka
) -> None:
    """Archive item opens a dialog saying what will happen and what stock stays; Cancel (or
    Enter, which Cancel has) changes nothing, the dialog's own button archives, and Restore
    brings the item back."""
    page: Page = new_context(**WIDTHS["desk"]).new_page()
    sign_in(page, shop.owner)
    page.goto(f"/catalog/items/{parka['item']}")

    opener = page.get_by_role("link", name="Archive item")
    opener.click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading", name="Archive item — Summit Parka")).to_be_visible()
    expect(dialog).to_contain_text("all 6 of its variants will leave the product list")
    expect(dialog.locator("ul.holding")).to_contain_text("PRK-BLACK-S: 8 on hand")
    # Nothing to fill in and a destructive action: focus waits on Cancel, so a stray Enter
    # (a scanner's, say) archives nothing.
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(opener).to_be_focused()
    expect(page.locator(".badge-item-active")).to_have_text("Active")

    opener.click()
    page.locator("dialog[open]").get_by_role("button", name="Archive item").click()

    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(".flash-success")).to_contain_text("Archived Summit Parka and 6 variants.")
    expect(page.locator(".badge-item-archived")).to_have_text("Archived")
    expect(page.locator(f"#variant-{parka['black_s']}")).to_contain_text("Archived")
    # The stock stays where it was.
    expect(page.locator(f"#cell-{parka['black_s_warehouse']} .on-hand")).to_have_text("6")

    page.get_by_role("link", name="Restore item").click()
    page.locator("dialog[open]").get_by_role("button", name="Restore item").click()
    expect(page.locator(".flash-success")).to_contain_text("Restored Summit Parka and 6 variants.")
    expect(page.locator(".badge-item-active")).to_have_text("Active")
