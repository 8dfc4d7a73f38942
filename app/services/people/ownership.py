"""Ownership: who holds owner powers in a store, and the rules that keep every store with
an active owner and the platform with an active platform admin.

Every rule that depends on who the owners (or platform admins) are is decided inside the
write transaction, after their rows are locked, so two owners demoting each other (or
deactivated by two platform admins) at once cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Membership, Store, User
from app.permissions import MEMBERS, Actor, permissions_for
from app.services.errors import Conflict, LastOwner, NotFound, PermissionDenied

# Platform admins only; never part of a store role.
USERS_PERMISSION = "users:manage"


@dataclass(frozen=True)
class Owner:
    membership_id: int
    user_id: int
    active: bool  # a deactivated owner can't sign in: the store needs an active one


def lock_owners(session: Session, store_id: int) -> list[Owner]:
    """The store's owner memberships, locked in id order, with whether each owner's account
    is active.

    On PostgreSQL a concurrent change (of a role, a membership, or an owner's account:
    accounts.set_user_active takes the same locks) waits here and then sees the owners as
    the first change left them; SQLite's IMMEDIATE write transaction excludes other writers
    anyway. The accounts are read by a second statement, which starts after the locks are
    held and so sees a deactivation that committed while this one waited."""
    locked = session.execute(
        select(Membership.id, Membership.user_id)
        .where(Membership.store_id == store_id, Membership.role == "owner")
        .order_by(Membership.id).with_for_update()
    ).all()
    active = set(session.scalars(
        select(User.id).where(User.id.in_([row.user_id for row in locked]), User.active)
    )) if locked else set()
    return [Owner(row.id, row.user_id, row.user_id in active) for row in locked]


def keeps_an_active_owner(owners: list[Owner], leaving: int) -> bool:
    """Whether the store still has an active owner once membership `leaving` stops being
    one (demoted, removed, or its account deactivated). A store whose owners are all
    deactivated already may still lose an inactive one, but never its last membership."""
    others = [o for o in owners if o.membership_id != leaving]
    if not others:
        return False
    gone = next((o for o in owners if o.membership_id == leaving), None)
    return any(o.active for o in others) or gone is None or not gone.active


def refuse_ownerless_stores(session: Session, user_id: int, name: str) -> None:
    """Raise LastOwner if deactivating `user_id` would leave an active store without an
    active owner; the owners of each store the user owns are locked, in store order."""
    owned = session.execute(
        select(Membership.id, Membership.store_id, Store.name)
        .join(Store, Store.id == Membership.store_id)
        .where(Membership.user_id == user_id, Membership.role == "owner",
               Store.archived_at.is_(None))
        .order_by(Membership.store_id)
    ).all()
    for membership_id, store_id, store_name in owned:
        if not keeps_an_active_owner(lock_owners(session, store_id), membership_id):
            raise LastOwner(name, store_name, active=True)


def acts_as_owner(session: Session, actor: Actor, store_id: int, owners: list[Owner]) -> bool:
    """Whether the actor holds owner powers here, judged inside the transaction: a member
    demoted a moment ago has lost them. Raises PermissionDenied when they lost
    `members:manage` altogether, NotFound when they are no longer a member."""
    if actor.is_platform_admin:
        return True
    if any(o.user_id == actor.user_id for o in owners):
        return True
    row = session.execute(
        select(Membership.role, Membership.grants)
        .where(Membership.user_id == actor.user_id, Membership.store_id == store_id)
    ).one_or_none()
    if row is None:
        raise NotFound("Store not found.")
    if MEMBERS not in permissions_for(row.role, row.grants or ()):
        raise PermissionDenied(MEMBERS)
    return False


def lock_active_admins(session: Session, actor: Actor) -> list[int]:
    """The active platform admins' ids, locked in id order (PostgreSQL; SQLite's IMMEDIATE
    transaction already excludes other writers), so two admins deactivating each other or
    taking each other's access cannot both succeed. Raises PermissionDenied when the actor
    was deactivated or lost the access since this request began."""
    admins = list(session.execute(
        select(User.id).where(User.is_platform_admin.is_(True), User.active.is_(True))
        .order_by(User.id).with_for_update()
    ).scalars())
    if actor.user_id is not None and actor.user_id not in admins:
        raise PermissionDenied(USERS_PERMISSION)
    return admins


def last_platform_admin(name: str) -> Conflict:
    """The refusal for taking away the last active platform admin's access."""
    return Conflict(f"{name} is the last active platform admin; make someone else "
                    "platform admin first.")
