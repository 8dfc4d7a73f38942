"""The import screens with the item and options columns: the preview names each product the
file adds before anything is saved; a malformed cell or a missing catalog permission is a
row problem, never a 500."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Product
from app.permissions import ADJUST, THRESHOLD, system_actor
from app.services import items, stock

from .helpers import assert_csp_clean, hidden_value

HEADER = "store,location,sku,quantity,item,options"


def upload(client: FlaskClient, content: str) -> Any:
    return client.post("/import/preview",
                       data={"file": (io.BytesIO(content.encode()), "stock.csv")},
                       content_type="multipart/form-data")


def products() -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(Product)) or 0)


@pytest.fixture
def parka(scene: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    """A store with a MAIN location and Parka (Color: Black; Size: S, M)."""
    place = scene(code="main")
    options = [items.Option("Color", ("Black",)), items.Option("Size", ("S", "M"))]
    items.create_item(actor=system_actor("tests"), store_id=place.store.id, title="Parka",
                      options=options, variants_to_make=items.generate(options, "PRK"))
    return place


def new_variant_file(place: SimpleNamespace, options: str = "Color: Black; Size: XL") -> str:
    return (f"{HEADER}\r\n{place.store.slug},MAIN,PRK-BLACK-XL,4,Parka,\"{options}\"\r\n")


def test_the_preview_names_each_new_product_and_the_apply_makes_it(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
) -> None:
    client = login_as("owner", parka.store)
    before, count = db_state(), products()
    response = upload(client, new_variant_file(parka))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    text = html.unescape(re.sub(r"\s+", " ", body))
    assert "Creates variant PRK-BLACK-XL of Parka (Color: Black; Size: XL)" in text
    assert re.search(r"New in the catalog</h2> <p>Applying adds 1 product to the catalog",
                     text)
    assert "New products</dt><dd class=\"card-value\">1</dd>" in body
    assert "Applying writes 1 entry and adds 1 product to the catalog in one step" in text
    assert (db_state(), products()) == (before, count)  # a preview changes nothing
    assert_csp_clean(body)

    applied = client.post("/import/apply", data={"token": hidden_value(body, "token")})
    assert applied.status_code == 303
    done = html.unescape(client.get(applied.headers["Location"]).get_data(as_text=True))
    assert "0 entries updated, 1 created, 1 product added, 1 ledger row" in done
    assert products() == count + 1


def test_another_row_of_a_new_product_says_which_line_creates_it(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", parka.store)
    slug = parka.store.slug
    spare = parka.spare.code
    body = upload(client, f"{HEADER}\r\n{slug},MAIN,JKT-1,1,Jacket,Size: S\r\n"
                          f"{slug},{spare},JKT-1,2,Jacket,Size: S\r\n").get_data(as_text=True)
    text = html.unescape(body)
    assert "Creates variant JKT-1 of the new item Jacket (Size: S)" in text
    assert "Stocks the new JKT-1 (line 2 creates it)" in text
    assert "Applying adds 1 product to the catalog (1 new item)" in text


def test_a_member_who_may_not_edit_the_catalog_gets_a_row_problem(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    clerk = login_as("staff", parka.store, grants=(ADJUST, THRESHOLD))
    count = products()
    body = html.unescape(upload(clerk, new_variant_file(parka)).get_data(as_text=True))
    assert (f"You may not add products to the catalog in {parka.store.slug} "
            "(catalog:manage)") in body
    assert 'name="token"' not in body and "New in the catalog" not in body
    assert products() == count


@pytest.mark.parametrize("cell", [
    "Color Black", "Color: Black; Color: Red", "A: 1; B: 2; C: 3; D: 4",
    "Color: " + "x" * 10_000, "Color: Bl\x07ack", "Color: Bl\x00ack", "Color:\ud800",
    ": Black", "Colour: Black; Size: XL", "Color: Black; Size: S",
])
def test_a_malformed_options_cell_is_a_row_problem_never_a_500(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any], cell: str,
) -> None:
    client = login_as("owner", parka.store)
    before, count = db_state(), products()
    data = new_variant_file(parka, cell).encode("utf-8", "surrogatepass")
    response = client.post("/import/preview", data={"file": (io.BytesIO(data), "stock.csv")},
                           content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    errors = re.findall(r"<strong>Error:</strong>([^<]*)", body)
    if "\ud800" in cell:  # not UTF-8: the file as a whole cannot be read
        assert "not UTF-8" in body
    else:
        assert len(errors) == 1 and re.match(r" (The )?[Oo]ptions", errors[0]), errors
    assert 'name="token"' not in body
    assert (db_state(), products()) == (before, count)


def test_the_upload_page_explains_the_item_and_options_columns(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    body = login_as("owner", parka.store).get("/import").get_data(as_text=True)
    for column in ("item", "options"):
        assert f"<code>{column}</code>" in body
    assert "<code>Color: Black; Size: XL</code>" in body


def test_an_exported_store_uploaded_again_offers_nothing_to_apply(
    parka: SimpleNamespace, login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", parka.store)
    made = items.get_item(system_actor("t"), db.session.scalar(
        select(func.min(items.items.c.id)).where(items.items.c.title == "Parka")))
    db.session.rollback()
    for variant in made.variants:
        stock.create_entry(actor=system_actor("t"), product_id=variant.product_id,
                           location_id=parka.location.id, quantity=2)
    exported = client.get(f"/inventory.csv?store={parka.store.id}").get_data()
    assert b"Color: Black; Size: S" in exported
    body = client.post("/import/preview", data={"file": (io.BytesIO(exported), "x.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Nothing to apply: every row matches the stock as it is now." in body
    assert "New in the catalog" not in body
