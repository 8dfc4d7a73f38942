"""What store staff do all day, end to end in Chromium: sign in, find stock, change it.

Every test starts from the `shop` fixture's store (see conftest.py) with CSRF protection on,
and fails if any page logs a console error or a CSP violation it did not announce.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from app.permissions import actor_for_user
from app.services import stock
from app.services.people.credentials import normalize_email

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page, Request

# Without playwright this module skips, saying why (conftest.py fails it in CI instead).
expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

OVERVIEW = re.compile(r"/inventory(\?.*)?$")
SIGN_IN = re.compile(r"/sign-in(\?.*)?$")


# --------------------------------------------------------------------------- helpers


def row(page: Page, entry_id: int) -> Locator:
    return page.locator(f"#entry-{entry_id}")


def cell(page: Page, entry_id: int, column: str) -> Locator:
    """The cell of an entry's row under the column headed `column` (e.g. "On hand")."""
    headers = page.locator("#results table.entries thead th")
    names = [text.strip() for text in headers.all_text_contents()]
    return row(page, entry_id).locator("td").nth(names.index(column))


def row_ids(page: Page) -> list[str]:
    return page.locator("#results tbody tr").evaluate_all("rows => rows.map(r => r.id)")


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def on_hand_card(page: Page) -> Locator:
    return page.locator("#stats .card").filter(has_text="On hand").locator(".card-value")


def flash(page: Page) -> Locator:
    return page.get_by_role("status").filter(has=page.locator(".flash"))


def mark_document(page: Page) -> None:
    """Tag the current document so a later check can tell it was not reloaded."""
    page.evaluate("window.__stockroomMark = 'same-document'")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__stockroomMark") == "same-document", "the page reloaded"


def open_dialog(page: Page, entry_id: int, action: str, sku: str, where: str) -> Locator:
    """Open a row's action dialog: the first action is a button, the others are in More
    (the page's menu for the row's store, opened under the row's button). The button and
    More are described by the row's product and location."""
    entry_row = row(page, entry_id)
    expect(entry_row.locator(".row-actions > a").first).to_have_accessible_description(
        re.compile(re.escape(where)))
    direct = entry_row.locator(".row-actions > a[data-dialog]").filter(
        has_text=re.compile(rf"^{re.escape(action)}$"))
    if direct.count():
        direct.click()
    else:
        entry_row.locator("a[data-more]").click()
        entry_row.locator(".row-menu").get_by_role("link", name=action, exact=True).click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    return dialog


# --------------------------------------------------------------------------- 1 sign in / out


def test_sign_in_with_a_wrong_then_right_password_and_sign_out(page: Page, shop, page_problems):
    page.goto("/inventory")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=(%2F|/)inventory$"))
    expect(flash(page)).to_have_text("Please sign in to continue.")

    assert page.get_by_label("Password").get_attribute("aria-invalid") is None
    page_problems.expect("status of 422")  # the refused sign-in answers 422, as it should
    page.get_by_label("Email").fill(shop.owner)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Email or password is not right.")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Email")).to_have_value(shop.owner)

    page.get_by_label("Password").fill(shop.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(OVERVIEW)
    expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()
    expect(page.locator(".who-email")).to_contain_text(normalize_email(shop.owner))
    expect(row(page, shop.entries["mug_warehouse"])).to_be_visible()

    # CSRF protection is on, as in production: a form post without the token is refused.
    refused = page.request.post("/sign-out", max_redirects=0)
    assert refused.status == 400
    page.reload()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(SIGN_IN)
    expect(flash(page)).to_have_text("You are signed out.")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    page.goto("/inventory")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=(%2F|/)inventory$"))
    expect(page.get_by_role("heading", name="Inventory")).to_have_count(0)


# --------------------------------------------------------------------------- 2 filter, search


def test_filter_search_history_sort_and_paging(
    page: Page, context: BrowserContext, shop, sign_in: Callable[..., None]
):
    sign_in(page, shop.owner)
    e = shop.entries
    everything = row_ids(page)
    assert len(everything) == 29  # all of them fit the default page of 50

    # A status filter narrows the table and lands in the URL.
    page.get_by_label("Status", exact=True).select_option(label="In stock")
    expect(page).to_have_url(re.compile(r"status=in_stock"))
    expect(row(page, e["teapot"])).to_have_count(0)
    in_stock = row_ids(page)
    assert f"entry-{e['mug_warehouse']}" in in_stock and f"entry-{e['towel']}" in in_stock
    assert f"entry-{e['mug_shelf']}" not in in_stock  # low stock
    assert f"entry-{e['vase']}" not in in_stock  # on backorder
    expect(page.get_by_role("link", name="Remove filter Status: In stock")).to_be_visible()

    # Search as you type, debounced: a few keystrokes, one request for the whole word.
    searches: list[str] = []

    def on_request(request: Request) -> None:
        if "q=" in request.url and request.headers.get("hx-request") == "true":
            searches.append(request.url)

    page.on("request", on_request)
    mark_document(page)
    page.locator("#q").press_sequentially("blue mug", delay=40)
    expect(page).to_have_url(re.compile(r"q=blue(\+|%20)mug"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(row(page, e["mug_warehouse"])).to_be_visible()
    assert query(page) == {"status": ["in_stock"], "q": ["blue mug"]}
    assert 1 <= len(searches) <= 4, f"8 keystrokes sent {len(searches)} requests: {searches}"
    assert_same_document(page)
    page.remove_listener("request", on_request)
    searched_url = page.url

    # Reload keeps the state: the server renders it back from the URL.
    page.reload()
    expect(page.locator("#q")).to_have_value("blue mug")
    expect(page.get_by_label("Status", exact=True)).to_have_value("in_stock")
    assert row_ids(page) == [f"entry-{e['mug_warehouse']}"]

    # Back shows the previous results, forward the searched ones again.
    page.go_back()
    expect(page).to_have_url(re.compile(r"status=in_stock$"))
    expect(page.locator("#results tbody tr")).to_have_count(len(in_stock))
    assert row_ids(page) == in_stock
    expect(page.locator("#q")).to_have_value("")
    expect(page.get_by_label("Status", exact=True)).to_have_value("in_stock")
    page.go_forward()
    expect(page).to_have_url(searched_url)
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#q")).to_have_value("blue mug")
    expect(page.get_by_label("Status", exact=True)).to_have_value("in_stock")

    # The same URL in a new page renders the whole page with the same rows.
    other = context.new_page()
    other.goto(searched_url)
    expect(other.get_by_role("heading", name="Inventory", level=1)).to_be_visible()
    expect(other.locator("#stats")).to_be_visible()
    expect(other.locator("#q")).to_have_value("blue mug")
    assert row_ids(other) == [f"entry-{e['mug_warehouse']}"]
    other.close()

    # Sorting by a column header: ascending, then descending on a second click.
    page.goto("/inventory?status=in_stock")
    page.locator("#results thead").get_by_role("link", name="On hand").click()
    header = page.locator("#results thead th", has_text="On hand")
    expect(header).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=quantity"))
    ascending = [int(v) for v in page.locator("#results tbody td:nth-child(3)").all_inner_texts()]
    assert ascending == sorted(ascending) and len(ascending) == len(in_stock)
    page.locator("#results thead").get_by_role("link", name="On hand").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    descending = [int(v) for v in page.locator("#results tbody td:nth-child(3)").all_inner_texts()]
    assert descending == sorted(ascending, reverse=True)
    assert query(page)["status"] == ["in_stock"]  # the filter survives sorting

    # Filtering after sorting keeps the sort.
    page.locator("#q").fill("spoon")
    expect(page).to_have_url(re.compile(r"q=spoon"))
    expect(page.locator("#results tbody tr")).to_have_count(24)
    assert query(page)["sort"] == ["quantity"] and query(page)["dir"] == ["desc"]
    expect(header).to_have_attribute("aria-sort", "descending")

    # Removing a filter's chip removes it from the form too: the next search stays without it.
    page.get_by_role("link", name="Remove filter Status: In stock").click()
    expect(page).to_have_url(re.compile(r"^(?!.*status=)"))
    expect(page.get_by_label("Status", exact=True)).to_have_value("")
    page.locator("#q").fill("mug")
    expect(page).to_have_url(re.compile(r"q=mug"))
    expect(page.locator("#results tbody tr")).to_have_count(2)  # in stock and low stock
    assert "status" not in query(page)

    # Paging with Next: 29 entries at 25 a page.
    page.goto("/inventory?per_page=25")
    first_page = row_ids(page)
    assert len(first_page) == 25
    expect(page.get_by_role("link", name="← Previous")).to_have_count(0)
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"cursor="))
    expect(page.locator("#results tbody tr")).to_have_count(4)
    second_page = row_ids(page)
    assert not set(first_page) & set(second_page)
    assert sorted(first_page + second_page) == sorted(everything)
    expect(page.get_by_role("link", name="Next →")).to_have_count(0)
    page.get_by_role("link", name="← Previous").click()
    expect(page.locator("#results tbody tr")).to_have_count(25)
    assert row_ids(page) == first_page


# --------------------------------------------------------------------------- 3 adjust


def test_adjust_stock_through_the_dialog(page: Page, shop, sign_in: Callable[..., None]):
    sign_in(page, shop.owner)
    entry_id = shop.entries["mug_warehouse"]
    before_total = int(on_hand_card(page).inner_text().replace(",", ""))
    expect(cell(page, entry_id, "On hand")).to_have_text("10")
    expect(cell(page, entry_id, "Available")).to_have_text("10")
    mark_document(page)
    url = page.url

    dialog = open_dialog(page, entry_id, "Adjust", "MUG-BLU", "WAREHOUSE_A")
    expect(dialog.get_by_role("heading")).to_have_text(
        "Adjust stock — Blue Mug (MUG-BLU) at WAREHOUSE_A"
    )
    change = dialog.get_by_label("Change (+ adds, − removes)")
    expect(change).to_be_focused()
    # Untouched fields carry no aria-invalid at all (any value but "false" reads as invalid).
    assert change.get_attribute("aria-invalid") is None
    assert change.get_attribute("aria-describedby") is None
    change.fill("+5")
    dialog.get_by_label("Reason", exact=True).fill("Delivery from supplier")
    dialog.get_by_role("button", name="Apply adjustment").click()

    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(cell(page, entry_id, "On hand")).to_have_text("15")
    expect(cell(page, entry_id, "Available")).to_have_text("15")
    expect(on_hand_card(page)).to_have_text(f"{before_total + 5:,}")
    expect(flash(page)).to_contain_text("on hand 10 → 15")
    expect(flash(page)).to_contain_text("Adjusted Blue Mug (MUG-BLU) at WAREHOUSE_A")
    assert_same_document(page)
    assert page.url == url
    # The swapped row still works: its Adjust opens the dialog with the new numbers.
    dialog = open_dialog(page, entry_id, "Adjust", "MUG-BLU", "WAREHOUSE_A")
    expect(dialog.locator(".quantities")).to_contain_text("15")


# --------------------------------------------------------------------------- 4 validation


def test_a_validation_error_keeps_the_dialog_open_and_esc_returns_focus(
    page: Page, shop, sign_in: Callable[..., None], page_problems
):
    sign_in(page, shop.owner)
    entry_id = shop.entries["towel"]
    page_problems.expect("status of 422")
    dialog = open_dialog(page, entry_id, "Adjust", "TWL-LIN", "SHELF_B")
    change = dialog.get_by_label("Change (+ adds, − removes)")
    change.fill("abc")
    dialog.get_by_label("Reason", exact=True).fill("Recount")
    dialog.get_by_role("button", name="Apply adjustment").click()

    expect(dialog.locator(".field-error")).to_have_text("Enter a whole number, like 12.")
    expect(dialog.get_by_role("alert")).to_contain_text("Check the highlighted field.")
    change = dialog.get_by_label("Change (+ adds, − removes)")
    expect(change).to_have_value("abc")
    expect(change).to_have_attribute("aria-invalid", "true")
    expect(change).to_have_attribute("aria-describedby", "delta-error")
    expect(change).to_be_focused()
    expect(dialog.get_by_label("Reason", exact=True)).to_have_value("Recount")
    expect(page.locator("dialog[open]")).to_have_count(1)
    expect(cell(page, entry_id, "On hand")).to_have_text("12")

    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    adjust = row(page, entry_id).get_by_role("link", name="Adjust", exact=True)
    expect(adjust).to_be_focused()
    expect(cell(page, entry_id, "On hand")).to_have_text("12")


# --------------------------------------------------------------------------- 5 stale set


def test_a_stale_set_shows_the_current_value_and_applies_on_retry(
    page: Page, app: Flask, shop, sign_in: Callable[..., None], page_problems
):
    sign_in(page, shop.owner)
    entry_id = shop.entries["mug_warehouse"]
    dialog = open_dialog(page, entry_id, "Set", "MUG-BLU", "WAREHOUSE_A")
    expect(dialog.locator(".quantities")).to_contain_text("10")
    dialog.get_by_label("New on hand").fill("20")

    # Meanwhile someone else receives 3 units.
    with app.app_context():
        owner_id = _user_id(shop.owner)
        stock.adjust_stock(
            actor=actor_for_user(owner_id), entry_id=entry_id, delta=3, reason="Meanwhile"
        )

    page_problems.expect("status of 409")
    dialog.get_by_role("button", name="Set quantity").click()
    problem = dialog.get_by_role("alert")
    expect(problem).to_contain_text("Stock changed since you loaded it: on hand is now 13")
    expect(dialog.locator(".quantities div", has_text="On hand")).to_contain_text("13")
    expect(dialog.get_by_label("New on hand")).to_have_value("20")
    expect(page.locator("dialog[open]")).to_have_count(1)

    dialog.get_by_role("button", name="Set quantity").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(cell(page, entry_id, "On hand")).to_have_text("20")
    expect(flash(page)).to_contain_text("on hand 13 → 20")


def _user_id(email: str) -> int:
    from app.extensions import db
    from app.models import User

    return db.session.scalars(db.select(User.id).where(User.email == email)).one()


# --------------------------------------------------------------------------- 6 permissions


def test_staff_see_only_the_actions_they_may_take(
    page: Page, new_context: Callable[..., BrowserContext], shop,
    sign_in: Callable[..., None], page_problems,
):
    entry_id = shop.entries["mug_warehouse"]

    # Read-only staff: no Adjust, no More menu, and the action URL itself answers 403.
    sign_in(page, shop.viewer)
    entry_row = row(page, entry_id)
    expect(entry_row).to_be_visible()
    expect(entry_row.get_by_role("link", name=re.compile("^Adjust"))).to_have_count(0)
    expect(entry_row.locator("a[data-more]")).to_have_count(0)
    expect(page.locator("#results .row-actions a")).to_have_count(0)
    page_problems.expect("status of 403")
    response = page.goto(f"/inventory/entries/{entry_id}/adjust")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("form[action$='/adjust']")).to_have_count(0)

    # Staff with inventory:adjust: Adjust and the other adjust-group actions, nothing more.
    clerk = new_context().new_page()
    sign_in(clerk, shop.clerk)
    entry_row = row(clerk, entry_id)
    expect(entry_row.get_by_role("link", name="Adjust", exact=True)).to_be_visible()
    entry_row.locator("a[data-more]").click()
    menu = entry_row.locator(".row-menu")
    expect(menu.get_by_role("link")).to_have_text(["Set", "Count", "Return", "Transfer"])
    page_problems.expect("status of 403")
    response = clerk.goto(f"/inventory/entries/{entry_id}/delete")
    assert response is not None and response.status == 403


# --------------------------------------------------------------------------- 7 no JavaScript


def test_without_javascript_an_action_is_a_page_that_redirects_back(
    new_context: Callable[..., BrowserContext], shop, sign_in: Callable[..., None]
):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, shop.owner)
    page.goto("/inventory?status=in_stock")
    entry_id = shop.entries["mug_warehouse"]
    expect(cell(page, entry_id, "On hand")).to_have_text("10")

    row(page, entry_id).get_by_role("link", name="Adjust", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/inventory/entries/{entry_id}/adjust$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Adjust stock — Blue Mug (MUG-BLU) at WAREHOUSE_A"
    )
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.get_by_label("Change (+ adds, − removes)").fill("-2")
    page.get_by_label("Reason", exact=True).fill("Broken in transit")
    page.get_by_role("button", name="Apply adjustment").click()

    expect(page).to_have_url(re.compile(r"/inventory\?status=in_stock$"))
    expect(flash(page)).to_contain_text("on hand 10 → 8")
    expect(cell(page, entry_id, "On hand")).to_have_text("8")

    # The Cancel link of the page goes back to where the user came from.
    row(page, entry_id).get_by_role("link", name="Adjust", exact=True).click()
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/inventory\?status=in_stock$"))


# --------------------------------------------------------------------------- 8 keyboard


def test_slash_focuses_the_search_box(page: Page, shop, sign_in: Callable[..., None]):
    sign_in(page, shop.owner)
    page.locator("body").click(position={"x": 5, "y": 5})
    expect(page.locator("#q")).not_to_be_focused()
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#q")).to_have_value("")
    # Inside a field "/" is just a character.
    page.keyboard.type("a/b")
    expect(page.locator("#q")).to_have_value("a/b")


def test_leaving_the_search_box_sends_no_second_request(
    page: Page, shop, sign_in: Callable[..., None]
):
    """The search asks as it is typed; leaving the box must not send the form again, or a
    chip clicked right after typing races that older request (and can lose to it)."""
    sign_in(page, shop.owner)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/inventory" in r.url
            and r.headers.get("hx-request") == "true" else None)
    page.locator("#q").fill("mug")
    expect(page).to_have_url(re.compile(r"q=mug"))
    expect(page.locator("#results tbody tr")).to_have_count(2)
    before = list(sent)

    page.locator("#q").blur()
    page.wait_for_timeout(600)  # longer than the search's 300 ms debounce

    assert sent == before, f"leaving the box sent {sent[len(before):]}"
