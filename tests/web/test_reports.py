"""The reports as screens: the store and location filters (404 for ids the reader does not
have), the sort and its headings, keyset pages, 422 naming a bad field, the CSV with the
page's filters and order, and the overview's row actions acting on a report's row in place."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app.clock import frozen_at

from .helpers import HX, action_links

REPORT_PATHS = {"low_stock": "/reports/low-stock", "out_of_stock": "/reports/out-of-stock",
                "reorder": "/reports/reorder"}


def read_csv(response: Any) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def row_ids(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="entry-(\d+)"', body)]


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    """Two locations of low and out of stock entries, a product to reorder, and a second
    store of the same owner's and a stranger's store."""
    store = make_store("Harbor")
    front, back = make_location(store, "FRONT"), make_location(store, "BACK")
    low = {}
    for n, (title, quantity, threshold, where) in enumerate([
        ("Blue Mug", 2, 5, front), ("=HYPERLINK(1)", 1, 3, back), ("Cup", 4, 4, front),
        ("Apron", 3, 9, back),
    ]):
        product = make_product(store, sku=f"LOW-{n}", title=title, reorder_point=10,
                               reorder_quantity=20 + n)
        low[title] = make_entry(quantity=quantity, threshold=threshold, store=store,
                                location=where, product=product)
    out = make_entry(quantity=0, threshold=2, store=store, location=front,
                     product=make_product(store, sku="OUT-1", title="Kettle"))
    make_entry(quantity=50, threshold=5, store=store, location=back)  # fine
    other = make_store("Dockside")
    other_place = make_location(other, "DOCK")
    make_entry(quantity=1, threshold=5, store=other, location=other_place)
    stranger = make_store("Stranger")
    strange_place = make_location(stranger, "FAR")
    make_entry(quantity=1, threshold=5, store=stranger, location=strange_place)
    client = login_as("owner", store)
    from app.extensions import db
    from app.models import Membership
    db.session.add(Membership(user_id=client.user.id, store_id=other.id, role="owner"))
    db.session.commit()
    return SimpleNamespace(store=store, front=front, back=back, low=low, out=out, other=other,
                           other_place=other_place, stranger=stranger,
                           strange_place=strange_place, client=client)


# ------------------------------------------------------------------------------ filters


@pytest.mark.parametrize("report", REPORT_PATHS)
def test_a_report_is_filtered_to_a_store_and_a_location(shop, report) -> None:
    path = REPORT_PATHS[report]
    everything = shop.client.get(path)
    assert everything.status_code == 200
    in_store = shop.client.get(path, query_string={"store": shop.store.id})
    at_back = shop.client.get(path, query_string={"store": shop.store.id,
                                                  "location": shop.back.id})
    assert in_store.status_code == at_back.status_code == 200
    if report == "low_stock":
        assert len(row_ids(everything.get_data(as_text=True))) == 5  # both of mine
        assert sorted(row_ids(in_store.get_data(as_text=True))) == sorted(
            e.id for e in shop.low.values())
        assert sorted(row_ids(at_back.get_data(as_text=True))) == sorted(
            [shop.low["=HYPERLINK(1)"].id, shop.low["Apron"].id])
        assert "Location: BACK" in at_back.get_data(as_text=True)  # a chip that removes it
    if report == "out_of_stock":
        assert row_ids(in_store.get_data(as_text=True)) == [shop.out.id]
        assert row_ids(at_back.get_data(as_text=True)) == []
        assert "Nothing at this location." in at_back.get_data(as_text=True)
    if report == "reorder":
        assert sorted(row_ids(at_back.get_data(as_text=True))) == sorted(
            [shop.low["=HYPERLINK(1)"].id, shop.low["Apron"].id])


@pytest.mark.parametrize("report", REPORT_PATHS)
@pytest.mark.parametrize("suffix", ["", ".csv"])
def test_a_foreign_or_unknown_store_or_location_is_404(shop, report, suffix) -> None:
    path = REPORT_PATHS[report] + suffix
    client = shop.client
    assert client.get(path, query_string={"store": shop.other.id}).status_code == 200
    for query in ({"store": shop.stranger.id}, {"store": 999_999},
                  {"location": shop.strange_place.id}, {"location": 999_999},
                  # A location of one of my stores, but not the store named.
                  {"store": shop.store.id, "location": shop.other_place.id}):
        assert client.get(path, query_string=query).status_code == 404, query


@pytest.mark.parametrize("report", REPORT_PATHS)
@pytest.mark.parametrize(("query", "field"), [
    ({"sort": "password"}, "sort"), ({"sort": "last_movement"}, "sort"),
    ({"dir": "sideways"}, "dir"), ({"per_page": "7"}, "per_page"),
    ({"store": "abc"}, "store"), ({"location": "-1"}, "location"),
    ({"cursor": "forged"}, "cursor"),
])
def test_a_bad_parameter_is_422_naming_it_and_the_rest_still_shows(shop, report, query,
                                                                   field) -> None:
    path = REPORT_PATHS[report]
    response = shop.client.get(path, query_string=query)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f"<li><b>{field}</b>:" in body
    assert "<table" in body  # the report still shows, without the bad value
    fragment = shop.client.get(path, query_string=query, headers=HX)
    assert fragment.status_code == 422 and f"<li><b>{field}</b>:" in fragment.get_data(
        as_text=True)
    if field != "cursor":  # a page link is never part of an export
        export = shop.client.get(path + ".csv", query_string=query)
        assert export.status_code == 422


def test_htmx_gets_the_results_alone_and_the_url_to_push(shop) -> None:
    query = {"store": shop.store.id, "sort": "title", "dir": "desc"}
    response = shop.client.get("/reports/low-stock", query_string=query, headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="results"')
    assert "<html" not in body and "HX-Request" in response.headers["Vary"]
    assert response.headers["HX-Push-Url"] == (
        f"/reports/low-stock?store={shop.store.id}&sort=title&dir=desc")


def test_the_filter_form_works_without_javascript(shop) -> None:
    body = shop.client.get("/reports/low-stock", query_string={"store": shop.store.id}
                           ).get_data(as_text=True)
    form = re.search(r'<form id="filters"[^>]*>', body).group(0)
    assert 'method="get"' in form and 'action="/reports/low-stock"' in form
    for name in ("store", "location", "sort", "dir"):
        assert re.search(rf'name="{name}"', body), name
    assert '<button type="submit" class="button">Apply</button>' in body
    # Only the store's own locations are offered.
    options = re.findall(r'<option value="(\d+)"', body.split('id="f-location"')[1]
                         .split("</select>")[0])
    assert sorted(map(int, options)) == sorted([shop.front.id, shop.back.id])


# --------------------------------------------------------------------------------- sort


def test_sorting_orders_the_rows_and_says_so_on_the_heading(shop) -> None:
    query = {"store": shop.store.id, "sort": "shortfall", "dir": "desc"}
    body = shop.client.get("/reports/low-stock", query_string=query).get_data(as_text=True)
    by_shortfall = [shop.low[t].id for t in ("Apron", "Blue Mug", "=HYPERLINK(1)", "Cup")]
    assert row_ids(body) == by_shortfall
    assert re.search(r'<th scope="col" class="num" aria-sort="descending"><a[^>]*>Short by',
                     body)
    assert body.count('aria-sort="none"') >= 5
    # The sort field says the same for phones, where the headings are hidden.
    assert '<option value="shortfall" selected>Short by</option>' in body
    assert '<option value="desc" selected>' in body
    # The heading's link turns the order around.
    assert f'href="/reports/low-stock?store={shop.store.id}&amp;sort=shortfall"' in body


def test_a_row_exactly_at_its_level_says_so_instead_of_short_by_0(shop) -> None:
    """Cup has 4 of a threshold of 4: listed, yet short by nothing. The pages say it is at
    the threshold (low stock) or at the point (reorder, where the threshold is the point);
    the others show their number, the sort by it works as before, the CSVs keep 0."""
    def cell(body: str, entry_id: int) -> str:
        row = re.search(rf'<tr id="entry-{entry_id}".*?</tr>', body, re.S)[0]
        return re.search(r'<td class="num shortfall">([^<]*)</td>', row)[1]

    cup, apron = shop.low["Cup"].id, shop.low["Apron"].id
    for url, words in (("/reports/low-stock", "At threshold"), ("/reports/reorder", "At point")):
        body = shop.client.get(url, query_string={"store": shop.store.id, "sort": "shortfall"}
                               ).get_data(as_text=True)
        assert (cell(body, cup), cell(body, apron)) == (words, "6"), url
        assert row_ids(body)[0] == cup
    low = read_csv(shop.client.get("/reports/low-stock.csv", query_string={
        "store": shop.store.id, "sort": "shortfall"}))
    assert low[1][3:9] == ["Cup", "4", "0", "4", "4", "0"]


def test_paging_walks_every_row_once_by_its_links(shop, make_product, make_entry) -> None:
    for n in range(30):
        make_entry(quantity=1 + n % 3, threshold=5, store=shop.store, location=shop.front,
                   product=make_product(shop.store, sku=f"BULK-{n:02d}", title="Same title"))
    url = f"/reports/low-stock?store={shop.store.id}&sort=title&dir=desc&per_page=25"
    seen, pages = [], 0
    while url:
        body = shop.client.get(url).get_data(as_text=True)
        seen += row_ids(body)
        pages += 1
        found = re.search(r'rel="next" href="([^"]+)"', body)
        url = found.group(1).replace("&amp;", "&") if found else None
    everything = read_csv(shop.client.get(
        f"/reports/low-stock.csv?store={shop.store.id}&sort=title&dir=desc"))
    assert pages == 2 and len(seen) == len(set(seen)) == 34 == len(everything) - 1
    # Ties on the title are broken by id, the same way on every page.
    same = [i for i in seen if i > shop.out.id]
    assert same == sorted(same, reverse=True) and len(same) == 30
    assert seen[:30] == same


# ---------------------------------------------------------------------------------- CSV


def test_the_csv_has_the_reports_rows_filters_and_order(shop) -> None:
    with frozen_at(datetime(2026, 3, 9, 10, 0)):
        response = shop.client.get("/reports/low-stock.csv", query_string={
            "store": shop.store.id, "sort": "available"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="stockroom-low-stock-store-{shop.store.id}-2026-03-09.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert rows[0] == ["store", "location", "sku", "title", "on_hand", "reserved",
                       "available", "threshold", "shortfall", "status"]
    assert rows[1:] == [
        ["Harbor", "BACK", "LOW-1", "'=HYPERLINK(1)", "1", "0", "1", "3", "2", "low_stock"],
        ["Harbor", "FRONT", "LOW-0", "Blue Mug", "2", "0", "2", "5", "3", "low_stock"],
        ["Harbor", "BACK", "LOW-3", "Apron", "3", "0", "3", "9", "6", "low_stock"],
        ["Harbor", "FRONT", "LOW-2", "Cup", "4", "0", "4", "4", "0", "low_stock"],
    ]
    at_front = read_csv(shop.client.get("/reports/low-stock.csv", query_string={
        "store": shop.store.id, "location": shop.front.id, "sort": "title", "dir": "desc"}))
    assert [r[3] for r in at_front[1:]] == ["Cup", "Blue Mug"]


def test_the_out_of_stock_and_reorder_csvs(shop) -> None:
    out = read_csv(shop.client.get("/reports/out-of-stock.csv",
                                   query_string={"store": shop.store.id}))
    assert out == [["store", "location", "sku", "title", "on_hand", "reserved", "available",
                    "threshold", "status"],
                   ["Harbor", "FRONT", "OUT-1", "Kettle", "0", "0", "0", "2", "out_of_stock"]]
    reorder = read_csv(shop.client.get("/reports/reorder.csv", query_string={
        "store": shop.store.id, "sort": "suggested", "dir": "desc"}))
    assert reorder[0] == ["store", "supplier", "location", "sku", "title", "on_hand",
                          "available", "incoming", "on_draft", "reorder_point", "order_up_to",
                          "shortfall", "suggested", "supplier_sku", "currency", "unit_cost",
                          "last_cost", "pack_size", "min_order_qty", "lead_time_days"]
    # Each entry's point is its threshold; the suggestion its product's reorder quantity.
    assert [r[3] for r in reorder[1:]] == ["LOW-3", "LOW-2", "LOW-1", "LOW-0", "OUT-1"]
    assert reorder[2] == ["Harbor", "", "FRONT", "LOW-2", "Cup", "4", "4", "0", "0", "4", "",
                          "0", "22", "", "", "", "", "", "", ""]
    assert reorder[3][4] == "'=HYPERLINK(1)"


def test_the_export_link_carries_the_filters_and_order(shop) -> None:
    body = shop.client.get("/reports/low-stock", query_string={
        "store": shop.store.id, "location": shop.front.id, "sort": "sku"}).get_data(as_text=True)
    assert (f'href="/reports/low-stock.csv?store={shop.store.id}&amp;location={shop.front.id}'
            f'&amp;sort=sku" download>Export CSV') in body


# -------------------------------------------------------------------------- row actions


def test_a_report_row_offers_the_overviews_actions(shop) -> None:
    entry = shop.low["Blue Mug"]
    report = shop.client.get("/reports/low-stock", query_string={"store": shop.store.id})
    overview = shop.client.get("/inventory", query_string={"store": shop.store.id})
    offered = action_links(report.get_data(as_text=True), entry.id)
    assert offered and offered == action_links(overview.get_data(as_text=True), entry.id)
    assert {"adjust", "set", "reserve", "transfer"} <= offered


def test_a_read_only_member_sees_the_report_without_actions(shop, login_as) -> None:
    viewer = login_as("staff", shop.store)
    body = viewer.get("/reports/low-stock").get_data(as_text=True)
    assert len(row_ids(body)) == 4
    assert action_links(body, shop.low["Blue Mug"].id) == set()


def test_an_action_from_the_report_swaps_its_row_in_place(shop, read_entry) -> None:
    entry = shop.low["Blue Mug"]
    report_url = f"/reports/low-stock?store={shop.store.id}"
    form = {"delta": "+10", "reason": "Delivery", "idempotency_key": "k-report-1",
            "next": report_url}
    response = shop.client.post(f"/inventory/entries/{entry.id}/adjust", data=form, headers=HX)
    assert response.status_code == 200
    assert read_entry(entry.id).quantity == 12
    assert response.headers["HX-Retarget"] == f"#entry-{entry.id}"
    assert "stock-changed" in response.headers["HX-Trigger"]
    body = response.get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{entry.id}".*?</tr>', body, re.S).group(0)
    # The row stays, says what happened and that it has left the report, and still acts.
    assert 'class="row-changed row-left"' in row
    assert "Adjusted +10: on hand 2 → 12. No longer low." in row
    assert '<td class="num shortfall">—</td>' in row
    assert "adjust" in action_links(row, entry.id)
    # The report's count is told the new total out of band; reloading, the row is gone.
    assert '<p class="count" id="report-count" hx-swap-oob="true">3 entries</p>' in body
    reloaded = shop.client.get(report_url).get_data(as_text=True)
    assert entry.id not in row_ids(reloaded)
    assert '<p class="count" id="report-count">3 entries</p>' in reloaded


def test_an_action_that_keeps_the_entry_low_keeps_it_listed(shop) -> None:
    entry = shop.low["Apron"]
    form = {"delta": "+1", "reason": "Found one", "idempotency_key": "k-report-2",
            "next": f"/reports/low-stock?store={shop.store.id}"}
    body = shop.client.post(f"/inventory/entries/{entry.id}/adjust", data=form,
                            headers=HX).get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{entry.id}".*?</tr>', body, re.S).group(0)
    assert 'class="row-changed"' in row and "No longer low" not in row
    assert '<td class="num shortfall">5</td>' in row
    assert '<p class="count" id="report-count" hx-swap-oob="true">4 entries</p>' in body


def test_an_out_of_stock_row_restocked_says_so(shop) -> None:
    form = {"quantity": "6", "reason": "", "idempotency_key": "k-report-3",
            "expected_version": "", "next": "/reports/out-of-stock"}
    body = shop.client.post(f"/inventory/entries/{shop.out.id}/set", data=form,
                            headers=HX).get_data(as_text=True)
    assert "Back in stock." in body


def test_without_javascript_an_action_returns_to_the_report(shop) -> None:
    entry = shop.low["Cup"]
    report_url = f"/reports/low-stock?store={shop.store.id}&sort=sku"
    form = {"delta": "-1", "reason": "Broken", "idempotency_key": "k-report-4",
            "next": report_url}
    response = shop.client.post(f"/inventory/entries/{entry.id}/adjust", data=form)
    assert response.status_code == 303 and response.headers["Location"] == report_url


def test_reorder_lines_carry_their_entrys_actions(shop) -> None:
    body = shop.client.get("/reports/reorder", query_string={"store": shop.store.id}
                           ).get_data(as_text=True)
    entry = shop.low["Blue Mug"]
    assert f'<a id="t{entry.id}" href="/inventory/entries/{entry.id}">Blue Mug</a>' in body
    assert {"adjust", "set", "reserve", "transfer"} <= action_links(body, entry.id)
