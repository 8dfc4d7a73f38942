"""Items with options and their variants: created from option combinations in one step,
each variant a product with its own SKU and stock; a value added later adds variants."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Item, ItemVariant, Product
from app.services import catalog, items, stock
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError

PARKA = [items.Option("Color", ("Black", "Glacier Blue")), items.Option("Size", ("S", "M"))]


def _parka(actor, store, **changes):
    fields = {"actor": actor, "store_id": store.id, "title": "Summit Parka",
              "options": PARKA,
              "variants_to_make": items.generate(PARKA, "PRK", reorder_point=3),
              **changes}
    return items.create_item(**fields)


def test_an_item_is_created_with_a_variant_for_every_combination(store, owner):
    made = _parka(owner, store)

    view = items.get_item(owner, made.id)
    assert [o.name for o in view.options] == ["Color", "Size"]
    assert [(v.values, v.sku) for v in view.variants] == [
        (("Black", "S"), "PRK-BLACK-S"), (("Black", "M"), "PRK-BLACK-M"),
        (("Glacier Blue", "S"), "PRK-GLACIERBLUE-S"), (("Glacier Blue", "M"), "PRK-GLACIERBLUE-M"),
    ]
    db.session.rollback()
    titles = db.session.scalars(select(Product.title).where(Product.id.in_(made.product_ids))
                                .order_by(Product.id)).all()
    assert titles[0] == "Summit Parka - Black / S"
    points = db.session.scalars(select(Product.reorder_point)
                                .where(Product.id.in_(made.product_ids))).all()
    assert set(points) == {3}
    # Each variant is recorded as a product created for the item.
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.product_id.in_(made.product_ids))).all()
    assert len(events) == 4 and {e.action for e in events} == {"product.created"}
    assert events[0].changes["item"] == [None, "Summit Parka"]


def test_a_product_made_alone_is_the_single_variant_of_its_own_item(store, owner):
    product = catalog.create_product(actor=owner, store_id=store.id, sku="MUG", title="Mug")

    of = items.item_of(owner, product.id)
    assert of is not None and of.variants == 1 and of.values == () and of.title == "Mug"
    view = items.get_item(owner, of.item_id)
    assert [v.sku for v in view.variants] == ["MUG"] and not view.has_options
    # Renaming or archiving the product renames or archives its item.
    catalog.update_product(actor=owner, product_id=product.id, sku="MUG", title="Blue Mug")
    catalog.archive_product(actor=owner, product_id=product.id)
    db.session.rollback()
    item = db.session.get(Item, of.item_id)
    assert (item.title, item.status) == ("Blue Mug", "archived")


def test_each_variant_keeps_its_own_stock_and_the_matrix_shows_it(store, owner, location,
                                                                  make_location):
    made = _parka(owner, store)
    back = make_location(store, "back")
    black_s, black_m = made.product_ids[:2]
    stock.create_entry(actor=owner, product_id=black_s, location_id=location.id, quantity=5)
    stock.create_entry(actor=owner, product_id=black_s, location_id=back.id, quantity=2)
    stock.create_entry(actor=owner, product_id=black_m, location_id=location.id, quantity=7)

    view = items.get_item(owner, made.id)
    assert [c.code for c in view.locations] == ["BACK", "MAIN"]
    first, second = view.variants[:2]
    assert {k: c.quantity for k, c in first.cells.items()} == {location.id: 5, back.id: 2}
    assert second.on_hand == 7 and view.on_hand == 14
    assert view.column_total(location.id) == (12, 12)


def test_a_value_added_later_adds_its_variants(store, owner):
    made = _parka(owner, store, variants_to_make=items.generate(
        PARKA, "PRK", reorder_point=3, reorder_quantity=8, reorder_up_to=20))

    new = items.add_option_value(actor=owner, item_id=made.id, option=2, value="XL",
                                 sku_prefix="PRK")

    view = items.get_item(owner, made.id)
    assert [v.sku for v in view.variants][-2:] == ["PRK-BLACK-XL", "PRK-GLACIERBLUE-XL"]
    assert len(new) == 2 and view.options[1].values == ("S", "M", "XL")
    # The new variants take the item's first variant's reorder settings.
    levels = db.session.execute(select(Product.reorder_point, Product.reorder_quantity,
                                       Product.reorder_up_to).where(Product.id.in_(new))).all()
    db.session.rollback()
    assert set(levels) == {(3, 8, 20)}
    with pytest.raises(ValidationError) as exc:
        items.add_option_value(actor=owner, item_id=made.id, option=2, value="xl",
                               sku_prefix="PRK")
    assert exc.value.fields == {"value": "Size already has the value xl."}


@pytest.mark.parametrize(("options", "field", "message"), [
    ([items.Option("Color", ())], "options", "Color needs at least one value."),
    ([items.Option("Color", ("Red", "red"))], "options", "Color has the value red twice."),
    ([items.Option("Color", ("Red",)), items.Option("color", ("S",))], "options",
     "The option color is named twice."),
    ([items.Option(n, ("A",)) for n in "ABCD"], "options",
     "An item has at most 3 options; this one has 4."),
])
def test_bad_options_are_refused_naming_the_field_and_nothing_is_made(
    store, owner, options, field, message
):
    with pytest.raises(ValidationError) as exc:
        _parka(owner, store, options=options,
               variants_to_make=items.generate(options, "X") or [items.VariantSpec((), "X")])
    assert exc.value.fields[field] == message
    db.session.rollback()
    assert db.session.scalar(select(Item.id).where(Item.store_id == store.id)) is None


def test_too_many_variants_or_clashing_skus_are_refused(store, owner):
    many = [items.Option("A", tuple(str(n) for n in range(11))),
            items.Option("B", tuple(str(n) for n in range(10)))]
    with pytest.raises(ValidationError) as exc:
        _parka(owner, store, options=many, variants_to_make=items.generate(many, "X"))
    assert "make 110 variants" in exc.value.fields["options"]

    clash = [items.Option("Size", ("S/M", "SM"))]
    with pytest.raises(ValidationError) as exc:
        _parka(owner, store, options=clash, variants_to_make=items.generate(clash, "X"))
    assert exc.value.fields["sku"] == "SM and S/M would both have the SKU X-SM."


def test_a_sku_the_store_has_refuses_the_whole_item(store, owner):
    catalog.create_product(actor=owner, store_id=store.id, sku="PRK-BLACK-M", title="Old")
    with pytest.raises(Conflict, match="PRK-BLACK-M"):
        _parka(owner, store)
    db.session.rollback()
    assert db.session.scalar(select(Item.id).where(Item.title == "Summit Parka")) is None
    assert db.session.scalars(select(ItemVariant.product_id)).all() != []


def test_items_need_the_catalog_permission_and_stay_in_their_store(store, owner, member,
                                                                  make_store):
    made = _parka(owner, store)
    staff = member(store, "staff")
    with pytest.raises(PermissionDenied):
        _parka(staff, store, title="Other")
    with pytest.raises(PermissionDenied):
        items.add_option_value(actor=staff, item_id=made.id, option=1, value="Red",
                               sku_prefix="PRK")
    assert items.get_item(staff, made.id).title == "Summit Parka"
    stranger = member(make_store(), "owner")
    with pytest.raises(NotFound):
        items.get_item(stranger, made.id)
    with pytest.raises(NotFound):
        items.add_option_value(actor=stranger, item_id=made.id, option=1, value="Red",
                               sku_prefix="PRK")
    assert items.item_of(stranger, made.product_ids[0]) is None


def test_option_text_is_read_one_option_a_line():
    assert items.parse_options("Color: Black, Glacier Blue\n\n Size : S,M ,L,\n") == [
        items.Option("Color", ("Black", "Glacier Blue")), items.Option("Size", ("S", "M", "L"))]
    with pytest.raises(ValidationError) as exc:
        items.parse_options("Color Black")
    assert exc.value.fields["options"].startswith("Line 1:")


def test_the_overview_lists_one_items_variants_or_one_option_value(store, owner, location):
    from app.services import queries

    made = _parka(owner, store)
    mug = catalog.create_product(actor=owner, store_id=store.id, sku="MUG", title="Black Mug")
    for product_id in (*made.product_ids, mug.id):
        stock.create_entry(actor=owner, product_id=product_id, location_id=location.id,
                           quantity=4)

    def skus(**filters):
        page = queries.list_entries(owner, queries.EntryFilters(store_id=store.id, **filters))
        return sorted(e.sku for e in page.rows), page.total

    assert skus(item_id=made.id) == (sorted(v.sku for v in items.generate(PARKA, "PRK")), 4)
    assert skus(item_id=made.id, option_value="Black") == (["PRK-BLACK-M", "PRK-BLACK-S"], 2)
    # A value matches whichever option holds it, in any item; a title is not a value.
    assert skus(option_value="S") == (["PRK-BLACK-S", "PRK-GLACIERBLUE-S"], 2)
    assert skus(option_value="Black", search="mug") == ([], 0)
    assert skus(item_id=made.id, search="glacier") == (
        ["PRK-GLACIERBLUE-M", "PRK-GLACIERBLUE-S"], 2)


def test_the_overview_grouped_by_item_rolls_each_items_entries_up(store, owner, location,
                                                                   make_location):
    from app.services import queries

    back = make_location(store, "back")
    made = _parka(owner, store)
    mug = catalog.create_product(actor=owner, store_id=store.id, sku="MUG", title="Anvil Mug")
    quantities = [(made.product_ids[0], location.id, 5, 2), (made.product_ids[0], back.id, 1, 2),
                  (made.product_ids[1], location.id, 0, 0), (mug.id, location.id, 9, 0)]
    for product_id, location_id, quantity, threshold in quantities:
        stock.create_entry(actor=owner, product_id=product_id, location_id=location_id,
                           quantity=quantity, low_stock_threshold=threshold)

    page = queries.item_groups(owner, queries.EntryFilters(store_id=store.id))
    assert [g.title for g in page.rows] == ["Anvil Mug", "Summit Parka"] and page.total == 2
    parka = page.rows[1]
    assert (parka.entries, parka.variants, parka.locations) == (3, 2, 2)
    assert (parka.quantity, parka.available, parka.status) == (6, 6, "out_of_stock")
    assert page.rows[0].status == "in_stock"
    # Filters apply to the entries rolled up, and an item with none left is not listed.
    low = queries.item_groups(owner, queries.EntryFilters(store_id=store.id,
                                                          status="low_stock"))
    assert [(g.title, g.entries, g.quantity, g.status) for g in low.rows] == [
        ("Summit Parka", 1, 1, "low_stock")]
    # Paging on (title, id).
    first = queries.item_groups(owner, queries.EntryFilters(store_id=store.id), limit=1)
    assert [g.title for g in first.rows] == ["Anvil Mug"] and first.next_cursor
    second = queries.item_groups(owner, queries.EntryFilters(store_id=store.id), limit=1,
                                 cursor=first.next_cursor)
    assert [g.title for g in second.rows] == ["Summit Parka"] and second.next_cursor is None


def test_renaming_an_item_renames_its_variants_and_search_finds_them(store, owner, location):
    from app.services import queries

    made = _parka(owner, store)
    stock.create_entry(actor=owner, product_id=made.product_ids[0], location_id=location.id,
                       quantity=1)
    assert items.rename_item(actor=owner, item_id=made.id, title=" Storm Parka ") == "Storm Parka"
    db.session.rollback()
    titles = db.session.scalars(select(Product.title).where(Product.id.in_(made.product_ids))
                                .order_by(Product.id)).all()
    assert titles[0] == "Storm Parka - Black / S" and len(set(titles)) == 4
    found = queries.list_entries(owner, queries.EntryFilters(store_id=store.id, search="storm"))
    assert [e.sku for e in found.rows] == ["PRK-BLACK-S"]
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.product_id.in_(made.product_ids), AuditEvent.action == "product.updated")).all()
    assert len(events) == 4
    with pytest.raises(ValidationError):
        items.rename_item(actor=owner, item_id=made.id, title="  ")


def test_a_variants_title_too_long_for_a_product_is_refused_naming_the_field(store, owner):
    """A product's title holds 200 characters; the item's title with the option values
    must fit, or PostgreSQL would refuse the row."""
    long_title = "T" * 190
    with pytest.raises(ValidationError) as exc:
        _parka(owner, store, title=long_title)
    assert "would be 209 characters" in exc.value.fields["title"]
    made = _parka(owner, store, title="T" * 180)  # 180 + " - Glacier Blue / M" fits
    with pytest.raises(ValidationError) as exc:
        items.add_option_value(actor=owner, item_id=made.id, option=2, value="X" * 20,
                               sku_prefix="PRK")
    assert "Shorten the value or the item's title." in exc.value.fields["value"]
    with pytest.raises(ValidationError) as exc:
        items.rename_item(actor=owner, item_id=made.id, title="R" * 195)
    assert "a title is at most 200" in exc.value.fields["title"]
    db.session.rollback()
    assert len(db.session.get(Item, made.id).title) == 180


def test_given_variants_must_match_the_options_and_use_every_value(store, owner):
    spec = items.VariantSpec
    for variants, field, words in (
        ([spec(("Black", "S"), "P1"), spec(("Black", "M"), "P2")], "variants",
         "No variant has Color Glacier Blue"),
        ([spec(("Black",), "P1")], "variants", "does not match the item's options"),
        ([spec(("Black", "S"), "P1"), spec(("Black", "S"), "P2")], "variants",
         "listed twice"),
    ):
        with pytest.raises(ValidationError) as exc:
            _parka(owner, store, variants_to_make=variants)
        assert words in exc.value.fields[field], variants
    blank = [items.Option("Color", ("Black", " "))]
    with pytest.raises(ValidationError) as exc:
        _parka(owner, store, options=blank, variants_to_make=items.generate(blank, "X"))
    assert exc.value.fields["options"] == "Color has an empty value."
    with pytest.raises(ValidationError) as exc:
        items.generate(PARKA, "  ")
    assert exc.value.fields == {"sku_prefix": "Enter a SKU prefix, like PRK."}
    # Some combinations may be left out, as long as every value has a variant.
    made = _parka(owner, store, variants_to_make=[
        spec(("Black", "S"), "P-BS"), spec(("Glacier Blue", "M"), "P-GM")])
    assert [v.sku for v in items.get_item(owner, made.id).variants] == ["P-BS", "P-GM"]


def test_an_item_is_updated_each_variant_recording_what_changed(store, owner):
    made = _parka(owner, store, status="draft")
    assert items.get_item(owner, made.id).status == "draft"

    items.update_item(actor=owner, item_id=made.id, title="Storm Parka",
                      description="Warm.", status="active")

    view = items.get_item(owner, made.id)
    assert (view.title, view.description, view.status) == ("Storm Parka", "Warm.", "active")
    db.session.rollback()
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.product_id.in_(made.product_ids)).where(
        AuditEvent.action == "product.updated").order_by(AuditEvent.id)).all()
    assert len(events) == 4
    assert events[0].changes == {"title": ["Summit Parka - Black / S", "Storm Parka - Black / S"],
                                 "item_description": [None, "Warm."],
                                 "item_status": ["draft", "active"]}
    # The same values again change nothing and record nothing; None clears the description.
    items.update_item(actor=owner, item_id=made.id, title="Storm Parka", status="active")
    items.update_item(actor=owner, item_id=made.id, description=None)
    db.session.rollback()
    after = db.session.scalars(select(AuditEvent.changes).where(
        AuditEvent.product_id == made.product_ids[0]).order_by(AuditEvent.id)).all()
    assert after[-1] == {"item_description": ["Warm.", None]} and len(after) == 3
    for bad, field in (({"status": "archived"}, "status"), ({"title": " "}, "title"),
                       ({"description": "x" * 5001}, "description")):
        with pytest.raises(ValidationError) as exc:
            items.update_item(actor=owner, item_id=made.id, **bad)
        assert set(exc.value.fields) == {field}


def test_an_item_is_archived_and_restored_with_all_its_variants(store, owner, member,
                                                                location, make_store):
    made = _parka(owner, store)
    stocked = stock.create_entry(actor=owner, product_id=made.product_ids[0],
                                 location_id=location.id, quantity=6).entry
    stock.reserve_stock(actor=owner, entry_id=stocked.id, quantity=2, order_ref="O-1")
    catalog.archive_product(actor=owner, product_id=made.product_ids[3])

    done = items.archive_item(actor=owner, item_id=made.id)

    # The variant archived before is not archived again.
    assert done.skus == ("PRK-BLACK-S", "PRK-BLACK-M", "PRK-GLACIERBLUE-S")
    view = items.get_item(owner, made.id)
    assert view.status == "archived" and all(v.archived for v in view.variants)
    # As with a product: the stock and the hold stay, and can still be shipped.
    assert (view.on_hand, view.available) == (6, 4)
    stock.fulfill_order(actor=owner, store_id=store.id, order_ref="O-1")
    with pytest.raises(NotFound):
        items.public_item_availability(made.id)
    with pytest.raises(Conflict, match="Summit Parka is already archived."):
        items.archive_item(actor=owner, item_id=made.id)
    with pytest.raises(Conflict, match="restore it before changing its status"):
        items.update_item(actor=owner, item_id=made.id, status="draft")

    back = items.unarchive_item(actor=owner, item_id=made.id)

    assert len(back.skus) == 4
    view = items.get_item(owner, made.id)
    assert view.status == "active" and not any(v.archived for v in view.variants)
    db.session.rollback()
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.product_id == made.product_ids[0], AuditEvent.object_type == "product")
        .order_by(AuditEvent.id)).all()
    assert actions == ["product.created", "product.archived", "product.unarchived"]
    with pytest.raises(PermissionDenied):
        items.archive_item(actor=member(store, "staff"), item_id=made.id)
    with pytest.raises(NotFound):
        items.archive_item(actor=member(make_store(), "owner"), item_id=made.id)
