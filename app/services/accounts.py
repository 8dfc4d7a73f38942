"""Users and sign-in credentials."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from app.database import write_transaction
from app.extensions import db
from app.models import ROLES, Membership, Store, User
from app.models.users import new_session_token
from app.permissions import GRANTABLE_TO_STAFF
from app.services.errors import Conflict, NotFound
from app.services.validation import Checker

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
    return email.strip().lower()


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
    check.text("email", email, required=True, max_length=254)
    if isinstance(email, str) and "@" not in email:
        check.fail("email", "Enter an email address.")
    check.text("name", name, required=True, max_length=120)
    if not isinstance(password, str) or len(password) < 12:
        check.fail("password", "Use at least 12 characters.")
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
