"""Stores and their locations (members: app.services.people.members).

Stores are opened, renamed, archived and unarchived by platform admins only. A store's
slug is permanent: the CLI and integrations name stores by it, so a rename changes the
display name alone.

Archiving a store hides it and deletes nothing. It leaves the store's entries, ledger,
reservations, products, locations and memberships as they are, so unarchiving brings the
store back exactly as it was; that is also why archiving refuses nothing (a store with
stock or open holds can be archived). An archived store is left out of the store switcher
and every store filter (`app.web.readable_stores`), the movements filter and the public
availability read; platform admins still see it, marked archived, in the admin views.
Its members' permissions are unchanged: stock changes in an archived store are not refused
here, because those checks belong to the inventory service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.models import Location, Store
from app.models.stores import normalize_location_code
from app.permissions import CATALOG, Actor
from app.services import audit
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.validation import Checker, is_id

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCATION_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
# Opening, renaming and archiving stores: held by platform admins alone, never by a role.
MANAGE_STORES = "stores:manage"

stores_table = Store.__table__


@dataclass(frozen=True)
class StoreState:
    """A store as a change left it; `previous_name` is set by a rename."""

    id: int
    name: str
    slug: str
    archived_at: datetime | None
    previous_name: str | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


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
        raise PermissionDenied(MANAGE_STORES)

    try:
        with write_transaction() as session:
            if session.scalar(select(func.count()).where(Store.slug == slug.strip())):
                raise Conflict(f"A store with the slug {slug.strip()} already exists.")
            store = Store(name=name.strip(), slug=slug.strip())
            session.add(store)
            session.flush()
            audit.record(session, actor, "store.created", "store", store.id, store.name,
                         store_id=store.id,
                         changes=audit.diff({}, {"name": store.name, "slug": store.slug}))
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        if not is_unique_violation(exc, "slug"):
            raise
        raise Conflict(f"A store with the slug {slug.strip()} already exists.") from exc
    return store


def rename_store(*, actor: Actor, store_id: int, name: str) -> StoreState:
    """Give a store a new display name; its slug stays (platform admins only). Archived
    stores may be renamed too. Raises ValidationError, NotFound, PermissionDenied."""
    check = Checker()
    check.text("name", name, required=True, max_length=120)
    check.done()
    _require_platform_admin(actor, store_id)
    new_name = name.strip()

    with write_transaction() as session:
        current = _locked_store(session, store_id)
        if current.name != new_name:
            session.execute(
                stores_table.update().where(stores_table.c.id == store_id).values(name=new_name)
            )
            audit.record(session, actor, "store.renamed", "store", store_id, new_name,
                         store_id=store_id, changes={"name": (current.name, new_name)})
    return StoreState(current.id, new_name, current.slug, current.archived_at,
                      previous_name=current.name)


def archive_store(*, actor: Actor, store_id: int) -> StoreState:
    """Archive a store: hidden from every member's store lists, nothing deleted, undone by
    unarchive_store (platform admins only). Raises Conflict when it is already archived,
    NotFound, PermissionDenied."""
    _require_platform_admin(actor, store_id)
    with write_transaction() as session:
        current = _locked_store(session, store_id)
        if current.archived_at is not None:
            raise Conflict(f"Store {current.name} is already archived.")
        now = utcnow()
        session.execute(
            stores_table.update().where(stores_table.c.id == store_id).values(archived_at=now)
        )
        audit.record(session, actor, "store.archived", "store", store_id, current.name,
                     store_id=store_id, changes={"archived": (False, True)})
    return StoreState(current.id, current.name, current.slug, now)


def unarchive_store(*, actor: Actor, store_id: int) -> StoreState:
    """Bring an archived store back into its members' store lists (platform admins only).
    Raises Conflict when it is not archived, NotFound, PermissionDenied."""
    _require_platform_admin(actor, store_id)
    with write_transaction() as session:
        current = _locked_store(session, store_id)
        if current.archived_at is None:
            raise Conflict(f"Store {current.name} is not archived.")
        session.execute(
            stores_table.update().where(stores_table.c.id == store_id).values(archived_at=None)
        )
        audit.record(session, actor, "store.unarchived", "store", store_id, current.name,
                     store_id=store_id, changes={"archived": (True, False)})
    return StoreState(current.id, current.name, current.slug, None)


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
    require_store(actor, CATALOG, store_id)
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
            audit.record(session, actor, "location.created", "location", location.id,
                         normalized, store_id=store_id,
                         changes=audit.diff({}, {"code": normalized, "name": location.name}))
    except IntegrityError as exc:
        if not is_unique_violation(exc, "code"):
            raise
        raise Conflict(f"This store already has a location {normalized}.") from exc
    return location


def require_store(actor: Actor, permission: str, store_id: object) -> None:
    """The actor may use `permission` in this store. A store they are not a member of (or
    a malformed id) is NotFound, never a hint that it exists; a member without the
    permission gets PermissionDenied."""
    if not is_id(store_id) or not actor.is_member(store_id):  # type: ignore[arg-type]
        raise NotFound("Store not found.")
    if not actor.can(permission, store_id):  # type: ignore[arg-type]
        raise PermissionDenied(permission)


def _require_platform_admin(actor: Actor, store_id: int) -> None:
    # Members who are not platform admins learn the store exists; strangers do not.
    if not is_id(store_id) or not actor.is_member(store_id):
        raise NotFound("Store not found.")
    if not actor.is_platform_admin:
        raise PermissionDenied(MANAGE_STORES)


def _locked_store(session: Session, store_id: int) -> StoreState:
    """The store's row, locked until the transaction ends (SQLite: the IMMEDIATE write
    transaction already holds the database), so two admins' changes apply one after the
    other and each sees what the other left."""
    row = session.execute(
        select(stores_table.c.id, stores_table.c.name, stores_table.c.slug,
               stores_table.c.archived_at)
        .where(stores_table.c.id == store_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("Store not found.")
    return StoreState(row.id, row.name, row.slug, row.archived_at)


def _store_exists(session: Session, store_id: int) -> None:
    # Platform admins pass the membership check even for ids that do not exist.
    if session.get(Store, store_id) is None:
        raise NotFound("Store not found.")
