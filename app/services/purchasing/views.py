"""Suppliers and purchase orders as screens, the API and the CLI read them: plain frozen
rows, amounts as Decimals in their currency's units (never the stored integers)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from app.extensions import db
from app.models import (
    OPEN_STATUSES,
    PURCHASE_ORDER_STATUSES,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    StockMovement,
    Store,
    Supplier,
    SupplierItem,
)
from app.permissions import READ, RECEIVE, Actor
from app.services.errors import NotFound, ValidationError
from app.services.money import amount
from app.services.stores import require_store
from app.services.validation import is_id

suppliers = Supplier.__table__
supplier_items = SupplierItem.__table__
orders = PurchaseOrder.__table__
lines = PurchaseOrderLine.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__
movements = StockMovement.__table__

STATUS_LABELS = {
    "draft": "Draft",
    "ordered": "Ordered",
    "partially_received": "Partly received",
    "received": "Received",
    "cancelled": "Cancelled",
}


@dataclass(frozen=True)
class SupplierView:
    id: int
    store_id: int
    name: str
    contact_name: str | None
    email: str | None
    phone: str | None
    currency: str
    lead_time_days: int
    notes: str | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True)
class SupplierItemView:
    id: int
    store_id: int
    supplier_id: int
    supplier_name: str
    supplier_archived: bool
    lead_time_days: int
    product_id: int
    sku: str
    title: str
    supplier_sku: str | None
    currency: str
    unit_cost: Decimal
    pack_size: int
    min_order_qty: int
    preferred: bool


@dataclass(frozen=True)
class PurchaseOrderLineView:
    id: int
    product_id: int
    sku: str
    title: str
    location_id: int
    location_code: str
    ordered_qty: int
    received_qty: int
    over_received_qty: int
    unit_cost: Decimal

    @property
    def outstanding_qty(self) -> int:
        return max(self.ordered_qty - self.received_qty, 0)

    @property
    def line_total(self) -> Decimal:
        return self.unit_cost * self.ordered_qty


@dataclass(frozen=True)
class PurchaseOrderView:
    id: int
    store_id: int
    number: str
    supplier_id: int
    supplier_name: str
    status: str
    expected_on: date | None
    notes: str | None
    currency: str
    # Store currency per unit of the order's; None when the order is in the store's.
    exchange_rate: Decimal | None
    version: int
    created_at: datetime
    created_by_name: str
    ordered_at: datetime | None
    ordered_by_name: str | None
    closed_at: datetime | None
    closed_by_name: str | None
    updated_at: datetime
    lines: tuple[PurchaseOrderLineView, ...] = ()
    # True when an idempotent repeat returned the first request's order.
    replayed: bool = False
    # Where it is to arrive (the default location of a line added to it), when chosen.
    deliver_to_id: int | None = None
    deliver_to_code: str | None = None
    deliver_to_name: str | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def is_open(self) -> bool:
        """Ordered and not all there yet: what it brings counts as incoming."""
        return self.status in OPEN_STATUSES

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal(0))

    @property
    def outstanding_qty(self) -> int:
        return sum(line.outstanding_qty for line in self.lines) if self.is_open else 0


@dataclass(frozen=True)
class PurchaseOrderSummary:
    """One order in a list: no lines, their counts."""

    id: int
    store_id: int
    number: str
    supplier_id: int
    supplier_name: str
    status: str
    expected_on: date | None
    currency: str
    created_at: datetime
    line_count: int
    ordered_qty: int
    received_qty: int
    total: Decimal

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


# --------------------------------------------------------------------------- suppliers


def supplier_view(row: Any) -> SupplierView:
    return SupplierView(
        id=row.id, store_id=row.store_id, name=row.name, contact_name=row.contact_name,
        email=row.email, phone=row.phone, currency=row.currency,
        lead_time_days=row.lead_time_days, notes=row.notes, archived_at=row.archived_at,
        created_at=row.created_at, updated_at=row.updated_at,
    )


def _readable(actor: Actor, store_id: int) -> bool:
    return actor.is_member(store_id) and actor.can(READ, store_id)


def get_supplier(actor: Actor, supplier_id: int) -> SupplierView:
    """Raises NotFound for a supplier the actor cannot read (a foreign store's too)."""
    row = db.session.execute(
        select(suppliers).where(suppliers.c.id == supplier_id)
    ).one_or_none() if is_id(supplier_id) else None
    if row is None or not _readable(actor, row.store_id):
        raise NotFound("Supplier not found.", {"supplier_id": "No such supplier."})
    return supplier_view(row)


def list_suppliers(actor: Actor, store_id: int, *, include_archived: bool = False
                   ) -> list[SupplierView]:
    """A store's suppliers by name; archived ones only when asked."""
    require_store(actor, READ, store_id)
    query = select(suppliers).where(suppliers.c.store_id == store_id)
    if not include_archived:
        query = query.where(suppliers.c.archived_at.is_(None))
    return [supplier_view(r) for r in db.session.execute(
        query.order_by(func.lower(suppliers.c.name), suppliers.c.id))]


def _items_query() -> Select[Any]:
    return (
        select(
            supplier_items.c.id, supplier_items.c.store_id, supplier_items.c.supplier_id,
            suppliers.c.name.label("supplier_name"),
            suppliers.c.archived_at.label("supplier_archived_at"),
            suppliers.c.lead_time_days, suppliers.c.currency,
            supplier_items.c.product_id, products.c.sku, products.c.title,
            supplier_items.c.supplier_sku, supplier_items.c.unit_cost,
            supplier_items.c.pack_size, supplier_items.c.min_order_qty,
            supplier_items.c.preferred,
        )
        .join(suppliers, suppliers.c.id == supplier_items.c.supplier_id)
        .join(products, products.c.id == supplier_items.c.product_id)
    )


def item_view(row: Any) -> SupplierItemView:
    return SupplierItemView(
        id=row.id, store_id=row.store_id, supplier_id=row.supplier_id,
        supplier_name=row.supplier_name,
        supplier_archived=row.supplier_archived_at is not None,
        lead_time_days=row.lead_time_days, product_id=row.product_id, sku=row.sku,
        title=row.title, supplier_sku=row.supplier_sku, currency=row.currency,
        unit_cost=amount(row.unit_cost),  # type: ignore[arg-type]
        pack_size=row.pack_size, min_order_qty=row.min_order_qty,
        preferred=bool(row.preferred),
    )


def get_supplier_item(actor: Actor, supplier_item_id: int) -> SupplierItemView:
    """Raises NotFound for an item the actor cannot read."""
    row = db.session.execute(
        _items_query().where(supplier_items.c.id == supplier_item_id)
    ).one_or_none() if is_id(supplier_item_id) else None
    if row is None or not _readable(actor, row.store_id):
        raise NotFound("Supplier item not found.", {"supplier_item_id": "No such item."})
    return item_view(row)


def list_supplier_items(actor: Actor, supplier_id: int) -> list[SupplierItemView]:
    """What a supplier sells, by SKU."""
    supplier = get_supplier(actor, supplier_id)
    return [item_view(r) for r in db.session.execute(
        _items_query().where(supplier_items.c.supplier_id == supplier.id)
        .order_by(products.c.sku))]


def product_suppliers(actor: Actor, product_id: int) -> list[SupplierItemView]:
    """Who sells a product: the preferred supplier first, then by cost; archived suppliers
    are left out."""
    store_id = db.session.scalar(
        select(products.c.store_id).where(products.c.id == product_id)
    ) if is_id(product_id) else None
    if store_id is None or not _readable(actor, store_id):
        raise NotFound("Product not found.", {"product_id": "No such product."})
    return [item_view(r) for r in db.session.execute(
        _items_query().where(supplier_items.c.product_id == product_id,
                             suppliers.c.archived_at.is_(None))
        .order_by(supplier_items.c.preferred.desc(), supplier_items.c.unit_cost,
                  suppliers.c.name))]


@dataclass(frozen=True)
class SupplierCounts:
    """What a supplier's row in a list says beside its details."""

    items: int = 0
    drafts: int = 0
    open_orders: int = 0


def supplier_counts(actor: Actor, store_id: int) -> dict[int, SupplierCounts]:
    """Each of a store's suppliers' items, draft orders and open (ordered, partly received)
    orders, by supplier id; a supplier with none of them is left out. Two grouped reads."""
    require_store(actor, READ, store_id)
    items = dict(db.session.execute(
        select(supplier_items.c.supplier_id, func.count())
        .where(supplier_items.c.store_id == store_id)
        .group_by(supplier_items.c.supplier_id)
    ).all())
    placed: dict[int, dict[str, int]] = {}
    for supplier_id, status, count in db.session.execute(
        select(orders.c.supplier_id, orders.c.status, func.count())
        .where(orders.c.store_id == store_id,
               orders.c.status.in_(("draft", *OPEN_STATUSES)))
        .group_by(orders.c.supplier_id, orders.c.status)
    ):
        kind = "drafts" if status == "draft" else "open_orders"
        placed.setdefault(supplier_id, {}).setdefault(kind, 0)
        placed[supplier_id][kind] += count
    return {
        supplier_id: SupplierCounts(items=items.get(supplier_id, 0),
                                    **placed.get(supplier_id, {}))
        for supplier_id in set(items) | set(placed)
    }


# --------------------------------------------------------------------------- orders


def order_view(row: Any, order_lines: Sequence[PurchaseOrderLineView], *,
               replayed: bool = False) -> PurchaseOrderView:
    return PurchaseOrderView(
        id=row.id, store_id=row.store_id, number=row.number, supplier_id=row.supplier_id,
        supplier_name=row.supplier_name, status=row.status, expected_on=row.expected_on,
        notes=row.notes, currency=row.currency, exchange_rate=row.exchange_rate,
        version=row.version, created_at=row.created_at, created_by_name=row.created_by_name,
        ordered_at=row.ordered_at, ordered_by_name=row.ordered_by_name,
        closed_at=row.closed_at, closed_by_name=row.closed_by_name,
        updated_at=row.updated_at, lines=tuple(order_lines), replayed=replayed,
        deliver_to_id=row.deliver_to_id, deliver_to_code=row.deliver_to_code,
        deliver_to_name=row.deliver_to_name,
    )


_DESTINATION = Location.__table__.alias("destination")
_ORDER = (
    select(orders, suppliers.c.name.label("supplier_name"),
           _DESTINATION.c.code.label("deliver_to_code"),
           _DESTINATION.c.name.label("deliver_to_name"))
    .join(suppliers, suppliers.c.id == orders.c.supplier_id)
    .outerjoin(_DESTINATION, _DESTINATION.c.id == orders.c.deliver_to_id)
)
_LINES = (
    select(lines.c.id, lines.c.order_id, lines.c.product_id, products.c.sku, products.c.title,
           lines.c.location_id, locations.c.code.label("location_code"), lines.c.ordered_qty,
           lines.c.received_qty, lines.c.over_received_qty, lines.c.unit_cost)
    .join(products, products.c.id == lines.c.product_id)
    .join(locations, locations.c.id == lines.c.location_id)
)


def line_view(row: Any) -> PurchaseOrderLineView:
    return PurchaseOrderLineView(
        id=row.id, product_id=row.product_id, sku=row.sku, title=row.title,
        location_id=row.location_id, location_code=row.location_code,
        ordered_qty=row.ordered_qty, received_qty=row.received_qty,
        over_received_qty=row.over_received_qty,
        unit_cost=amount(row.unit_cost),  # type: ignore[arg-type]
    )


def read_order(session: Any, order_id: int, *, replayed: bool = False) -> PurchaseOrderView:
    """An order and its lines (by SKU, then location) as the session sees them."""
    row = session.execute(_ORDER.where(orders.c.id == order_id)).one()
    found = session.execute(
        _LINES.where(lines.c.order_id == order_id)
        .order_by(products.c.sku, locations.c.code, lines.c.id)
    ).all()
    return order_view(row, [line_view(r) for r in found], replayed=replayed)


def get_purchase_order(actor: Actor, order_id: int) -> PurchaseOrderView:
    """An order with its lines. Raises NotFound for one the actor cannot read."""
    store_id = db.session.scalar(
        select(orders.c.store_id).where(orders.c.id == order_id)
    ) if is_id(order_id) else None
    if store_id is None or not _readable(actor, store_id):
        raise NotFound("Purchase order not found.", {"order_id": "No such purchase order."})
    return read_order(db.session, order_id)


def find_purchase_order(actor: Actor, store_id: int, number: str) -> PurchaseOrderView:
    """A store's order by its number, any case ("po-0007"), as a scanner reads it.
    Raises NotFound naming `number`."""
    require_store(actor, READ, store_id)
    text = number.strip().upper() if isinstance(number, str) else ""
    order_id = db.session.scalar(
        select(orders.c.id).where(orders.c.store_id == store_id, orders.c.number == text)
    ) if text else None
    if order_id is None:
        raise NotFound(f"No purchase order {text or number} in this store.",
                       {"number": "No such purchase order in this store."})
    return read_order(db.session, order_id)


def list_purchase_orders(
    actor: Actor,
    store_id: int,
    *,
    status: str | None = None,
    supplier_id: int | None = None,
    limit: int = 200,
    before_id: int | None = None,
) -> list[PurchaseOrderSummary]:
    """A store's orders, newest first. `status` is one of the statuses, or "open" for
    ordered and partly received ones; `before_id` starts after that order (the next page,
    by key). Raises ValidationError naming `status`, `supplier_id` or `before_id`."""
    require_store(actor, READ, store_id)
    problems = {}
    if status is not None and status != "open" and status not in PURCHASE_ORDER_STATUSES:
        problems["status"] = "Choose a status from the list."
    if supplier_id is not None and not is_id(supplier_id):
        problems["supplier_id"] = "Choose a supplier from the list."
    if before_id is not None and not is_id(before_id):
        problems["before_id"] = "Not a page of this list."
    if problems:
        raise ValidationError(problems)
    totals = (
        select(
            lines.c.order_id,
            func.count().label("line_count"),
            func.sum(lines.c.ordered_qty).label("ordered_qty"),
            func.sum(lines.c.received_qty).label("received_qty"),
            func.sum(lines.c.ordered_qty * lines.c.unit_cost).label("total"),
        )
        .group_by(lines.c.order_id)
        .subquery()
    )
    query = (
        select(orders.c.id, orders.c.store_id, orders.c.number, orders.c.supplier_id,
               suppliers.c.name.label("supplier_name"), orders.c.status, orders.c.expected_on,
               orders.c.currency, orders.c.created_at, totals.c.line_count,
               totals.c.ordered_qty, totals.c.received_qty, totals.c.total)
        .join(suppliers, suppliers.c.id == orders.c.supplier_id)
        .outerjoin(totals, totals.c.order_id == orders.c.id)
        .where(orders.c.store_id == store_id)
    )
    if status == "open":
        query = query.where(orders.c.status.in_(OPEN_STATUSES))
    elif status is not None:
        query = query.where(orders.c.status == status)
    if supplier_id is not None:
        query = query.where(orders.c.supplier_id == supplier_id)
    if before_id is not None:
        query = query.where(orders.c.id < before_id)
    rows = db.session.execute(query.order_by(orders.c.id.desc()).limit(max(1, min(limit, 1000))))
    return [
        PurchaseOrderSummary(
            id=r.id, store_id=r.store_id, number=r.number, supplier_id=r.supplier_id,
            supplier_name=r.supplier_name, status=r.status, expected_on=r.expected_on,
            currency=r.currency, created_at=r.created_at, line_count=int(r.line_count or 0),
            ordered_qty=int(r.ordered_qty or 0), received_qty=int(r.received_qty or 0),
            total=amount(int(r.total or 0)),  # type: ignore[arg-type]
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- receiving

# What a line still awaits: never below 0 (a confirmed over-receipt leaves it at 0).
_AWAITED = case((lines.c.ordered_qty > lines.c.received_qty,
                 lines.c.ordered_qty - lines.c.received_qty), else_=0)
# The soonest expected first, undated orders after every dated one, then the older order.
_ARRIVAL_ORDER = (orders.c.expected_on.is_(None), orders.c.expected_on, orders.c.sequence,
                  orders.c.id)


@dataclass(frozen=True)
class ReceivableOrder:
    """An order as the receiving screen lists it: where its units go and how many of them
    are still awaited."""

    id: int
    store_id: int
    number: str
    supplier_name: str
    status: str
    expected_on: date | None
    line_count: int
    outstanding_qty: int
    # Location codes of the lines still awaiting units (of every line once none does).
    destinations: tuple[str, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class OpenLineView:
    """A line of an open order still awaiting units, as "whatever arrives" assigns them."""

    line_id: int
    order_id: int
    number: str
    order_version: int
    supplier_name: str
    expected_on: date | None
    product_id: int
    sku: str
    title: str
    gtin: str | None
    location_id: int
    location_code: str
    ordered_qty: int
    received_qty: int

    @property
    def outstanding_qty(self) -> int:
        return max(self.ordered_qty - self.received_qty, 0)


@dataclass(frozen=True)
class ReceiptLineView:
    line_id: int
    product_id: int
    sku: str
    title: str
    location_code: str
    quantity: int
    # On hand at the line's location right after this receipt.
    on_hand_after: int
    # What the line still awaits now.
    outstanding_qty: int
    reason: str | None


@dataclass(frozen=True)
class ReceiptView:
    """One receipt: the batch of `received` ledger rows one call to receive_purchase_order
    wrote, named by its first row's id."""

    id: int
    order_id: int
    store_id: int
    number: str
    supplier_name: str
    # The order's status now.
    status: str
    received_at: datetime
    received_by: str
    lines: tuple[ReceiptLineView, ...]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)


def _receivable(actor: Actor, store_id: int | None) -> Select[Any]:
    """Orders in the stores where the actor may receive (only `store_id` when given).
    Raises NotFound, PermissionDenied for a store named that they may not receive in."""
    query = select(orders.c.id, orders.c.store_id, orders.c.number, orders.c.status,
                   orders.c.expected_on, suppliers.c.name.label("supplier_name")).join(
        suppliers, suppliers.c.id == orders.c.supplier_id)
    if store_id is not None:
        require_store(actor, RECEIVE, store_id)
        return query.where(orders.c.store_id == store_id)
    scope = actor.stores_with(RECEIVE)
    if scope is not None:
        query = query.where(orders.c.store_id.in_(sorted(scope)))
    return query


def _with_lines(found: Sequence[Any]) -> list[ReceivableOrder]:
    """Each order with its line count, what it still awaits and where: one query."""
    per_place: dict[int, list[tuple[str, int, int]]] = {r.id: [] for r in found}
    for chunk in _chunks(sorted(per_place), 500):
        for r in db.session.execute(
            select(lines.c.order_id, locations.c.code, func.count().label("n"),
                   func.sum(_AWAITED).label("awaited"))
            .join(locations, locations.c.id == lines.c.location_id)
            .where(lines.c.order_id.in_(chunk))
            .group_by(lines.c.order_id, locations.c.code)
            .order_by(lines.c.order_id, locations.c.code)
        ):
            per_place[r.order_id].append((r.code, int(r.n), int(r.awaited or 0)))
    result = []
    for r in found:
        places = per_place[r.id]
        awaited = sum(a for _, _, a in places)
        open_places = [c for c, _, a in places if a > 0] if r.status in OPEN_STATUSES else []
        result.append(ReceivableOrder(
            id=r.id, store_id=r.store_id, number=r.number, supplier_name=r.supplier_name,
            status=r.status, expected_on=r.expected_on,
            line_count=sum(n for _, n, _ in places),
            outstanding_qty=awaited if r.status in OPEN_STATUSES else 0,
            destinations=tuple(open_places or [c for c, _, _ in places]),
        ))
    return result


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def list_receivable_orders(actor: Actor, *, store_id: int | None = None,
                           limit: int = 200) -> list[ReceivableOrder]:
    """The open orders (ordered, partly received) the actor may receive against, in the
    stores where they hold inventory:receive (only `store_id` when given): the soonest
    expected first, undated ones last, then by number. Raises NotFound, PermissionDenied
    for a store given that they may not receive in."""
    query = _receivable(actor, store_id).where(orders.c.status.in_(OPEN_STATUSES))
    found = db.session.execute(
        query.order_by(*_ARRIVAL_ORDER).limit(max(1, min(limit, 1000)))).all()
    return _with_lines(found)


def find_orders_to_receive(actor: Actor, number: str, *, store_id: int | None = None
                           ) -> list[ReceivableOrder]:
    """Orders of any status numbered `number` (any case, as a scanner reads a printed
    order) in the stores where the actor may receive (only `store_id` when given); one
    per store at most. Raises NotFound, PermissionDenied for a store given that they may
    not receive in."""
    text = number.strip().upper() if isinstance(number, str) else ""
    if not text or len(text) > 20:
        if store_id is not None:
            require_store(actor, RECEIVE, store_id)
        return []
    query = _receivable(actor, store_id).where(orders.c.number == text)
    return _with_lines(db.session.execute(query.order_by(orders.c.store_id)).all())


def receiving_codes(actor: Actor, order_id: int) -> dict[int, tuple[str, ...]]:
    """What a scanner may read for each line of an order: its product's SKU, its GTIN,
    and the order's supplier's own SKU for it, where there are ones. Raises NotFound for
    an order the actor cannot read."""
    order = db.session.execute(
        select(orders.c.id, orders.c.store_id, orders.c.supplier_id)
        .where(orders.c.id == order_id)
    ).one_or_none() if is_id(order_id) else None
    if order is None or not _readable(actor, order.store_id):
        raise NotFound("Purchase order not found.", {"order_id": "No such purchase order."})
    rows = db.session.execute(
        select(lines.c.id, products.c.sku, products.c.gtin, supplier_items.c.supplier_sku)
        .join(products, products.c.id == lines.c.product_id)
        .outerjoin(supplier_items, and_(supplier_items.c.product_id == lines.c.product_id,
                                        supplier_items.c.supplier_id == order.supplier_id))
        .where(lines.c.order_id == order.id)
        .order_by(lines.c.id)
    )
    return {r.id: tuple(dict.fromkeys(c for c in (r.sku, r.gtin, r.supplier_sku) if c))
            for r in rows}


def product_for_code(actor: Actor, store_id: int, code: str) -> tuple[int, str] | None:
    """(id, SKU) of the store's product whose SKU (any case) or GTIN is `code`, the SKU
    first; None when there is none, or the actor cannot read the store. What a receiving
    screen names when a scanned code is on no line it can take."""
    text = code.strip() if isinstance(code, str) else ""
    if not text or len(text) > 100 or not _readable(actor, store_id):
        return None
    found = db.session.execute(
        select(products.c.id, products.c.sku).where(
            products.c.store_id == store_id,
            or_(func.lower(products.c.sku) == text.lower(), products.c.gtin == text))
        .order_by(products.c.id).limit(20)
    ).all()
    found.sort(key=lambda r: r.sku.lower() != text.lower())
    return (found[0].id, found[0].sku) if found else None


def open_lines_at(actor: Actor, location_id: int, product_ids: Sequence[int]
                  ) -> list[OpenLineView]:
    """The lines of open orders still awaiting these products at this location, by
    product id, each product's in the order "whatever arrives" fills them: the soonest
    expected order first (undated ones last), then the older order. Raises NotFound for a
    location the actor cannot read."""
    store_id = db.session.scalar(
        select(locations.c.store_id).where(locations.c.id == location_id)
    ) if is_id(location_id) else None
    if store_id is None or not _readable(actor, store_id):
        raise NotFound("Location not found.", {"location_id": "No such location."})
    wanted = sorted({p for p in product_ids if is_id(p)})
    found: list[OpenLineView] = []
    for chunk in _chunks(wanted, 500):
        found.extend(OpenLineView(
            line_id=r.id, order_id=r.order_id, number=r.number, order_version=r.version,
            supplier_name=r.supplier_name, expected_on=r.expected_on,
            product_id=r.product_id, sku=r.sku, title=r.title, gtin=r.gtin,
            location_id=r.location_id,
            location_code=r.location_code, ordered_qty=r.ordered_qty,
            received_qty=r.received_qty,
        ) for r in db.session.execute(
            select(lines.c.id, lines.c.order_id, orders.c.number, orders.c.version,
                   suppliers.c.name.label("supplier_name"), orders.c.expected_on,
                   lines.c.product_id, products.c.sku, products.c.title, products.c.gtin,
                   lines.c.location_id,
                   locations.c.code.label("location_code"), lines.c.ordered_qty,
                   lines.c.received_qty)
            .join(orders, orders.c.id == lines.c.order_id)
            .join(suppliers, suppliers.c.id == orders.c.supplier_id)
            .join(products, products.c.id == lines.c.product_id)
            .join(locations, locations.c.id == lines.c.location_id)
            .where(lines.c.location_id == location_id, lines.c.product_id.in_(chunk),
                   orders.c.status.in_(OPEN_STATUSES),
                   lines.c.ordered_qty > lines.c.received_qty)
            .order_by(lines.c.product_id, *_ARRIVAL_ORDER, lines.c.id)
        ))
    return found


MAX_RECEIPTS = 100


def get_receipts(actor: Actor, receipt_ids: Sequence[int]) -> list[ReceiptView]:
    """Receipts by their first ledger row's id, in the order given. Raises NotFound for
    one that is not a receipt the actor can read."""
    wanted = list(dict.fromkeys(receipt_ids))
    if not wanted or len(wanted) > MAX_RECEIPTS or not all(is_id(i) for i in wanted):
        raise NotFound("Receipt not found.")
    heads = {r.id: r for r in db.session.execute(
        select(movements.c.id, movements.c.store_id, movements.c.batch_ref)
        .where(movements.c.id.in_(wanted), movements.c.type == "received",
               movements.c.purchase_order_line_id.is_not(None),
               movements.c.batch_ref.is_not(None))
    )}
    for receipt_id in wanted:
        head = heads.get(receipt_id)
        if head is None or not _readable(actor, head.store_id):
            raise NotFound("Receipt not found.")
    rows = db.session.execute(
        select(movements.c.id, movements.c.batch_ref, movements.c.quantity_delta,
               movements.c.quantity_after, movements.c.reason, movements.c.created_at,
               movements.c.actor_name, movements.c.product_id, lines.c.id.label("line_id"),
               lines.c.ordered_qty, lines.c.received_qty, orders.c.id.label("order_id"),
               orders.c.store_id, orders.c.number, orders.c.status,
               suppliers.c.name.label("supplier_name"), products.c.sku, products.c.title,
               locations.c.code.label("location_code"))
        .join(lines, lines.c.id == movements.c.purchase_order_line_id)
        .join(orders, orders.c.id == lines.c.order_id)
        .join(suppliers, suppliers.c.id == orders.c.supplier_id)
        .join(products, products.c.id == movements.c.product_id)
        .join(locations, locations.c.id == movements.c.location_id)
        .where(movements.c.batch_ref.in_(sorted({h.batch_ref for h in heads.values()})),
               movements.c.type == "received")
        .order_by(movements.c.id)
    ).all()
    receipts = []
    for receipt_id in wanted:
        batch = [r for r in rows if r.batch_ref == heads[receipt_id].batch_ref]
        first = batch[0]
        receipts.append(ReceiptView(
            id=receipt_id, order_id=first.order_id, store_id=first.store_id,
            number=first.number, supplier_name=first.supplier_name, status=first.status,
            received_at=first.created_at, received_by=first.actor_name,
            lines=tuple(ReceiptLineView(
                line_id=r.line_id, product_id=r.product_id, sku=r.sku, title=r.title,
                location_code=r.location_code, quantity=r.quantity_delta,
                on_hand_after=r.quantity_after,
                outstanding_qty=max(r.ordered_qty - r.received_qty, 0), reason=r.reason,
            ) for r in sorted(batch, key=lambda r: (r.sku, r.location_code, r.id))),
        ))
    return receipts


__all__ = [
    "STATUS_LABELS",
    "OpenLineView",
    "PurchaseOrderLineView",
    "PurchaseOrderSummary",
    "PurchaseOrderView",
    "ReceiptLineView",
    "ReceiptView",
    "ReceivableOrder",
    "SupplierCounts",
    "SupplierItemView",
    "SupplierView",
    "find_orders_to_receive",
    "find_purchase_order",
    "get_purchase_order",
    "get_receipts",
    "get_supplier",
    "get_supplier_item",
    "list_purchase_orders",
    "list_receivable_orders",
    "list_suppliers",
    "list_supplier_items",
    "open_lines_at",
    "product_for_code",
    "product_suppliers",
    "read_order",
    "receiving_codes",
    "supplier_counts",
]
