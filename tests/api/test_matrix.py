"""The permission matrix (role × permission × endpoint, from the one permission table) and
the cross-store matrix: a member of store B gets 404 for every id of store A, and nothing
changes either way."""

from __future__ import annotations

import json

import pytest

from app.permissions import GRANTABLE_TO_STAFF

from .calls import CALLS, MUTATIONS, PURCHASING_READS, call
from .helpers import assert_error

# Everything a permission guards: the changes, and the reads that show costs.
GUARDED = MUTATIONS + PURCHASING_READS
# Buying is never granted to staff (permissions.GRANTABLE_TO_STAFF): no staff member holds
# purchasing:manage, whatever they are granted.
GRANTABLE = [c for c in GUARDED if c.permission in GRANTABLE_TO_STAFF]
EVERYTHING = CALLS + PURCHASING_READS


@pytest.mark.parametrize("c", GUARDED, ids=[c.name for c in GUARDED])
def test_staff_without_the_permission_get_403_and_nothing_changes(c, scene, api_as, db_state):
    others = tuple(sorted(GRANTABLE_TO_STAFF - {c.permission}))
    client = api_as("staff", scene.a.store, grants=others)
    before = db_state()
    error = assert_error(call(client, c, scene), 403, "forbidden")
    assert c.permission in error["message"]
    assert db_state() == before


@pytest.mark.parametrize("c", GRANTABLE, ids=[c.name for c in GRANTABLE])
def test_staff_with_just_that_permission_may(c, scene, api_as):
    client = api_as("staff", scene.a.store, grants=(c.permission,))
    response = call(client, c, scene)
    assert 200 <= response.status_code < 300, response.get_json()


@pytest.mark.parametrize("role", ["owner", "admin"])
@pytest.mark.parametrize("c", EVERYTHING, ids=[c.name for c in EVERYTHING])
def test_owners_and_store_admins_may_do_everything(c, role, scene, api_as):
    response = call(api_as(role, scene.a.store), c, scene)
    assert 200 <= response.status_code < 300, response.get_json()


@pytest.mark.parametrize("c", [c for c in CALLS if c.permission is None],
                         ids=[c.name for c in CALLS if c.permission is None])
def test_staff_may_read(c, scene, api_as):
    response = call(api_as("staff", scene.a.store), c, scene)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("role", ["owner", "staff"])
@pytest.mark.parametrize("c", EVERYTHING, ids=[c.name for c in EVERYTHING])
def test_members_of_another_store_get_404_and_learn_nothing(c, role, scene, api_as, db_state):
    grants = tuple(sorted(GRANTABLE_TO_STAFF)) if role == "staff" else ()
    client = api_as(role, scene.b.store, grants=grants)
    before = db_state()
    response = call(client, c, scene)
    error = assert_error(response, 404, "not_found")
    if c.name in ("list", "list suppliers", "list purchase orders", "valuation"):
        # A filter on a foreign store is not found, like one that does not exist (README).
        assert "store_id" in error["fields"]
    body = response.get_data(as_text=True)
    sent = json.dumps(c.body(scene)) + c.url(scene)
    # Names the request did not carry itself must not come back.
    for secret in ("Alpha", "A-MUG", "A_MAIN", "A_SPARE"):
        assert secret in sent or secret not in body, body
    assert db_state() == before
