"""A new store, set up end to end in Chromium: a platform admin opens it and names its owner;
the owner adds locations, products and a staff member with a granted group, and imports the
opening stock from a CSV file; the staff member adjusts one entry. Only the two accounts are
seeded; everything else goes through the screens, and the database is checked at the end."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Location, Membership, Product, StockMovement, Store, User
from app.permissions import ADJUST
from app.services.ledger import verify_ledger
from app.services.people.credentials import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

ADMIN = "ada@platform.test"
OWNER = "nora@northside.test"
STAFF = "sam@northside.test"
ADJUST_LABEL = "Adjust stock (adjust, set, count, transfer, return)"
SIGN_IN = re.compile(r"/sign-in(\?.*)?$")

# (location, sku) -> (quantity, threshold) of the opening stock in the CSV file.
OPENING = {
    ("SHOP_FLOOR", "TEA-GRN"): (12, 4),
    ("SHOP_FLOOR", "CUP-WHT"): (30, 0),
    ("BACK_ROOM", "TEA-GRN"): (48, 10),
    ("BACK_ROOM", "CUP-WHT"): (6, 2),
}


@pytest.fixture
def accounts(shop) -> tuple[str, str]:
    """A platform admin and a future owner, neither a member of any store yet."""
    hashed = hash_password(shop.password)
    db.session.add_all([
        User(email=ADMIN, name="Ada Admin", is_platform_admin=True, password_hash=hashed),
        User(email=OWNER, name="Nora North", password_hash=hashed),
    ])
    db.session.commit()
    db.session.remove()
    return ADMIN, OWNER


def flash(page: Page) -> Locator:
    return page.get_by_role("status").filter(has=page.locator(".flash"))


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(SIGN_IN)
    expect(flash(page)).to_have_text("You are signed out.")


def entry_row(page: Page, sku: str, code: str) -> Locator:
    return page.locator("#results tbody tr").filter(has_text=sku).filter(
        has=page.locator("td:nth-child(2) > code", has_text=re.compile(f"^{code}$"))
    )


def on_hand(page: Page, row: Locator) -> Locator:
    headers = page.locator("#results table.entries thead th").all_text_contents()
    headers = [text.strip() for text in headers]
    return row.locator("td").nth(headers.index("On hand"))


def test_a_new_store_is_set_up_end_to_end(
    page: Page, shop, accounts: tuple[str, str], sign_in: Callable[..., None],
    page_problems, tmp_path: Path,
) -> None:
    admin, owner = accounts

    # 1. The platform admin opens the store and makes Nora its owner.
    sign_in(page, admin)
    page.goto("/admin/stores")
    page.get_by_role("link", name="New store").first.click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("New store")
    dialog.get_by_label("Name").fill("Northside Tea")
    dialog.get_by_label("Slug").fill("northside-tea")
    dialog.get_by_role("button", name="Create store").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(flash(page)).to_contain_text("Opened store Northside Tea (northside-tea).")
    db.session.remove()
    store = db.session.scalar(select(Store).where(Store.slug == "northside-tea"))
    assert store is not None
    store_id = store.id
    db.session.remove()
    listed = page.locator(f"#store-{store_id}")
    expect(listed).to_contain_text("Northside Tea")
    expect(listed).to_contain_text("No owner")

    listed.get_by_role("link", name="Northside Tea", exact=True).click()
    expect(page.get_by_role("heading", name="Northside Tea", level=1)).to_be_visible()
    page.get_by_role("link", name="Manage people").click()
    expect(page.get_by_role("heading", name="People in Northside Tea", level=1)).to_be_visible()
    adding = page.get_by_role("region", name="Add a member")
    adding.get_by_label("Email", exact=True).fill(owner)
    adding.get_by_label("Role", exact=True).select_option(label="Owner")
    adding.get_by_role("button", name="Add member").click()
    expect(flash(page)).to_contain_text(
        f"Added Nora North ({owner}) to Northside Tea as owner."
    )
    expect(page.locator("table.members-table tbody tr")).to_have_count(1)
    page.goto("/admin/stores")
    expect(page.locator(f"#store-{store_id}")).not_to_contain_text("No owner")
    sign_out(page)

    # 2. The owner adds two locations, two products and a staff member who may adjust.
    sign_in(page, owner)
    page.goto(f"/catalog/locations?store={store_id}")
    expect(page.get_by_role("heading", name="Locations", level=1)).to_be_visible()
    for typed in ("shop_floor", "back_room"):
        page.get_by_label("Code", exact=True).fill(typed)
        page.get_by_role("button", name="Add location").click()
        expect(flash(page)).to_contain_text(f"Added location {typed.upper()}.")
        expect(page.locator("#locations table.catalog-table code", has_text=typed.upper())
               ).to_be_visible()
    expect(page.locator("#locations table.catalog-table tbody tr")).to_have_count(2)
    expect(page.locator("#locations")).not_to_contain_text("shop_floor")

    page.goto(f"/catalog/products?store={store_id}")
    page.get_by_role("link", name="New product").click()
    expect(page.get_by_role("heading", name="New product", level=1)).to_be_visible()
    page.get_by_label("SKU").fill("TEA-GRN")
    page.get_by_label("Title").fill("Green Tea")
    gtin = page.get_by_label("GTIN (optional)")
    gtin.fill("4006381333932")
    page_problems.expect("status of 422")  # the refused GTIN answers 422, as it should
    page.get_by_role("button", name="Add product").click()
    gtin = page.get_by_label("GTIN (optional)")
    expect(gtin).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#gtin-error")).to_have_text(
        "The check digit is wrong: after 400638133393 it should be 1, not 2. "
        "Check for a typing error."
    )
    expect(page.get_by_label("SKU")).to_have_value("TEA-GRN")
    assert page_problems.expected == [], "the refused GTIN should answer 422"
    gtin.fill("4006381333931")
    page.get_by_role("button", name="Add product").click()
    expect(flash(page)).to_contain_text("Added TEA-GRN — Green Tea.")

    page.goto(f"/catalog/products?store={store_id}")
    page.get_by_role("link", name="New product").click()
    page.get_by_label("SKU").fill("CUP-WHT")
    page.get_by_label("Title").fill("White Cup")
    expect(page.get_by_label("Type")).to_have_value("physical")
    page.get_by_role("button", name="Add product").click()
    expect(flash(page)).to_contain_text("Added CUP-WHT — White Cup.")

    page.goto(f"/people/stores/{store_id}")
    adding = page.get_by_role("region", name="Add a member")
    adding.get_by_label("Email", exact=True).fill(STAFF)
    expect(adding.get_by_label("Role", exact=True)).to_have_value("staff")
    adding.get_by_label(ADJUST_LABEL).check()
    adding.get_by_label("Name (new accounts only)").fill("Sam Staff")
    adding.get_by_label("Initial password (new accounts only)").fill(shop.password)
    adding.get_by_role("button", name="Add member").click()
    expect(flash(page)).to_contain_text(
        f"Created the account and added Sam Staff ({STAFF}) to Northside Tea as staff."
    )
    staff_row = page.locator("table.members-table tbody tr").filter(has_text=STAFF)
    expect(staff_row).to_contain_text("Read, plus: Adjust stock")

    # 3. The opening stock comes from a CSV file: preview, apply, see it in the overview.
    csv_file = tmp_path / "opening.csv"
    csv_file.write_text("\r\n".join(
        ["store,location,sku,quantity,threshold"]
        + [f"northside-tea,{code},{sku},{qty},{threshold}"
           for (code, sku), (qty, threshold) in OPENING.items()]
    ) + "\r\n", encoding="utf-8")
    page.goto("/import")
    page.get_by_label("CSV file (UTF-8)").set_input_files(str(csv_file))
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_role("heading", name="Import preview")).to_be_visible()

    def card(label: str) -> Locator:
        return page.locator(".import-summary .card").filter(has_text=label).locator(".card-value")

    expect(card("To create")).to_have_text("4")
    expect(card("To update")).to_have_text("0")
    expect(card("With errors")).to_have_text("0")
    expect(page.locator("table.import-rows tbody tr")).to_have_count(4)
    page.get_by_role("button", name="Apply import").click()
    expect(page.get_by_role("heading", name="Import applied")).to_be_visible()
    expect(flash(page)).to_contain_text("4 created")
    batch = page.locator(".page-head code").inner_text()
    assert re.fullmatch(r"import-[0-9a-f]{32}", batch)

    page.goto(f"/inventory?store={store_id}")
    expect(page.locator("#results tbody tr")).to_have_count(4)
    for (code, sku), (qty, _) in OPENING.items():
        expect(on_hand(page, entry_row(page, sku, code))).to_have_text(str(qty))
    sign_out(page)

    # 4. The staff member adjusts one entry; the owner sees the import batch in the log.
    sign_in(page, STAFF)
    page.goto(f"/inventory?store={store_id}")
    row = entry_row(page, "TEA-GRN", "SHOP_FLOOR")
    row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text(
        "Adjust stock — Green Tea (TEA-GRN) at SHOP_FLOOR"
    )
    dialog.get_by_label("Change (+ adds, − removes)").fill("-2")
    dialog.get_by_label("Reason", exact=True).fill("Two tins dented")
    dialog.get_by_role("button", name="Apply adjustment").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(flash(page)).to_contain_text("on hand 12 → 10")
    expect(on_hand(page, row)).to_have_text("10")
    sign_out(page)

    sign_in(page, owner)
    page.goto(f"/movements?batch={batch}")
    expect(page.get_by_role("heading", name="Movements", level=1)).to_be_visible()
    expect(page.locator("#results table.ledger tbody tr")).to_have_count(4)
    expect(page.locator("#results .count")).to_have_text("4 movements")
    sign_out(page)

    # The platform admin sees the store's stock and people in the cross-store view.
    sign_in(page, admin)
    page.goto("/admin/stores")
    figures = page.locator(f"#store-{store_id} td.num")
    expect(figures.nth(0)).to_have_text("4")  # entries
    expect(figures.nth(1)).to_have_text(f"{sum(q for q, _ in OPENING.values()) - 2}")  # on hand
    expect(page.locator(f"#store-{store_id} td.members")).to_have_text("2")

    # 5. The database agrees, and the ledger balances.
    db.session.remove()
    quantities = {
        (code, sku): qty
        for code, sku, qty in db.session.execute(
            select(Location.code, Product.sku, InventoryEntry.quantity)
            .join(Location, InventoryEntry.location_id == Location.id)
            .join(Product, InventoryEntry.product_id == Product.id)
            .where(InventoryEntry.store_id == store_id)
        )
    }
    expected = {key: qty for key, (qty, _) in OPENING.items()}
    expected[("SHOP_FLOOR", "TEA-GRN")] = 10
    assert quantities == expected
    thresholds = dict(db.session.execute(
        select(Location.code + ":" + Product.sku, InventoryEntry.low_stock_threshold)
        .join(Location, InventoryEntry.location_id == Location.id)
        .join(Product, InventoryEntry.product_id == Product.id)
        .where(InventoryEntry.store_id == store_id)
    ).all())
    assert thresholds == {f"{code}:{sku}": t for (code, sku), (_, t) in OPENING.items()}
    assert db.session.scalar(
        select(Product.gtin).where(Product.store_id == store_id, Product.sku == "TEA-GRN")
    ) == "4006381333931"
    in_batch = db.session.scalars(
        select(StockMovement.quantity_delta).where(StockMovement.batch_ref == batch)
    ).all()
    assert sorted(in_batch) == sorted(qty for qty, _ in OPENING.values())
    assert verify_ledger() == []
    memberships = {
        email: (role, list(grants))
        for email, role, grants in db.session.execute(
            select(User.email, Membership.role, Membership.grants)
            .join(User, Membership.user_id == User.id)
            .where(Membership.store_id == store_id)
        )
    }
    assert memberships == {OWNER: ("owner", []), STAFF: ("staff", [ADJUST])}
