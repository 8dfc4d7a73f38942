"""Webhooks over the API: an owner adds one (its secret in that answer only), changes it,
turns it off and on, rotates its secret, reads its delivery log, sends a delivery again
with the same webhook-id and removes it; staff are refused, another store's are not found,
an inner address is refused naming the URL, and bad input changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models.webhooks import WebhookDelivery, WebhookEndpoint
from app.permissions import READ, WEBHOOKS
from app.services import webhooks
from app.services.people import tokens

from .helpers import ApiClient, assert_error

URL = "/api/v1/store/webhooks"
ADJUST = "/api/v1/store/inventory/adjust"
TARGET = "http://127.0.0.1:9/hooks"


def _count(model) -> int:
    db.session.rollback()
    count = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return count


def test_an_owner_manages_a_webhook_and_its_deliveries(api_as, world) -> None:
    owner = api_as("owner", world.a.store)
    made = owner.post(URL, {"url": TARGET, "description": "ERP",
                            "event_types": ["stock.changed", "stock.low"]})
    assert made.status_code == 201, made.get_json()
    hook = made.get_json()
    assert hook["secret"].startswith("whsec_")
    assert hook["event_types"] == ["stock.changed", "stock.low"]
    assert hook["enabled"] and hook["store_id"] == world.a.store.id
    listed = owner.get(URL).get_json()["items"]
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]
    one = f"{URL}/{hook['id']}"
    assert "secret" not in owner.get(one).get_json()

    changed = owner.put(one, {"url": TARGET + "/v2", "event_types": []}).get_json()
    assert changed["url"] == TARGET + "/v2" and changed["event_types"] == []
    assert owner.put(f"{one}/enabled", {"enabled": False}).get_json()["enabled"] is False
    assert owner.put(f"{one}/enabled", {"enabled": True}).get_json()["enabled"] is True
    rotated = owner.post(f"{one}/secret").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]

    owner.post(ADJUST, {"product_id": world.a.product.id, "location": "a_main",
                        "quantity": -1, "reason": "count"})
    assert webhooks.fan_out() == 1
    page = owner.get(f"{one}/deliveries").get_json()
    assert page["next_before"] is None
    [delivery] = page["deliveries"]
    assert delivery["status"] == "pending" and delivery["event_type"] == "stock.changed"
    assert delivery["event_id"].startswith(f"evt_{world.a.store.id}_")
    again = owner.post(f"{URL}/deliveries/{delivery['id']}/redeliver").get_json()
    assert again["event_id"] == delivery["event_id"] and again["status"] == "pending"

    gone = owner.delete(one)
    assert gone.status_code == 200 and gone.get_json()["id"] == hook["id"]
    assert owner.get(URL).get_json()["items"] == []
    assert _count(WebhookDelivery) == 0
    assert_error(owner.get(one), 404)


def test_refusals_change_nothing(api_as, world) -> None:
    owner = api_as("owner", world.a.store)
    for body, field in (
        ({"url": "http://10.0.0.1/hooks"}, "url"),
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/"}, "url"),
        ({}, "url"),
        ({"url": TARGET, "event_types": ["stock.nothing"]}, "event_types"),
        ({"url": TARGET, "event_types": "stock.low"}, "event_types"),
        ({"url": TARGET, "description": "x" * 201}, "description"),
    ):
        error = assert_error(owner.post(URL, body), 422)
        assert any(f.startswith(field) for f in error["fields"]), (body, error)
    assert _count(WebhookEndpoint) == 0

    staff = api_as("staff", world.a.store)
    assert_error(staff.get(URL), 403)
    assert_error(staff.post(URL, {"url": TARGET}), 403)
    assert _count(WebhookEndpoint) == 0

    hook = owner.post(URL, {"url": TARGET}).get_json()
    other = api_as("owner", world.b.store)
    assert_error(other.get(f"{URL}/{hook['id']}"), 404)
    assert_error(other.put(f"{URL}/{hook['id']}", {"url": TARGET}), 404)
    assert_error(other.delete(f"{URL}/{hook['id']}"), 404)
    assert_error(other.post(f"{URL}/{hook['id']}/secret"), 404)
    assert_error(other.post(f"{URL}/deliveries/999999/redeliver"), 404)
    missing = owner.get(URL, query_string={"store_id": world.b.store.id})
    assert "store_id" in assert_error(missing, 404)["fields"]
    assert_error(owner.get(f"{URL}/{hook['id']}/deliveries",
                           query_string={"before": "x"}), 422)
    assert owner.get(f"{URL}/{hook['id']}").get_json()["url"] == TARGET


def test_a_token_without_webhooks_manage_is_refused(app, api_as, world) -> None:
    owner = api_as("owner", world.a.store)

    def scoped(permissions: tuple[str, ...]) -> ApiClient:
        plaintext = tokens.create_token(user_id=owner.user.id, name="scoped",
                                        permissions=permissions)[1]
        return ApiClient(app.test_client(), plaintext, owner.user)

    reader = scoped((READ,))
    assert WEBHOOKS in assert_error(reader.get(URL), 403)["message"]
    assert_error(reader.post(URL, {"url": TARGET}), 403)
    assert _count(WebhookEndpoint) == 0
    manager = scoped((WEBHOOKS,))
    assert manager.post(URL, {"url": TARGET}).status_code == 201
