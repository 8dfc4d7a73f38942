"""The one role → permission table, and the actor every service function checks against."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, and_, bindparam, select

from app.extensions import db

READ = "inventory:read"
ADJUST = "inventory:adjust"  # adjust, set, count, transfer, return
RESERVE = "inventory:reserve"  # reserve, release, fulfill
THRESHOLD = "inventory:threshold"
DELETE = "inventory:delete"
CATALOG = "catalog:manage"  # products, locations, creating entries
MEMBERS = "members:manage"
AUDIT = "audit:read"
RECEIVE = "inventory:receive"  # receive stock against purchase orders
PURCHASING = "purchasing:manage"  # suppliers, what they supply, purchase orders
WEBHOOKS = "webhooks:manage"  # the store's webhook endpoints and their deliveries

ALL_PERMISSIONS = frozenset({
    READ, ADJUST, RESERVE, THRESHOLD, DELETE, CATALOG, MEMBERS, AUDIT, RECEIVE, PURCHASING,
    WEBHOOKS,
})

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "owner": ALL_PERMISSIONS,
    # Store admins may manage members too; the member service keeps owners out of their reach.
    "admin": ALL_PERMISSIONS,
    "staff": frozenset({READ}),
}

# Groups an owner or admin may grant to a staff member. Managing members is never delegated,
# nor is buying (suppliers and purchase orders commit the store's money), nor are webhooks
# (they send the store's stock to another system).
GRANTABLE_TO_STAFF = frozenset({ADJUST, RESERVE, THRESHOLD, DELETE, CATALOG, AUDIT, RECEIVE})


def permissions_for(role: str, grants: Iterable[str] = ()) -> frozenset[str]:
    """What a membership allows: the role's permissions plus, for staff, the granted groups."""
    base = ROLE_PERMISSIONS.get(role, frozenset())
    if role == "staff":
        return base | (frozenset(grants) & GRANTABLE_TO_STAFF)
    return base


@dataclass(frozen=True)
class TokenScope:
    """What an API token is limited to; None means not limited on that axis. A token never
    grants more than its user holds at the time of the request: the scope only takes away.

    `platform_admin` False keeps a platform admin's token to their memberships.
    """

    store_ids: frozenset[int] | None = None
    permissions: frozenset[str] | None = None
    platform_admin: bool = True

    @property
    def limited(self) -> bool:
        return self.store_ids is not None or self.permissions is not None

    @property
    def fingerprint(self) -> str:
        """Tells scopes apart in idempotency records (16 hex characters)."""
        canonical = json.dumps([
            None if self.store_ids is None else sorted(self.store_ids),
            None if self.permissions is None else sorted(self.permissions),
            self.platform_admin,
        ])
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def describe_permissions(self) -> str:
        return ", ".join(sorted(self.permissions)) if self.permissions is not None else "all"


UNLIMITED = TokenScope()


@dataclass(frozen=True)
class Actor:
    """Who is acting, resolved once per request or command.

    `user_id` is None for named system actors (the expiry sweep, the demo seeder).
    `token_scope` is set when an API token with a scope acts: its limits are already folded
    into the permissions, and it is kept to explain a refusal.
    """

    name: str
    user_id: int | None = None
    is_platform_admin: bool = False
    store_permissions: Mapping[int, frozenset[str]] = field(default_factory=dict)
    token_scope: TokenScope | None = None

    @property
    def key(self) -> str:
        """Identifies the actor in idempotency records. A token with a scope has a key of
        its own, so it never replays what a token with other rights did: its repeat of
        another token's request is checked against its own scope."""
        if self.user_id is None:
            return self.name
        if self.token_scope is None:
            return f"user:{self.user_id}"
        return f"user:{self.user_id}:scope:{self.token_scope.fingerprint}"

    def can(self, permission: str, store_id: int) -> bool:
        if self.is_platform_admin:
            return True
        return permission in self.store_permissions.get(store_id, frozenset())

    def is_member(self, store_id: int) -> bool:
        return self.is_platform_admin or store_id in self.store_permissions

    def stores_with(self, permission: str) -> frozenset[int] | None:
        """Store ids where the actor holds `permission`; None means every store."""
        if self.is_platform_admin:
            return None
        return frozenset(s for s, perms in self.store_permissions.items() if permission in perms)


@functools.cache
def _actor_statement() -> Any:
    """The user's row with the memberships that give something (one row per membership, or
    one row with NULL membership columns): built once, in Core, since every signed-in
    request runs it and building it, or loading it through the ORM, costs more than
    running it."""
    from app.models import Membership, Store, User

    users, memberships, stores = User.__table__.c, Membership.__table__.c, Store.__table__.c
    return (
        select(users.email, users.name, users.is_platform_admin, users.active,
               users.session_token, users.scan_opens, memberships.store_id, memberships.role,
               memberships.grants)
        .select_from(User.__table__)
        # Memberships of archived stores give nothing: the store is gone for its members.
        .outerjoin(Membership.__table__, and_(
            memberships.user_id == users.id,
            memberships.store_id.in_(select(stores.id).where(stores.archived_at.is_(None))),
        ))
        .where(users.id == bindparam("user_id", type_=Integer()))
    )


@dataclass(frozen=True)
class SignedInUser:
    """The signed-in user as pages see it (current_user): read with their actor in one
    query on every request, never an ORM object, so nothing a view does can change it."""

    id: int
    email: str
    name: str
    is_platform_admin: bool
    session_token: str = field(repr=False)
    # What a scan naming exactly one entry opens: "entry" (its page) or "adjust".
    scan_opens: str = "entry"

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"


def system_actor(name: str) -> Actor:
    """A named actor for work no person started; it may act in every store."""
    return Actor(name=f"system:{name}", is_platform_admin=True)


def actor_for_user(user_id: int, scope: TokenScope = UNLIMITED) -> Actor:
    """Load a user's memberships into an Actor (one query), limited to a token's scope;
    an inactive or unknown user is the anonymous actor."""
    rows = db.session.execute(_actor_statement(), {"user_id": user_id}).all()
    if not rows or not rows[0].active:
        return Actor(name="anonymous")
    return actor_from_rows(user_id, rows, scope)


def signed_in(user_id: int, session_token: str) -> tuple[SignedInUser, Actor] | None:
    """The user a session names and their actor, in one query; None when the user is gone,
    inactive, or the session's token is not theirs any more (signed out everywhere, password
    changed). Nothing is kept between requests: a role taken away, a grant narrowed or a user
    deactivated by any process holds from the very next request."""
    rows = db.session.execute(_actor_statement(), {"user_id": user_id}).all()
    if not rows:
        return None
    first = rows[0]
    if not first.active or not hmac.compare_digest(
        first.session_token.encode(), session_token.encode()
    ):
        return None
    user = SignedInUser(id=user_id, email=first.email, name=first.name,
                        is_platform_admin=bool(first.is_platform_admin),
                        session_token=first.session_token, scan_opens=first.scan_opens)
    return user, actor_from_rows(user_id, rows)


def actor_from_rows(user_id: int, rows: Sequence[Any], scope: TokenScope = UNLIMITED) -> Actor:
    """An active user's Actor from their rows: `email`, `is_platform_admin` and, one row per
    membership of a live store (or a single row with NULLs), `store_id`, `role`, `grants`.

    The scope only takes away from what the user holds now. A platform admin's token acts
    as platform admin across the platform only while it is unlimited; limited to some
    stores or permissions, it holds those permissions in those stores (every live store
    when not limited to some) and nothing platform-wide. With `platform_admin` False it
    holds what the user's memberships give.
    """
    first = rows[0]
    platform = bool(first.is_platform_admin) and scope.platform_admin
    if scope == UNLIMITED:
        perms = {
            r.store_id: permissions_for(r.role, r.grants or ())
            for r in rows
            if r.store_id is not None
        }
        return Actor(
            name=first.email, user_id=user_id, is_platform_admin=platform,
            store_permissions=perms,
        )
    if platform:
        perms = {store_id: ALL_PERMISSIONS for store_id in _live_stores(scope.store_ids)}
    else:
        perms = {
            r.store_id: permissions_for(r.role, r.grants or ())
            for r in rows
            if r.store_id is not None
        }
    if scope.store_ids is not None:
        perms = {s: p for s, p in perms.items() if s in scope.store_ids}
    if scope.permissions is not None:
        # A store stays visible with fewer permissions, so a refusal there is a 403 naming
        # what the token lacks; a store outside the token's stores is not found.
        perms = {s: p & scope.permissions for s, p in perms.items()}
    return Actor(
        name=first.email, user_id=user_id, is_platform_admin=False,
        store_permissions=perms, token_scope=scope,
    )


def _live_stores(among: frozenset[int] | None) -> list[int]:
    from app.models import Store

    statement = select(Store.id).where(Store.archived_at.is_(None))
    if among is not None:
        statement = statement.where(Store.id.in_(sorted(among)))
    return list(db.session.scalars(statement))
