"""Every mutating endpoint takes an Idempotency-Key: a repeat returns the stored first
response and changes nothing; the same key with another payload is refused with 422."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import frozen_at, utcnow

from .calls import MUTATIONS, Call, call
from .helpers import assert_error

# Bodies that accept a reason get another one; the others change a number or the target.
OTHER_REASON = {"set", "set by code", "adjust", "count", "return", "transfer", "reserve",
                "release", "fulfill", "create", "order release", "order fulfill",
                "order return", "move reservation", "cancel purchase order",
                "receive purchase order"}
# The purchasing changes: another value of one field, or another object in the path.
OTHER_FIELD = {"create supplier": ("name", "Bolts Ltd"), "update supplier": ("name", "Acme Co"),
               "set supplier item": ("unit_cost", "2.30"),
               "create purchase order": ("notes", "Another note"),
               "update purchase order": ("notes", "Another note"),
               "update purchase order line": ("quantity", 7),
               "place purchase order": ("expected_version", 9)}


def variant(c: Call, scene: Any) -> dict[str, Any]:
    """The same call with another payload."""
    body = c.body(scene)
    if c.name in OTHER_REASON:
        return {"body": {**body, "reason": "Another reason"}}
    if c.name == "threshold":
        return {"body": {"low_stock_threshold": 5}}
    if c.name in ("order reserve", "order reserve on a channel"):
        return {"body": {**body, "lines": [{**body["lines"][0], "quantity": 2}]}}
    if c.name == "delete":
        return {"url": f"/api/v1/store/inventory/{scene.a.entry.id}"}
    if c.name in ("create item", "create item with skus", "update item"):
        return {"body": {**body, "title": "Another title"}}
    if c.name == "add option value":
        return {"body": {**body, "value": "XL"}}
    if c.name in ("archive item", "unarchive item"):
        return {"url": c.url(scene).replace(f"/{scene.parka.id}/", f"/{scene.a.item.id}/")
                .replace(f"/{scene.shelved.id}/", f"/{scene.a.item.id}/")}
    if c.name == "set components":
        return {"body": {"components": [{**body["components"][0], "quantity": 3}]}}
    if c.name in OTHER_FIELD:
        field, value = OTHER_FIELD[c.name]
        return {"body": {**body, field: value}}
    if c.name == "add purchase order lines":
        return {"body": {"lines": [{**body["lines"][0], "quantity": 9}]}}
    if c.name in ("archive supplier", "unarchive supplier"):
        return {"url": c.url(scene).replace(f"/{scene.idle_supplier.id}/",
                                            f"/{scene.supplier.id}/")
                .replace(f"/{scene.gone_supplier.id}/", f"/{scene.supplier.id}/")}
    if c.name == "remove supplier item":
        return {"url": c.url(scene).rsplit("/", 1)[0] + f"/{scene.kit.id}"}
    if c.name == "remove purchase order line":
        return {"url": c.url(scene).rsplit("/", 1)[0] + f"/{scene.placed_line.id}"}
    raise AssertionError(f"no variant for {c.name}")


@pytest.mark.parametrize("c", MUTATIONS, ids=[c.name for c in MUTATIONS])
def test_a_repeat_replays_the_first_response(c, scene, api_as, db_state):
    client = api_as("owner", scene.a.store)
    first = call(client, c, scene, key=f"key-{c.name}")
    assert 200 <= first.status_code < 300, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    before = db_state()
    second = call(client, c, scene, key=f"key-{c.name}")
    assert second.status_code == first.status_code
    assert second.get_data() == first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert db_state() == before


@pytest.mark.parametrize("c", MUTATIONS, ids=[c.name for c in MUTATIONS])
def test_the_same_key_with_another_payload_is_422(c, scene, api_as, db_state):
    client = api_as("owner", scene.a.store)
    call(client, c, scene, key="shared-key")
    before = db_state()
    response = call(client, c, scene, key="shared-key", **variant(c, scene))
    error = assert_error(response, 422, "idempotency_key_reused")
    assert error["fields"] == {"Idempotency-Key": "already used for a different request"}
    assert db_state() == before


def test_keys_belong_to_their_user(scene, api_as, read_entry):
    body = {"entry_id": scene.a.entry.id, "quantity": 1, "reason": "Found one"}
    one, two = api_as("owner", scene.a.store), api_as("owner", scene.a.store)
    one.post("/api/v1/store/inventory/adjust", body, key="k")
    second = two.post("/api/v1/store/inventory/adjust", body, key="k")
    assert "Idempotent-Replayed" not in second.headers
    assert read_entry(scene.a.entry.id).quantity == 11


def test_a_refused_request_keeps_no_key(scene, api_as, read_entry):
    """A request that failed changed nothing, so its key stays free for the retry."""
    client = api_as("owner", scene.a.store)
    body = {"entry_id": scene.a.entry.id, "quantity": -50, "reason": "Shrinkage"}
    assert_error(client.post("/api/v1/store/inventory/adjust", body, key="retry-me"), 409)
    retry = client.post("/api/v1/store/inventory/adjust", {**body, "quantity": -5}, key="retry-me")
    assert retry.status_code == 200
    assert read_entry(scene.a.entry.id).quantity == 4


@pytest.mark.parametrize("key", ["", " ", "x" * 201, "bad\tkey"])
def test_malformed_keys_are_422(scene, api_as, key, db_state):
    client = api_as("owner", scene.a.store)
    before = db_state()
    response = client.post("/api/v1/store/inventory/adjust",
                           {"entry_id": scene.a.entry.id, "quantity": 1, "reason": "x"}, key=key)
    assert "Idempotency-Key" in assert_error(response, 422, "invalid")["fields"]
    assert db_state() == before


def test_a_keyed_reserve_retried_after_its_expiry_replays(scene, api_as, db_state):
    """The stored first response answers before the expiry is checked again: a client
    retrying a lost reply after the hold lapsed gets that reply, not a 422."""
    client = api_as("owner", scene.a.store)
    start = utcnow()
    body = {"entry_id": scene.a.entry.id, "quantity": 1, "order_ref": "ORD-LATE",
            "expires_at": (start + timedelta(minutes=15)).isoformat() + "Z"}
    with frozen_at(start):
        first = client.post("/api/v1/store/inventory/reserve", body, key="late-retry")
    assert first.status_code == 200, first.get_json()
    before = db_state()
    with frozen_at(start + timedelta(minutes=30)):
        again = client.post("/api/v1/store/inventory/reserve", body, key="late-retry")
        fresh = client.post("/api/v1/store/inventory/reserve", body, key="late-new")
    assert again.status_code == 200, again.get_json()
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert assert_error(fresh, 422)["fields"] == {"expires_at": "Must be in the future."}
    assert db_state() == before
