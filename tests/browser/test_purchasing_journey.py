"""Buying in, in a real browser: the owner adds a supplier and what it sells, starts a
purchase order, scans two lines into it (the scanner's Enter adds each, focus back in the
code box for the next), places it after the confirmation, and sees what is coming as
incoming on the overview. Then the order printed for the supplier."""

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

GTIN = "4006381333931"  # the seeded shop's Blue Mug


def scan(page: Page, code: str) -> None:
    """What a barcode scanner does: the characters fast, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def test_owner_buys_in_from_a_new_supplier_and_sees_it_coming(
    new_context: Callable[..., BrowserContext], sign_in, shop, page_problems
) -> None:
    page: Page = new_context(viewport={"width": 1400, "height": 900}).new_page()
    sign_in(page, shop.owner)

    # A supplier, from the navigation and its dialog.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Suppliers").click()
    expect(page.get_by_role("heading", name="Suppliers", level=1)).to_be_visible()
    expect(page.get_by_text("Harbour Street has no suppliers yet.")).to_be_visible()
    page.get_by_role("link", name="New supplier").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_label("Name")).to_be_focused()
    dialog.get_by_label("Name").fill("Acme Wholesale")
    dialog.get_by_label("Email (optional)").fill("orders@acme.test")
    dialog.get_by_label("Lead time (days)").fill("x")
    page_problems.expect("status of 422")  # the refusal, drawn in the dialog
    dialog.get_by_role("button", name="Add supplier").click()
    expect(dialog.locator("#lead_time_days-error")).to_have_text("Enter a whole number, like 12.")
    dialog.get_by_label("Lead time (days)").fill("7")
    dialog.get_by_role("button", name="Add supplier").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.get_by_role("heading", name="Acme Wholesale", level=1)).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("Added supplier Acme Wholesale.")

    # What it sells: the mug, scanned into the code box, at its terms.
    items = page.locator("#supplier-items")
    items.get_by_label("SKU or GTIN").click()
    page.keyboard.type(GTIN, delay=5)
    items.get_by_label("Unit cost").fill("2.50")
    items.get_by_label("Pack size").fill("6")
    items.get_by_label("Minimum order").fill("12")
    items.get_by_role("button", name="Add item").click()
    expect(page.locator("#supplier-items tbody tr")).to_have_count(1)
    expect(page.locator("#supplier-items tbody")).to_contain_text("MUG-BLU")
    expect(page.locator(".flash-success")).to_contain_text(
        "Acme Wholesale sells MUG-BLU at 2.50\u00a0USD a unit, in packs of 6, at least 12")

    # A draft to Acme, arriving at WAREHOUSE_A.
    page.get_by_role("link", name="New purchase order").click()
    expect(page.get_by_role("heading", name=re.compile("New purchase order"))).to_be_visible()
    page.get_by_label("Deliver to").select_option(label="WAREHOUSE_A")
    page.get_by_label("Expected on (optional)").fill("2030-01-15")
    page.get_by_role("button", name="Start draft").click()
    expect(page.get_by_role("heading", name=re.compile(r"^PO-0001"), level=1)).to_be_visible()
    expect(page.locator(".po-status")).to_have_text("Draft")

    # Two lines by scanning: the mug at Acme's minimum and cost, then a teapot Acme has
    # no cost for, with its quantity and cost typed first. Focus waits in the code box.
    code = page.get_by_label("Scan or type a SKU or GTIN")
    expect(code).to_be_focused()
    scan(page, GTIN)
    expect(page.locator(".flash-success")).to_contain_text(
        "Added 12 × MUG-BLU to WAREHOUSE_A at 2.50\u00a0USD.")
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_be_focused()
    # The scan's answer has settled (htmx hands focus back to the code box as it ends)
    # before the next field is typed in, as a person's eyes would have waited for it.
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    page.get_by_label("Quantity (optional)").fill("4")
    expect(page.get_by_label("Quantity (optional)")).to_have_value("4")
    page.get_by_label("Unit cost (optional)").fill("7.25")
    page.get_by_label("Scan or type a SKU or GTIN").focus()
    scan(page, "POT-RED")
    expect(page.locator("#po-lines tbody tr")).to_have_count(2)
    expect(page.locator("#po-total")).to_have_text("59.00")
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_be_focused()

    # Placed after the confirmation: what it brings is on its way.
    page.get_by_role("link", name="Place order").click()
    confirm = page.locator("dialog[open]")
    expect(confirm).to_contain_text("Its 16 units become incoming at WAREHOUSE_A")
    confirm.get_by_role("button", name="Place order").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(".po-status")).to_have_text("Ordered")
    expect(page.locator(".flash-success")).to_contain_text(
        "Placed PO-0001 with Acme Wholesale: 16 units on their way.")
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_have_count(0)
    expect(page.locator("#po-lines")).to_contain_text("Outstanding")

    # The overview shows it coming: the mug's warehouse entry awaits 12.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inventory").click()
    row = page.locator(f"#entry-{shop.entries['mug_warehouse']}")
    expect(row.locator("td").nth(5)).to_have_text("12")

    # The order as the supplier gets it: no navigation, every line, its total.
    page.goto(page.url.split("/inventory")[0] + "/purchasing/orders?status=ordered")
    page.get_by_role("link", name="PO-0001").click()
    page.get_by_role("link", name="Print").click()
    expect(page.get_by_role("heading", name="Purchase order PO-0001")).to_be_visible()
    expect(page.locator(".sidebar")).to_have_count(0)
    expect(page.locator(".po-table tbody tr")).to_have_count(2)
    expect(page.locator(".po-table tfoot")).to_contain_text("59.00\u00a0USD")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
