"""Who may use the administration screens — stores, people, catalog, imports, bulk changes
and the CSV export — route by route and actor by actor, with CSRF on as in production.

Every (route, method) of those screens must have an entry here: a new route without one
fails `test_every_administration_route_has_a_matrix_entry`. Each entry names what it needs
(platform admin, a permission in store A, or just a sign-in) and the status a permitted
request gets; the expected status of everyone else follows from the permission table.
A refused request changes nothing in any table; a permitted write changes something; and a
member of another store never reads store A's data, nor a member of A store B's.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app import create_app
from app.clock import utcnow
from app.extensions import db
from app.models import Location, Membership, Product, Store, User
from app.permissions import (
    ADJUST,
    ALL_PERMISSIONS,
    CATALOG,
    GRANTABLE_TO_STAFF,
    MEMBERS,
    READ,
    ROLE_PERMISSIONS,
    THRESHOLD,
    system_actor,
)
from app.services import channels, items, stock

from .conftest import FreshContextClient
from .helpers import HX, PASSWORD, csrf_from_hx_headers, csrf_from_page
from .test_permissions import expected_permissions

# The screens this matrix covers: whole blueprints, and single endpoints of the overview.
BLUEPRINTS = ("admin", "people", "catalog", "imports")
ENDPOINTS = ("inventory.bulk_action", "inventory.export_csv")

# What a route needs, besides a permission string checked in store A.
PLATFORM = "platform admin (others: 404)"
USERS = "platform admin (others: 404, as for /admin)"
SIGNED_IN = "any signed-in user"
READER = "any reader of store A (others: 404, as for a store that does not exist)"
IMPORT_PREVIEW = "import preview (a refused row is an error on the page)"
IMPORT_APPLY = "import apply (inventory:adjust on every row, else 409)"
OWNERS = "members:manage with owner powers (store admins: 403)"

# Text of store A and store B that must never cross over.
ALPHA = ("ALPHA-SKU-1", "Alpha Secret Kettle", "ALPHA_BAY", "Alpha Store",
         "alpha-member@example.test")
BETA = ("BETA-SKU-77", "Beta Secret Teapot", "BETA_BAY", "Beta Store",
        "beta-member@example.test", "BETA-ORDER-9")

NEW_PASSWORD = "a-brand-new-password-42"


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """Ids of everything the cases point at, built once per module."""

    ids: dict[str, int] = field(default_factory=dict)
    slugs: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # actor id → email

    def __getattr__(self, name: str) -> int:
        try:
            return self.ids[name]
        except KeyError:
            raise AttributeError(name) from None


# Actors: (id, kind, grants). Store roles are in store A, except owner_b (store B only).
ACTORS: list[tuple[str, str, tuple[str, ...]]] = [
    ("anonymous", "anonymous", ()),
    ("deactivated", "deactivated", ()),
    ("platform_admin", "platform_admin", ()),
    ("owner_a", "owner", ()),
    ("admin_a", "admin", ()),
    ("staff_a", "staff", ()),
    # Each group some route here needs, alone (a test checks none is missing).
    *((f"staff_a+{g.split(':')[1]}", "staff", (g,)) for g in (ADJUST, THRESHOLD, CATALOG)),
    ("staff_a+all", "staff", tuple(sorted(GRANTABLE_TO_STAFF))),
    ("staff_a+members", "staff", (MEMBERS,)),  # never delegated: grants nothing
    ("owner_b", "owner_b", ()),
]


def _build_world(session: Session) -> World:
    world = World()
    hashed = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    admin = system_actor("matrix")

    def store(key: str, name: str, *, archived: bool = False) -> Store:
        slug = f"{key}-{uuid.uuid4().hex[:6]}"
        s = Store(name=name, slug=slug)
        session.add(s)
        session.flush()
        if archived:
            s.archived_at = utcnow()
        world.ids[key], world.slugs[key] = s.id, slug
        return s

    def user(key: str, email: str | None = None, *, platform_admin: bool = False,
             active: bool = True) -> User:
        u = User(email=email or f"{key.replace('+', '-')}-{uuid.uuid4().hex[:6]}@example.test",
                 name=f"User {key}", password_hash=hashed, is_platform_admin=platform_admin,
                 active=active)
        session.add(u)
        session.flush()
        world.ids[f"user_{key}"] = u.id
        world.users[key] = u.email
        return u

    def member(key: str, u: User, s: Store, role: str, grants: tuple[str, ...] = ()) -> None:
        m = Membership(user_id=u.id, store_id=s.id, role=role, grants=list(grants))
        session.add(m)
        session.flush()
        world.ids[key] = m.id

    def location(key: str, s: Store, code: str, *, archived: bool = False) -> Location:
        loc = Location(store_id=s.id, code=code)
        session.add(loc)
        session.flush()
        if archived:
            loc.archived_at = utcnow()
        world.ids[key] = loc.id
        return loc

    def product(key: str, s: Store, sku: str, title: str, *, archived: bool = False) -> Product:
        p = Product(store_id=s.id, sku=sku, title=title)
        session.add(p)
        session.flush()
        if archived:
            p.archived_at = utcnow()
        world.ids[key] = p.id
        return p

    a = store("store_a", "Alpha Store")
    b = store("store_b", "Beta Store")
    store("store_c", "Gamma Store")
    store("store_c2", "Delta Store")
    store("store_d", "Epsilon Store", archived=True)

    bay = location("loc_main", a, "ALPHA_BAY")
    location("loc_rename", a, "RENAME_ME")
    location("loc_empty", a, "EMPTY_BAY")
    location("loc_archived", a, "OLD_BAY", archived=True)
    kettle = product("product_main", a, "ALPHA-SKU-1", "Alpha Secret Kettle")
    product("product_edit", a, "EDIT-ME-1", "Edit me")
    product("product_live", a, "LIVE-1", "Archive me")
    product("product_archived", a, "GONE-1", "Restore me", archived=True)
    product("product_unstocked", a, "UNSTOCKED-1", "Stock me")
    product("product_bundle", a, "BUNDLE-1", "Make me a bundle")

    b_bay = location("loc_b", b, "BETA_BAY")
    teapot = product("product_b", b, "BETA-SKU-77", "Beta Secret Teapot")

    # Actors.
    for actor_id, kind, grants in ACTORS:
        if kind == "anonymous":
            continue
        if kind == "platform_admin":
            user(actor_id, platform_admin=True)
        elif kind == "owner_b":
            member("membership_owner_b", user(actor_id, BETA[4]), b, "owner")
        elif kind == "deactivated":
            member(f"membership_{actor_id}", user(actor_id), a, "owner")
        else:
            member(f"membership_{actor_id}", user(actor_id), a, kind, grants)
    # Targets of the people screens.
    member("target_role", user("role_target", ALPHA[4]), a, "staff")
    member("target_grants", user("grants_target"), a, "staff")
    member("target_remove", user("remove_target"), a, "staff")
    member("target_owner", user("second_owner"), a, "owner")
    member("membership_b_staff", user("b_staff"), b, "staff")
    user("newcomer")
    user("to_deactivate")
    user("to_promote")
    user("to_demote", platform_admin=True)
    user("to_reset")
    user("inactive", active=False)
    session.commit()

    def entry(key: str, product_id: int, location_id: int) -> None:
        change = stock.create_entry(actor=admin, product_id=product_id,
                                        location_id=location_id, quantity=10)
        world.ids[key] = change.entry.id

    entry("entry_main", kettle.id, bay.id)
    entry("entry_b", teapot.id, b_bay.id)
    stock.reserve_stock(actor=admin, entry_id=world.ids["entry_b"], quantity=2,
                            order_ref="BETA-ORDER-9")
    # An item with an option in each store, for the item page and adding a value.
    for key, s_, title, prefix in (("item_a", a, "Alpha Secret Parka", "ALPHA-PRK"),
                                   ("item_b", b, "Beta Secret Parka", "BETA-PRK")):
        size = [items.Option("Size", ("S",))]
        world.ids[key] = items.create_item(actor=admin, store_id=s_.id, title=title,
                                           options=size,
                                           variants_to_make=items.generate(size, prefix)).id
    # An archived item in store A, to restore.
    shelved = [items.Option("Size", ("S", "M"))]
    world.ids["item_archived"] = items.create_item(
        actor=admin, store_id=a.id, title="Alpha Shelved Parka", options=shelved,
        variants_to_make=items.generate(shelved, "ALPHA-OLD")).id
    items.archive_item(actor=admin, item_id=world.ids["item_archived"])
    # A sales channel in each store, for the channels panel and its Edit dialog.
    for key, s_, code, place in (("channel_a", a, "ALPHA_WEB", bay), ("channel_b", b, "BETA_WEB",
                                                                       b_bay)):
        world.ids[key] = channels.create_channel(actor=admin, store_id=s_.id, code=code,
                                                 location_ids=[place.id]).id
    # An import already applied in store A: its batch page counts only readable movements.
    world.slugs["batch_a"] = stock.new_batch_ref()
    stock.apply_import(
        f"store,location,sku,quantity\n{a.slug},ALPHA_BAY,ALPHA-SKU-1,12\n".encode(),
        actor=admin, batch_ref=world.slugs["batch_a"],
    )
    return world


def _config(path: Path, **changes: Any) -> dict[str, Any]:
    return {
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "WTF_CSRF_ENABLED": False, "SESSION_COOKIE_SECURE": False, "DB_POOL_SIZE": 5,
        "DB_MAX_OVERFLOW": 5, "SQLITE_BUSY_TIMEOUT_MS": 30000, "RATELIMIT_ENABLED": False,
        **changes,
    }


@pytest.fixture(scope="module")
def built_world(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, World]:
    """The world in a database file of its own; each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("matrix") / "world.sqlite"
    shutil.copyfile(sqlite_template, path)
    builder = create_app(_config(path))
    with builder.app_context():
        world = _build_world(db.session)
        db.session.remove()
        db.engine.dispose()  # the last connection checkpoints the WAL into the file
    return path, world


@pytest.fixture(scope="module")
def csrf_app(sqlite_workfile: Path) -> Iterator[Flask]:
    """The application with CSRF protection on, over the per-test database file."""
    application = create_app(_config(sqlite_workfile, WTF_CSRF_ENABLED=True))
    application.test_client_class = FreshContextClient
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def world(app: Flask, csrf_app: Flask, sqlite_workfile: Path,
          built_world: tuple[Path, World]) -> World:
    """A fresh copy of the built world in the database both applications use."""
    path, built = built_world
    db.session.remove()
    db.engine.dispose()
    with csrf_app.app_context():
        db.engine.dispose()
    for leftover in (sqlite_workfile.with_name(sqlite_workfile.name + "-wal"),
                     sqlite_workfile.with_name(sqlite_workfile.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(path, sqlite_workfile)
    return built


@pytest.fixture
def snapshot(world: World) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """Every row of every table, as committed now."""

    queries = [
        (table.name, "SELECT * FROM {} ORDER BY {}".format(
            table.name, ", ".join(c.name for c in table.primary_key.columns) or "rowid"))
        for table in db.metadata.sorted_tables
    ]

    def take() -> dict[str, list[tuple[Any, ...]]]:
        db.session.rollback()  # read what is committed now, not an older snapshot
        try:
            connection = db.session.connection()
            return {name: [tuple(r) for r in connection.exec_driver_sql(sql)]
                    for name, sql in queries}
        finally:
            db.session.rollback()

    return take


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One request: `build(world, actor_user_id)` gives its URL and form (None for GET)."""

    id: str
    endpoint: str
    method: str
    need: str
    ok: int  # the status a permitted, non-htmx request gets
    build: Callable[[World, int | None], tuple[str, dict[str, Any] | None]]
    writes: bool = False  # a permitted request changes the database
    shows: str | None = None  # text of store A a permitted reader of A sees in the response
    foreign_shows: str | None = None  # what the owner of store B sees there instead


def _get(url: Callable[[World], str]) -> Callable[[World, int | None], tuple[str, None]]:
    return lambda w, _uid: (url(w), None)


def _post(url: Callable[[World], str], form: Callable[[World], dict[str, Any]] | None = None
          ) -> Callable[[World, int | None], tuple[str, dict[str, Any]]]:
    return lambda w, _uid: (url(w), form(w) if form else {})


def _product_form(sku: str, title: str) -> dict[str, str]:
    return {"sku": sku, "title": title, "gtin": "", "product_type": "physical",
            "reorder_point": "2", "reorder_quantity": "5", "reorder_up_to": "9"}


def _item_form(prefix: str, title: str = "A new parka") -> dict[str, str]:
    return {"title": title, "options": "Color: Black\nSize: S, M", "sku_prefix": prefix,
            "product_type": "physical", "reorder_point": "2", "reorder_quantity": "5",
            "reorder_up_to": "9"}


def _bulk_form(w: World, name: str, step: str) -> dict[str, str]:
    values = {"adjust": {"delta": "3", "reason": "Matrix check"},
              "threshold": {"low_stock_threshold": "4"}}[name]
    return {"entry": str(w.entry_main), "step": step, "idempotency_key": uuid.uuid4().hex,
            "next": "/inventory", **values}


def _import_csv(w: World) -> bytes:
    return (f"store,location,sku,quantity\n{w.slugs['store_a']},ALPHA_BAY,ALPHA-SKU-1,15\n"
            .encode())


def _import_preview(w: World, _uid: int | None) -> tuple[str, dict[str, Any]]:
    return "/import/preview", {"file": (io.BytesIO(_import_csv(w)), "stock.csv")}


def _import_apply(w: World, uid: int | None) -> tuple[str, dict[str, Any]]:
    """The form a preview page would carry: a token signed for this user."""
    data = _import_csv(w)
    plan = stock.plan_import(data, actor=system_actor("matrix"))
    token = URLSafeTimedSerializer("test-secret", salt="stockroom.import").dumps({
        "user": uid, "name": "stock.csv", "batch": stock.new_batch_ref(),
        "data": data.decode(), "seen": sorted(plan.seen().items()), "warnings": False,
    })
    return "/import/apply", {"token": token}


CASES: list[Case] = [
    # Stores administration: platform admins only; anyone else is not told it exists.
    Case("admin-home", "admin.home", "GET", PLATFORM, 302, _get(lambda w: "/admin/")),
    Case("admin-stores", "admin.stores", "GET", PLATFORM, 200, _get(lambda w: "/admin/stores"),
         shows="Alpha Store"),
    Case("admin-store", "admin.store", "GET", PLATFORM, 200,
         _get(lambda w: f"/admin/stores/{w.store_a}"), shows="Alpha Store"),
    Case("admin-new-form", "admin.create_store", "GET", PLATFORM, 200,
         _get(lambda w: "/admin/stores/new")),
    Case("admin-new", "admin.create_store", "POST", PLATFORM, 303,
         _post(lambda w: "/admin/stores/new", lambda w: {"name": "Zeta Store",
                                                         "slug": "zeta-store"}), writes=True),
    Case("admin-rename-form", "admin.store_action", "GET", PLATFORM, 200,
         _get(lambda w: f"/admin/stores/{w.store_a}/rename")),
    Case("admin-rename", "admin.store_action", "POST", PLATFORM, 303,
         _post(lambda w: f"/admin/stores/{w.store_c}/rename",
               lambda w: {"name": "Gamma Renamed"}), writes=True),
    Case("admin-archive", "admin.store_action", "POST", PLATFORM, 303,
         _post(lambda w: f"/admin/stores/{w.store_c2}/archive"), writes=True),
    Case("admin-unarchive", "admin.store_action", "POST", PLATFORM, 303,
         _post(lambda w: f"/admin/stores/{w.store_d}/unarchive"), writes=True),
    # User accounts: platform admins.
    Case("people", "people.users", "GET", SIGNED_IN, 200, _get(lambda w: "/people")),
    Case("people-create-user", "people.create_user", "POST", USERS, 303,
         _post(lambda w: "/people/users", lambda w: {
             "email": "fresh-person@example.test", "name": "Fresh Person",
             "password": NEW_PASSWORD}), writes=True),
    Case("people-deactivate-form", "people.deactivate_user", "GET", USERS, 200,
         _get(lambda w: f"/people/users/{w.user_to_deactivate}/deactivate")),
    Case("people-deactivate", "people.deactivate_user", "POST", USERS, 303,
         _post(lambda w: f"/people/users/{w.user_to_deactivate}/deactivate"), writes=True),
    Case("people-reactivate", "people.reactivate_user", "POST", USERS, 303,
         _post(lambda w: f"/people/users/{w.user_inactive}/reactivate"), writes=True),
    Case("people-grant-admin-form", "people.grant_platform_admin", "GET", USERS, 200,
         _get(lambda w: f"/people/users/{w.user_to_promote}/platform-admin/grant")),
    Case("people-grant-admin", "people.grant_platform_admin", "POST", USERS, 303,
         _post(lambda w: f"/people/users/{w.user_to_promote}/platform-admin/grant"),
         writes=True),
    Case("people-revoke-admin-form", "people.revoke_platform_admin", "GET", USERS, 200,
         _get(lambda w: f"/people/users/{w.user_to_demote}/platform-admin/revoke")),
    Case("people-revoke-admin", "people.revoke_platform_admin", "POST", USERS, 303,
         _post(lambda w: f"/people/users/{w.user_to_demote}/platform-admin/revoke"),
         writes=True),
    Case("people-password-form", "people.reset_password", "GET", USERS, 200,
         _get(lambda w: f"/people/users/{w.user_to_reset}/password")),
    Case("people-password", "people.reset_password", "POST", USERS, 303,
         _post(lambda w: f"/people/users/{w.user_to_reset}/password",
               lambda w: {"password": NEW_PASSWORD}), writes=True),
    # Store members: members:manage in store A.
    Case("members", "people.store_members", "GET", MEMBERS, 200,
         _get(lambda w: f"/people/stores/{w.store_a}"), shows=ALPHA[4]),
    Case("members-add", "people.add_member", "POST", MEMBERS, 303,
         _post(lambda w: f"/people/stores/{w.store_a}/members",
               lambda w: {"email": w.users["newcomer"], "role": "staff",
                          "grants": [ADJUST]}), writes=True),
    Case("members-role", "people.change_role", "POST", MEMBERS, 303,
         _post(lambda w: f"/people/stores/{w.store_a}/members/{w.target_role}/role",
               lambda w: {"role": "admin"}), writes=True),
    Case("members-grants", "people.set_grants", "POST", MEMBERS, 303,
         _post(lambda w: f"/people/stores/{w.store_a}/members/{w.target_grants}/grants",
               lambda w: {"grants": [ADJUST, THRESHOLD]}), writes=True),
    # Owners are out of a store admin's reach.
    Case("members-role-owner", "people.change_role", "POST", OWNERS, 303,
         _post(lambda w: f"/people/stores/{w.store_a}/members/{w.target_owner}/role",
               lambda w: {"role": "staff"}), writes=True),
    Case("members-remove-owner-form", "people.remove_member", "GET", OWNERS, 200,
         _get(lambda w: f"/people/stores/{w.store_a}/members/{w.target_owner}/remove")),
    Case("members-remove-form", "people.remove_member", "GET", MEMBERS, 200,
         _get(lambda w: f"/people/stores/{w.store_a}/members/{w.target_remove}/remove")),
    Case("members-remove", "people.remove_member", "POST", MEMBERS, 303,
         _post(lambda w: f"/people/stores/{w.store_a}/members/{w.target_remove}/remove"),
         writes=True),
    # The overview's bulk changes and its export.
    *(c for name, permission in (("adjust", ADJUST), ("threshold", THRESHOLD)) for c in (
        Case(f"bulk-{name}-form", "inventory.bulk_action", "GET", permission, 200,
             _get(lambda w, n=name: f"/inventory/bulk/{n}?entry={w.entry_main}")),
        Case(f"bulk-{name}-preview", "inventory.bulk_action", "POST", permission, 200,
             _post(lambda w, n=name: f"/inventory/bulk/{n}",
                   lambda w, n=name: _bulk_form(w, n, "preview"))),
        Case(f"bulk-{name}-apply", "inventory.bulk_action", "POST", permission, 303,
             _post(lambda w, n=name: f"/inventory/bulk/{n}",
                   lambda w, n=name: _bulk_form(w, n, "apply")), writes=True),
    )),
    Case("export", "inventory.export_csv", "GET", SIGNED_IN, 200,
         _get(lambda w: "/inventory.csv")),
    # A store filter narrows the export as it narrows the overview: another store's id
    # filters down to nothing (200, no rows), as /inventory?store=<foreign> does.
    Case("export-store-a", "inventory.export_csv", "GET", READER, 200,
         _get(lambda w: f"/inventory.csv?store={w.store_a}"), shows=ALPHA[0]),
    # Catalog: reading needs inventory:read in the store, changing it catalog:manage.
    Case("locations", "catalog.locations", "GET", SIGNED_IN, 200,
         _get(lambda w: "/catalog/locations")),
    Case("locations-store-a", "catalog.locations", "GET", READ, 200,
         _get(lambda w: f"/catalog/locations?store={w.store_a}"), shows=ALPHA[2]),
    Case("location-create", "catalog.location_create", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/locations?store={w.store_a}",
               lambda w: {"code": "new_bay", "name": "New bay"}), writes=True),
    Case("location-rename-form", "catalog.location_action", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/locations/{w.loc_rename}/rename")),
    Case("location-rename", "catalog.location_action", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/locations/{w.loc_rename}/rename",
               lambda w: {"name": "Renamed bay"}), writes=True),
    Case("location-archive", "catalog.location_action", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/locations/{w.loc_empty}/archive"), writes=True),
    Case("location-unarchive", "catalog.location_action", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/locations/{w.loc_archived}/unarchive"), writes=True),
    Case("channel-create", "catalog.channel_create", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/channels?store={w.store_a}",
               lambda w: {"code": "new_web", "locations": [str(w.loc_main)]}), writes=True),
    Case("channel-edit-form", "catalog.channel_edit", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/channels/{w.channel_a}/edit"), shows="ALPHA_WEB"),
    Case("channel-edit", "catalog.channel_edit", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/channels/{w.channel_a}/edit",
               lambda w: {"name": "Edited", "allow_split": "y",
                          "locations": [str(w.loc_empty), str(w.loc_main)]}), writes=True),
    Case("products", "catalog.products", "GET", SIGNED_IN, 200,
         _get(lambda w: "/catalog/products")),
    Case("products-store-a", "catalog.products", "GET", READ, 200,
         _get(lambda w: f"/catalog/products?store={w.store_a}"), shows=ALPHA[0]),
    Case("product-new-form", "catalog.product_new", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/products/new?store={w.store_a}")),
    Case("product-new", "catalog.product_new", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/new?store={w.store_a}",
               lambda w: _product_form("NEW-SKU-9", "A new thing")), writes=True),
    Case("product-edit-form", "catalog.product_edit", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/products/{w.product_edit}/edit")),
    Case("product-edit", "catalog.product_edit", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/{w.product_edit}/edit",
               lambda w: _product_form("EDIT-ME-1", "Edited title")), writes=True),
    Case("product-archive", "catalog.product_archive", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/{w.product_live}/archive"), writes=True),
    Case("product-unarchive", "catalog.product_archive", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/{w.product_archived}/unarchive"), writes=True),
    Case("product-stock-form", "catalog.product_stock", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/products/{w.product_unstocked}/stock")),
    Case("product-stock", "catalog.product_stock", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/{w.product_unstocked}/stock", lambda w: {
             "idempotency_key": uuid.uuid4().hex, "location_id": str(w.loc_main),
             "quantity": "5", "low_stock_threshold": "1", "reason": "Opening stock"}),
         writes=True),
    Case("product-components", "catalog.product_components", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/products/{w.product_bundle}/components",
               lambda w: {"components": "EDIT-ME-1 × 2"}), writes=True),
    Case("item-rename", "catalog.item_rename", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/items/{w.item_a}/rename",
               lambda w: {"title": "Alpha Secret Parka II"}), writes=True),
    Case("item", "catalog.item", "GET", READ, 200,
         _get(lambda w: f"/catalog/items/{w.item_a}"), shows="Alpha Secret Parka"),
    Case("item-new-form", "catalog.item_new", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/items/new?store={w.store_a}")),
    Case("item-new", "catalog.item_new", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/items/new?store={w.store_a}",
               lambda w: _item_form("NEW-PRK")), writes=True),
    Case("item-add-value", "catalog.item_add_value", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/items/{w.item_a}/values",
               lambda w: {"option": "1", "value": "M", "sku_prefix": "ALPHA-PRK"}),
         writes=True),
    Case("item-archive-form", "catalog.item_archive", "GET", CATALOG, 200,
         _get(lambda w: f"/catalog/items/{w.item_a}/archive"), shows="Alpha Secret Parka"),
    Case("item-archive", "catalog.item_archive", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/items/{w.item_a}/archive"), writes=True),
    Case("item-unarchive", "catalog.item_archive", "POST", CATALOG, 303,
         _post(lambda w: f"/catalog/items/{w.item_archived}/unarchive"), writes=True),
    # CSV import: the file names the stores; each row needs the permission its change does.
    Case("import", "imports.start", "GET", SIGNED_IN, 200, _get(lambda w: "/import")),
    Case("import-preview", "imports.preview", "POST", IMPORT_PREVIEW, 200, _import_preview),
    Case("import-apply", "imports.apply", "POST", IMPORT_APPLY, 303, _import_apply,
         writes=True),
    Case("import-batch", "imports.done", "GET", READER, 200,
         _get(lambda w: f"/import/batches/{w.slugs['batch_a']}"),
         shows="1 movement in the ledger"),
]

# Cases where the application does not (yet) behave as the matrix expects:
# (case id, actor id) → why. Strict: once fixed, the xfail fails and must be removed.
KNOWN_WRONG: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expected:
    status: int
    allowed: bool


def _held_in_a(kind: str, grants: tuple[str, ...]) -> frozenset[str] | None:
    """The actor's permissions in store A; None for someone who is not a member of it."""
    if kind in ("anonymous", "deactivated", "owner_b"):
        return None
    if kind == "platform_admin":
        return ALL_PERMISSIONS
    return expected_permissions(kind, grants)


def expected(case: Case, kind: str, grants: tuple[str, ...]) -> Expected:
    if kind in ("anonymous", "deactivated"):
        return Expected(302, False)
    platform = kind == "platform_admin"
    held = _held_in_a(kind, grants)
    if case.need == SIGNED_IN:
        return Expected(case.ok, True)
    if case.need == READER:
        return Expected(case.ok, True) if held is not None else Expected(404, False)
    if case.need == PLATFORM:
        return Expected(case.ok, True) if platform else Expected(404, False)
    if case.need == USERS:
        return Expected(case.ok, True) if platform else Expected(404, False)
    if case.need == IMPORT_PREVIEW:
        return Expected(200, held is not None and ADJUST in held)
    if case.need == IMPORT_APPLY:
        allowed = held is not None and ADJUST in held
        return Expected(case.ok if allowed else 409, allowed)
    if held is None:
        return Expected(404, False)  # store A is foreign: it does not exist for them
    if case.need == OWNERS:
        allowed = MEMBERS in held and kind in ("owner", "platform_admin")
        return Expected(case.ok if allowed else 403, allowed)
    allowed = case.need in held
    return Expected(case.ok if allowed else 403, allowed)


# --------------------------------------------------------------------------- requests


@pytest.fixture(scope="module")
def sessions() -> dict[str, tuple[FlaskClient, str]]:
    """Signed-in clients, one per actor, kept for the module: a session names the user's
    session token, which every copy of the world holds unchanged."""
    return {}


def _client_of(csrf_app: Flask, world: World, sessions: dict[str, tuple[FlaskClient, str]],
               actor_id: str, kind: str) -> tuple[FlaskClient, str]:
    """A client for the actor and the CSRF token of its session."""
    if actor_id not in sessions:
        client = csrf_app.test_client()
        token = csrf_from_page(client.get("/sign-in").get_data(as_text=True))
        if kind != "anonymous":
            response = client.post("/sign-in", data={
                "email": world.users[actor_id], "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 303, response.get_data(as_text=True)[:300]
            token = csrf_from_hx_headers(client.get("/import").get_data(as_text=True))
        sessions[actor_id] = (client, token)
    if kind == "deactivated":
        user = db.session.get(User, world.ids[f"user_{actor_id}"])
        assert user is not None
        user.active = False
        db.session.commit()
    return sessions[actor_id]


def _send(client: FlaskClient, url: str, form: dict[str, Any] | None,
          token: str, *, htmx: bool = False) -> TestResponse:
    headers = HX if htmx else {}
    if form is None:
        return client.get(url, headers=headers)
    return client.post(url, data={**form, "csrf_token": token}, headers=headers)


def _leaks(body: str, markers: tuple[str, ...], sent: str) -> list[str]:
    """Markers in the response that the request itself did not carry."""
    return [m for m in markers if m.lower() in body.lower() and m.lower() not in sent.lower()]


def _params() -> list[Any]:
    out = []
    for case in CASES:
        for actor_id, kind, grants in ACTORS:
            reason = KNOWN_WRONG.get((case.id, actor_id))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(case, actor_id, kind, grants, marks=marks,
                                    id=f"{case.id}-{actor_id}"))
    return out


@pytest.mark.parametrize(("case", "actor_id", "kind", "grants"), _params())
def test_administration_matrix(
    case: Case,
    actor_id: str,
    kind: str,
    grants: tuple[str, ...],
    world: World,
    csrf_app: Flask,
    sessions: dict[str, tuple[FlaskClient, str]],
    snapshot: Callable[[], dict[str, list[tuple[Any, ...]]]],
) -> None:
    client, token = _client_of(csrf_app, world, sessions, actor_id, kind)
    uid = world.ids.get(f"user_{actor_id}")
    want = expected(case, kind, grants)
    url, form = case.build(world, uid)
    before = snapshot()
    response = _send(client, url, form, token)
    body = response.get_data(as_text=True)
    after = snapshot()

    assert response.status_code == want.status, body[:400]
    if kind in ("anonymous", "deactivated"):
        assert response.headers["Location"].startswith("/sign-in")
    if not want.allowed and (form is not None or kind in ("anonymous", "deactivated")):
        # The same refusal under htmx: 401 with the sign-in page to go to, or the same status.
        url, form = case.build(world, uid)
        under_htmx = _send(client, url, form, token, htmx=True)
        if kind in ("anonymous", "deactivated"):
            assert under_htmx.status_code == 401
            assert under_htmx.headers["HX-Redirect"].startswith("/sign-in")
        else:
            assert under_htmx.status_code == want.status
        assert snapshot() == before
    if case.need == IMPORT_PREVIEW and kind not in ("anonymous", "deactivated"):
        assert ('name="token"' in body) == want.allowed, body[:400]
        if not want.allowed:
            problem = "Unknown store" if kind == "owner_b" else "You may not change stock"
            assert problem in body
    if want.allowed and case.writes:
        assert after != before, "a permitted change changed nothing"
    else:
        changed = [t for t in before if before[t] != after[t]]
        assert changed == [], f"a {'refused' if not want.allowed else 'read-only'} request " \
                              f"changed {changed}"

    # Nothing of another store: B's members see nothing of A, A's members nothing of B.
    # What the user sent comes back in the page (an imported file's cells included).
    sent = url + repr(form or {}) + (_import_csv(world).decode() if case.endpoint.startswith(
        "imports.") else "")
    if kind == "owner_b" or kind in ("anonymous", "deactivated"):
        assert _leaks(body, ALPHA, sent) == []
    elif kind != "platform_admin":
        assert _leaks(body, BETA, sent) == []
    # The same page does show store A to those who may read it: the check above can fail.
    held = _held_in_a(kind, grants)
    if case.shows and want.allowed and held is not None and READ in held:
        assert case.shows.lower() in body.lower()
    if case.foreign_shows and kind == "owner_b":
        assert case.foreign_shows.lower() in body.lower()


# --------------------------------------------------------------------------- completeness


def _routes_in_scope(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in BLUEPRINTS or rule.endpoint in ENDPOINTS:
            found |= {(rule.endpoint, m) for m in rule.methods or () if m not in
                      ("HEAD", "OPTIONS")}
    return found


def test_every_administration_route_has_a_matrix_entry(app: Flask) -> None:
    """A route added to these screens without an expectation here fails this test."""
    covered = {(c.endpoint, c.method) for c in CASES}
    routes = _routes_in_scope(app)
    assert routes - covered == set(), "routes without a matrix entry"
    assert covered - routes == set(), "matrix entries for routes that no longer exist"


def test_every_case_requests_the_route_it_names(app: Flask) -> None:
    world = World(ids={k: 7 for k in _ID_KEYS},
                  slugs={"store_a": "alpha", "batch_a": "import-0123"},
                  users={"newcomer": "n@example.test"})
    adapter = app.url_map.bind("localhost")
    for case in CASES:
        # The apply form is signed from a real plan; its URL is fixed.
        url = "/import/apply" if case.endpoint == "imports.apply" else case.build(world, 1)[0]
        endpoint, _args = adapter.match(url.split("?")[0], method=case.method)
        assert endpoint == case.endpoint, case.id
    assert len({c.id for c in CASES}) == len(CASES)


_ID_KEYS = (
    "store_a", "store_b", "store_c", "store_c2", "store_d", "loc_main", "loc_rename",
    "loc_empty", "loc_archived", "product_main", "product_edit", "product_live",
    "product_archived", "product_unstocked", "product_bundle", "entry_main", "user_to_deactivate",
    "user_to_reset", "user_inactive", "user_to_promote", "user_to_demote", "target_role",
    "target_grants", "target_remove",
    "target_owner", "membership_b_staff", "loc_b", "product_b", "entry_b", "item_a", "item_b",
    "item_archived", "channel_a", "channel_b",
)


def test_actors_cover_every_role_and_grant() -> None:
    """Every role in the permission table acts here, and every grantable group a case needs
    is held alone by some staff actor."""
    kinds = {kind for _, kind, _ in ACTORS}
    assert set(ROLE_PERMISSIONS) <= kinds
    alone = {grants[0] for _, kind, grants in ACTORS if kind == "staff" and len(grants) == 1}
    needed = {c.need for c in CASES} & GRANTABLE_TO_STAFF
    assert needed <= alone


# --------------------------------------------------------------------------- other stores

# Requests by a member of store A aimed at store B's ids, in the URL or inside a form about
# A: each one is "not found", changes nothing and shows nothing of B.
TOWARDS_B: list[tuple[str, Callable[[World], tuple[str, dict[str, Any] | None]]]] = [
    ("members-page", lambda w: (f"/people/stores/{w.store_b}", None)),
    ("members-add", lambda w: (f"/people/stores/{w.store_b}/members",
                               {"email": w.users["newcomer"], "role": "staff"})),
    ("members-role", lambda w: (
        f"/people/stores/{w.store_b}/members/{w.membership_b_staff}/role", {"role": "admin"})),
    ("members-grants", lambda w: (
        f"/people/stores/{w.store_b}/members/{w.membership_b_staff}/grants",
        {"grants": [ADJUST]})),
    ("members-remove-form", lambda w: (
        f"/people/stores/{w.store_b}/members/{w.membership_b_staff}/remove", None)),
    ("members-remove", lambda w: (
        f"/people/stores/{w.store_b}/members/{w.membership_b_staff}/remove", {})),
    # B's membership through A's members page.
    ("members-role-via-a", lambda w: (
        f"/people/stores/{w.store_a}/members/{w.membership_b_staff}/role", {"role": "admin"})),
    ("members-remove-via-a", lambda w: (
        f"/people/stores/{w.store_a}/members/{w.membership_b_staff}/remove", {})),
    ("locations", lambda w: (f"/catalog/locations?store={w.store_b}", None)),
    ("location-create", lambda w: (f"/catalog/locations?store={w.store_b}",
                                   {"code": "new_bay"})),
    ("location-form", lambda w: (f"/catalog/locations/{w.loc_b}/rename", None)),
    ("location-rename", lambda w: (f"/catalog/locations/{w.loc_b}/rename", {"name": "Mine"})),
    ("location-archive", lambda w: (f"/catalog/locations/{w.loc_b}/archive", {})),
    ("channel-create", lambda w: (f"/catalog/channels?store={w.store_b}",
                                  {"code": "mine", "locations": [str(w.loc_b)]})),
    ("channel-form", lambda w: (f"/catalog/channels/{w.channel_b}/edit", None)),
    ("channel-edit", lambda w: (f"/catalog/channels/{w.channel_b}/edit",
                                {"name": "Mine", "locations": [str(w.loc_b)]})),
    ("products", lambda w: (f"/catalog/products?store={w.store_b}", None)),
    ("product-new-form", lambda w: (f"/catalog/products/new?store={w.store_b}", None)),
    ("product-new", lambda w: (f"/catalog/products/new?store={w.store_b}",
                               _product_form("NEW-SKU-9", "A new thing"))),
    ("product-edit-form", lambda w: (f"/catalog/products/{w.product_b}/edit", None)),
    ("product-edit", lambda w: (f"/catalog/products/{w.product_b}/edit",
                                _product_form("BETA-SKU-77", "Mine now"))),
    ("product-archive", lambda w: (f"/catalog/products/{w.product_b}/archive", {})),
    ("product-stock-form", lambda w: (f"/catalog/products/{w.product_b}/stock", None)),
    ("product-stock", lambda w: (f"/catalog/products/{w.product_b}/stock", {
        "idempotency_key": uuid.uuid4().hex, "location_id": str(w.loc_b), "quantity": "1",
        "low_stock_threshold": "0"})),
    # A's own product stocked at B's location: a foreign id inside the form.
    ("product-stock-at-b", lambda w: (f"/catalog/products/{w.product_unstocked}/stock", {
        "idempotency_key": uuid.uuid4().hex, "location_id": str(w.loc_b), "quantity": "1",
        "low_stock_threshold": "0"})),
    ("item", lambda w: (f"/catalog/items/{w.item_b}", None)),
    ("item-new-form", lambda w: (f"/catalog/items/new?store={w.store_b}", None)),
    ("item-new", lambda w: (f"/catalog/items/new?store={w.store_b}", _item_form("MINE"))),
    ("item-add-value", lambda w: (f"/catalog/items/{w.item_b}/values",
                                  {"option": "1", "value": "M", "sku_prefix": "BETA-PRK"})),
    ("item-archive-form", lambda w: (f"/catalog/items/{w.item_b}/archive", None)),
    ("item-archive", lambda w: (f"/catalog/items/{w.item_b}/archive", {})),
    ("bulk-form", lambda w: (f"/inventory/bulk/adjust?entry={w.entry_b}", None)),
    ("bulk-preview", lambda w: ("/inventory/bulk/threshold", {
        **_bulk_form(w, "threshold", "preview"), "entry": str(w.entry_b)})),
    # A's entry and B's in one selection: all or nothing, and B's is not found.
    ("bulk-apply-mixed", lambda w: ("/inventory/bulk/adjust", {
        **_bulk_form(w, "adjust", "apply"), "entry": [str(w.entry_main), str(w.entry_b)]})),
]

A_MEMBERS = [a for a in ACTORS if a[0] in ("owner_a", "admin_a", "staff_a", "staff_a+all")]


@pytest.mark.parametrize(("actor_id", "kind", "grants"), A_MEMBERS, ids=[a[0] for a in A_MEMBERS])
def test_store_b_is_not_found_for_members_of_a(
    actor_id: str,
    kind: str,
    grants: tuple[str, ...],
    world: World,
    csrf_app: Flask,
    sessions: dict[str, tuple[FlaskClient, str]],
    snapshot: Callable[[], dict[str, list[tuple[Any, ...]]]],
    subtests: Any,
) -> None:
    client, token = _client_of(csrf_app, world, sessions, actor_id, kind)
    held = expected_permissions(kind, grants)
    before = snapshot()
    for name, build in TOWARDS_B:
        url, form = build(world)
        for under_htmx in (False, True):
            with subtests.test(request=name, htmx=under_htmx):
                response = _send(client, url, form, token, htmx=under_htmx)
                body = response.get_data(as_text=True)
                # Through A's own page or product, A's permission is checked first.
                first = {"product-stock-at-b": CATALOG, "members-role-via-a": MEMBERS,
                         "members-remove-via-a": MEMBERS}.get(name)
                refused_first = first is not None and first not in held
                assert response.status_code == (403 if refused_first else 404), body[:300]
                assert _leaks(body, BETA, url + repr(form)) == []
    assert snapshot() == before


def test_an_import_naming_both_stores_is_refused_whole(
    world: World,
    csrf_app: Flask,
    sessions: dict[str, tuple[FlaskClient, str]],
    snapshot: Callable[[], dict[str, list[tuple[Any, ...]]]],
) -> None:
    """B's owner imports a file that changes B's entry and A's: the preview says A's store is
    unknown (and gives no token), and a forged apply changes neither."""
    client, token = _client_of(csrf_app, world, sessions, "owner_b", "owner_b")
    data = (f"store,location,sku,quantity\n{world.slugs['store_b']},BETA_BAY,BETA-SKU-77,20\n"
            f"{world.slugs['store_a']},ALPHA_BAY,ALPHA-SKU-1,99\n").encode()
    before = snapshot()
    preview = client.post("/import/preview", data={
        "file": (io.BytesIO(data), "both.csv"), "csrf_token": token})
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Unknown store" in body and 'name="token"' not in body
    assert _leaks(body, ALPHA, data.decode()) == []

    forged = URLSafeTimedSerializer("test-secret", salt="stockroom.import").dumps({
        "user": world.ids["user_owner_b"], "name": "both.csv", "batch": stock.new_batch_ref(),
        "data": data.decode(), "seen": [], "warnings": False,
    })
    applied = client.post("/import/apply", data={"token": forged, "csrf_token": token})
    assert applied.status_code == 409
    assert _leaks(applied.get_data(as_text=True), ALPHA, data.decode()) == []
    assert snapshot() == before
    # The same file without A's row goes through: the refusal above is about store A.
    own = data.decode().splitlines()[:2]
    token_ok = URLSafeTimedSerializer("test-secret", salt="stockroom.import").dumps({
        "user": world.ids["user_owner_b"], "name": "b.csv", "batch": stock.new_batch_ref(),
        "data": "\n".join(own) + "\n",
        "seen": sorted(stock.plan_import(("\n".join(own) + "\n").encode(),
                                           actor=system_actor("matrix")).seen().items()),
        "warnings": False,
    })
    assert client.post("/import/apply", data={"token": token_ok, "csrf_token": token}
                       ).status_code == 303
    assert snapshot() != before
