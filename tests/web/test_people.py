"""People screens: users (platform admins) and each store's members, roles and groups.

Pages and fragments, the permission matrix per role, CSRF, bad input, the second click of
destructive actions, and changes that apply from the affected user's next request.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Membership, Store, User
from app.permissions import ADJUST, RESERVE

from .helpers import HX, PASSWORD, assert_csp_clean, csrf_from_page

NEW_PASSWORD = "another long password"


def committed(model: Any, **where: Any) -> Any:
    db.session.rollback()
    db.session.expire_all()
    row = db.session.scalar(select(model).filter_by(**where))
    db.session.rollback()
    return row


def role_of(user: User, store: Store) -> str | None:
    found = committed(Membership, user_id=user.id, store_id=store.id)
    return found.role if found else None


def membership_id(user: User, store: Store) -> int:
    found = committed(Membership, user_id=user.id, store_id=store.id)
    assert found is not None
    return int(found.id)


@pytest.fixture
def shop(
    make_store: Callable[..., Store],
    make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """Store A with an owner, an admin and a staff member; store B with its own owner."""
    a = make_store("Alpha Store")
    b = make_store("Beta Store")
    owner = make_user(role="owner", store=a, email="owner-a@example.test")
    admin = make_user(role="admin", store=a, email="admin-a@example.test")
    staff = make_user(role="staff", store=a, email="staff-a@example.test")
    owner_b = make_user(role="owner", store=b, email="owner-b@example.test")
    platform = make_user(platform_admin=True, email="root@example.test")
    return SimpleNamespace(a=a, b=b, owner=owner, admin=admin, staff=staff, owner_b=owner_b,
                           platform=platform, sign_in=sign_in)


def page_of(store: Store) -> str:
    return f"/people/stores/{store.id}"


# --------------------------------------------------------------------------- pages


def test_platform_admins_see_every_user_and_the_create_form(shop):
    client = shop.sign_in(shop.platform)

    response = client.get("/people")

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    for user in (shop.owner, shop.admin, shop.staff, shop.owner_b):
        assert user.email in body
    assert 'action="/people/users"' in body
    assert f'href="{page_of(shop.a)}"' in body and f'href="{page_of(shop.b)}"' in body
    assert_csp_clean(body)


@pytest.mark.parametrize(("who", "links"), [("owner", True), ("admin", True), ("staff", False)])
def test_others_see_only_the_stores_whose_people_they_manage(shop, who, links):
    client = shop.sign_in(getattr(shop, who))

    body = client.get("/people").get_data(as_text=True)

    assert "Your stores" in body
    assert (f'href="{page_of(shop.a)}"' in body) is links
    assert page_of(shop.b) not in body
    assert shop.owner_b.email not in body and 'action="/people/users"' not in body
    if not links:
        assert "You do not manage people in any store" in body


@pytest.mark.parametrize(
    ("who", "status"),
    [("platform", 200), ("owner", 200), ("admin", 200), ("staff", 403), ("owner_b", 404)],
)
def test_member_page_permission_matrix(shop, who, status):
    client = shop.sign_in(getattr(shop, who))

    response = client.get(page_of(shop.a))

    assert response.status_code == status
    if status == 200:
        body = response.get_data(as_text=True)
        assert shop.staff.email in body and shop.owner_b.email not in body
        assert "Adjust stock (adjust, set, count, transfer, return)" in body
        assert_csp_clean(body)


def test_an_owner_of_a_sees_only_a(shop):
    client = shop.sign_in(shop.owner)
    assert client.get(page_of(shop.a)).status_code == 200
    assert client.get(page_of(shop.b)).status_code == 404
    assert client.get("/people/stores/999999").status_code == 404
    other = membership_id(shop.owner_b, shop.b)
    assert client.get(f"/people/stores/{shop.b.id}/members/{other}/remove").status_code == 404
    assert client.get(f"/people/stores/{shop.a.id}/members/{other}/remove").status_code == 404


def test_store_admins_see_owners_but_get_no_controls_for_them(shop):
    body = shop.sign_in(shop.admin).get(page_of(shop.a)).get_data(as_text=True)
    owner_mid = membership_id(shop.owner, shop.a)
    staff_mid = membership_id(shop.staff, shop.a)

    assert f"/members/{owner_mid}/role" not in body
    assert f"/members/{owner_mid}/remove" not in body
    assert f"/members/{staff_mid}/role" in body
    assert '<option value="owner"' not in body
    assert "New account" not in body  # only owners create accounts here


def test_owners_get_owner_controls(shop):
    body = shop.sign_in(shop.owner).get(page_of(shop.a)).get_data(as_text=True)
    assert f"/members/{membership_id(shop.admin, shop.a)}/role" in body
    assert '<option value="owner"' in body
    assert "New account" in body


# --------------------------------------------------------------------------- users


def test_creating_a_user_without_javascript(shop):
    client = shop.sign_in(shop.platform)
    token = csrf_from_page(client.get("/people").get_data(as_text=True))

    response = client.post("/people/users", data={
        "csrf_token": token, "email": "Nova@Example.test", "name": "Nova",
        "password": PASSWORD,
    })

    assert response.status_code == 303 and response.location.endswith("/people")
    user = committed(User, email="nova@example.test")
    assert user is not None and user.name == "Nova" and not user.is_platform_admin
    assert "Created the user Nova (nova@example.test)" in client.get("/people").get_data(
        as_text=True)


def test_creating_a_user_with_htmx_returns_the_panel_and_a_flash(shop):
    client = shop.sign_in(shop.platform)

    response = client.post("/people/users", headers=HX, data={
        "email": "nova@example.test", "name": "Nova", "password": PASSWORD,
        "platform_admin": "y",
    })

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith('<div id="users-panel"') and "<html" not in body
    assert 'hx-swap-oob="true"' in body and "Created the platform admin Nova" in body
    assert committed(User, email="nova@example.test").is_platform_admin


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_bad_user_input_shows_errors_beside_fields_and_keeps_values(shop, headers):
    client = shop.sign_in(shop.platform)

    response = client.post("/people/users", headers=headers, data={
        "email": "not-an-email", "name": "Kept Name", "password": "short",
    })

    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error"' in body and "Enter an email address." in body
    assert 'id="password-error"' in body and "Use at least 12 characters." in body
    assert 'value="Kept Name"' in body and 'value="not-an-email"' in body
    assert 'aria-invalid="true"' in body
    assert committed(User, name="Kept Name") is None


def test_a_taken_email_is_shown_beside_the_email(shop):
    client = shop.sign_in(shop.platform)
    response = client.post("/people/users", data={
        "email": shop.staff.email, "name": "Copy", "password": PASSWORD})
    assert response.status_code == 409
    assert "already exists" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["owner", "admin", "staff"])
def test_only_platform_admins_touch_accounts(shop, db_state, who):
    """Accounts are not yours unless you are a platform admin: 404, as /admin answers and as
    another store's member answers, never a 403 that says the account exists."""
    client = shop.sign_in(getattr(shop, who))
    before = db_state()
    for target in (shop.staff.id, shop.owner_b.id, 999_999):
        assert client.get(f"/people/users/{target}/deactivate").status_code == 404
        assert client.post(f"/people/users/{target}/deactivate").status_code == 404
        assert client.post(f"/people/users/{target}/reactivate").status_code == 404
        assert client.get(f"/people/users/{target}/platform-admin/grant").status_code == 404
        assert client.post(f"/people/users/{target}/password",
                           data={"password": PASSWORD}).status_code == 404
    assert client.post("/people/users", data={
        "email": "x@example.test", "name": "X", "password": PASSWORD}).status_code == 404
    assert client.get("/admin/stores").status_code == 404
    assert db_state() == before
    assert committed(User, email="x@example.test") is None


def test_deactivating_takes_a_second_click_and_signs_the_user_out(shop, db_state):
    admin = shop.sign_in(shop.platform)
    victim = shop.sign_in(shop.staff)
    assert victim.get("/inventory").status_code == 200
    before = db_state()

    confirm = admin.get(f"/people/users/{shop.staff.id}/deactivate")

    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and f"Deactivate {shop.staff.name}" in body
    assert db_state() == before, "the first click changed something"
    response = admin.post(f"/people/users/{shop.staff.id}/deactivate")
    assert response.status_code == 303
    assert not committed(User, id=shop.staff.id).active
    gone = victim.get("/inventory")
    assert gone.status_code == 302 and "/sign-in" in gone.location
    again = shop.staff
    fresh = victim.application.test_client()
    refused = fresh.post("/sign-in", data={"email": again.email, "password": PASSWORD})
    assert refused.status_code == 422


def test_the_confirmation_is_a_dialog_under_htmx(shop):
    admin = shop.sign_in(shop.platform)
    body = admin.get(f"/people/users/{shop.staff.id}/deactivate",
                     headers=HX).get_data(as_text=True)
    assert body.startswith('<dialog id="action-dialog"') and "data-close-dialog" in body

    response = admin.post(f"/people/users/{shop.staff.id}/deactivate", headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#users-panel"
    assert "close-dialog" in response.headers["HX-Trigger"]
    # The heading's count beside the panel follows: one of the five users is deactivated.
    assert ('<p class="count" id="users-count" hx-swap-oob="true">5 users, 4 active</p>'
            in response.get_data(as_text=True))


def test_nobody_deactivates_themselves(shop):
    admin = shop.sign_in(shop.platform)
    body = admin.get("/people").get_data(as_text=True)
    assert f"/people/users/{shop.platform.id}/deactivate" not in body

    response = admin.post(f"/people/users/{shop.platform.id}/deactivate")

    assert response.status_code == 409
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    assert committed(User, id=shop.platform.id).active


def test_a_stores_last_active_owner_is_not_deactivated(shop, db_state):
    admin = shop.sign_in(shop.platform)
    before = db_state()

    response = admin.post(f"/people/users/{shop.owner.id}/deactivate")

    assert response.status_code == 409
    assert (f"{shop.owner.name} is the last active owner of Alpha Store; make someone else "
            "owner first.") in response.get_data(as_text=True)
    assert db_state() == before


def test_reactivating_lets_the_user_sign_in_again(shop):
    admin = shop.sign_in(shop.platform)
    admin.post(f"/people/users/{shop.staff.id}/deactivate")
    response = admin.post(f"/people/users/{shop.staff.id}/reactivate", headers=HX)
    assert response.status_code == 200 and "Reactivated" in response.get_data(as_text=True)
    assert committed(User, id=shop.staff.id).active
    shop.sign_in(shop.staff)


def test_a_password_reset_ends_old_sessions(shop):
    admin = shop.sign_in(shop.platform)
    victim = shop.sign_in(shop.staff)

    short = admin.post(f"/people/users/{shop.staff.id}/password", data={"password": "short"})
    assert short.status_code == 422 and "Use at least 12 characters." in short.get_data(
        as_text=True)
    assert victim.get("/inventory").status_code == 200

    done = admin.post(f"/people/users/{shop.staff.id}/password",
                      data={"password": NEW_PASSWORD})

    assert done.status_code == 303
    assert victim.get("/inventory").status_code == 302
    fresh = victim.application.test_client()
    assert fresh.post("/sign-in", data={"email": shop.staff.email,
                                        "password": NEW_PASSWORD}).status_code == 303


def test_unknown_users_are_not_found(shop):
    admin = shop.sign_in(shop.platform)
    assert admin.get("/people/users/999999/deactivate").status_code == 404
    assert admin.post("/people/users/999999/password",
                      data={"password": NEW_PASSWORD}).status_code == 404
    assert admin.get("/people/users/abc/password").status_code == 404


# --------------------------------------------------------------------------- members


def test_an_admin_adds_an_existing_user_as_staff_with_groups(shop, make_user):
    newcomer = make_user(email="new@example.test")
    client = shop.sign_in(shop.admin)

    response = client.post(f"{page_of(shop.a)}/members", data={
        "email": "new@example.test", "role": "staff", "grants": [ADJUST, RESERVE]})

    assert response.status_code == 303
    row = committed(Membership, user_id=newcomer.id, store_id=shop.a.id)
    assert row.role == "staff" and row.grants == [ADJUST, RESERVE]
    assert "Added Test User (new@example.test)" in client.get(page_of(shop.a)).get_data(
        as_text=True)


def test_an_owner_creates_an_account_into_the_store_with_htmx(shop):
    client = shop.sign_in(shop.owner)

    response = client.post(f"{page_of(shop.a)}/members", headers=HX, data={
        "email": "fresh@example.test", "role": "admin", "name": "Fresh Face",
        "password": PASSWORD})

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith('<div id="store-members"') and "fresh@example.test" in body
    assert "Created the account and added Fresh Face" in body
    user = committed(User, email="fresh@example.test")
    assert role_of(user, shop.a) == "admin"


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_bad_member_input_is_shown_in_place_and_kept(shop, headers):
    client = shop.sign_in(shop.owner)

    response = client.post(f"{page_of(shop.a)}/members", headers=headers, data={
        "email": "ghost@example.test", "role": "admin", "grants": [ADJUST]})

    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "granted to staff only" in body and 'id="add-grants-error"' in body
    assert 'value="ghost@example.test"' in body
    assert re.search(r'<option value="admin" selected>', body)
    assert re.search(rf'value="{re.escape(ADJUST)}" id="add-grant-1" checked', body)
    assert committed(User, email="ghost@example.test") is None


def test_an_unknown_role_or_group_is_refused(shop, db_state):
    client = shop.sign_in(shop.owner)
    staff_mid = membership_id(shop.staff, shop.a)
    before = db_state()
    bad_role = client.post(f"{page_of(shop.a)}/members/{staff_mid}/role", data={"role": "god"})
    assert bad_role.status_code == 422
    assert "Choose owner, admin or staff." in bad_role.get_data(as_text=True)
    bad_group = client.post(f"{page_of(shop.a)}/members/{staff_mid}/grants",
                            data={"grants": "members:manage"})
    assert bad_group.status_code == 422
    assert "Unknown permission group: members:manage." in bad_group.get_data(as_text=True)
    assert client.post(f"{page_of(shop.a)}/members/abc/role",
                       data={"role": "staff"}).status_code == 404
    assert db_state() == before
    assert role_of(shop.staff, shop.a) == "staff"


def test_the_last_owner_cannot_be_demoted_and_the_message_says_why(shop):
    client = shop.sign_in(shop.owner)
    owner_mid = membership_id(shop.owner, shop.a)

    response = client.post(f"{page_of(shop.a)}/members/{owner_mid}/role", headers=HX,
                           data={"role": "admin"})

    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert ("Test User is the last owner of Alpha Store; make someone else owner first."
            in body)
    assert f'id="role-{owner_mid}-error"' in body
    assert role_of(shop.owner, shop.a) == "owner"


def test_the_last_owner_cannot_be_removed(shop):
    client = shop.sign_in(shop.platform)
    owner_mid = membership_id(shop.owner, shop.a)

    response = client.post(f"{page_of(shop.a)}/members/{owner_mid}/remove", headers=HX)

    assert response.status_code == 409
    assert "is the last owner of Alpha Store" in response.get_data(as_text=True)
    assert role_of(shop.owner, shop.a) == "owner"


def test_the_only_owner_is_offered_no_remove_and_two_owners_both_are(shop, make_user):
    """The page hides "Remove…" exactly where remove_member would refuse it."""
    client = shop.sign_in(shop.owner)
    owner_mid = membership_id(shop.owner, shop.a)
    remove = f'{page_of(shop.a)}/members/{owner_mid}/remove"'
    admin_remove = f'{page_of(shop.a)}/members/{membership_id(shop.admin, shop.a)}/remove"'

    body = client.get(page_of(shop.a)).get_data(as_text=True)
    assert remove not in body
    assert admin_remove in body

    second = make_user(role="owner", store=shop.a, email="owner-two@example.test")
    body = client.get(page_of(shop.a)).get_data(as_text=True)
    assert remove in body
    assert f'/members/{membership_id(second, shop.a)}/remove"' in body


def test_store_admins_cannot_touch_owners_even_by_hand(shop, db_state):
    client = shop.sign_in(shop.admin)
    owner_mid = membership_id(shop.owner, shop.a)
    staff_mid = membership_id(shop.staff, shop.a)
    before = db_state()
    base = page_of(shop.a)
    assert client.post(f"{base}/members/{owner_mid}/role",
                       data={"role": "staff"}).status_code == 403
    assert client.get(f"{base}/members/{owner_mid}/remove").status_code == 403
    assert client.post(f"{base}/members/{owner_mid}/remove").status_code == 403
    assert client.post(f"{base}/members/{staff_mid}/role",
                       data={"role": "owner"}).status_code == 403
    assert db_state() == before
    assert (role_of(shop.owner, shop.a), role_of(shop.staff, shop.a)) == ("owner", "staff")


def test_staff_change_nothing(shop):
    client = shop.sign_in(shop.staff)
    admin_mid = membership_id(shop.admin, shop.a)
    base = page_of(shop.a)
    assert client.post(f"{base}/members/{admin_mid}/role", data={"role": "staff"}
                       ).status_code == 403
    assert client.post(f"{base}/members/{membership_id(shop.staff, shop.a)}/grants",
                       data={"grants": ADJUST}).status_code == 403
    assert client.post(f"{base}/members", data={"email": shop.owner_b.email,
                                                 "role": "staff"}).status_code == 403
    assert role_of(shop.admin, shop.a) == "admin"
    assert role_of(shop.owner_b, shop.a) is None


def test_an_owner_of_b_cannot_touch_a(shop):
    client = shop.sign_in(shop.owner_b)
    staff_mid = membership_id(shop.staff, shop.a)
    assert client.post(f"{page_of(shop.a)}/members/{staff_mid}/role",
                       data={"role": "admin"}).status_code == 404
    assert client.post(f"{page_of(shop.b)}/members/{staff_mid}/role",
                       data={"role": "admin"}).status_code == 404
    assert client.post(f"{page_of(shop.b)}/members/{staff_mid}/remove").status_code == 404
    assert role_of(shop.staff, shop.a) == "staff"


def test_removing_a_member_takes_a_second_click(shop, db_state):
    client = shop.sign_in(shop.owner)
    staff_mid = membership_id(shop.staff, shop.a)
    url = f"{page_of(shop.a)}/members/{staff_mid}/remove"
    before = db_state()

    first = client.get(url, headers=HX)

    assert first.status_code == 200 and "<dialog" in first.get_data(as_text=True)
    assert role_of(shop.staff, shop.a) == "staff" and db_state() == before
    second = client.post(url, headers=HX)
    assert second.status_code == 200
    assert second.headers["HX-Retarget"] == "#store-members"
    assert shop.staff.email not in second.get_data(as_text=True).split("hx-swap-oob")[0]
    assert role_of(shop.staff, shop.a) is None
    assert committed(User, id=shop.staff.id) is not None


def test_changing_a_role_without_javascript_redirects_with_a_message(shop):
    client = shop.sign_in(shop.owner)
    staff_mid = membership_id(shop.staff, shop.a)

    response = client.post(f"{page_of(shop.a)}/members/{staff_mid}/role",
                           data={"role": "admin"})

    assert response.status_code == 303 and response.location.endswith(page_of(shop.a))
    assert role_of(shop.staff, shop.a) == "admin"
    body = client.get(page_of(shop.a)).get_data(as_text=True)
    assert "Test User is now admin of Alpha Store (was staff)." in body


def test_grants_apply_from_the_staff_members_next_request(shop, scene):
    place = scene(store=shop.a)
    staff = shop.sign_in(shop.staff)
    adjust = f"/inventory/entries/{place.entry.id}/adjust"
    form = {"idempotency_key": uuid.uuid4().hex, "delta": "1", "reason": "Found one"}
    assert staff.get(adjust).status_code == 403
    assert staff.post(adjust, data=form).status_code == 403

    owner = shop.sign_in(shop.owner)
    granted = owner.post(f"{page_of(shop.a)}/members/{membership_id(shop.staff, shop.a)}"
                         "/grants", headers=HX, data={"grants": [ADJUST]})
    assert granted.status_code == 200
    assert "can now read stock, plus adjust stock" in granted.get_data(as_text=True)

    assert staff.get(adjust).status_code == 200
    assert staff.post(adjust, data=form).status_code == 303
    assert committed(InventoryEntry, id=place.entry.id).quantity == place.entry.quantity + 1

    owner.post(f"{page_of(shop.a)}/members/{membership_id(shop.staff, shop.a)}/grants",
               data={})
    assert staff.get(adjust).status_code == 403


def test_a_removed_member_loses_the_store_at_their_next_request(shop, scene):
    place = scene(store=shop.a)
    staff = shop.sign_in(shop.staff)
    assert staff.get(f"/inventory/entries/{place.entry.id}").status_code == 200

    owner = shop.sign_in(shop.owner)
    owner.post(f"{page_of(shop.a)}/members/{membership_id(shop.staff, shop.a)}/remove")

    assert staff.get(f"/inventory/entries/{place.entry.id}").status_code == 404


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def guarded(make_app: Callable[..., Flask], shop: SimpleNamespace) -> SimpleNamespace:
    app = make_app(WTF_CSRF_ENABLED=True)
    owner = shop.sign_in(shop.owner, on=app)
    platform = shop.sign_in(shop.platform, on=app)
    return SimpleNamespace(owner=owner, platform=platform,
                           owner_token=csrf_from_page(owner.get(page_of(shop.a)).get_data(
                               as_text=True)),
                           platform_token=csrf_from_page(platform.get("/people").get_data(
                               as_text=True)))


def test_every_people_form_refuses_a_missing_or_foreign_token(shop, guarded, db_state):
    staff_mid = membership_id(shop.staff, shop.a)
    base = page_of(shop.a)
    owner_posts = [
        (f"{base}/members", {"email": shop.owner_b.email, "role": "staff"}),
        (f"{base}/members/{staff_mid}/role", {"role": "admin"}),
        (f"{base}/members/{staff_mid}/grants", {"grants": ADJUST}),
        (f"{base}/members/{staff_mid}/remove", {}),
    ]
    platform_posts = [
        ("/people/users", {"email": "x@example.test", "name": "X", "password": PASSWORD}),
        (f"/people/users/{shop.staff.id}/deactivate", {}),
        (f"/people/users/{shop.staff.id}/reactivate", {}),
        (f"/people/users/{shop.staff.id}/password", {"password": NEW_PASSWORD}),
    ]
    before = db_state()
    for client, foreign, posts in ((guarded.owner, guarded.platform_token, owner_posts),
                                   (guarded.platform, guarded.owner_token, platform_posts)):
        for url, data in posts:
            for token in ({}, {"csrf_token": "forged"}, {"csrf_token": foreign}):
                response = client.post(url, data={**data, **token})
                assert response.status_code == 400, (url, token)
    assert db_state() == before
    assert role_of(shop.owner_b, shop.a) is None

    ok = guarded.owner.post(f"{base}/members/{staff_mid}/role",
                            data={"role": "admin", "csrf_token": guarded.owner_token})
    assert ok.status_code == 303 and role_of(shop.staff, shop.a) == "admin"
    hx = guarded.platform.post("/people/users", headers={
        **HX, "X-CSRFToken": guarded.platform_token},
        data={"email": "hx@example.test", "name": "Hx", "password": PASSWORD})
    assert hx.status_code == 200 and committed(User, email="hx@example.test") is not None


def test_anonymous_visitors_are_sent_to_sign_in(client, shop):
    assert "/sign-in" in client.get("/people").location
    response = client.get(page_of(shop.a), headers=HX)
    assert response.status_code == 401 and "HX-Redirect" in response.headers


def test_platform_admin_access_is_given_and_taken_away_with_a_confirmation(shop, db_state):
    admin = shop.sign_in(shop.platform)
    before = db_state()
    grant = f"/people/users/{shop.staff.id}/platform-admin/grant"
    revoke = f"/people/users/{shop.staff.id}/platform-admin/revoke"

    confirm = admin.get(grant)
    assert confirm.status_code == 200
    assert f"Make {shop.staff.name} a platform admin?" in confirm.get_data(as_text=True)
    assert db_state() == before, "the first click changed something"
    assert admin.post(grant).status_code == 303
    assert committed(User, id=shop.staff.id).is_platform_admin
    page = admin.get("/people").get_data(as_text=True)
    assert revoke in page and grant not in page
    # Nobody is offered taking away their own access.
    assert f"/people/users/{shop.platform.id}/platform-admin/revoke" not in page

    assert admin.post(revoke).status_code == 303
    assert not committed(User, id=shop.staff.id).is_platform_admin
    own = admin.post(f"/people/users/{shop.platform.id}/platform-admin/revoke")
    assert own.status_code == 409
    assert "You cannot take away your own platform admin access" in own.get_data(as_text=True)
