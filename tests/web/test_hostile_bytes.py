"""Bytes no person types, sent to the browser's forms and query strings on both databases:
each is refused with a 4xx that names the field, and nothing changes.

PostgreSQL refuses NUL in text outright, so a NUL that reaches a query there is a 500; the
boundary in app/web/boundary.py stops it (and every other control character and lone
surrogate) before any view runs.
"""

from __future__ import annotations

import io
import re

import pytest

from .helpers import HX, valid_form


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """These run on both databases: PostgreSQL is the one that fails on a NUL."""
    return str(request.param)


@pytest.mark.parametrize("email", ["\x00abc", "abc\x00", "a\x01b@example.test",
                                   "x\x7f@example.test", "x\x85@example.test"])
def test_sign_in_with_a_control_character_names_the_email(client, db_state, email):
    before = db_state()
    response = client.post("/sign-in", data={"email": email, "password": "whatever"})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    body = response.get_data(as_text=True)
    assert "email" in body
    assert "control characters" in body
    assert "Traceback" not in body
    assert db_state() == before


@pytest.mark.parametrize("path", ["/", "/inventory", "/catalog/products", "/catalog/locations",
                                  "/movements", "/reports/low-stock"])
def test_a_nul_in_the_query_string_names_the_parameter(login_as, make_store, path):
    store = make_store()
    client = login_as("owner", store)
    response = client.get(path, query_string={"q": "mug\x00"})
    assert response.status_code == 422, (path, response.get_data(as_text=True)[:300])
    assert "“q”" in response.get_data(as_text=True)


def test_a_nul_in_a_dialog_form_changes_nothing(login_as, scene, db_state):
    s = scene()
    client = login_as("owner", s.store)
    before = db_state()
    response = client.post(
        f"/inventory/entries/{s.entry.id}/adjust",
        data=valid_form("adjust", s, reason="found\x00"), headers=HX,
    )
    assert response.status_code == 422
    assert 'id="reason-error"' in response.get_data(as_text=True)
    assert "U+0000" in response.get_data(as_text=True)
    assert db_state() == before


def test_a_field_name_with_a_control_character_is_refused(login_as, scene, db_state):
    s = scene()
    client = login_as("owner", s.store)
    before = db_state()
    response = client.post(f"/inventory/entries/{s.entry.id}/adjust",
                           data={**valid_form("adjust", s), "x\x00": "1"})
    assert response.status_code == 422
    assert "U+0000" in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize("delta", ["1\u00a0", "\u20071", "\u30001", "1\u2003", "1\u0085"])
def test_number_fields_take_ascii_space_only(login_as, scene, db_state, delta):
    s = scene()
    client = login_as("owner", s.store)
    before = db_state()
    response = client.post(f"/inventory/entries/{s.entry.id}/adjust",
                           data=valid_form("adjust", s, delta=delta), headers=HX)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert db_state() == before


@pytest.mark.parametrize("delta", [" 1", "1 ", "\t1\t"])
def test_number_fields_still_take_ascii_space_around_digits(login_as, scene, read_entry, delta):
    s = scene(quantity=10, reserved=0)
    client = login_as("owner", s.store)
    response = client.post(f"/inventory/entries/{s.entry.id}/adjust",
                           data=valid_form("adjust", s, delta=delta), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, re.findall(r'class="field-error"[^<]*<?[^<]*', body)
    assert read_entry(s.entry.id).quantity == 11 + int(delta) - 1


@pytest.mark.parametrize("value", ["1\u00a0", "\u20071"])
def test_filters_take_ascii_space_only(login_as, make_store, value):
    client = login_as("owner", make_store())
    body = client.get("/inventory", query_string={"max_qty": value}).get_data(as_text=True)
    assert "Enter a whole number" in body


def test_a_huge_form_value_names_its_field(login_as, scene, db_state):
    s = scene()
    client = login_as("owner", s.store)
    before = db_state()
    response = client.post(f"/inventory/entries/{s.entry.id}/adjust",
                           data=valid_form("adjust", s, reason="é" * 100_000), headers=HX)
    assert response.status_code in (413, 422), response.status_code
    body = response.get_data(as_text=True)
    assert "“reason”" in body
    assert db_state() == before


def test_a_csv_cell_with_a_nul_is_a_row_error(login_as, scene, db_state):
    s = scene(sku="MUG-1", code="MAIN")
    client = login_as("owner", s.store)
    data = f"store,location,sku,quantity\n{s.store.slug},MAIN,MUG\x00-1,4\n".encode()
    before = db_state()
    response = client.post("/import/preview",
                           data={"file": (io.BytesIO(data), "stock.csv")},
                           content_type="multipart/form-data")
    assert response.status_code < 500
    assert "The sku is not a valid name" in response.get_data(as_text=True)
    assert db_state() == before


# A control character in a field the page shows no input for (hidden fields, checkboxes,
# the members table's row forms, the bulk selection): refused, and named where the page
# shows its errors, not as an anonymous 422 or an "expired session".


def test_a_control_character_in_a_hidden_field_is_named(client, login_as, db_state):
    response = client.post("/sign-in", data={"email": "a@example.test", "password": "x" * 12,
                                             "next": "/inventory\x00"})
    assert response.status_code == 422
    assert 'id="next-error"' in response.get_data(as_text=True)
    admin = login_as("platform_admin")
    before = db_state()
    for htmx in (False, True):
        response = admin.post("/admin/stores/new", headers=HX if htmx else {},
                              data={"name": "Zeta", "slug": "zeta", "next": "\x1b/admin"})
        assert response.status_code == 422
        assert 'id="next-error"' in response.get_data(as_text=True)
    assert db_state() == before


def test_a_control_character_in_a_checkbox_is_named(login_as, make_store, db_state):
    store = make_store()
    owner = login_as("owner", store)
    admin = login_as("platform_admin")
    before = db_state()
    response = owner.post(f"/catalog/products/new?store={store.id}", data={
        "sku": "NEW-1", "title": "New", "product_type": "physical", "reorder_point": "0",
        "reorder_quantity": "0", "allow_backorder": "y\x00"})
    assert response.status_code == 422
    assert 'id="allow_backorder-error"' in response.get_data(as_text=True)
    response = admin.post("/people/users", data={
        "email": "new@example.test", "name": "New", "password": "a-long-enough-password",
        "platform_admin": "\x7fy"})
    assert response.status_code == 422
    assert 'id="platform_admin-error"' in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize(("field", "value"), [("role", "admin\x00"), ("grants", "\x01x")])
def test_a_control_character_in_a_member_row_is_named_not_an_expired_session(
    login_as, make_store, make_user, db_state, field, value
):
    from app.extensions import db
    from app.models import Membership

    store = make_store()
    owner = login_as("owner", store)
    staff = make_user(role="staff", store=store)
    membership = db.session.query(Membership).filter_by(user_id=staff.id).one()
    before = db_state()
    response = owner.post(
        f"/people/stores/{store.id}/members/{membership.id}/{field}", data={field: value})
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:300]
    assert "session expired" not in body
    named = {"role": f'id="role-{membership.id}-error"',
             "grants": f'id="m{membership.id}-grants-error"'}[field]
    assert named in body
    assert db_state() == before


@pytest.mark.parametrize(("field", "value"), [("entry", "\x0b{id}"), ("step", "apply\x00"),
                                              ("scope", "\x85filter")])
def test_the_bulk_selection_refuses_control_characters(
    login_as, scene, db_state, field, value
):
    s = scene()
    client = login_as("owner", s.store)
    form = {"entry": str(s.entry.id), "step": "apply", "idempotency_key": "bulk-1",
            "delta": "3", "reason": "Found", field: value.format(id=s.entry.id)}
    before = db_state()
    response = client.post("/inventory/bulk/adjust", data=form, headers=HX)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert f"“{field}”" in response.get_data(as_text=True)
    assert db_state() == before
