"""Staff on a 390-px phone: no screen scrolls sideways, a row's numbers, status and primary
action are on screen, and a changed row says what changed without the page jumping."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(new_context: Callable[..., BrowserContext], sign_in, shop) -> Page:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, shop.owner)
    return page


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_no_staff_screen_scrolls_sideways_at_390_px(phone: Page, shop) -> None:
    entry_id = shop.entries["mug_shelf"]
    phone.goto(f"/inventory/entries/{entry_id}")
    product_url = phone.locator("nav.crumbs a").nth(1).get_attribute("href")
    screens = [
        "/inventory", f"/inventory/entries/{entry_id}", product_url, "/reports/low-stock",
        "/reports/out-of-stock", "/reports/reorder", "/movements", "/activity",
        "/catalog/products",
        "/catalog/locations", "/import", "/account/tokens",
        f"/inventory/entries/{entry_id}/adjust",
    ]
    for path in screens:
        phone.goto(path)
        assert page_width(phone) <= PHONE["width"], path


def test_a_rows_numbers_status_and_primary_action_are_on_screen(phone: Page, shop) -> None:
    row = phone.locator(f"#entry-{shop.entries['mug_shelf']}")
    row.scroll_into_view_if_needed()

    # On hand and available are the row's third and fifth cells.
    for part in (row.locator("td:nth-child(3)"), row.locator("td:nth-child(5)"),
                 row.locator(".badge"), row.get_by_role("link", name="Adjust")):
        expect(part).to_be_visible()
        box = part.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_filters_and_navigation_fold_behind_one_button_each(phone: Page) -> None:
    status = phone.get_by_label("Status", exact=True)
    expect(status).to_be_hidden()
    search = phone.get_by_label("Search title, SKU or GTIN")
    expect(search).to_be_in_viewport()

    phone.locator("summary", has_text="Filters").click()
    expect(status).to_be_visible()

    products = phone.get_by_role("link", name="Products", exact=True)
    expect(products).to_be_hidden()
    phone.locator("summary", has_text="Menu").click()
    expect(products).to_be_visible()
    assert page_width(phone) <= PHONE["width"]


def test_a_signed_change_is_made_with_the_buttons_and_the_row_says_so(phone: Page, shop) -> None:
    entry_id = shop.entries["spoon_20"]
    row = phone.locator(f"#entry-{entry_id}")
    row.scroll_into_view_if_needed()
    top_before = row.bounding_box()["y"]

    row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = phone.locator("dialog[open]")
    change = dialog.get_by_label("Change (+ adds, − removes)")
    expect(change).to_have_attribute("inputmode", "numeric")
    dialog.get_by_role("button", name="One more").click()
    dialog.get_by_role("button", name="One more").click()
    dialog.get_by_role("button", name="Change the sign: adding or removing").click()
    expect(change).to_have_value("-2")
    # The dialog fills the screen and its submit button is on it.
    box = dialog.bounding_box()
    assert box["width"] >= PHONE["width"] - 1
    expect(dialog.get_by_role("button", name="Apply adjustment")).to_be_in_viewport()
    dialog.get_by_label("Reason", exact=True).fill("Broken")
    dialog.get_by_role("button", name="Apply adjustment").click()

    expect(dialog).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\brow-changed\b"))
    note = row.get_by_role("status")
    expect(note).to_have_text("Adjusted −2: on hand 120 → 118")
    expect(note).to_be_in_viewport()
    assert abs(row.bounding_box()["y"] - top_before) < 2, "the page jumped"


def test_a_change_at_the_top_of_the_page_does_not_push_its_row_down(phone: Page, shop) -> None:
    """At the very top the browser's own scroll anchoring does not hold the page: the
    message appearing above the table would slide the changed row down by its height."""
    phone.evaluate("window.scrollTo(0, 0)")
    row = phone.locator("#results tbody tr[id]").first
    expect(row).to_be_in_viewport()
    top_before = row.bounding_box()["y"]

    row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = phone.locator("dialog[open]")
    dialog.get_by_role("button", name="One more").click()
    dialog.get_by_label("Reason", exact=True).fill("Found one")
    dialog.get_by_role("button", name="Apply adjustment").click()

    expect(dialog).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\brow-changed\b"))
    expect(phone.locator("#flashes .flash-success")).to_have_count(1)
    assert abs(row.bounding_box()["y"] - top_before) < 2, "the page jumped"
    expect(row.get_by_role("status")).to_be_in_viewport()
