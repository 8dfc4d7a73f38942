"""Bulk work in the browser without a browser: the selection on the overview, the form,
the preview, applying with and without htmx, bad input, foreign ids, CSRF and repeats."""

from __future__ import annotations

import json
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
from app.models import StockMovement
from app.permissions import ADJUST, THRESHOLD

from .helpers import HX, csrf_from_hx_headers, hidden_value


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
         make_product: Callable[..., Any], make_entry: Callable[..., Any]) -> SimpleNamespace:
    """Three entries of one store (10 with 2 reserved, 4, 1) and an entry of another."""
    mug = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1", quantity=10, reserved=2)
    cup = make_entry(store=mug.store, location=mug.location, quantity=4,
                     product=make_product(mug.store, sku="CUP-RED", title="Red Cup"))
    pin = make_entry(store=mug.store, location=mug.location, quantity=1, threshold=2,
                     product=make_product(mug.store, sku="PIN-1", title="Pin"))
    foreign = scene(title="Secret Kettle", sku="KET-1", quantity=7, reserved=0)
    return SimpleNamespace(
        store=mug.store, ids=[mug.entry.id, cup.id, pin.id], foreign=foreign,
        client=login_as("owner", mug.store),
    )


def form(ids: list[int], **values: str) -> dict[str, Any]:
    return {"entry": [str(i) for i in ids], "idempotency_key": uuid.uuid4().hex,
            "next": "/inventory", **values}


def quantities(read_entry: Callable[[int], Any], ids: list[int]) -> list[int]:
    return [read_entry(i).quantity for i in ids]


def ledger_count() -> int:
    db.session.rollback()
    count = len(db.session.scalars(select(StockMovement.id)).all())
    db.session.rollback()
    return count


# --------------------------------------------------------------------------- the overview


def test_the_overview_offers_a_checkbox_per_row_and_a_bulk_form(shop: SimpleNamespace) -> None:
    body = shop.client.get("/inventory?status=in_stock").get_data(as_text=True)

    assert re.search(
        r'<form id="bulk-select" class="bulk-bar" method="get" action="/inventory/bulk/adjust"',
        body,
    )
    for entry_id in shop.ids[:2]:
        assert (f'name="entry" value="{entry_id}" form="bulk-select" '
                f'aria-labelledby="t{entry_id} l{entry_id}"') in body
    assert 'formaction="/inventory/bulk/adjust"' in body
    assert 'formaction="/inventory/bulk/threshold"' in body
    assert 'data-select-page hidden aria-label="Select every row on this page"' in body
    # The filter travels with the form, so "all matching" means the same rows.
    assert '<input type="hidden" name="status" value="in_stock">' in body


def test_all_matching_is_offered_when_the_filter_has_more_than_the_page(
    shop: SimpleNamespace,
) -> None:
    body = shop.client.get("/inventory?per_page=25").get_data(as_text=True)
    assert "data-select-all" not in body  # three rows, all on this page


def test_read_only_staff_get_no_checkboxes_and_no_bar(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    body = login_as("staff", shop.store).get("/inventory").get_data(as_text=True)
    assert "data-select-row" not in body and "bulk-select" not in body


def test_staff_see_only_the_actions_they_hold(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    body = login_as("staff", shop.store, grants=[THRESHOLD]).get("/inventory").get_data(
        as_text=True
    )
    assert 'form="bulk-select"' in body
    assert 'formaction="/inventory/bulk/threshold"' in body
    assert 'formaction="/inventory/bulk/adjust"' not in body


# --------------------------------------------------------------------------- the form


def test_the_form_is_a_page_without_htmx_and_a_dialog_with_it(shop: SimpleNamespace) -> None:
    query = "&".join(f"entry={i}" for i in shop.ids[:2]) + "&next=%2Finventory%3Fq%3Dx"
    page = shop.client.get(f"/inventory/bulk/adjust?{query}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert body.lstrip().lower().startswith("<!doctype html>")
    assert "Adjust stock — 2 entries selected" in body
    assert re.fullmatch(r"[0-9a-f]{32}", hidden_value(body, "idempotency_key"))
    assert hidden_value(body, "next") == "/inventory?q=x"
    assert 'name="step" value="preview"' in body

    dialog = shop.client.get(f"/inventory/bulk/adjust?{query}", headers=HX)
    text = dialog.get_data(as_text=True)
    assert re.match(r'\s*<dialog id="action-dialog"', text)
    assert "data-close-dialog" in text


def test_all_matching_names_the_count_and_the_filters(shop: SimpleNamespace) -> None:
    body = shop.client.get(
        "/inventory/bulk/threshold?scope=filter&status=in_stock&max_qty=50"
    ).get_data(as_text=True)
    assert "Set low-stock threshold — All 2 entries matching Status: In stock, On hand ≤ 50" in body
    assert '<input type="hidden" name="scope" value="filter">' in body


def test_an_empty_selection_says_what_to_do(shop: SimpleNamespace) -> None:
    response = shop.client.get("/inventory/bulk/adjust")
    assert response.status_code == 422
    assert "Select at least one entry." in response.get_data(as_text=True)


def test_a_bad_filter_is_refused_rather_than_widening_the_selection(
    shop: SimpleNamespace, read_entry: Callable[[int], Any]
) -> None:
    response = shop.client.post("/inventory/bulk/adjust", data={
        "scope": "filter", "status": "nonsense", "idempotency_key": "k", "delta": "1",
        "reason": "x", "step": "apply",
    })
    assert response.status_code == 422
    assert "Some filters were not understood (status)" in response.get_data(as_text=True)
    assert quantities(read_entry, shop.ids) == [10, 4, 1]


# --------------------------------------------------------------------------- preview


def test_preview_lists_every_entry_before_and_after_and_changes_nothing(
    shop: SimpleNamespace, db_state: Callable[[], Any]
) -> None:
    before = db_state()
    response = shop.client.post("/inventory/bulk/adjust",
                                data=form(shop.ids, delta="-3", reason="Damaged", step="preview"))
    body = response.get_data(as_text=True)

    assert response.status_code == 409
    assert db_state() == before
    assert "Red Cup: Insufficient" not in body  # 4 - 3 is fine
    assert ("Pin (PIN-1) at AISLE_1: Insufficient stock available. Available: 1, Requested: 3"
            in body)
    assert 'value="apply"' not in body  # nothing to apply while an entry would break
    for entry_id, old, new in zip(shop.ids, (10, 4, 1), (7, 1, -2), strict=True):
        row = re.search(rf'<tr id="preview-{entry_id}".*?</tr>', body, re.S).group(0)
        assert re.findall(r'<td class="num[^"]*">([^<]*)</td>', row) == [str(old), f"{new:,}"]


def test_preview_then_apply_without_javascript(
    shop: SimpleNamespace, read_entry: Callable[[int], Any]
) -> None:
    values = form(shop.ids[:2], delta="5", reason="Delivery", next="/inventory?q=u")
    preview = shop.client.post("/inventory/bulk/adjust", data={**values, "step": "preview"})
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Apply to 2 entries" in body
    assert quantities(read_entry, shop.ids) == [10, 4, 1]
    # The preview carries every value to the apply step.
    assert hidden_value(body, "delta") == "5" and hidden_value(body, "reason") == "Delivery"
    assert hidden_value(body, "idempotency_key") == values["idempotency_key"]

    applied = shop.client.post("/inventory/bulk/adjust", data={**values, "step": "apply"})
    assert applied.status_code == 303
    assert applied.headers["Location"] == "/inventory?q=u"
    assert quantities(read_entry, shop.ids) == [15, 9, 1]
    flash = shop.client.get("/inventory").get_data(as_text=True)
    assert "Adjusted 2 entries by +5: on hand 14 → 24 in total." in flash
    db.session.rollback()
    batches = {m.batch_ref for m in db.session.scalars(
        select(StockMovement).where(StockMovement.reason == "Delivery"))}
    db.session.rollback()
    assert len(batches) == 1 and None not in batches


def test_apply_under_htmx_swaps_the_results_and_the_stats(
    shop: SimpleNamespace, read_entry: Callable[[int], Any]
) -> None:
    values = form(shop.ids[:2], delta="-1", reason="Sold", next="/inventory?sort=quantity",
                  step="apply")
    response = shop.client.post("/inventory/bulk/adjust", data=values, headers=HX)
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#results"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert json.loads(response.headers["HX-Trigger"]) == {"close-dialog": True}
    assert body.startswith('<section id="results"')
    assert '<section id="stats" class="stats" aria-label="Stock summary" hx-swap-oob="true"' in body
    assert 'id="flashes"' in body and "Adjusted 2 entries by -1" in body
    assert quantities(read_entry, shop.ids) == [9, 3, 1]
    # The results are those of the page the user came from (sorted by quantity).
    order = re.findall(r'<tr id="entry-(\d+)"', body)
    assert order == [str(shop.ids[2]), str(shop.ids[1]), str(shop.ids[0])]


def test_a_double_submit_applies_once(
    shop: SimpleNamespace, read_entry: Callable[[int], Any]
) -> None:
    values = form(shop.ids, delta="2", reason="Twice?", step="apply")
    first = shop.client.post("/inventory/bulk/adjust", data=values)
    second = shop.client.post("/inventory/bulk/adjust", data=values)
    assert (first.status_code, second.status_code) == (303, 303)
    assert quantities(read_entry, shop.ids) == [12, 6, 3]


def test_apply_refused_at_the_last_moment_shows_the_fresh_preview(
    shop: SimpleNamespace, read_entry: Callable[[int], Any], db_state: Callable[[], Any]
) -> None:
    before = db_state()
    response = shop.client.post(
        "/inventory/bulk/adjust", data=form(shop.ids, delta="-2", reason="x", step="apply")
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Nothing was applied: 1 entry would break the rules." in body
    assert ("Pin (PIN-1) at AISLE_1: Insufficient stock available. Available: 1, Requested: 2"
            in body)
    assert db_state() == before


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"delta": "abc", "reason": "x"}, "delta", "Enter a whole number, like 12."),
        ({"delta": "0", "reason": "x"}, "delta", "Must not be zero."),
        ({"delta": "1e3", "reason": "x"}, "delta", "Enter a whole number, like 12."),
        ({"delta": "1", "reason": ""}, "reason", "This field is required."),
        ({"delta": "1", "reason": "x" * 201}, "reason", "Field cannot be longer than 200"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    shop: SimpleNamespace, db_state: Callable[[], Any], values: dict[str, str], field: str,
    message: str,
) -> None:
    before = db_state()
    for step in ("preview", "apply"):
        response = shop.client.post("/inventory/bulk/adjust",
                                    data=form(shop.ids, step=step, **values), headers=HX)
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', body)
        assert error and message in error.group(1)
        assert re.search(rf'<input[^>]*aria-invalid="true"[^>]*id="{field}"', body) or re.search(
            rf'<input[^>]*id="{field}"[^>]*aria-invalid="true"', body)
    assert db_state() == before


def test_a_bad_threshold_names_the_field(shop: SimpleNamespace) -> None:
    response = shop.client.post("/inventory/bulk/threshold",
                                data=form(shop.ids, low_stock_threshold="-1", step="preview"))
    assert response.status_code == 422
    assert "Must not be negative." in response.get_data(as_text=True)


@pytest.mark.parametrize("junk", ["abc", "-1", "1.5", "9" * 12, "１"])
def test_a_junk_entry_id_is_refused(shop: SimpleNamespace, junk: str) -> None:
    response = shop.client.get(f"/inventory/bulk/adjust?entry={junk}")
    assert response.status_code == 422
    assert "The selection holds something that is not an entry." in response.get_data(
        as_text=True
    )


def test_an_unknown_bulk_action_is_not_found(shop: SimpleNamespace) -> None:
    assert shop.client.get(f"/inventory/bulk/delete?entry={shop.ids[0]}").status_code == 404


# --------------------------------------------------------------------------- scope


@pytest.mark.parametrize("step", ["form", "preview", "apply"])
def test_a_foreign_entry_is_not_found_and_never_shown(
    shop: SimpleNamespace, db_state: Callable[[], Any], step: str
) -> None:
    before = db_state()
    ids = [shop.ids[0], shop.foreign.entry.id]
    if step == "form":
        response = shop.client.get("/inventory/bulk/adjust?" + "&".join(f"entry={i}" for i in ids))
    else:
        response = shop.client.post("/inventory/bulk/adjust",
                                    data=form(ids, delta="1", reason="x", step=step))
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Secret Kettle" not in body and "KET-1" not in body
    assert db_state() == before


def test_staff_without_the_permission_are_refused(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], db_state: Callable[[], Any]
) -> None:
    clerk = login_as("staff", shop.store, grants=[ADJUST])
    before = db_state()
    response = clerk.post("/inventory/bulk/threshold",
                          data=form(shop.ids, low_stock_threshold="3", step="apply"))
    assert response.status_code == 403
    assert db_state() == before
    ok = clerk.post("/inventory/bulk/adjust", data=form(shop.ids, delta="1", reason="x",
                                                         step="apply"))
    assert ok.status_code == 303


def test_bulk_threshold_by_filter(
    shop: SimpleNamespace, read_entry: Callable[[int], Any]
) -> None:
    response = shop.client.post("/inventory/bulk/threshold", data={
        "scope": "filter", "status": "in_stock", "idempotency_key": uuid.uuid4().hex,
        "low_stock_threshold": "4", "step": "apply", "next": "/inventory",
    })
    assert response.status_code == 303
    assert [read_entry(i).low_stock_threshold for i in shop.ids] == [4, 4, 2]
    assert read_entry(shop.foreign.entry.id).low_stock_threshold == 0


# --------------------------------------------------------------------------- CSRF


def test_apply_refuses_a_missing_or_foreign_csrf_token(
    make_app: Callable[..., Flask], shop: SimpleNamespace, login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
) -> None:
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    owner = login_as("owner", shop.store, on=csrf_app)
    other = login_as("owner", shop.store, on=csrf_app)
    other_token = csrf_from_hx_headers(other.get("/inventory").get_data(as_text=True))
    before = db_state()
    values = form(shop.ids, delta="1", reason="x", step="apply")
    for extra in ({}, {"csrf_token": "nope"}, {"csrf_token": other_token}):
        response = owner.post("/inventory/bulk/adjust", data={**values, **extra})
        assert response.status_code in (400, 422)
    assert db_state() == before
    token = csrf_from_hx_headers(owner.get("/inventory").get_data(as_text=True))
    done = owner.post("/inventory/bulk/adjust", data={**values, "csrf_token": token})
    assert done.status_code == 303
    assert ledger_count() > 0


def test_all_matching_counts_only_rows_the_user_may_change(
    shop: SimpleNamespace, make_user: Callable[..., Any], sign_in: Callable[..., FlaskClient],
    make_entry: Callable[..., Any], make_store: Callable[..., Any],
) -> None:
    from app.models import Membership

    for _ in range(24):
        make_entry(store=shop.store, quantity=3)
    looked_at = make_store()
    for _ in range(5):
        make_entry(store=looked_at, quantity=3)
    clerk = make_user(role="staff", store=shop.store, grants=(ADJUST,))
    db.session.add(Membership(user_id=clerk.id, store_id=looked_at.id, role="staff", grants=[]))
    db.session.commit()
    client = sign_in(clerk)

    body = client.get("/inventory?per_page=25").get_data(as_text=True)
    assert "32 entries" in body  # what the clerk may read
    assert "All 27 entries matching these filters" in body  # what the clerk may adjust
    assert 'name="scope" value="filter" data-select-all' in body
