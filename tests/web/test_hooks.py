"""The Webhooks screens: an owner adds a webhook (its secret shown this once), sees its
deliveries and sends one again; a refused URL is named beside its field and saves nothing;
staff may not open them; the navigation shows them only to those who may."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import WebhookDelivery, WebhookEndpoint
from app.permissions import actor_for_user
from app.services import stock, webhooks

from .helpers import csrf_from_page


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    return scene(title="Blue Kettle", sku="KET-BLUE", code="aisle_3", quantity=10,
                 reserved=0, threshold=4)


def _count() -> int:
    db.session.rollback()
    n = db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0
    db.session.rollback()
    return n


def test_an_owner_adds_a_webhook_sees_its_deliveries_and_sends_one_again(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    page = client.get("/inventory").get_data(as_text=True)
    assert f'href="/webhooks?store={shop.store.id}"' in page or 'href="/webhooks"' in page
    page = client.get(f"/webhooks?store={shop.store.id}")
    assert page.status_code == 200
    token = csrf_from_page(page.get_data(as_text=True))

    refused = client.post(f"/webhooks?store={shop.store.id}", data={
        "csrf_token": token, "url": "https://169.254.169.254/latest", "description": "x"})
    assert refused.status_code == 422
    assert "events go only to public addresses" in refused.get_data(as_text=True)
    assert _count() == 0

    made = client.post(f"/webhooks?store={shop.store.id}", data={
        "csrf_token": token, "url": "http://127.0.0.1:9/hook", "description": "Local ERP",
        "event_types": ["stock.low", "stock.changed"]})
    assert made.status_code == 201
    body = made.get_data(as_text=True)
    assert 'id="hook-secret"' in body and "whsec_" in body
    db.session.rollback()  # a snapshot of before the request would not show it
    endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
    db.session.rollback()
    assert endpoint.secret not in client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)

    owner = actor_for_user(client.user.id)
    stock.adjust_stock(actor=owner, entry_id=shop.entry.id, delta=-7, reason="sold")
    db.session.rollback()
    webhooks.fan_out()
    webhooks.deliver_due(webhooks.Policy(allow_http_loopback=True, connect_timeout=0.2))
    detail = client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "stock.low" in detail and "Retrying" in detail
    delivery = db.session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)
                                  .limit(1)).scalar_one()
    db.session.rollback()
    again = client.post(f"/webhooks/{endpoint.id}/deliveries/{delivery.id}/redeliver",
                        data={"csrf_token": token})
    assert again.status_code == 303

    off = client.post(f"/webhooks/{endpoint.id}/disable", data={"csrf_token": token})
    assert off.status_code == 303
    assert "Turn on" in client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    rotated = client.post(f"/webhooks/{endpoint.id}/rotate", data={"csrf_token": token})
    assert rotated.status_code == 200 and "whsec_" in rotated.get_data(as_text=True)
    assert "Remove this webhook?" in client.get(
        f"/webhooks/{endpoint.id}/delete").get_data(as_text=True)
    gone = client.post(f"/webhooks/{endpoint.id}/delete", data={"csrf_token": token})
    assert gone.status_code == 303 and _count() == 0


def test_staff_may_not_open_webhooks_nor_see_them_in_the_menu(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store, grants=("inventory:adjust",))
    assert "/webhooks" not in client.get("/inventory").get_data(as_text=True)
    assert client.get(f"/webhooks?store={shop.store.id}").status_code == 403
    assert client.get("/webhooks").status_code == 403
    assert client.get("/webhooks/999").status_code == 404
