"""The bell and the alert settings: an owner's bell counts the crossings of their store
until they mark them read; staff opt in on the account page; a bad choice is named beside
its store and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import AlertSubscription
from app.permissions import actor_for_user
from app.services import alerts, stock

from .helpers import csrf_from_page


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    return scene(title="Blue Kettle", sku="KET-BLUE", code="aisle_3", quantity=10,
                 reserved=0, threshold=4)


def _bell(client: FlaskClient) -> str:
    body = client.get("/inventory").get_data(as_text=True)
    return body.split('class="bell', 1)[1].split("</a>", 1)[0]


def test_the_bell_counts_an_owners_crossings_until_they_are_read(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    alerts.ensure_owner_subscriptions()
    assert "bell-count" not in _bell(client)
    owner = actor_for_user(client.user.id)
    stock.adjust_stock(actor=owner, entry_id=shop.entry.id, delta=-7, reason="sold")  # low
    stock.adjust_stock(actor=owner, entry_id=shop.entry.id, delta=-3, reason="sold")  # out
    db.session.rollback()

    bell = _bell(client)
    assert '<span class="bell-count">2</span>' in bell and "unread" in bell
    page = client.get("/account/alerts")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert body.count('<li class="unread">') == 2
    assert "KET-BLUE" in body and "Out of stock" in body and "Low stock" in body
    assert f'href="/inventory/entries/{shop.entry.id}"' in body

    token = csrf_from_page(body)
    done = client.post("/account/alerts/read", data={"csrf_token": token})
    assert done.status_code == 303
    assert "bell-count" not in _bell(client)
    assert 'class="unread"' not in client.get("/account/alerts").get_data(as_text=True)


def test_staff_opt_in_on_the_account_page_and_a_bad_choice_changes_nothing(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert 'id="alerts"' in page and f'name="mode-{shop.store.id}"' in page
    token = csrf_from_page(page)

    bad = client.post("/account/alerts/settings",
                      data={"csrf_token": token, f"mode-{shop.store.id}": "hourly"})
    assert bad.status_code == 422
    assert "Choose each alert as it happens" in bad.get_data(as_text=True)
    foreign = client.post("/account/alerts/settings",
                          data={"csrf_token": token, "mode-99999": "digest",
                                "mode-x\x00": "digest"})
    assert foreign.status_code in (400, 422)
    db.session.rollback()
    assert db.session.query(AlertSubscription).count() == 0

    saved = client.post("/account/alerts/settings",
                        data={"csrf_token": token, f"mode-{shop.store.id}": "digest"})
    assert saved.status_code == 303
    db.session.rollback()
    (sub,) = db.session.query(AlertSubscription).all()
    assert (sub.user_id, sub.store_id, sub.mode) == (client.user.id, shop.store.id, "digest")
    page = client.get("/account/tokens").get_data(as_text=True)
    assert '<option value="digest" selected>' in page


def test_someone_who_hears_of_no_store_is_told_so(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store)
    body = client.get("/account/alerts").get_data(as_text=True)
    assert "You hear about none of your stores." in body
    assert "No alerts yet." in body
