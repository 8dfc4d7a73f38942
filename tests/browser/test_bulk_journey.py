"""Bulk adjust end to end in Chromium: tick two rows, adjust them together, read the
preview, apply, and see the rows and the stats change without a reload."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


def cell(page: Page, entry_id: int, column: str) -> Locator:
    headers = page.locator("#results table.entries thead th")
    names = [text.strip() for text in headers.all_text_contents()]
    return page.locator(f"#entry-{entry_id}").locator("td").nth(names.index(column))


def number(text: str) -> int:
    return int(text.replace(",", "").strip())


def test_select_two_rows_preview_and_apply_a_bulk_adjustment(page: Page, shop, sign_in):
    sign_in(page, shop.owner)
    first, second = shop.entries["spoon_01"], shop.entries["spoon_02"]
    on_hand = page.locator("#stats .card").filter(has_text="On hand").locator(".card-value")
    total_before = number(on_hand.inner_text())
    page.evaluate("window.__stockroomMark = 'same-document'")

    bar = page.locator("[data-bulk-bar]")
    expect(bar).to_be_hidden()  # nothing selected yet
    # A row's checkbox is labelled by its product and location.
    page.get_by_role("checkbox", name="Spoon 01 BACKROOM", exact=True).check()
    page.get_by_role("checkbox", name="Spoon 02 BACKROOM", exact=True).check()
    expect(bar).to_be_visible()
    expect(bar.locator("[data-bulk-count]")).to_have_text("2 entries selected")
    expect(page.get_by_label("Select every row on this page")).to_have_js_property(
        "indeterminate", True
    )

    bar.get_by_role("button", name="Adjust stock…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Adjust stock — 2 entries selected")
    change = dialog.get_by_label("Change for every entry (+ adds, − removes)")
    expect(change).to_be_focused()
    change.fill("+5")
    dialog.get_by_label("Reason", exact=True).fill("Delivery from supplier")
    dialog.get_by_role("button", name="Preview").click()

    preview = dialog.locator(f"#preview-{first}")
    expect(preview).to_contain_text("101")
    expect(preview).to_contain_text("106")
    expect(dialog.locator(f"#preview-{second}")).to_contain_text("107")
    expect(cell(page, first, "On hand")).to_have_text("101")  # nothing applied yet

    dialog.get_by_role("button", name="Apply to 2 entries").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(cell(page, first, "On hand")).to_have_text("106")
    expect(cell(page, second, "On hand")).to_have_text("107")
    expect(on_hand).to_have_text(f"{total_before + 10:,}")
    expect(page.get_by_role("status").filter(has=page.locator(".flash"))).to_contain_text(
        "Adjusted 2 entries by +5"
    )
    expect(bar).to_be_hidden()  # the fresh rows start unselected
    assert page.evaluate("window.__stockroomMark") == "same-document", "the page reloaded"
