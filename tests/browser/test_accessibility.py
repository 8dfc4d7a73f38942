"""axe-core on every staff screen, at a 390-px phone and a 1400-px desk: no violations of
any impact. One browser context per width walks every screen once, signed in once; a failure
lists each screen's rules with their impact, the elements they name and how to fix them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Location, Product, User
from app.permissions import system_actor
from app.services import channels, items, purchasing, stock
from app.services.people.credentials import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright",
    reason="axe-playwright-python is not installed; pip install -e '.[test]'",
)

WIDTHS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1400, "height": 900}},
}
# Every rule axe-core has, not only the WCAG A/AA tags: "0 violations of any impact".
AXE_OPTIONS = {"resultTypes": ["violations"]}


@pytest.fixture
def platform_admin(shop) -> str:
    email = "ada@platform.test"
    db.session.add(User(email=email, name="Ada Admin", is_platform_admin=True,
                        password_hash=hash_password(shop.password)))
    db.session.commit()
    db.session.remove()
    return email


def describe(screen: str, violations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for rule in violations:
        targets = "; ".join(" ".join(map(str, node["target"])) for node in rule["nodes"][:6])
        more = len(rule["nodes"]) - 6
        lines.append(
            f"{screen}: {rule['id']} ({rule['impact']}) {rule['help']}\n"
            f"      at {targets}{f' and {more} more' if more > 0 else ''}\n"
            f"      {rule['nodes'][0].get('failureSummary', '').replace(chr(10), ' ')}"
        )
    return lines


@pytest.mark.parametrize("width", WIDTHS)
def test_every_screen_has_no_axe_violations(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, platform_admin: str,
    page_problems,
) -> None:
    axe = axe_module.Axe()
    phone = width == "phone"
    page: Page = new_context(**WIDTHS[width]).new_page()
    found: list[str] = []

    def check(screen: str) -> None:
        results = axe.run(page, options=AXE_OPTIONS)
        found.extend(describe(screen, results.response["violations"]))

    def visit(path: str, heading: str | None = None) -> None:
        page.goto(path)
        if heading:
            expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        check(path)

    # Signed out.
    visit("/sign-in")
    sign_in(page, shop.owner)

    entry_id = shop.entries["mug_shelf"]
    product_id = db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU"))
    db.session.remove()

    check("/inventory")
    if phone:
        page.locator("summary", has_text="Filters").click()
        expect(page.get_by_label("Status", exact=True)).to_be_visible()
        check("/inventory (filters open)")
    page.get_by_role("link", name="Adjust", exact=True).first.click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/inventory (adjust dialog open)")

    for path in (
        f"/inventory/entries/{entry_id}", f"/inventory/entries/{entry_id}/adjust",
        f"/products/{product_id}", "/reports/low-stock", "/reports/out-of-stock",
        "/reports/reorder", "/movements", "/activity", "/catalog/products", "/catalog/locations",
        "/catalog/products/new", f"/catalog/products/{product_id}/edit", "/import",
        "/account/tokens", "/people", f"/people/stores/{shop.store_id}",
        f"/labels?product={product_id}",
    ):
        visit(path)
    # The overview grouped by item, with an item's entries shown under it.
    visit("/inventory?group=item")
    page.locator("tbody.item-group", has_text="Blue Mug").get_by_role("link",
                                                                       name="Show 2").click()
    expect(page.locator("tbody.item-rows tr")).to_have_count(2)
    check("/inventory?group=item (an item's entries shown)")
    # An item with options: its matrix (scrolling in its own region on a phone), a cell's
    # Adjust dialog, its Archive dialog, and the form that makes a new item.
    options = [items.Option("Color", ("Black", "Glacier Blue")), items.Option("Size", ("S", "M"))]
    made = items.create_item(actor=system_actor("tests"), store_id=shop.store_id,
                             title="Summit Parka", options=options,
                             variants_to_make=items.generate(options, "PRK"))
    for product_id, code in zip(made.product_ids, ("WAREHOUSE_A", "SHELF_B", "BACKROOM"),
                                strict=False):
        stock.create_entry(actor=system_actor("tests"), product_id=product_id,
                           location_id=db.session.scalar(
                               select(Location.id).where(Location.code == code)), quantity=3)
    db.session.remove()
    visit(f"/catalog/items/{made.id}", "Summit Parka")
    page.locator("table.matrix td.cell a[data-dialog]").first.click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check(f"/catalog/items/{made.id} (adjust dialog open)")
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.get_by_role("link", name="Archive item").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check(f"/catalog/items/{made.id} (archive dialog open)")
    visit("/catalog/items/new")
    # An import preview that adds products to the catalog, with a row error among them.
    visit("/import")
    page.get_by_label("CSV file (UTF-8)").set_input_files(files=[{
        "name": "sizes.csv", "mimeType": "text/csv",
        "buffer": (b"store,location,sku,quantity,item,options\r\n"
                   b"harbour-street,WAREHOUSE_A,PRK-BLACK-XL,4,Summit Parka,"
                   b"Color: Black; Size: XL\r\n"
                   b"harbour-street,WAREHOUSE_A,CAP-RED,2,Wool Cap,Color Red\r\n")}])
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_role("heading", name="New in the catalog")).to_be_visible()
    check("/import/preview (new products, a row error)")
    # Sales channels on the Locations page, the Edit dialog open, and moving a hold.
    towel = db.session.scalar(select(Product.id).where(Product.sku == "TWL-LIN"))
    warehouse = db.session.scalar(select(Location.id).where(Location.code == "WAREHOUSE_A"))
    stock.create_entry(actor=system_actor("tests"), product_id=towel, location_id=warehouse,
                       quantity=6)
    made_channel = channels.create_channel(
        actor=system_actor("tests"), store_id=shop.store_id, code="WEB", name="Web shop",
        location_ids=[warehouse, db.session.scalar(
            select(Location.id).where(Location.code == "SHELF_B"))])
    db.session.remove()
    visit("/catalog/locations", "Locations")
    page.locator("#channels").get_by_role("link", name="Edit channel WEB").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/catalog/locations (channel edit dialog open)")
    visit(f"/catalog/channels/{made_channel.id}/edit")
    visit(f"/inventory/entries/{shop.entries['towel']}")
    page.get_by_role("link", name=re.compile("^Move reservation")).click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/inventory/entries/towel (move dialog open)")
    # The reports with rows to sort, filter and act on: sorted, narrowed to a location,
    # their folded filters open on a phone, a row's dialog open, and reorder lines.
    db.session.execute(update(Product).where(Product.sku == "MUG-BLU").values(
        reorder_point=20, reorder_quantity=24))
    db.session.commit()
    shelf = db.session.scalar(select(Location.id).where(Location.code == "SHELF_B"))
    # A supplier for the mug: its lines get a heading and boxes to choose them by.
    seller = purchasing.create_supplier(actor=system_actor("tests"), store_id=shop.store_id,
                                        name="Harbour Ceramics", lead_time_days=12)
    purchasing.set_supplier_item(
        actor=system_actor("tests"), supplier_id=seller.id, unit_cost="4.20", pack_size=6,
        product_id=db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU")))
    db.session.remove()
    visit("/reports/reorder?sort=suggested&dir=desc", "Reorder report")
    page.locator("input[data-line]").first.check()
    check("/reports/reorder (a line chosen)")
    visit(f"/reports/low-stock?sort=shortfall&dir=desc&location={shelf}", "Low stock")
    if phone:
        page.locator("summary", has_text="Filter and sort").click()
        expect(page.get_by_label("Sort by", exact=True)).to_be_visible()
        check("/reports/low-stock (filters open)")
    page.get_by_role("link", name="Adjust", exact=True).first.click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/reports/low-stock (adjust dialog open)")
    visit("/reports/out-of-stock?sort=location&dir=desc", "Out of stock")
    # The stock value: a receipt gives the mug a cost, the other entries have none yet.
    setup = system_actor("tests")
    mug = db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU"))
    supplier = purchasing.create_supplier(actor=setup, store_id=shop.store_id, name="Acme")
    bought = purchasing.create_purchase_order(actor=setup, supplier_id=supplier.id, lines=[
        {"product_id": mug, "location_id": shelf, "quantity": 4, "unit_cost": "3.25"}])
    purchasing.order_purchase_order(actor=setup, order_id=bought.id)
    purchasing.receive_purchase_order(actor=setup, order_id=bought.id, lines=[
        {"line_id": bought.lines[0].id, "quantity": 4}])
    db.session.remove()
    visit("/reports/valuation", "Stock value")
    if phone:
        page.locator("summary", has_text="Filter and sort").click()
        expect(page.get_by_label("Sort by", exact=True)).to_be_visible()
        check("/reports/valuation (filters open)")
    visit("/reports/valuation?show=uncosted", "Stock value")
    visit("/inventory", "Inventory")
    # Counting a location: the chooser, then a list with a line, a line to fix and the
    # scan box's error.
    visit("/inventory/count", "Count stock")
    warehouse = db.session.scalar(select(Location.id).where(Location.code == "WAREHOUSE_A"))
    db.session.remove()
    visit(f"/inventory/count?location={warehouse}", "Count stock at WAREHOUSE_A")
    for code in ("MUG-BLU", "POT-RED"):
        page.keyboard.type(code, delay=5)
        page.keyboard.press("Enter")
    expect(page.locator("tr[data-count-line]")).to_have_count(2)
    page_problems.expect("status of 422")
    page.keyboard.type("NOPE-1", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("#count-code-error")).to_be_visible()
    check("/inventory/count (a list and an unknown code)")
    page.locator("tr[data-count-line][data-sku='POT-RED'] [data-counted]").fill("x")
    page_problems.expect("status of 422")
    page.get_by_role("button", name="Apply counts").click()
    expect(page.locator("#count-problem")).to_be_visible()
    check("/inventory/count (a line to fix)")

    # Receiving: the way in, an order with a count over what it awaits and the scan box's
    # error, the confirmation it asks, whatever arrives, and a receipt.
    buyer = system_actor("tests")
    mug = db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU"))
    supplier = purchasing.create_supplier(actor=buyer, store_id=shop.store_id,
                                          name="Acme Receiving")
    order = purchasing.order_purchase_order(actor=buyer, order_id=purchasing.create_purchase_order(
        actor=buyer, supplier_id=supplier.id, lines=[
            {"product_id": mug, "location_id": warehouse, "quantity": 2,
             "unit_cost": "1.00"}]).id)
    db.session.remove()
    visit("/receiving", "Receive stock")
    visit(f"/receiving/orders/{order.id}", f"Receive {order.number}")
    for _ in range(3):
        page.keyboard.type("MUG-BLU", delay=5)
        page.keyboard.press("Enter")
    page_problems.expect("status of 422")
    page.keyboard.type("NOPE-1", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("#receive-code-error")).to_be_visible()
    check("/receiving/orders (a count over and an unknown code)")
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/receiving/orders (the over-receipt dialog open)")
    page.keyboard.press("Escape")
    visit(f"/receiving/arrivals?location={warehouse}", "Receive at WAREHOUSE_A")
    page.keyboard.type("MUG-BLU", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("tr[data-receive-row]")).to_have_count(1)
    check("/receiving/arrivals (a line)")
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.get_by_role("heading", name="Received 1 unit")).to_be_visible()
    check("/receiving/receipts")
    # Purchasing: suppliers and one's page, the orders, a draft with its Place dialog, a
    # partly received order and its printed page, and a new draft's form.
    buyer = system_actor("tests")
    acme = purchasing.create_supplier(actor=buyer, store_id=shop.store_id,
                                      name="Acme Wholesale", email="orders@acme.test")
    mug = db.session.scalar(select(Product.id).where(Product.sku == "MUG-BLU"))
    purchasing.set_supplier_item(actor=buyer, supplier_id=acme.id, product_id=mug,
                                 unit_cost="2.50", pack_size=6, min_order_qty=12, preferred=True)
    line = [{"product_id": mug, "location_id": warehouse, "quantity": 12}]
    draft = purchasing.create_purchase_order(actor=buyer, supplier_id=acme.id, lines=line)
    placed = purchasing.order_purchase_order(actor=buyer, order_id=purchasing.create_purchase_order(
        actor=buyer, supplier_id=acme.id, lines=line, expected_on=date(2020, 1, 31)).id)
    purchasing.receive_purchase_order(actor=buyer, order_id=placed.id, lines=[
        {"line_id": placed.lines[0].id, "quantity": 5}])
    db.session.remove()
    visit(f"/purchasing/suppliers?store={shop.store_id}", "Suppliers")
    page.get_by_role("link", name="New supplier").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/purchasing/suppliers (new supplier dialog open)")
    visit(f"/purchasing/suppliers/{acme.id}", "Acme Wholesale")
    visit(f"/purchasing/orders?store={shop.store_id}", "Purchase orders")
    visit(f"/purchasing/orders/{draft.id}")
    page.get_by_role("link", name="Place order").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    check("/purchasing/orders/draft (place dialog open)")
    visit(f"/purchasing/orders/{placed.id}")
    visit(f"/purchasing/orders/{placed.id}/print", f"Purchase order {placed.number}")
    visit(f"/purchasing/orders/new?store={shop.store_id}")

    page_problems.expect("status of 404")
    visit("/no-such-screen", "Not found")

    page.context.clear_cookies()
    sign_in(page, platform_admin)
    visit("/admin/stores", "Stores")
    visit(f"/admin/stores/{shop.store_id}")
    visit("/admin/stores/new", "New store")  # an action as its own page
    visit("/people")  # every user and the form that adds one
    visit("/activity", "Activity")  # every store's, with the store column

    assert not found, f"axe-core at {width} width:\n  " + "\n  ".join(found)
