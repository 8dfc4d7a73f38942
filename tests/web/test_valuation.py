"""What the stock is worth, as screens: the valuation report (per location, then entry by
entry; filters, sort, pages; full page or results; 422 naming a bad field; 404 for a
store the reader lacks; 403 for those who may not see costs), its CSV, the overview's
stats card and a product's value per location, all only for those who may see costs."""

from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace
from typing import Any

import pytest

from app.permissions import GRANTABLE_TO_STAFF, system_actor
from app.services import purchasing, stock

from .helpers import HX

VALUATION = "/reports/valuation"


def read_csv(response: Any) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def skus(body: str) -> list[str]:
    return re.findall(r'<span class="sku">([^<]+)</span>', body)


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    """Harbor (USD): at FRONT 26 mugs MUG-00…MUG-25, n+1 units at 1.50 each (MUG-25 is
    worth 39.00, MUG-00 1.50); a kettle of formula-like title at BACK, 3 at 20.00 (60.00);
    at BACK 4 cups counted in with no cost. Total 526.50 + 60.00 = 586.50.
    A stranger's store with costs of its own."""
    setup = system_actor("tests")
    store = make_store("Harbor")
    front, back = make_location(store, "FRONT"), make_location(store, "BACK")
    mugs = [make_product(store, sku=f"MUG-{n:02d}", title=f"Mug {n:02d}") for n in range(26)]
    kettle = make_product(store, sku="KET-1", title="=HYPERLINK(1)")
    cup = make_product(store, sku="CUP-1", title="Cup")
    make_entry(quantity=4, store=store, location=back, product=cup)
    supplier = purchasing.create_supplier(actor=setup, store_id=store.id, name="Acme")
    order = purchasing.create_purchase_order(actor=setup, supplier_id=supplier.id, lines=[
        *({"product_id": m.id, "location_id": front.id, "quantity": n + 1, "unit_cost": "1.50"}
          for n, m in enumerate(mugs)),
        {"product_id": kettle.id, "location_id": back.id, "quantity": 3, "unit_cost": "20"},
    ])
    purchasing.order_purchase_order(actor=setup, order_id=order.id)
    purchasing.receive_purchase_order(actor=setup, order_id=order.id, lines=[
        {"line_id": line.id, "quantity": line.ordered_qty} for line in order.lines])
    stranger = make_store("Stranger")
    far = make_location(stranger, "FAR")
    s_supplier = purchasing.create_supplier(actor=setup, store_id=stranger.id, name="Far Co")
    s_order = purchasing.create_purchase_order(actor=setup, supplier_id=s_supplier.id, lines=[
        {"product_id": make_product(stranger, sku="SECRET-1").id, "location_id": far.id,
         "quantity": 1, "unit_cost": "999"}])
    purchasing.order_purchase_order(actor=setup, order_id=s_order.id)
    purchasing.receive_purchase_order(actor=setup, order_id=s_order.id, lines=[
        {"line_id": s_order.lines[0].id, "quantity": 1}])
    return SimpleNamespace(
        store=store, front=front, back=back, kettle=kettle, cup=cup, mugs=mugs,
        stranger=stranger, far=far,
        owner=login_as("owner", store),
        staff=login_as("staff", store, grants=tuple(GRANTABLE_TO_STAFF)),
        admin=login_as("platform_admin"),
    )


def test_the_report_shows_the_value_per_location_then_entry_by_entry(shop):
    response = shop.owner.get(f"{VALUATION}?store={shop.store.id}&per_page=25")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<h1>Stock value</h1>" in body
    assert "586.50" in body  # the store
    assert "526.50" in body and "60.00" in body  # FRONT, BACK
    assert "1 entry without a cost" in body
    assert "SECRET-1" not in body and "999" not in body
    # By value, largest first: the kettle (60.00), then MUG-25 (39.00) down to MUG-02.
    assert skus(body) == ["KET-1", *(f"MUG-{n:02d}" for n in range(25, 1, -1))]
    assert "Page 1 of 2" in body
    assert 'aria-current="page">Stock value</a>' in body

    fragment = shop.owner.get(f"{VALUATION}?store={shop.store.id}&per_page=25&page=2",
                              headers=HX)
    page_two = fragment.get_data(as_text=True)
    assert page_two.startswith('<section id="results"') and "<html" not in page_two
    assert skus(page_two) == ["MUG-01", "MUG-00"]
    assert fragment.headers["HX-Push-Url"] == (
        f"{VALUATION}?store={shop.store.id}&per_page=25&page=2")


def test_the_report_sorts_filters_and_lists_entries_without_a_cost(shop):
    by_sku = shop.owner.get(f"{VALUATION}?store={shop.store.id}&sort=sku&per_page=100")
    assert skus(by_sku.get_data(as_text=True)) == ["KET-1", *(f"MUG-{n:02d}" for n in range(26))]
    cheapest = shop.owner.get(f"{VALUATION}?store={shop.store.id}&dir=asc&per_page=25")
    assert skus(cheapest.get_data(as_text=True))[:2] == ["MUG-00", "MUG-01"]
    at_back = shop.owner.get(f"{VALUATION}?store={shop.store.id}&location={shop.back.id}")
    body = at_back.get_data(as_text=True)
    assert skus(body) == ["KET-1"] and "Location: BACK" in body
    uncosted = shop.owner.get(f"{VALUATION}?store={shop.store.id}&show=uncosted")
    body = uncosted.get_data(as_text=True)
    assert skus(body) == ["CUP-1"] and "1 entry with stock and no cost" in body


@pytest.mark.parametrize(("query", "field"), [
    ("sort=colour", "sort"), ("dir=up", "dir"), ("page=0", "page"), ("page=x", "page"),
    ("per_page=7", "per_page"), ("show=all", "show"), ("show=uncosted&sort=value", "sort"),
])
def test_a_bad_filter_is_422_naming_it_and_left_out(shop, query, field):
    response = shop.owner.get(f"{VALUATION}?store={shop.store.id}&{query}")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f"<b>{field}</b>" in body
    assert "586.50" in body


def test_only_those_who_may_see_costs_get_the_report(shop):
    refused = shop.staff.get(f"{VALUATION}?store={shop.store.id}")
    assert refused.status_code == 403
    assert "586.50" not in refused.get_data(as_text=True)
    assert shop.staff.get(f"{VALUATION}.csv?store={shop.store.id}").status_code == 403
    assert ">Stock value</a>" not in shop.staff.get("/inventory").get_data(as_text=True)
    assert shop.owner.get(f"{VALUATION}?store={shop.stranger.id}").status_code == 404
    assert shop.owner.get(f"{VALUATION}?location={shop.far.id}").status_code == 404
    assert shop.owner.get(f"{VALUATION}.csv?store={shop.stranger.id}").status_code == 404
    # A platform admin sees every store, each in its currency.
    body = shop.admin.get(VALUATION).get_data(as_text=True)
    assert "586.50" in body and "999.00" in body and "SECRET-1" in body


def test_the_csv_has_every_entry_in_the_pages_order_with_exact_amounts(shop):
    response = shop.owner.get(f"{VALUATION}.csv?store={shop.store.id}&sort=sku&dir=desc")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="stockroom-stock-value-store-')
    rows = read_csv(response)
    assert rows[0] == ["store", "currency", "location", "sku", "title", "on_hand",
                       "average_cost", "value"]
    assert [r[3] for r in rows[1:]] == [*(f"MUG-{n:02d}" for n in range(25, -1, -1)), "KET-1"]
    assert rows[1] == ["Harbor", "USD", "FRONT", "MUG-25", "Mug 25", "26", "1.5000",
                       "39.0000"]
    assert rows[-1] == ["Harbor", "USD", "BACK", "KET-1", "'=HYPERLINK(1)", "3", "20.0000",
                        "60.0000"]
    uncosted = read_csv(shop.owner.get(f"{VALUATION}.csv?store={shop.store.id}&show=uncosted"))
    assert uncosted[1:] == [["Harbor", "USD", "BACK", "CUP-1", "Cup", "4", "", ""]]
    bad = shop.owner.get(f"{VALUATION}.csv?store={shop.store.id}&sort=colour")
    assert bad.status_code == 422


def test_the_overview_shows_the_value_to_those_who_may_see_costs(shop):
    page = shop.owner.get(f"/inventory?store={shop.store.id}").get_data(as_text=True)
    card = page.split('class="card value-card"', 1)[1].split("</div>", 1)[0]
    assert "USD</span> 586.50" in card and "1 without a cost" in card
    stats = shop.owner.get(f"/inventory/stats?store={shop.store.id}", headers=HX)
    assert "586.50" in stats.get_data(as_text=True)
    # The stats follow a stock change: five more of MUG-00 at its 1.50 is 7.50 more.
    mug = next(e for e in _entries(shop.store.id) if e["sku"] == "MUG-00")
    stock.adjust_stock(actor=system_actor("tests"), entry_id=mug["id"], delta=5,
                       reason="Found")
    again = shop.owner.get(f"/inventory/stats?store={shop.store.id}", headers=HX)
    assert "594.00" in again.get_data(as_text=True)

    for path in (f"/inventory?store={shop.store.id}", f"/inventory/stats?store={shop.store.id}",
                 "/inventory"):
        body = shop.staff.get(path).get_data(as_text=True)
        assert "value-card" not in body and "586.50" not in body, path


def test_past_its_limit_the_overview_links_to_the_report_instead_of_summing(shop, monkeypatch):
    from app.services.queries import valuation

    monkeypatch.setattr(valuation, "OVERVIEW_VALUE_LIMIT", 27)  # the store has 28 entries
    page = shop.owner.get(f"/inventory?store={shop.store.id}").get_data(as_text=True)
    card = page.split('class="card value-card"', 1)[1].split("</div>", 1)[0]
    assert "In the stock value report" in card and "586.50" not in card
    assert f'href="/reports/valuation?store={shop.store.id}"' in card


def test_a_products_page_shows_its_value_per_location_to_those_who_may(shop):
    owner = shop.owner.get(f"/products/{shop.kettle.id}").get_data(as_text=True)
    assert "Average cost" in owner and "20.00" in owner and "USD 60.00" in owner
    staff = shop.staff.get(f"/products/{shop.kettle.id}").get_data(as_text=True)
    assert "Average cost" not in staff and "60.00" not in staff
    cup = shop.owner.get(f"/products/{shop.cup.id}").get_data(as_text=True)
    assert "No cost yet" in cup and "has no cost yet" in cup


def _entries(store_id: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import InventoryEntry, Product

    rows = db.session.execute(
        select(InventoryEntry.id, Product.sku)
        .join(Product, Product.id == InventoryEntry.product_id)
        .where(InventoryEntry.store_id == store_id)
    ).all()
    db.session.rollback()
    return [{"id": r.id, "sku": r.sku} for r in rows]
