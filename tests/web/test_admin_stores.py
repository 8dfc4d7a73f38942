"""The stores administration in the browser: platform admins see every store's statistics and
open, rename, archive and unarchive stores; everyone else is not told the area exists."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Store
from app.permissions import system_actor
from app.services import stores as store_service

from .helpers import HX, Htmx, assert_csp_clean, audit, csrf_from_hx_headers, hidden_value


def is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>") and "</html>" in body


def root_tag(body: str) -> str:
    match = re.match(r"\s*<([a-z]+)\b[^>]*\bid=\"([^\"]+)\"", body)
    assert match, body[:200]
    return f"{match.group(1)}#{match.group(2)}"


def all_stores() -> list[tuple[Any, ...]]:
    """Every store row as committed now."""
    db.session.rollback()
    rows = [tuple(r) for r in db.session.execute(select(Store.__table__).order_by(Store.id))]
    db.session.rollback()
    return rows


def store_row(store_id: int) -> Any:
    db.session.rollback()
    row = db.session.execute(select(Store.__table__).where(Store.id == store_id)).one()
    db.session.rollback()
    return row


@pytest.fixture
def platform(
    scene: Callable[..., SimpleNamespace], make_store: Callable[..., Store],
    make_entry: Callable[..., Any], login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """Two active stores with stock, an archived one, and a platform admin signed in."""
    north = scene(quantity=10, reserved=2, title="Blue Mug", sku="MUG-BLU")
    make_entry(store=north.store, location=north.spare, quantity=3, threshold=5)  # low stock
    harbor = scene(quantity=7, reserved=0)
    closed = make_store("Old Pier")
    make_entry(store=closed, quantity=4)
    store_service.archive_store(actor=system_actor("tests"), store_id=closed.id)
    return SimpleNamespace(
        north=north.store, harbor=harbor.store, closed=closed,
        admin=login_as("platform_admin"),
    )


# --------------------------------------------------------------------------- pages


def test_stores_page_shows_every_store_with_its_statistics_and_totals(
    platform: SimpleNamespace,
) -> None:
    response = platform.admin.get("/admin/stores")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert "HX-Request" in response.vary
    north = re.search(rf'<tr id="store-{platform.north.id}">(.*?)</tr>', body, re.S)
    assert north, body
    # Entries 2, on hand 13, reserved 2, available 11, low stock 1, locations in use 2 of 2.
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', north.group(1), re.S)
    numbers = [re.sub(r"<[^>]+>", "", c).split()[0] for c in cells]
    assert numbers[:6] == ["2", "13", "2", "11", "1", "2"]
    footer = re.search(r"<tfoot>(.*?)</tfoot>", body, re.S)
    assert footer and "Total, 2 stores" in footer.group(1)
    totals = [re.sub(r"<[^>]+>", "", c) for c in
              re.findall(r'<td class="num">(.*?)</td>', footer.group(1))]
    assert totals == ["3", "20", "2", "18", "1", "3"]  # the archived store is not counted
    # The archived store is listed apart, with its badge and an Unarchive action.
    archived = body[body.index('id="archived-stores"'):]
    assert "Old Pier" in archived and "Archived" in archived
    assert f"/admin/stores/{platform.closed.id}/unarchive" in archived
    assert "Old Pier" not in body[:body.index('id="archived-stores"')]


def test_stores_page_answers_htmx_with_its_fragment(platform: SimpleNamespace) -> None:
    response = platform.admin.get("/admin/stores", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not is_full_page(body)
    assert root_tag(body) == "section#stores-admin"
    assert "HX-Request" in response.vary
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        assert is_full_page(platform.admin.get("/admin/stores", headers={**HX, **extra})
                            .get_data(as_text=True))


def test_store_page_drills_down_into_one_store(platform: SimpleNamespace) -> None:
    store_id = platform.north.id
    response = platform.admin.get(f"/admin/stores/{store_id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert "<h1 id=\"store-title\">" in body and platform.north.name in body
    for link in (f"/inventory?store={store_id}",
                 f"/inventory?store={store_id}&amp;status=low_stock",
                 f"/catalog/locations?store={store_id}", f"/catalog/products?store={store_id}",
                 f"/people/stores/{store_id}"):
        assert f'href="{link}"' in body, link
    assert "2 active." in body  # two locations
    fragment = platform.admin.get(f"/admin/stores/{store_id}", headers=HX)
    assert root_tag(fragment.get_data(as_text=True)) == "section#store-detail"
    archived = platform.admin.get(f"/admin/stores/{platform.closed.id}").get_data(as_text=True)
    assert "Archived on" in archived and f"/admin/stores/{platform.closed.id}/unarchive" in archived


def test_admin_home_redirects_to_the_stores(platform: SimpleNamespace) -> None:
    response = platform.admin.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/stores"


def test_unknown_stores_and_actions_are_not_found(platform: SimpleNamespace) -> None:
    for url in ("/admin/stores/999999", "/admin/stores/999999/rename",
                f"/admin/stores/{platform.north.id}/explode", "/admin/stores/99999999999",
                "/admin/stores/99999999999/archive"):
        assert platform.admin.get(url).status_code == 404, url
        assert platform.admin.post(url).status_code in (404, 405), url


# --------------------------------------------------------------------------- who may see it


def admin_urls(platform: SimpleNamespace) -> list[tuple[str, str, dict[str, str]]]:
    store_id = platform.north.id
    return [
        ("get", "/admin/", {}),
        ("get", "/admin/stores", {}),
        ("get", f"/admin/stores/{store_id}", {}),
        ("get", "/admin/stores/new", {}),
        ("post", "/admin/stores/new", {"name": "Mine", "slug": "mine"}),
        ("get", f"/admin/stores/{store_id}/rename", {}),
        ("post", f"/admin/stores/{store_id}/rename", {"name": "Taken over"}),
        ("get", f"/admin/stores/{store_id}/archive", {}),
        ("post", f"/admin/stores/{store_id}/archive", {}),
        ("post", f"/admin/stores/{platform.closed.id}/unarchive", {}),
    ]


@pytest.mark.parametrize("role", ["owner", "admin", "staff"])
def test_members_are_not_told_the_admin_area_exists(
    platform: SimpleNamespace, login_as: Callable[..., FlaskClient], role: str, subtests: Any
) -> None:
    client = login_as(role, platform.north, grants=("inventory:adjust",) if role == "staff" else ())
    before = all_stores()
    for method, url, form in admin_urls(platform):
        for headers in ({}, HX):
            with subtests.test(method=method, url=url, htmx=bool(headers)):
                response = getattr(client, method)(url, data=form, headers=headers)
                assert response.status_code == 404
                assert "Stores" not in response.get_data(as_text=True).split("</nav>")[-1]
    assert all_stores() == before


def test_anonymous_visitors_are_sent_to_sign_in(app: Flask, platform: SimpleNamespace) -> None:
    anonymous = app.test_client()
    before = all_stores()
    for method, url, form in admin_urls(platform):
        response = getattr(anonymous, method)(url, data=form)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in?next=")
        htmx = getattr(anonymous, method)(url, data=form, headers=HX)
        assert htmx.status_code == 401
        assert htmx.headers["HX-Redirect"].startswith("/sign-in?next=")
    assert all_stores() == before


def test_archived_stores_leave_their_members_store_lists(
    platform: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    owner = login_as("owner", platform.harbor)
    switcher = re.compile(rf'<option value="{platform.harbor.id}"')
    assert switcher.search(owner.get("/inventory").get_data(as_text=True))
    response = platform.admin.post(f"/admin/stores/{platform.harbor.id}/archive", data={})
    assert response.status_code == 303
    assert not switcher.search(owner.get("/inventory").get_data(as_text=True))
    platform.admin.post(f"/admin/stores/{platform.harbor.id}/unarchive", data={})
    assert switcher.search(owner.get("/inventory").get_data(as_text=True))


# --------------------------------------------------------------------------- create


def test_create_without_javascript_redirects_with_a_flash(platform: SimpleNamespace) -> None:
    form_page = platform.admin.get("/admin/stores/new")
    assert form_page.status_code == 200 and is_full_page(form_page.get_data(as_text=True))
    response = platform.admin.post("/admin/stores/new",
                                   data={"name": " Corner Shop ", "slug": "corner-shop"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/stores"
    row = store_row(max(r[0] for r in all_stores()))
    assert (row.name, row.slug, row.archived_at) == ("Corner Shop", "corner-shop", None)
    page = platform.admin.get("/admin/stores").get_data(as_text=True)
    assert "Opened store Corner Shop (corner-shop)." in page
    assert f'id="store-{row.id}"' in page


def test_create_under_htmx_redraws_the_stores_and_closes_the_dialog(
    platform: SimpleNamespace, htmx: Htmx
) -> None:
    dialog = htmx.get(platform.admin, "/admin/stores/new").get_data(as_text=True)
    assert root_tag(dialog) == "dialog#action-dialog"
    assert 'hx-post="/admin/stores/new"' in dialog and 'action="/admin/stores/new"' in dialog
    response = htmx.post(platform.admin, "/admin/stores/new",
                         data={"name": "Corner Shop", "slug": "corner-shop"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#stores-admin"
    assert response.headers["HX-Reswap"] == "outerHTML"
    events = json.loads(response.headers["HX-Trigger"])
    assert events["close-dialog"] is True and "stores-changed" in events
    assert root_tag(body) == "section#stores-admin"
    assert "Corner Shop" in body
    assert re.search(r'<div id="flashes"[^>]*hx-swap-oob="true"', body)
    assert "Opened store Corner Shop (corner-shop)." in body


@pytest.mark.parametrize("under_htmx", [False, True], ids=["page", "htmx"])
def test_bad_input_keeps_the_values_and_names_the_fields(
    platform: SimpleNamespace, under_htmx: bool
) -> None:
    before = all_stores()
    response = platform.admin.post(
        "/admin/stores/new", data={"name": "   ", "slug": "Bad Slug"},
        headers=HX if under_htmx else {},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert is_full_page(body) is not under_htmx
    assert 'value="Bad Slug"' in body
    found = audit(body)
    (slug,) = found.elements("input", name="slug")
    (name,) = found.elements("input", name="name")
    assert slug["aria-invalid"] == "true" and name["aria-invalid"] == "true"
    assert 'id="slug-error"' in body and "Use lowercase letters, digits and single hyphens." in body
    assert 'id="name-error"' in body and "This field is required." in body
    assert "slug-error" in slug["aria-describedby"]
    assert all_stores() == before


def test_a_taken_slug_is_refused_in_place(platform: SimpleNamespace, htmx: Htmx) -> None:
    taken = platform.north.slug
    before = all_stores()
    response = htmx.post(platform.admin, "/admin/stores/new", data={"name": "Twin", "slug": taken})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"A store with the slug {taken} already exists." in body
    assert 'value="Twin"' in body and f'value="{taken}"' in body
    assert all_stores() == before


# --------------------------------------------------------------------------- rename


def test_rename_form_starts_from_the_current_name(platform: SimpleNamespace) -> None:
    body = platform.admin.get(f"/admin/stores/{platform.north.id}/rename").get_data(as_text=True)
    assert hidden_value(body, "name") == platform.north.name


def test_rename_without_javascript(platform: SimpleNamespace) -> None:
    store_id, old = platform.north.id, platform.north.name
    response = platform.admin.post(
        f"/admin/stores/{store_id}/rename",
        data={"name": "Northwind Two", "next": f"/admin/stores/{store_id}"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/stores/{store_id}"
    assert store_row(store_id).name == "Northwind Two"
    page = platform.admin.get(f"/admin/stores/{store_id}").get_data(as_text=True)
    assert f"Renamed store {old} → Northwind Two." in page


def test_rename_from_the_store_page_under_htmx_redraws_that_page(
    platform: SimpleNamespace, htmx: Htmx
) -> None:
    store_id = platform.north.id
    response = htmx.post(platform.admin, f"/admin/stores/{store_id}/rename",
                         data={"name": "Northwind Two", "next": f"/admin/stores/{store_id}"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#store-detail"
    assert root_tag(body) == "section#store-detail"
    assert '<h1 id="store-title">Northwind Two</h1>' in body
    assert store_row(store_id).name == "Northwind Two"


def test_rename_refuses_a_blank_name_and_an_open_redirect(
    platform: SimpleNamespace, htmx: Htmx
) -> None:
    store_id = platform.north.id
    before = all_stores()
    response = htmx.post(platform.admin, f"/admin/stores/{store_id}/rename", data={"name": " "})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)
    assert all_stores() == before
    response = platform.admin.post(f"/admin/stores/{store_id}/rename",
                                   data={"name": "Moved", "next": "//evil.example/x"})
    assert response.headers["Location"] == "/admin/stores"


# --------------------------------------------------------------------------- archive


def test_archive_asks_first_and_says_what_happens(platform: SimpleNamespace, htmx: Htmx) -> None:
    store_id = platform.north.id
    before = all_stores()
    dialog = htmx.get(platform.admin, f"/admin/stores/{store_id}/archive")
    body = dialog.get_data(as_text=True)
    assert dialog.status_code == 200
    assert root_tag(body) == "dialog#action-dialog"
    assert "Nothing is deleted" in body and "no longer see" in body
    assert re.search(r'<button type="submit" class="button danger">Archive store</button>', body)
    assert all_stores() == before  # opening the dialog is the first click, not the change


def test_archive_then_unarchive_under_htmx(platform: SimpleNamespace, htmx: Htmx) -> None:
    store_id = platform.north.id
    response = htmx.post(platform.admin, f"/admin/stores/{store_id}/archive", data={})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert store_row(store_id).archived_at is not None
    assert response.headers["HX-Retarget"] == "#stores-admin"
    archived_part = body[body.index('id="archived-stores"'):]
    assert f'id="store-{store_id}"' in archived_part
    assert f"Archived {platform.north.name}: its members no longer see it." in body

    again = htmx.post(platform.admin, f"/admin/stores/{store_id}/archive", data={})
    assert again.status_code == 409
    assert f"Store {platform.north.name} is already archived." in again.get_data(as_text=True)

    response = htmx.post(platform.admin, f"/admin/stores/{store_id}/unarchive", data={})
    assert response.status_code == 200
    assert store_row(store_id).archived_at is None
    assert f"Unarchived {platform.north.name}: its members see it again." in \
        response.get_data(as_text=True)


def test_archive_offered_on_an_archived_store_says_so_without_a_button(
    platform: SimpleNamespace,
) -> None:
    for headers in ({}, HX):
        response = platform.admin.get(f"/admin/stores/{platform.closed.id}/archive",
                                      headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 409
        assert "Store Old Pier is already archived." in body
        assert 'type="submit"' not in body.split("</nav>")[-1].split("Sign out")[-1]


# --------------------------------------------------------------------------- CSRF and markup


def test_changes_need_the_sessions_csrf_token(
    make_app: Callable[..., Flask], platform: SimpleNamespace,
    login_as: Callable[..., FlaskClient], htmx: Htmx,
) -> None:
    guarded = make_app(WTF_CSRF_ENABLED=True)
    admin = login_as("platform_admin", on=guarded)
    token = csrf_from_hx_headers(admin.get("/admin/stores").get_data(as_text=True))
    store_id = platform.north.id
    before = all_stores()
    posts = [("/admin/stores/new", {"name": "Sneaky", "slug": "sneaky"}),
             (f"/admin/stores/{store_id}/rename", {"name": "Sneaky"}),
             (f"/admin/stores/{store_id}/archive", {})]
    for url, form in posts:
        for extra in ({}, {"csrf_token": "forged"}):
            assert admin.post(url, data={**form, **extra}).status_code == 400
            assert htmx.post(admin, url, data={**form, **extra}).status_code == 400
    assert all_stores() == before
    # The page's own token works, in the form and in the header htmx sends.
    page = admin.get(f"/admin/stores/{store_id}/rename").get_data(as_text=True)
    form_token = hidden_value(page, "csrf_token")
    response = admin.post(f"/admin/stores/{store_id}/rename",
                          data={"name": "Renamed", "csrf_token": form_token})
    assert response.status_code == 303
    response = htmx.post(admin, f"/admin/stores/{store_id}/archive", data={},
                         headers={"X-CSRFToken": token})
    assert response.status_code == 200
    row = store_row(store_id)
    assert row.name == "Renamed" and row.archived_at is not None


def test_every_admin_response_has_clean_markup(
    platform: SimpleNamespace, htmx: Htmx, subtests: Any
) -> None:
    store_id, closed = platform.north.id, platform.closed.id
    gets = ["/admin/stores", f"/admin/stores/{store_id}", f"/admin/stores/{closed}",
            "/admin/stores/new", f"/admin/stores/{store_id}/rename",
            f"/admin/stores/{store_id}/archive", f"/admin/stores/{closed}/unarchive",
            f"/admin/stores/{closed}/archive", "/admin/stores/999999"]
    responses = []
    for url in gets:
        responses.append((url, platform.admin.get(url)))
        responses.append((f"{url} htmx", htmx.get(platform.admin, url)))
    responses.append(("bad create", platform.admin.post("/admin/stores/new", data={})))
    responses.append(("bad create htmx", htmx.post(platform.admin, "/admin/stores/new", data={})))
    responses.append(("create htmx", htmx.post(platform.admin, "/admin/stores/new",
                                               data={"name": "A", "slug": "a"})))
    for label, response in responses:
        with subtests.test(response=label):
            assert response.status_code < 500
            body = response.get_data(as_text=True)
            assert_csp_clean(body)
            ids = re.findall(r'\bid="([^"]+)"', body)
            assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
            for control in audit(body).tags:
                tag, attrs = control
                if tag in ("input", "select") and attrs.get("type") not in ("hidden",):
                    assert f'for="{attrs.get("id")}"' in body, (label, attrs)


def test_store_names_are_escaped(platform: SimpleNamespace) -> None:
    store_service.rename_store(actor=system_actor("tests"), store_id=platform.north.id,
                               name='<img src=x onerror="alert(1)">')
    for url in ("/admin/stores", f"/admin/stores/{platform.north.id}",
                f"/admin/stores/{platform.north.id}/archive"):
        body = platform.admin.get(url).get_data(as_text=True)
        assert "<img src=x" not in body
        assert "&lt;img src=x onerror=" in body
