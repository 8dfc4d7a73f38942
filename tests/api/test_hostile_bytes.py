"""Bytes a JSON encoder lets through but no field can hold, sent to the API on both
databases: a 4xx naming the field, never a 500, nothing changed."""

from __future__ import annotations

import pytest

from .calls import CALLS, INV, MUTATIONS, call
from .helpers import assert_error


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases: PostgreSQL refuses a NUL outright, SQLite stores a surrogate's bytes."""
    return str(request.param)


@pytest.fixture
def owner(api_as, world):
    return api_as("owner", world.a.store)


BODY_CALLS = [c for c in CALLS if c.method in ("post", "put")]


@pytest.mark.parametrize("c", BODY_CALLS, ids=[c.name for c in BODY_CALLS])
def test_deeply_nested_json_is_400_naming_the_body(owner, scene, db_state, c):
    before = db_state()
    response = owner.client.post(
        c.url(scene), data="[" * 10_000, content_type="application/json",
        headers=owner.headers(),
    ) if c.method == "post" else owner.client.put(
        c.url(scene), data="[" * 10_000, content_type="application/json",
        headers=owner.headers(),
    )
    error = assert_error(response, 400, "bad_request")
    assert "body" in error["fields"]
    assert db_state() == before


def test_nesting_just_past_the_limit_is_400_too(owner, scene, db_state):
    before = db_state()
    body = {"entry_id": scene.a.entry.id, "quantity": 1, "reason": "x"}
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    body["extra"] = deep
    error = assert_error(owner.post(f"{INV}/adjust", body), 400, "bad_request")
    assert "deeper" in error["fields"]["body"]
    assert db_state() == before


# The text fields of each body; a lone surrogate or a NUL in any of them is refused.
TEXT_FIELDS = {
    "adjust": ["reason"], "return": ["reason"], "reserve": ["order_ref", "location"],
    "create": ["location"], "transfer": ["from_location", "to_location"],
    "set by code": ["location"], "count": ["location"], "fulfill": ["location"],
    "order return": ["reason"], "create supplier": ["name", "email", "notes"],
    "update purchase order": ["notes"], "cancel purchase order": ["reason"],
    "receive purchase order": ["reason"], "set supplier item": ["unit_cost", "supplier_sku"],
}


@pytest.mark.parametrize("bad", ["\ud800", "x\udfff", "\x00", "a\x00b", "\x1b[2J", "\x85"])
@pytest.mark.parametrize("name,field", [(n, f) for n, fs in TEXT_FIELDS.items() for f in fs])
def test_unreadable_text_is_422_naming_the_field(owner, scene, db_state, name, field, bad):
    c = next(c for c in MUTATIONS if c.name == name)
    body = {**c.body(scene), field: bad}
    before = db_state()
    error = assert_error(call(owner, c, scene, body=body), 422, "invalid")
    assert field in error["fields"], error
    assert db_state() == before


def test_an_unreadable_field_name_is_named(owner, scene, db_state):
    before = db_state()
    body = {"entry_id": scene.a.entry.id, "quantity": 1, "reason": "x", "a\x00": 1}
    error = assert_error(owner.post(f"{INV}/adjust", body), 422, "invalid")
    assert "a\\u0000" in error["fields"]
    assert db_state() == before


def test_a_nul_in_an_order_line_names_its_position(owner, scene, db_state):
    c = next(c for c in MUTATIONS if c.name == "order reserve")
    body = c.body(scene)
    body["lines"][0]["line_ref"] = "L\x00"
    before = db_state()
    error = assert_error(call(owner, c, scene, body=body), 422, "invalid")
    assert "lines[0].line_ref" in error["fields"]
    assert db_state() == before


@pytest.mark.parametrize("ref", ["ORD\x00", "\x01", "ORD%00"])
def test_a_nul_in_the_path_is_422(owner, scene, ref):
    response = owner.get(f"/api/v1/orders/{ref}?store_id={scene.a.store.id}")
    assert response.status_code in (404, 422), response.get_data(as_text=True)


def test_a_nul_in_the_idempotency_key_is_422(owner, scene, db_state):
    c = next(c for c in MUTATIONS if c.name == "adjust")
    before = db_state()
    error = assert_error(call(owner, c, scene, key="k\x00"), 422, "invalid")
    assert "Idempotency-Key" in error["fields"]
    assert db_state() == before


@pytest.mark.parametrize("name,field,value", [
    ("transfer", "from_location", "NOWHERE"),
    ("transfer", "to_location", "NOWHERE"),
    ("set by code", "location", "NOWHERE"),
    ("create", "location", "NOWHERE"),
    ("reserve", "product_id", 999_999),
    ("adjust", "entry_id", 999_999),
])
def test_a_value_that_names_nothing_is_404_naming_its_field(
    owner, scene, db_state, name, field, value
):
    c = next(c for c in MUTATIONS if c.name == name)
    body = {**c.body(scene), field: value}
    before = db_state()
    error = assert_error(call(owner, c, scene, body=body), 404, "not_found")
    assert field in error["fields"], error
    assert db_state() == before


def test_another_stores_location_is_404_naming_the_field(owner, scene, db_state):
    c = next(c for c in MUTATIONS if c.name == "transfer")
    body = {**c.body(scene), "to_location": "B_MAIN"}
    before = db_state()
    error = assert_error(call(owner, c, scene, body=body), 404, "not_found")
    assert "to_location" in error["fields"]
    assert db_state() == before


def test_an_unknown_order_line_product_is_404_naming_the_line(owner, scene, db_state):
    c = next(c for c in MUTATIONS if c.name == "order reserve")
    body = c.body(scene)
    body["lines"][0]["product_id"] = scene.b.product.id
    before = db_state()
    error = assert_error(call(owner, c, scene, body=body), 404, "not_found")
    assert "lines[0].product_id" in error["fields"], error
    assert db_state() == before


@pytest.mark.parametrize("query", ["store_id={b_store}", "location_id={b_location}",
                                   "store_id=999999", "location_id=999999"])
def test_a_list_filter_naming_another_stores_id_is_404_naming_it(owner, scene, db_state, query):
    """The README's rule: a filter on a store or location you cannot see answers 404, like
    one that does not exist; never an empty page that a typo would also give."""
    query = query.format(b_store=scene.b.store.id, b_location=scene.b.location.id)
    error = assert_error(owner.get(f"{INV}?{query}"), 404, "not_found")
    assert query.split("=")[0] in error["fields"], error


def test_the_admin_lists_hold_a_missing_store_to_the_same_rule(api_as, scene):
    admin = api_as("platform_admin")
    for url in ("/api/v1/admin/inventory?store_id=999999",
                "/api/v1/admin/inventory/stats?store_id=999999",
                "/api/v1/admin/inventory/low-stock?store_id=999999",
                "/api/v1/admin/inventory/locations?store_id=999999",
                "/api/v1/admin/inventory?location_id=999999"):
        error = assert_error(admin.get(url), 404, "not_found")
        assert set(error["fields"]) & {"store_id", "location_id"}, (url, error)
