"""Accounts: opening, listing, deactivating and resetting users, and platform admin access.

Passwords are checked and hashed by credentials.py; the rules that keep a store with an
active owner and the platform with an active platform admin live in ownership.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import ROLES, SCAN_OPENS, Membership, Store, User
from app.models.users import new_session_token
from app.permissions import GRANTABLE_TO_STAFF, Actor, system_actor
from app.services import alerts, audit
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.people import credentials
from app.services.people.credentials import check_password, normalize_email
from app.services.people.ownership import (
    USERS_PERMISSION,
    last_platform_admin,
    lock_active_admins,
    refuse_ownerless_stores,
)
from app.services.validation import Checker, is_id


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    platform_admin: bool = False,
    store_slug: str | None = None,
    role: str | None = None,
    grants: tuple[str, ...] = (),
    actor: Actor | None = None,
) -> User:
    """Create a user, optionally with a membership (the CLI and demo set-up; the audit
    trail names `actor`, or the system). Raises ValidationError, Conflict, NotFound."""
    check = Checker()
    check_account(check, email=email, name=name, password=password)
    if role is not None and role not in ROLES:
        check.fail("role", f"Choose one of: {', '.join(ROLES)}.")
    bad = sorted(set(grants) - GRANTABLE_TO_STAFF)
    if bad:
        check.fail("grants", f"Unknown permission group: {bad[0]}.")
    check.done()

    address = normalize_email(email)
    # Hashed before the transaction: Argon2 is slow on purpose, and SQLite has one writer.
    hashed = credentials.hash_password(password)
    by = actor or system_actor("create-user")
    with write_transaction() as session:
        user = insert_user(session, by, email=address, name=name, password_hash=hashed,
                           platform_admin=platform_admin)
        store = None
        if store_slug is not None:
            store = session.scalar(select(Store).where(Store.slug == store_slug))
            if store is None:
                raise NotFound(f"No store with the slug {store_slug}.")
        if store is not None:
            membership = Membership(user_id=user.id, store_id=store.id, role=role or "staff",
                                    grants=sorted(grants))
            session.add(membership)
            session.flush()
            audit.record(session, by, "member.added", "member", membership.id,
                         f"{user.name} ({user.email})", store_id=store.id,
                         changes=audit.diff({}, {"role": membership.role,
                                                 "grants": membership.grants}))
            alerts.subscribe_owners(session, store.id)
    return user


def record_created(session: Session, actor: Actor, user: User) -> None:
    """The audit row of a new account: who it is and whether it is a platform admin."""
    audit.record(session, actor, "user.created", "user", user.id,
                 f"{user.name} ({user.email})",
                 changes=audit.diff({}, {"email": user.email, "name": user.name,
                                         "is_platform_admin": user.is_platform_admin}))


def check_account(check: Checker, *, email: Any, name: Any, password: Any) -> None:
    """The rules every new account meets, collected into `check`."""
    check.text("email", email, required=True, max_length=254)
    if isinstance(email, str) and email.strip() and "email" not in check.errors:
        local, at, domain = email.strip().partition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in email.strip()):
            check.fail("email", "Enter an email address.")
    check.text("name", name, required=True, max_length=120)
    check_password(check, password)


@dataclass(frozen=True)
class UserView:
    """A user as the people screens show them."""

    id: int
    email: str
    name: str
    is_platform_admin: bool
    active: bool
    created_at: datetime
    store_count: int = 0

    @property
    def label(self) -> str:
        return f"{self.name} ({self.email})"


def list_users(actor: Actor) -> list[UserView]:
    """Every user, by name, with how many stores each belongs to. Raises PermissionDenied."""
    _require_platform_admin(actor)
    stores = (
        select(Membership.user_id, func.count().label("n"))
        .group_by(Membership.user_id).subquery()
    )
    rows = db.session.execute(
        select(User.id, User.email, User.name, User.is_platform_admin, User.active,
               User.created_at, func.coalesce(stores.c.n, 0).label("store_count"))
        .outerjoin(stores, stores.c.user_id == User.id)
        .order_by(func.lower(User.name), User.id)
    ).all()
    return [UserView(**row._mapping) for row in rows]


def get_user(actor: Actor, user_id: int) -> UserView:
    """One user. Raises NotFound (also for anyone but a platform admin)."""
    _require_user_admin(actor, user_id)
    return _user_view(db.session, user_id)


def create_account(
    *, actor: Actor, email: str, name: str, password: str, platform_admin: bool = False
) -> UserView:
    """A platform admin opens an account. Raises ValidationError, Conflict, PermissionDenied."""
    check = Checker()
    check_account(check, email=email, name=name, password=password)
    if not isinstance(platform_admin, bool):
        check.fail("platform_admin", "Choose yes or no.")
    check.done()
    _require_platform_admin(actor)
    # Hashed before the transaction: Argon2 is slow on purpose, and SQLite has one writer.
    hashed = credentials.hash_password(password)
    with write_transaction() as session:
        user = insert_user(session, actor, email=email, name=name, password_hash=hashed,
                           platform_admin=platform_admin)
        return _user_view(session, user.id)


def insert_user(
    session: Session, actor: Actor, *, email: str, name: str, password_hash: str,
    platform_admin: bool = False,
) -> User:
    """Add a checked account, and its audit row, inside the caller's write transaction.
    Raises Conflict."""
    address = normalize_email(email)
    if session.scalar(select(func.count()).where(User.email == address)):
        raise Conflict(f"A user with the email {address} already exists.")
    user = User(email=address, name=name.strip(), password_hash=password_hash,
                is_platform_admin=platform_admin)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent create took the address first
        if not is_unique_violation(exc, "email"):
            raise
        raise Conflict(f"A user with the email {address} already exists.") from exc
    record_created(session, actor, user)
    return user


def set_user_active(*, actor: Actor, user_id: int, active: bool) -> UserView:
    """Deactivate or reactivate an account. Deactivating ends the user's sessions at their
    next request. Nobody deactivates themselves, the last active platform admin, or the
    last active owner of a store that is not archived.
    Raises NotFound (also for anyone but a platform admin), Conflict (LastOwner),
    PermissionDenied (the actor lost platform admin access meanwhile)."""
    _require_user_admin(actor, user_id)
    if not active and user_id == actor.user_id:
        raise Conflict("You cannot deactivate your own account.")
    with write_transaction() as session:
        if not active:
            admins = lock_active_admins(session, actor)
            if admins == [user_id]:
                raise last_platform_admin(_user_view(session, user_id).name)
        target = _user_view(session, user_id)
        if target.active == active:
            return target
        if not active:
            refuse_ownerless_stores(session, user_id, target.name)
        session.execute(
            update(User).where(User.id == user_id)
            .values(active=active, session_token=new_session_token())
        )
        audit.record(session, actor, "user.reactivated" if active else "user.deactivated",
                     "user", user_id, target.label, changes={"active": (not active, active)})
        return _user_view(session, user_id)


def set_platform_admin(*, actor: Actor, user_id: int, admin: bool) -> UserView:
    """Give or take away platform admin access; it takes effect at the user's next request.
    Nobody takes away their own, and the last active platform admin keeps theirs.
    Raises NotFound (also for anyone but a platform admin), Conflict, PermissionDenied
    (the actor lost platform admin access meanwhile)."""
    _require_user_admin(actor, user_id)
    if not admin and user_id == actor.user_id:
        raise Conflict("You cannot take away your own platform admin access; ask another "
                       "platform admin.")
    with write_transaction() as session:
        admins = lock_active_admins(session, actor)
        target = _user_view(session, user_id)
        if target.is_platform_admin == admin:
            return target
        if not admin and admins == [user_id]:
            raise last_platform_admin(target.name)
        session.execute(update(User).where(User.id == user_id).values(is_platform_admin=admin))
        audit.record(session, actor,
                     "user.platform_admin_granted" if admin else "user.platform_admin_revoked",
                     "user", user_id, target.label,
                     changes={"is_platform_admin": (not admin, admin)})
        return _user_view(session, user_id)


def reset_password(*, actor: Actor, user_id: int, password: str) -> UserView:
    """Give a user a new password and end every session they have.
    Raises ValidationError, NotFound (also for anyone but a platform admin)."""
    check = Checker()
    check_password(check, password)
    check.done()
    _require_user_admin(actor, user_id)
    hashed = credentials.hash_password(password)
    with write_transaction() as session:
        target = _user_view(session, user_id)
        session.execute(
            update(User).where(User.id == user_id)
            .values(password_hash=hashed, session_token=new_session_token())
        )
        # The writer records a secret field as changed and never its values.
        audit.record(session, actor, "user.password_reset", "user", user_id, target.label,
                     changes={"password": (None, None)})
        return target


def set_scan_opens(*, actor: Actor, scan_opens: str) -> str:
    """The acting user's own choice of what a scan naming exactly one entry opens: the
    entry's page ("entry") or its Adjust form ("adjust"). Returns the value now stored;
    a change is recorded. Raises ValidationError, NotFound (no signed-in user)."""
    check = Checker()
    if scan_opens not in SCAN_OPENS:
        check.fail("scan_opens", "Choose what a scan opens: the entry's page or Adjust.")
    check.done()
    if actor.user_id is None:
        raise NotFound("User not found.")
    with write_transaction() as session:
        before = session.scalar(
            select(User.scan_opens).where(User.id == actor.user_id, User.active.is_(True))
        )
        if before is None:
            raise NotFound("User not found.")
        if before == scan_opens:
            return before
        session.execute(update(User).where(User.id == actor.user_id)
                        .values(scan_opens=scan_opens))
        target = _user_view(session, actor.user_id)
        audit.record(session, actor, "user.updated", "user", actor.user_id, target.label,
                     changes={"scan_opens": (before, scan_opens)})
        return scan_opens


def _require_platform_admin(actor: Actor) -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied(USERS_PERMISSION)


def _require_user_admin(actor: Actor, user_id: object) -> None:
    # Accounts belong to no store a member manages: to anyone but a platform admin every
    # account is as absent as an id that does not exist, as the /admin area is (404).
    if not actor.is_platform_admin or not is_id(user_id):
        raise NotFound("User not found.")


def _user_view(session: Session, user_id: int) -> UserView:
    if not is_id(user_id):
        raise NotFound("User not found.")
    row = session.execute(
        select(User.id, User.email, User.name, User.is_platform_admin, User.active,
               User.created_at,
               select(func.count()).where(Membership.user_id == User.id)
               .scalar_subquery().label("store_count"))
        .where(User.id == user_id)
    ).one_or_none()
    if row is None:
        raise NotFound("User not found.")
    return UserView(**row._mapping)
