"""Tokens expire and may carry a scope: some stores, some permissions, not as platform admin.
A token never grants more than its user holds at the time of the request; an expired token
is 401 saying when, a permission outside the scope 403 naming it, a store outside it 404.
Tokens made before scopes existed (NULL columns) keep working with all their user's
permissions. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

from app.clock import frozen_at, utcnow
from app.extensions import db
from app.models import ApiToken, Item, Membership, Store
from app.permissions import ADJUST, AUDIT, CATALOG, READ, RESERVE
from app.services.errors import ValidationError
from app.services.people import tokens

from .helpers import ApiClient, assert_error

ADJUST_URL = "/api/v1/store/inventory/adjust"
RESERVE_URL = "/api/v1/store/inventory/reserve"
PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Unlike the rest of the API tier, token scopes run on both databases."""
    return str(request.param)


def client_with(app, user, **scope) -> ApiClient:
    _, plaintext = tokens.create_token(user_id=user.id, name="scoped", **scope)
    return ApiClient(app.test_client(), plaintext, user)


def entry_url(world_store) -> str:
    return f"/api/v1/store/inventory/{world_store.entry.id}"


def adjust(client, entry, quantity=1):
    return client.post(ADJUST_URL, {"entry_id": entry.id, "quantity": quantity,
                                    "reason": "scope test"})


# --------------------------------------------------------------------------- creating


def test_a_token_expires_in_90_days_unless_a_date_or_never_is_chosen(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    now = datetime(2026, 12, 5, 9, 30)
    with frozen_at(now):
        default, _ = tokens.create_token(user_id=user.id, name="default")
        never, _ = tokens.create_token(user_id=user.id, name="never",
                                       expires_at=tokens.Expiry.NEVER)
        dated, _ = tokens.create_token(user_id=user.id, name="dated",
                                       expires_at=datetime(2027, 1, 31))
        for bad in (None, now, now - timedelta(days=1), "2027-01-01", 90,
                    datetime(2027, 1, 1).astimezone()):
            with pytest.raises(ValidationError) as refused:
                tokens.create_token(user_id=user.id, name="bad", expires_at=bad)
            assert set(refused.value.fields) == {"expires_at"}, bad
    assert default.expires_at == datetime(2027, 3, 5, 9, 30)
    assert never.expires_at is None and dated.expires_at == datetime(2027, 1, 31)
    db.session.rollback()
    assert [(t.name, t.expires_at) for t in tokens.user_tokens(user.id)] == [
        ("dated", datetime(2027, 1, 31)), ("never", None),
        ("default", datetime(2027, 3, 5, 9, 30))]


def test_a_scope_is_checked_and_stored(app, make_user, make_store, world):
    user = make_user(role="staff", store=world.a.store, grants=(ADJUST,))
    view, _ = tokens.create_token(user_id=user.id, name="scoped",
                                  store_ids=[world.a.store.id],
                                  permissions={RESERVE, READ, READ})
    assert view.store_ids == (world.a.store.id,) and view.store_names == ("Alpha",)
    assert view.permissions == (READ, RESERVE) and view.platform_admin
    row = db.session.get(ApiToken, view.id)
    assert (row.store_ids, row.permissions, row.platform_admin) == (
        [world.a.store.id], [READ, RESERVE], None)
    unlimited, _ = tokens.create_token(user_id=user.id, name="all")
    db.session.rollback()
    # NULL, not a JSON null: the columns say "not limited" in SQL too.
    assert db.session.scalar(select(ApiToken.id).where(
        ApiToken.store_ids.is_(None), ApiToken.permissions.is_(None),
        ApiToken.platform_admin.is_(None))) == unlimited.id

    archived = make_store("Gone")
    archived.archived_at = utcnow()
    db.session.add(Membership(user_id=user.id, store_id=archived.id, role="owner"))
    db.session.commit()
    for scope, field in (
        ({"store_ids": [world.b.store.id]}, "store_ids"),   # another store's id
        ({"store_ids": [archived.id]}, "store_ids"),
        ({"store_ids": [2**31]}, "store_ids"),
        ({"store_ids": ["1"]}, "store_ids"),
        ({"store_ids": [True]}, "store_ids"),
        ({"store_ids": []}, "store_ids"),
        ({"store_ids": "1"}, "store_ids"),
        ({"permissions": ["inventory:everything"]}, "permissions"),
        ({"permissions": []}, "permissions"),
        ({"permissions": "inventory:read"}, "permissions"),
        ({"permissions": [None]}, "permissions"),
        ({"platform_admin": None}, "platform_admin"),
    ):
        with pytest.raises(ValidationError) as refused:
            tokens.create_token(user_id=user.id, name="bad", **scope)
        assert set(refused.value.fields) == {field}, scope
        db.session.rollback()
    assert len(tokens.user_tokens(user.id)) == 2


# --------------------------------------------------------------------------- using


def test_an_expired_token_is_401_saying_when(app, make_user, world, db_state):
    user = make_user(role="owner", store=world.a.store)
    client = client_with(app, user, expires_at=datetime(2027, 2, 1))
    with frozen_at(datetime(2027, 1, 31, 23, 59)):
        assert client.get("/api/v1/me").get_json()["token_expires_at"] == "2027-02-01T00:00:00Z"
    db.session.rollback()
    used = tokens.user_tokens(user.id)[0].last_used_at
    before = db_state()
    with frozen_at(datetime(2027, 2, 1)):
        for response in (client.get("/api/v1/me"), adjust(client, world.a.entry)):
            error = assert_error(response, 401, "token_expired")
            assert error["message"].startswith(
                "This API token expired on 2027-02-01 00:00 UTC; create a new one")
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockroom"'
        db.session.rollback()
        [view] = tokens.user_tokens(user.id)
        assert view.expired and not view.active and view.last_used_at == used
    assert db_state() == before


def test_a_store_outside_the_scope_is_not_found(app, make_user, world, db_state):
    user = make_user(role="owner", store=world.a.store)
    db.session.add(Membership(user_id=user.id, store_id=world.b.store.id, role="owner"))
    db.session.commit()
    client = client_with(app, user, store_ids=[world.a.store.id])
    me = client.get("/api/v1/me").get_json()
    assert [s["store_id"] for s in me["stores"]] == [world.a.store.id]
    listing = client.get("/api/v1/store/inventory").get_json()
    assert {row["store_id"] for row in listing["items"]} == {world.a.store.id}
    assert client.get(entry_url(world.a)).status_code == 200
    before = db_state()
    assert_error(client.get(entry_url(world.b)), 404, "not_found")
    assert_error(adjust(client, world.b.entry), 404, "not_found")
    # Filtering by it answers as for any store the user cannot see: 404 naming the filter.
    filtered = client.get(f"/api/v1/store/inventory?store_id={world.b.store.id}")
    assert "store_id" in assert_error(filtered, 404, "not_found")["fields"]
    assert db_state() == before
    # The same user's unlimited token reaches both stores.
    assert client_with(app, user).get(entry_url(world.b)).status_code == 200


def test_a_read_only_token_is_refused_a_change_naming_the_permission(
    app, make_user, world, db_state, read_entry
):
    user = make_user(role="owner", store=world.a.store)
    client = client_with(app, user, permissions=[READ])
    assert client.get(entry_url(world.a)).status_code == 200
    before = db_state()
    error = assert_error(adjust(client, world.a.entry), 403, "forbidden")
    assert "This API token lacks inventory:adjust" in error["message"]
    assert "limited to inventory:read" in error["message"]
    assert_error(client.put(entry_url(world.a), {"low_stock_threshold": 3}), 403)
    assert_error(client.delete(entry_url(world.a)), 403)
    assert db_state() == before
    assert read_entry(world.a.entry.id).quantity == 10


def test_catalog_changes_need_catalog_manage_in_the_tokens_scope(
    app, make_user, world, db_state
):
    """The catalog's changes take the token's scope as the stock changes do: a permission
    outside it is 403 naming it, a store outside it is not found, nothing changes."""
    user = make_user(role="owner", store=world.a.store)
    reader = client_with(app, user, permissions=[READ])
    elsewhere = client_with(app, make_user(role="owner", store=world.b.store))
    items_url = "/api/v1/store/items"
    calls = [
        ("post", items_url, {"store_id": world.a.store.id, "title": "Parka",
                             "sku_prefix": "PRK"}),
        ("patch", f"{items_url}/{world.a.item.id}", {"title": "Renamed"}),
        ("post", f"{items_url}/{world.a.item.id}/option-values",
         {"option": "Size", "value": "L"}),
        ("post", f"{items_url}/{world.a.item.id}/archive", None),
        ("put", f"/api/v1/store/products/{world.a.product.id}/components",
         {"components": []}),
    ]
    names = db.session.scalars(select(Item.title).order_by(Item.id)).all()
    db.session.rollback()
    before = db_state()
    for method, url, body in calls:
        error = assert_error(getattr(reader, method)(url, body), 403, "forbidden")
        assert "This API token lacks catalog:manage" in error["message"], url
        assert_error(getattr(elsewhere, method)(url, body), 404, "not_found")
    assert db_state() == before
    assert db.session.scalars(select(Item.title).order_by(Item.id)).all() == names
    # With the permission in scope the same token's user may.
    full = client_with(app, user, permissions=[READ, CATALOG])
    assert full.patch(calls[1][1], calls[1][2]).status_code == 200


def test_a_scoped_token_does_not_replay_what_another_token_did(
    app, make_user, world, db_state
):
    """Idempotency keys are kept per scope: a read-only token repeating a full token's
    request with its key is checked (403), not answered with the stored success."""
    user = make_user(role="owner", store=world.a.store)
    full, reader = client_with(app, user), client_with(app, user, permissions=[READ])
    body = {"entry_id": world.a.entry.id, "quantity": 2, "reason": "scope test"}
    assert full.post(ADJUST_URL, body, key="K-1").status_code == 200
    before = db_state()
    assert_error(reader.post(ADJUST_URL, body, key="K-1"), 403, "forbidden")
    # The same scope replays as always.
    again = client_with(app, user)
    assert again.post(ADJUST_URL, body, key="K-1").status_code == 200
    assert db_state() == before


def test_a_permission_subset_allows_exactly_those(app, make_user, world, db_state):
    user = make_user(role="admin", store=world.a.store)
    client = client_with(app, user, permissions=[READ, RESERVE])
    reserved = client.post(RESERVE_URL, {"entry_id": world.a.entry.id, "quantity": 1,
                                         "order_ref": "ORDER-1"})
    assert reserved.status_code == 200, reserved.get_json()
    me = client.get("/api/v1/me").get_json()
    assert me["stores"] == [{"store_id": world.a.store.id, "permissions": [READ, RESERVE]}]
    before = db_state()
    assert "lacks inventory:adjust" in assert_error(adjust(client, world.a.entry), 403)[
        "message"]
    assert db_state() == before
    # Every token reads: a token that could change an entry but not read it would meet
    # "not found" on its own entries.
    auditor = client_with(app, user, permissions=[AUDIT])
    assert auditor.get(entry_url(world.a)).status_code == 200
    assert tokens.user_tokens(user.id)[0].permissions == (AUDIT, READ)


def test_a_token_never_exceeds_what_its_user_holds_now(app, make_user, world, db_state):
    user = make_user(role="owner", store=world.a.store)
    client = client_with(app, user, permissions=[READ, ADJUST])
    assert adjust(client, world.a.entry).status_code == 200
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    membership.role, membership.grants = "staff", []
    db.session.commit()
    before = db_state()
    error = assert_error(adjust(client, world.a.entry), 403, "forbidden")
    # The user lacks it now, not the token: the answer says so as for any user.
    assert "token" not in error["message"] and "inventory:adjust" in error["message"]
    assert db_state() == before
    db.session.delete(db.session.get(Membership, membership.id))
    db.session.commit()
    assert_error(client.get(entry_url(world.a)), 404)
    # A scope naming a store the user has since left gives nothing there either.
    assert client.get("/api/v1/me").get_json()["stores"] == []


def test_tokens_made_before_scopes_keep_every_permission_and_never_expire(
    app, make_user, world
):
    user = make_user(role="owner", store=world.a.store)
    plaintext = tokens.TOKEN_PREFIX + "made-before-scopes-" + "x" * 24
    db.session.execute(insert(ApiToken.__table__).values(
        user_id=user.id, name="old", token_hash=tokens.hash_token(plaintext),
        prefix=plaintext[:12], created_at=datetime(2025, 1, 1)))
    db.session.commit()
    client = ApiClient(app.test_client(), plaintext, user)
    with frozen_at(datetime(2099, 1, 1)):
        me = client.get("/api/v1/me").get_json()
        assert me["token_expires_at"] is None
        assert me["stores"][0]["permissions"] == sorted(
            ["audit:read", "catalog:manage", "inventory:adjust", "inventory:delete",
             "inventory:read", "inventory:receive", "inventory:reserve", "inventory:threshold",
             "members:manage", "purchasing:manage", "webhooks:manage"])
        assert adjust(client, world.a.entry).status_code == 200
    db.session.rollback()
    [view] = tokens.user_tokens(user.id)
    assert view.active and view.expires_at is None and view.store_ids is None


def test_a_platform_admins_token_may_be_limited(app, make_user, world):
    admin = make_user(platform_admin=True)
    full = client_with(app, admin)
    assert full.get("/api/v1/me").get_json()["platform_admin"] is True
    assert full.get("/api/v1/admin/inventory/stats").status_code == 200

    one_store = client_with(app, admin, store_ids=[world.a.store.id])
    me = one_store.get("/api/v1/me").get_json()
    assert me["platform_admin"] is False
    assert [s["store_id"] for s in me["stores"]] == [world.a.store.id]
    assert adjust(one_store, world.a.entry).status_code == 200
    assert_error(one_store.get(entry_url(world.b)), 404)
    error = assert_error(one_store.get("/api/v1/admin/inventory/stats"), 403)
    assert "does not act as platform admin" in error["message"]

    reader = client_with(app, admin, permissions=[READ])
    assert reader.get(entry_url(world.b)).status_code == 200
    assert "lacks inventory:adjust" in assert_error(adjust(reader, world.b.entry), 403)[
        "message"]

    # Without platform admin, the token has the admin's memberships: none here.
    member_only = client_with(app, admin, platform_admin=False)
    me = member_only.get("/api/v1/me").get_json()
    assert (me["platform_admin"], me["stores"]) == (False, [])
    assert_error(member_only.get(entry_url(world.a)), 404)
    assert "limited to your memberships" in assert_error(
        member_only.get("/api/v1/admin/inventory/stats"), 403)["message"]
    # And its stores must be the admin's own.
    with pytest.raises(ValidationError):
        tokens.create_token(user_id=admin.id, name="x", store_ids=[world.a.store.id],
                            platform_admin=False)


def test_a_non_admins_refused_platform_work_gets_the_usual_answer(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    error = assert_error(client_with(app, user, permissions=[READ]).get(
        "/api/v1/admin/inventory/stats"), 403)
    assert "token" not in error["message"]


# --------------------------------------------------------------------------- the page


def sign_in(client, user):
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


FORM = {"name": "Shop", "expiry": "90", "access": "all"}


def test_the_page_creates_a_scoped_token_and_lists_expiry_scope_and_last_use(
    app, make_user, world
):
    user = make_user(role="owner", store=world.a.store)
    db.session.add(Membership(user_id=user.id, store_id=world.b.store.id, role="staff"))
    db.session.commit()
    browser = sign_in(app.test_client(), user)
    page = browser.get("/account/tokens").get_data(as_text=True)
    assert f'name="stores" value="{world.b.store.id}"' in page
    assert 'name="expiry" value="90" id="expiry-2" checked' in page
    created = browser.post("/account/tokens", data={
        **FORM, "expiry": "date", "expires_on": "2099-06-30", "stores": [world.a.store.id],
        "access": "chosen", "permissions": [READ, RESERVE]})
    assert created.status_code == 201, created.get_data(as_text=True)
    plaintext = re.search(r'value="(stk_[^"]+)"', created.get_data(as_text=True)).group(1)
    db.session.rollback()
    [view] = tokens.user_tokens(user.id)
    assert (view.expires_at, view.store_ids, view.permissions) == (
        datetime(2099, 6, 30), (world.a.store.id,), (READ, RESERVE))

    client = ApiClient(app.test_client(), plaintext, user)
    assert client.get("/api/v1/me").status_code == 200
    listing = browser.get("/account/tokens").get_data(as_text=True)
    row = re.search(r"<tr><td>Shop</td>.*?</tr>", listing, re.S).group(0)
    assert "Alpha; inventory:read, inventory:reserve" in row
    assert "2099-06-30 00:00" in row and "Active" in row
    assert "—" not in row, "last use is shown"

    read_only = browser.post("/account/tokens", data={**FORM, "name": "Reader",
                                                      "access": "read", "expiry": "never"})
    assert read_only.status_code == 201
    listing = browser.get("/account/tokens").get_data(as_text=True)
    row = re.search(r"<tr><td>Reader</td>.*?</tr>", listing, re.S).group(0)
    assert "All your stores; read only" in row and "Never" in row


@pytest.mark.parametrize("data, field, message", [
    ({"expiry": "date", "expires_on": "2026-02-30"}, "expires_on", "Not a valid date"),
    ({"expiry": "date", "expires_on": "yesterday"}, "expires_on", "Not a valid date"),
    ({"expiry": "date", "expires_on": "2001-01-01"}, "expires_on", "Must be in the future"),
    ({"expiry": "date"}, "expires_on", "Enter the date"),
    ({"expiry": "90", "expires_on": "2099-01-01"}, "expires_on", "On a date"),
    ({"expiry": "forever"}, "expiry", "Not a valid choice"),
    ({"stores": "OTHER"}, "stores", "could not be coerced"),
    ({"stores": "99999999999999999999"}, "stores", "Not a valid choice"),
    ({"access": "chosen"}, "permissions", "Choose at least one permission"),
    ({"access": "chosen", "permissions": "inventory:everything"}, "permissions",
     "Not a valid choice"),
    ({"access": "sudo"}, "access", "Not a valid choice"),
])
def test_the_page_names_the_bad_field_and_creates_nothing(
    app, make_user, world, data, field, message
):
    user = make_user(role="owner", store=world.a.store)
    browser = sign_in(app.test_client(), user)
    response = browser.post("/account/tokens", data={**FORM, **data})
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:500]
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error is not None and message.lower() in error.group(1).lower(), html
    db.session.rollback()
    assert tokens.user_tokens(user.id) == []


def test_the_page_refuses_another_stores_id(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    browser = sign_in(app.test_client(), user)
    response = browser.post("/account/tokens", data={**FORM, "stores": world.b.store.id})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r"id=\"stores-error\">[^<]*not a valid choice", html)
    db.session.rollback()
    assert tokens.user_tokens(user.id) == []


def test_the_page_offers_platform_admins_every_store_and_the_choice_to_act_without(
    app, make_user, world
):
    admin = make_user(platform_admin=True)
    browser = sign_in(app.test_client(), admin)
    page = browser.get("/account/tokens").get_data(as_text=True)
    assert all(f'name="stores" value="{w.store.id}"' in page for w in (world.a, world.b))
    assert 'name="platform_admin"' in page
    refused = browser.post("/account/tokens", data={**FORM, "stores": world.b.store.id})
    assert refused.status_code == 422, "an unticked box is a choice not to act as admin"
    assert re.search(r'id="stores-error">[^<]*not one of your stores',
                     refused.get_data(as_text=True))
    created = browser.post("/account/tokens", data={**FORM, "stores": world.b.store.id,
                                                    "platform_admin": "y"})
    assert created.status_code == 201
    db.session.rollback()
    [view] = tokens.user_tokens(admin.id)
    assert view.store_ids == (world.b.store.id,) and view.platform_admin


def test_expired_tokens_are_listed_as_expired_and_may_be_revoked(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    view, _ = tokens.create_token(user_id=user.id, name="Short",
                                  expires_at=utcnow() + timedelta(days=1))
    browser = sign_in(app.test_client(), user)
    with frozen_at(utcnow() + timedelta(days=2)):
        listing = browser.get("/account/tokens").get_data(as_text=True)
        assert "Expired" in re.search(r"<tr><td>Short</td>.*?</tr>", listing, re.S).group(0)
        assert "0 active" in listing
        assert browser.get(f"/account/tokens/{view.id}/revoke").status_code == 200
        assert browser.post(f"/account/tokens/{view.id}/revoke").status_code == 303
    db.session.rollback()
    assert tokens.user_tokens(user.id)[0].revoked_at is not None


# --------------------------------------------------------------------------- CLI


def test_create_token_command_takes_an_expiry_and_a_scope(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    db.session.add(Membership(user_id=user.id, store_id=world.b.store.id, role="owner"))
    db.session.commit()
    slug_a = db.session.get(Store, world.a.store.id).slug
    cli = app.test_cli_runner()
    result = cli.invoke(args=["create-token", user.email, "--name", "Feed", "--expires",
                              "2099-01-01", "--store", slug_a, "--read-only"])
    assert result.exit_code == 0, result.output
    assert "until 2099-01-01 00:00 UTC" in result.output
    client = ApiClient(app.test_client(), result.output.strip().splitlines()[-1], user)
    assert [s["store_id"] for s in client.get("/api/v1/me").get_json()["stores"]] == [
        world.a.store.id]
    assert_error(adjust(client, world.a.entry), 403)

    default = cli.invoke(args=["create-token", user.email, "--name", "Default",
                               "--permission", RESERVE, "--permission", READ])
    assert default.exit_code == 0 and "until " in default.output
    never = cli.invoke(args=["create-token", user.email, "--name", "Never", "--expires",
                             "never"])
    assert never.exit_code == 0 and "with no expiry" in never.output
    db.session.rollback()
    views = {v.name: v for v in tokens.user_tokens(user.id)}
    assert views["Default"].permissions == (READ, RESERVE)
    assert views["Never"].expires_at is None and views["Never"].store_ids is None

    for args, said in (
        (["--expires", "2001-01-01"], "future"),
        (["--expires", "soon"], "YYYY-MM-DD"),
        (["--store", "no-such-store"], "No store"),
        (["--permission", "inventory:everything"], "inventory:everything"),
        (["--read-only", "--permission", ADJUST], "not both"),
    ):
        bad = cli.invoke(args=["create-token", user.email, "--name", "Bad", *args])
        assert bad.exit_code != 0 and said in bad.output, (args, bad.output)
    db.session.rollback()
    assert len(tokens.user_tokens(user.id)) == 3
