"""Receiving in Chromium: staff granted receiving open an order by scanning its number, scan
what arrived at scanner speed (each scan one more on its line, the box ready for the next
at once), see an unknown code named at the box with the counts untouched, type a count,
receive part of the order; then receive more than was ordered, which asks first, and see
on hand and incoming follow on the overview. "Whatever arrives" fills the soonest expected
order first and receives each order on its own. On a 390-px phone as on a desktop; the
counts typed and the scan box used by keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Location, Membership, Product, User
from app.permissions import RECEIVE, system_actor
from app.services import purchasing
from app.services.people.credentials import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

RECEIVER = "rhea@harbour.test"
PASSWORD = "correct horse battery staple"


def _ids(model, column, values) -> dict[str, int]:
    rows = db.session.execute(select(column, model.id).where(column.in_(values))).all()
    return {k: v for k, v in rows}


@pytest.fixture
def orders(shop) -> dict[str, int]:
    """Staff granted receiving (Rhea); from Acme Ceramics, PO-0001 (due 3 May 2031): 10 mugs
    and 6 teapots to WAREHOUSE_A; PO-0002 (due 1 May 2031): 4 more mugs there."""
    buyer = system_actor("buyer")
    user = User(email=RECEIVER, name="Rhea Receiver", password_hash=hash_password(PASSWORD))
    db.session.add(user)
    db.session.flush()
    db.session.add(Membership(user_id=user.id, store_id=shop.store_id, role="staff",
                              grants=[RECEIVE]))
    db.session.commit()
    goods = _ids(Product, Product.sku, ["MUG-BLU", "POT-RED"])
    places = _ids(Location, Location.code, ["WAREHOUSE_A"])
    supplier = purchasing.create_supplier(actor=buyer, store_id=shop.store_id,
                                          name="Acme Ceramics")

    def place(lines, when):
        draft = purchasing.create_purchase_order(
            actor=buyer, supplier_id=supplier.id, expected_on=when,
            lines=[{"product_id": goods[sku], "location_id": places["WAREHOUSE_A"],
                    "quantity": n, "unit_cost": "3.00"} for sku, n in lines])
        return purchasing.order_purchase_order(actor=buyer, order_id=draft.id).id

    found = {"first": place([("MUG-BLU", 10), ("POT-RED", 6)], date(2031, 5, 3)),
             "second": place([("MUG-BLU", 4)], date(2031, 5, 1)),
             "warehouse": places["WAREHOUSE_A"]}
    db.session.remove()
    return found


def at_width(new_context: Callable[..., BrowserContext], width: int) -> Page:
    return new_context(viewport={"width": width, "height": 800}).new_page()


def sign_in_as(page: Page, email: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()


def scan(page: Page, code: str) -> None:
    """A scanner: the code's keys 5 ms apart, then Enter, wherever focus is."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def line(page: Page, sku: str):
    return page.locator("tr[data-receive-row]").filter(has_text=sku)


def now(page: Page, sku: str):
    return line(page, sku).locator("[data-receiving]")


def stock_at(entry_id: int) -> tuple[int, int]:
    db.session.remove()
    row = db.session.execute(select(InventoryEntry.quantity, InventoryEntry.incoming_quantity)
                             .where(InventoryEntry.id == entry_id)).one()
    db.session.remove()
    return int(row[0]), int(row[1])


def open_receiving(page: Page) -> None:
    """From the overview through the navigation (folded behind Menu on a phone)."""
    menu = page.locator("nav .nav-fold > summary")
    if menu.is_visible():
        menu.click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Receive").click()
    expect(page.get_by_role("heading", name="Receive stock", level=1)).to_be_visible()


@pytest.mark.parametrize("width", [390, 1400])
def test_scan_an_order_in_part_then_confirm_an_over_receipt(
    new_context, shop, orders, page_problems, width: int
):
    page = at_width(new_context, width)
    sign_in_as(page, RECEIVER)
    open_receiving(page)
    expect(page.get_by_role("link", name="Receive PO-0002")).to_be_visible()

    # The printed order's number, scanned: the box has the focus already.
    expect(page.get_by_label("Scan or type a purchase order number")).to_be_focused()
    scan(page, "po-0001")
    expect(page.get_by_role("heading", name="Receive PO-0001")).to_be_visible()
    box = page.get_by_label("Scan or type a SKU, GTIN or supplier SKU")
    expect(box).to_be_focused()

    for code in ("MUG-BLU", "MUG-BLU", "mug-blu", "4006381333931", "POT-RED"):
        scan(page, code)
        expect(box).to_have_value("")
    expect(now(page, "MUG-BLU")).to_have_value("4")
    expect(now(page, "POT-RED")).to_have_value("1")

    # Codes on no line are named at the box; the counts stay as they were.
    page_problems.expect("status of 422")
    scan(page, "NOPE-1")
    expect(page.locator("#receive-code-error")).to_have_text(
        "Nothing in this store has the SKU or GTIN “NOPE-1”.")
    expect(box).to_have_attribute("aria-invalid", "true")
    page_problems.expect("status of 422")
    scan(page, "TWL-LIN")
    expect(page.locator("#receive-code-error")).to_have_text("TWL-LIN is not on PO-0001.")
    expect(now(page, "MUG-BLU")).to_have_value("4")
    scan(page, "MUG-BLU")  # the next good scan clears the message
    expect(page.locator("#receive-code-error")).to_be_hidden()
    expect(now(page, "MUG-BLU")).to_have_value("5")

    # A count typed by keyboard; Enter there hands the cursor back to the scan box.
    now(page, "POT-RED").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(now(page, "POT-RED")).to_have_value("2")
    expect(page.locator("[data-receive-total]")).to_have_text("7 units on 2 lines")

    # The page never scrolls sideways, and Receive is in reach without scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    receive = page.get_by_role("button", name="Receive", exact=True)
    reach = receive.bounding_box()
    assert reach and reach["y"] + reach["height"] <= 800

    receive.click()
    expect(page.get_by_role("heading", name="Received 7 units")).to_be_visible()
    receipt = page.locator("section.receipt")
    expect(receipt).to_contain_text("Partly received")
    mug = receipt.locator("tr").filter(has_text="MUG-BLU")
    expect(mug.locator("td").nth(1)).to_have_text("+5")
    expect(mug.locator("td").nth(2)).to_have_text("15")  # 10 on hand before
    expect(mug.locator("td").nth(3)).to_have_text("5")
    assert stock_at(shop.entries["mug_warehouse"]) == (15, 5 + 4)

    # The rest of the mugs and one more than ordered: asked first, naming the line.
    page.get_by_role("link", name="Receive more of PO-0001").click()
    expect(box).to_be_focused()
    for _ in range(6):
        scan(page, "MUG-BLU")
    expect(now(page, "MUG-BLU")).to_have_value("6")
    expect(line(page, "MUG-BLU").locator("[data-over-note]")).to_have_text("1 over")
    receive.click()
    dialog = page.locator("#over-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(
        "Blue Mug (MUG-BLU) at WAREHOUSE_A: 6 arriving, 5 awaited — 1 over")
    # Changing one's mind is the default: Escape closes it, the cursor on the line over.
    expect(dialog.get_by_role("link", name="Change the counts")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(now(page, "MUG-BLU")).to_be_focused()
    assert stock_at(shop.entries["mug_warehouse"]) == (15, 9)

    receive.click()
    dialog.get_by_role("button", name="Receive with the extra units").click()
    expect(page.get_by_role("heading", name="Received 6 units")).to_be_visible()
    expect(page.locator("section.receipt")).to_contain_text("Partly received")  # teapots due

    # The overview: on hand and incoming followed (PO-0002's 4 mugs still coming).
    page.goto("/inventory?q=MUG-BLU")
    row = page.locator(f"#entry-{shop.entries['mug_warehouse']}")
    expect(row).to_contain_text("WAREHOUSE_A")
    cells = row.locator("td")
    expect(cells.nth(2)).to_have_text("21")
    expect(cells.nth(5)).to_have_text("4")
    assert stock_at(shop.entries["mug_warehouse"]) == (21, 4)


def test_whatever_arrives_fills_the_soonest_expected_order_first(
    new_context, shop, orders, page_problems
):
    page = at_width(new_context, 390)
    sign_in_as(page, RECEIVER)
    page.goto("/receiving")
    page.get_by_label("At location").select_option(label="WAREHOUSE_A")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Receive at WAREHOUSE_A")).to_be_visible()
    box = page.get_by_label("Scan or type a SKU or GTIN")
    expect(box).to_be_focused()

    for _ in range(6):
        scan(page, "MUG-BLU")
    scan(page, "4006381333931")
    scan(page, "POT-RED")
    page_problems.expect("status of 422")
    scan(page, "TWL-LIN")
    expect(page.locator("#receive-code-error")).to_have_text(
        "No open purchase order for TWL-LIN at WAREHOUSE_A.")
    expect(now(page, "MUG-BLU")).to_have_value("7")
    goes = line(page, "MUG-BLU").locator("[data-goes]")
    expect(goes).to_have_count(2)
    expect(goes.nth(0)).to_contain_text("4 → PO-0002")  # due 1 May: first
    expect(goes.nth(1)).to_contain_text("3 → PO-0001")
    expect(page.locator("tr[data-receive-row]")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.get_by_role("heading", name="Received 8 units")).to_be_visible()
    receipts = page.locator("section.receipt")
    expect(receipts).to_have_count(2)
    expect(receipts.filter(has_text="PO-0002")).to_contain_text("Received")
    expect(receipts.filter(has_text="PO-0001")).to_contain_text("Partly received")
    assert stock_at(shop.entries["mug_warehouse"]) == (17, 7)
    expect(page.get_by_role("link", name="Scan more arrivals at WAREHOUSE_A")).to_be_visible()


def test_a_scan_puts_the_cursor_in_the_count_for_those_who_chose_adjust(
    new_context, shop, orders
):
    page = at_width(new_context, 1400)
    sign_in_as(page, RECEIVER)
    page.goto("/account/tokens")
    page.get_by_label("Open Adjust", exact=False).check()
    page.get_by_role("button", name="Save scanning").click()

    page.goto(f"/receiving/orders/{orders['first']}")
    box = page.get_by_label("Scan or type a SKU, GTIN or supplier SKU")
    expect(box).to_be_focused()
    scan(page, "POT-RED")
    expect(now(page, "POT-RED")).to_be_focused()
    expect(now(page, "POT-RED")).to_have_value("")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(now(page, "POT-RED")).to_have_value("5")
    # A scan while a count has the cursor is a scan, not more digits.
    now(page, "POT-RED").focus()
    scan(page, "MUG-BLU")
    expect(now(page, "POT-RED")).to_have_value("5")
    expect(now(page, "MUG-BLU")).to_be_focused()
    assert re.search(r"/receiving/orders/\d+$", page.url)
