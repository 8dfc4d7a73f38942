"""Purchase orders: a draft with its lines, placed with the supplier (ordered), received in
one or more receipts (partially_received, then received), or cancelled.

Every verb locks the order's row first, so the changes to one order (a receipt, an edit, a
cancellation) apply one after the other and each sees what the last one left; entries
are locked after it, in primary-key order (stock.receipts). What an open order still
brings is each entry's incoming, recounted in the same transaction as ordering, receiving
and cancelling. A receipt is one batch of `received` ledger rows, each naming its line.
Managing orders needs purchasing:manage; receiving needs inventory:receive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import write_transaction
from app.extensions import db
from app.models import (
    OPEN_STATUSES,
    Location,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierItem,
)
from app.permissions import PURCHASING, RECEIVE, Actor
from app.services import audit, events
from app.services.errors import (
    Conflict,
    NotFound,
    OverReceipt,
    StalePurchaseOrder,
    ValidationError,
)
from app.services.money import amount, check_amount, check_rate, convert
from app.services.purchasing.common import (
    check_notes,
    checked_line_places,
    line_field,
    products,
    require,
    stockable,
    store_currency,
    stores,
    text_or_none,
)
from app.services.purchasing.views import (
    STATUS_LABELS,
    PurchaseOrderView,
    SupplierItemView,
    get_purchase_order,
    product_suppliers,
    read_order,
)
from app.services.stock.engine import StockChange, run_mutation
from app.services.stock.receipts import (
    Delivery,
    expect_deliveries,
    receive_deliveries,
    refresh_incoming,
)
from app.services.validation import LIMIT, Checker, clean_text, is_id

orders = PurchaseOrder.__table__
order_lines = PurchaseOrderLine.__table__
suppliers = Supplier.__table__
supplier_items = SupplierItem.__table__
locations = Location.__table__

MAX_PURCHASE_ORDER_LINES = 1_000
# A line's ordered quantity × unit cost, as stored (100,000,000,000 in the order's
# currency): the sum of a full order's lines stays exact in a 64-bit integer.
MAX_LINE_TOTAL = 10**15


def purchase_order_number(sequence: int) -> str:
    """The number people read: PO-0001, PO-10000."""
    return f"PO-{sequence:04d}"


# --------------------------------------------------------------------------- checks


def _check_new_lines(check: Checker, given: Any, *, allow_empty: bool) -> list[dict[str, Any]]:
    """Lines to add to an order, each {product_id, location_id, quantity, unit_cost (an
    amount; the supplier's cost when left out)}, checked field by field; the parsed lines
    (unit_cost stored, or None to look up)."""
    if given is None or (isinstance(given, Sequence) and not isinstance(given, str)
                         and not given):
        if not allow_empty:
            check.fail("lines", "Add at least one line.")
        return []
    parsed: list[dict[str, Any]] = []
    for n, line, product_id, location_id in checked_line_places(
            check, given, limit=MAX_PURCHASE_ORDER_LINES, empty="Send a list of lines.",
            too_many=f"At most {MAX_PURCHASE_ORDER_LINES:,} lines per order.",
            shape="Each line needs product_id, location_id and quantity."):
        check.whole(line_field(n, "quantity"), line.get("quantity"), minimum=1)
        cost = check_amount(check, line_field(n, "unit_cost"), line.get("unit_cost"),
                            required=False)
        parsed.append({"n": n, "product_id": product_id, "location_id": location_id,
                       "quantity": line.get("quantity"), "unit_cost": cost})
    return parsed


def _check_line_total(check: Checker, field: str, quantity: int, cost: int) -> None:
    if quantity * cost > MAX_LINE_TOTAL:
        check.fail(field, "The line's total (quantity × unit cost) is beyond "
                          f"{MAX_LINE_TOTAL // 10_000:,}.")


def _check_expected_on(check: Checker, value: Any) -> None:
    if value is not None and (type(value) is not date):
        check.fail("expected_on", "Enter a date.")


def _check_version(check: Checker, expected_version: Any) -> None:
    check.optional_whole("expected_version", expected_version, minimum=1)


# --------------------------------------------------------------------------- inside


def _locked_order(session: Session, actor: Actor, order_id: Any, permission: str) -> Row[Any]:
    """The order's row, locked until the transaction ends, after the actor's permission in
    its store is checked. A foreign or missing order is NotFound."""
    row = session.execute(
        select(orders).where(orders.c.id == order_id).with_for_update(key_share=True)
    ).one_or_none() if is_id(order_id) else None
    if row is None or not actor.is_member(row.store_id):
        raise NotFound("Purchase order not found.", {"order_id": "No such purchase order."})
    require(actor, permission, row.store_id)
    return row


def _require_version(order: Row[Any], expected_version: int | None) -> None:
    if expected_version is not None and order.version != expected_version:
        raise StalePurchaseOrder(order.number, order.version)


def _require_draft(order: Row[Any], doing: str) -> None:
    if order.status != "draft":
        raise Conflict(f"{order.number} is {STATUS_LABELS[order.status].lower()}: only a "
                       f"draft can {doing}.")


def _touch(session: Session, order_id: int, now: datetime, **values: Any) -> None:
    session.execute(
        update(orders).where(orders.c.id == order_id)
        .values(version=orders.c.version + 1, updated_at=now, **values)
    )


def _labels(session: Session, pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """"SKU at CODE" for each (product, location)."""
    skus = dict(session.execute(select(products.c.id, products.c.sku).where(
        products.c.id.in_(sorted({p for p, _ in pairs})))).all())
    codes = dict(session.execute(select(locations.c.id, locations.c.code).where(
        locations.c.id.in_(sorted({loc for _, loc in pairs})))).all())
    return {(p, loc): f"{skus.get(p, p)} at {codes.get(loc, loc)}" for p, loc in pairs}


def _line_text(label: str, quantity: int, cost: int) -> str:
    return f"{label}: {quantity:,} × {amount(cost)}"


def resolve_new_lines(
    session: Session, order: Row[Any] | None, store_id: int, supplier_id: int,
    parsed: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The lines made ready to insert: products of the store holding stock, locations of
    the store in use, no product already ordered to that location on this order, and the
    supplier's cost wherever none was given. Raises NotFound, Conflict, ValidationError."""
    if not parsed:
        return []
    stockable(session, store_id, [line["product_id"] for line in parsed],
              lambda p: line_field(next(x["n"] for x in parsed if x["product_id"] == p),
                                    "product_id"))
    wanted = {line["location_id"] for line in parsed}
    places = {
        r.id: r for r in session.execute(
            select(locations.c.id, locations.c.code, locations.c.archived_at).where(
                locations.c.id.in_(sorted(wanted)), locations.c.store_id == store_id))
    }
    for line in parsed:
        place = places.get(line["location_id"])
        if place is None:
            raise NotFound(f"Location {line['location_id']} not found.",
                           {line_field(line["n"], "location_id"):
                            "No such location in this store."})
        if place.archived_at is not None:
            raise Conflict(f"Location {place.code} is archived: nothing can be ordered to it.",
                           {line_field(line["n"], "location_id"): "This location is archived."})
    if order is not None:
        existing = {(r.product_id, r.location_id) for r in session.execute(
            select(order_lines.c.product_id, order_lines.c.location_id)
            .where(order_lines.c.order_id == order.id)
        )}
        for line in parsed:
            if (line["product_id"], line["location_id"]) in existing:
                raise ValidationError({line_field(line["n"], "product_id"):
                                       f"{order.number} already orders this product to this "
                                       "location: change that line instead."})
    costs = {r.product_id: r.unit_cost for r in session.execute(
        select(supplier_items.c.product_id, supplier_items.c.unit_cost).where(
            supplier_items.c.supplier_id == supplier_id,
            supplier_items.c.product_id.in_(sorted({x["product_id"] for x in parsed})))
    )}
    check = Checker()
    for line in parsed:
        if line["unit_cost"] is None:
            line["unit_cost"] = costs.get(line["product_id"])
            if line["unit_cost"] is None:
                check.fail(line_field(line["n"], "unit_cost"),
                           "This supplier has no cost on record for the product: enter one.")
                continue
        _check_line_total(check, line_field(line["n"], "quantity"), line["quantity"],
                          line["unit_cost"])
    check.done()
    return parsed


def _insert_lines(session: Session, order_id: int, store_id: int,
                  ready: list[dict[str, Any]], now: datetime) -> None:
    if ready:
        session.execute(insert(order_lines), [
            {"store_id": store_id, "order_id": order_id, "product_id": line["product_id"],
             "location_id": line["location_id"], "ordered_qty": line["quantity"],
             "received_qty": 0, "over_received_qty": 0, "unit_cost": line["unit_cost"],
             "created_at": now}
            for line in ready
        ])


def _rate_for(session: Session, store_id: int, currency: str, rate: Decimal | None
              ) -> Decimal | None:
    """The rate an order keeps: None in the store's own currency (where only 1 makes
    sense), else the one given (possibly none yet). Raises ValidationError."""
    if currency == store_currency(session, store_id):
        if rate is not None and rate != 1:
            raise ValidationError({"exchange_rate": f"The order is in the store's currency "
                                                    f"({currency}): it needs no rate."})
        return None
    return rate


def _edited(work: Callable[[Session], int]) -> PurchaseOrderView:
    """Runs an edit of an order that moves no stock (`work` returns the order's id) in one
    write transaction, then reads the order as it left it."""
    with write_transaction() as session:
        changed = work(session)
    return read_order(db.session, changed)


def _view(change: StockChange) -> PurchaseOrderView:
    return read_order(db.session, int(change.details["order_id"]), replayed=change.replayed)


# --------------------------------------------------------------------------- drafts


def insert_draft(
    session: Session, actor: Actor, supplier: Row[Any], ready: list[dict[str, Any]], *,
    expected_on: date | None = None, notes: str | None = None,
    exchange_rate: Decimal | None = None, deliver_to_id: int | None = None,
) -> int:
    """Insert a draft order to `supplier` (its row) with lines made ready by
    resolve_new_lines, numbered next in its store, with its audit row; its id. Runs in the
    caller's transaction, which has checked the actor's rights."""
    # The store's row, locked (not against new rows that name it, FOR NO KEY UPDATE):
    # two orders created at once take consecutive numbers.
    session.execute(
        select(stores.c.id).where(stores.c.id == supplier.store_id)
        .with_for_update(key_share=True)
    ).all()
    sequence = 1 + (session.scalar(
        select(func.max(orders.c.sequence)).where(orders.c.store_id == supplier.store_id)
    ) or 0)
    now = utcnow()
    number = purchase_order_number(sequence)
    order_id = session.execute(
        insert(orders).values(
            store_id=supplier.store_id, supplier_id=supplier.id, sequence=sequence,
            number=number, status="draft", expected_on=expected_on,
            notes=text_or_none(notes), currency=supplier.currency, exchange_rate=exchange_rate,
            deliver_to_id=deliver_to_id, version=1, created_at=now, created_by_id=actor.user_id,
            created_by_name=actor.name, updated_at=now,
        ).returning(orders.c.id)
    ).scalar_one()
    _insert_lines(session, order_id, supplier.store_id, ready, now)
    labels = _labels(session, [(x["product_id"], x["location_id"]) for x in ready])
    audit.record(
        session, actor, "purchase_order.created", "purchase_order", order_id, number,
        store_id=supplier.store_id, now=now,
        changes=audit.diff({}, {
            "supplier": supplier.name, "currency": supplier.currency,
            "exchange_rate": exchange_rate, "expected_on": expected_on,
            "notes": text_or_none(notes),
            "lines": [_line_text(labels[(x["product_id"], x["location_id"])],
                                 x["quantity"], x["unit_cost"]) for x in ready] or None,
        }),
    )
    return int(order_id)


def create_purchase_order(
    *,
    actor: Actor,
    supplier_id: int,
    lines: Sequence[Mapping[str, Any]] = (),
    expected_on: date | None = None,
    notes: str | None = None,
    exchange_rate: Any = None,
    deliver_to_id: int | None = None,
    idempotency_key: str | None = None,
) -> PurchaseOrderView:
    """A draft order to a supplier, in the supplier's currency, numbered in its store
    (PO-0001, PO-0002, …), with lines {product_id, location_id, quantity, unit_cost?}; a
    line without a cost takes the supplier item's. `exchange_rate` (store currency per
    unit of the order's) is needed before ordering when the currencies differ.
    `deliver_to_id`, one of the store's active locations, is where it is to arrive: what
    a line added on its page goes to unless told (each line keeps its own location).
    Raises ValidationError naming each bad field (lines[n].quantity, …), Conflict (an
    archived supplier or location, a product with no stock of its own), NotFound,
    PermissionDenied."""
    check = Checker()
    if not is_id(supplier_id):
        check.fail("supplier_id", "Choose a supplier.")
    parsed = _check_new_lines(check, lines, allow_empty=True)
    _check_expected_on(check, expected_on)
    check_notes(check, "notes", notes)
    rate = check_rate(check, "exchange_rate", exchange_rate)
    if deliver_to_id is not None and not is_id(deliver_to_id):
        check.fail("deliver_to_id", "Choose a location from the list.")
    check.done()

    def work(session: Session) -> StockChange:
        supplier = session.execute(
            select(suppliers).where(suppliers.c.id == supplier_id)
        ).one_or_none()
        if supplier is None or not actor.is_member(supplier.store_id):
            raise NotFound("Supplier not found.", {"supplier_id": "No such supplier."})
        require(actor, PURCHASING, supplier.store_id)
        if supplier.archived_at is not None:
            raise Conflict(f"{supplier.name} is archived: it takes no new orders.")
        kept_rate = _rate_for(session, supplier.store_id, supplier.currency, rate)
        if deliver_to_id is not None:
            _check_destination(session, supplier.store_id, deliver_to_id)
        ready = resolve_new_lines(session, None, supplier.store_id, supplier.id, parsed)
        order_id = insert_draft(session, actor, supplier, ready, expected_on=expected_on,
                                notes=notes, exchange_rate=kept_rate,
                                deliver_to_id=deliver_to_id)
        return StockChange("purchase_order.create", details={"order_id": order_id})

    return _view(run_mutation(
        "purchase_order.create", actor, idempotency_key,
        {"supplier_id": supplier_id, "lines": [dict(x) for x in lines or ()],
         "expected_on": expected_on, "notes": notes, "exchange_rate": exchange_rate,
         "deliver_to_id": deliver_to_id},
        work,
    ))


def _check_destination(session: Session, store_id: int, location_id: int) -> None:
    """`location_id` is one of the store's locations, and not archived; locked against an
    archive (FOR SHARE), as a line's location is."""
    found = session.execute(
        select(locations.c.code, locations.c.archived_at)
        .where(locations.c.id == location_id, locations.c.store_id == store_id)
        .with_for_update(read=True)
    ).one_or_none()
    if found is None:
        raise NotFound("Location not found.", {"deliver_to_id": "No such location."})
    if found.archived_at is not None:
        raise Conflict(f"Location {found.code} is archived: nothing arrives there.",
                       {"deliver_to_id": f"{found.code} is archived."})


def update_purchase_order(
    *,
    actor: Actor,
    order_id: int,
    expected_on: date | None = None,
    notes: str | None = None,
    exchange_rate: Any = None,
    expected_version: int | None = None,
) -> PurchaseOrderView:
    """Change an order's expected date and notes (until it is closed) and its exchange
    rate (while a draft; the rate an order was placed at values what it brings, and a
    placed order given no rate keeps it). Every other field as it should now be. Raises
    ValidationError, StalePurchaseOrder, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    _check_expected_on(check, expected_on)
    check_notes(check, "notes", notes)
    rate = check_rate(check, "exchange_rate", exchange_rate)
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> int:
        order = _locked_order(session, actor, order_id, PURCHASING)
        _require_version(order, expected_version)
        if order.status in ("received", "cancelled"):
            raise Conflict(f"{order.number} is {STATUS_LABELS[order.status].lower()}: it "
                           "changes no more.")
        kept_rate = _rate_for(session, order.store_id, order.currency, rate)
        if rate is None and order.status != "draft":
            kept_rate = order.exchange_rate  # a placed order keeps its rate unless told
        if kept_rate != order.exchange_rate and order.status != "draft":
            raise Conflict(f"{order.number} was placed at its rate: only a draft's rate "
                           "can change.", {"exchange_rate": "Only a draft's rate can change."})
        after = {"expected_on": expected_on, "notes": text_or_none(notes),
                 "exchange_rate": kept_rate}
        changes = audit.diff(
            {"expected_on": order.expected_on, "notes": order.notes,
             "exchange_rate": order.exchange_rate}, after)
        if changes:
            now = utcnow()
            _touch(session, order.id, now, **after)
            audit.record(session, actor, "purchase_order.updated", "purchase_order",
                         order.id, order.number, store_id=order.store_id, changes=changes,
                         now=now)
        return int(order.id)

    return _edited(work)


def add_purchase_order_lines(
    *,
    actor: Actor,
    order_id: int,
    lines: Sequence[Mapping[str, Any]],
    expected_version: int | None = None,
) -> PurchaseOrderView:
    """Add lines to a draft ({product_id, location_id, quantity, unit_cost?}, as when
    creating it). Raises ValidationError (lines[n].…, a product already ordered to that
    location), StalePurchaseOrder, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    parsed = _check_new_lines(check, lines, allow_empty=False)
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> int:
        order = _locked_order(session, actor, order_id, PURCHASING)
        _require_version(order, expected_version)
        _require_draft(order, "change its lines")
        count = session.scalar(select(func.count()).where(order_lines.c.order_id == order.id))
        if (count or 0) + len(parsed) > MAX_PURCHASE_ORDER_LINES:
            raise ValidationError({"lines": f"At most {MAX_PURCHASE_ORDER_LINES:,} lines per "
                                            "order."})
        ready = resolve_new_lines(session, order, order.store_id, order.supplier_id, parsed)
        now = utcnow()
        _insert_lines(session, order.id, order.store_id, ready, now)
        _touch(session, order.id, now)
        labels = _labels(session, [(x["product_id"], x["location_id"]) for x in ready])
        audit.record(session, actor, "purchase_order.lines_added", "purchase_order", order.id,
                     order.number, store_id=order.store_id, now=now,
                     changes={"lines": (None, [
                         _line_text(labels[(x["product_id"], x["location_id"])],
                                    x["quantity"], x["unit_cost"]) for x in ready])})
        return int(order.id)

    return _edited(work)



def _locked_line(session: Session, actor: Actor, line_id: Any) -> tuple[Row[Any], Row[Any]]:
    """A line and its order (locked, purchasing:manage checked)."""
    order_of = session.scalar(
        select(order_lines.c.order_id).where(order_lines.c.id == line_id)
    ) if is_id(line_id) else None
    if order_of is None:
        raise NotFound("Purchase order line not found.", {"line_id": "No such line."})
    order = _locked_order(session, actor, order_of, PURCHASING)
    line = session.execute(
        select(order_lines).where(order_lines.c.id == line_id)
    ).one_or_none()
    if line is None:  # pragma: no cover - removed while we waited for the order's lock
        raise NotFound("Purchase order line not found.", {"line_id": "No such line."})
    return order, line


def update_purchase_order_line(
    *,
    actor: Actor,
    line_id: int,
    quantity: int,
    unit_cost: Any,
    expected_version: int | None = None,
) -> PurchaseOrderView:
    """Change a draft line's quantity and unit cost (in the order's currency).
    Raises ValidationError, StalePurchaseOrder, Conflict, NotFound, PermissionDenied."""
    check = Checker()
    check.whole("quantity", quantity, minimum=1)
    cost = check_amount(check, "unit_cost", unit_cost)
    _check_version(check, expected_version)
    if cost is not None and type(quantity) is int and quantity > 0:
        _check_line_total(check, "quantity", quantity, cost)
    check.done()
    assert cost is not None

    def work(session: Session) -> int:
        order, line = _locked_line(session, actor, line_id)
        _require_version(order, expected_version)
        _require_draft(order, "change its lines")
        if (line.ordered_qty, line.unit_cost) != (quantity, cost):
            now = utcnow()
            session.execute(update(order_lines).where(order_lines.c.id == line.id)
                            .values(ordered_qty=quantity, unit_cost=cost))
            _touch(session, order.id, now)
            label = _labels(session, [(line.product_id, line.location_id)])
            audit.record(
                session, actor, "purchase_order.line_changed", "purchase_order", order.id,
                order.number, store_id=order.store_id, product_id=line.product_id, now=now,
                changes={"line": (
                    _line_text(label[(line.product_id, line.location_id)], line.ordered_qty,
                               line.unit_cost),
                    _line_text(label[(line.product_id, line.location_id)], quantity, cost))},
            )
        return int(order.id)

    return _edited(work)


def scan_quantities(item: SupplierItemView | None) -> tuple[int, int]:
    """What a scan orders of a variant from a supplier: the first time, the supplier's
    minimum in whole packs and at least one pack; each time after, one pack more (1 and 1
    when the supplier has no terms on record)."""
    if item is None:
        return 1, 1
    pack = max(item.pack_size, 1)
    least = max(item.min_order_qty, pack)
    return -(-least // pack) * pack, pack


def add_scanned_line(
    *,
    actor: Actor,
    order_id: int,
    product_id: int,
    location_id: int,
    quantity: int | None = None,
    unit_cost: Any = None,
    expected_version: int | None = None,
) -> tuple[PurchaseOrderView, int, int | None]:
    """A variant scanned (or typed) into a draft for a location: a new line of `quantity`,
    else the supplier's minimum in whole packs, at `unit_cost`, else the supplier's; or, for
    a variant the draft already sends there, its line grown by `quantity`, else one pack.
    Returns the order after, the line's id and its quantity before (None for a new line).
    Raises as add_purchase_order_lines and update_purchase_order_line do."""
    found = get_purchase_order(actor, order_id)
    item = next((i for i in product_suppliers(actor, product_id)
                 if i.supplier_id == found.supplier_id), None)
    first, more = scan_quantities(item)
    version = found.version if expected_version is None else expected_version
    line = next((x for x in found.lines
                 if (x.product_id, x.location_id) == (product_id, location_id)), None)
    if line is not None and found.is_draft:
        after = update_purchase_order_line(
            actor=actor, line_id=line.id, quantity=line.ordered_qty + (quantity or more),
            unit_cost=unit_cost if unit_cost is not None else line.unit_cost,
            expected_version=version)
        return after, line.id, line.ordered_qty
    after = add_purchase_order_lines(
        actor=actor, order_id=found.id, expected_version=version,
        lines=[{"product_id": product_id, "location_id": location_id,
                "quantity": quantity or first, "unit_cost": unit_cost}])
    added = next(x for x in after.lines
                 if (x.product_id, x.location_id) == (product_id, location_id))
    return after, added.id, None


def remove_purchase_order_line(
    *, actor: Actor, line_id: int, expected_version: int | None = None
) -> PurchaseOrderView:
    """Take a line off a draft. Raises ValidationError, StalePurchaseOrder, Conflict,
    NotFound, PermissionDenied."""
    check = Checker()
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> int:
        order, line = _locked_line(session, actor, line_id)
        _require_version(order, expected_version)
        _require_draft(order, "change its lines")
        now = utcnow()
        session.execute(delete(order_lines).where(order_lines.c.id == line.id))
        _touch(session, order.id, now)
        label = _labels(session, [(line.product_id, line.location_id)])
        audit.record(
            session, actor, "purchase_order.line_removed", "purchase_order", order.id,
            order.number, store_id=order.store_id, product_id=line.product_id, now=now,
            changes={"line": (_line_text(label[(line.product_id, line.location_id)],
                                         line.ordered_qty, line.unit_cost), None)},
        )
        return int(order.id)

    return _edited(work)


# --------------------------------------------------------------------------- the lifecycle


def order_purchase_order(
    *,
    actor: Actor,
    order_id: int,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> PurchaseOrderView:
    """Place a draft with its supplier: what it brings becomes incoming at each line's
    location, whose entry is created (empty) where there is none yet. Raises
    StalePurchaseOrder, Conflict (not a draft, no lines, an archived supplier or location,
    no exchange rate for an order in another currency, a product that holds no stock of
    its own), NotFound, PermissionDenied."""
    check = Checker()
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> StockChange:
        order = _locked_order(session, actor, order_id, PURCHASING)
        _require_version(order, expected_version)
        _require_draft(order, "be ordered")
        supplier = session.execute(
            select(suppliers.c.name, suppliers.c.archived_at)
            .where(suppliers.c.id == order.supplier_id)
        ).one()
        if supplier.archived_at is not None:
            raise Conflict(f"{supplier.name} is archived: it takes no new orders.")
        found = [(r.product_id, r.location_id) for r in session.execute(
            select(order_lines.c.product_id, order_lines.c.location_id)
            .where(order_lines.c.order_id == order.id)
        )]
        if not found:
            raise Conflict(f"{order.number} has no lines: add what to order first.")
        if order.exchange_rate is None and order.currency != store_currency(
                session, order.store_id):
            raise Conflict(
                f"{order.number} is in {order.currency}: give the exchange rate to "
                f"{store_currency(session, order.store_id)} before ordering, so what it "
                "brings can be valued.", {"exchange_rate": "Needed before ordering."})
        stockable(session, order.store_id, [p for p, _ in found], lambda _p: "lines")
        now = utcnow()
        _touch(session, order.id, now, status="ordered", ordered_at=now,
               ordered_by_id=actor.user_id, ordered_by_name=actor.name)
        expect_deliveries(session, order.store_id, found, now)
        events.emit(session, order.store_id, "purchase_order.ordered",
                    _order_event(order, "ordered", actor))
        audit.record(session, actor, "purchase_order.ordered", "purchase_order", order.id,
                     order.number, store_id=order.store_id, now=now,
                     changes={"status": ("draft", "ordered")})
        return StockChange("purchase_order.order", details={"order_id": order.id})

    return _view(run_mutation(
        "purchase_order.order", actor, idempotency_key,
        {"order_id": order_id, "expected_version": expected_version}, work,
    ))


def _order_event(order: Row[Any], status: str, actor: Actor) -> dict[str, Any]:
    """What every purchase order event carries."""
    return {"purchase_order_id": order.id, "number": order.number,
            "supplier_id": order.supplier_id, "status": status,
            "actor": {"user_id": actor.user_id, "name": actor.name}}


def cancel_purchase_order(
    *,
    actor: Actor,
    order_id: int,
    reason: str | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> PurchaseOrderView:
    """Cancel a draft or an open order: what it has not delivered leaves incoming; what
    it delivered stays received. Raises ValidationError, StalePurchaseOrder, Conflict
    (already received or cancelled), NotFound, PermissionDenied."""
    check = Checker()
    check.text("reason", reason, required=False, max_length=200)
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> StockChange:
        order = _locked_order(session, actor, order_id, PURCHASING)
        _require_version(order, expected_version)
        if order.status in ("received", "cancelled"):
            raise Conflict(f"{order.number} is {STATUS_LABELS[order.status].lower()}: there "
                           "is nothing left to cancel.")
        now = utcnow()
        _touch(session, order.id, now, status="cancelled", closed_at=now,
               closed_by_id=actor.user_id, closed_by_name=actor.name)
        if order.status in OPEN_STATUSES:
            refresh_incoming(session, order.store_id, [
                (r.product_id, r.location_id) for r in session.execute(
                    select(order_lines.c.product_id, order_lines.c.location_id)
                    .where(order_lines.c.order_id == order.id))
            ], now)
        changes: dict[str, tuple[Any, Any]] = {"status": (order.status, "cancelled")}
        if clean_text(reason):
            changes["reason"] = (None, clean_text(reason))
        events.emit(session, order.store_id, "purchase_order.cancelled",
                    {**_order_event(order, "cancelled", actor),
                     "previous_status": order.status, "reason": clean_text(reason)})
        audit.record(session, actor, "purchase_order.cancelled", "purchase_order", order.id,
                     order.number, store_id=order.store_id, changes=changes, now=now)
        return StockChange("purchase_order.cancel", details={"order_id": order.id})

    return _view(run_mutation(
        "purchase_order.cancel", actor, idempotency_key,
        {"order_id": order_id, "reason": reason, "expected_version": expected_version}, work,
    ))


# --------------------------------------------------------------------------- receiving


def _check_receipt(check: Checker, given: Any) -> list[dict[str, Any]]:
    if not isinstance(given, Sequence) or isinstance(given, str) or not given:
        check.fail("lines", "Add at least one line received.")
        return []
    if len(given) > MAX_PURCHASE_ORDER_LINES:
        check.fail("lines", f"At most {MAX_PURCHASE_ORDER_LINES:,} lines per receipt.")
        return []
    parsed = []
    for n, line in enumerate(given):
        if not isinstance(line, Mapping):
            check.fail(f"lines[{n}]", "Each line needs line_id (or product_id and "
                                      "location_id) and quantity.")
            continue
        line_id = line.get("line_id")
        if line_id is not None:
            if not is_id(line_id):
                check.fail(line_field(n, "line_id"), "Choose a line of the order.")
        else:
            if not is_id(line.get("product_id")):
                check.fail(line_field(n, "product_id"), "Choose a product (or a line_id).")
            if not is_id(line.get("location_id")):
                check.fail(line_field(n, "location_id"), "Choose a location.")
        check.whole(line_field(n, "quantity"), line.get("quantity"), minimum=1)
        parsed.append({"n": n, "line_id": line_id, "product_id": line.get("product_id"),
                       "location_id": line.get("location_id"), "quantity": line.get("quantity")})
    return parsed


def receive_purchase_order(
    *,
    actor: Actor,
    order_id: int,
    lines: Sequence[Mapping[str, Any]],
    confirm_over: bool = False,
    reason: str | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Receive units of an open order: lines [{line_id, quantity}] or [{product_id,
    location_id, quantity}], all or none, in one transaction and one ledger batch of
    `received` rows (each naming its line, reference the order's number). On hand,
    incoming and the average cost of each entry follow; the order becomes partially
    received, or received once every line has all it ordered. More than a line still
    awaits is refused unless `confirm_over`: then the extra is recorded on the line as
    confirmed. With `expected_version` (the order's version as the receiver saw it), an
    order received, edited or cancelled since is refused: what they counted against, and
    any over-receipt they confirmed, was measured against figures that no longer hold.
    Raises ValidationError naming lines[n].…, OverReceipt (naming every line over),
    StalePurchaseOrder, Conflict (an order not open, a product that no longer holds
    stock), QuantityTooLarge, NotFound, PermissionDenied."""
    check = Checker()
    parsed = _check_receipt(check, lines)
    if not isinstance(confirm_over, bool):
        check.fail("confirm_over", "Choose yes or no.")
    check.text("reason", reason, required=False, max_length=200)
    _check_version(check, expected_version)
    check.done()

    def work(session: Session) -> StockChange:
        order = _locked_order(session, actor, order_id, RECEIVE)
        _require_version(order, expected_version)
        if order.status not in OPEN_STATUSES:
            raise Conflict(f"{order.number} is {STATUS_LABELS[order.status].lower()}: only an "
                           "ordered purchase order is received.")
        # The order's lock covers its lines: read as they stand.
        on_order = {
            r.id: r for r in session.execute(
                select(order_lines).where(order_lines.c.order_id == order.id)
            )
        }
        by_place = {(r.product_id, r.location_id): r for r in on_order.values()}
        chosen: list[tuple[dict[str, Any], Row[Any]]] = []
        seen: dict[int, int] = {}
        for item in parsed:
            n = item["n"]
            if item["line_id"] is not None:
                line = on_order.get(item["line_id"])
                if line is None:
                    raise NotFound(f"{order.number} has no line {item['line_id']}.",
                                   {line_field(n, "line_id"): "No such line on this order."})
            else:
                line = by_place.get((item["product_id"], item["location_id"]))
                if line is None:
                    raise NotFound(
                        f"{order.number} orders no such product to that location.",
                        {line_field(n, "product_id"): "Not on this order at this location."})
            if line.id in seen:
                raise ValidationError({line_field(n, "quantity"):
                                       f"Line {seen[line.id] + 1} of this receipt already "
                                       "receives this order line."})
            seen[line.id] = n
            chosen.append((item, line))
        stockable(session, order.store_id, [line.product_id for _, line in chosen],
                  lambda _p: "lines")

        labels = _labels(session, [(line.product_id, line.location_id) for _, line in chosen])
        over_problems = []
        plan: list[tuple[Row[Any], int, int]] = []
        for item, line in chosen:
            quantity = item["quantity"]
            room = line.ordered_qty + line.over_received_qty - line.received_qty
            over = max(quantity - room, 0)
            if over and not confirm_over:
                over_problems.append({
                    "field": line_field(item["n"], "quantity"),
                    "label": labels[(line.product_id, line.location_id)],
                    "quantity": quantity, "ordered": line.ordered_qty,
                    "received": line.received_qty, "over": over,
                })
            if line.received_qty + quantity > LIMIT:
                raise ValidationError({line_field(item["n"], "quantity"):
                                       "More than any line can hold."})
            plan.append((line, quantity, over))
        if over_problems:
            raise OverReceipt(order.number, over_problems)

        now = utcnow()
        for line, quantity, over in plan:
            session.execute(
                update(order_lines).where(order_lines.c.id == line.id).values(
                    received_qty=order_lines.c.received_qty + quantity,
                    over_received_qty=order_lines.c.over_received_qty + over,
                )
            )
        states, movement_ids = receive_deliveries(
            session, actor, order.store_id,
            [Delivery(line.id, line.product_id, line.location_id, quantity,
                      convert(line.unit_cost, order.exchange_rate), over)
             for line, quantity, over in plan],
            now, reference=order.number, reason=clean_text(reason),
        )
        waiting = session.scalar(
            select(func.count()).where(order_lines.c.order_id == order.id,
                                       order_lines.c.received_qty < order_lines.c.ordered_qty)
        )
        status = "partially_received" if waiting else "received"
        closing = {"closed_at": now, "closed_by_id": actor.user_id,
                   "closed_by_name": actor.name} if status == "received" else {}
        _touch(session, order.id, now, status=status, **closing)
        changes: dict[str, tuple[Any, Any]] = {"received": (None, [
            f"{labels[(line.product_id, line.location_id)]}: {quantity:,}"
            + (f" ({over:,} beyond the order, confirmed)" if over else "")
            for line, quantity, over in plan
        ])}
        if status != order.status:
            changes["status"] = (order.status, status)
        events.emit(session, order.store_id, "purchase_order.received", {
            **_order_event(order, status, actor), "previous_status": order.status,
            "lines": [{"line_id": line.id, "product_id": line.product_id,
                       "location_id": line.location_id, "quantity": quantity,
                       "beyond_order": over}
                      for line, quantity, over in plan],
            "movement_ids": list(movement_ids),
        })
        audit.record(session, actor, "purchase_order.received", "purchase_order", order.id,
                     order.number, store_id=order.store_id, changes=changes, now=now)
        return StockChange(
            "receive", tuple(states), tuple(movement_ids),
            details={
                "order_id": order.id, "number": order.number, "status": status,
                "lines": [{"line_id": line.id, "quantity": quantity, "over": over}
                          for line, quantity, over in plan],
            },
        )

    return run_mutation(
        "receive", actor, idempotency_key,
        {"order_id": order_id, "lines": [dict(x) for x in lines or ()
                                         if isinstance(x, Mapping)],
         "confirm_over": confirm_over, "reason": reason,
         "expected_version": expected_version},
        work,
    )


__all__ = [
    "MAX_PURCHASE_ORDER_LINES",
    "add_purchase_order_lines",
    "cancel_purchase_order",
    "create_purchase_order",
    "order_purchase_order",
    "purchase_order_number",
    "receive_purchase_order",
    "remove_purchase_order_line",
    "update_purchase_order",
    "update_purchase_order_line",
]
