"""Webhooks in Chromium: the owner adds one pointed at a local receiver (the secret shown
once), a stock change is delivered signed, the delivery shows in the log and goes again on
Redeliver; an inner address is refused beside the URL. At a 390-px phone and a 1400-px
desk, checked by axe-core."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask

from app.permissions import actor_for_user

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect
axe_module = pytest.importorskip(
    "axe_playwright_python.sync_playwright",
    reason="axe-playwright-python is not installed; pip install -e '.[test]'",
)
Webhook = pytest.importorskip("standardwebhooks.webhooks").Webhook

WIDTHS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1400, "height": 900}}


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stock", got
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_an_owner_adds_a_webhook_and_sees_a_signed_delivery(
    width: str, new_context: Callable[..., BrowserContext], sign_in, shop, app: Flask,
    receiver, page_problems,
) -> None:
    url, got = receiver
    page = new_context(viewport=WIDTHS[width]).new_page()
    sign_in(page, shop.owner)
    page.goto("/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()

    page_problems.expect("status of 422")
    page.get_by_label("URL").fill("https://169.254.169.254/latest")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator("#hook-url-error")).to_contain_text("public addresses")
    expect(page.get_by_label("URL")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("URL").fill(url)
    page.get_by_label("Description (optional)").fill("Local ERP")
    page.get_by_role("checkbox", name="Stock low").check()
    page.get_by_role("button", name="Add webhook").click()
    secret = page.get_by_role("textbox", name="Secret").input_value()
    assert secret.startswith("whsec_")
    results = axe_module.Axe().run(page)
    assert results.response["violations"] == [], results.generate_report()

    with app.app_context():
        from app.services import stock
        from app.tasks import send_webhooks

        owner = actor_for_user(_user_id(shop.owner))
        stock.adjust_stock(actor=owner, entry_id=shop.entries["mug_warehouse"], delta=-6,
                           reason="Breakage")
        assert send_webhooks(within_seconds=5) == 1
    headers, body = got[0]
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "stock.low" and event["data"]["sku"] == "MUG-BLU"

    page.get_by_role("link", name=url).click()
    row = page.locator(".hook-log tbody tr").first
    expect(row).to_contain_text(headers["webhook-id"])
    expect(row).to_contain_text("Delivered")
    results = axe_module.Axe().run(page)
    assert results.response["violations"] == [], results.generate_report()
    row.get_by_role("button", name=f"Redeliver {headers['webhook-id']}").click()
    expect(page.get_by_role("status")).to_contain_text("goes again with the next run")
    with app.app_context():
        from app.tasks import send_webhooks

        assert send_webhooks(within_seconds=5) == 1
    assert [h["webhook-id"] for h, _ in got] == [headers["webhook-id"]] * 2


def _user_id(email: str) -> int:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import User

    user_id = db.session.scalar(select(User.id).where(User.email == email))
    db.session.remove()
    return int(user_id)
