"""Who a session or a token is, read in one statement on both databases: the user, their
memberships of live stores and, for a token, its scope, each as it stands at that moment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from statements import recorded_statements

from app.clock import utcnow
from app.extensions import db
from app.models import ApiToken, Membership, Store, User
from app.permissions import (
    ADJUST,
    ALL_PERMISSIONS,
    AUDIT,
    READ,
    SignedInUser,
    actor_for_user,
    signed_in,
)
from app.services.errors import TokenExpired
from app.services.people import tokens


def selects(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.startswith("BEGIN")]


@pytest.fixture
def member(make_store: Callable[..., Store], make_user: Callable[..., User]) -> SimpleNamespace:
    """Owner of one store, staff with grants in another, owner of an archived one."""
    owned, staffed, archived = make_store(), make_store(), make_store()
    user = make_user(role="owner", store=owned)
    db.session.add_all([
        Membership(user_id=user.id, store_id=staffed.id, role="staff", grants=[ADJUST]),
        Membership(user_id=user.id, store_id=archived.id, role="owner", grants=[]),
    ])
    archived.archived_at = utcnow()
    db.session.commit()
    return SimpleNamespace(id=user.id, email=user.email, name=user.name,
                           session_token=user.session_token, get_id=user.get_id(),
                           stores=(owned.id, staffed.id, archived.id))


def test_the_session_user_and_actor_come_from_one_statement(member: SimpleNamespace) -> None:
    owned, staffed, _archived = member.stores
    db.session.remove()
    with recorded_statements() as seen:
        loaded = signed_in(member.id, member.session_token)
    assert len(selects(seen)) == 1, seen
    assert loaded is not None
    user, actor = loaded
    assert user == SignedInUser(id=member.id, email=member.email, name=member.name,
                                is_platform_admin=False, session_token=member.session_token)
    assert user.get_id() == member.get_id and user.is_authenticated and user.is_active
    assert actor == actor_for_user(member.id)
    assert actor.store_permissions == {owned: ALL_PERMISSIONS,
                                       staffed: frozenset({READ, ADJUST})}


def test_a_session_is_refused_for_a_stale_token_an_inactive_or_unknown_user(
    member: SimpleNamespace,
) -> None:
    assert signed_in(member.id, "not-the-token") is None
    assert signed_in(member.id, "") is None
    assert signed_in(2_000_000_000, member.session_token) is None
    token = member.session_token
    db.session.execute(update(User).where(User.id == member.id).values(active=False))
    db.session.commit()
    assert signed_in(member.id, token) is None


def test_a_change_holds_at_the_next_read(member: SimpleNamespace) -> None:
    owned, staffed, _archived = member.stores
    token = member.session_token
    db.session.execute(update(Membership).where(Membership.user_id == member.id,
                                                Membership.store_id == staffed)
                       .values(grants=[AUDIT]))
    db.session.execute(update(Membership).where(Membership.user_id == member.id,
                                                Membership.store_id == owned)
                       .values(role="staff"))
    db.session.commit()
    loaded = signed_in(member.id, token)
    assert loaded is not None
    assert loaded[1].store_permissions == {owned: frozenset({READ}),
                                           staffed: frozenset({READ, AUDIT})}


def test_a_token_its_user_and_actor_come_from_one_statement(member: SimpleNamespace) -> None:
    owned, staffed, _archived = member.stores
    _, plaintext = tokens.create_token(user_id=member.id, name="counted")
    tokens.authenticate_token(plaintext)  # records its first use
    db.session.remove()
    with recorded_statements() as seen:
        grant = tokens.authenticate_token(plaintext)
    assert len(selects(seen)) == 1, seen
    assert grant is not None and grant.scope == tokens.UNLIMITED
    assert grant.actor == actor_for_user(member.id)

    _, scoped = tokens.create_token(user_id=member.id, name="scoped", store_ids=[staffed],
                                    permissions=[READ])
    tokens.authenticate_token(scoped)
    db.session.remove()
    with recorded_statements() as seen:
        grant = tokens.authenticate_token(scoped)
    assert len(selects(seen)) == 1, seen
    assert grant is not None
    assert grant.actor.store_permissions == {staffed: frozenset({READ})}
    assert grant.actor == actor_for_user(member.id, grant.scope)


def test_a_token_is_refused_once_revoked_expired_or_its_user_deactivated(
    member: SimpleNamespace,
) -> None:
    view, plaintext = tokens.create_token(user_id=member.id, name="a")
    _, expiring = tokens.create_token(user_id=member.id, name="b")
    _, other = tokens.create_token(user_id=member.id, name="c")
    assert tokens.authenticate_token(plaintext) is not None

    tokens.revoke_token(user_id=member.id, token_id=view.id)
    assert tokens.authenticate_token(plaintext) is None

    db.session.execute(update(ApiToken).where(ApiToken.name == "b")
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(TokenExpired):
        tokens.authenticate_token(expiring)

    assert tokens.authenticate_token(other) is not None
    db.session.execute(update(User).where(User.id == member.id).values(active=False))
    db.session.commit()
    assert tokens.authenticate_token(other) is None


def test_a_platform_admin_token_with_no_membership_is_one_row(
    make_user: Callable[..., User], make_store: Callable[..., Store],
) -> None:
    store = make_store()
    admin = make_user(platform_admin=True)
    _, plaintext = tokens.create_token(user_id=admin.id, name="admin")
    grant = tokens.authenticate_token(plaintext)
    assert grant is not None
    assert grant.actor.is_platform_admin and grant.actor.can(ADJUST, store.id)
    loaded = signed_in(admin.id, admin.session_token)
    assert loaded is not None and loaded[0].is_platform_admin and loaded[1].is_platform_admin
