"""An archived store is gone for its members: reads and changes are NotFound, exactly as for
a store they never belonged to, until a platform admin unarchives it."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Membership
from app.permissions import actor_for_user
from app.services import queries, stock, stores
from app.services.errors import NotFound


@pytest.fixture
def owned(make_user, make_entry, make_store):
    store = make_store()
    entry = make_entry(quantity=10, store=store)
    owner = make_user(role="owner", store=store)
    return store, entry, owner


def test_members_lose_an_archived_store_and_get_it_back(owned, admin_actor, stored):
    store, entry, owner = owned
    assert actor_for_user(owner.id).can("inventory:adjust", store.id)

    stores.archive_store(actor=admin_actor, store_id=store.id)
    member = actor_for_user(owner.id)

    assert not member.is_member(store.id)
    with pytest.raises(NotFound):
        queries.get_entry(member, entry.id)
    with pytest.raises(NotFound):
        stock.adjust_stock(actor=member, entry_id=entry.id, delta=-1, reason="gone")
    assert stored(entry.id)["quantity"] == 10

    stores.unarchive_store(actor=admin_actor, store_id=store.id)
    member = actor_for_user(owner.id)
    stock.adjust_stock(actor=member, entry_id=entry.id, delta=-1, reason="back")
    assert stored(entry.id)["quantity"] == 9


def test_other_stores_of_the_same_member_are_untouched(make_user, make_store, admin_actor):
    kept, archived = make_store(), make_store()
    user = make_user(role="staff", store=kept)
    db.session.add(Membership(user_id=user.id, store_id=archived.id, role="owner", grants=[]))
    db.session.commit()

    stores.archive_store(actor=admin_actor, store_id=archived.id)

    assert set(actor_for_user(user.id).store_permissions) == {kept.id}
