"""Setting up stores, locations, members and products (the services the demo seed uses)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Location, Product
from app.services import catalog, stores
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.services.people import members


@pytest.mark.parametrize(
    "gtin", ["4006381333931", "5901234123457", "96385074", "036000291452", "10614141000415"]
)
def test_published_gtins_have_valid_check_digits(gtin):
    assert catalog.is_valid_gtin(gtin)
    assert catalog.gtin_check_digit(gtin[:-1]) == gtin[-1]


@pytest.mark.parametrize(
    "gtin", ["4006381333932", "400638133393", "40063813339a1", "", "１２３４５６７８"]
)
def test_wrong_check_digits_lengths_and_characters_are_refused(gtin):
    assert not catalog.is_valid_gtin(gtin)


def test_only_platform_admins_open_stores(admin_actor, make_store, make_user, actor_of):
    owner = actor_of(make_user(role="owner", store=make_store()))
    with pytest.raises(PermissionDenied):
        stores.create_store(actor=owner, name="Side Shop", slug="side-shop")
    store = stores.create_store(actor=admin_actor, name=" Side Shop ", slug="side-shop")
    assert (store.name, store.slug) == ("Side Shop", "side-shop")
    with pytest.raises(Conflict, match="slug side-shop already exists"):
        stores.create_store(actor=admin_actor, name="Again", slug="side-shop")
    with pytest.raises(ValidationError) as bad:
        stores.create_store(actor=admin_actor, name="", slug="Not A Slug")
    assert set(bad.value.fields) == {"name", "slug"}


def test_location_codes_are_uppercased_and_unique_per_store(admin_actor, make_store):
    first, second = make_store(), make_store()
    location = stores.create_location(actor=admin_actor, store_id=first.id, code=" bin_a1 ")
    assert db.session.get(Location, location.id).code == "BIN_A1"
    with pytest.raises(Conflict, match="BIN_A1"):
        stores.create_location(actor=admin_actor, store_id=first.id, code="BIN_A1")
    stores.create_location(actor=admin_actor, store_id=second.id, code="bin_a1")
    with pytest.raises(NotFound):
        stores.create_location(actor=admin_actor, store_id=999_999, code="X")


def test_staff_without_catalog_cannot_add_locations_and_strangers_see_404(
    make_store, make_user, actor_of
):
    store, other = make_store(), make_store()
    staff = actor_of(make_user(role="staff", store=store))
    with pytest.raises(PermissionDenied):
        stores.create_location(actor=staff, store_id=store.id, code="SHELF")
    with pytest.raises(NotFound):
        stores.create_location(actor=staff, store_id=other.id, code="SHELF")


def test_store_admins_add_members_but_not_owners(make_store, make_user, actor_of):
    store = make_store()
    admin = actor_of(make_user(role="admin", store=store))
    newcomer, another = make_user(), make_user()
    membership = members.add_user_to_store(actor=admin, store_id=store.id,
                                           user_id=newcomer.id, role="staff",
                                           grants=("inventory:adjust",))
    assert membership.grants == ["inventory:adjust"]
    with pytest.raises(PermissionDenied):
        members.add_user_to_store(actor=admin, store_id=store.id, user_id=another.id,
                                  role="owner")
    with pytest.raises(Conflict):
        members.add_user_to_store(actor=admin, store_id=store.id, user_id=newcomer.id,
                                  role="staff")
    with pytest.raises(ValidationError):
        members.add_user_to_store(actor=admin, store_id=store.id, user_id=another.id,
                                  role="admin", grants=("inventory:adjust",))


def test_create_product_checks_sku_gtin_and_type(admin_actor, make_store):
    store = make_store()
    product = catalog.create_product(
        actor=admin_actor, store_id=store.id, sku=" TEE-1 ", title="Tee", gtin="4006381333931",
        reorder_point=4, reorder_quantity=12,
    )
    saved = db.session.get(Product, product.id)
    assert (saved.sku, saved.gtin, saved.type, saved.reorder_point) == (
        "TEE-1", "4006381333931", "physical", 4
    )
    with pytest.raises(Conflict, match="TEE-1"):
        catalog.create_product(actor=admin_actor, store_id=store.id, sku="TEE-1", title="Tee")
    with pytest.raises(ValidationError) as bad:
        catalog.create_product(actor=admin_actor, store_id=store.id, sku="X", title="X",
                               gtin="4006381333932", product_type="vinyl", reorder_point=-1)
    assert set(bad.value.fields) == {"gtin", "product_type", "reorder_point"}


def test_unlimited_products_never_allow_backorders(admin_actor, make_store):
    store = make_store()
    card = catalog.create_product(actor=admin_actor, store_id=store.id, sku="GIFT",
                                  title="Gift card", product_type="digital",
                                  allow_backorder=True)
    assert db.session.scalar(select(Product.allow_backorder).where(Product.id == card.id)) is False
