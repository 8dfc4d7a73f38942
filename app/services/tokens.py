"""Personal API tokens: created and revoked by their user, sent as `Authorization: Bearer`.

A token is 32 random bytes, so a plain SHA-256 is the right hash: there is nothing to
brute-force, and a slow password hash would only cost every API request time.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from app.clock import utcnow
from app.database import write_transaction
from app.extensions import db
from app.models import ApiToken, User
from app.services.errors import NotFound
from app.services.validation import Checker

TOKEN_PREFIX = "stk_"
MAX_TOKENS_PER_USER = 50
# last_used_at is a hint for the user, not an audit trail: writing it on every request
# would turn each read into a write, so it is refreshed at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)

tokens = ApiToken.__table__


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_token(*, user_id: int, name: str) -> tuple[TokenView, str]:
    """Issue a token for the user; the plaintext is returned here and never again.
    Raises ValidationError, NotFound."""
    check = Checker()
    check.text("name", name, required=True, max_length=100)
    check.done()
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("User not found.")
        live = session.scalar(
            select(db.func.count()).where(
                tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None)
            )
        )
        if live >= MAX_TOKENS_PER_USER:
            check.fail("name", f"Revoke a token first: at most {MAX_TOKENS_PER_USER} are active.")
            check.done()
        token = ApiToken(
            user_id=user_id, name=name.strip(), token_hash=hash_token(plaintext),
            prefix=plaintext[:12], created_at=utcnow(),
        )
        session.add(token)
        session.flush()
        view = _view(token)
    return view, plaintext


def revoke_token(*, user_id: int, token_id: int) -> TokenView:
    """Stop a token from working. Revoking twice is harmless. Raises NotFound (also for
    another user's token)."""
    if type(token_id) is not int:
        raise NotFound("Token not found.")
    with write_transaction() as session:
        token = session.scalar(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
        )
        if token is None:
            raise NotFound("Token not found.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        session.flush()
        return _view(token)


def user_tokens(user_id: int) -> list[TokenView]:
    """The user's tokens, active first, newest first."""
    rows = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    )
    return [_view(t) for t in rows]


def authenticate_token(plaintext: str) -> int | None:
    """The id of the active user a live token belongs to, or None."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return None
    digest = hash_token(plaintext)
    row = db.session.execute(
        select(tokens.c.id, tokens.c.user_id, tokens.c.last_used_at)
        .join(User, User.id == tokens.c.user_id)
        .where(tokens.c.token_hash == digest, tokens.c.revoked_at.is_(None), User.active)
    ).one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _touch(row.id, now)
    return int(row.user_id)


def _touch(token_id: int, now: datetime) -> None:
    stale = now - LAST_USED_RESOLUTION
    with write_transaction() as session:
        session.execute(
            update(tokens)
            .where(
                tokens.c.id == token_id,
                or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at < stale),
            )
            .values(last_used_at=now)
        )


def _view(token: ApiToken) -> TokenView:
    return TokenView(
        id=token.id, name=token.name, prefix=token.prefix, created_at=token.created_at,
        last_used_at=token.last_used_at, revoked_at=token.revoked_at,
    )
