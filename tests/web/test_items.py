"""Items with options in the browser's shoes: the item page's variant × location matrix, a
new item made from its options, a value added later, who may do what, and what bad input,
forged requests and markup in names get."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Item, ItemVariant, Product
from app.permissions import ADJUST, system_actor
from app.services import items, stock

from .helpers import HX, csrf_from_page
from .test_xss import IMG, assert_escaped

PARKA = [items.Option("Color", ("Black", "Glacier Blue")), items.Option("Size", ("S", "M"))]


@pytest.fixture
def shop(make_store, make_location) -> SimpleNamespace:
    """A parka in two colours and two sizes, stocked at two of three locations:
    BLACK-S 5 at MAIN (2 reserved, threshold 4) and 2 at BACK; BLACK-M 7 at MAIN."""
    store = make_store("Outfitters")
    main, back = make_location(store, "MAIN"), make_location(store, "BACK")
    make_location(store, "EMPTY")
    actor = system_actor("tests")
    made = items.create_item(actor=actor, store_id=store.id, title="Summit Parka",
                             options=PARKA, variants_to_make=items.generate(PARKA, "PRK"))
    black_s, black_m = made.product_ids[:2]
    first = stock.create_entry(actor=actor, product_id=black_s, location_id=main.id,
                               quantity=5, low_stock_threshold=4).entry
    stock.reserve_stock(actor=actor, entry_id=first.id, quantity=2, order_ref="ORD-1")
    stock.create_entry(actor=actor, product_id=black_s, location_id=back.id, quantity=2)
    stock.create_entry(actor=actor, product_id=black_m, location_id=main.id, quantity=7)
    return SimpleNamespace(store=store, main=main, back=back, item_id=made.id,
                           products=made.product_ids, entry=first)


def _page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _cell(body: str, entry_id: int) -> str:
    match = re.search(rf'<td class="num cell" id="cell-{entry_id}">(.*?)</td>', body, re.S)
    assert match, f"no cell for entry {entry_id}"
    return match.group(1)


def _text(fragment: str) -> str:
    """What the eye reads: tags and visually hidden words gone, spaces folded."""
    fragment = re.sub(r'<span class="visually-hidden">.*?</span>', "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _counts() -> tuple[int, int, int]:
    db.session.rollback()
    try:
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Item, ItemVariant, Product))  # type: ignore[return-value]
    finally:
        db.session.rollback()


def test_the_item_page_shows_options_totals_and_the_matrix(shop, login_as) -> None:
    client = login_as("owner", shop.store)
    body = _page(client, f"/catalog/items/{shop.item_id}")

    assert "<h1>Summit Parka</h1>" in body and "Outfitters" in body
    # Each value leads to its entries in the overview, as does the item.
    colors = re.search(r"<dt>Color</dt><dd>(.*?)</dd>", body).group(1)
    assert _text(colors) == "Black , Glacier Blue"  # tags read as spaces
    assert f'href="/inventory?item={shop.item_id}&amp;value=Glacier+Blue"' in colors
    assert _text(re.search(r"<dt>Size</dt><dd>(.*?)</dd>", body).group(1)) == "S , M"
    assert f'href="/inventory?item={shop.item_id}">Every entry of this item' in body
    assert re.search(r"<dt>On hand</dt><dd>14</dd>", body)
    assert re.search(r"<dt>Available</dt><dd>12</dd>", body)
    # One column per location holding a variant, by code; the empty one is left out.
    head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
    assert re.findall(r"<abbr[^>]*>([A-Z]+)</abbr>", head) == ["BACK", "MAIN"]
    # BLACK-S at MAIN: 5 on hand, 3 available, low stock (threshold 4), its Adjust dialog.
    cell = _cell(body, shop.entry.id)
    assert _text(cell) == "5 / 3 Low stock"
    assert f'href="/inventory/entries/{shop.entry.id}/adjust"' in cell and "data-dialog" in cell
    assert "Adjust PRK-BLACK-S at MAIN: on hand" in cell
    rows = re.findall(r'<tr id="variant-(\d+)">(.*?)</tr>', body, re.S)
    assert [int(r[0]) for r in rows] == list(shop.products)
    black_s, black_m, blue_s, _blue_m = (_text(r[1]) for r in rows)
    assert black_s == "Black / S PRK-BLACK-S 2 / 2 In stock 5 / 3 Low stock 7 / 5"
    assert black_m == "Black / M PRK-BLACK-M — 7 / 7 In stock 7 / 7"
    assert blue_s == "Glacier Blue / S PRK-GLACIERBLUE-S — — 0 / 0"
    # The SKU opens the variant's stock page.
    assert f'href="/products/{shop.products[0]}"' in rows[0][1]
    foot = _text(re.search(r"<tfoot>(.*?)</tfoot>", body, re.S).group(1))
    assert foot == "Total 2 / 2 12 / 10 14 / 12"


def test_staff_without_grants_read_the_matrix_but_change_nothing(shop, login_as) -> None:
    client = login_as("staff", shop.store)
    body = _page(client, f"/catalog/items/{shop.item_id}")

    assert "/adjust" not in body and "data-dialog" not in body
    # Each number still opens the entry's own page.
    assert f'href="/inventory/entries/{shop.entry.id}"' in _cell(body, shop.entry.id)
    assert "Add a value" not in body and "/values" not in body
    before = _counts()
    response = client.post(f"/catalog/items/{shop.item_id}/values",
                           data={"option": "1", "value": "Red", "sku_prefix": "PRK"})
    assert response.status_code == 403
    assert _counts() == before
    assert client.get(f"/catalog/items/new?store={shop.store.id}").status_code == 403


def test_a_clerk_may_adjust_from_the_matrix(shop, login_as) -> None:
    client = login_as("staff", shop.store, grants=(ADJUST,))
    body = _page(client, f"/catalog/items/{shop.item_id}")
    assert f"/inventory/entries/{shop.entry.id}/adjust" in body
    assert "Add a value" not in body


def test_another_stores_item_and_an_unknown_one_are_not_found(shop, login_as,
                                                              make_store) -> None:
    stranger = login_as("owner", make_store("Elsewhere"))
    for url in (f"/catalog/items/{shop.item_id}", "/catalog/items/999999"):
        assert stranger.get(url).status_code == 404
    before = _counts()
    response = stranger.post(f"/catalog/items/{shop.item_id}/values",
                             data={"option": "1", "value": "Red", "sku_prefix": "PRK"})
    assert response.status_code == 404
    assert _counts() == before


def test_a_variant_links_to_its_item_from_its_product_pages(shop, login_as,
                                                            make_product) -> None:
    client = login_as("owner", shop.store)
    line = (f'Variant of <a href="/catalog/items/{shop.item_id}">Summit Parka</a>'
            " — Color: Black, Size: S")
    for url in (f"/products/{shop.products[0]}", f"/catalog/products/{shop.products[0]}/edit"):
        assert line in _page(client, url), url
    # A product made alone is its item's only variant: nothing to link to.
    mug = make_product(shop.store, sku="MUG", title="Mug")
    assert "Variant of" not in _page(client, f"/products/{mug.id}")


def test_the_products_list_offers_a_new_item_to_catalog_managers(shop, login_as) -> None:
    link = f'href="/catalog/items/new?store={shop.store.id}"'
    assert link in _page(login_as("owner", shop.store), f"/catalog/products?store={shop.store.id}")
    assert link not in _page(login_as("staff", shop.store),
                             f"/catalog/products?store={shop.store.id}")


def _new_item(**changes: Any) -> dict[str, str]:
    return {"title": "Trail Beanie", "options": "Color: Red, Navy\nSize: S/M, L/XL",
            "sku_prefix": "BNE", "product_type": "physical", "reorder_point": "4",
            "reorder_quantity": "12", **changes}


def test_a_new_item_is_made_with_a_variant_for_every_combination(shop, login_as) -> None:
    client = login_as("owner", shop.store)
    form = _page(client, f"/catalog/items/new?store={shop.store.id}")
    assert "New item with options in Outfitters" in form

    response = client.post("/catalog/items/new",
                           data={**_new_item(allow_backorder="y", reorder_up_to="30"),
                                 "store": shop.store.id})

    assert response.status_code == 303
    db.session.rollback()
    item_id = db.session.scalar(select(Item.id).where(Item.title == "Trail Beanie"))
    assert response.headers["Location"] == f"/catalog/items/{item_id}"
    page = _page(client, response.headers["Location"])
    assert "Added Trail Beanie with 4 variants." in page
    assert re.findall(r'class="sku" href="/products/\d+" id="vs\d+">([A-Z/-]+)<', page) == [
        "BNE-RED-SM", "BNE-RED-LXL", "BNE-NAVY-SM", "BNE-NAVY-LXL"]
    made = db.session.scalars(select(Product).join(
        ItemVariant, ItemVariant.product_id == Product.id).where(ItemVariant.item_id == item_id))
    assert {(p.reorder_point, p.reorder_quantity, p.reorder_up_to, p.allow_backorder)
            for p in made} == {(4, 12, 30, True)}


def test_one_store_of_several_must_be_named(shop, login_as, make_store, make_user,
                                            sign_in) -> None:
    from app.models import Membership

    user = make_user(role="owner", store=shop.store)
    db.session.add(Membership(user_id=user.id, store_id=make_store("Second").id, role="owner"))
    db.session.commit()
    client = sign_in(user)
    assert 'id="store-choice"' in _page(client, "/catalog/items/new")
    before = _counts()
    response = client.post("/catalog/items/new", data=_new_item())
    assert response.status_code == 422
    assert "Choose the store to add the item to." in response.get_data(as_text=True)
    assert _counts() == before


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"title": ""}, "title", "Enter a title."),
    ({"title": "x" * 201}, "title", "200"),
    ({"options": "Color Red, Navy"}, "options", "Line 1: write the option"),
    ({"options": "Color:"}, "options", "Color needs at least one value."),
    ({"options": "A: 1\nB: 2\nC: 3\nD: 4"}, "options", "at most 3 options; this one has 4"),
    ({"options": "A: " + ",".join(map(str, range(50))) + "\nB: "
      + ",".join(map(str, range(50))) + "\nC: " + ",".join(map(str, range(50)))},
     "options", "These options make 125000 variants"),
    ({"options": "Size: S/M, SM"}, "sku_prefix", "would both have the SKU BNE-SM"),
    ({"sku_prefix": ""}, "sku_prefix", "Enter a SKU prefix"),
    ({"sku_prefix": "P" * 70}, "sku_prefix", "64"),
    ({"reorder_point": "-1"}, "reorder_point", "Must not be negative."),
    ({"reorder_quantity": "lots"}, "reorder_quantity", "Enter a whole number"),
    ({"reorder_up_to": "4"}, "reorder_up_to", "Order up to must be above the reorder point."),
    ({"reorder_up_to": "x"}, "reorder_up_to", "Enter a whole number"),
    ({"product_type": "rocket"}, "product_type", "Choose one of"),
])
def test_bad_input_is_named_beside_its_field_and_nothing_is_made(
    shop, login_as, changes, field, message
) -> None:
    client = login_as("owner", shop.store)
    before = _counts()

    response = client.post("/catalog/items/new",
                           data={**_new_item(**changes), "store": shop.store.id})

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', body, re.S)
    assert error and message in html.unescape(error.group(1)), body[:3000]
    assert 'aria-invalid="true"' in re.search(rf'<[a-z]+ [^>]*id="{field}"[^>]*>', body).group(0)
    assert _counts() == before


def test_a_taken_sku_is_a_conflict_beside_the_prefix(shop, login_as) -> None:
    client = login_as("owner", shop.store)
    before = _counts()
    response = client.post("/catalog/items/new", data={
        **_new_item(title="Another Parka", options="Color: Black\nSize: S", sku_prefix="PRK"),
        "store": shop.store.id})

    assert response.status_code == 409
    error = re.search(r'<p class="field-error" id="sku_prefix-error">(.*?)</p>',
                      response.get_data(as_text=True))
    assert error and "PRK-BLACK-S" in error.group(1)
    assert _counts() == before


def test_no_input_makes_a_server_error(shop, login_as, subtests) -> None:
    client = login_as("owner", shop.store)
    hostile = ["\x00", "Ｐ", "x" * 5000, "1e9", "-0", " ", "::", ":\n:", "A:,,,"]
    for value in hostile:
        for name in ("title", "options", "sku_prefix", "product_type", "reorder_point",
                     "store"):
            with subtests.test(field=name, value=value[:10]):
                response = client.post("/catalog/items/new",
                                       data={**_new_item(), "store": shop.store.id,
                                             name: value})
                assert response.status_code < 500
        for name in ("option", "value", "sku_prefix"):
            with subtests.test(value_field=name, value=value[:10]):
                data = {"option": "1", "value": "Red", "sku_prefix": "PRK", name: value}
                response = client.post(f"/catalog/items/{shop.item_id}/values", data=data)
                assert response.status_code < 500


def test_a_value_added_later_adds_its_variants(shop, login_as) -> None:
    client = login_as("owner", shop.store)
    body = _page(client, f"/catalog/items/{shop.item_id}")
    assert re.search(r'<input[^>]*id="sku_prefix"[^>]*value="PRK"', body)
    assert '<option value="2">Size</option>' in body

    response = client.post(f"/catalog/items/{shop.item_id}/values",
                           data={"option": "2", "value": "XL", "sku_prefix": "PRK"})

    assert response.status_code == 303
    assert response.headers["Location"] == f"/catalog/items/{shop.item_id}"
    page = _page(client, response.headers["Location"])
    assert "Added XL: 2 new variants, PRK-BLACK-XL, PRK-GLACIERBLUE-XL." in page
    sizes = re.search(r"<dt>Size</dt><dd>(.*?)</dd>", page).group(1)
    assert _text(sizes) == "S , M , XL"


@pytest.mark.parametrize(("data", "field", "message", "status"), [
    ({"option": "2", "value": "m"}, "value", "Size already has the value m.", 422),
    ({"option": "2", "value": ""}, "value", "Enter the new value.", 422),
    ({"option": "7", "value": "XL"}, "option", "Choose one of the item", 422),
    ({"option": "2", "value": "XL", "sku_prefix": ""}, "sku_prefix", "Enter a SKU prefix.", 422),
    ({"option": "2", "value": "XL", "sku_prefix": "Q" * 63}, "sku_prefix", "longer than 64",
     422),
])
def test_a_bad_value_is_named_beside_its_field_and_nothing_is_made(
    shop, login_as, data, field, message, status
) -> None:
    client = login_as("owner", shop.store)
    before = _counts()
    response = client.post(f"/catalog/items/{shop.item_id}/values",
                           data={"sku_prefix": "PRK", **data})
    assert response.status_code == status
    body = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', body, re.S)
    assert error and message in html.unescape(error.group(1)), body[:3000]
    # The page is drawn again around the form: the matrix is still there.
    assert f'id="cell-{shop.entry.id}"' in body
    assert _counts() == before


def test_a_value_whose_skus_are_taken_is_a_conflict_beside_the_prefix(
    shop, login_as, make_product
) -> None:
    make_product(shop.store, sku="PRK-BLACK-XL")
    client = login_as("owner", shop.store)
    before = _counts()
    response = client.post(f"/catalog/items/{shop.item_id}/values",
                           data={"option": "2", "value": "XL", "sku_prefix": "PRK"})
    assert response.status_code == 409
    error = re.search(r'<p class="field-error" id="sku_prefix-error">(.*?)</p>',
                      response.get_data(as_text=True))
    assert error and "PRK-BLACK-XL" in error.group(1)
    assert _counts() == before


def test_forms_need_their_csrf_token(shop, make_app: Callable[..., Flask], login_as) -> None:
    guarded = make_app(WTF_CSRF_ENABLED=True)
    client = login_as("owner", shop.store, on=guarded)
    before = _counts()
    for url, data in ((f"/catalog/items/{shop.item_id}/values",
                       {"option": "2", "value": "XL", "sku_prefix": "PRK"}),
                      ("/catalog/items/new", {**_new_item(), "store": shop.store.id})):
        response = client.post(url, data=data)
        assert response.status_code in (400, 422), url
        assert _counts() == before
    # With the page's own token both go through.
    token = csrf_from_page(_page(client, f"/catalog/items/{shop.item_id}"))
    response = client.post(f"/catalog/items/{shop.item_id}/values", data={
        "option": "2", "value": "XL", "sku_prefix": "PRK", "csrf_token": token})
    assert response.status_code == 303
    token = csrf_from_page(_page(client, f"/catalog/items/new?store={shop.store.id}"))
    response = client.post("/catalog/items/new",
                           data={**_new_item(), "store": shop.store.id, "csrf_token": token})
    assert response.status_code == 303


def test_markup_in_titles_and_option_values_is_shown_as_text(shop, login_as) -> None:
    client = login_as("owner", shop.store)
    response = client.post("/catalog/items/new", data={
        **_new_item(title=f"Beanie<script>alert(1)</script>{IMG}",
                    options=f"Color: <script>x</script>, {IMG}"),
        "store": shop.store.id})
    assert response.status_code == 303
    page = _page(client, response.headers["Location"])
    assert "<script>alert(1)</script>" not in page and "<script>x</script>" not in page
    assert "Beanie&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert_escaped(page, "item page")
    variant = re.search(r'class="sku" href="(/products/\d+)"', page).group(1)
    for url in (variant, f"{variant.replace('/products/', '/catalog/products/')}/edit"):
        assert_escaped(_page(client, url), url)
    # Refused input comes back in the form as text, too.
    response = client.post("/catalog/items/new", data={
        **_new_item(title=IMG, options=f"{IMG}"), "store": shop.store.id})
    assert response.status_code == 422
    assert_escaped(response.get_data(as_text=True), "refused form")


def test_an_item_is_renamed_with_its_variants_and_a_blank_title_is_refused(shop,
                                                                           login_as) -> None:
    client = login_as("owner", shop.store)
    staff = login_as("staff", shop.store)
    page = _page(client, f"/catalog/items/{shop.item_id}")
    token = csrf_from_page(page)
    blank = client.post(f"/catalog/items/{shop.item_id}/rename",
                        data={"title": " ", "csrf_token": token})
    assert blank.status_code == 422
    assert 'aria-invalid="true"' in blank.get_data(as_text=True)
    done = client.post(f"/catalog/items/{shop.item_id}/rename",
                       data={"title": "Storm Parka", "csrf_token": token})
    assert done.status_code == 303
    after = _page(client, done.headers["Location"])
    assert "Renamed Summit Parka to Storm Parka; its 4 variants follow." in after
    assert "<h1>Storm Parka</h1>" in after
    assert staff.post(f"/catalog/items/{shop.item_id}/rename",
                      data={"title": "X", "csrf_token": token}).status_code in (400, 403)


def test_an_item_is_archived_with_its_variants_after_a_second_click(shop, login_as) -> None:
    """Archive item opens a dialog saying what will happen and which variants still hold
    stock; its button archives the item and every variant, whose stock stays; the page
    then offers Restore, which brings them all back."""
    client = login_as("owner", shop.store)
    page = _page(client, f"/catalog/items/{shop.item_id}")
    link = re.search(r'<a class="button danger" href="([^"]+)" data-dialog>Archive item</a>',
                     page)
    assert link and link.group(1) == f"/catalog/items/{shop.item_id}/archive"

    dialog = client.get(link.group(1), headers=HX).get_data(as_text=True)
    assert dialog.startswith('<dialog id="action-dialog"')
    assert '<h2 id="dialog-title">Archive item — Summit Parka</h2>' in dialog
    assert "Summit Parka and all 4 of its variants will leave the product list" in dialog
    held = _text(re.search(r'<ul class="holding">(.*?)</ul>', dialog, re.S).group(1))
    assert held == ("PRK-BLACK-S : 7 on hand, 2 reserved for orders "  # tags read as spaces
                    "PRK-BLACK-M : 7 on hand")
    assert '<button type="submit" class="button danger">Archive item</button>' in dialog
    assert "data-close-dialog" in dialog
    before = _counts()

    done = client.post(link.group(1), headers=HX)

    assert done.status_code == 200
    assert json.loads(done.headers["HX-Location"])["path"] == f"/catalog/items/{shop.item_id}"
    assert json.loads(done.headers["HX-Trigger"]) == {"close-dialog": True}
    db.session.rollback()
    assert db.session.get(Item, shop.item_id).status == "archived"
    assert all(db.session.get(Product, p).archived_at is not None for p in shop.products)
    assert _counts() == before  # nothing deleted: the variants and their stock stay
    events = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.product_id.in_(shop.products), AuditEvent.action == "product.archived"))
    assert len(events.all()) == 4
    after = _page(client, f"/catalog/items/{shop.item_id}")
    assert "Archived Summit Parka and 4 variants." in after
    assert '<span class="badge badge-item-archived">Archived</span>' in after
    assert _text(_cell(after, shop.entry.id)) == "5 / 3 Low stock"  # the stock stays
    # Again: refused in the dialog, saying why.
    again = client.post(link.group(1), headers=HX)
    assert again.status_code == 409
    assert "Summit Parka is already archived." in again.get_data(as_text=True)

    restore = re.search(r'href="([^"]+)" data-dialog>Restore item</a>', after)
    assert restore and restore.group(1) == f"/catalog/items/{shop.item_id}/unarchive"
    plain = client.post(restore.group(1))
    assert plain.status_code == 303 and plain.headers["Location"] == restore.group(1).rsplit(
        "/", 1)[0]
    assert "Restored Summit Parka and 4 variants." in _page(client, plain.headers["Location"])
    db.session.rollback()
    assert db.session.get(Item, shop.item_id).status == "active"
    assert all(db.session.get(Product, p).archived_at is None for p in shop.products)


def test_archiving_an_item_needs_the_catalog_permission(shop, login_as, make_store) -> None:
    staff = login_as("staff", shop.store, grants=(ADJUST,))
    stranger = login_as("owner", make_store("Elsewhere"))
    assert "Archive item" not in _page(staff, f"/catalog/items/{shop.item_id}")
    for client, status in ((staff, 403), (stranger, 404)):
        assert client.get(f"/catalog/items/{shop.item_id}/archive").status_code == status
        assert client.post(f"/catalog/items/{shop.item_id}/archive").status_code == status
    db.session.rollback()
    assert db.session.get(Item, shop.item_id).status == "active"
