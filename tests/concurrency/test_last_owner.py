"""Last owner: owners demoting or removing each other at the same moment never leave a store
without an owner, an owner deactivated while demoting the other leaves an active owner, and
two platform admins taking each other's access at once leave one.

Each race also runs against `naive_change_role`, which reads the owners before it writes
without locking them, and must fail there: a race test that cannot fail proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Membership, Store, User
from app.permissions import Actor, actor_for_user
from app.services.errors import Conflict, LastOwner, NotFound, OwnerRequired, PermissionDenied
from app.services.people import accounts, members, ownership

from .harness import Outcomes, hammer, summary

RACES = 8  # fresh stores per test; each race is two or more owners at once
PAUSE_S = 0.05  # held between reading the owners and writing, to widen the window
# A removed owner is no longer a member: their own request then finds no such store.
REFUSALS = (LastOwner, OwnerRequired, NotFound)


def naive_change_role(*, actor: Actor, store_id: int, membership_id: int, role: str) -> None:
    """The bug this test exists to catch: count the owners, then write, with nothing held
    between the two (a deferred BEGIN on SQLite, READ COMMITTED on PostgreSQL)."""
    session = db.session
    try:
        owners = session.execute(
            select(Membership.id, Membership.user_id)
            .where(Membership.store_id == store_id, Membership.role == "owner")
        ).all()
        if actor.user_id not in {o.user_id for o in owners}:
            raise OwnerRequired()
        if [o.id for o in owners] == [membership_id] and role != "owner":
            raise LastOwner("someone", "the store")
        time.sleep(PAUSE_S)
        session.execute(update(Membership).where(Membership.id == membership_id)
                        .values(role=role, grants=[]))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def naive_remove(*, actor: Actor, store_id: int, membership_id: int) -> None:
    naive_change_role(actor=actor, store_id=store_id, membership_id=membership_id,
                      role="staff")


@pytest.fixture
def slow_locks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the owner lock a while before writing, so the two requests surely overlap."""
    original = ownership.lock_owners

    def held(*args: Any, **kwargs: Any) -> Any:
        rows = original(*args, **kwargs)
        time.sleep(PAUSE_S)
        return rows

    monkeypatch.setattr(ownership, "lock_owners", held)


def owner_store(make_store: Callable[..., Store], make_user: Callable[..., User],
                owners: int) -> tuple[Store, list[Actor], list[int]]:
    store = make_store()
    users = [make_user(role="owner", store=store) for _ in range(owners)]
    ids = [
        db.session.scalar(select(Membership.id).where(Membership.user_id == u.id,
                                                      Membership.store_id == store.id))
        for u in users
    ]
    db.session.rollback()
    return store, [actor_for_user(u.id) for u in users], [int(i) for i in ids if i]


def owners_left(store_id: int) -> int:
    db.session.rollback()
    count = db.session.scalar(
        select(func.count()).where(Membership.store_id == store_id, Membership.role == "owner")
    )
    db.session.rollback()
    return int(count or 0)


def ring_race(app: Flask, make_store: Any, make_user: Any, owners: int,
              demote: Callable[..., Any], *, remove: bool = False) -> list[str]:
    """`owners` owners of a fresh store, each demoting (or removing) the next one, all at
    once, RACES times; returns every way an outcome misses the rules."""
    problems: list[str] = []
    for _ in range(RACES):
        store, actors, ids = owner_store(make_store, make_user, owners)

        def call(thread: int, _round: int, store_id: int = store.id,
                 actors: list[Actor] = actors, ids: list[int] = ids) -> None:
            target = ids[(thread + 1) % len(ids)]
            if remove:
                demote(actor=actors[thread], store_id=store_id, membership_id=target)
            else:
                demote(actor=actors[thread], store_id=store_id, membership_id=target,
                       role="admin")

        outcomes: Outcomes = hammer(app, owners, 1, call)
        left = owners_left(store.id)
        if left < 1:
            problems.append(f"store left with {left} owners ({summary(outcomes)})")
        others = outcomes.errors_not_of(*REFUSALS)
        if others:
            problems.append(f"unexpected error {others[0]!r}")
        if len(outcomes.results) + len(outcomes.errors) != owners:
            problems.append("a request has no outcome")
        if owners == 2 and len(outcomes.results) != 1 and not others:
            problems.append(f"{len(outcomes.results)} of two mutual demotions succeeded")
    return problems


@pytest.mark.parametrize("remove", [False, True], ids=["demote", "remove"])
def test_two_owners_demoting_each_other_at_once_one_fails(
    app, make_store, make_user, slow_locks, remove
):
    service = members.remove_member if remove else members.change_role

    problems = ring_race(app, make_store, make_user, 2, service, remove=remove)

    assert problems == []


def test_a_ring_of_owners_demoting_each_other_keeps_an_owner(
    app, make_store, make_user, slow_locks
):
    problems = ring_race(app, make_store, make_user, 6, members.change_role)

    assert problems == []


def test_the_race_catches_a_naive_check_then_write(app, make_store, make_user, backend):
    problems = ring_race(app, make_store, make_user, 2, naive_change_role)

    print(f"\nnaive last-owner check on {backend}: {len(problems)} problem(s): {problems[:2]}")
    assert problems, "a naive check-then-write passed the race: the test cannot fail"


def deactivation_race(app: Flask, make_store: Any, make_user: Any) -> list[str]:
    """A platform admin deactivates owner A while A demotes the store's other owner B, at
    once, RACES times; exactly one may win, and an active owner must remain."""
    problems: list[str] = []
    admin = actor_for_user(make_user(platform_admin=True).id)
    for _ in range(RACES):
        store, owners, ids = owner_store(make_store, make_user, 2)
        a = owners[0]

        def call(thread: int, _round: int, store_id: int = store.id, a: Actor = a,
                 b_membership: int = ids[1]) -> None:
            if thread == 0:
                accounts.set_user_active(actor=admin, user_id=a.user_id, active=False)
            else:
                members.change_role(actor=a, store_id=store_id, membership_id=b_membership,
                                    role="admin")

        outcomes = hammer(app, 2, 1, call)
        db.session.rollback()
        active = db.session.scalar(
            select(func.count()).select_from(Membership)
            .join(User, User.id == Membership.user_id)
            .where(Membership.store_id == store.id, Membership.role == "owner", User.active)
        )
        db.session.rollback()
        if active != 1:
            problems.append(f"{active} active owners left ({summary(outcomes)})")
        others = outcomes.errors_not_of(*REFUSALS)
        if others:
            problems.append(f"unexpected error {others[0]!r}")
    return problems


def test_deactivating_an_owner_while_they_demote_the_other_keeps_an_active_owner(
    app, make_store, make_user, slow_locks
):
    assert deactivation_race(app, make_store, make_user) == []


def test_the_race_catches_owners_read_without_locking(
    app, make_store, make_user, backend, monkeypatch
):
    """The same race with the owner rows read but not locked: on PostgreSQL both changes
    go through and the store keeps only a deactivated owner."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes every writer; the naive race needs row-level locking")

    def unlocked(session: Any, store_id: int) -> list[ownership.Owner]:
        rows = session.execute(
            select(Membership.id, Membership.user_id, User.active)
            .join(User, User.id == Membership.user_id)
            .where(Membership.store_id == store_id, Membership.role == "owner")
        ).all()
        time.sleep(PAUSE_S)
        return [ownership.Owner(r.id, r.user_id, r.active) for r in rows]

    monkeypatch.setattr(ownership, "lock_owners", unlocked)
    problems = deactivation_race(app, make_store, make_user)
    assert any("0 active owners" in p for p in problems), problems


def test_two_platform_admins_taking_each_others_access_at_once_leave_one(
    app, make_store, make_user
):
    """The same rule for platform admins: two of them, each taking the other's access at
    the same moment, RACES times: one is refused, and one platform admin remains."""
    problems: list[str] = []
    for _ in range(RACES):
        pair = [make_user(platform_admin=True).id for _ in range(2)]
        db.session.execute(update(User).where(User.id.not_in(pair), User.is_platform_admin)
                           .values(is_platform_admin=False))
        db.session.commit()
        actors = [actor_for_user(user_id) for user_id in pair]

        def call(thread: int, _round: int, pair: list[int] = pair,
                 actors: list[Actor] = actors) -> None:
            accounts.set_platform_admin(actor=actors[thread], user_id=pair[1 - thread],
                                        admin=False)

        outcomes = hammer(app, 2, 1, call)
        db.session.rollback()
        left = db.session.scalar(
            select(func.count()).where(User.is_platform_admin, User.active)
        )
        db.session.rollback()
        if left != 1 or len(outcomes.results) != 1:
            problems.append(f"{left} platform admins left ({summary(outcomes)})")
        others = outcomes.errors_not_of(Conflict, PermissionDenied)
        if others:
            problems.append(f"unexpected error {others[0]!r}")
    assert problems == []
