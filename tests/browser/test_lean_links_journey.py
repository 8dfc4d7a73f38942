"""The overview's plain links in Chromium: sort, page, chip and grouping links carry only an
href, and one listener in static/app.js sends a plain click through htmx (the results swap
in place, the URL follows); without JavaScript they are ordinary links. The keyboard help is
fetched the first time "?" is pressed, then kept."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


def stays(page: Page) -> None:
    """Mark the document: the mark survives a swap, not a page load."""
    page.evaluate("window.__sameDocument = true")


def same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def test_sort_page_chip_and_group_links_swap_the_results(page: Page, shop,
                                                          sign_in: Callable[..., None]):
    sign_in(page, shop.owner)
    swaps: list[str] = []

    def on_request(request: Request) -> None:
        if request.headers.get("hx-request") == "true" and "/inventory" in request.url:
            swaps.append(request.url)

    page.on("request", on_request)
    page.goto("/inventory?per_page=25&status=in_stock")
    stays(page)
    header = page.locator("#results thead th", has_text="On hand")
    page.locator("#results thead").get_by_role("link", name="On hand").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=quantity"))
    # The filter form follows the URL, as after any swap of the results.
    expect(page.locator("#filters input[name=sort]")).to_have_value("quantity")
    page.get_by_role("link", name="Remove filter Status: In stock").click()
    expect(page).to_have_url(re.compile(r"^(?!.*status=)"))
    expect(page.get_by_label("Status", exact=True)).to_have_value("")
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.get_by_role("link", name="First page")).to_be_visible()
    page.get_by_role("link", name="Group by item").click()
    expect(page).to_have_url(re.compile(r"group=item"))
    expect(page.get_by_role("link", name="List every entry")).to_be_visible()
    assert same_document(page)
    assert len(swaps) >= 4
    # Back goes to the page before, as htmx's history keeps it.
    page.go_back()
    expect(page).to_have_url(re.compile(r"cursor="))


def test_without_javascript_they_are_plain_links(new_context, shop,
                                                  sign_in: Callable[..., None]):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, shop.owner)
    page.locator("#results thead").get_by_role("link", name="On hand").click()
    expect(page).to_have_url(re.compile(r"sort=quantity"))
    expect(page.locator("#results thead th", has_text="On hand")).to_have_attribute(
        "aria-sort", "ascending")


def test_the_keyboard_help_is_fetched_once(page: Page, shop, sign_in: Callable[..., None]):
    sign_in(page, shop.owner)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/inventory/keys" in r.url else None)
    expect(page.locator("#keys-help")).to_have_count(0)
    for _ in range(2):
        page.keyboard.press("Shift+Slash")
        help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        expect(help_dialog).to_be_visible()
        expect(help_dialog).to_contain_text("Open the row’s page")
        page.keyboard.press("Escape")
        expect(page.locator("#keys-help")).to_be_hidden()
    assert len(fetched) == 1
