"""An owner answers "who changed this?": opens Activity, narrows it to threshold changes,
pages through them and exports them, on a 390-px phone and a 1400-px desk."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from app.database import write_transaction
from app.extensions import db
from app.models import AuditEvent, User
from app.permissions import Actor
from app.services import audit

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = {
    390: {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    1400: {"viewport": {"width": 1400, "height": 900}},
}


@pytest.fixture
def more_thresholds(shop) -> int:
    """60 threshold changes by the clerk on top of the seeded three rows: two pages."""
    clerk = db.session.scalar(select(User).where(User.email == shop.clerk))
    actor = Actor(name=clerk.email, user_id=clerk.id)
    entry_id = shop.entries["mug_warehouse"]
    with write_transaction() as session:
        audit.record_many(session, actor, [
            audit.Change("entry.threshold_set", "entry", entry_id, "MUG-BLU at WAREHOUSE_A",
                         shop.store_id, None, {"low_stock_threshold": (n, n + 1)})
            for n in range(60)
        ])
    db.session.remove()
    return 60


@pytest.mark.parametrize("width", WIDTHS)
def test_an_owner_filters_pages_and_exports_the_activity(
    width: int, new_context: Callable[..., BrowserContext], sign_in, shop, more_thresholds: int,
) -> None:
    page: Page = new_context(accept_downloads=True, **WIDTHS[width]).new_page()
    sign_in(page, shop.owner)
    if width == 390:
        page.locator("summary", has_text="Menu").click()
    page.get_by_role("link", name="Activity", exact=True).click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    # The seed's own verbs recorded their changes too (its stores, entries, members).
    total = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.store_id == shop.store_id)
    )
    db.session.remove()
    expect(page.locator(".results .count")).to_have_text(f"{total:,} changes")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("MUG-BLU at WAREHOUSE_A")

    page.get_by_label("What").select_option("entry.threshold_set")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?kind=entry.threshold_set")
    expect(page.locator(".results .count")).to_have_text("61 changes")
    expect(page.get_by_role("link", name="Remove filter What: Threshold set")).to_be_visible()
    expect(rows.first).to_contain_text("Threshold set")
    expect(rows.first).to_contain_text("Low-stock threshold: 59 → 60")

    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(11)
    expect(rows.last).to_contain_text("Low-stock threshold: 2 → 5")
    page.get_by_role("link", name="← Newer").click()
    expect(rows).to_have_count(50)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    with open(path, encoding="utf-8-sig") as exported:
        lines = list(csv.reader(io.StringIO(exported.read())))
    assert len(lines) == 1 + 61
    assert {line[2] for line in lines[1:]} == {"Threshold set"}

    head = page.locator("table.activity thead")
    if width == 390:
        # Rows are cards on a phone: nothing scrolls sideways, the header row is hidden.
        expect(head).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = rows.first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    else:
        expect(head).to_be_visible()
