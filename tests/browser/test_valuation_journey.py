"""The stock value in a real browser: the overview's card follows a stock change without a
reload, and opens the report, whose filters swap its results in place."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Location, Product
from app.permissions import system_actor
from app.services import purchasing

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


def test_the_value_card_follows_a_change_and_opens_the_report(
    page: Page, shop, sign_in: Callable[..., None]
) -> None:
    # The mug at WAREHOUSE_A (10 on hand, no cost yet) receives 10 at 2.00: 20 at 2.00.
    setup = system_actor("tests")
    mug = db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU"))
    warehouse = db.session.scalar(select(Location.id).where(Location.code == "WAREHOUSE_A"))
    supplier = purchasing.create_supplier(actor=setup, store_id=shop.store_id, name="Acme")
    order = purchasing.create_purchase_order(actor=setup, supplier_id=supplier.id, lines=[
        {"product_id": mug, "location_id": warehouse, "quantity": 10, "unit_cost": "2.00"}])
    purchasing.order_purchase_order(actor=setup, order_id=order.id)
    purchasing.receive_purchase_order(actor=setup, order_id=order.id, lines=[
        {"line_id": order.lines[0].id, "quantity": 10}])
    db.session.remove()

    sign_in(page, shop.owner)
    card = page.locator("#stats .value-card")
    expect(card.locator(".card-value")).to_have_text("USD 40.00")
    expect(card.locator(".card-note")).to_have_text(re.compile(r"^\d+ without a cost$"))
    page.evaluate("window.__stockroomMark = 'same-document'")

    entry_row = page.locator(f"#entry-{shop.entries['mug_warehouse']}")
    entry_row.locator(".row-actions > a[data-dialog]").filter(has_text="Adjust").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Change (+ adds, − removes)").fill("+5")
    dialog.get_by_label("Reason", exact=True).fill("Found in the back")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    # 25 at the 2.00 the adjustment kept: the card was asked for again, the page was not.
    expect(card.locator(".card-value")).to_have_text("USD 50.00")
    assert page.evaluate("window.__stockroomMark") == "same-document"

    card.get_by_role("link", name="Stock value").click()
    expect(page.get_by_role("heading", name="Stock value", level=1)).to_be_visible()
    expect(page.locator(".value-total .value-figure")).to_have_text("USD 50.00")
    expect(page.locator("#results table.value-entries tbody tr")).to_have_count(1)
    page.evaluate("window.__stockroomMark = 'same-document'")
    page.get_by_label("Entries").select_option("uncosted")
    expect(page.get_by_role("heading", name="Entries without a cost")).to_be_visible()
    expect(page).to_have_url(re.compile(r"show=uncosted"))
    assert page.locator("#results table.value-entries tbody tr").count() > 1
    assert page.evaluate("window.__stockroomMark") == "same-document"
