"""The signed-in request floor: every signed-in page reads its user and the actor's
memberships in one statement, and every API call its token, user and memberships in one,
so nothing about who someone is outlives the request that read it.

The changes below are made by one app (the test's) while the user is signed in on another
built on the same database, as two server processes would be: whatever the second one read
before, its very next request sees the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import current_user, login_required
from sqlalchemy import event

from app.extensions import db
from app.models import Membership, Store, User
from app.permissions import ADJUST, AUDIT, READ, RESERVE, Actor, actor_for_user, system_actor
from app.services.people import accounts, members, tokens
from app.web import current_actor

from .helpers import HX

PROBE = "/floor-probe"


def with_probe(app: Flask) -> Flask:
    """A signed-in view that shows what the request's user and actor are, and nothing else."""

    @app.get(PROBE)
    @login_required
    def probe() -> dict[str, Any]:
        actor = current_actor()
        return {
            "user": current_user.id, "name": current_user.name,
            "platform_admin": actor.is_platform_admin,
            "stores": {str(s): sorted(p) for s, p in sorted(actor.store_permissions.items())},
        }

    return app


@pytest.fixture
def elsewhere(make_app: Callable[..., Flask]) -> Flask:
    """A second app on the same database: the other process."""
    return with_probe(make_app())


@contextmanager
def statements_of(app: Flask) -> Iterator[list[str]]:
    """The statements `app`'s engine sends inside the block, SQLite's BEGIN left out."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def probe(client: FlaskClient) -> dict[str, Any]:
    response = client.get(PROBE)
    assert response.status_code == 200, response.status_code
    return json.loads(response.get_data(as_text=True))


def platform_admin_actor(make_user: Callable[..., User]) -> Actor:
    return actor_for_user(make_user(platform_admin=True).id)


def membership_of(user: User, store: Store) -> int:
    return db.session.scalar(db.select(Membership.id).where(
        Membership.user_id == user.id, Membership.store_id == store.id))


# ----------------------------------------------------------------- the session's user


def test_a_deactivated_user_is_signed_out_at_the_next_request_of_another_process(
    elsewhere: Flask, make_store: Callable[..., Store], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    store = make_store()
    user = make_user(role="staff", store=store)
    client = sign_in(user, on=elsewhere)
    assert probe(client)["user"] == user.id

    accounts.set_user_active(actor=platform_admin_actor(make_user), user_id=user.id,
                             active=False)

    response = client.get(PROBE)
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert client.get("/inventory", headers=HX).status_code == 401


def test_a_password_reset_signs_the_user_out_everywhere(
    elsewhere: Flask, make_store: Callable[..., Store], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    user = make_user(role="owner", store=make_store())
    client = sign_in(user, on=elsewhere)
    assert probe(client)["user"] == user.id

    accounts.reset_password(actor=platform_admin_actor(make_user), user_id=user.id,
                            password="another long password 42")

    assert client.get(PROBE).status_code == 302


def test_a_removed_membership_hides_the_store_at_the_next_request(
    elsewhere: Flask, scene: Callable[..., SimpleNamespace], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    place = scene()
    other = scene()
    user = make_user(role="staff", store=place.store)
    db.session.add(Membership(user_id=user.id, store_id=other.store.id, role="staff",
                              grants=[]))
    db.session.commit()
    client = sign_in(user, on=elsewhere)
    assert set(probe(client)["stores"]) == {str(place.store.id), str(other.store.id)}
    assert client.get(f"/inventory/entries/{place.entry.id}").status_code == 200

    members.remove_member(actor=system_actor("tests"), store_id=place.store.id,
                          membership_id=membership_of(user, place.store))

    assert set(probe(client)["stores"]) == {str(other.store.id)}
    assert client.get(f"/inventory/entries/{place.entry.id}").status_code == 404
    assert client.get(f"/inventory/entries/{other.entry.id}").status_code == 200


def test_a_changed_role_holds_at_the_next_request(
    elsewhere: Flask, scene: Callable[..., SimpleNamespace], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    place = scene()
    make_user(role="owner", store=place.store)  # the store keeps an owner
    user = make_user(role="admin", store=place.store)
    client = sign_in(user, on=elsewhere)
    adjust = f"/inventory/entries/{place.entry.id}/adjust"
    assert ADJUST in probe(client)["stores"][str(place.store.id)]
    assert client.get(adjust, headers=HX).status_code == 200

    members.change_role(actor=system_actor("tests"), store_id=place.store.id,
                        membership_id=membership_of(user, place.store), role="staff")

    assert probe(client)["stores"][str(place.store.id)] == [READ]
    assert client.get(adjust, headers=HX).status_code == 403


def test_a_narrowed_grant_holds_at_the_next_request(
    elsewhere: Flask, scene: Callable[..., SimpleNamespace], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    place = scene()
    user = make_user(role="staff", store=place.store, grants=(ADJUST, RESERVE))
    client = sign_in(user, on=elsewhere)
    adjust = f"/inventory/entries/{place.entry.id}/adjust"
    assert client.get(adjust, headers=HX).status_code == 200

    members.set_grants(actor=system_actor("tests"), store_id=place.store.id,
                       membership_id=membership_of(user, place.store), grants=[RESERVE])

    assert probe(client)["stores"][str(place.store.id)] == sorted([READ, RESERVE])
    assert client.get(adjust, headers=HX).status_code == 403
    assert client.get(f"/inventory/entries/{place.entry.id}/reserve",
                      headers=HX).status_code == 200


def test_platform_admin_taken_away_holds_at_the_next_request(
    elsewhere: Flask, scene: Callable[..., SimpleNamespace], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    place = scene()
    user = make_user(platform_admin=True)
    client = sign_in(user, on=elsewhere)
    assert probe(client)["platform_admin"] is True
    assert client.get(f"/inventory/entries/{place.entry.id}").status_code == 200

    accounts.set_platform_admin(actor=platform_admin_actor(make_user), user_id=user.id,
                                admin=False)

    assert probe(client) == {"user": user.id, "name": user.name, "platform_admin": False,
                             "stores": {}}
    assert client.get(f"/inventory/entries/{place.entry.id}").status_code == 404


def test_an_archived_store_is_gone_for_its_members_at_the_next_request(
    elsewhere: Flask, scene: Callable[..., SimpleNamespace], make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    place = scene()
    user = make_user(role="owner", store=place.store)
    client = sign_in(user, on=elsewhere)
    assert str(place.store.id) in probe(client)["stores"]

    db.session.execute(db.update(Store).where(Store.id == place.store.id)
                       .values(archived_at=db.func.now()))
    db.session.commit()

    assert probe(client)["stores"] == {}


# ------------------------------------------------------------------------ API tokens


def api_me(client: FlaskClient, token: str) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_revoked_token_is_refused_at_its_next_call_in_another_process(
    elsewhere: Flask, make_store: Callable[..., Store], make_user: Callable[..., User],
) -> None:
    user = make_user(role="owner", store=make_store())
    _, token = tokens.create_token(user_id=user.id, name="worker")
    kept_id = tokens.create_token(user_id=user.id, name="other")[0].id
    client = elsewhere.test_client()
    assert api_me(client, token).status_code == 200

    view = next(t for t in tokens.user_tokens(user.id) if t.id != kept_id)
    tokens.revoke_token(user_id=user.id, token_id=view.id)

    assert api_me(client, token).status_code == 401


@pytest.mark.parametrize("change", ["deactivated", "removed", "role", "grants", "archived"])
def test_a_token_acts_with_what_its_user_holds_at_each_call(
    change: str, elsewhere: Flask, make_store: Callable[..., Store],
    make_user: Callable[..., User],
) -> None:
    store, kept = make_store(), make_store()
    make_user(role="owner", store=store)
    make_user(role="owner", store=kept)
    if change == "role":
        user = make_user(role="admin", store=store)
    else:
        user = make_user(role="staff", store=store, grants=(ADJUST, AUDIT))
    db.session.add(Membership(user_id=user.id, store_id=kept.id, role="staff", grants=[]))
    db.session.commit()
    _, token = tokens.create_token(user_id=user.id, name="worker")
    client = elsewhere.test_client()
    before = api_me(client, token).get_json()
    assert {s["store_id"] for s in before["stores"]} == {store.id, kept.id}

    membership = membership_of(user, store)
    by = system_actor("tests")
    if change == "deactivated":
        accounts.set_user_active(actor=platform_admin_actor(make_user), user_id=user.id,
                                 active=False)
    elif change == "removed":
        members.remove_member(actor=by, store_id=store.id, membership_id=membership)
    elif change == "role":
        members.change_role(actor=by, store_id=store.id, membership_id=membership,
                            role="staff")
    elif change == "grants":
        members.set_grants(actor=by, store_id=store.id, membership_id=membership,
                           grants=[AUDIT])
    else:
        db.session.execute(db.update(Store).where(Store.id == store.id)
                           .values(archived_at=db.func.now()))
        db.session.commit()

    response = api_me(client, token)
    if change == "deactivated":
        assert response.status_code == 401
        return
    stores = {s["store_id"]: s["permissions"] for s in response.get_json()["stores"]}
    assert stores[kept.id] == [READ]
    expected = {"removed": None, "archived": None, "role": [READ],
                "grants": sorted([READ, AUDIT])}[change]
    assert stores.get(store.id) == expected


# ------------------------------------------------------------- statements per request


@pytest.mark.parametrize("stores", [1, 6])
@pytest.mark.parametrize("who", ["owner", "staff", "platform_admin"])
def test_a_signed_in_request_reads_its_user_and_actor_in_one_statement(
    who: str, stores: int, elsewhere: Flask, make_store: Callable[..., Store],
    make_user: Callable[..., User], sign_in: Callable[..., FlaskClient],
) -> None:
    places = [make_store() for _ in range(stores)]
    user = make_user(platform_admin=who == "platform_admin")
    for n, store in enumerate(places):
        role = "owner" if who == "owner" else "staff"
        db.session.add(Membership(user_id=user.id, store_id=store.id, role=role,
                                  grants=[ADJUST] if n % 2 else []))
    db.session.commit()
    client = sign_in(user, on=elsewhere)
    probe(client)  # warm up: connection, compiled statements

    with statements_of(elsewhere) as seen:
        shown = probe(client)
    assert len(shown["stores"]) == stores
    assert len(seen) == 1, seen
    assert "FROM users LEFT OUTER JOIN memberships" in seen[0]


@pytest.mark.parametrize("scope", [
    {}, {"permissions": [READ]}, {"store_ids": "first"}, {"platform_admin": False},
])
def test_an_api_call_reads_its_token_user_and_actor_in_one_statement(
    scope: dict[str, Any], elsewhere: Flask, make_store: Callable[..., Store],
    make_user: Callable[..., User],
) -> None:
    places = [make_store() for _ in range(4)]
    user = make_user(platform_admin="platform_admin" in scope)
    for store in places:
        db.session.add(Membership(user_id=user.id, store_id=store.id, role="staff",
                                  grants=[ADJUST]))
    db.session.commit()
    if scope.get("store_ids") == "first":
        scope = {"store_ids": [places[0].id]}
    _, token = tokens.create_token(user_id=user.id, name="counted", **scope)
    client = elsewhere.test_client()
    assert api_me(client, token).status_code == 200  # warm up; records last use

    with statements_of(elsewhere) as seen:
        response = api_me(client, token)
    assert response.status_code == 200
    assert len(response.get_json()["stores"]) == (1 if "store_ids" in scope else 4)
    assert len(seen) == 1, seen
    assert "FROM api_tokens JOIN users" in seen[0]
