"""Identifiers are NFKC-normalised where they are stored and where they are looked up: a
full-width SKU, location code or email (as an IME or some scanners type them) is the same
identifier as its ASCII form, never a second one beside it."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Location
from app.services import catalog
from app.services.errors import Conflict
from app.services.people import credentials


def test_a_full_width_sku_is_stored_as_ascii(admin_actor, make_store):
    store = make_store()
    product = catalog.create_product(actor=admin_actor, store_id=store.id, sku="ＭＵＧ－１",
                                     title="Mug")
    assert product.sku == "MUG-1"


def test_a_full_width_sku_is_the_same_sku(admin_actor, make_store):
    store = make_store()
    catalog.create_product(actor=admin_actor, store_id=store.id, sku="MUG-1", title="Mug")
    with pytest.raises(Conflict, match="already has a product with the SKU MUG-1"):
        catalog.create_product(actor=admin_actor, store_id=store.id, sku="ＭＵＧ-1",
                               title="Mug again")


def test_a_full_width_location_code_is_stored_as_ascii(make_store):
    store = make_store()
    location = Location(store_id=store.id, code="ｗａｒｅｈｏｕｓｅ_a")
    db.session.add(location)
    db.session.commit()
    assert location.code == "WAREHOUSE_A"


def test_a_full_width_email_signs_in(make_user):
    from app.services.people.credentials import hash_password

    user = make_user(email="owner@example.test")
    user.password_hash = hash_password("a long enough password")
    db.session.commit()
    found = credentials.authenticate("ＯＷＮＥＲ@example.test", "a long enough password")
    assert found is not None and found.id == user.id
