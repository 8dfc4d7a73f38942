"""The overview grouped by item in Chromium, at 1400 and 390 px: an item's row shows its
entries in place and hides them again; an action on a shown entry updates that row and the
item's roll-up."""

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


@pytest.mark.parametrize("width", [1400, 390])
def test_an_item_shows_its_entries_in_place_and_they_act_there(
    new_context: Callable[..., BrowserContext], shop, sign_in, page_problems, width: int
) -> None:
    page: Page = new_context(viewport={"width": width, "height": 900}).new_page()
    sign_in(page, shop.owner)
    page.goto("/inventory?group=item")
    expect(page.locator(".results-bar .count")).to_have_text("28 items")
    group = page.locator("tbody.item-group", has_text="Blue Mug")
    show = group.get_by_role("link", name="Show 2")
    expect(show).to_have_attribute("aria-expanded", "false")

    show.click()
    shown = page.locator("tbody.item-rows")
    expect(shown.locator("tr[id^=entry-]")).to_have_count(2)
    expect(group.get_by_role("link", name="Hide")).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    on_hand = group.locator("tr.group-row td").nth(2)
    before = int(on_hand.inner_text().replace(",", ""))
    entry_id = shop.entries["mug_shelf"]
    row = page.locator(f"#entry-{entry_id}")
    row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Change (+ adds, − removes)").fill("+2")
    dialog.get_by_label("Reason", exact=True).fill("Found two")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(dialog).to_have_count(0)
    expect(row).to_have_class(re.compile(r"\brow-changed\b"))
    expect(row.get_by_role("status")).to_contain_text("on hand 3 → 5")
    # The item's roll-up follows, and the group stays open.
    expect(on_hand).to_have_text(str(before + 2))
    expect(group.get_by_role("link", name="Hide")).to_have_attribute("aria-expanded", "true")

    group.get_by_role("link", name="Hide").click()
    expect(page.locator("tbody.item-rows")).to_have_count(0)
    expect(group.get_by_role("link", name="Show 2")).to_have_attribute("aria-expanded", "false")
