"""Reordering from the report, at a 390-px phone and a 1400-px desk: the owner opens the
reorder report, narrows it to the back room, chooses two lines bought from two suppliers,
and creates draft purchase orders in one step: one per supplier, named above the lines,
which are no longer suggested."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import InventoryEntry, Location, Product, PurchaseOrder, PurchaseOrderLine
from app.permissions import system_actor
from app.services import purchasing

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1400, "height": 900}},
}


@pytest.fixture
def suppliers(shop) -> dict[str, int]:
    """Three spoons in the back room at their reorder point (thresholds 130, 115, 110 over
    101–103 on hand); Spoon 01 and 03 bought from Cutlery Co in dozens, Spoon 02 from
    Harbour Ceramics, as is the mug (short on the shelf)."""
    for name, threshold in {"spoon_01": 130, "spoon_02": 115, "spoon_03": 110}.items():
        db.session.execute(update(InventoryEntry).where(
            InventoryEntry.id == shop.entries[name]).values(low_stock_threshold=threshold))
    db.session.execute(update(Product).where(Product.sku == "MUG-BLU").values(
        reorder_point=20, reorder_quantity=24))
    db.session.commit()
    actor = system_actor("browser-tests")
    cutlery = purchasing.create_supplier(actor=actor, store_id=shop.store_id,
                                         name="Cutlery Co", lead_time_days=5)
    ceramics = purchasing.create_supplier(actor=actor, store_id=shop.store_id,
                                          name="Harbour Ceramics", lead_time_days=12)
    sku = dict(db.session.execute(select(Product.sku, Product.id)).all())
    for supplier, product, cost, pack in ((cutlery, "SPN-01", "0.80", 12),
                                          (ceramics, "SPN-02", "0.95", 1),
                                          (cutlery, "SPN-03", "0.80", 12),
                                          (ceramics, "MUG-BLU", "4.20", 6)):
        purchasing.set_supplier_item(actor=actor, supplier_id=supplier.id,
                                     product_id=sku[product], unit_cost=cost, pack_size=pack,
                                     preferred=True)
    backroom = db.session.scalar(select(Location.id).where(Location.code == "BACKROOM"))
    db.session.remove()
    return {"backroom": backroom}


def drafted() -> list[tuple[str, str, str, int]]:
    found = db.session.execute(
        select(PurchaseOrder.number, PurchaseOrder.status, Product.sku,
               PurchaseOrderLine.ordered_qty)
        .join(PurchaseOrderLine, PurchaseOrderLine.order_id == PurchaseOrder.id)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .order_by(PurchaseOrder.id)).all()
    db.session.remove()
    return [tuple(r) for r in found]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_owner_drafts_purchase_orders_from_chosen_lines(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, suppliers,
) -> None:
    phone = width == "phone"
    page = new_context(**WIDTHS[width]).new_page()
    sign_in(page, shop.owner)
    page.goto("/reports/reorder")
    expect(page.get_by_role("heading", name="Reorder report", level=1)).to_be_visible()
    e = shop.entries
    # Grouped by supplier: Cutlery Co's spoons, then Harbour Ceramics' spoon and mug.
    lines = page.locator("table.reorder-lines tbody tr:not(.group-head)")
    expect(lines).to_have_count(4)
    heads = page.locator("tr.group-head .group-name")
    expect(heads).to_have_text(["Cutlery Co", "Harbour Ceramics"])

    # One location: the back room's three spoons.
    if phone:
        page.locator("summary", has_text="Filter and sort").click()
    page.get_by_label("Location").select_option(label="BACKROOM")
    expect(page).to_have_url(re.compile(rf"location={suppliers['backroom']}"))
    expect(page.locator(f"#entry-{e['mug_shelf']}")).to_have_count(0)
    expect(lines).to_have_count(3)
    expect(page.get_by_role("link", name="Remove filter Location: BACKROOM")).to_be_visible()
    if phone:
        page.locator("summary", has_text="Filter and sort").click()

    # Spoon 01 (30 short of 130, in dozens: 36) and Spoon 02 (14 short of 115: 14).
    first = page.locator(f"#entry-{e['spoon_01']}")
    second = page.locator(f"#entry-{e['spoon_02']}")
    expect(first.locator("td.suggested")).to_contain_text("36")
    expect(second.locator("td.suggested")).to_contain_text("14")
    first.get_by_role("checkbox").check()
    second.get_by_role("checkbox").check()
    bar = page.locator("[data-order-bar]")
    expect(bar).to_contain_text("2 lines chosen")
    bar.get_by_role("button", name="Create draft purchase orders").click()

    # One draft per supplier, named above what is left: Spoon 03 alone.
    created = page.locator(".created-orders")
    expect(created).to_contain_text("2 draft purchase orders created.")
    expect(created.locator("li")).to_have_text([
        re.compile(r"PO-0001 — Cutlery Co to BACKROOM: 1 line, 28\.80 USD"),
        re.compile(r"PO-0002 — Harbour Ceramics to BACKROOM: 1 line, 13\.30 USD"),
    ])
    expect(lines).to_have_count(1)
    expect(page.locator(f"#entry-{e['spoon_03']}")).to_be_visible()
    assert drafted() == [("PO-0001", "draft", "SPN-01", 36), ("PO-0002", "draft", "SPN-02", 14)]
    # The page still says where it is, and nothing scrolls sideways.
    expect(page).to_have_url(re.compile(rf"location={suppliers['backroom']}"))
    width_px = WIDTHS[width]["viewport"]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width_px


def test_without_a_choice_nothing_is_made_and_the_reason_is_shown(
    new_context: Callable[..., BrowserContext], sign_in, shop, suppliers, page_problems,
) -> None:
    page = new_context(**WIDTHS["desk"]).new_page()
    sign_in(page, shop.owner)
    page.goto("/reports/reorder")
    page_problems.expect("status of 422")  # the refusal, swapped in like any form's
    page.get_by_role("button", name="Create draft purchase orders").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one line to order.")
    # A supplier's heading chooses its lines on the page.
    page.get_by_label("Choose every line from Cutlery Co on this page").check()
    expect(page.locator("[data-order-bar]")).to_contain_text("2 lines chosen")
    assert drafted() == []
