"""Who may use the purchasing screens, route by route: purchasing:manage in the store (its
owners and admins; never staff, whatever they were granted), others of the store 403,
another store's people 404 as for what does not exist, and nobody signed in the sign-in
page. A refused request changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from .buying import build, draft, people, purchasing_rows
from .helpers import HX

# (id, method, url, form): every purchasing route, as one who may buy sends it.
Route = tuple[str, str, Callable[[SimpleNamespace], str],
              Callable[[SimpleNamespace], dict[str, Any]] | None]


def _routes() -> list[Route]:
    def none(_w: SimpleNamespace) -> None:
        return None

    return [
        ("suppliers", "GET", lambda w: f"/purchasing/suppliers?store={w.store.id}", None),
        ("supplier-new-form", "GET", lambda w: f"/purchasing/suppliers/new?store={w.store.id}",
         None),
        ("supplier-new", "POST", lambda w: f"/purchasing/suppliers/new?store={w.store.id}",
         lambda w: {"name": "Brand New Supplies", "currency": "USD", "lead_time_days": "3"}),
        ("supplier", "GET", lambda w: f"/purchasing/suppliers/{w.acme.id}", None),
        ("supplier-edit-form", "GET", lambda w: f"/purchasing/suppliers/{w.acme.id}/edit",
         None),
        ("supplier-edit", "POST", lambda w: f"/purchasing/suppliers/{w.acme.id}/edit",
         lambda w: {"name": "Acme Renamed", "currency": "USD", "lead_time_days": "9"}),
        ("supplier-archive-form", "GET",
         lambda w: f"/purchasing/suppliers/{w.idle.id}/archive", None),
        ("supplier-archive", "POST", lambda w: f"/purchasing/suppliers/{w.idle.id}/archive",
         lambda w: {}),
        ("supplier-item-add", "POST", lambda w: f"/purchasing/suppliers/{w.acme.id}/items",
         lambda w: {"code": "POT-RED", "unit_cost": "7.25", "pack_size": "1",
                    "min_order_qty": "0"}),
        ("supplier-item-edit-form", "GET",
         lambda w: f"/purchasing/supplier-items/{w.item.id}/edit", None),
        ("supplier-item-edit", "POST",
         lambda w: f"/purchasing/supplier-items/{w.item.id}/edit",
         lambda w: {"unit_cost": "2.75", "pack_size": "6", "min_order_qty": "12"}),
        ("supplier-item-remove-form", "GET",
         lambda w: f"/purchasing/supplier-items/{w.item.id}/remove", None),
        ("supplier-item-remove", "POST",
         lambda w: f"/purchasing/supplier-items/{w.item.id}/remove", lambda w: {}),
        ("currency-form", "GET", lambda w: f"/purchasing/stores/{w.other_fresh.id}/currency",
         None),
        ("orders", "GET", lambda w: f"/purchasing/orders?store={w.store.id}", None),
        ("order-new-form", "GET", lambda w: f"/purchasing/orders/new?store={w.store.id}", None),
        ("order-new", "POST", lambda w: f"/purchasing/orders/new?store={w.store.id}",
         lambda w: {"supplier_id": str(w.acme.id), "location_id": str(w.warehouse.id),
                    "idempotency_key": "access-new"}),
        ("order", "GET", lambda w: f"/purchasing/orders/{w.draft.id}", None),
        ("order-edit-form", "GET", lambda w: f"/purchasing/orders/{w.draft.id}/edit", None),
        ("order-edit", "POST", lambda w: f"/purchasing/orders/{w.draft.id}/edit",
         lambda w: {"expected_on": "2030-01-31", "notes": "Ring first"}),
        ("line-add", "POST", lambda w: f"/purchasing/orders/{w.draft.id}/lines",
         lambda w: {"code": "POT-RED", "quantity": "3", "unit_cost": "7.00",
                    "location_id": str(w.shelf.id)}),
        ("line-edit-form", "GET",
         lambda w: f"/purchasing/orders/{w.draft.id}/lines/{w.draft.lines[0].id}/edit", None),
        ("line-edit", "POST",
         lambda w: f"/purchasing/orders/{w.draft.id}/lines/{w.draft.lines[0].id}/edit",
         lambda w: {"quantity": "24", "unit_cost": "2.40"}),
        ("line-remove-form", "GET",
         lambda w: f"/purchasing/orders/{w.draft.id}/lines/{w.draft.lines[0].id}/remove", None),
        ("line-remove", "POST",
         lambda w: f"/purchasing/orders/{w.draft.id}/lines/{w.draft.lines[0].id}/remove",
         lambda w: {}),
        ("order-place-form", "GET", lambda w: f"/purchasing/orders/{w.draft.id}/order", None),
        ("order-place", "POST", lambda w: f"/purchasing/orders/{w.draft.id}/order",
         lambda w: {"idempotency_key": "access-order"}),
        ("order-cancel-form", "GET", lambda w: f"/purchasing/orders/{w.draft.id}/cancel", None),
        ("order-cancel", "POST", lambda w: f"/purchasing/orders/{w.draft.id}/cancel",
         lambda w: {"idempotency_key": "access-cancel", "reason": "Not needed"}),
        ("order-print", "GET", lambda w: f"/purchasing/orders/{w.draft.id}/print", None),
        ("order-csv", "GET", lambda w: f"/purchasing/orders/{w.draft.id}.csv", None),
    ]


ROUTES = _routes()


@pytest.fixture
def world(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    from app.services import purchasing

    shop = build(make_store, make_location, make_product, make_entry)
    shop.idle = purchasing.create_supplier(actor=shop.admin, store_id=shop.store.id,
                                           name="Idle Imports")
    shop.draft = draft(shop, (shop.mug, shop.warehouse, 12))
    # A store of the owner's with nothing bought yet: its currency may still change.
    shop.other_fresh = shop.store
    shop.who = people(shop, login_as)
    return shop


@pytest.mark.parametrize("route", ROUTES, ids=[r[0] for r in ROUTES])
def test_only_those_who_manage_purchasing_may_use_a_purchasing_route(
    world: SimpleNamespace, client, route: Route
) -> None:
    _id, method, url, form = route
    target = url(world)

    def send(who: Any, htmx: bool = False) -> Any:
        headers = HX if htmx else {}
        if method == "GET":
            return who.get(target, headers=headers)
        return who.post(target, data=form(world) if form else {}, headers=headers)

    before = purchasing_rows()
    for name in ("viewer", "staff"):
        for htmx in (False, True):
            response = send(getattr(world.who, name), htmx)
            assert response.status_code == 403, (name, htmx, response.status_code)
    for htmx in (False, True):
        assert send(world.who.stranger, htmx).status_code == 404
    anonymous = send(client)
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]
    assert send(client, True).status_code == 401
    assert purchasing_rows() == before

    allowed = send(world.who.owner)
    assert allowed.status_code == (303 if method == "POST" else 200), \
        allowed.get_data(as_text=True)[:500]
    if method == "POST":
        assert purchasing_rows() != before, "a permitted change changed nothing"


def test_the_store_admin_may_buy_too(world: SimpleNamespace) -> None:
    page = world.who.manager.get(f"/purchasing/orders/{world.draft.id}")
    assert page.status_code == 200
    assert "Place order" in page.get_data(as_text=True)


def test_the_navigation_offers_purchasing_only_to_those_who_buy(world: SimpleNamespace) -> None:
    for name, shown in (("owner", True), ("manager", True), ("viewer", False),
                        ("staff", False)):
        body = getattr(world.who, name).get("/inventory").get_data(as_text=True)
        assert ('href="/purchasing/orders' in body) is shown, name
        assert ('>Suppliers</a>' in body) is shown, name


def test_another_stores_ids_are_not_found_in_urls_and_filters(world: SimpleNamespace) -> None:
    owner = world.who.owner
    for url in (f"/purchasing/suppliers/{world.beta.id}",
                f"/purchasing/suppliers?store={world.other.id}",
                f"/purchasing/orders?store={world.other.id}",
                f"/purchasing/orders?store={world.store.id}&supplier={world.beta.id}",
                f"/purchasing/orders?store={world.store.id}&supplier=abc",
                "/purchasing/suppliers?store=x1",
                f"/purchasing/stores/{world.other.id}/currency",
                "/purchasing/orders/999999", "/purchasing/orders/999999.csv"):
        assert owner.get(url).status_code == 404, url
