"""Purchase orders in the browser's shoes: starting a draft, adding lines by scanning or
typing codes (the supplier's minimum and cost filled in, a second scan adding a pack),
changing and removing them, placing and cancelling the order with incoming following, the
list's filters and pages, and the printable page and CSV for the supplier."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, PurchaseOrder, PurchaseOrderLine
from app.services import purchasing

from .buying import GTIN, build, count, draft, people, purchasing_rows
from .helpers import HX


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    found = build(make_store, make_location, make_product, make_entry)
    found.who = people(found, login_as)
    return found


def _error(body: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', body)
    assert match, f"no error beside {field}: {body[:3000]}"
    return html.unescape(match.group(1))


def _lines(order_id: int) -> list[tuple[str, int, int, int]]:
    """(SKU, location id, ordered, unit cost as stored) of each line, as committed."""
    db.session.rollback()
    from app.models import Product

    rows = db.session.execute(
        select(Product.sku, PurchaseOrderLine.location_id, PurchaseOrderLine.ordered_qty,
               PurchaseOrderLine.unit_cost)
        .join(Product, Product.id == PurchaseOrderLine.product_id)
        .where(PurchaseOrderLine.order_id == order_id).order_by(PurchaseOrderLine.id)
    ).all()
    db.session.rollback()
    return [tuple(r) for r in rows]


def _incoming(entry_id: int) -> int:
    db.session.rollback()
    value = db.session.get(InventoryEntry, entry_id).incoming_quantity
    db.session.rollback()
    return int(value)


# --------------------------------------------------------------------------- a new draft


def test_a_draft_starts_from_its_supplier_and_where_it_arrives(shop) -> None:
    owner = shop.who.owner
    form = owner.get(f"/purchasing/orders/new?store={shop.store.id}&supplier={shop.acme.id}")
    body = form.get_data(as_text=True)
    assert re.search(rf'<option selected value="{shop.acme.id}">Acme Wholesale \(USD\)</option>',
                     body)
    assert "Beta Supplies" not in body
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', body).group(1)
    data = {"supplier_id": str(shop.acme.id), "location_id": str(shop.shelf.id),
            "expected_on": "2030-03-31", "notes": "Deliver to the back door",
            "exchange_rate": "", "idempotency_key": key}
    response = owner.post(f"/purchasing/orders/new?store={shop.store.id}", data=data)
    assert response.status_code == 303
    db.session.rollback()
    order = db.session.scalar(select(PurchaseOrder))
    assert (order.status, order.expected_on, order.notes, order.number) == (
        "draft", date(2030, 3, 31), "Deliver to the back door", "PO-0001")
    assert order.deliver_to_id == shop.shelf.id
    assert response.headers["Location"] == f"/purchasing/orders/{order.id}"
    page = owner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Started PO-0001 to Acme Wholesale." in page
    assert re.search(r"<dt>Deliver to</dt><dd>SHELF_B", page)
    # The line form delivers to SHELF_B, as the draft said, and waits for a scan.
    assert re.search(rf'<option selected value="{shop.shelf.id}">SHELF_B</option>', page)
    assert re.search(r'<input[^>]*autofocus[^>]*name="code"|name="code"[^>]*autofocus', page)
    # Still so when the draft is opened again later, from the list.
    later = owner.get(f"/purchasing/orders/{order.id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{shop.shelf.id}">SHELF_B</option>', later)
    printed = owner.get(f"/purchasing/orders/{order.id}/print").get_data(as_text=True)
    assert "<dt>Deliver to</dt><dd>SHELF_B" in printed
    # A double click sends the same key: one draft.
    again = owner.post(f"/purchasing/orders/new?store={shop.store.id}", data=data)
    assert again.status_code == 303 and count(PurchaseOrder) == 1


BAD_DRAFTS = [
    ("supplier_id", {"supplier_id": ""}, "Choose a supplier from the list."),
    ("supplier_id", {"supplier_id": "+1"}, "Choose a supplier from the list."),
    ("location_id", {"location_id": ""}, "Choose a location from the list."),
    ("location_id", {"location_id": "99999"}, "Choose a location from the list."),
    ("expected_on", {"expected_on": "2026-02-30"}, "Enter a real date, like 2026-05-31."),
    ("expected_on", {"expected_on": "31/12/2026"}, "Enter a date, like 2026-05-31."),
    ("expected_on", {"expected_on": "1999-12-31"}, "Enter a date between 2000 and 2099."),
    ("expected_on", {"expected_on": "２０２６-01-01"}, "Enter a date, like 2026-05-31."),
    ("exchange_rate", {"exchange_rate": "-2"}, "Enter a rate, like 1.0825."),
    ("exchange_rate", {"exchange_rate": "2"},
     "The order is in the store's currency (USD): it needs no rate."),
    ("notes", {"notes": "n" * 2001}, "Must be at most 2000 characters."),
    ("idempotency_key", {"idempotency_key": ""}, None),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_DRAFTS,
                         ids=[f"{f}-{n}" for n, (f, _c, _m) in enumerate(BAD_DRAFTS)])
def test_a_bad_draft_field_is_named_beside_it_and_nothing_is_made(
    shop, field, change, message
) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/orders/new?store={shop.store.id}", data={
        "supplier_id": str(shop.acme.id), "location_id": str(shop.warehouse.id),
        "idempotency_key": f"bad-{field}", **change})
    assert response.status_code == 422
    said = _error(response.get_data(as_text=True), field)
    if message:
        assert said == message
    assert purchasing_rows() == before


def test_another_stores_supplier_is_not_on_the_list(shop) -> None:
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/orders/new?store={shop.store.id}", data={
        "supplier_id": str(shop.beta.id), "location_id": str(shop.warehouse.id),
        "idempotency_key": "foreign"})
    assert response.status_code == 422
    assert _error(response.get_data(as_text=True), "supplier_id") == \
        "Choose a supplier from the list."
    assert purchasing_rows() == before


# --------------------------------------------------------------------------- lines by scan


def test_scanning_adds_lines_with_the_suppliers_minimum_and_cost(shop) -> None:
    order = draft(shop)
    owner, url = shop.who.owner, f"/purchasing/orders/{order.id}/lines"
    where = str(shop.warehouse.id)
    # The mug's barcode: Acme's minimum of 12 in packs of 6, at its 2.50.
    first = owner.post(url, headers=HX, data={"code": GTIN, "location_id": where})
    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert body.startswith('<section id="po-lines"')
    assert "Added 12 × MUG-BLU to WAREHOUSE_A at 2.50\u00a0USD." in body
    assert 'id="po-total">30.00<' in body
    # Scanned again (its SKU in any case): one more pack on the same line.
    again = owner.post(url, headers=HX, data={"code": "mug-blu", "location_id": where})
    assert "MUG-BLU at WAREHOUSE_A: 12 → 18." in again.get_data(as_text=True)
    assert re.search(r'<tr id="line-\d+" class="row-changed">', again.get_data(as_text=True))
    # A number typed first is what the scan adds.
    owner.post(url, headers=HX, data={"code": "MUG-BLU", "quantity": "2", "location_id": where})
    # A teapot Acme has no cost for: typed with its cost, to the shelf.
    owner.post(url, headers=HX, data={"code": "POT-RED", "quantity": "3", "unit_cost": "7.25",
                                      "location_id": str(shop.shelf.id)})
    assert _lines(order.id) == [("MUG-BLU", shop.warehouse.id, 20, 25000),
                                ("POT-RED", shop.shelf.id, 3, 72500)]
    page = owner.get(f"/purchasing/orders/{order.id}").get_data(as_text=True)
    assert "theirs AC-MUG-9" in page and 'id="po-total">71.75<' in page
    # Without JavaScript: the order's page again, delivering to the same place.
    plain = owner.post(url, data={"code": "MUG-BLU", "location_id": str(shop.shelf.id)})
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/purchasing/orders/{order.id}?to={shop.shelf.id}"
    assert _lines(order.id)[-1] == ("MUG-BLU", shop.shelf.id, 12, 25000)


BAD_LINES = [
    ("code", {"code": ""}, "Scan or type a SKU or GTIN."),
    ("code", {"code": "NOPE"}, "Nothing in this store has the SKU or GTIN “NOPE”."),
    ("code", {"code": "BETA-1"}, "Nothing in this store has the SKU or GTIN “BETA-1”."),
    ("unit_cost", {"code": "POT-RED"},
     "This supplier has no cost on record for the product: enter one."),
    ("unit_cost", {"unit_cost": "12,50"}, "Enter an amount, like 12.50."),
    ("unit_cost", {"unit_cost": "-1"}, "Enter an amount, like 12.50."),
    ("quantity", {"quantity": "0"}, "Must be at least 1."),
    ("quantity", {"quantity": "-4"}, "Must be at least 1."),
    ("quantity", {"quantity": "12345678901"}, "Enter a whole number, like 12."),
    ("quantity", {"code": "POT-RED", "quantity": "1000000000", "unit_cost": "1000000000"},
     "The line's total (quantity × unit cost) is beyond 100,000,000,000."),
    ("quantity", {"quantity": "3.5"}, "Enter a whole number, like 12."),
    ("location_id", {"location_id": ""}, "Choose a location from the list."),
    ("location_id", {"location_id": "abc"}, "Choose a location from the list."),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD_LINES,
                         ids=[f"{f}-{n}" for n, (f, _c, _m) in enumerate(BAD_LINES)])
def test_a_bad_line_is_named_beside_its_field_and_the_draft_stays(
    shop, field, change, message
) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12))
    before = purchasing_rows()
    for headers in (HX, {}):
        response = shop.who.owner.post(f"/purchasing/orders/{order.id}/lines", headers=headers,
                                       data={"code": "MUG-BLU",
                                             "location_id": str(shop.warehouse.id), **change})
        assert response.status_code == 422, response.get_data(as_text=True)[:600]
        assert _error(response.get_data(as_text=True), field) == message
    assert purchasing_rows() == before


def test_what_cannot_be_bought_or_a_foreign_place_is_refused(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12))
    before = purchasing_rows()
    owner, url = shop.who.owner, f"/purchasing/orders/{order.id}/lines"
    gift = owner.post(url, data={"code": "GIFT-25", "unit_cost": "1",
                                 "location_id": str(shop.warehouse.id)})
    assert gift.status_code == 409
    assert "GIFT-25 is a digital product" in gift.get_data(as_text=True)
    foreign = owner.post(url, data={"code": "POT-RED", "unit_cost": "1",
                                    "location_id": str(shop.other_place.id)})
    assert foreign.status_code == 404
    assert purchasing_rows() == before


def test_a_placed_order_takes_no_more_lines(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12))
    purchasing.order_purchase_order(actor=shop.admin, order_id=order.id)
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/orders/{order.id}/lines", data={
        "code": "POT-RED", "unit_cost": "1", "location_id": str(shop.warehouse.id)})
    assert response.status_code == 409
    assert "PO-0001 is ordered: only a draft can change its lines." in response.get_data(
        as_text=True)
    assert purchasing_rows() == before
    page = shop.who.owner.get(f"/purchasing/orders/{order.id}").get_data(as_text=True)
    assert 'name="code"' not in page and "/lines/" not in page


def test_a_line_is_changed_and_removed_from_its_dialogs(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12), (shop.pot, shop.shelf, 2))
    owner, line = shop.who.owner, order.lines[0]
    base = f"/purchasing/orders/{order.id}/lines/{line.id}"
    form = owner.get(f"{base}/edit", headers=HX).get_data(as_text=True)
    assert 'value="12"' in form and 'value="2.50"' in form
    changed = owner.post(f"{base}/edit", headers=HX, data={
        "quantity": "30", "unit_cost": "2.40", "expected_version": str(order.version)})
    assert changed.status_code == 200 and changed.headers["HX-Retarget"] == "#po-lines"
    assert "MUG-BLU at WAREHOUSE_A: 12 → 30 at 2.40\u00a0USD." in changed.get_data(as_text=True)
    stale = owner.post(f"{base}/edit", headers=HX, data={
        "quantity": "31", "unit_cost": "2.40", "expected_version": str(order.version)})
    assert stale.status_code == 409
    assert "PO-0001 changed since you loaded it" in stale.get_data(as_text=True)
    bad = owner.post(f"{base}/edit", data={"quantity": "", "unit_cost": "x"})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert _error(body, "quantity") == "Enter a whole number."
    removed = owner.post(f"{base}/remove", headers=HX)
    assert removed.status_code == 200
    assert "Removed MUG-BLU at WAREHOUSE_A from PO-0001." in removed.get_data(as_text=True)
    assert _lines(order.id) == [("POT-RED", shop.shelf.id, 2, 70000)]
    assert owner.get(f"/purchasing/orders/{order.id}/lines/999999/edit").status_code == 404


# --------------------------------------------------------------------------- its lifecycle


def test_placing_then_cancelling_moves_incoming_and_the_status(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12), expected_on=date(2030, 1, 15))
    owner = shop.who.owner
    confirm = owner.get(f"/purchasing/orders/{order.id}/order", headers=HX).get_data(
        as_text=True)
    assert "become incoming at" in confirm and "<code>WAREHOUSE_A</code>" in confirm
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"',
                    confirm).group(1)
    placed = owner.post(f"/purchasing/orders/{order.id}/order", headers=HX, data={
        "idempotency_key": key, "expected_version": str(order.version)})
    assert placed.status_code == 200
    assert json.loads(placed.headers["HX-Trigger"]).get("stock-changed")
    assert _incoming(shop.entry.id) == 12
    page = owner.get(f"/purchasing/orders/{order.id}").get_data(as_text=True)
    assert "Placed PO-0001 with Acme Wholesale: 12 units on their way." in page
    assert ">Ordered</span>" in page and "Outstanding" in page
    assert "Place order" not in page
    # The overview shows what is coming.
    overview = owner.get(f"/inventory?store={shop.store.id}").get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{shop.entry.id}".*?</tr>', overview, re.S).group(0)
    assert ">12<" in row
    # Part of it arrives; cancelling the rest takes only what is still awaited away.
    purchasing.receive_purchase_order(actor=shop.admin, order_id=order.id,
                                      lines=[{"line_id": order.lines[0].id, "quantity": 5}])
    listed = owner.get(f"/purchasing/orders?store={shop.store.id}&status=open")
    assert "Partly received" in listed.get_data(as_text=True)
    dialog = owner.get(f"/purchasing/orders/{order.id}/cancel").get_data(as_text=True)
    assert "The 7 units not yet received will no longer count as incoming." in dialog
    key = re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', dialog).group(1)
    cancelled = owner.post(f"/purchasing/orders/{order.id}/cancel", data={
        "idempotency_key": key, "reason": "Supplier out of stock"})
    assert cancelled.status_code == 303
    assert _incoming(shop.entry.id) == 0
    page = owner.get(cancelled.headers["Location"]).get_data(as_text=True)
    assert "Cancelled PO-0001. 7 units not yet received no longer count as incoming." in page
    assert ">Cancelled</span>" in page and "Cancel order" not in page


def test_ordering_is_refused_while_something_is_missing(shop) -> None:
    empty = draft(shop)
    owner = shop.who.owner
    refused = owner.post(f"/purchasing/orders/{empty.id}/order", headers=HX,
                         data={"idempotency_key": "k-empty"})
    assert refused.status_code == 409
    assert "PO-0001 has no lines: add what to order first." in refused.get_data(as_text=True)
    # An order in another currency needs its rate first; the details dialog takes it.
    euro = purchasing.create_supplier(actor=shop.admin, store_id=shop.store.id,
                                      name="Euro Mugs", currency="EUR")
    order = purchasing.create_purchase_order(
        actor=shop.admin, supplier_id=euro.id, lines=[{
            "product_id": shop.mug.id, "location_id": shop.warehouse.id, "quantity": 6,
            "unit_cost": "2.00"}])
    before = purchasing_rows()
    no_rate = owner.post(f"/purchasing/orders/{order.id}/order", headers=HX,
                         data={"idempotency_key": "k-rate"})
    assert no_rate.status_code == 409
    assert "PO-0002 is in EUR: give the exchange rate to USD before ordering" in \
        no_rate.get_data(as_text=True)
    assert purchasing_rows() == before
    bad = owner.post(f"/purchasing/orders/{order.id}/edit", data={"exchange_rate": "0"})
    assert bad.status_code == 422
    assert _error(bad.get_data(as_text=True), "exchange_rate") == \
        "Must be above 0 and below 1,000,000."
    saved = owner.post(f"/purchasing/orders/{order.id}/edit", data={
        "exchange_rate": "1.0825", "expected_on": "2031-12-01",
        "expected_version": str(order.version)})
    assert saved.status_code == 303
    page = owner.get(saved.headers["Location"]).get_data(as_text=True)
    assert "1.0825 USD per EUR" in page and 'id="po-total">12.00<' in page
    assert "In USD, at 1.0825 USD per EUR: 12.99\u00a0USD." in page and "2031-12-01" in page


def test_details_of_a_closed_order_no_longer_change(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12))
    purchasing.cancel_purchase_order(actor=shop.admin, order_id=order.id)
    before = purchasing_rows()
    response = shop.who.owner.post(f"/purchasing/orders/{order.id}/edit",
                                   data={"notes": "Too late"})
    assert response.status_code == 409
    assert "PO-0001 is cancelled: it changes no more." in response.get_data(as_text=True)
    bad_date = shop.who.owner.post(f"/purchasing/orders/{order.id}/edit",
                                   data={"expected_on": "2030-13-01"})
    assert bad_date.status_code == 422
    assert _error(bad_date.get_data(as_text=True), "expected_on") == \
        "Enter a real date, like 2026-05-31."
    again = shop.who.owner.post(f"/purchasing/orders/{order.id}/cancel",
                                data={"idempotency_key": "again"})
    assert again.status_code == 409
    assert purchasing_rows() == before


# --------------------------------------------------------------------------- the list


def test_the_list_filters_by_status_and_supplier_and_pages_by_key(shop) -> None:
    rival = purchasing.create_supplier(actor=shop.admin, store_id=shop.store.id,
                                       name="Rival Mugs")
    made = [draft(shop, (shop.mug, shop.warehouse, 12)) for _ in range(27)]
    purchasing.order_purchase_order(actor=shop.admin, order_id=made[0].id)
    purchasing.create_purchase_order(actor=shop.admin, supplier_id=rival.id)
    owner = shop.who.owner
    url = f"/purchasing/orders?store={shop.store.id}"
    first = owner.get(url).get_data(as_text=True)
    numbers = re.findall(r'class="po-number"[^>]*>(PO-\d+)<', first)
    assert numbers[0] == "PO-0028" and len(numbers) == 25
    more = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1)
    second = owner.get(html.unescape(more)).get_data(as_text=True)
    assert re.findall(r'class="po-number"[^>]*>(PO-\d+)<', second) == ["PO-0003", "PO-0002",
                                                                       "PO-0001"]
    assert "First page" in second and "Older orders →" not in second
    ordered = owner.get(f"{url}&status=ordered").get_data(as_text=True)
    assert re.findall(r'class="po-number"[^>]*>(PO-\d+)<', ordered) == ["PO-0001"]
    rivals = owner.get(f"{url}&supplier={rival.id}", headers=HX)
    assert rivals.headers["HX-Push-Url"] == f"{url}&supplier={rival.id}"
    assert re.findall(r'class="po-number"[^>]*>(PO-\d+)<',
                      rivals.get_data(as_text=True)) == ["PO-0028"]
    bad = owner.get(f"{url}&status=lost")
    assert bad.status_code == 422
    assert "Choose a status from the list." in bad.get_data(as_text=True)
    assert owner.get(f"{url}&before=x").status_code == 422
    assert owner.get(f"/purchasing/orders?store={shop.store.id}&status=%00").status_code == 422


def test_an_empty_list_says_what_to_do(shop) -> None:
    body = shop.who.owner.get(f"/purchasing/orders?store={shop.store.id}").get_data(
        as_text=True)
    assert "Harbour Street has no purchase orders yet." in body


# --------------------------------------------------------------------------- to the supplier


def test_the_printable_order_has_no_navigation_and_every_line(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12), (shop.pot, shop.shelf, 2),
                  expected_on=date(2030, 1, 15), notes="Ring the bell")
    response = shop.who.owner.get(f"/purchasing/orders/{order.id}/print")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'class="sidebar"' not in body and 'class="topbar"' not in body
    assert "Purchase order <span class=\"po-number\">PO-0001</span>" in body
    assert "Acme Wholesale" in body and "orders@acme.test" in body
    assert "AC-MUG-9" in body and "Ring the bell" in body and "2030-01-15" in body
    assert "44.00\u00a0USD" in body
    assert ">Draft</p>" in body  # stamped: not yet placed
    assert "/static/purchasing" in body and "<script>" not in body


def test_the_csv_is_the_orders_lines_for_the_supplier(shop) -> None:
    order = draft(shop, (shop.mug, shop.warehouse, 12), (shop.pot, shop.shelf, 2))
    response = shop.who.owner.get(f"/purchasing/orders/{order.id}.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="PO-0001.csv"'
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["order", "supplier", "line", "supplier_sku", "sku", "title",
                       "deliver_to", "quantity", "unit_cost", "line_total", "currency",
                       "expected_on"]
    assert rows[1:] == [
        ["PO-0001", "Acme Wholesale", "1", "AC-MUG-9", "MUG-BLU", "Blue Mug", "WAREHOUSE_A",
         "12", "2.50", "30.00", "USD", ""],
        ["PO-0001", "Acme Wholesale", "2", "", "POT-RED", "Red Teapot", "SHELF_B", "2", "7.00",
         "14.00", "USD", ""],
    ]


def test_csv_cells_never_become_formulas(shop, make_product) -> None:
    sneaky = make_product(shop.store, sku="=CMD()", title="=HYPERLINK(\"x\")")
    order = draft(shop, (sneaky, shop.warehouse, 1))
    body = shop.who.owner.get(f"/purchasing/orders/{order.id}.csv").get_data(as_text=True)
    assert "'=CMD()" in body and ",=" not in body
