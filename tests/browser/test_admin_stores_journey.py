"""A platform admin runs the stores in Chromium: opens a store through the dialog (a bad
slug first), archives it with a second click, and renames a store from its own page; every
change lands without a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Store, User
from app.services.people.credentials import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect


@pytest.fixture
def platform_admin(shop) -> str:
    """A platform admin with no membership, in this test's copy of the database."""
    email = "ada@platform.test"
    db.session.add(User(email=email, name="Ada Admin", is_platform_admin=True,
                        password_hash=hash_password(shop.password)))
    db.session.commit()
    db.session.remove()
    return email


def stored(slug: str) -> Store | None:
    db.session.remove()
    store = db.session.scalar(select(Store).where(Store.slug == slug))
    db.session.remove()
    return store


def test_open_archive_and_rename_stores_without_a_reload(
    page: Page, shop, platform_admin: str, sign_in: Callable[..., None], page_problems
) -> None:
    sign_in(page, platform_admin)
    page.goto("/admin/stores")
    expect(page.get_by_role("heading", name="Stores", level=1)).to_be_visible()
    page.evaluate("window.__stockroomMark = 'same-document'")

    page.get_by_role("link", name="New store").first.click()
    dialog = page.locator("dialog[open]")
    expect(dialog.get_by_role("heading")).to_have_text("New store")
    expect(dialog.get_by_label("Name")).to_be_focused()
    dialog.get_by_label("Name").fill("Corner Shop")
    dialog.get_by_label("Slug").fill("Corner Shop")
    page_problems.expect("status of 422")  # the refused slug, answered in the dialog
    dialog.get_by_role("button", name="Create store").click()
    slug = dialog.get_by_label("Slug")
    expect(slug).to_have_attribute("aria-invalid", "true")
    expect(slug).to_be_focused()
    expect(dialog).to_contain_text("Use lowercase letters, digits and single hyphens.")
    expect(dialog.get_by_label("Name")).to_have_value("Corner Shop")
    slug.fill("corner-shop")
    dialog.get_by_role("button", name="Create store").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    status = page.get_by_role("status")
    expect(status).to_contain_text("Opened store Corner Shop (corner-shop).")
    new = stored("corner-shop")
    assert new is not None and new.archived_at is None
    expect(page.locator(f"#store-{new.id}")).to_contain_text("Corner Shop")

    page.get_by_role("link", name="Archive Corner Shop").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Nothing is deleted")
    assert stored("corner-shop").archived_at is None  # the first click only asks
    dialog.get_by_role("button", name="Archive store").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator("#archived-stores")).to_be_visible()
    expect(page.get_by_role("link", name="Unarchive Corner Shop")).to_be_visible()
    assert stored("corner-shop").archived_at is not None
    assert page.evaluate("window.__stockroomMark") == "same-document", "the page reloaded"

    page.get_by_role("link", name="Harbour Street", exact=True).click()
    expect(page.get_by_role("heading", name="Harbour Street", level=1)).to_be_visible()
    page.get_by_role("link", name="Rename").click()
    dialog = page.locator("dialog[open]")
    field = dialog.get_by_label("New name")
    expect(field).to_have_value("Harbour Street")
    field.fill("Harbour Street Market")
    dialog.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Harbour Street Market", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        "Renamed store Harbour Street → Harbour Street Market."
    )
    expect(page.locator("dialog[open]")).to_have_count(0)
