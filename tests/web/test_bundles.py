"""A product made a bundle on its edit page: components typed as SKU × quantity, what they
make shown per location, errors beside the field with nothing changed."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import AuditEvent, BundleComponent
from app.permissions import system_actor
from app.services import stock

from .helpers import csrf_from_page


@pytest.fixture
def shop(scene, make_product):
    base = scene(title="Coffee", sku="COFFEE", quantity=9, reserved=0)
    mug = make_product(base.store, "MUG", title="Mug")
    stock.create_entry(actor=system_actor("tests"), product_id=mug.id,
                       location_id=base.location.id, quantity=3)
    base.mug = mug
    base.gift = make_product(base.store, "GIFT", title="Gift set")
    return base


def _post(client, product_id, text):
    token = csrf_from_page(client.get(f"/catalog/products/{product_id}/edit")
                           .get_data(as_text=True))
    return client.post(f"/catalog/products/{product_id}/components",
                       data={"components": text, "csrf_token": token})


def test_a_product_becomes_a_bundle_and_shows_what_it_makes(shop, login_as):
    client = login_as("owner", shop.store)
    response = _post(client, shop.gift.id, "coffee × 2\nMUG")
    assert response.status_code == 303
    page = client.get(f"/catalog/products/{shop.gift.id}/edit").get_data(as_text=True)
    assert "GIFT is a bundle of COFFEE ×2, MUG ×1." in page
    assert "Can be made now: <strong>3</strong>" in page
    assert "A bundle holds no stock of its own" in page
    db.session.rollback()
    assert db.session.query(BundleComponent).filter_by(bundle_id=shop.gift.id).count() == 2
    assert db.session.query(AuditEvent).filter_by(
        action="product.updated", product_id=shop.gift.id).count() == 1


@pytest.mark.parametrize(("text", "message"), [
    ("NOPE × 2", "Line 1: this store has no product with the SKU NOPE."),
    ("COFFEE two", "Line 1: write a SKU and how many one bundle takes"),
    ("GIFT × 1", "A bundle cannot contain itself."),
])
def test_bad_components_are_named_beside_the_field_and_nothing_changes(shop, login_as,
                                                                       text, message):
    client = login_as("owner", shop.store)
    response = _post(client, shop.gift.id, text)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.query(BundleComponent).count() == 0


def test_a_stocked_product_cannot_be_a_bundle_and_staff_cannot_post(shop, login_as):
    owner = login_as("owner", shop.store)
    page = owner.get(f"/catalog/products/{shop.product.id}/edit").get_data(as_text=True)
    assert "It has stock of its own, so it cannot be a bundle." in page
    assert _post(owner, shop.product.id, "MUG × 1").status_code == 409
    staff = login_as("staff", shop.store)
    token = csrf_from_page(owner.get(f"/catalog/products/{shop.gift.id}/edit")
                           .get_data(as_text=True))
    assert staff.post(f"/catalog/products/{shop.gift.id}/components",
                      data={"components": "MUG", "csrf_token": token}).status_code in (400, 403)
