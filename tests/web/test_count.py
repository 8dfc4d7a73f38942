"""The count screen without a browser: choosing a location, the line look-up scan.js asks
for, the whole flow as plain form posts (JavaScript off), refusals that name the line and
change nothing, and who may count where."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.permissions import ADJUST

from .helpers import HX, hidden_value


@pytest.fixture
def shelf(scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
          make_product: Callable[..., Any], make_entry: Callable[..., Any]) -> SimpleNamespace:
    """At AISLE_1: a mug (10, 2 reserved) with a GTIN and a cup (4); a lamp stocked only at
    the store's other location; a kettle in another store."""
    mug = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1", quantity=10, reserved=2)
    mug.product.gtin = "4006381333931"
    from app.extensions import db
    db.session.commit()
    cup = make_entry(store=mug.store, location=mug.location, quantity=4,
                     product=make_product(mug.store, sku="CUP-RED", title="Red Cup"))
    make_entry(store=mug.store, location=mug.spare, quantity=1,
               product=make_product(mug.store, sku="LAMP-1", title="Lamp"))
    foreign = scene(title="Secret Kettle", sku="KET-1", quantity=7, reserved=0)
    return SimpleNamespace(
        store=mug.store, location=mug.location, mug=mug.entry, cup=cup, foreign=foreign,
        client=login_as("staff", mug.store, grants=(ADJUST,)),
    )


def _form(location_id: int, lines: list[tuple[str, str, str]], **extra: str
          ) -> dict[str, Any]:
    return {
        "location": str(location_id),
        "line_code": [code for code, _, _ in lines],
        "line_counted": [counted for _, counted, _ in lines],
        "line_expected": [expected for _, _, expected in lines],
        **extra,
    }


def _lines(body: str) -> list[tuple[str, str, str]]:
    """The list a page carries: (code, counted, expected) per line, in order."""
    codes = re.findall(r'name="line_code" value="([^"]*)"', body)
    expected = re.findall(r'name="line_expected" value="([^"]*)"', body)
    counted = re.findall(r'name="line_counted" value="([^"]*)"', body)
    return list(zip(codes, counted, expected, strict=True))


def test_the_screen_offers_the_locations_one_may_count(shelf):
    body = shelf.client.get("/inventory/count").get_data(as_text=True)

    assert "Where are you counting?" in body
    assert f'<option value="{shelf.location.id}">AISLE_1</option>' in body
    assert "Secret Kettle" not in body and str(shelf.foreign.location.id) + '">' not in body
    assert "scan.js" in body  # its script, on this page only
    overview = shelf.client.get("/inventory").get_data(as_text=True)
    assert "scan.js" not in overview
    assert 'href="/inventory/count' in overview  # the way in


def test_a_location_opens_the_scan_box_and_an_empty_list(shelf):
    response = shelf.client.get(f"/inventory/count?location={shelf.location.id}")
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "Count stock at <code>AISLE_1</code>" in body
    assert 'id="count-code"' in body and "Nothing counted yet" in body
    assert hidden_value(body, "location") == str(shelf.location.id)


def test_the_line_lookup_returns_one_row_for_a_sku_or_gtin(shelf):
    url = f"/inventory/count/line?location={shelf.location.id}"
    by_sku = shelf.client.get(url + "&code=mug-blu", headers=HX)
    by_gtin = shelf.client.get(url + "&code=4006381333931&quantity=5", headers=HX)

    for response in (by_sku, by_gtin):
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert body.strip().startswith("<tr") and body.count("<tr") == 1
        assert 'data-sku="MUG-BLU"' in body and 'data-gtin="4006381333931"' in body
        assert 'name="line_expected" value="10"' in body
    assert 'name="line_counted" value="1"' in by_sku.get_data(as_text=True)
    assert 'name="line_counted" value="5"' in by_gtin.get_data(as_text=True)


@pytest.mark.parametrize(("code", "message"), [
    ("NOPE-1", "Nothing in this store has the SKU or GTIN “NOPE-1”."),
    ("LAMP-1", "LAMP-1 is not stocked at AISLE_1."),
    ("KET-1", "Nothing in this store has the SKU or GTIN “KET-1”."),  # another store's
    ("", "Scan or type a SKU or GTIN."),
])
def test_the_line_lookup_says_why_a_code_names_nothing_here(shelf, code, message):
    response = shelf.client.get(
        f"/inventory/count/line?location={shelf.location.id}&code={code}", headers=HX)

    assert response.status_code == 422
    assert response.get_data(as_text=True) == message


def test_without_javascript_scans_build_the_list_and_apply_counts_it(
    shelf, read_entry, movements_of
):
    client, where = shelf.client, shelf.location.id
    lines: list[tuple[str, str, str]] = []
    for code in ("MUG-BLU", "CUP-RED", "mug-blu", "4006381333931"):
        response = client.post("/inventory/count/line", data=_form(where, lines, code=code))
        assert response.status_code == 200
        lines = _lines(response.get_data(as_text=True))
    assert lines == [("MUG-BLU", "3", "10"), ("CUP-RED", "1", "4")]

    # A number typed in "How many" counts that many at once.
    response = client.post("/inventory/count/line",
                           data=_form(where, lines, code="CUP-RED", quantity="6"))
    lines = _lines(response.get_data(as_text=True))
    assert lines == [("MUG-BLU", "3", "10"), ("CUP-RED", "7", "4")]
    # Remove takes a line out.
    response = client.post("/inventory/count/line",
                           data=_form(where, lines, remove="CUP-RED"))
    assert _lines(response.get_data(as_text=True)) == [("MUG-BLU", "3", "10")]

    response = client.post("/inventory/count",
                           data=_form(where, lines, reason="Aisle walk", idempotency_key="k1"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/inventory/count?location={where}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("Counted 2 items at AISLE_1. Changed: Blue Mug (MUG-BLU) 10 → 3, "
            "Red Cup (CUP-RED) 4 → 7.") in page
    assert (read_entry(shelf.mug.id).quantity, read_entry(shelf.cup.id).quantity) == (3, 7)
    assert [m.type for m in movements_of(shelf.mug.id)][-1] == "count"
    assert movements_of(shelf.mug.id)[-1].reason == "Aisle walk"


def test_an_unknown_code_is_named_beside_the_box_and_the_list_is_kept(shelf, db_state):
    before = db_state()
    lines = [("MUG-BLU", "2", "10")]
    response = shelf.client.post("/inventory/count/line",
                                 data=_form(shelf.location.id, lines, code="NOPE-1"))
    body = response.get_data(as_text=True)

    assert response.status_code == 422
    assert re.search(r'id="count-code-error"[^>]*>Nothing in this store has the SKU or GTIN '
                     r"“NOPE-1”\.<", body)
    assert 'aria-invalid="true"' in body
    assert _lines(body) == lines
    assert db_state() == before


def test_a_count_with_bad_lines_names_each_one_and_changes_nothing(shelf, db_state):
    before = db_state()
    lines = [("MUG-BLU", "1", "10"), ("CUP-RED", "lots", "4"), ("GONE-9", "2", "0")]
    response = shelf.client.post("/inventory/count", data=_form(shelf.location.id, lines))
    body = response.get_data(as_text=True)

    assert response.status_code == 422
    assert '-line_counted-error"' in body and "Enter a whole number, like 12." in body
    assert "Nothing in this store has the SKU or GTIN “GONE-9”." in body
    assert "Nothing was counted" in body
    assert _lines(body) == lines  # kept as typed, to fix
    assert db_state() == before


def test_a_count_below_reserved_or_after_a_sale_is_refused_with_the_figure_now(
    shelf, db_state, read_entry
):
    before = db_state()
    lines = [("MUG-BLU", "1", "10"), ("CUP-RED", "5", "6")]
    response = shelf.client.post("/inventory/count", data=_form(shelf.location.id, lines))
    body = response.get_data(as_text=True)

    assert response.status_code == 409
    assert "Counted 1 is below reserved 2" in body
    assert "On hand changed from 6 to 4 since it was scanned" in body
    # The list now holds the on hand as it is, so applying again goes through.
    assert _lines(body) == [("MUG-BLU", "1", "10"), ("CUP-RED", "5", "4")]
    assert db_state() == before
    fixed = [("MUG-BLU", "2", "10"), ("CUP-RED", "5", "4")]
    again = shelf.client.post("/inventory/count", data=_form(shelf.location.id, fixed))
    assert again.status_code == 303
    assert read_entry(shelf.cup.id).quantity == 5


@pytest.mark.parametrize(("form", "field"), [
    ({"line_code": ["MUG-BLU"], "line_counted": [], "line_expected": []}, "lines-error"),
    ({"line_code": [], "line_counted": [], "line_expected": []}, "lines-error"),
    ({"line_code": ["MUG-BLU"], "line_counted": ["1"], "line_expected": ["x"]},
     "line_expected-error"),
    ({"line_code": ["MUG-BLU"], "line_counted": ["-1"], "line_expected": ["10"]},
     "line_counted-error"),
    ({"line_code": ["MUG-BLU"], "line_counted": ["1"], "line_expected": ["10"],
      "reason": "x" * 201}, "count-reason-error"),
])
def test_malformed_posts_are_422_naming_the_field(shelf, db_state, form, field):
    before = db_state()
    response = shelf.client.post("/inventory/count",
                                 data={"location": str(shelf.location.id), **form})

    assert response.status_code == 422
    assert re.search(rf'id="(?:\w+-)?{field}"', response.get_data(as_text=True))
    assert db_state() == before


def test_a_location_that_is_not_an_id_is_named(shelf):
    response = shelf.client.get("/inventory/count?location=abc")
    assert response.status_code == 422
    assert 'id="count-location-error"' in response.get_data(as_text=True)


def test_another_stores_location_is_not_found_anywhere(shelf, db_state):
    before = db_state()
    foreign = shelf.foreign.location.id
    assert shelf.client.get(f"/inventory/count?location={foreign}").status_code == 404
    assert shelf.client.get(
        f"/inventory/count/line?location={foreign}&code=KET-1").status_code == 404
    posted = shelf.client.post("/inventory/count",
                               data=_form(foreign, [("KET-1", "1", "7")]))
    assert posted.status_code == 404
    assert db_state() == before


def test_a_reader_may_not_count(shelf, login_as, db_state):
    viewer = login_as("staff", shelf.store)
    before = db_state()
    assert viewer.get("/inventory/count").status_code == 403
    where = shelf.location.id
    assert viewer.get(f"/inventory/count?location={where}").status_code == 403
    assert viewer.get(f"/inventory/count/line?location={where}&code=MUG-BLU").status_code == 403
    posted = viewer.post("/inventory/count", data=_form(where, [("MUG-BLU", "3", "10")]))
    assert posted.status_code == 403
    assert db_state() == before
    assert "Count stock" not in viewer.get("/inventory").get_data(as_text=True)


def test_the_locations_page_links_each_location_to_its_count(shelf, login_as):
    owner = login_as("owner", shelf.store)
    body = owner.get(f"/catalog/locations?store={shelf.store.id}").get_data(as_text=True)
    assert f'href="/inventory/count?location={shelf.location.id}"' in body


def test_a_repeated_apply_counts_once(shelf, movements_of):
    form = _form(shelf.location.id, [("CUP-RED", "9", "4")], idempotency_key="same-key")
    first = shelf.client.post("/inventory/count", data=form)
    second = shelf.client.post("/inventory/count", data=form)

    assert (first.status_code, second.status_code) == (303, 303)
    assert [m.type for m in movements_of(shelf.cup.id)].count("count") == 1
