"""The catalog through the API: items made with their variants (SKUs from a prefix, or given
per variant), a value added, an item changed, archived and restored, a bundle's components
set; each change answering with the item as its read does, recorded as the screens record
it, refused naming the field, and made once per Idempotency-Key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Item, Product
from app.permissions import system_actor
from app.services import stock

from .calls import ITEMS
from .helpers import ApiClient, assert_error

PARKA = {"title": "Summit Parka",
         "options": [{"name": "Color", "values": ["Black", "Glacier Blue"]},
                     {"name": "Size", "values": ["S", "M"]}],
         "sku_prefix": "PRK"}


def counts() -> tuple[int, int, int]:
    """Items, products and audit rows: what a catalog change adds to."""
    db.session.rollback()  # what is committed now, not an older read's snapshot
    try:
        return tuple(db.session.scalar(select(func.count()).select_from(model)) or 0
                     for model in (Item, Product, AuditEvent))  # type: ignore[return-value]
    finally:
        db.session.rollback()


@pytest.fixture
def owner(world, api_as) -> ApiClient:
    return api_as("owner", world.a.store)


def test_an_item_is_made_from_a_prefix_and_answers_as_its_read(world, owner):
    before = counts()
    made = owner.post(ITEMS, {**PARKA, "description": "Warm", "reorder_point": 3,
                              "reorder_up_to": 25})

    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert (body["title"], body["description"], body["status"], body["store_id"]) == (
        "Summit Parka", "Warm", "active", world.a.store.id)
    assert body["options"] == PARKA["options"]
    assert [(v["sku"], v["options"]) for v in body["variants"]] == [
        ("PRK-BLACK-S", {"Color": "Black", "Size": "S"}),
        ("PRK-BLACK-M", {"Color": "Black", "Size": "M"}),
        ("PRK-GLACIERBLUE-S", {"Color": "Glacier Blue", "Size": "S"}),
        ("PRK-GLACIERBLUE-M", {"Color": "Glacier Blue", "Size": "M"})]
    assert owner.get(f"/api/v1/store/inventory/item/{body['item_id']}").get_json() == body
    # One item, four products, each recorded as created for it.
    assert counts() == (before[0] + 1, before[1] + 4, before[2] + 4)
    points = db.session.execute(select(Product.reorder_point, Product.reorder_up_to).where(
        Product.id.in_([v["product_id"] for v in body["variants"]]))).all()
    db.session.rollback()
    assert set(points) == {(3, 25)}
    stock = owner.get(f"/api/v1/store/inventory/product/{body['variants'][0]['product_id']}")
    assert (stock.get_json()["reorder_point"], stock.get_json()["reorder_up_to"]) == (3, 25)


def test_an_item_is_made_with_a_sku_per_variant(world, owner, anonymous):
    made = owner.post(ITEMS, {
        "title": "Trail Tent", "status": "draft", "product_type": "physical",
        "allow_backorder": True,
        "options": [{"name": "Size", "values": ["2P", "3P"]}],
        "variants": [{"options": {"size": "3P"}, "sku": "tent-3", "gtin": "4006381333931"},
                     {"options": {"Size": "2P"}, "sku": "TENT-2"}]})

    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert [(v["sku"], v["options"], v["gtin"]) for v in body["variants"]] == [
        ("tent-3", {"Size": "3P"}, "4006381333931"), ("TENT-2", {"Size": "2P"}, None)]
    assert body["status"] == "draft"
    # A draft is not on the storefront until it is made active.
    public = f"/api/v1/public/items/{body['item_id']}/availability"
    assert anonymous.get(public).status_code == 404
    live = owner.patch(f"{ITEMS}/{body['item_id']}", {"status": "active"})
    assert live.status_code == 200 and live.get_json()["status"] == "active"
    assert [v["sku"] for v in anonymous.get(public).get_json()["variants"]] == [
        "tent-3", "TENT-2"]
    # Without options: one variant, {} for its options.
    single = owner.post(ITEMS, {"title": "Camp Stove", "variants": [{"sku": "STOVE"}]})
    assert [v["options"] for v in single.get_json()["variants"]] == [{}]


DROP = object()


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"sku_prefix": DROP}, "sku_prefix", "one of the two"),
    ({"variants": [{"sku": "X"}]}, "sku_prefix", "one of the two"),
    ({"sku_prefix": None}, "sku_prefix", "Field may not be null."),
    ({"title": " "}, "title", "required"),
    ({"title": "T" * 195}, "title", "a title is at most 200"),
    ({"options": [{"name": "Color", "values": ["Black", " "]}]}, "options",
     "Color has an empty value."),
    ({"options": [{"name": "Size", "values": ["S/M", "SM"]}]}, "sku_prefix",
     "would both have the SKU PRK-SM"),
    ({"options": [{"name": n, "values": ["A"]} for n in "ABCD"]}, "options", "Longer than"),
    ({"options": [{"name": "A", "values": [str(n) for n in range(11)]},
                  {"name": "B", "values": [str(n) for n in range(10)]}]}, "options",
     "make 110 variants"),
    ({"sku_prefix": "  "}, "sku_prefix", "Enter a SKU prefix"),
    ({"sku_prefix": "P" * 60}, "sku_prefix", "longer than 64"),
    ({"product_type": "rocket"}, "product_type", "Must be one of"),
    ({"allow_backorder": "yes"}, "allow_backorder", "Not a valid boolean."),
    ({"allow_backorder": 1}, "allow_backorder", "Not a valid boolean."),
    ({"status": "archived"}, "status", "Must be one of"),
    ({"reorder_point": -1}, "reorder_point", "greater than or equal to 0"),
    ({"reorder_up_to": -1}, "reorder_up_to", "greater than or equal to 0"),
    ({"reorder_point": 5, "reorder_up_to": 5}, "reorder_up_to",
     "Order up to must be above the reorder point."),
])
def test_bad_input_is_refused_naming_the_field(world, owner, changes, field, words):
    before = counts()
    body = {k: v for k, v in {**PARKA, **changes}.items() if v is not DROP}
    error = assert_error(owner.post(ITEMS, body), 422)
    assert words in error["fields"][field], error
    assert counts() == before


@pytest.mark.parametrize(("variants", "field", "words"), [
    ([{"options": {"Colour": "Black"}, "sku": "A"}], "variants[0].options",
     "There is no option Colour; the options are Color."),
    ([{"options": {}, "sku": "A"}], "variants[0].options", "Give a value of Color."),
    ([{"options": {"Color": "Red"}, "sku": "A"}], "variants", "does not match"),
    ([{"options": {"Color": "Black"}, "sku": "A"}], "variants", "No variant has Color Blue"),
    ([{"options": {"Color": "Black"}, "sku": "A"}, {"options": {"Color": "Blue"}, "sku": "a"}],
     "variants", "would both have the SKU a"),
    ([{"options": {"Color": "Black"}, "sku": "A"}], "options", "Two options have one name"),
    ([{"options": {"Color": "Black"}, "sku": "A", "gtin": "123"},
      {"options": {"Color": "Blue"}, "sku": "B"}], "variants", "8, 12, 13 or 14 digits"),
])
def test_given_variants_are_checked(world, owner, variants, field, words):
    before = counts()
    options = [{"name": "Color", "values": ["Black", "Blue"]}]
    if field == "options":
        options.append({"name": "color", "values": ["Red"]})
    error = assert_error(owner.post(ITEMS, {"title": "Mug", "options": options,
                                            "variants": variants}), 422)
    assert words in error["fields"][field], error
    assert counts() == before


def test_a_sku_the_store_has_is_a_conflict_and_nothing_is_made(world, owner):
    before = counts()
    error = assert_error(owner.post(ITEMS, {**PARKA, "sku_prefix": "A-MUG", "options": []}),
                         409, "conflict")
    assert "A-MUG" in error["message"]
    assert counts() == before


def test_a_value_is_added_by_the_options_name_with_the_items_prefix(world, owner):
    item = owner.post(ITEMS, PARKA).get_json()
    url = f"{ITEMS}/{item['item_id']}/option-values"

    added = owner.post(url, {"option": "size", "value": "XL"})

    assert added.status_code == 201, added.get_json()
    body = added.get_json()
    assert body["options"][1] == {"name": "Size", "values": ["S", "M", "XL"]}
    assert [v["sku"] for v in body["variants"]][4:] == ["PRK-BLACK-XL", "PRK-GLACIERBLUE-XL"]
    # Another prefix when asked; refusals name the field.
    other = owner.post(url, {"option": "Color", "value": "Red", "sku_prefix": "SP"})
    assert [v["sku"] for v in other.get_json()["variants"]][6:] == [
        "SP-RED-S", "SP-RED-M", "SP-RED-XL"]
    before = counts()
    for sent, field, words in (
        ({"option": "Fit", "value": "Slim"}, "option",
         "Summit Parka has no option Fit; its options are Color, Size."),
        ({"option": "Size", "value": "xl"}, "value", "Size already has the value xl."),
        ({"option": "Size", "value": " "}, "value", "required"),
        ({"option": "Size", "value": "XXL", "sku_prefix": "Q" * 60}, "sku_prefix",
         "longer than 64"),
    ):
        assert words in assert_error(owner.post(url, sent), 422)["fields"][field], sent
    mug = assert_error(owner.post(f"{ITEMS}/{world.a.item.id}/option-values",
                                  {"option": "Size", "value": "L"}), 422)
    assert mug["fields"] == {"option": "Alpha mug has no options to add a value to."}
    assert counts() == before


def test_an_item_is_renamed_described_and_its_variants_follow(world, owner):
    item = owner.post(ITEMS, PARKA).get_json()
    url = f"{ITEMS}/{item['item_id']}"

    changed = owner.patch(url, {"title": "Storm Parka", "description": "Warm."})

    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["title"], changed.get_json()["description"]) == (
        "Storm Parka", "Warm.")
    db.session.rollback()
    titles = db.session.scalars(select(Product.title).where(Product.id.in_(
        [v["product_id"] for v in item["variants"]])).order_by(Product.id)).all()
    db.session.rollback()
    assert titles[0] == "Storm Parka - Black / S"
    cleared = owner.patch(url, {"description": None}).get_json()
    assert cleared["description"] is None
    before = counts()
    assert assert_error(owner.patch(url, {}), 422)["fields"] == {
        "body": "Give title, description or status."}
    assert "title" in assert_error(owner.patch(url, {"title": ""}), 422)["fields"]
    assert "status" in assert_error(owner.patch(url, {"status": "gone"}), 422)["fields"]
    assert_error(owner.patch(f"{ITEMS}/999999", {"title": "X"}), 404, "not_found")
    assert counts() == before


def test_an_item_is_archived_with_its_stock_kept_and_restored(world, owner, anonymous):
    item = owner.post(ITEMS, PARKA).get_json()
    first = item["variants"][0]["product_id"]
    stock.create_entry(actor=system_actor("tests"), product_id=first,
                       location_id=world.a.location.id, quantity=4)
    url = f"{ITEMS}/{item['item_id']}"

    archived = owner.post(f"{url}/archive")

    assert archived.status_code == 200, archived.get_json()
    body = archived.get_json()
    assert body["status"] == "archived" and all(v["archived"] for v in body["variants"])
    assert body["variants"][0]["total_quantity"] == 4  # the stock stays
    assert anonymous.get(f"/api/v1/public/items/{item['item_id']}/availability"
                         ).status_code == 404
    assert_error(owner.post(f"{url}/archive"), 409, "conflict")
    assert "restore it" in assert_error(owner.patch(url, {"status": "active"}), 409)["message"]

    restored = owner.post(f"{url}/unarchive").get_json()
    assert restored["status"] == "active" and not any(v["archived"] for v in
                                                      restored["variants"])
    assert_error(owner.post(f"{url}/unarchive"), 409, "conflict")


def test_a_bundles_components_are_set_and_cleared(world, owner, make_product, make_entry):
    kit = make_product(world.a.store, "A-KIT", title="Gift kit")
    url = f"/api/v1/store/products/{kit.id}/components"

    made = owner.put(url, {"components": [{"product_id": world.a.product.id, "quantity": 2}]})

    assert made.status_code == 200, made.get_json()
    assert made.get_json() == {"product_id": kit.id, "sku": "A-KIT", "components": [
        {"product_id": world.a.product.id, "sku": "A-MUG", "title": "Alpha mug",
         "quantity": 2}]}
    assert owner.put(url, {"components": []}).get_json()["components"] == []
    before = counts()
    for sent, words in (
        ([{"product_id": kit.id, "quantity": 1}], "cannot contain itself"),
        ([{"product_id": world.b.product.id, "quantity": 1}], "not a product of this store"),
        ([{"product_id": world.a.digital.id, "quantity": 1}], "a component is a physical"),
    ):
        error = assert_error(owner.put(url, {"components": sent}), 422)
        assert words in error["fields"]["components"], error
    assert "quantity" in str(assert_error(owner.put(url, {"components": [
        {"product_id": world.a.product.id, "quantity": 0}]}), 422)["fields"])
    # A product with stock of its own cannot become one.
    stocked = f"/api/v1/store/products/{world.a.product.id}/components"
    assert_error(owner.put(stocked, {"components": [{"product_id": kit.id, "quantity": 1}]}),
                 409, "conflict")
    assert counts() == before


def test_a_keyed_change_answers_its_first_answer_whatever_happened_since(world, owner):
    first = owner.post(ITEMS, PARKA, key="make-parka")
    item_id = first.get_json()["item_id"]
    assert owner.patch(f"{ITEMS}/{item_id}", {"title": "Renamed since"}).status_code == 200
    before = counts()

    again = owner.post(ITEMS, PARKA, key="make-parka")

    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()  # the title it had then
    assert counts() == before
    error = assert_error(owner.post(ITEMS, {**PARKA, "title": "Other"}, key="make-parka"),
                         422, "idempotency_key_reused")
    assert error["fields"] == {"Idempotency-Key": "already used for a different request"}
    # A refused change keeps no key: the corrected retry goes through under it.
    assert_error(owner.post(ITEMS, {**PARKA, "sku_prefix": "A-MUG", "options": []},
                            key="retry"), 409)
    assert owner.post(ITEMS, {**PARKA, "sku_prefix": "NEW"}, key="retry").status_code == 201
    assert counts()[0] == before[0] + 1
