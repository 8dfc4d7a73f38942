"""Who works in a store: memberships, roles and the permission groups granted to staff.

Owners and store admins hold `members:manage`; only owners (and platform admins) make,
change or remove owners, and no store is ever left without an active owner (a store whose
owners are all deactivated keeps at least its last owner membership): the rules are in
ownership.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import ROLES, Membership, Store, User
from app.permissions import (
    ADJUST,
    AUDIT,
    CATALOG,
    DELETE,
    GRANTABLE_TO_STAFF,
    MEMBERS,
    RECEIVE,
    RESERVE,
    THRESHOLD,
    Actor,
)
from app.services import alerts, audit
from app.services.errors import (
    Conflict,
    LastOwner,
    NotFound,
    OwnerRequired,
    PermissionDenied,
    ValidationError,
)
from app.services.people import accounts, credentials, ownership
from app.services.people.ownership import Owner
from app.services.stores import require_store
from app.services.validation import Checker, is_id

ROLE_LABELS: dict[str, str] = {"owner": "Owner", "admin": "Admin", "staff": "Staff"}

# The groups an owner or store admin may grant to staff, in the order the screens list them.
GROUP_LABELS: dict[str, str] = {
    ADJUST: "Adjust stock (adjust, set, count, transfer, return)",
    RESERVE: "Reserve stock (reserve, release, fulfill)",
    THRESHOLD: "Set low-stock thresholds",
    DELETE: "Delete inventory entries",
    CATALOG: "Manage products and locations",
    AUDIT: "Read the movements log",
    RECEIVE: "Receive stock against purchase orders",
}
assert set(GROUP_LABELS) == GRANTABLE_TO_STAFF, "every grantable group needs a label"




@dataclass(frozen=True)
class StoreRef:
    id: int
    name: str
    slug: str


@dataclass(frozen=True)
class MemberView:
    """One membership with its user, as the member page lists it."""

    id: int
    store_id: int
    user_id: int
    email: str
    name: str
    role: str
    grants: tuple[str, ...]
    active: bool
    created_at: datetime

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def grant_labels(self) -> list[str]:
        return [GROUP_LABELS[g] for g in GROUP_LABELS if g in self.grants]

    @property
    def grant_names(self) -> list[str]:
        """The granted groups in a few words each: "Adjust stock", "Reserve stock"."""
        return [label.split(" (")[0] for label in self.grant_labels]


@dataclass(frozen=True)
class StoreMembers:
    """A store's member page: who belongs, and what the viewer may do about owners."""

    store: StoreRef
    members: list[MemberView]
    manages_owners: bool
    owner_count: int
    # Owners whose removal (or demotion) would leave the store without an active owner:
    # remove_member and change_role refuse them, so the page offers neither.
    last_owners: frozenset[int] = frozenset()


@dataclass(frozen=True)
class MemberChange:
    """What a change did, for the one-line message the screens flash."""

    member: MemberView
    store: StoreRef
    previous_role: str | None = None
    previous_grants: tuple[str, ...] = ()
    created_user: bool = False


def managed_stores(actor: Actor) -> list[StoreRef]:
    """The stores whose members the actor may manage, by name (every store for platform
    admins, archived ones included)."""
    allowed = actor.stores_with(MEMBERS)
    query = select(Store.id, Store.name, Store.slug).order_by(func.lower(Store.name), Store.id)
    if allowed is not None:
        if not allowed:
            return []
        query = query.where(Store.id.in_(sorted(allowed)))
    return [StoreRef(**row._mapping) for row in db.session.execute(query)]


def store_members(actor: Actor, store_id: int) -> StoreMembers:
    """A store's members, owners first. Raises NotFound, PermissionDenied."""
    _require(actor, store_id)
    store = _store(db.session, store_id)
    members = _members(db.session, store_id)
    owners = [m for m in members if m.role == "owner"]
    return StoreMembers(
        store=store,
        members=members,
        manages_owners=actor.is_platform_admin
        or any(m.user_id == actor.user_id for m in owners),
        owner_count=len(owners),
        last_owners=frozenset(
            m.id for m in owners if not ownership.keeps_an_active_owner(
                [Owner(o.id, o.user_id, o.active) for o in owners], m.id
            )
        ),
    )


def get_member(actor: Actor, store_id: int, membership_id: int) -> MemberView:
    """One membership of a store. Raises NotFound, PermissionDenied."""
    _require(actor, store_id)
    _store(db.session, store_id)
    return _member(db.session, store_id, membership_id)


def add_member(
    *,
    actor: Actor,
    store_id: int,
    email: str,
    role: str,
    grants: Iterable[str] = (),
    name: str | None = None,
    password: str | None = None,
) -> MemberChange:
    """Give the user with this email a role in the store. When no account has the email,
    an owner (or platform admin) may create it here by giving a name and a password.
    Raises ValidationError, Conflict, NotFound, PermissionDenied, OwnerRequired."""
    wanted = _checked_grants(grants)
    check = Checker()
    check.text("email", email, required=True, max_length=254)
    _check_role(check, role, wanted)
    check.done()
    _require(actor, store_id)
    address = credentials.normalize_email(email)
    # Hashed before the transaction in case the account is created: Argon2 is slow on
    # purpose and must not hold SQLite's one write lock.
    hashed = (
        credentials.hash_password(password)
        if isinstance(password, str) and len(password) >= credentials.MIN_PASSWORD_LENGTH
        else None
    )

    try:
        with write_transaction() as session:
            store = _store(session, store_id)
            owners = ownership.lock_owners(session, store_id)
            is_owner = ownership.acts_as_owner(session, actor, store_id, owners)
            if role == "owner" and not is_owner:
                raise OwnerRequired()
            user_id = session.scalar(select(User.id).where(User.email == address))
            created = False
            if user_id is None:
                user_id = _create_for_store(session, actor, is_owner, email, name, password,
                                            hashed)
                created = True
            elif session.scalar(
                select(func.count()).where(Membership.user_id == user_id,
                                           Membership.store_id == store_id)
            ):
                raise Conflict(f"{address} is already a member of {store.name}.")
            membership = Membership(user_id=user_id, store_id=store_id, role=role,
                                    grants=wanted)
            session.add(membership)
            session.flush()
            member = _member(session, store_id, membership.id)
            _record(session, actor, "member.added", member,
                    audit.diff({}, {"role": role, "grants": wanted}))
            alerts.subscribe_owners(session, store_id)
    except IntegrityError as exc:  # a concurrent add of the same person won
        if not is_unique_violation(exc, "user_id", "store_id"):
            raise
        raise Conflict(f"{address} is already a member of this store.") from exc
    return MemberChange(member=member, store=store, created_user=created)


def change_role(
    *, actor: Actor, store_id: int, membership_id: int, role: str
) -> MemberChange:
    """Make a member owner, admin or staff; leaving staff drops their granted groups.
    Raises ValidationError, NotFound, PermissionDenied, OwnerRequired, LastOwner."""
    check = Checker()
    _check_role(check, role, [])
    check.done()
    _require(actor, store_id)
    with write_transaction() as session:
        store = _store(session, store_id)
        owners = ownership.lock_owners(session, store_id)
        is_owner = ownership.acts_as_owner(session, actor, store_id, owners)
        before = _member(session, store_id, membership_id, lock=True)
        if "owner" in (before.role, role) and before.role != role and not is_owner:
            raise OwnerRequired()
        if before.role == "owner" and role != "owner" and _only_owner(owners, before):
            raise LastOwner(before.name, store.name, active=len(owners) > 1)
        if before.role != role:
            session.execute(
                update(Membership).where(Membership.id == before.id)
                .values(role=role, grants=list(before.grants) if role == "staff" else [])
            )
        after = _member(session, store_id, membership_id)
        if before.role != role:
            _record(session, actor, "member.role_changed", after, _changed(before, after))
            alerts.subscribe_owners(session, store_id)
    return MemberChange(member=after, store=store, previous_role=before.role,
                        previous_grants=before.grants)


def set_grants(
    *, actor: Actor, store_id: int, membership_id: int, grants: Iterable[str]
) -> MemberChange:
    """Replace the permission groups granted to a staff member.
    Raises ValidationError, NotFound, PermissionDenied."""
    wanted = _checked_grants(grants)
    _require(actor, store_id)
    with write_transaction() as session:
        store = _store(session, store_id)
        owners = ownership.lock_owners(session, store_id)
        ownership.acts_as_owner(session, actor, store_id, owners)
        before = _member(session, store_id, membership_id, lock=True)
        if before.role != "staff":
            _refuse("grants", f"{before.name} is {before.role_label.lower()}: permission "
                        "groups are granted to staff only.")
        session.execute(
            update(Membership).where(Membership.id == before.id).values(grants=wanted)
        )
        after = _member(session, store_id, membership_id)
        if after.grants != before.grants:
            _record(session, actor, "member.grants_changed", after, _changed(before, after))
    return MemberChange(member=after, store=store, previous_role=before.role,
                        previous_grants=before.grants)


def remove_member(*, actor: Actor, store_id: int, membership_id: int) -> MemberChange:
    """Take a user out of a store; their account stays.
    Raises NotFound, PermissionDenied, OwnerRequired, LastOwner."""
    _require(actor, store_id)
    with write_transaction() as session:
        store = _store(session, store_id)
        owners = ownership.lock_owners(session, store_id)
        is_owner = ownership.acts_as_owner(session, actor, store_id, owners)
        before = _member(session, store_id, membership_id, lock=True)
        if before.role == "owner":
            if not is_owner:
                raise OwnerRequired()
            if _only_owner(owners, before):
                raise LastOwner(before.name, store.name, active=len(owners) > 1)
        session.execute(delete(Membership).where(Membership.id == before.id))
        _record(session, actor, "member.removed", before,
                {"role": (before.role, None), "grants": (list(before.grants), None)})
    return MemberChange(member=before, store=store, previous_role=before.role,
                        previous_grants=before.grants)


def add_user_to_store(
    *,
    actor: Actor,
    store_id: int,
    user_id: int,
    role: str,
    grants: tuple[str, ...] = (),
) -> Membership:
    """Give an existing user, named by id, a role in a store (the CLI and demo set-up).
    Only owners and platform admins make owners.
    Raises ValidationError, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    _check_role(check, role, list(grants))
    bad = sorted(set(grants) - GRANTABLE_TO_STAFF)
    if bad:
        check.fail("grants", f"Unknown permission group: {bad[0]}.")
    check.done()
    _require(actor, store_id)

    try:
        with write_transaction() as session:
            _store(session, store_id)
            owners = ownership.lock_owners(session, store_id)
            if role == "owner" and not ownership.acts_as_owner(session, actor, store_id, owners):
                raise PermissionDenied(MEMBERS)
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
            _record(session, actor, "member.added", _member(session, store_id, membership.id),
                    audit.diff({}, {"role": role, "grants": sorted(grants)}))
            alerts.subscribe_owners(session, store_id)
    except IntegrityError as exc:
        if not is_unique_violation(exc, "user_id", "store_id"):
            raise
        raise Conflict("This user is already a member of the store.") from exc
    return membership


# --------------------------------------------------------------------------- helpers


def _record(
    session: Session, actor: Actor, action: str, member: MemberView,
    changes: dict[str, tuple[Any, Any]],
) -> None:
    audit.record(session, actor, action, "member", member.id,
                 f"{member.name} ({member.email})", store_id=member.store_id, changes=changes)


def _changed(before: MemberView, after: MemberView) -> dict[str, tuple[Any, Any]]:
    return audit.diff({"role": before.role, "grants": list(before.grants)},
                      {"role": after.role, "grants": list(after.grants)})


def _refuse(field: str, message: str) -> NoReturn:
    raise ValidationError({field: message})


def _require(actor: Actor, store_id: int) -> None:
    require_store(actor, MEMBERS, store_id)


def _check_role(check: Checker, role: Any, grants: list[str]) -> None:
    if role not in ROLES:
        check.fail("role", "Choose owner, admin or staff.")
    elif grants and role != "staff":
        check.fail("grants", "Permission groups are granted to staff only; choose the staff "
                   "role or clear the groups.")


def _checked_grants(grants: Iterable[str]) -> list[str]:
    if isinstance(grants, str):
        grants = [grants]
    wanted = list(grants)
    if not all(isinstance(g, str) for g in wanted):
        _refuse("grants", "Choose permission groups from the list.")
    unknown = sorted(set(wanted) - GRANTABLE_TO_STAFF)
    if unknown:
        _refuse("grants", f"Unknown permission group: {unknown[0][:60]}.")
    return sorted(set(wanted))


def _create_for_store(
    session: Session, actor: Actor, is_owner: bool, email: str, name: str | None,
    password: str | None, password_hash: str | None,
) -> int:
    if not is_owner:
        _refuse("email", "No user has this email. Ask an owner of the store to create "
                    "the account.")
    if not (name or "").strip() and not password:
        _refuse("email", "No user has this email. To create the account, fill in a "
                    "name and an initial password too.")
    check = Checker()
    accounts.check_account(check, email=email, name=name, password=password)
    check.done()
    assert password_hash is not None  # a checked password was hashed before the transaction
    user = accounts.insert_user(session, actor, email=email, name=name or "",
                                password_hash=password_hash)
    return user.id


def _only_owner(owners: list[Owner], member: MemberView) -> bool:
    return not ownership.keeps_an_active_owner(owners, member.id)


def _store(session: Session, store_id: int) -> StoreRef:
    # Platform admins pass the membership check even for ids that do not exist.
    row = session.execute(
        select(Store.id, Store.name, Store.slug).where(Store.id == store_id)
    ).one_or_none()
    if row is None:
        raise NotFound("Store not found.")
    return StoreRef(**row._mapping)


_MEMBER_COLUMNS = (
    Membership.id, Membership.store_id, Membership.user_id, User.email, User.name,
    Membership.role, Membership.grants, User.active, Membership.created_at,
)
_ROLE_ORDER = {role: n for n, role in enumerate(ROLES)}


def _view(row: Any) -> MemberView:
    values = dict(row._mapping)
    values["grants"] = tuple(sorted(g for g in (values["grants"] or ()) if g in GROUP_LABELS))
    return MemberView(**values)


def _members(session: Session, store_id: int) -> list[MemberView]:
    rows = session.execute(
        select(*_MEMBER_COLUMNS).join(User, User.id == Membership.user_id)
        .where(Membership.store_id == store_id)
    ).all()
    members = [_view(r) for r in rows]
    return sorted(members, key=lambda m: (_ROLE_ORDER.get(m.role, 9), m.name.lower(), m.id))


def _member(
    session: Session, store_id: int, membership_id: int, *, lock: bool = False
) -> MemberView:
    if not is_id(membership_id):
        raise NotFound("Member not found.")
    query = (
        select(*_MEMBER_COLUMNS).join(User, User.id == Membership.user_id)
        .where(Membership.id == membership_id, Membership.store_id == store_id)
    )
    if lock:
        query = query.with_for_update(of=Membership)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("Member not found.")
    return _view(row)


__all__ = [
    "GROUP_LABELS",
    "ROLE_LABELS",
    "LastOwner",
    "MemberChange",
    "MemberView",
    "OwnerRequired",
    "StoreMembers",
    "StoreRef",
    "add_member",
    "add_user_to_store",
    "change_role",
    "get_member",
    "managed_stores",
    "remove_member",
    "set_grants",
    "store_members",
]
