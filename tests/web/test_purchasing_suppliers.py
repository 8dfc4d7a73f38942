"""The suppliers screens: a store's list, a supplier's page with what it sells (added by SKU
or scan), editing, archiving and restoring, the store's currency, and a variant's suppliers
on its page. Every bad field is named beside itself and changes nothing."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Store, Supplier, SupplierItem
from app.services import purchasing

from .buying import GTIN, build, count, draft, people, purchasing_rows
from .helpers import HX


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    found = build(make_store, make_location, make_product, make_entry)
    found.who = people(found, login_as)
    return found


def _error(body: str, field: str) -> str:
    """The message beside a field (its id-error paragraph)."""
    match = re.search(rf'id="{field}-error">([^<]*)<', body)
    assert match, f"no error beside {field}: {body[:2000]}"
    return html.unescape(match.group(1))


# --------------------------------------------------------------------------- the list


def test_the_list_shows_each_supplier_with_its_terms_and_what_is_on_order(shop) -> None:
    draft(shop, (shop.mug, shop.warehouse, 12))
    body = shop.who.owner.get(f"/purchasing/suppliers?store={shop.store.id}").get_data(
        as_text=True)
    row = re.search(rf'<tr id="supplier-{shop.acme.id}">.*?</tr>', body, re.S).group(0)
    assert "Acme Wholesale" in row and "Ann Acme" in row and "orders@acme.test" in row
    assert "<code>USD</code>" in row and "7 days" in row
    cells = re.findall(r'<td class="num"[^>]*>(.*?)</td>', row)
    assert cells[1] == "1"  # one item
    assert "status=draft" in cells[3] and ">1<" in cells[3]  # one draft
    assert "Costs and stock values of Harbour Street are kept in <strong>USD</strong>" in body
    assert "Beta Supplies" not in body


def test_an_owner_of_several_stores_is_asked_which(shop, make_user, sign_in) -> None:
    user = make_user(role="owner", store=shop.store)
    from app.models import Membership

    db.session.add(Membership(user_id=user.id, store_id=shop.other.id, role="owner"))
    db.session.commit()
    client = sign_in(user)
    body = client.get("/purchasing/suppliers").get_data(as_text=True)
    assert "Which store?" in body
    assert f"/purchasing/suppliers?store={shop.other.id}" in body
    chosen = client.get(f"/purchasing/suppliers?store={shop.other.id}").get_data(as_text=True)
    assert "Beta Supplies" in chosen and "Acme Wholesale" not in chosen


# --------------------------------------------------------------------------- adding


def test_adding_a_supplier_opens_its_page(shop) -> None:
    owner = shop.who.owner
    form = owner.get(f"/purchasing/suppliers/new?store={shop.store.id}").get_data(as_text=True)
    assert 'name="currency"' in form and 'value="USD"' in form
    response = owner.post(f"/purchasing/suppliers/new?store={shop.store.id}", data={
        "name": "  Harbour Paper Co ", "contact_name": "Pat", "email": "pat@paper.test",
        "phone": "+44 1234", "currency": "gbp", "lead_time_days": "12", "notes": "Net 30"})
    assert response.status_code == 303
    db.session.rollback()
    made = db.session.scalar(select(Supplier).where(Supplier.name == "Harbour Paper Co"))
    assert (made.currency, made.lead_time_days, made.email) == ("GBP", 12, "pat@paper.test")
    assert response.headers["Location"] == f"/purchasing/suppliers/{made.id}"
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added supplier Harbour Paper Co" in page
    assert "(the store's is USD)" in page


def test_adding_from_the_dialog_loads_the_new_suppliers_page(shop) -> None:
    response = shop.who.owner.post(
        f"/purchasing/suppliers/new?store={shop.store.id}", headers=HX,
        data={"name": "Dialog Supplies", "currency": "", "lead_time_days": "0"})
    assert response.status_code == 200
    location = json.loads(response.headers["HX-Location"])
    assert location["path"].startswith("/purchasing/suppliers/") and location["target"] == "#main"
    assert "close-dialog" in response.headers["HX-Trigger"]


BAD_SUPPLIERS = [
    ("name", {"name": " \t"}, "Enter the supplier's name."),
    ("name", {"name": "x" * 121}, "Must be at most 120 characters."),
    ("email", {"email": "not an email"}, "Enter an email address, like orders@example.com."),
    ("currency", {"currency": "EURO"}, "Enter a three-letter currency code, like EUR."),
    ("currency", {"currency": "€"}, "Enter a three-letter currency code, like EUR."),
    ("lead_time_days", {"lead_time_days": "-1"}, "Must not be negative."),
    ("lead_time_days", {"lead_time_days": "366"}, "Must be at most 365."),
    ("lead_time_days", {"lead_time_days": "99999999999999999999"},
     "Enter a whole number, like 12."),
    ("lead_time_days", {"lead_time_days": "1.5"}, "Enter a whole number, like 12."),
    ("lead_time_days", {"lead_time_days": "１"}, "Enter a whole number, like 12."),
    ("phone", {"phone": "1" * 41}, "Must be at most 40 characters."),
    ("notes", {"notes": "n" * 2001}, "Must be at most 2000 characters."),
    ("contact_name", {"contact_name": "Ann\x00"}, None),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_SUPPLIERS,
                         ids=[f"{f}-{n}" for n, (f, _c, _m) in enumerate(BAD_SUPPLIERS)])
def test_a_bad_supplier_field_is_named_beside_it_and_nothing_is_added(
    shop, field, change, message
) -> None:
    before = purchasing_rows()
    for headers in ({}, HX):
        response = shop.who.owner.post(
            f"/purchasing/suppliers/new?store={shop.store.id}", headers=headers,
            data={"name": "Fine Name", "currency": "USD", "lead_time_days": "1", **change})
        assert response.status_code == 422
        body = response.get_data(as_text=True)
        said = _error(body, field)
        if message:
            assert said == message
        assert "Check the highlighted" in body
    assert purchasing_rows() == before


def test_a_name_the_store_has_is_refused_beside_the_name(shop) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/suppliers/new?store={shop.store.id}",
                                   data={"name": "ACME wholesale", "lead_time_days": "0"})
    assert response.status_code == 409
    assert _error(response.get_data(as_text=True), "name") == "Another supplier has this name."
    assert purchasing_rows() == before


# --------------------------------------------------------------------------- editing


def test_editing_a_supplier_says_what_changed(shop) -> None:
    owner = shop.who.owner
    dialog = owner.get(f"/purchasing/suppliers/{shop.acme.id}/edit", headers=HX)
    assert '<dialog id="action-dialog"' in dialog.get_data(as_text=True)
    response = owner.post(f"/purchasing/suppliers/{shop.acme.id}/edit", data={
        "name": "Acme Wholesale", "contact_name": "Ann Acme", "email": "orders@acme.test",
        "currency": "USD", "lead_time_days": "10"})
    assert response.status_code == 303
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved Acme Wholesale: lead time 7 → 10 days." in page


def test_a_suppliers_currency_stays_once_it_has_costs(shop) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/suppliers/{shop.acme.id}/edit", data={
        "name": "Acme Wholesale", "currency": "EUR", "lead_time_days": "7"})
    assert response.status_code == 409
    assert _error(response.get_data(as_text=True), "currency") == "Costs are already kept in USD."
    assert purchasing_rows() == before


def test_archiving_waits_for_open_orders_then_restoring_brings_it_back(shop) -> None:
    owner = shop.who.owner
    order = draft(shop, (shop.mug, shop.warehouse, 12))
    confirm = owner.get(f"/purchasing/suppliers/{shop.acme.id}/archive").get_data(as_text=True)
    assert "will take no new orders" in confirm
    refused = owner.post(f"/purchasing/suppliers/{shop.acme.id}/archive", headers=HX)
    assert refused.status_code == 409
    assert f"orders not yet closed ({order.number})" in refused.get_data(as_text=True)
    purchasing.cancel_purchase_order(actor=shop.admin, order_id=order.id)
    done = owner.post(f"/purchasing/suppliers/{shop.acme.id}/archive", headers=HX)
    assert done.status_code == 200 and "HX-Location" in done.headers
    listed = owner.get(f"/purchasing/suppliers?store={shop.store.id}").get_data(as_text=True)
    assert "Archived supplier Acme Wholesale." in listed
    assert re.search(r"Archived</h2>.*Acme Wholesale", listed, re.S)
    again = owner.post(f"/purchasing/suppliers/{shop.acme.id}/unarchive")
    assert again.status_code == 303
    assert "Restored supplier Acme Wholesale." in owner.get(
        again.headers["Location"]).get_data(as_text=True)


# --------------------------------------------------------------------------- its items


def test_a_variant_is_added_by_its_sku_or_scanned_gtin(shop) -> None:
    owner = shop.who.owner
    response = owner.post(f"/purchasing/suppliers/{shop.acme.id}/items", headers=HX, data={
        "code": "pot-red", "unit_cost": "7.125", "supplier_sku": "AC-POT",
        "pack_size": "4", "min_order_qty": "8", "preferred": "y"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith('<section id="supplier-items"')
    assert "Acme Wholesale sells POT-RED at 7.125\u00a0USD a unit, in packs of 4, at least 8 " \
           "an order, preferred." in body
    assert 'hx-swap-oob="true"' in body
    # Scanning the mug's barcode again changes its terms, and says so.
    response = owner.post(f"/purchasing/suppliers/{shop.acme.id}/items", data={
        "code": f" {GTIN} ", "unit_cost": "2.40", "pack_size": "6", "min_order_qty": "0"})
    assert response.status_code == 303
    db.session.rollback()
    mug = db.session.get(SupplierItem, shop.item.id)
    assert (mug.unit_cost, mug.min_order_qty, mug.preferred, mug.supplier_sku) == \
        (24000, 0, False, None)
    assert count(SupplierItem) == 2


BAD_ITEMS = [
    ("code", {"code": ""}, "Scan or type a SKU or GTIN."),
    ("code", {"code": "NOPE-1"}, "Nothing in this store has the SKU or GTIN “NOPE-1”."),
    ("code", {"code": "BETA-1"}, "Nothing in this store has the SKU or GTIN “BETA-1”."),
    ("code", {"code": "x" * 65}, "A SKU or GTIN has at most 64 characters."),
    ("unit_cost", {"unit_cost": ""}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "-1"}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "1,5"}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "1e3"}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "NaN"}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "1000000001"}, "Must be at most 1,000,000,000."),
    ("unit_cost", {"unit_cost": "0.00001"}, "Use at most 4 decimals."),
    ("pack_size", {"pack_size": "0"}, "Must be at least 1."),
    ("min_order_qty", {"min_order_qty": "-3"}, "Must not be negative."),
    ("supplier_sku", {"supplier_sku": "s" * 65}, "Must be at most 64 characters."),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_ITEMS,
                         ids=[f"{f}-{n}" for n, (f, _c, _m) in enumerate(BAD_ITEMS)])
def test_a_bad_item_field_is_named_beside_it_and_nothing_changes(
    shop, field, change, message
) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/suppliers/{shop.acme.id}/items", headers=HX,
                                   data={"code": "POT-RED", "unit_cost": "3", "pack_size": "1",
                                         "min_order_qty": "0", **change})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), field) == message
    assert purchasing_rows() == before


def test_what_has_no_stock_of_its_own_is_never_bought_in(shop) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/suppliers/{shop.acme.id}/items", data={
        "code": "GIFT-25", "unit_cost": "3", "pack_size": "1", "min_order_qty": "0"})
    assert response.status_code == 409
    assert "GIFT-25 is a digital product" in response.get_data(as_text=True)
    assert purchasing_rows() == before


def test_an_item_is_edited_and_removed_from_its_dialogs(shop) -> None:
    owner = shop.who.owner
    form = owner.get(f"/purchasing/supplier-items/{shop.item.id}/edit", headers=HX)
    assert 'value="2.50"' in form.get_data(as_text=True)
    edited = owner.post(f"/purchasing/supplier-items/{shop.item.id}/edit", headers=HX, data={
        "unit_cost": "2.60", "supplier_sku": "AC-MUG-10", "pack_size": "6",
        "min_order_qty": "12", "preferred": "y"})
    assert edited.status_code == 200
    assert edited.headers["HX-Retarget"] == "#supplier-items"
    assert "AC-MUG-10" in edited.get_data(as_text=True)
    bad = owner.post(f"/purchasing/supplier-items/{shop.item.id}/edit", headers=HX,
                     data={"unit_cost": "abc", "pack_size": "6", "min_order_qty": "12"})
    assert bad.status_code == 422
    assert _error(bad.get_data(as_text=True), "unit_cost") == "Enter an amount, like 12.50."
    removed = owner.post(f"/purchasing/supplier-items/{shop.item.id}/remove", headers=HX)
    assert removed.status_code == 200
    assert "Acme Wholesale no longer sells MUG-BLU." in removed.get_data(as_text=True)
    assert count(SupplierItem) == 0


# --------------------------------------------------------------------------- currency


def test_the_stores_currency_changes_only_before_it_buys(shop) -> None:
    owner = shop.who.owner
    url = f"/purchasing/stores/{shop.store.id}/currency"
    assert shop.who.viewer.post(url, data={"currency": "EUR"}).status_code == 403
    bad = owner.post(url, data={"currency": "E1"})
    assert bad.status_code == 422
    assert _error(bad.get_data(as_text=True), "currency") == \
        "Enter a three-letter currency code, like EUR."
    done = owner.post(url, data={"currency": "eur"})
    assert done.status_code == 303
    assert "Harbour Street keeps its costs in EUR (was USD)." in owner.get(
        done.headers["Location"]).get_data(as_text=True)
    draft(shop, (shop.mug, shop.warehouse, 12))
    refused = owner.post(url, data={"currency": "GBP"})
    assert refused.status_code == 409
    assert _error(refused.get_data(as_text=True), "currency") == "Costs are already kept in EUR."
    db.session.rollback()
    assert db.session.get(Store, shop.store.id).currency == "EUR"


# --------------------------------------------------------------------------- a variant's page


def test_a_variants_page_lists_its_suppliers_to_those_who_buy(shop) -> None:
    rival = purchasing.create_supplier(actor=shop.admin, store_id=shop.store.id,
                                       name="Rival Mugs", lead_time_days=2)
    purchasing.set_supplier_item(actor=shop.admin, supplier_id=rival.id,
                                 product_id=shop.mug.id, unit_cost="2.10")
    body = shop.who.owner.get(f"/products/{shop.mug.id}").get_data(as_text=True)
    panel = re.search(r'<section class="panel" id="product-suppliers".*?</section>', body,
                      re.S).group(0)
    # The preferred supplier first, then by cost.
    assert panel.index("Acme Wholesale") < panel.index("Rival Mugs")
    assert "Preferred" in panel and "AC-MUG-9" in panel and "2.50\u00a0USD" in panel
    assert "2.10\u00a0USD" in panel and "2 days" in panel
    viewer = shop.who.viewer.get(f"/products/{shop.mug.id}").get_data(as_text=True)
    assert "product-suppliers" not in viewer
    none = shop.who.owner.get(f"/products/{shop.pot.id}").get_data(as_text=True)
    assert "No supplier sells this variant on record." in none
