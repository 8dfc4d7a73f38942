"""Read models for the audit trail: the Activity screen, its CSV, the API's read of it, and
the changes shown in an entry's and a product's history.

A store's activity is read with audit:read in that store, as its movements are. Rows that
belong to no store (user accounts, platform admin access, tokens) are for platform admins.
An entry's or product's own changes need only inventory:read, like its movement history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    and_,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

from app.extensions import db
from app.models import ApiToken, AuditEvent, InventoryEntry, Product, Store, User
from app.models.audit import OBJECT_TYPES
from app.permissions import AUDIT, READ, Actor
from app.services.cursors import decode_cursor, encode_cursor
from app.services.errors import NotFound, PermissionDenied

events = AuditEvent.__table__
stores = Store.__table__
products = Product.__table__
entries = InventoryEntry.__table__
users = User.__table__

COUNT_CAP = 10_000
CSV_BATCH = 500
# A value longer than this is cut on screen; the CSV carries it whole.
VALUE_CHARS = 80

OBJECT_LABELS = {
    "store": "Store",
    "location": "Location",
    "product": "Product",
    "entry": "Inventory entry",
    "supplier": "Supplier",
    "purchase_order": "Purchase order",
    "member": "Member",
    "user": "User account",
    "token": "API token",
}

# Actions whose plain reading ("Entry threshold set") is not how people say it. Any other
# action reads as its object and its verb: product.archived is "Product archived".
ACTION_LABELS = {
    "entry.threshold_set": "Threshold set",
    "entry.incoming_cleared": "Typed incoming cleared",
    "member.added": "Member added",
    "member.removed": "Member removed",
    "member.role_changed": "Role changed",
    "member.grants_changed": "Permissions changed",
    "user.platform_admin_granted": "Platform admin granted",
    "user.platform_admin_revoked": "Platform admin revoked",
    "user.password_reset": "Password reset",
    "user.password_changed": "Password changed",
    "token.created": "API token created",
    "token.revoked": "API token revoked",
}

# The kinds the filter offers besides each object type; actions written later still filter
# by their object type, and by their exact name through the URL and the API.
KIND_ACTIONS = (
    "store.created", "store.updated", "store.archived", "store.unarchived",
    "location.created", "location.updated", "location.archived", "location.unarchived",
    "location.deleted",
    "product.created", "product.updated", "product.archived", "product.unarchived",
    "entry.threshold_set",
    "supplier.created", "supplier.updated", "supplier.archived", "supplier.unarchived",
    "supplier.item_added", "supplier.item_updated", "supplier.item_removed",
    "purchase_order.created", "purchase_order.updated", "purchase_order.ordered",
    "purchase_order.received", "purchase_order.cancelled",
    "member.added", "member.role_changed", "member.grants_changed", "member.removed",
    "user.created", "user.updated", "user.deactivated", "user.reactivated",
    "user.password_reset", "user.platform_admin_granted", "user.platform_admin_revoked",
    "token.created", "token.revoked",
)

FIELD_LABELS = {
    "low_stock_threshold": "Low-stock threshold",
    "reorder_point": "Reorder point",
    "reorder_quantity": "Reorder quantity",
    "reorder_up_to": "Order up to",
    "allow_backorder": "Backorders",
    "sku": "SKU",
    "gtin": "GTIN",
    "is_platform_admin": "Platform admin",
    "grants": "Permissions",
    "archived_at": "Archived",
    "expires_at": "Expires",
    "store_ids": "Stores",
    "password_hash": "Password",
    "scan_opens": "A scan opens",
    "incoming_quantity": "Incoming",
    "lead_time_days": "Lead time (days)",
    "unit_cost": "Unit cost",
    "supplier_sku": "Supplier SKU",
    "min_order_qty": "Minimum order",
    "preferred_items": "Preferred for",
    "expected_on": "Expected",
}


def action_label(action: str) -> str:
    """An action in words: entry.threshold_set is "Threshold set"."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    kind, _, verb = action.partition(".")
    noun = OBJECT_LABELS.get(kind, kind.replace("_", " ").capitalize())
    return f"{noun} {verb.replace('_', ' ')}".strip() if verb else noun


def field_label(name: str) -> str:
    """A changed field in words: reorder_point is "Reorder point"."""
    return FIELD_LABELS.get(name) or name.replace("_", " ").capitalize()


def value_text(value: Any) -> str:
    """A recorded value as a person reads it, whole."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def short(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str
    after: str

    @property
    def label(self) -> str:
        return field_label(self.name)

    @property
    def before_short(self) -> str:
        return short(self.before)

    @property
    def after_short(self) -> str:
        return short(self.after)


@dataclass(frozen=True)
class ActivityFilters:
    """What narrows the trail; the URL and the API's query carry all of it.

    `kind` is an object type (every change to products) or one action (product.archived).
    `object_type` with `object_id` names one object; `product_id` a product together with
    its entries.
    """

    store_id: int | None = None
    actor_id: int | None = None
    actor_name: str | None = None
    kind: str | None = None
    object_type: str | None = None
    object_id: int | None = None
    product_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class ActivityView:
    id: int
    created_at: datetime
    store_id: int | None
    store_name: str | None
    action: str
    object_type: str
    object_id: int | None
    object_label: str
    object_exists: bool
    product_id: int | None
    changes: tuple[FieldChange, ...]
    # The fields as recorded, {field: [before, after]}, for the API.
    recorded: Mapping[str, Any]
    batch_ref: str | None
    actor_id: int | None
    actor_name: str

    @property
    def action_label(self) -> str:
        return action_label(self.action)

    @property
    def object_kind(self) -> str:
        return OBJECT_LABELS.get(self.object_type, self.object_type)


@dataclass(frozen=True)
class ActivityPage:
    rows: list[ActivityView]
    total: int
    total_capped: bool
    next_cursor: str | None
    prev_cursor: str | None


def is_kind(value: str) -> bool:
    """Whether `value` names an object type or an action of one (product.updated)."""
    kind, dot, verb = value.partition(".")
    if kind not in OBJECT_TYPES:
        return False
    return not dot or (0 < len(value) <= 40 and verb.replace("_", "a").isalpha()
                       and verb.isascii() and verb.islower())


# --------------------------------------------------------------------------- permission


def activity_scope(actor: Actor, column: Any = events.c.store_id) -> ColumnElement[bool]:
    """Rows the actor may read: stores where they hold audit:read; every row, store-less
    ones included, for a platform admin."""
    allowed = actor.stores_with(AUDIT)
    if allowed is None:
        return true()
    if not allowed:
        return false()
    return column.in_(sorted(allowed))


def can_read_activity(actor: Actor) -> bool:
    """Whether the actor may read the activity of at least one store."""
    allowed = actor.stores_with(AUDIT)
    return allowed is None or bool(allowed)


def _readable(actor: Actor, column: Any) -> ColumnElement[bool]:
    allowed = actor.stores_with(READ)
    return true() if allowed is None else column.in_(sorted(allowed))


def require_store_activity(actor: Actor, store_id: int) -> None:
    """A store's activity: NotFound when the actor cannot see the store (or it does not
    exist), PermissionDenied when they see it without audit:read."""
    found = db.session.scalar(
        select(stores.c.id).where(stores.c.id == store_id, _readable(actor, stores.c.id))
    )
    if found is None:
        raise NotFound("No such store among your stores.", {"store": "No such store."})
    if not actor.can(AUDIT, store_id):
        raise PermissionDenied(AUDIT)


def require_filters(actor: Actor, filters: ActivityFilters) -> None:
    """Raises NotFound when a filter names a store, product or object the actor cannot read
    or that never existed: the two read alike. A deleted object still has its history."""
    if filters.store_id is not None:
        found = db.session.scalar(
            select(stores.c.id).where(
                stores.c.id == filters.store_id, _readable(actor, stores.c.id)
            )
        )
        if found is None:
            raise NotFound("No such store among your stores.", {"store": "No such store."})
    if filters.product_id is not None:
        live = exists().where(
            products.c.id == filters.product_id, _readable(actor, products.c.store_id)
        )
        recorded = exists().where(
            events.c.product_id == filters.product_id, activity_scope(actor)
        )
        if not db.session.scalar(select(or_(live, recorded))):
            raise NotFound("No such product among your stores.", {"product": "No such product."})
    if filters.object_id is not None:
        recorded = exists().where(
            events.c.object_type == filters.object_type,
            events.c.object_id == filters.object_id,
            activity_scope(actor),
        )
        live = _live_object(actor, filters.object_type, filters.object_id)
        if not db.session.scalar(select(or_(live, recorded))):
            raise NotFound("No such object among your stores.", {"object": "No such object."})


def _live_object(actor: Actor, object_type: str | None, object_id: int) -> ColumnElement[bool]:
    from app.models import Location, PurchaseOrder, Supplier

    tables = {
        "store": (stores, stores.c.id),
        "product": (products, products.c.store_id),
        "entry": (entries, entries.c.store_id),
        "location": (Location.__table__, Location.__table__.c.store_id),
        "supplier": (Supplier.__table__, Supplier.__table__.c.store_id),
        "purchase_order": (PurchaseOrder.__table__, PurchaseOrder.__table__.c.store_id),
    }
    if object_type not in tables:
        return false()
    table, store_column = tables[object_type]
    return exists().where(table.c.id == object_id, _readable(actor, store_column))


# --------------------------------------------------------------------------- reads


def _select() -> Select[Any]:
    entry_object = and_(events.c.object_type == "entry", entries.c.id == events.c.object_id)
    product_object = and_(events.c.object_type == "product", products.c.id == events.c.object_id)
    return (
        select(
            events.c.id,
            events.c.created_at,
            events.c.store_id,
            stores.c.name.label("store_name"),
            events.c.action,
            events.c.object_type,
            events.c.object_id,
            events.c.object_label,
            # Whether the page can link to the object: it may have been deleted since.
            or_(entries.c.id.is_not(None), products.c.id.is_not(None)).label("object_exists"),
            events.c.product_id,
            events.c.changes,
            events.c.batch_ref,
            events.c.actor_id,
            events.c.actor_name,
        )
        .select_from(events)
        .outerjoin(stores, stores.c.id == events.c.store_id)
        .outerjoin(entries, entry_object)
        .outerjoin(products, product_object)
    )


def _view(row: Any) -> ActivityView:
    values = row._asdict()
    values["object_exists"] = bool(values["object_exists"])
    values["recorded"] = values["changes"] or {}
    values["changes"] = tuple(
        FieldChange(str(name), *_pair(pair)) for name, pair in values["recorded"].items()
    )
    return ActivityView(**values)


def _pair(pair: Any) -> tuple[str, str]:
    if isinstance(pair, list) and len(pair) == 2:
        return value_text(pair[0]), value_text(pair[1])
    return "—", value_text(pair)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(actor: Actor, filters: ActivityFilters) -> list[ColumnElement[bool]]:
    conditions = [activity_scope(actor)]
    if filters.store_id is not None:
        conditions.append(events.c.store_id == filters.store_id)
    if filters.actor_id is not None:
        conditions.append(events.c.actor_id == filters.actor_id)
    if filters.actor_name:
        pattern = "%" + _escape_like(filters.actor_name.strip()) + "%"
        named = select(users.c.id).where(users.c.name.ilike(pattern, escape="\\"))
        conditions.append(or_(events.c.actor_name.ilike(pattern, escape="\\"),
                              events.c.actor_id.in_(named)))
    if filters.kind is not None:
        column = events.c.action if "." in filters.kind else events.c.object_type
        conditions.append(column == filters.kind)
    if filters.object_type is not None:
        conditions.append(events.c.object_type == filters.object_type)
    if filters.object_id is not None:
        conditions.append(events.c.object_id == filters.object_id)
    if filters.product_id is not None:
        conditions.append(or_(
            events.c.product_id == filters.product_id,
            and_(events.c.object_type == "product", events.c.object_id == filters.product_id),
        ))
    if filters.date_from is not None:
        conditions.append(events.c.created_at >= _day_start(filters.date_from))
    if filters.date_to is not None and filters.date_to < date.max:
        conditions.append(events.c.created_at < _day_start(filters.date_to + timedelta(days=1)))
    return conditions


def _page(conditions: list[ColumnElement[bool]], cursor: str | None, limit: int) -> ActivityPage:
    """Newest first on (created_at, id), so a deep page costs what the first one does."""
    key = decode_cursor(cursor, datetime) if cursor else None
    backwards = bool(key and key.backwards)
    query = _select().where(*conditions)
    pair = tuple_(events.c.created_at, events.c.id)
    if key is not None:
        bound = tuple_(literal(key.value, DateTime()), literal(key.id, Integer()))
        query = query.where(pair > bound if backwards else pair < bound)
    order = (
        (events.c.created_at, events.c.id)
        if backwards
        else (events.c.created_at.desc(), events.c.id.desc())
    )
    fetched = [_view(r) for r in db.session.execute(query.order_by(*order).limit(limit + 1))]
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if backwards:
        fetched.reverse()
    counted = select(events.c.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    total = int(db.session.execute(select(func.count()).select_from(counted)).scalar_one())
    next_cursor = prev_cursor = None
    if fetched:
        first, last = fetched[0], fetched[-1]
        if more or backwards:
            next_cursor = encode_cursor(last.created_at, last.id, backwards=False)
        if key is not None and (more or not backwards):
            prev_cursor = encode_cursor(first.created_at, first.id, backwards=True)
    return ActivityPage(
        rows=fetched, total=min(total, COUNT_CAP), total_capped=total > COUNT_CAP,
        next_cursor=next_cursor, prev_cursor=prev_cursor,
    )


def list_activity(
    actor: Actor, filters: ActivityFilters, *, cursor: str | None = None, limit: int = 50
) -> ActivityPage:
    """One page of the trail, newest first, in the stores whose activity the actor may
    read. Raises ValidationError naming `cursor` for a forged page link."""
    return _page(_conditions(actor, filters), cursor, limit)


def iter_activity(actor: Actor, filters: ActivityFilters) -> Iterator[ActivityView]:
    """Every row matching the filters, newest first, read in batches so an export of any
    size runs in constant memory."""
    query = (
        _select()
        .where(*_conditions(actor, filters))
        .order_by(events.c.created_at.desc(), events.c.id.desc())
    )
    result = db.session.execute(query, execution_options={"yield_per": CSV_BATCH})
    try:
        for batch in result.partitions():
            for row in batch:
                yield _view(row)
    finally:
        result.close()


def entry_changes(actor: Actor, entry_id: int, *, limit: int = 20) -> ActivityPage:
    """The latest changes to one entry (its threshold), for its page. The caller has
    already shown the entry is readable; rows of stores the actor cannot read match
    nothing."""
    conditions = [
        events.c.object_type == "entry",
        events.c.object_id == entry_id,
        _readable(actor, events.c.store_id),
    ]
    return _page(conditions, None, limit)


def product_changes(actor: Actor, product_id: int, *, limit: int = 20) -> ActivityPage:
    """The latest changes to a product and its entries (reorder point, thresholds)."""
    conditions = [
        or_(events.c.product_id == product_id,
            and_(events.c.object_type == "product", events.c.object_id == product_id)),
        _readable(actor, events.c.store_id),
    ]
    return _page(conditions, None, limit)


def account_changes(user_id: int, *, limit: int = 20) -> ActivityPage:
    """The latest changes to a user's own account and API tokens, for the user to read on
    their account page, whoever made them."""
    own_tokens = select(ApiToken.__table__.c.id).where(ApiToken.__table__.c.user_id == user_id)
    conditions = [or_(
        and_(events.c.object_type == "user", events.c.object_id == user_id),
        and_(events.c.object_type == "token", events.c.object_id.in_(own_tokens)),
    )]
    return _page(conditions, None, limit)


# --------------------------------------------------------------------------- filter options


@dataclass(frozen=True)
class StoreOption:
    id: int
    name: str


def activity_stores(actor: Actor) -> list[StoreOption]:
    """Stores whose activity the actor may read, by name."""
    rows = db.session.execute(
        select(stores.c.id, stores.c.name)
        .where(stores.c.archived_at.is_(None), activity_scope(actor, stores.c.id))
        .order_by(stores.c.name, stores.c.id)
    )
    return [StoreOption(**r._asdict()) for r in rows]


# Objects that belong to no store: only platform admins read their changes here.
PLATFORM_OBJECTS = frozenset({"user", "token"})


def kind_options(actor: Actor) -> list[tuple[str, list[tuple[str, str]]]]:
    """The "what kind" choices the actor can find rows for: per object type, every change
    to it, then its actions."""
    grouped: list[tuple[str, list[tuple[str, str]]]] = []
    for object_type in OBJECT_TYPES:
        if object_type in PLATFORM_OBJECTS and actor.stores_with(AUDIT) is not None:
            continue
        label = OBJECT_LABELS[object_type]
        choices = [(object_type, f"Any {label.lower()} change")]
        choices += [(a, action_label(a)) for a in KIND_ACTIONS
                    if a.partition(".")[0] == object_type]
        grouped.append((label, choices))
    return grouped


def kind_label(kind: str) -> str:
    """A kind filter in words, for its chip."""
    if "." in kind:
        return action_label(kind)
    return f"Any {OBJECT_LABELS.get(kind, kind).lower()} change"


def filter_names(actor: Actor, filters: ActivityFilters) -> Mapping[str, str | None]:
    """What the filtered ids are called, for the chips: as the trail last recorded them,
    and only within what the actor may read."""
    names: dict[str, str | None] = {}
    scope = activity_scope(actor)
    if filters.store_id is not None:
        names["store"] = db.session.scalar(
            select(stores.c.name).where(stores.c.id == filters.store_id,
                                        _readable(actor, stores.c.id))
        )
    if filters.product_id is not None:
        names["product"] = db.session.scalar(
            select(events.c.object_label)
            .where(events.c.object_type == "product", events.c.object_id == filters.product_id,
                   scope)
            .order_by(events.c.id.desc()).limit(1)
        ) or db.session.scalar(
            select(products.c.title).where(products.c.id == filters.product_id,
                                           _readable(actor, products.c.store_id))
        )
    if filters.object_id is not None:
        names["object"] = db.session.scalar(
            select(events.c.object_label)
            .where(events.c.object_type == filters.object_type,
                   events.c.object_id == filters.object_id, scope)
            .order_by(events.c.id.desc()).limit(1)
        )
    if filters.actor_id is not None:
        # A user id must not reveal who works elsewhere: named only from rows in scope.
        names["actor"] = db.session.scalar(
            select(events.c.actor_name)
            .where(events.c.actor_id == filters.actor_id, scope)
            .order_by(events.c.id.desc()).limit(1)
        )
    return names
