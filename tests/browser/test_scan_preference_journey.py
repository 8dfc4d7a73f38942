"""A user who chose that a scan opens Adjust scans a SKU at scanner speed on the overview:
the overview stays and the entry's Adjust dialog opens, its change field focused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


@pytest.mark.parametrize("width", [390, 1400])
def test_a_scan_opens_the_adjust_dialog_when_chosen(
    width: int, new_context: Callable[..., BrowserContext], shop, sign_in
) -> None:
    page = new_context(viewport={"width": width, "height": 900}).new_page()
    sign_in(page, shop.clerk)  # staff who may adjust

    page.goto("/account/tokens")
    page.get_by_label("Open Adjust", exact=False).check()
    page.get_by_role("button", name="Save scanning").click()
    expect(page.locator(".flash").filter(
        has_text="When a scan finds one entry: open Adjust")).to_be_visible()

    page.goto("/inventory")
    box = page.locator("#q")
    box.focus()
    page.keyboard.type("POT-RED", delay=5)  # a scanner: a few milliseconds apart, then Enter
    page.keyboard.press("Enter")

    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading", name=re.compile("Adjust"))).to_be_visible()
    expect(dialog.locator("input[name=delta]")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/inventory\?q=POT-RED"))

    # Applying it swaps the scanned row and hands focus back to the search box.
    page.keyboard.type("3")
    dialog.locator("input[name=reason]").fill("Found on the shelf")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(box).to_be_focused()
