"""The staff journey by keyboard alone: sign in, search, move a row cursor, adjust with
Enter, transfer with a single key, read the shortcuts with "?", close them with Esc."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from test_journeys import flash

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


def keyboard_sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.keyboard.type(email)  # the email field has focus
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()


def current(page: Page):
    return page.locator("table[data-rows] tbody tr[aria-current=true]")


def test_the_staff_journey_without_the_mouse_at_1400_px(
    new_context: Callable[..., BrowserContext], shop
):
    page = new_context(viewport={"width": 1400, "height": 900}).new_page()
    keyboard_sign_in(page, shop.clerk, shop.password)

    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("MUG-BLU", delay=60)
    expect(page).to_have_url(re.compile(r"q=MUG-BLU"))
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)

    # ↓ leaves the search box for the first row; j and k move on and back.
    page.keyboard.press("ArrowDown")
    expect(current(page)).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_attribute("aria-current", "true")
    expect(rows.nth(1)).to_be_focused()
    expect(current(page)).to_have_count(1)
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    page.keyboard.press("ArrowDown")
    chosen = rows.nth(1)
    expect(chosen).to_have_attribute("aria-current", "true")
    entry_id = int(chosen.get_attribute("id").removeprefix("entry-"))
    where = "WAREHOUSE_A" if entry_id == shop.entries["mug_warehouse"] else "SHELF_B"
    before = 10 if where == "WAREHOUSE_A" else 3

    # Enter opens the row's Adjust; the form is filled and sent by keyboard.
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text(
        f"Adjust stock — Blue Mug (MUG-BLU) at {where}"
    )
    expect(dialog.get_by_label("Change (+ adds, − removes)")).to_be_focused()
    page.keyboard.type("+2")
    dialog.get_by_label("Reason", exact=True).focus()
    page.keyboard.type("Delivery")
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(flash(page)).to_contain_text(f"on hand {before} → {before + 2}")
    updated = page.locator(f"#entry-{entry_id}")
    expect(updated.get_by_role("link", name="Adjust", exact=True)).to_be_focused()
    expect(updated).to_have_attribute("aria-current", "true")

    # t opens Transfer on the current row (from its More menu); complete it by keyboard.
    page.keyboard.press("t")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text(
        f"Transfer stock — Blue Mug (MUG-BLU) at {where}"
    )
    to = dialog.get_by_label("To location")
    expect(to).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(to).not_to_have_value("")
    page.keyboard.press("Tab")
    expect(dialog.get_by_label("Quantity")).to_be_focused()
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(flash(page)).to_contain_text(f"Transferred 1 of Blue Mug (MUG-BLU) from {where}")
    expect(page.locator(f"#entry-{entry_id}")).to_have_attribute("aria-current", "true")

    # "?" lists the shortcuts; Esc closes the list and focus goes back where it was.
    focused = page.evaluate("document.activeElement.outerHTML")
    page.keyboard.press("Shift+Slash")
    help_dialog = page.locator("#keys-help")
    expect(help_dialog).to_be_visible()
    expect(help_dialog.get_by_role("heading")).to_have_text("Keyboard shortcuts")
    expect(help_dialog).to_contain_text("Transfer")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.outerHTML") == focused

    # Typing in a field never fires a shortcut.
    page.keyboard.press("/")
    page.keyboard.type("tsar", delay=60)
    page.wait_for_timeout(200)
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator("#q")).to_have_value("tsar")


def test_the_row_cursor_at_390_px(new_context: Callable[..., BrowserContext], shop, sign_in):
    page = new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(page, shop.owner)
    page.keyboard.press("j")
    rows = page.locator("#results tbody tr")
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_contain_text("Adjust stock")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.keyboard.press("Shift+Slash")
    expect(page.locator("#keys-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
