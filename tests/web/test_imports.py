"""The import screens: upload → preview → apply, in plain forms that work without JavaScript."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.imports import routes
from app.models import StockMovement
from app.permissions import system_actor
from app.services import stock

from .helpers import assert_csp_clean, audit, csrf_from_page, hidden_value

HEADER = "store,location,sku,title,quantity,reserved,available,threshold,status,version"


def upload(client: FlaskClient, content: str | bytes, *, name: str = "stock.csv",
           extra: dict[str, str] | None = None) -> Any:
    data = content.encode() if isinstance(content, str) else content
    form: dict[str, Any] = {"file": (io.BytesIO(data), name), **(extra or {})}
    return client.post("/import/preview", data=form, content_type="multipart/form-data")


def file_for(place: SimpleNamespace, quantity: Any, *, version: Any = "",
             threshold: Any = "") -> str:
    entry = place.entry
    return (f"\ufeff{HEADER}\r\n{place.store.slug},{place.location.code},{place.product.sku},"
            f"Mug,{quantity},0,0,{threshold},in_stock,{version or entry.version}\r\n")


def batch(ref: str) -> list[StockMovement]:
    db.session.rollback()
    return list(db.session.scalars(select(StockMovement).where(StockMovement.batch_ref == ref)))


@pytest.fixture
def place(scene: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    return scene(quantity=10, reserved=2, code="main")


def test_upload_page_explains_the_columns_and_links_the_export(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", place.store)
    response = client.get("/import")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'href="/inventory.csv"' in body
    form = audit(body).elements("form", action="/import/preview")[0]
    assert (form["method"], form["enctype"]) == ("post", "multipart/form-data")
    assert csrf_from_page(body)
    for column in ("store", "location", "sku", "quantity", "threshold", "reason", "version"):
        assert f"<code>{column}</code>" in body
    assert_csp_clean(body)


def test_preview_then_apply_changes_stock_as_one_batch(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    read_entry: Callable[[int], Any], db_state: Callable[[], Any],
) -> None:
    client = login_as("owner", place.store)
    before = db_state()
    preview = upload(client, file_for(place, 14, threshold=3))
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "10 → 14" in body and "+4" in body and "0 → 3" in body
    assert db_state() == before  # a preview changes nothing
    assert_csp_clean(body)

    applied = client.post("/import/apply", data={"token": hidden_value(body, "token")})
    assert applied.status_code == 303
    ref = re.search(r"/import/batches/(import-[0-9a-f]+)", applied.headers["Location"]).group(1)
    entry = read_entry(place.entry.id)
    assert (entry.quantity, entry.low_stock_threshold) == (14, 3)
    rows = batch(ref)
    assert [(m.type, m.quantity_delta, m.quantity_after, m.reason) for m in rows] == [
        ("set", 4, 14, "CSV import")
    ]
    done = client.get(applied.headers["Location"])
    text = done.get_data(as_text=True)
    assert ref in text and "1 movement" in text
    assert f"Imported stock.csv: 1 entry updated, 0 created, 1 ledger row in batch {ref}." \
        in text
    # The file held one store's entries: the way back leads to that store's overview.
    assert f'href="/inventory?store={place.store.id}">Go to the inventory' in text


def test_a_repeated_apply_changes_nothing_more(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    read_entry: Callable[[int], Any],
) -> None:
    client = login_as("owner", place.store)
    token = hidden_value(upload(client, file_for(place, 14)).get_data(as_text=True), "token")
    first = client.post("/import/apply", data={"token": token})
    second = client.post("/import/apply", data={"token": token})
    assert first.status_code == second.status_code == 303
    assert "already imported" in client.get(second.headers["Location"]).get_data(as_text=True)
    assert read_entry(place.entry.id).quantity == 14


def test_a_bad_file_lists_every_error_and_offers_no_apply(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient], db_state: Callable[[], Any],
) -> None:
    client = login_as("owner", place.store)
    before = db_state()
    slug, sku = place.store.slug, place.product.sku
    content = (f"{HEADER}\r\n{slug},MAIN,{sku},M,1,0,0,,,\r\n{slug},MAIN,NOPE,M,4,0,0,,,\r\n"
               f"{slug},MAIN,{sku},M,abc,0,0,,,\r\n")
    response = upload(client, content)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Quantity 1 is below reserved 2" in body
    assert "Unknown SKU “NOPE”" in body
    assert "Quantity “abc” is not a whole number" in body
    assert "3 rows have errors" in body
    assert 'name="token"' not in body and "Apply import" not in body
    assert db_state() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [("store,sku\r\nx,y\r\n", "Missing required columns: location, quantity."),
     (b"\xff\xfe\x00", "The file is not UTF-8 text")],
)
def test_unreadable_files_say_why(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient], content: Any, message: str,
) -> None:
    client = login_as("owner", place.store)
    body = upload(client, content).get_data(as_text=True)
    assert message in body
    assert 'name="token"' not in body


def test_no_file_is_refused_on_the_upload_page(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", place.store)
    response = client.post("/import/preview", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_warnings_need_a_tick_before_apply(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    read_entry: Callable[[int], Any],
) -> None:
    client = login_as("owner", place.store)
    stock.adjust_stock(actor=system_actor("t"), entry_id=place.entry.id, delta=1,
                           reason="found")
    body = upload(client, file_for(place, 15, version=place.entry.version)).get_data(
        as_text=True)
    assert "Changed since export" in body and "I have read the warnings" in body
    token = hidden_value(body, "token")
    unticked = client.post("/import/apply", data={"token": token})
    assert unticked.status_code == 422
    assert "Tick the box" in unticked.get_data(as_text=True)
    assert read_entry(place.entry.id).quantity == 11
    ticked = client.post("/import/apply", data={"token": token, "confirm": "yes"})
    assert ticked.status_code == 303
    assert read_entry(place.entry.id).quantity == 15


def test_a_change_after_the_preview_refuses_the_apply(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    read_entry: Callable[[int], Any],
) -> None:
    client = login_as("owner", place.store)
    token = hidden_value(upload(client, file_for(place, 14)).get_data(as_text=True), "token")
    stock.adjust_stock(actor=system_actor("t"), entry_id=place.entry.id, delta=-1,
                           reason="broken")
    response = client.post("/import/apply", data={"token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "1 row changed since the preview" in body
    assert read_entry(place.entry.id).quantity == 9
    # The page is a fresh preview against the stock as it is now.
    assert "9 → 14" in body and 'name="token"' in body


def test_a_forged_or_foreign_token_applies_nothing(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    read_entry: Callable[[int], Any],
) -> None:
    owner = login_as("owner", place.store)
    token = hidden_value(upload(owner, file_for(place, 14)).get_data(as_text=True), "token")
    forged = owner.post("/import/apply", data={"token": token[:-3] + "abc"})
    assert forged.status_code == 422
    assert "could not be read" in forged.get_data(as_text=True)
    other = login_as("admin", place.store)
    foreign = other.post("/import/apply", data={"token": token})
    assert foreign.status_code == 422
    assert "belongs to another sign-in" in foreign.get_data(as_text=True)
    assert read_entry(place.entry.id).quantity == 10


def test_rows_of_a_store_you_are_not_in_read_as_unknown(
    place: SimpleNamespace, scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
) -> None:
    elsewhere = scene()
    client = login_as("owner", place.store)
    body = upload(client, file_for(elsewhere, 3)).get_data(as_text=True)
    assert f"Unknown store “{elsewhere.store.slug}”" in body


def test_an_oversized_upload_is_refused_with_the_limit(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = login_as("owner", place.store)
    monkeypatch.setattr(routes, "MAX_UPLOAD_BYTES", 1024)
    response = upload(client, HEADER + "\r\n" + "x,y,z,t,1,0,0,,,\r\n" * 200)
    assert response.status_code == 413
    assert "The file is too large" in response.get_data(as_text=True)


def test_signed_out_users_are_sent_to_sign_in(client: FlaskClient) -> None:
    assert client.get("/import").status_code == 302
    assert client.post("/import/preview").status_code in (302, 400)


def test_csrf_is_required_for_preview_and_apply(
    place: SimpleNamespace, make_app: Callable[..., Flask],
    login_as: Callable[..., FlaskClient], read_entry: Callable[[int], Any],
) -> None:
    guarded = make_app(WTF_CSRF_ENABLED=True)
    client = login_as("owner", place.store, on=guarded)
    assert upload(client, file_for(place, 14)).status_code == 400
    token_field = csrf_from_page(client.get("/import").get_data(as_text=True))
    preview = upload(client, file_for(place, 14), extra={"csrf_token": token_field})
    assert preview.status_code == 200
    token = hidden_value(preview.get_data(as_text=True), "token")
    assert client.post("/import/apply", data={"token": token}).status_code == 400
    assert read_entry(place.entry.id).quantity == 10
    applied = client.post("/import/apply", data={"token": token, "csrf_token": token_field})
    assert applied.status_code == 303
    assert read_entry(place.entry.id).quantity == 14


def test_the_preview_lists_errors_first_and_caps_the_rows_it_shows(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "SHOWN_ROWS", 1)
    client = login_as("owner", place.store)
    slug, sku = place.store.slug, place.product.sku
    body = upload(client, f"{HEADER}\r\n{slug},MAIN,{sku},M,12,0,0,,,\r\n"
                          f"{slug},MAIN,GONE,M,1,0,0,,,\r\n").get_data(as_text=True)
    table = body[body.index('<table class="import-rows">'):]
    assert "Unknown SKU “GONE”" in table and "10 → 12" not in table
    assert "Showing the first 1 of 2 rows" in body


def test_the_apply_form_is_a_plain_post_that_works_without_javascript(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", place.store)
    body = upload(client, file_for(place, 14)).get_data(as_text=True)
    forms = audit(body).elements("form", action="/import/apply")
    assert len(forms) == 1 and forms[0]["method"] == "post"
    assert not any(name.startswith("hx-") for name in forms[0])
    assert csrf_from_page(body)


def test_another_stores_batch_page_is_not_found(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient], make_store: Callable[..., Any],
) -> None:
    client = login_as("owner", place.store)
    body = upload(client, file_for(place, 14)).get_data(as_text=True)
    applied = client.post("/import/apply", data={"token": hidden_value(body, "token")})
    location = applied.headers["Location"]
    assert client.get(location).status_code == 200

    db.session.rollback()
    stranger = login_as("owner", make_store())
    assert stranger.get(location).status_code == 404
    # Any string of the batch shape is not found either, not an empty "0 movements" page.
    assert client.get("/import/batches/import-nothing-here").status_code == 404


def test_a_threshold_only_batch_page_opens_for_whoever_applied_it(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient], make_store: Callable[..., Any],
) -> None:
    client = login_as("owner", place.store)
    body = upload(client, file_for(place, 10, threshold=7)).get_data(as_text=True)
    applied = client.post("/import/apply", data={"token": hidden_value(body, "token")})
    location = applied.headers["Location"]
    done = client.get(location)
    assert done.status_code == 200 and "0 movements" in done.get_data(as_text=True)
    db.session.rollback()
    assert login_as("owner", make_store()).get(location).status_code == 404
@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_a_file_that_changes_nothing_offers_no_apply(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient], role: str,
) -> None:
    """An unchanged export, previewed by anyone (a read-only member too), has nothing to
    apply: no Apply button and no token to post, and the page says so."""
    client = (login_as("owner", place.store) if role == "owner"
              else login_as("staff", place.store))
    response = upload(client, file_for(place, 10))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Apply import" not in body
    assert 'name="token"' not in body
    assert "Nothing to apply: every row matches the stock as it is now." in body
