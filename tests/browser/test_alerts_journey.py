"""An owner's stock alerts in Chromium: an adjustment that takes an entry below its
threshold rings the bell without a reload, the bell opens the alert, Mark all as read
quiets it; staff choose to hear about the store on their account page. At a 390-px phone
and a 1400-px desk, checked by axe-core, screenshotted."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask

from app.services import alerts

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright",
    reason="axe-playwright-python is not installed; pip install -e '.[test]'",
)

WIDTHS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1400, "height": 900}}
SHOTS = Path(os.environ.get("STOCKROOM_SHOTS", "")) if os.environ.get("STOCKROOM_SHOTS") else None


@pytest.fixture
def owners_hear(app: Flask, shop) -> None:
    with app.app_context():
        alerts.ensure_owner_subscriptions()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_crossing_rings_the_bell_and_the_bell_opens_it(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, owners_hear: None,
) -> None:
    page = new_context(viewport=WIDTHS[width]).new_page()
    sign_in(page, shop.owner)
    bell = page.locator("#bell")
    expect(bell).to_have_accessible_name("Stock alerts")
    expect(bell.locator(".bell-count")).to_have_count(0)

    # Blue Mug at WAREHOUSE_A: 10 on hand, threshold 5; taking 6 in the overview's dialog
    # leaves it low, and the bell rings without the page loading again.
    page.evaluate("window.__samePage = true")
    page.locator(f"#entry-{shop.entries['mug_warehouse']}").get_by_role(
        "link", name=re.compile("^Adjust")).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Change (+ adds, − removes)").fill("-6")
    dialog.get_by_label("Reason", exact=True).fill("Breakage")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(bell.locator(".bell-count")).to_have_text("1")
    assert page.evaluate("window.__samePage === true"), "the page loaded again"
    expect(bell).to_have_accessible_name("Stock alerts, 1 unread")

    bell.click()
    expect(page.get_by_role("heading", name="Stock alerts", level=1)).to_be_visible()
    alert = page.locator(".alert-list li.unread")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("Low stock")
    expect(alert).to_contain_text("MUG-BLU")
    expect(alert).to_contain_text("4 available · threshold 5")
    results = axe_module.Axe().run(page)
    assert results.response["violations"] == [], results.generate_report()
    if SHOTS:
        page.screenshot(path=str(SHOTS / f"alerts-{width}.png"))

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("status")).to_contain_text("Marked every alert as read.")
    expect(bell.locator(".bell-count")).to_have_count(0)
    expect(page.locator(".alert-list li.unread")).to_have_count(0)
    # The alert opens its entry (the older one below is the shelf's, low since it was made).
    page.locator(".alert-list li").first.get_by_role("link", name="MUG-BLU").click()
    expect(page).to_have_url(f"{page.url.split('/inventory')[0]}/inventory/entries/"
                             f"{shop.entries['mug_warehouse']}")


def test_staff_opt_in_and_hear_about_the_store(
    new_context: Callable[..., BrowserContext], sign_in, shop, owners_hear: None,
) -> None:
    page = new_context(viewport=WIDTHS["phone"]).new_page()
    sign_in(page, shop.viewer)
    page.locator("#bell").click()
    expect(page.get_by_text("You hear about none of your stores.")).to_be_visible()
    page.get_by_role("link", name="Choose which stores and how").click()
    settings = page.get_by_role("region", name="Stock alerts")
    settings.get_by_label("Harbour Street").select_option("immediate")
    page.get_by_role("button", name="Save stock alerts").click()
    expect(page.get_by_role("status")).to_contain_text("Saved your stock alerts.")
    expect(settings.get_by_label("Harbour Street")).to_have_value("immediate")
    page.locator("#bell").click()
    expect(page.get_by_text("Stock that fell to its low-stock threshold or ran out, in "
                            "Harbour Street.")).to_be_visible()
