"""Users and sign-in credentials: creating, deactivating and resetting accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import ROLES, Membership, Store, User
from app.models.users import new_session_token
from app.permissions import GRANTABLE_TO_STAFF, Actor
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.validation import Checker, identifier, is_id

MIN_PASSWORD_LENGTH = 12
USERS_PERMISSION = "users:manage"  # platform admins only; never part of a store role

_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile
# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("stockroom-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; unknown and wrong look alike."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return user


def normalize_email(email: str) -> str:
    return identifier(email).lower()


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    platform_admin: bool = False,
    store_slug: str | None = None,
    role: str | None = None,
    grants: tuple[str, ...] = (),
) -> User:
    """Create a user, optionally with a membership. Raises ValidationError, Conflict."""
    check = Checker()
    check_account(check, email=email, name=name, password=password)
    if role is not None and role not in ROLES:
        check.fail("role", f"Choose one of: {', '.join(ROLES)}.")
    bad = sorted(set(grants) - GRANTABLE_TO_STAFF)
    if bad:
        check.fail("grants", f"Unknown permission group: {bad[0]}.")
    check.done()

    address = normalize_email(email)
    if db.session.scalar(select(func.count()).where(User.email == address)):
        raise Conflict(f"A user with the email {address} already exists.")
    store = None
    if store_slug is not None:
        store = db.session.scalar(select(Store).where(Store.slug == store_slug))
        if store is None:
            raise NotFound(f"No store with the slug {store_slug}.")
    user = User(
        email=address, name=name.strip(), password_hash=hash_password(password),
        is_platform_admin=platform_admin,
    )
    db.session.add(user)
    db.session.flush()
    if store is not None:
        db.session.add(
            Membership(user_id=user.id, store_id=store.id, role=role or "staff",
                       grants=sorted(grants))
        )
    db.session.commit()
    return user


def end_sessions(user_id: int) -> None:
    """Invalidate every signed session cookie of the user (sign-out)."""
    with write_transaction() as session:
        session.execute(
            db.update(User).where(User.id == user_id).values(session_token=new_session_token())
        )


def check_account(check: Checker, *, email: Any, name: Any, password: Any) -> None:
    """The rules every new account meets, collected into `check`."""
    check.text("email", email, required=True, max_length=254)
    if isinstance(email, str) and email.strip() and "email" not in check.errors:
        local, at, domain = email.strip().partition("@")
        if not at or not local or "." not in domain or any(c.isspace() for c in email.strip()):
            check.fail("email", "Enter an email address.")
    check.text("name", name, required=True, max_length=120)
    check_password(check, password)


def check_password(check: Checker, password: Any, field: str = "password") -> None:
    if not isinstance(password, str) or not password:
        check.fail(field, "This field is required.")
    elif len(password) < MIN_PASSWORD_LENGTH:
        check.fail(field, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    elif len(password) > 1024:
        check.fail(field, "Use at most 1024 characters.")


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
    """One user. Raises PermissionDenied, NotFound."""
    _require_platform_admin(actor)
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
    hashed = hash_password(password)
    with write_transaction() as session:
        user = insert_user(session, email=email, name=name, password_hash=hashed,
                           platform_admin=platform_admin)
        return _user_view(session, user.id)


def insert_user(
    session: Session, *, email: str, name: str, password_hash: str,
    platform_admin: bool = False,
) -> User:
    """Add a checked account inside the caller's write transaction. Raises Conflict."""
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
    return user


def set_user_active(*, actor: Actor, user_id: int, active: bool) -> UserView:
    """Deactivate or reactivate an account. Deactivating ends the user's sessions at their
    next request. Nobody deactivates themselves, the last active platform admin, or the
    last active owner of a store that is not archived.
    Raises PermissionDenied, NotFound, Conflict (LastOwner)."""
    _require_platform_admin(actor)
    if not is_id(user_id):
        raise NotFound("User not found.")
    if not active and user_id == actor.user_id:
        raise Conflict("You cannot deactivate your own account.")
    with write_transaction() as session:
        if not active:
            admins = _lock_active_admins(session, actor)
            if admins == [user_id]:
                raise _last_platform_admin(_user_view(session, user_id))
        target = _user_view(session, user_id)
        if target.active == active:
            return target
        if not active:
            from app.services import members  # members builds on this module

            members.refuse_ownerless_stores(session, user_id, target.name)
        session.execute(
            update(User).where(User.id == user_id)
            .values(active=active, session_token=new_session_token())
        )
        return _user_view(session, user_id)


def set_platform_admin(*, actor: Actor, user_id: int, admin: bool) -> UserView:
    """Give or take away platform admin access; it takes effect at the user's next request.
    Nobody takes away their own, and the last active platform admin keeps theirs.
    Raises PermissionDenied, NotFound, Conflict."""
    _require_platform_admin(actor)
    if not is_id(user_id):
        raise NotFound("User not found.")
    if not admin and user_id == actor.user_id:
        raise Conflict("You cannot take away your own platform admin access; ask another "
                       "platform admin.")
    with write_transaction() as session:
        admins = _lock_active_admins(session, actor)
        target = _user_view(session, user_id)
        if target.is_platform_admin == admin:
            return target
        if not admin and admins == [user_id]:
            raise _last_platform_admin(target)
        session.execute(update(User).where(User.id == user_id).values(is_platform_admin=admin))
        return _user_view(session, user_id)


def reset_password(*, actor: Actor, user_id: int, password: str) -> UserView:
    """Give a user a new password and end every session they have.
    Raises ValidationError, PermissionDenied, NotFound."""
    check = Checker()
    check_password(check, password)
    check.done()
    _require_platform_admin(actor)
    if not is_id(user_id):
        raise NotFound("User not found.")
    hashed = hash_password(password)
    with write_transaction() as session:
        _user_view(session, user_id)
        session.execute(
            update(User).where(User.id == user_id)
            .values(password_hash=hashed, session_token=new_session_token())
        )
        return _user_view(session, user_id)


def _require_platform_admin(actor: Actor) -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied(USERS_PERMISSION)


def _lock_active_admins(session: Session, actor: Actor) -> list[int]:
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


def _last_platform_admin(user: UserView) -> Conflict:
    return Conflict(f"{user.name} is the last active platform admin; make someone else "
                    "platform admin first.")


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
