"""Sales channels and moving a reservation in a real browser, on a 390-px phone and a
1400-px desk: a channel added on the Locations page with its locations chosen in order, its
order changed in the Edit dialog, and a towel order's hold moved to another location from
its entry's page, first refused where too little is available, then moved. The page never
scrolls sideways."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Location, Product, Reservation
from app.permissions import system_actor
from app.services import stock

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desk": {"viewport": {"width": 1400, "height": 900}},
}
# Set STOCKROOM_SHOTS=DIR to keep a picture of each step.
SHOTS = os.environ.get("STOCKROOM_SHOTS")


@pytest.fixture
def towels(shop) -> dict[str, int]:
    """The towel (12 at SHELF_B, 4 held for ORD-1001) also stocked at WAREHOUSE_A (6) and
    BACKROOM (1)."""
    actor = system_actor("browser-tests")
    places = {code: id_ for code, id_ in db.session.execute(select(Location.code, Location.id))}
    towel = db.session.scalar(select(Product.id).where(Product.sku == "TWL-LIN"))
    for code, quantity in (("WAREHOUSE_A", 6), ("BACKROOM", 1)):
        stock.create_entry(actor=actor, product_id=towel, location_id=places[code],
                           quantity=quantity)
    hold = db.session.scalar(select(Reservation.id).where(Reservation.order_ref == "ORD-1001"))
    db.session.remove()
    return {"hold": hold, **places}


def _no_sideways_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_adding_a_channel_and_moving_a_reservation(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, towels,
    page_problems,
) -> None:
    width_px = WIDTHS[width]["viewport"]["width"]
    page: Page = new_context(**WIDTHS[width]).new_page()
    sign_in(page, shop.owner)

    # The channels panel of the Locations page: empty, with the form to add one.
    page.goto("/catalog/locations")
    panel = page.locator("#channels")
    expect(panel.get_by_role("heading", name="Sales channels")).to_be_visible()
    expect(panel).to_contain_text("This store has no sales channels yet.")
    _no_sideways_scroll(page, width_px)
    form = panel.locator("form.channel-form")
    form.get_by_label("Code").fill("web")
    form.get_by_label("Name (optional)").fill("Web shop")
    form.get_by_label("1st location").select_option(label="WAREHOUSE_A")
    form.get_by_label("2nd location").select_option(label="SHELF_B")
    form.get_by_label(re.compile("^Split a line")).check()
    _shot(page, f"channels-form-{width}")
    form.get_by_role("button", name="Add channel").click()

    expect(page.locator(".flash-success")).to_contain_text(
        "Added channel WEB, selling from WAREHOUSE_A → SHELF_B (splits lines).")
    row = page.locator("#channels tbody tr", has_text="WEB")
    expect(row).to_contain_text(re.compile(r"WAREHOUSE_A\s*→\s*, then\s*SHELF_B"))
    expect(row).to_contain_text("Yes")
    _no_sideways_scroll(page, width_px)

    # A code the store has: refused beside the code, focus there, nothing added.
    form = page.locator("#channels form.channel-form")
    form.get_by_label("Code").fill("WEB")
    form.get_by_label("1st location").select_option(label="BACKROOM")
    page_problems.expect("status of 409")
    form.get_by_role("button", name="Add channel").click()
    expect(page.locator("#channel-code-error")).to_contain_text(
        "already has a channel with the code WEB")
    expect(page.locator("#channels tbody tr")).to_have_count(1)

    # Edit: the dialog shows the order; the counter comes first now.
    page.locator("#channels").get_by_role("link", name="Edit channel WEB").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading", name=re.compile("Edit sales channel"))).to_be_visible()
    expect(dialog.get_by_label("1st location")).to_have_value(str(towels["WAREHOUSE_A"]))
    expect(dialog.get_by_label("Name (optional)")).to_be_focused()
    dialog.get_by_label("1st location").select_option(label="SHELF_B")
    dialog.get_by_label("2nd location").select_option(label="WAREHOUSE_A")
    _shot(page, f"channels-edit-{width}")
    dialog.get_by_role("button", name="Save channel").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(".flash-success")).to_contain_text(
        "Saved channel WEB: sells from SHELF_B → WAREHOUSE_A (was WAREHOUSE_A → SHELF_B).")
    expect(page.locator("#channels tbody tr", has_text="WEB")).to_contain_text(
        re.compile(r"SHELF_B\s*→\s*, then\s*WAREHOUSE_A"))
    _no_sideways_scroll(page, width_px)
    _shot(page, f"channels-{width}")

    # The towel order's hold, from its entry's page.
    page.goto(f"/inventory/entries/{shop.entries['towel']}")
    page.get_by_role("link", name=re.compile("^Move reservation")).click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("ORD-1001")
    where = dialog.get_by_label("Move to location")
    expect(where).to_be_focused()
    # BACKROOM has 1: too little for a hold of 4. The refusal stands at the field.
    where.select_option(label="BACKROOM — 1 available")
    page_problems.expect("status of 409")
    dialog.get_by_role("button", name="Move reservation").click()
    expect(dialog.locator("#location_id-error")).to_contain_text("available")
    expect(dialog.get_by_label("Move to location")).to_be_focused()
    expect(dialog.get_by_label("Move to location")).to_have_attribute("aria-invalid", "true")
    _shot(page, f"move-refused-{width}")
    dialog.get_by_label("Move to location").select_option(label="WAREHOUSE_A — 6 available")
    dialog.get_by_label("Reason (optional)").fill("Ships from the warehouse")
    dialog.get_by_role("button", name="Move reservation").click()

    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(".flash-success")).to_contain_text(
        f"Moved reservation {towels['hold']} (order ORD-1001) from SHELF_B to WAREHOUSE_A.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("WAREHOUSE_A")
    expect(page.locator(f"#reservation-{towels['hold']}")).to_contain_text("ORD-1001")
    expect(page).to_have_url(re.compile(r"/inventory/entries/\d+$"))
    _no_sideways_scroll(page, width_px)
    _shot(page, f"moved-{width}")


def test_without_javascript_a_reservation_moves_on_a_page_of_its_own(
    new_context: Callable[..., BrowserContext], shop, towels
) -> None:
    page: Page = new_context(java_script_enabled=False).new_page()
    page.goto("/sign-in")
    page.get_by_label("Email").fill(shop.owner)
    page.get_by_label("Password").fill(shop.password)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/inventory/entries/{shop.entries['towel']}")
    page.get_by_role("link", name=re.compile("^Move reservation")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Move reservation")
    page.get_by_label("Move to location").select_option(label="WAREHOUSE_A — 6 available")
    page.get_by_role("button", name="Move reservation").click()
    expect(page.locator(".flash-success")).to_contain_text("from SHELF_B to WAREHOUSE_A")
    expect(page.get_by_role("heading", level=1)).to_contain_text("WAREHOUSE_A")
