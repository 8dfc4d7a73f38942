"""The overview as CSV: the entries format, the overview's filters and order, the user's
stores only, cells that cannot run as formulas, and a body streamed in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.clock import frozen_at
from app.services.csvfile import FLUSH_ROWS, csv_chunks
from app.services.export import CSV_COLUMNS, ExportRow

HEADER = ["store", "location", "sku", "title", "quantity", "reserved", "available",
          "threshold", "status", "version", "item", "options"]


def read_csv(response: Any) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), raw[:10]
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
         make_product: Callable[..., Any], make_entry: Callable[..., Any],
         make_store: Callable[..., Any]) -> SimpleNamespace:
    mug = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1", quantity=10, reserved=2,
                threshold=3)
    low = make_entry(store=mug.store, location=mug.location, quantity=2, threshold=5,
                     product=make_product(mug.store, sku="CUP-RED", title="Red Cup"))
    foreign = scene(title="Secret Kettle", sku="KET-1", quantity=7)
    return SimpleNamespace(
        store=mug.store, mug=mug, low=low, foreign=foreign,
        client=login_as("owner", mug.store),
    )


def test_export_writes_the_entries_format_with_bom_and_crlf(shop: SimpleNamespace) -> None:
    with frozen_at(datetime(2026, 3, 9, 10, 0)):
        response = shop.client.get("/inventory.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="stockroom-inventory-2026-03-09.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert "Content-Length" not in response.headers  # streamed, not built in memory
    assert b"\r\n" in response.get_data()
    rows = read_csv(response)
    assert rows[0] == HEADER == list(CSV_COLUMNS)
    assert rows[1:] == [
        [shop.store.slug, "AISLE_1", "MUG-BLU", "Blue Mug", "10", "2", "8", "3", "in_stock",
         str(shop.mug.entry.version), "Blue Mug", ""],
        [shop.store.slug, "AISLE_1", "CUP-RED", "Red Cup", "2", "0", "2", "5", "low_stock",
         str(shop.low.version), "Red Cup", ""],
    ]
    assert "Secret Kettle" not in response.get_data(as_text=True)


def test_export_follows_the_overview_filters_and_sort(shop: SimpleNamespace) -> None:
    low = read_csv(shop.client.get("/inventory.csv?status=low_stock"))
    assert [r[2] for r in low[1:]] == ["CUP-RED"]
    found = read_csv(shop.client.get("/inventory.csv?q=mug"))
    assert [r[2] for r in found[1:]] == ["MUG-BLU"]
    by_quantity = read_csv(shop.client.get("/inventory.csv?sort=quantity&dir=desc"))
    assert [r[4] for r in by_quantity[1:]] == ["10", "2"]
    # Paging does not narrow an export: it holds every matching row.
    paged = read_csv(shop.client.get("/inventory.csv?per_page=25&cursor=junk"))
    assert len(paged) == 3


def test_an_unreadable_filter_is_refused_rather_than_exporting_more(
    shop: SimpleNamespace,
) -> None:
    response = shop.client.get("/inventory.csv?status=nonsense")
    assert response.status_code == 422
    assert "text/html" in response.headers["Content-Type"]
    assert "Choose a status from the list." in response.get_data(as_text=True)


def test_a_foreign_store_filter_exports_nothing(shop: SimpleNamespace) -> None:
    response = shop.client.get(f"/inventory.csv?store={shop.foreign.store.id}")
    assert response.status_code == 404  # as for a store that does not exist
    assert "MUG" not in response.get_data(as_text=True)


def test_a_platform_admin_exports_every_store(shop: SimpleNamespace,
                                              login_as: Callable[..., FlaskClient]) -> None:
    rows = read_csv(login_as("platform_admin").get("/inventory.csv"))
    assert sorted(r[2] for r in rows[1:]) == ["CUP-RED", "KET-1", "MUG-BLU"]


def test_read_only_staff_may_export_what_they_see(shop: SimpleNamespace,
                                                  login_as: Callable[..., FlaskClient]) -> None:
    rows = read_csv(login_as("staff", shop.store).get("/inventory.csv"))
    assert len(rows) == 3


def test_signed_out_export_goes_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/inventory.csv")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_cells_cannot_smuggle_formulas(scene: Callable[..., SimpleNamespace],
                                       login_as: Callable[..., FlaskClient]) -> None:
    place = scene(title="=HYPERLINK(\"http://evil\")", sku="+SKU-1", quantity=4, reserved=0)
    rows = read_csv(login_as("owner", place.store).get("/inventory.csv"))
    assert rows[1][2:5] == ["'+SKU-1", "'=HYPERLINK(\"http://evil\")", "4"]


def test_the_overview_links_to_the_export_with_its_filters(shop: SimpleNamespace) -> None:
    body = shop.client.get("/inventory?status=low_stock&q=cup&sort=quantity").get_data(
        as_text=True
    )
    assert 'href="/inventory.csv?status=low_stock&amp;q=cup&amp;sort=quantity"' in body
    assert ">Export CSV</a>" in body


def test_the_body_is_written_in_chunks_as_rows_arrive() -> None:
    pulled: list[int] = []

    def rows() -> Any:
        for n in range(450):
            pulled.append(n)
            yield ExportRow("s", "L", f"SKU-{n}", "T", n, 0, n, 0, "in_stock", 1)

    chunks = csv_chunks(CSV_COLUMNS, map(ExportRow.cells, rows()))
    first = next(chunks)
    # The first chunk leaves before most rows are read: memory stays flat at any size.
    assert first.startswith("\ufeffstore,location,sku")
    assert len(pulled) <= FLUSH_ROWS + 1
    rest = list(chunks)
    assert len(rest) == 2
    assert "".join([first, *rest]).count("\r\n") == 451


def test_a_variants_row_names_its_item_and_option_values_and_imports_back_unchanged(
    shop: SimpleNamespace,
) -> None:
    from app.permissions import system_actor
    from app.services import items, stock

    actor = system_actor("tests")
    options = [items.Option("Color", ("Black",)), items.Option("Size", ("S", "M"))]
    made = items.create_item(actor=actor, store_id=shop.store.id, title="Parka",
                             options=options, variants_to_make=items.generate(options, "PRK"))
    stock.create_entry(actor=actor, product_id=made.product_ids[1],
                       location_id=shop.mug.location.id, quantity=4)
    exported = shop.client.get("/inventory.csv?q=PRK-BLACK-M")
    rows = read_csv(exported)
    assert rows[1][2] == "PRK-BLACK-M" and rows[1][-2:] == ["Parka", "Color: Black; Size: M"]
    # The file goes back in as it came out: nothing to change.
    plan = stock.plan_import(exported.get_data(), actor=actor)
    assert plan.ok and (plan.unchanged, plan.updates, plan.creates) == (1, 0, 0)
