"""Credentials: password rules, hashing, sign-in, and ending a user's sessions.

API tokens are credentials too; they live beside this module in tokens.py.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from app.database import write_transaction
from app.extensions import db
from app.models import User
from app.models.users import new_session_token
from app.services.validation import Checker, identifier

MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile
# Verified against when the user does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("stockroom-dummy-password")


def hash_password(password: str) -> str:
    """The Argon2id hash stored for a password."""
    return _hasher.hash(password)


def normalize_email(email: str) -> str:
    """An email as accounts store it and sign-in looks it up: trimmed, lowercase."""
    return identifier(email).lower()


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


def end_sessions(user_id: int) -> None:
    """Invalidate every signed session cookie of the user (sign-out)."""
    with write_transaction() as session:
        session.execute(
            db.update(User).where(User.id == user_id).values(session_token=new_session_token())
        )


def check_password(check: Checker, password: Any, field: str = "password") -> None:
    """The rules every new password meets, collected into `check`."""
    if not isinstance(password, str) or not password:
        check.fail(field, "This field is required.")
    elif len(password) < MIN_PASSWORD_LENGTH:
        check.fail(field, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    elif len(password) > 1024:
        check.fail(field, "Use at most 1024 characters.")
