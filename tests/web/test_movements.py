"""The Movements page (audit log), its CSV export, and an entry's history and chart:
full page vs fragment, every filter, keyset paging, permissions and tenancy."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from app.clock import frozen_at
from app.extensions import db
from app.models import Store
from app.permissions import ADJUST, AUDIT, Actor
from app.services import stock

from .helpers import HX, assert_csp_clean


def is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>") and "</html>" in body


def shown(body: str) -> list[int]:
    """Ids of the movements a page lists, in order."""
    return [int(n) for n in re.findall(r'<tr id="movement-(\d+)"', body)]


def link(body: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', body)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def ledger(
    scene: Callable[..., SimpleNamespace],
    make_store: Callable[..., Store],
    make_location: Callable[..., Any],
    make_product: Callable[..., Any],
    make_entry: Callable[..., Any],
    admin_actor: Actor,
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """Store "Alpha": a mug at AISLE_1 (received 10, reserved 2) and a cap at the spare
    location, moved on known days; store "Beta", foreign to Alpha's people."""
    with frozen_at(datetime(2026, 3, 1, 9, 0)):
        place = scene(store=make_store("Alpha"), quantity=10, reserved=2, title="Blue Mug",
                      sku="MUG-BLU", code="aisle_1")
        cap = make_entry(store=place.store, location=place.spare, quantity=5,
                         product=make_product(place.store, sku="CAP-RED", title="Red Cap"))
    with frozen_at(datetime(2026, 3, 3, 12, 0)):
        stock.adjust_stock(actor=admin_actor, entry_id=cap.id, delta=-1, reason="Damaged")
    with frozen_at(datetime(2026, 3, 5, 23, 59)):
        stock.adjust_stock(actor=admin_actor, entry_id=place.entry.id, delta=4,
                               reason="Found", reference="COUNT-7")
    beta = make_store("Beta")
    with frozen_at(datetime(2026, 3, 2, 9, 0)):
        foreign = make_entry(store=beta, quantity=9,
                             product=make_product(beta, sku="SECRET-SKU", title="Hidden Hat"))
    place.cap, place.beta, place.foreign = cap, beta, foreign
    place.client = login_as("owner", place.store)
    place.user = place.client.user
    return place


def movement_ids(**where: Any) -> list[int]:
    """Ledger ids, newest first, straight from the table."""
    from sqlalchemy import select

    from app.models import StockMovement

    db.session.rollback()
    query = select(StockMovement.id).order_by(StockMovement.created_at.desc(),
                                              StockMovement.id.desc())
    for name, value in where.items():
        query = query.where(getattr(StockMovement, name) == value)
    ids = list(db.session.scalars(query))
    db.session.rollback()
    return ids


# --------------------------------------------------------------------------- the page


def test_movements_is_a_full_page_without_htmx(ledger: SimpleNamespace) -> None:
    response = ledger.client.get("/movements")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert 'id="filters"' in body and 'id="results"' in body
    assert re.search(r'href="/movements"\s+aria-current="page">Movements</a>', body)
    assert shown(body) == movement_ids(store_id=ledger.store.id)
    assert "HX-Request" in response.vary
    assert_csp_clean(body)


def test_movements_answers_htmx_with_the_results_fragment(ledger: SimpleNamespace) -> None:
    response = ledger.client.get("/movements?type=adjustment", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not is_full_page(body)
    assert re.match(r'\s*<section id="results"', body)
    assert 'id="filters"' not in body
    assert shown(body) == movement_ids(store_id=ledger.store.id, type="adjustment")
    assert response.headers["HX-Push-Url"] == "/movements?type=adjustment"
    assert "HX-Request" in response.vary


def test_a_boosted_or_history_restore_request_gets_the_whole_page(ledger) -> None:
    for extra in ({"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}):
        body = ledger.client.get("/movements", headers={**HX, **extra}).get_data(as_text=True)
        assert is_full_page(body)


def _opening(p: SimpleNamespace) -> list[int]:
    """Alpha's movements of 1 March: everything but the two adjustments."""
    later = movement_ids(type="adjustment")
    return [i for i in movement_ids(store_id=p.store.id) if i not in later]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda p: {"store": p.store.id}, lambda p: movement_ids(store_id=p.store.id)),
        (lambda p: {"product": p.product.id}, lambda p: movement_ids(product_id=p.product.id)),
        (lambda p: {"location": p.spare.id}, lambda p: movement_ids(location_id=p.spare.id)),
        (lambda p: {"type": "reserved"},
         lambda p: movement_ids(store_id=p.store.id, type="reserved")),
        (lambda p: {"actor": "system:tests"}, lambda p: movement_ids(store_id=p.store.id)),
        (lambda p: {"actor": "SYSTEM"}, lambda p: movement_ids(store_id=p.store.id)),
        (lambda p: {"from": "2026-03-03"},
         lambda p: movement_ids(store_id=p.store.id, type="adjustment")),
        (lambda p: {"to": "2026-03-01"}, _opening),
        (lambda p: {"from": "2026-03-05", "to": "2026-03-05"},
         lambda p: movement_ids(entry_id=p.entry.id, type="adjustment")),
    ],
)
def test_each_filter_narrows_the_list(ledger, htmx, query, expected) -> None:
    params = query(ledger)
    body = htmx.get(ledger.client, "/movements", query_string=params).get_data(as_text=True)
    ids = expected(ledger)
    assert ids, "the case must select something"
    assert ids != movement_ids() or "store" in params, "the case must leave something out"
    assert shown(body) == ids
    # Every filter shows as a chip that removes it.
    assert body.count('class="chip"') == len(params)


def test_filtering_by_a_user_id_names_them_and_lists_their_changes(ledger, make_user) -> None:
    owner = ledger.user
    actor = Actor(name=owner.email, user_id=owner.id,
                  store_permissions={ledger.store.id: frozenset({ADJUST})})
    change = stock.adjust_stock(actor=actor, entry_id=ledger.cap.id, delta=2, reason="Mine")
    body = ledger.client.get(f"/movements?actor={owner.id}").get_data(as_text=True)
    assert shown(body) == list(change.movement_ids)
    assert f"By: {owner.email}" in body
    # Each row's "by" links to exactly this filter.
    assert f'href="/movements?actor={owner.id}"' in body


def test_the_batch_filter_lists_the_rows_one_change_wrote_together(ledger, admin_actor) -> None:
    moved = stock.transfer_stock(
        actor=admin_actor, product_id=ledger.cap.product_id, from_location_id=ledger.spare.id,
        to_location_id=ledger.location.id, quantity=2,
    )
    [batch] = {ref for ref in movement_ids_and_batches(moved.movement_ids)}
    body = ledger.client.get(f"/movements?batch={batch}").get_data(as_text=True)
    assert sorted(shown(body)) == sorted(moved.movement_ids)
    assert f"Batch: {batch}" in body

    refused = ledger.client.get("/movements?batch=" + "b" * 65)
    assert refused.status_code == 422
    assert "<b>batch</b>" in refused.get_data(as_text=True)


def movement_ids_and_batches(ids: tuple[int, ...]) -> list[str]:
    from sqlalchemy import select

    from app.models import StockMovement

    db.session.rollback()
    refs = list(db.session.scalars(select(StockMovement.batch_ref)
                                   .where(StockMovement.id.in_(ids))))
    db.session.rollback()
    return refs


def test_bad_filter_values_are_named_and_left_out(ledger) -> None:
    response = ledger.client.get(
        "/movements?type=stolen&from=2026-02-30&to=yesterday&store=abc&location=-1"
        "&per_page=7&actor=" + "x" * 300
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    start = body.index('class="error-summary"')
    summary = body[start:body.index("</ul>", start)]
    for name in ("type", "from", "to", "store", "location", "per_page", "actor"):
        assert f"<b>{name}</b>" in summary
    # Left out, so everything the owner may audit is still listed.
    assert shown(body) == movement_ids(store_id=ledger.store.id)


def test_an_end_date_before_the_start_is_refused(ledger) -> None:
    response = ledger.client.get("/movements?from=2026-03-05&to=2026-03-01", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<b>to</b>: The end date is before the start date." in body
    assert shown(body) == movement_ids(entry_id=ledger.entry.id, type="adjustment")


def test_a_forged_page_link_is_reported_and_the_first_page_shown(ledger) -> None:
    response = ledger.client.get("/movements?cursor=bm9wZQ")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<b>cursor</b>" in body
    assert shown(body) == movement_ids(store_id=ledger.store.id)


def test_keyset_links_page_through_every_movement_once(ledger, htmx, admin_actor) -> None:
    for n in range(30):
        stock.adjust_stock(actor=admin_actor, entry_id=ledger.cap.id, delta=1,
                               reason=f"Batch {n}")
    everything = movement_ids(store_id=ledger.store.id)
    assert len(everything) == 35

    first = htmx.get(ledger.client, "/movements?per_page=25").get_data(as_text=True)
    assert shown(first) == everything[:25]
    assert link(first, "prev") is None
    older = link(first, "next")
    assert older and "per_page=25" in older and "cursor=" in older

    second = htmx.get(ledger.client, older).get_data(as_text=True)
    assert shown(second) == everything[25:]
    assert link(second, "next") is None
    newer = link(second, "prev")
    assert newer is not None
    assert shown(htmx.get(ledger.client, newer).get_data(as_text=True)) == everything[:25]
    # The count speaks of the whole result, not the page.
    assert "35 movements" in first and "35 movements" in second


def test_user_text_is_escaped(ledger, admin_actor) -> None:
    stock.adjust_stock(actor=admin_actor, entry_id=ledger.cap.id, delta=1,
                           reason="<script>alert(1)</script>", reference="<b>x</b>")
    for url in ("/movements", f"/inventory/entries/{ledger.cap.id}"):
        body = ledger.client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<script>alert" not in body and "<b>x</b>" not in body
        assert_csp_clean(body)


def test_an_empty_result_says_how_to_widen_it(ledger) -> None:
    body = ledger.client.get("/movements?type=deleted").get_data(as_text=True)
    assert "No movements match these filters." in body
    assert "Export CSV" not in body


# --------------------------------------------------------------------------- permissions


def test_staff_without_audit_read_may_not_see_the_log(ledger, login_as, htmx) -> None:
    staff = login_as("staff", ledger.store, grants=(ADJUST,))
    assert staff.get("/movements").status_code == 403
    assert htmx.get(staff, "/movements").status_code == 403
    assert staff.get("/movements.csv").status_code == 403
    overview = staff.get("/inventory").get_data(as_text=True)
    assert 'href="/movements"' not in overview
    # Their own entry's history is theirs to read, without the link to the full log.
    entry_page = staff.get(f"/inventory/entries/{ledger.entry.id}").get_data(as_text=True)
    assert 'id="history"' in entry_page
    assert "Open in Movements" not in entry_page


def test_staff_granted_audit_read_see_their_store_only(ledger, login_as) -> None:
    staff = login_as("staff", ledger.store, grants=(AUDIT,))
    body = staff.get("/movements").get_data(as_text=True)
    assert 'href="/movements"' in body
    assert shown(body) == movement_ids(store_id=ledger.store.id)


def test_a_platform_admin_sees_every_store(ledger, login_as) -> None:
    admin = login_as("platform_admin")
    body = admin.get("/movements").get_data(as_text=True)
    assert shown(body) == movement_ids()
    assert "Hidden Hat" in body


def test_anonymous_visitors_are_sent_to_sign_in(client, ledger) -> None:
    response = client.get("/movements")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert client.get("/movements", headers=HX).status_code == 401
    assert client.get("/movements.csv").status_code == 302


def test_foreign_ids_in_the_filters_reveal_nothing(ledger) -> None:
    beta_owner_email = "beta-owner@example.test"
    foreign = ledger.foreign
    cases = {
        "store": ledger.beta.id,
        "product": foreign.product_id,
        "location": foreign.location_id,
        "actor": 987_654,
    }
    for name, value in cases.items():
        response = ledger.client.get(f"/movements?{name}={value}")
        body = response.get_data(as_text=True)
        # A store, product or location of another store reads as one that does not exist
        # (404); an actor filter names a person, not a store's thing, and shows no rows.
        assert response.status_code == (200 if name == "actor" else 404), name
        assert shown(body) == []
        for secret in ("Beta", "Hidden Hat", "SECRET-SKU", beta_owner_email):
            assert secret not in body, (name, secret)
        if name == "actor":
            assert f"#{value}" in body
        assert ledger.client.get(f"/movements?{name}=999999").status_code == response.status_code
    csv = ledger.client.get(f"/movements.csv?store={ledger.beta.id}")
    assert csv.status_code == 404 and "SECRET-SKU" not in csv.get_data(as_text=True)


def test_a_foreign_user_id_does_not_reveal_who_they_are(ledger, make_user, login_as) -> None:
    beta_owner = make_user(role="owner", store=ledger.beta, email="beta-owner@example.test")
    actor = Actor(name=beta_owner.email, user_id=beta_owner.id,
                  store_permissions={ledger.beta.id: frozenset({ADJUST})})
    stock.adjust_stock(actor=actor, entry_id=ledger.foreign.id, delta=1, reason="x")
    body = ledger.client.get(f"/movements?actor={beta_owner.id}").get_data(as_text=True)
    assert shown(body) == []
    assert beta_owner.email not in body
    assert f"By: user #{beta_owner.id}" in body


# --------------------------------------------------------------------------- CSV


def read_csv(response: Any) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_export_streams_the_filtered_rows(ledger) -> None:
    with frozen_at(datetime(2026, 3, 9, 10, 0)):
        response = ledger.client.get(f"/movements.csv?product={ledger.product.id}")
    assert response.status_code == 200
    assert "Content-Length" not in response.headers  # streamed, not built in memory
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="stockroom-movements-2026-03-09.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert header[:6] == ["Time (UTC)", "Store", "SKU", "Product", "Location", "Type"]
    assert header[-1] == "Movement id"
    assert [int(r[-1]) for r in body] == movement_ids(product_id=ledger.product.id)
    found = dict(zip(header, body[0], strict=True))
    assert found == {
        "Time (UTC)": "2026-03-05 23:59:00", "Store": "Alpha", "SKU": "MUG-BLU",
        "Product": "Blue Mug", "Location": "AISLE_1", "Type": "adjustment",
        "On hand change": "4", "Reserved change": "0", "On hand after": "14",
        "Reserved after": "2", "Available after": "12", "Reason": "Found",
        "Reference": "COUNT-7", "Reservation": "", "Batch": "", "Actor": "system:tests",
        "Actor id": "", "Entry id": str(ledger.entry.id), "Movement id": body[0][-1],
    }


def test_csv_export_names_the_store_in_the_file_name(ledger) -> None:
    response = ledger.client.get(f"/movements.csv?store={ledger.store.id}")
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(
        rf'attachment; filename="stockroom-movements-store-{ledger.store.id}-'
        r'\d{4}-\d{2}-\d{2}\.csv"', disposition
    )


def test_csv_cells_cannot_smuggle_formulas(ledger, admin_actor) -> None:
    dangerous = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "plain"]
    for reason in dangerous:
        stock.adjust_stock(actor=admin_actor, entry_id=ledger.entry.id, delta=-1,
                               reason=reason, reference=reason)
    rows = read_csv(ledger.client.get(f"/movements.csv?product={ledger.product.id}"))
    header = rows[0]
    reasons = [r[header.index("Reason")] for r in rows[1:len(dangerous) + 1]]
    references = [r[header.index("Reference")] for r in rows[1:len(dangerous) + 1]]
    expected = ["plain", "'@SUM(A1)", "'-2+3", "'+1+1", "'=HYPERLINK(\"http://x\")"]
    assert reasons == expected and references == expected
    # Our own signed numbers stay numbers.
    assert {r[header.index("On hand change")] for r in rows[1:len(dangerous) + 1]} == {"-1"}


def test_csv_export_keeps_to_the_stores_the_user_audits(ledger, login_as) -> None:
    rows = read_csv(ledger.client.get("/movements.csv"))
    assert {r[1] for r in rows[1:]} == {"Alpha"}
    assert len(rows) - 1 == len(movement_ids(store_id=ledger.store.id))
    admin_rows = read_csv(login_as("platform_admin").get("/movements.csv"))
    assert {r[1] for r in admin_rows[1:]} == {"Alpha", "Beta"}


def test_the_export_link_carries_the_filters_but_not_the_page(ledger, htmx) -> None:
    body = htmx.get(ledger.client, "/movements?type=adjustment&per_page=25").get_data(
        as_text=True
    )
    href = re.search(r'href="([^"]+)"[^>]*>Export CSV', body)
    assert href is not None
    target = urlsplit(href.group(1).replace("&amp;", "&"))
    assert target.path == "/movements.csv"
    assert parse_qs(target.query) == {"type": ["adjustment"]}


# --------------------------------------------------------------------------- entry page


def test_the_entry_page_shows_its_history_and_a_chart(ledger) -> None:
    with frozen_at(datetime(2026, 3, 10, 12, 0)):
        response = ledger.client.get(f"/inventory/entries/{ledger.entry.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert_csp_clean(body)
    history = body[body.index('id="history"'):]
    assert shown(history) == movement_ids(entry_id=ledger.entry.id)
    assert "3 movements" in history
    assert "+4" in history and "Found" in history and "Ref. COUNT-7" in history
    assert f'href="/movements?store={ledger.store.id}&amp;product={ledger.product.id}' \
           f'&amp;location={ledger.location.id}"' in history

    svgs = [svg for svg in re.findall(r"<svg\b.*?</svg>", body, flags=re.S)
            if "chart-line" in svg]
    assert len(svgs) == 2  # wide and narrow drawings; CSS shows one
    for svg in svgs:
        assert 'role="img"' in svg
        assert re.search(r"<title id=\"chart-title-\w+\">On hand and available units of "
                         r"MUG-BLU at AISLE_1, last 30 days</title>", svg)
        assert "<desc" in svg and "Date (UTC)" in svg and "Units" in svg
        assert len(re.findall(r'<path class="chart-line chart-line-(on-hand|available)"'
                              r' d="M[\d. HVM]+"', svg)) == 2
    assert "On hand</li>" in body and "Available</li>" in body
    caption = re.search(r'<figcaption id="chart-summary"[^>]*>(.*?)</figcaption>', body, re.S)
    assert caption is not None
    words = " ".join(caption.group(1).split())
    assert words.startswith("Now 14 on hand and 12 available (2 reserved).")
    assert "on hand ranged from 10 to 14, and available from 8 to 12" in words


def test_the_chart_period_can_be_chosen_and_falls_back_to_30_days(ledger) -> None:
    url = f"/inventory/entries/{ledger.entry.id}"
    with frozen_at(datetime(2026, 3, 10, 12, 0)):
        week = ledger.client.get(url + "?days=7").get_data(as_text=True)
        odd = ledger.client.get(url + "?days=1000").get_data(as_text=True)
    assert "Stock over the last 7 days" in week
    assert re.search(r'href="[^"]*days=7[^"]*"\s+aria-current="true"', week)
    assert "Stock over the last 30 days" in odd


def test_a_quiet_period_is_stated_in_words(ledger) -> None:
    with frozen_at(datetime(2026, 6, 1)):
        body = ledger.client.get(f"/inventory/entries/{ledger.entry.id}").get_data(as_text=True)
    assert "Both held steady over the last 30 days." in body


def test_the_entry_history_pages_by_keyset_and_swaps_under_htmx(ledger, admin_actor) -> None:
    for n in range(30):
        stock.adjust_stock(actor=admin_actor, entry_id=ledger.entry.id, delta=1,
                               reason=f"Step {n}")
    everything = movement_ids(entry_id=ledger.entry.id)
    url = f"/inventory/entries/{ledger.entry.id}"
    page = ledger.client.get(url).get_data(as_text=True)
    history = page[page.index('id="history"'):]
    assert shown(history) == everything[:25]
    older = link(history, "next")
    assert older is not None and older.endswith("#history")

    fragment_request = {**HX, "HX-Target": "history"}
    response = ledger.client.get(older.removesuffix("#history"), headers=fragment_request)
    fragment = response.get_data(as_text=True)
    assert not is_full_page(fragment)
    assert re.match(r'\s*<section class="panel" id="history"', fragment)
    assert shown(fragment) == everything[25:]
    assert "HX-Request" in response.vary
    # Any other request for the same address is the whole page, at that history page.
    full = ledger.client.get(older.removesuffix("#history")).get_data(as_text=True)
    assert is_full_page(full) and shown(full) == everything[25:]


def test_a_foreign_entry_page_is_not_found(ledger) -> None:
    assert ledger.client.get(f"/inventory/entries/{ledger.foreign.id}").status_code == 404
    headers = {**HX, "HX-Target": "history"}
    assert ledger.client.get(f"/inventory/entries/{ledger.foreign.id}",
                             headers=headers).status_code == 404


def test_the_date_filter_uses_the_iso_form_in_the_url(ledger, htmx) -> None:
    response = htmx.get(ledger.client, "/movements", query_string={"from": date(2026, 3, 3)})
    assert response.headers["HX-Push-Url"] == "/movements?from=2026-03-03"
