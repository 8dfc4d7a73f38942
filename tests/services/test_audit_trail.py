"""Every service verb that changes a record (not stock) leaves its audit row in the same
transaction: who, which object, each changed field before → after, secrets never; refused
work leaves none, and a failing audit write undoes the change (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApiToken, AuditEvent, Membership, User
from app.permissions import Actor, actor_for_user
from app.services import audit, catalog, locations, stores
from app.services.errors import Conflict, PermissionDenied
from app.services.people import accounts, members, tokens
from app.services.people.ownership import LastOwner

PASSWORD = "a long enough password"


@dataclass
class World:
    """A store with an owner, a staff member, a product, two locations (one archived), a
    token of the staff member's, and a user of no store."""

    admin: Actor
    store: int
    slug: str
    owner: int
    owner_email: str
    staff: int
    staff_email: str
    staff_membership: int
    product: int
    location: int
    archived_location: int
    token: int
    outsider: int
    outsider_email: str


@pytest.fixture
def ready(app, admin_actor, make_store, make_user, make_product, make_location) -> World:
    store = make_store("North")
    owner = make_user(role="owner", store=store)
    staff = make_user(role="staff", store=store, grants=("inventory:adjust",))
    staff_membership = db.session.scalar(
        select(Membership.id).where(Membership.user_id == staff.id))
    product = make_product(store, sku="TEE-1", title="Tee", reorder_point=2,
                           reorder_quantity=10).id
    location = make_location(store, code="SHELF-A").id
    archived_location = make_location(store, code="SHELF-Z").id
    db.session.rollback()
    locations.archive_location(actor=admin_actor, location_id=archived_location)
    view, _ = tokens.create_token(user_id=staff.id, name="Till")
    # A platform admin of no store, so that another may lose the access.
    outsider = make_user(email="outsider@example.test", platform_admin=True)
    world = World(admin_actor, store.id, store.slug, owner.id, owner.email, staff.id,
                  staff.email, staff_membership, product, location, archived_location, view.id,
                  outsider.id, outsider.email)
    db.session.rollback()
    return world


def events(after_id: int = 0) -> list[AuditEvent]:
    rows = list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.id > after_id).order_by(AuditEvent.id)))
    db.session.rollback()
    return rows


def last_id() -> int:
    value = db.session.scalar(select(db.func.max(AuditEvent.id))) or 0
    db.session.rollback()
    return int(value)


@dataclass(frozen=True)
class Verb:
    """A call of one audited verb (after `prepare`, if any) and the rows the call must
    leave: (action, object_type, whether the row names the store, changes)."""

    call: Callable[[World], Any]
    rows: list[tuple[str, str, bool, dict[str, list[Any]]]]
    product: bool = False
    prepare: Callable[[World], Any] | None = None


def _archived_product(w: World) -> None:
    catalog.archive_product(actor=w.admin, product_id=w.product)


def _deactivated(w: World) -> None:
    accounts.set_user_active(actor=w.admin, user_id=w.staff, active=False)


def _platform_admin(w: World) -> None:
    accounts.set_platform_admin(actor=w.admin, user_id=w.staff, admin=True)


VERBS: dict[str, Verb] = {
    "product.created": Verb(
        lambda w: catalog.create_product(actor=w.admin, store_id=w.store, sku="MUG-1",
                                         title="Mug", reorder_point=3),
        [("product.created", "product", True, {
            "sku": [None, "MUG-1"], "title": [None, "Mug"], "type": [None, "physical"],
            "allow_backorder": [None, False], "reorder_point": [None, 3],
            "reorder_quantity": [None, 0], "reorder_up_to": [None, 0]})],
        product=True),
    "product.updated": Verb(
        lambda w: catalog.update_product(actor=w.admin, product_id=w.product, sku="TEE-1",
                                         title="T-shirt", reorder_point=5,
                                         reorder_quantity=10),
        [("product.updated", "product", True, {"title": ["Tee", "T-shirt"],
                                               "reorder_point": [2, 5]})],
        product=True),
    "product.updated (type and backorder)": Verb(
        lambda w: catalog.update_product(actor=w.admin, product_id=w.product, sku="TEE-1",
                                         title="Tee", product_type="physical",
                                         allow_backorder=True, reorder_point=2,
                                         reorder_quantity=10),
        [("product.updated", "product", True, {"allow_backorder": [False, True]})],
        product=True),
    "product.updated (type)": Verb(
        lambda w: catalog.update_product(actor=w.admin, product_id=w.product, sku="TEE-1",
                                         title="Tee", product_type="digital",
                                         reorder_point=2, reorder_quantity=10),
        [("product.updated", "product", True, {"type": ["physical", "digital"]})],
        product=True),
    "product.archived": Verb(
        _archived_product,
        [("product.archived", "product", True, {"archived": [False, True]})], product=True),
    "product.unarchived": Verb(
        lambda w: catalog.unarchive_product(actor=w.admin, product_id=w.product),
        [("product.unarchived", "product", True, {"archived": [True, False]})], product=True,
        prepare=_archived_product),
    "store.created": Verb(
        lambda w: stores.create_store(actor=w.admin, name="South", slug="south"),
        [("store.created", "store", False, {"name": [None, "South"], "slug": [None, "south"]})]),
    "store.renamed": Verb(
        lambda w: stores.rename_store(actor=w.admin, store_id=w.store, name="North Quay"),
        [("store.renamed", "store", True, {"name": ["North", "North Quay"]})]),
    "store.archived": Verb(
        lambda w: stores.archive_store(actor=w.admin, store_id=w.store),
        [("store.archived", "store", True, {"archived": [False, True]})]),
    "store.unarchived": Verb(
        lambda w: stores.unarchive_store(actor=w.admin, store_id=w.store),
        [("store.unarchived", "store", True, {"archived": [True, False]})],
        prepare=lambda w: stores.archive_store(actor=w.admin, store_id=w.store)),
    "location.created": Verb(
        lambda w: stores.create_location(actor=w.admin, store_id=w.store, code="bin-1",
                                         name="Bin"),
        [("location.created", "location", True, {"code": [None, "BIN-1"],
                                                  "name": [None, "Bin"]})]),
    "location.renamed": Verb(
        lambda w: locations.rename_location(actor=w.admin, location_id=w.location,
                                            name="Front shelf"),
        [("location.renamed", "location", True, {"name": ["", "Front shelf"]})]),
    "location.archived": Verb(
        lambda w: locations.archive_location(actor=w.admin, location_id=w.location),
        [("location.archived", "location", True, {"archived": [False, True]})]),
    "location.unarchived": Verb(
        lambda w: locations.unarchive_location(actor=w.admin, location_id=w.archived_location),
        [("location.unarchived", "location", True, {"archived": [True, False]})]),
    "member.added": Verb(
        lambda w: members.add_member(actor=w.admin, store_id=w.store,
                                     email=w.outsider_email, role="staff",
                                     grants=["inventory:reserve"]),
        [("member.added", "member", True, {"role": [None, "staff"],
                                           "grants": [None, ["inventory:reserve"]]})]),
    "member.added (new account)": Verb(
        lambda w: members.add_member(actor=w.admin, store_id=w.store,
                                     email="new@example.test", role="admin", name="Newcomer",
                                     password=PASSWORD),
        [("user.created", "user", False, {"email": [None, "new@example.test"],
                                          "name": [None, "Newcomer"],
                                          "is_platform_admin": [None, False]}),
         ("member.added", "member", True, {"role": [None, "admin"], "grants": [None, []]})]),
    "member.added (by user id)": Verb(
        lambda w: members.add_user_to_store(actor=w.admin, store_id=w.store,
                                            user_id=w.outsider, role="admin"),
        [("member.added", "member", True, {"role": [None, "admin"], "grants": [None, []]})]),
    "member.role_changed (ownership)": Verb(
        lambda w: members.change_role(actor=w.admin, store_id=w.store,
                                      membership_id=w.staff_membership, role="owner"),
        [("member.role_changed", "member", True, {
            "role": ["staff", "owner"], "grants": [["inventory:adjust"], []]})]),
    "member.grants_changed": Verb(
        lambda w: members.set_grants(actor=w.admin, store_id=w.store,
                                     membership_id=w.staff_membership,
                                     grants=["inventory:adjust", "inventory:threshold"]),
        [("member.grants_changed", "member", True, {
            "grants": [["inventory:adjust"], ["inventory:adjust", "inventory:threshold"]]})]),
    "member.removed": Verb(
        lambda w: members.remove_member(actor=w.admin, store_id=w.store,
                                        membership_id=w.staff_membership),
        [("member.removed", "member", True, {"role": ["staff", None],
                                             "grants": [["inventory:adjust"], None]})]),
    "user.created": Verb(
        lambda w: accounts.create_account(actor=w.admin, email="Ops@Example.test",
                                          name="Ops", password=PASSWORD, platform_admin=True),
        [("user.created", "user", False, {"email": [None, "ops@example.test"],
                                          "name": [None, "Ops"],
                                          "is_platform_admin": [None, True]})]),
    "user.created (command line)": Verb(
        lambda w: accounts.create_user(email="cli@example.test", name="Cli",
                                       password=PASSWORD, store_slug=w.slug,
                                       role="staff", grants=("inventory:reserve",)),
        [("user.created", "user", False, {"email": [None, "cli@example.test"],
                                          "name": [None, "Cli"],
                                          "is_platform_admin": [None, False]}),
         ("member.added", "member", True, {"role": [None, "staff"],
                                           "grants": [None, ["inventory:reserve"]]})]),
    "user.deactivated": Verb(
        lambda w: accounts.set_user_active(actor=w.admin, user_id=w.staff, active=False),
        [("user.deactivated", "user", False, {"active": [True, False]})]),
    "user.reactivated": Verb(
        lambda w: accounts.set_user_active(actor=w.admin, user_id=w.staff, active=True),
        [("user.reactivated", "user", False, {"active": [False, True]})],
        prepare=_deactivated),
    "user.platform_admin_granted": Verb(
        lambda w: accounts.set_platform_admin(actor=w.admin, user_id=w.staff, admin=True),
        [("user.platform_admin_granted", "user", False, {"is_platform_admin": [False, True]})]),
    "user.platform_admin_revoked": Verb(
        lambda w: accounts.set_platform_admin(actor=w.admin, user_id=w.staff, admin=False),
        [("user.platform_admin_revoked", "user", False, {"is_platform_admin": [True, False]})],
        prepare=_platform_admin),
    "user.password_reset": Verb(
        lambda w: accounts.reset_password(actor=w.admin, user_id=w.staff,
                                          password=PASSWORD),
        [("user.password_reset", "user", False, {"password": ["(secret)", "(secret)"]})]),
    "token.created": Verb(
        lambda w: tokens.create_token(user_id=w.staff, name="Scanner",
                                      expires_at=tokens.Expiry.NEVER,
                                      permissions=["inventory:adjust"]),
        [("token.created", "token", False, {
            "name": [None, "Scanner"], "permissions": [None, ["inventory:adjust",
                                                              "inventory:read"]],
            "platform_admin": [None, True]})]),
    "token.revoked": Verb(
        lambda w: tokens.revoke_token(user_id=w.staff, token_id=w.token),
        [("token.revoked", "token", False, {"revoked": [False, True]})]),
}


@pytest.mark.parametrize("name", list(VERBS))
def test_each_verb_records_who_what_and_each_changed_field(ready: World, name: str) -> None:
    verb = VERBS[name]
    if verb.prepare:
        verb.prepare(ready)
    start = last_id()
    verb.call(ready)

    rows = events(start)
    assert [(e.action, e.object_type, e.store_id == ready.store, e.changes)
            for e in rows] == verb.rows
    for event in rows:
        assert event.object_id is not None and event.object_label
        if verb.product:
            assert event.product_id == event.object_id
        else:
            assert event.product_id is None
    who = {e.actor_name for e in rows}
    assert who <= {ready.admin.name, ready.staff_email, "system:create-user"}


def test_an_actor_is_named_by_id_and_email(ready: World) -> None:
    owner = actor_for_user(ready.owner)
    stores.create_location(actor=owner, store_id=ready.store, code="BACK")
    [event] = events(last_id() - 1)
    assert (event.actor_id, event.actor_name) == (ready.owner, ready.owner_email)


def test_a_token_row_holds_neither_its_secret_nor_its_hash(ready: World) -> None:
    start = last_id()
    view, plaintext = tokens.create_token(user_id=ready.staff, name="Secretive")
    [event] = events(start)
    stored = db.session.scalar(select(ApiToken.token_hash).where(ApiToken.id == view.id))
    db.session.rollback()
    text = repr(event.changes) + event.object_label
    assert plaintext not in text and stored not in text and view.prefix not in text
    assert (event.actor_id, event.actor_name) == (ready.staff, ready.staff_email)


def test_a_password_reset_records_that_it_changed_and_nothing_of_it(ready: World) -> None:
    start = last_id()
    accounts.reset_password(actor=ready.admin, user_id=ready.staff, password=PASSWORD)
    [event] = events(start)
    hashed = db.session.scalar(select(User.password_hash).where(User.id == ready.staff))
    db.session.rollback()
    assert PASSWORD not in repr(event.changes) and hashed not in repr(event.changes)
    assert event.changes == {"password": [audit.SECRET, audit.SECRET]}


@pytest.mark.parametrize("call", [
    lambda w: catalog.update_product(actor=w.admin, product_id=w.product, sku="TEE-1",
                                     title="Tee", reorder_point=2, reorder_quantity=10),
    lambda w: stores.rename_store(actor=w.admin, store_id=w.store, name="North"),
    lambda w: locations.rename_location(actor=w.admin, location_id=w.location, name=""),
    lambda w: members.set_grants(actor=w.admin, store_id=w.store,
                                 membership_id=w.staff_membership, grants=["inventory:adjust"]),
    lambda w: members.change_role(actor=w.admin, store_id=w.store,
                                  membership_id=w.staff_membership, role="staff"),
    lambda w: accounts.set_user_active(actor=w.admin, user_id=w.staff, active=True),
    lambda w: accounts.set_platform_admin(actor=w.admin, user_id=w.staff, admin=False),
], ids=["product", "store", "location", "grants", "role", "active", "platform-admin"])
def test_a_change_to_the_same_value_records_nothing(ready: World, call: Callable) -> None:
    start = last_id()
    call(ready)
    assert events(start) == []


@pytest.mark.parametrize("call, error", [
    (lambda w: catalog.create_product(actor=w.admin, store_id=w.store, sku="TEE-1",
                                      title="Again"), Conflict),
    (lambda w: stores.unarchive_store(actor=w.admin, store_id=w.store), Conflict),
    (lambda w: locations.archive_location(actor=w.admin, location_id=w.archived_location),
     Conflict),
    (lambda w: members.remove_member(
        actor=w.admin, store_id=w.store, membership_id=db.session.scalar(
            select(Membership.id).where(Membership.user_id == w.owner))), LastOwner),
    (lambda w: accounts.set_user_active(actor=w.admin, user_id=w.owner, active=False),
     LastOwner),
    (lambda w: stores.rename_store(actor=Actor(name="someone", store_permissions={
        w.store: frozenset()}), store_id=w.store, name="Mine"), PermissionDenied),
], ids=["duplicate-sku", "not-archived", "already-archived", "last-owner", "last-owner-active",
        "not-platform-admin"])
def test_refused_work_writes_no_audit_row(
    ready: World, refused: Callable[..., Any], call: Callable, error: type[Exception]
) -> None:
    with refused(error):
        call(ready)


class Injected(RuntimeError):
    pass


@pytest.mark.parametrize("name", list(VERBS))
def test_a_failing_audit_write_undoes_the_change(
    ready: World, snapshot: Callable[[], dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """Fail closed: the audit row is written after the change, in its transaction, so a
    failure there leaves every table as it was (a verb writing two rows fails at its
    last)."""
    verb = VERBS[name]
    if verb.prepare:
        verb.prepare(ready)
    before = snapshot()
    real = audit.record_many
    writes: list[int] = []
    changed_inside: list[bool] = []

    def failing(session: Any, actor: Any, changes: Any, **kwargs: Any) -> int:
        writes.append(1)
        if len(writes) < len(verb.rows):
            return real(session, actor, changes, **kwargs)
        changed_inside.append(_state(session) != before)
        raise Injected("the audit insert failed")

    monkeypatch.setattr(audit, "record_many", failing)
    with pytest.raises(Injected):
        verb.call(ready)
    monkeypatch.undo()

    assert changed_inside == [True], "the fault was not injected after the change"
    assert snapshot() == before


def _state(session: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table.name: [tuple(row) for row in session.execute(
            select(table).order_by(*table.primary_key.columns))]
        for table in db.metadata.sorted_tables
    }
