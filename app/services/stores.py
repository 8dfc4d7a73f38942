"""Stores, their locations and their members."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import ROLES, Location, Membership, Store, User
from app.models.stores import normalize_location_code
from app.permissions import CATALOG, GRANTABLE_TO_STAFF, MEMBERS, Actor
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.validation import Checker

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCATION_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")


def create_store(*, actor: Actor, name: str, slug: str) -> Store:
    """Open a new store (platform admins only). Raises ValidationError, Conflict,
    PermissionDenied."""
    check = Checker()
    check.text("name", name, required=True, max_length=120)
    check.text("slug", slug, required=True, max_length=60)
    if isinstance(slug, str) and slug.strip() and not SLUG.match(slug.strip()):
        check.fail("slug", "Use lowercase letters, digits and single hyphens.")
    check.done()
    if not actor.is_platform_admin:
        raise PermissionDenied("stores:manage")

    try:
        with write_transaction() as session:
            if session.scalar(select(func.count()).where(Store.slug == slug.strip())):
                raise Conflict(f"A store with the slug {slug.strip()} already exists.")
            store = Store(name=name.strip(), slug=slug.strip())
            session.add(store)
            session.flush()
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        if not is_unique_violation(exc, "slug"):
            raise
        raise Conflict(f"A store with the slug {slug.strip()} already exists.") from exc
    return store


def create_location(*, actor: Actor, store_id: int, code: str, name: str = "") -> Location:
    """Add a storage place to a store; the code is stored UPPERCASE.
    Raises ValidationError, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    check.text("code", code, required=True, max_length=64)
    check.text("name", name, required=False, max_length=120)
    if isinstance(code, str) and code.strip():
        if not LOCATION_CODE.match(normalize_location_code(code)):
            check.fail("code", "Use letters, digits, hyphens and underscores.")
    check.done()
    _require_store(actor, CATALOG, store_id)
    normalized = normalize_location_code(code)

    try:
        with write_transaction() as session:
            _store_exists(session, store_id)
            taken = session.scalar(
                select(func.count()).where(Location.store_id == store_id,
                                           Location.code == normalized)
            )
            if taken:
                raise Conflict(f"This store already has a location {normalized}.")
            location = Location(store_id=store_id, code=normalized, name=(name or "").strip())
            session.add(location)
            session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc, "code"):
            raise
        raise Conflict(f"This store already has a location {normalized}.") from exc
    return location


def add_member(
    *,
    actor: Actor,
    store_id: int,
    user_id: int,
    role: str,
    grants: tuple[str, ...] = (),
) -> Membership:
    """Give a user a role in a store. Only owners and platform admins make owners.
    Raises ValidationError, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    if role not in ROLES:
        check.fail("role", f"Choose one of: {', '.join(ROLES)}.")
    bad = sorted(set(grants) - GRANTABLE_TO_STAFF)
    if bad:
        check.fail("grants", f"Unknown permission group: {bad[0]}.")
    if grants and role != "staff":
        check.fail("grants", "Permission groups are granted to staff only.")
    check.done()
    _require_store(actor, MEMBERS, store_id)
    if role == "owner" and not _is_owner(actor, store_id):
        raise PermissionDenied(MEMBERS)

    try:
        with write_transaction() as session:
            _store_exists(session, store_id)
            if session.get(User, user_id) is None:
                raise NotFound("User not found.")
            existing = session.scalar(
                select(func.count()).where(Membership.user_id == user_id,
                                           Membership.store_id == store_id)
            )
            if existing:
                raise Conflict("This user is already a member of the store.")
            membership = Membership(
                user_id=user_id, store_id=store_id, role=role, grants=sorted(grants)
            )
            session.add(membership)
            session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc, "user_id", "store_id"):
            raise
        raise Conflict("This user is already a member of the store.") from exc
    return membership


def _require_store(actor: Actor, permission: str, store_id: int) -> None:
    if type(store_id) is not int or not actor.is_member(store_id):
        raise NotFound("Store not found.")
    if not actor.can(permission, store_id):
        raise PermissionDenied(permission)


def _store_exists(session: Session, store_id: int) -> None:
    # Platform admins pass the membership check even for ids that do not exist.
    if session.get(Store, store_id) is None:
        raise NotFound("Store not found.")


def _is_owner(actor: Actor, store_id: int) -> bool:
    if actor.is_platform_admin:
        return True
    if actor.user_id is None:
        return False
    role = db.session.scalar(
        select(Membership.role).where(Membership.user_id == actor.user_id,
                                      Membership.store_id == store_id)
    )
    return role == "owner"
