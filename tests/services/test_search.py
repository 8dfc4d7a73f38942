"""Search over title, SKU and GTIN: substrings of title and SKU through the trigram indexes
(pg_trgm on PostgreSQL, the FTS5 table on SQLite), whole GTINs, exact codes first, a SKU
prefix for short terms, keyset pages that stay in order, and the SQLite search table in
step with products."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from app.database import write_transaction
from app.extensions import db
from app.models import ItemVariant, Product, Store
from app.permissions import Actor
from app.services import queries, stock
from app.services.cursors import decode_cursor
from app.services.errors import ValidationError


@pytest.fixture
def shop(
    make_store: Callable[..., Store], make_location: Callable[..., Any],
    make_product: Callable[..., Product], make_entry: Callable[..., Any],
) -> Callable[..., Product]:
    """A store with one location; `stock(sku, title, gtin=None)` adds a stocked product."""
    store = make_store()
    location = make_location(store, "MAIN")

    def stock(sku: str, title: str, gtin: str | None = None, *,
              in_store: Store | None = None) -> Product:
        where = in_store or store
        product = make_product(where, sku=sku, title=title, gtin=gtin)
        make_entry(store=where, product=product,
                   location=location if in_store is None else None)
        return product

    stock.store = store  # type: ignore[attr-defined]
    return stock


def skus(actor: Actor, term: str, **filters: Any) -> list[str]:
    page = queries.list_entries(actor, queries.EntryFilters(search=term, **filters), limit=200)
    assert page.total == len(page.rows)
    return [row.sku for row in page.rows]


def test_substring_of_title_or_sku_in_any_case_or_a_whole_gtin(shop, admin_actor):
    shop("MUG-BLU", "Blue Enamel Mug", "4006381333931")
    shop("TEE-RED", "Red Cotton T-Shirt")
    shop("BAG-001", "Canvas Tote", "0012345678905")
    assert skus(admin_actor, "enamel") == ["MUG-BLU"]
    assert skus(admin_actor, "ENAMEL MUG") == ["MUG-BLU"]
    assert skus(admin_actor, "g-bl") == ["MUG-BLU"]
    assert skus(admin_actor, "tee-r") == ["TEE-RED"]
    assert skus(admin_actor, "4006381333931") == ["MUG-BLU"]
    assert skus(admin_actor, "0012345678905") == ["BAG-001"]
    assert skus(admin_actor, "333931") == []  # a GTIN matches whole: a scanner sends it all
    assert skus(admin_actor, "cotton t-shirt") == ["TEE-RED"]
    assert skus(admin_actor, "  tote  ") == ["BAG-001"]
    assert skus(admin_actor, "blue mug") == []  # a substring, not words in any order


def test_unicode_titles_match_in_any_case(shop, admin_actor):
    shop("KRUG-1", "Ärger-Krug aus Steingut")
    shop("TASSE-1", "Teetasse, weiß")
    shop("CUP-1", "Cup 杯子 ceramic")
    assert skus(admin_actor, "ärger") == ["KRUG-1"]
    assert skus(admin_actor, "ÄRGER") == ["KRUG-1"]
    assert skus(admin_actor, "weiß") == ["TASSE-1"]
    assert skus(admin_actor, "杯子 c") == ["CUP-1"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("100%", ["PCT"]),
        ("0% c", ["PCT"]),
        ("e_ca", ["SNAKE"]),
        ("k\\sl", ["SLASH"]),
        ("o'br", ["QUOTE"]),
        ('"hi"', ["DQUOTE"]),
        ('"hi', ["DQUOTE"]),
        ("%%%", []),
        ("___", []),
        ("\\\\\\", []),
        ("' OR 1=1 --", []),
        ('") OR ("', []),
        ("NEAR(a b)", []),
        ("title:x", []),
    ],
)
def test_special_characters_are_matched_literally(shop, admin_actor, term, expected):
    shop("PCT", "100% Cotton Socks")
    shop("PCTX", "1000 Cotton Socks")
    shop("SNAKE", "snake_case mug")
    shop("SNAKEX", "snakeXcase mug")
    shop("SLASH", "back\\slash tray")
    shop("SLASHX", "backslash tray")
    shop("QUOTE", "O'Brien's Tea")
    shop("DQUOTE", 'Sign saying "hi"')
    assert skus(admin_actor, term) == expected


def test_exact_sku_or_gtin_comes_first_whatever_the_sort(shop, admin_actor):
    shop("ABC-10", "Apple crate")
    shop("XABC-1", "Banana crate")
    shop("abc-1", "Zucchini crate")  # sorts last by title, but is the exact code
    shop("GT-1", "Yam crate", "4006381333931")
    shop("GT-2", "Aubergine crate 4006381333931")
    assert skus(admin_actor, "ABC-1") == ["abc-1", "ABC-10", "XABC-1"]
    assert skus(admin_actor, "abc-1", sort="title", descending=True) == [
        "abc-1", "XABC-1", "ABC-10",
    ]
    assert skus(admin_actor, "abc-1", sort="sku")[0] == "abc-1"
    assert skus(admin_actor, "4006381333931") == ["GT-1", "GT-2"]
    assert skus(admin_actor, "crate") == ["ABC-10", "GT-2", "XABC-1", "GT-1", "abc-1"]


def test_find_exact_matches_whole_codes_in_any_case_within_scope(
    shop, make_store, admin_actor, make_user, actor_of
):
    mug = shop("MUG-BLU", "Blue Mug", "4006381333931")
    shop("MUG-BLUE", "Bluer Mug")
    other_store = make_store()
    shop("MUG-BLU", "Foreign Mug", in_store=other_store)
    shop("X", "One-letter code")
    reader = actor_of(make_user(role="staff", store=shop.store))

    found = queries.find_exact(reader, "mug-blu")
    assert [(e.sku, e.product_id) for e in found] == [("MUG-BLU", mug.id)]
    assert [e.sku for e in queries.find_exact(reader, " 4006381333931 ")] == ["MUG-BLU"]
    assert [e.sku for e in queries.find_exact(reader, "x")] == ["X"]
    assert queries.find_exact(reader, "MUG-BL") == []
    assert queries.find_exact(reader, "400638133393") == []
    assert queries.find_exact(reader, "   ") == []
    assert sorted(e.title for e in queries.find_exact(admin_actor, "MUG-BLU")) == [
        "Blue Mug", "Foreign Mug",
    ]


def test_find_exact_narrows_to_a_store_and_location_and_codes_find_locations(
    shop, make_store, make_location, make_entry, admin_actor
):
    mug = shop("MUG-BLU", "Blue Mug")
    other_store = make_store()
    shop("MUG-BLU", "Foreign Mug", in_store=other_store)
    shelf = make_location(shop.store, "shelf_2")
    on_shelf = make_entry(store=shop.store, product=mug, location=shelf)

    assert len(queries.find_exact(admin_actor, "mug-blu")) == 3
    assert {e.id for e in queries.find_exact(admin_actor, "MUG-BLU", store_id=shop.store.id)} \
        == {e.id for e in queries.find_exact(admin_actor, "MUG-BLU")
            if e.store_id == shop.store.id}
    assert [e.id for e in queries.find_exact(admin_actor, "MUG-BLU", store_id=shop.store.id,
                                             location_id=shelf.id)] == [on_shelf.id]
    assert queries.find_exact(admin_actor, "MUG-BLU", store_id=other_store.id,
                              location_id=shelf.id) == []

    assert [loc.id for loc in queries.find_location_code(admin_actor, " Shelf_2 ")] == [shelf.id]
    assert queries.find_location_code(admin_actor, "SHELF_2", store_id=other_store.id) == []
    assert queries.find_location_code(admin_actor, "SHELF") == []


def test_short_terms_match_the_start_of_a_sku(shop, admin_actor):
    shop("AB-1", "Widget")
    shop("ab-2", "Gadget")
    shop("XAB-3", "Abacus")  # "ab" inside the SKU and at the start of the title
    shop("B", "Thing")
    shop("%X", "Percent")
    shop("_Y", "Underscore")
    assert queries.search_mode("ab") == "sku_prefix"
    assert queries.search_mode("abc") == "substring"
    assert skus(admin_actor, "ab") == ["ab-2", "AB-1"]
    assert skus(admin_actor, "AB") == ["ab-2", "AB-1"]
    assert skus(admin_actor, "b") == ["B"]
    assert skus(admin_actor, "%") == ["%X"]
    assert skus(admin_actor, "_") == ["_Y"]
    assert skus(admin_actor, "a%") == []
    assert skus(admin_actor, "\\") == []


def test_search_sees_only_the_readers_stores(shop, make_store, make_user, actor_of):
    shop("LAMP-1", "Desk Lamp")
    shop("LAMP-2", "Floor Lamp", in_store=make_store())
    reader = actor_of(make_user(role="staff", store=shop.store))
    assert skus(reader, "lamp") == ["LAMP-1"]
    assert skus(reader, "LAMP-2") == []


def test_search_combines_with_the_other_filters(shop, make_entry, admin_actor):
    low = shop("CUP-1", "Tea Cup")
    shop("CUP-2", "Coffee Cup")
    entry_id = db.session.scalar(
        select(queries.entries.c.id).where(queries.entries.c.product_id == low.id)
    )
    stock.adjust_stock(actor=admin_actor, entry_id=entry_id, delta=-10, reason="Broken")
    assert skus(admin_actor, "cup", status="out_of_stock") == ["CUP-1"]
    assert skus(admin_actor, "cup", max_quantity=5) == ["CUP-1"]
    assert skus(admin_actor, "cup", store_id=shop.store.id) == ["CUP-2", "CUP-1"]


def _walk(actor: Actor, filters: queries.EntryFilters, limit: int):
    pages, cursor = [], None
    while True:
        page = queries.list_entries(actor, filters, cursor=cursor, limit=limit)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", ["title", "quantity", "last_movement"])
def test_keyset_pages_of_a_search_keep_the_exact_match_first(
    shop, admin_actor, sort, descending
):
    for n in range(6):
        shop(f"BOX-{n}", f"Box {'ABCDEF'[n]}")
    shop("box-3x", "Box Z")
    filters = queries.EntryFilters(search="box-3", sort=sort, descending=descending)
    everything = [r.id for r in queries.list_entries(admin_actor, filters, limit=100).rows]
    assert queries.list_entries(admin_actor, filters, limit=100).rows[0].sku == "BOX-3"

    filters = queries.EntryFilters(search="box", sort=sort, descending=descending)
    everything = [r.id for r in queries.list_entries(admin_actor, filters, limit=100).rows]
    pages = _walk(admin_actor, filters, limit=2)
    assert [r.id for p in pages for r in p.rows] == everything
    assert len(pages) == 4 and all(p.total == 7 for p in pages)

    exact = queries.EntryFilters(search="BOX-3", sort=sort, descending=descending)
    ranked = _walk(admin_actor, exact, limit=1)
    assert [p.rows[0].sku for p in ranked][0] == "BOX-3"
    assert decode_cursor(ranked[0].next_cursor).rank == 0
    assert decode_cursor(ranked[1].next_cursor or ranked[1].prev_cursor).rank == 1
    # Back from the last page, one page at a time, returns every page in order.
    back, cursor = [], ranked[-1].prev_cursor
    while cursor:
        page = queries.list_entries(admin_actor, exact, cursor=cursor, limit=1)
        back.insert(0, page.rows[0].id)
        cursor = page.prev_cursor
    assert back == [p.rows[0].id for p in ranked[:-1]]


def test_a_cursor_of_another_listing_is_refused(shop, admin_actor):
    for n in range(3):
        shop(f"PEN-{n}", f"Pen {n}")
    plain = queries.list_entries(admin_actor, queries.EntryFilters(), limit=1)
    searched = queries.list_entries(admin_actor, queries.EntryFilters(search="pen"), limit=1)
    with pytest.raises(ValidationError) as caught:
        queries.list_entries(admin_actor, queries.EntryFilters(search="pen"),
                             cursor=plain.next_cursor)
    assert "cursor" in caught.value.fields
    with pytest.raises(ValidationError):
        queries.list_entries(admin_actor, queries.EntryFilters(), cursor=searched.next_cursor)


# --------------------------------------------------------------------------- in step


def test_new_changed_and_deleted_products_are_searched_at_once(
    shop, make_product, admin_actor
):
    kettle = shop("KET-1", "Copper Kettle")
    assert skus(admin_actor, "copper") == ["KET-1"]

    db.session.execute(
        update(Product).where(Product.id == kettle.id)
        .values(title="Steel Kettle", sku="KET-STEEL", gtin="4006381333931")
    )
    db.session.commit()
    assert skus(admin_actor, "copper") == []
    assert skus(admin_actor, "steel") == ["KET-STEEL"]
    assert skus(admin_actor, "t-ste") == ["KET-STEEL"]
    assert skus(admin_actor, "4006381333931") == ["KET-STEEL"]
    assert [e.sku for e in queries.find_exact(admin_actor, "ket-steel")] == ["KET-STEEL"]

    # A change to another column leaves the search as it was.
    db.session.execute(update(Product).where(Product.id == kettle.id).values(reorder_point=3))
    db.session.commit()
    assert skus(admin_actor, "steel") == ["KET-STEEL"]

    spare = make_product(shop.store, sku="SPARE-1", title="Spare Kettle Lid")
    assert _product_matches("kettle lid") == [spare.id]
    # The app never deletes a product; the database can, once its variant row is gone.
    db.session.execute(delete(ItemVariant).where(ItemVariant.product_id == spare.id))
    db.session.execute(delete(Product).where(Product.id == spare.id))
    db.session.commit()
    assert _product_matches("kettle lid") == []
    assert _product_matches("steel kettle") == [kettle.id]


def _product_matches(term: str) -> list[int]:
    """Product ids matching `term`, entries or not: what the search index holds."""
    return list(db.session.scalars(
        select(Product.id).where(queries.search_condition(term)).order_by(Product.id)
    ))


def test_a_rolled_back_change_leaves_the_search_as_it_was(shop, admin_actor):
    shop("VASE-1", "Glass Vase")
    with pytest.raises(RuntimeError), write_transaction() as session:
        session.execute(update(Product).values(title="Clay Vase"))
        session.execute(text("INSERT INTO products (store_id, sku, title, type, "
                             "allow_backorder, reorder_point, reorder_quantity, created_at, "
                             "updated_at) SELECT store_id, 'NEW-1', 'Clay Pot', type, "
                             "allow_backorder, 0, 0, created_at, updated_at FROM products"))
        assert len(_product_matches("clay")) == 2  # visible inside the transaction
        raise RuntimeError("abandon")
    assert _product_matches("clay") == []
    assert skus(admin_actor, "glass") == ["VASE-1"]
    if db.session.get_bind().dialect.name == "sqlite":
        # The FTS5 index itself agrees with its content table.
        db.session.execute(
            text("INSERT INTO products_search (products_search) VALUES ('integrity-check')")
        )
        db.session.commit()


@pytest.mark.parametrize("payload", [
    '["v","Box",1,false,2]', '["v","Box",1,false,"0"]', '["v","Box",1,false,true]',
    '["v","Box",1,false,0,0]', '["v","Box",1]', '{"v":1}',
])
def test_a_forged_search_cursor_is_refused(shop, admin_actor, payload):
    import base64

    shop("BOX-1", "Box")
    token = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    with pytest.raises(ValidationError) as caught:
        queries.list_entries(admin_actor, queries.EntryFilters(search="box"), cursor=token)
    assert caught.value.fields == {"cursor": "This page link is no longer valid."}


def test_a_count_limit_caps_the_total_and_says_so(shop, admin_actor):
    for n in range(5):
        shop(f"CAP-{n}", f"Cap {n}")
    filters = queries.EntryFilters(search="cap")
    exact = queries.list_entries(admin_actor, filters, limit=2)
    assert (exact.total, exact.total_capped) == (5, False)
    capped = queries.list_entries(admin_actor, filters, limit=2, count_limit=3)
    assert (capped.total, capped.total_capped) == (3, True)
    assert [r.id for r in capped.rows] == [r.id for r in exact.rows]
    enough = queries.list_entries(admin_actor, filters, limit=2, count_limit=5)
    assert (enough.total, enough.total_capped) == (5, False)
    plain = queries.list_entries(admin_actor, queries.EntryFilters(), count_limit=4)
    assert (plain.total, plain.total_capped) == (4, True)
