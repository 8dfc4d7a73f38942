"""Personal API tokens: created and revoked by their user, sent as `Authorization: Bearer`.

A token is 32 random bytes, so a plain SHA-256 is the right hash: there is nothing to
brute-force, and a slow password hash would only cost every API request time.

A token expires (90 days unless its user chooses a date, or chooses "never") and may be
limited to some of its user's stores, to some permissions, and, for a platform admin, to
their memberships. The limits only take away: every request is checked against what the
user holds at that moment (app/permissions.py, actor_for_user).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, bindparam, or_, select, update

from app.clock import utcnow
from app.database import write_transaction
from app.extensions import db
from app.models import ApiToken, Membership, Store, User
from app.permissions import (
    ALL_PERMISSIONS,
    READ,
    UNLIMITED,
    Actor,
    TokenScope,
    actor_from_rows,
)
from app.services import audit
from app.services.errors import NotFound, TokenExpired
from app.services.validation import Checker, is_id

TOKEN_PREFIX = "stk_"
MAX_TOKENS_PER_USER = 50
DEFAULT_LIFETIME = timedelta(days=90)


class Expiry(enum.Enum):
    """The expiries that are not a date: the default lifetime, or never (chosen on purpose)."""

    DEFAULT = "default"
    NEVER = "never"


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
    expires_at: datetime | None = None
    # None: not limited. Names of stores that are gone (archived) are left out.
    store_ids: tuple[int, ...] | None = None
    store_names: tuple[str, ...] | None = None
    permissions: tuple[str, ...] | None = None
    platform_admin: bool = True

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.expired

    @property
    def read_only(self) -> bool:
        return self.permissions == ("inventory:read",)


@dataclass(frozen=True)
class TokenGrant:
    """What a live token lets through: its user's actor, limited to its scope, as the
    user's memberships stand at this request."""

    user_id: int
    scope: TokenScope
    expires_at: datetime | None
    actor: Actor


@dataclass(frozen=True)
class StoreChoice:
    id: int
    name: str


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_token(
    *, user_id: int, name: str, expires_at: datetime | Expiry = Expiry.DEFAULT,
    store_ids: Collection[int] | None = None, permissions: Collection[str] | None = None,
    platform_admin: bool = True,
) -> tuple[TokenView, str]:
    """Issue a token for the user; the plaintext is returned here and never again.

    `expires_at` is a naive UTC moment in the future, Expiry.DEFAULT (90 days from now) or
    Expiry.NEVER. `store_ids` limits the token to some of the stores the user may act in
    now, `permissions` to some of the permission strings (inventory:read always among
    them); None leaves either unlimited.
    `platform_admin` False keeps a platform admin's token to their memberships.
    Raises ValidationError, NotFound."""
    now = utcnow()
    check = Checker()
    check.text("name", name, required=True, max_length=100)
    expiry = _check_expiry(check, expires_at, now)
    stores = _check_store_ids(check, store_ids)
    granted = _check_permissions(check, permissions)
    if type(platform_admin) is not bool:
        check.fail("platform_admin", "Choose yes or no.")
    check.done()
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction() as session:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise NotFound("User not found.")
        if stores is not None:
            allowed = {c.id for c in store_choices(
                user_id, platform_admin=user.is_platform_admin and platform_admin)}
            outside = [s for s in stores if s not in allowed]
            if outside:
                check.fail("store_ids", f"Store {outside[0]} is not one of your stores.")
                check.done()
        live = session.scalar(
            select(db.func.count()).where(
                tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None),
                or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > now),
            )
        )
        if live >= MAX_TOKENS_PER_USER:
            check.fail("name", f"Revoke a token first: at most {MAX_TOKENS_PER_USER} are active.")
            check.done()
        token = ApiToken(
            user_id=user_id, name=name.strip(), token_hash=hash_token(plaintext),
            prefix=plaintext[:12], created_at=now, expires_at=expiry,
            store_ids=stores, permissions=granted,
            platform_admin=None if platform_admin else False,
        )
        session.add(token)
        session.flush()
        # What the token may do, never its secret, hash or prefix.
        audit.record(session, _owner(user), "token.created", "token", token.id, token.name,
                     changes=audit.diff({}, {
                         "name": token.name, "expires_at": expiry, "store_ids": stores,
                         "permissions": granted, "platform_admin": platform_admin,
                     }))
        view = _views([token])[0]
    return view, plaintext


def _owner(user: User) -> Actor:
    """A token's user as the actor of its audit rows: only they create or revoke it."""
    return Actor(name=user.email, user_id=user.id)


def store_choices(user_id: int, *, platform_admin: bool) -> list[StoreChoice]:
    """The stores a token of this user may be limited to: the live stores they are a member
    of, or, for a token acting as platform admin, every live store."""
    statement = select(Store.id, Store.name).where(Store.archived_at.is_(None))
    if not platform_admin:
        statement = statement.join(Membership, and_(
            Membership.store_id == Store.id, Membership.user_id == user_id))
    rows = db.session.execute(statement.order_by(Store.name, Store.id))
    return [StoreChoice(r.id, r.name) for r in rows]


def _check_expiry(check: Checker, value: Any, now: datetime) -> datetime | None:
    if value is Expiry.DEFAULT:
        return now + DEFAULT_LIFETIME
    if value is Expiry.NEVER:
        return None
    if not isinstance(value, datetime):
        check.fail("expires_at", "Choose when the token expires, or choose never.")
        return None
    check.moment("expires_at", value, after=now)
    return value


def _check_store_ids(check: Checker, value: Any) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Collection):
        check.fail("store_ids", "Choose stores by their ids.")
        return None
    if not all(is_id(s) for s in value):
        check.fail("store_ids", "Choose stores by their ids.")
        return None
    if not value:
        check.fail("store_ids", "Choose at least one store, or leave the token for all of them.")
        return None
    return sorted(set(value))


def _check_permissions(check: Checker, value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Collection):
        check.fail("permissions", "Choose permissions by their names.")
        return None
    unknown = [p for p in value if not isinstance(p, str) or p not in ALL_PERMISSIONS]
    if unknown:
        check.fail("permissions", f"Unknown permission {str(unknown[0])[:40]!r}; choose from "
                   + ", ".join(sorted(ALL_PERMISSIONS)) + ".")
        return None
    if not value:
        check.fail("permissions", "Choose at least one permission, or leave the token with all "
                   "of yours.")
        return None
    # Every membership can read its stores' stock, and so can every token: a token that
    # could change an entry but not read it would meet "not found" on its own entries.
    return sorted(set(value) | {READ})


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
            audit.record(session, _owner(session.get(User, user_id)), "token.revoked", "token",
                         token.id, token.name, changes={"revoked": (False, True)})
        session.flush()
        return _views([token])[0]


def user_tokens(user_id: int) -> list[TokenView]:
    """The user's tokens, unrevoked first, newest first."""
    rows = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    )
    return _views(list(rows))


@functools.cache
def _token_statement() -> Any:
    """authenticate_token's one statement: the live token of an active user, with the
    user's memberships of live stores (one row each, or one row of NULLs). Built once."""
    users, memberships, stores = User.__table__.c, Membership.__table__.c, Store.__table__.c
    return (
        select(tokens.c.id, tokens.c.user_id, tokens.c.last_used_at, tokens.c.expires_at,
               tokens.c.store_ids, tokens.c.permissions, tokens.c.platform_admin,
               users.email, users.is_platform_admin, memberships.store_id, memberships.role,
               memberships.grants)
        .select_from(tokens)
        .join(User.__table__, users.id == tokens.c.user_id)
        .outerjoin(Membership.__table__, and_(
            memberships.user_id == users.id,
            memberships.store_id.in_(select(stores.id).where(stores.archived_at.is_(None))),
        ))
        .where(tokens.c.token_hash == bindparam("digest", type_=String()),
               tokens.c.revoked_at.is_(None), users.active)
    )


def authenticate_token(plaintext: str) -> TokenGrant | None:
    """What a live token of an active user grants, or None, read in one statement with the
    user's memberships: nothing is kept between requests, so a revoked token, a deactivated
    user or a role taken away holds from the very next request, whichever process changed
    it. Raises TokenExpired for a token past its expiry, so its user learns why it stopped
    working."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return None
    rows = db.session.execute(_token_statement(), {"digest": hash_token(plaintext)}).all()
    if not rows:
        return None
    row = rows[0]
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenExpired(row.expires_at)
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _touch(row.id, now)
    user_id = int(row.user_id)
    scope = scope_of(row.store_ids, row.permissions, row.platform_admin)
    return TokenGrant(user_id=user_id, expires_at=row.expires_at, scope=scope,
                      actor=actor_from_rows(user_id, rows, scope))


def scope_of(store_ids: Any, permissions: Any, platform_admin: bool | None) -> TokenScope:
    """A token's stored limits as the scope actor_for_user applies (NULL: not limited)."""
    if store_ids is None and permissions is None and platform_admin is not False:
        return UNLIMITED
    return TokenScope(
        store_ids=None if store_ids is None else frozenset(int(s) for s in store_ids),
        permissions=None if permissions is None else frozenset(map(str, permissions)),
        platform_admin=platform_admin is not False,
    )


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


def _views(rows: list[ApiToken]) -> list[TokenView]:
    """The tokens as the user sees them, their stores named (one query for all)."""
    wanted = {s for t in rows for s in t.store_ids or ()}
    names = dict(db.session.execute(
        select(Store.id, Store.name).where(Store.id.in_(sorted(wanted)),
                                           Store.archived_at.is_(None))
    ).all()) if wanted else {}
    return [
        TokenView(
            id=t.id, name=t.name, prefix=t.prefix, created_at=t.created_at,
            last_used_at=t.last_used_at, revoked_at=t.revoked_at, expires_at=t.expires_at,
            store_ids=None if t.store_ids is None else tuple(t.store_ids),
            store_names=None if t.store_ids is None else tuple(
                names[s] for s in t.store_ids if s in names),
            permissions=None if t.permissions is None else tuple(t.permissions),
            platform_admin=t.platform_admin is not False,
        )
        for t in rows
    ]
