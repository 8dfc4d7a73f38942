"""The database goes away while someone works: the dialog they submit and the list they
search show the app's own message in place, the address bar keeps the page they are on,
and once the database is back the same page works again, not reloaded.

The SQLite file's folder moves away (a disk unmounted); the pool is emptied first, since
connections already open would keep the old file open.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from outages import Outage

from app.extensions import db

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

UNREACHABLE = "cannot reach its database"


def test_an_outage_shows_the_apps_message_in_the_dialog_and_the_page(
    page: Page, app: Flask, live_server, shop, sign_in: Callable[..., None], page_problems
) -> None:
    outage = Outage(app.config["SQLALCHEMY_DATABASE_URI"])
    sign_in(page, shop.owner)
    page.evaluate("window.__stockroomMark = 'same-document'")
    url = page.url
    entry_row = page.locator(f"#entry-{shop.entries['mug_warehouse']}")
    entry_row.get_by_role("link", name="Adjust", exact=True).click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Change (+ adds, − removes)").fill("+5")
    dialog.get_by_label("Reason", exact=True).fill("Delivery")

    for _failed_request in ("adjust", "search"):  # the network log and htmx's own
        page_problems.expect("status of 503")
        page_problems.expect("Response Status Error Code 503")
    db.engine.dispose()
    outage.begin()
    try:
        dialog.get_by_role("button", name="Apply adjustment").click()
        expect(dialog.get_by_role("heading", name="Temporarily unavailable")).to_be_visible()
        expect(dialog).to_contain_text(UNREACHABLE)
        dialog.get_by_role("button", name="Close").click()
        expect(page.locator("dialog[open]")).to_have_count(0)

        page.locator("#filters [data-search]").fill("spoon")
        flashes = page.locator("#flashes")
        expect(flashes).to_contain_text(UNREACHABLE)
        expect(flashes.locator("code")).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
        assert page.url == url  # the failed search was not pushed into the history
    finally:
        outage.end()

    page.locator("#filters [data-search]").fill("spoo")
    expect(page.locator("#results tbody tr").first).to_contain_text("Spoon")
    assert page.evaluate("window.__stockroomMark") == "same-document"
