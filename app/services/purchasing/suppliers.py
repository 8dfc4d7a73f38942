"""Suppliers, what each supplies (supplier items), and the currency a store values its stock
in. Managing them needs purchasing:manage; every change leaves an audit row, written in
the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.models import OPEN_STATUSES, InventoryEntry, PurchaseOrder, Supplier, SupplierItem
from app.permissions import PURCHASING, Actor
from app.services import audit
from app.services.errors import Conflict, NotFound
from app.services.money import amount, check_amount, check_currency
from app.services.purchasing.common import (
    check_email,
    check_notes,
    products,
    require,
    stockable,
    store_currency,
    stores,
    text_or_none,
)
from app.services.purchasing.views import (
    SupplierItemView,
    SupplierView,
    get_supplier,
    get_supplier_item,
)
from app.services.stores import require_store
from app.services.validation import Checker, is_id

suppliers = Supplier.__table__
supplier_items = SupplierItem.__table__
orders = PurchaseOrder.__table__
entries = InventoryEntry.__table__

MAX_LEAD_TIME_DAYS = 365


def _check_supplier(check: Checker, name: Any, contact_name: Any, email: Any, phone: Any,
                    lead_time_days: Any, notes: Any) -> None:
    check.text("name", name, required=True, max_length=120)
    check.text("contact_name", contact_name, required=False, max_length=120)
    check_email(check, "email", email)
    check.text("phone", phone, required=False, max_length=40)
    check.whole("lead_time_days", lead_time_days, minimum=0)
    if type(lead_time_days) is int and lead_time_days > MAX_LEAD_TIME_DAYS:
        check.fail("lead_time_days", f"Must be at most {MAX_LEAD_TIME_DAYS}.")
    check_notes(check, "notes", notes)


def _supplier_values(name: Any, contact_name: Any, email: Any, phone: Any, currency: Any,
                     lead_time_days: Any, notes: Any) -> dict[str, Any]:
    """A supplier's fields as given to create or update it, checked (ValidationError naming
    each bad field) and tidied; "currency" is None where none was given."""
    check = Checker()
    _check_supplier(check, name, contact_name, email, phone, lead_time_days, notes)
    code = check_currency(check, "currency", currency, required=False)
    check.done()
    return {
        "name": name.strip(), "contact_name": text_or_none(contact_name),
        "email": text_or_none(email), "phone": text_or_none(phone), "currency": code,
        "lead_time_days": lead_time_days, "notes": text_or_none(notes),
    }


def _name_taken(session: Session, store_id: int, name: str, other_than: int | None = None
                ) -> bool:
    query = select(func.count()).where(suppliers.c.store_id == store_id,
                                       func.lower(suppliers.c.name) == name.lower())
    if other_than is not None:
        query = query.where(suppliers.c.id != other_than)
    return bool(session.scalar(query))


def _taken(name: str) -> Conflict:
    return Conflict(f"This store already has a supplier named {name}.",
                    {"name": "Another supplier has this name."})


def _fields(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in (
        "name", "contact_name", "email", "phone", "currency", "lead_time_days", "notes")}


def create_supplier(
    *,
    actor: Actor,
    store_id: int,
    name: str,
    contact_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    currency: str | None = None,
    lead_time_days: int = 0,
    notes: str | None = None,
) -> SupplierView:
    """A new supplier of the store, quoting in `currency` (the store's when not given).
    Raises ValidationError naming each bad field, Conflict (a name the store has, any
    case), NotFound, PermissionDenied."""
    values = _supplier_values(name, contact_name, email, phone, currency, lead_time_days,
                              notes)
    require_store(actor, PURCHASING, store_id)
    name = values["name"]
    try:
        with write_transaction() as session:
            if _name_taken(session, store_id, name):
                raise _taken(name)
            now = utcnow()
            values["currency"] = values["currency"] or store_currency(session, store_id)
            supplier_id = session.execute(
                insert(suppliers).values(store_id=store_id, created_at=now, updated_at=now,
                                         **values)
                .returning(suppliers.c.id)
            ).scalar_one()
            audit.record(session, actor, "supplier.created", "supplier", supplier_id, name,
                         store_id=store_id, now=now,
                         changes=audit.diff({}, {k: v for k, v in values.items()
                                                 if v is not None}))
    except IntegrityError as exc:  # a concurrent create took the name first
        if not is_unique_violation(exc, "name"):
            raise
        raise _taken(name) from exc
    return get_supplier(actor, supplier_id)


def _locked_supplier(session: Session, actor: Actor, supplier_id: Any) -> Any:
    """The supplier's row, locked for this transaction, after the actor's right to manage
    purchasing in its store is checked."""
    row = session.execute(
        select(suppliers).where(suppliers.c.id == supplier_id).with_for_update(key_share=True)
    ).one_or_none() if is_id(supplier_id) else None
    if row is None or not actor.is_member(row.store_id):
        raise NotFound("Supplier not found.", {"supplier_id": "No such supplier."})
    require(actor, PURCHASING, row.store_id)
    return row


def update_supplier(
    *,
    actor: Actor,
    supplier_id: int,
    name: str,
    contact_name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    currency: str | None = None,
    lead_time_days: int = 0,
    notes: str | None = None,
) -> SupplierView:
    """Change a supplier's details (every field as it should now be; no currency keeps
    the one it has). The currency changes only while the supplier has no items and no
    orders: their costs are in the old one. Raises ValidationError, Conflict, NotFound,
    PermissionDenied."""
    after = _supplier_values(name, contact_name, email, phone, currency, lead_time_days,
                             notes)
    name = after["name"]
    try:
        with write_transaction() as session:
            current = _locked_supplier(session, actor, supplier_id)
            if _name_taken(session, current.store_id, name, other_than=current.id):
                raise _taken(name)
            after["currency"] = after["currency"] or current.currency
            if after["currency"] != current.currency and _has_costs(session, current.id):
                raise Conflict(
                    f"{current.name}'s items and orders are priced in {current.currency}: "
                    "its currency can change only while it has neither.",
                    {"currency": f"Costs are already kept in {current.currency}."},
                )
            changes = audit.diff(_fields(current), after)
            if changes:
                now = utcnow()
                session.execute(update(suppliers).where(suppliers.c.id == current.id)
                                .values(**after, updated_at=now))
                audit.record(session, actor, "supplier.updated", "supplier", current.id, name,
                             store_id=current.store_id, changes=changes, now=now)
    except IntegrityError as exc:
        if not is_unique_violation(exc, "name"):
            raise
        raise _taken(name) from exc
    return get_supplier(actor, supplier_id)


def _has_costs(session: Session, supplier_id: int) -> bool:
    return bool(
        session.scalar(select(func.count()).select_from(supplier_items)
                       .where(supplier_items.c.supplier_id == supplier_id))
        or session.scalar(select(func.count()).select_from(orders)
                          .where(orders.c.supplier_id == supplier_id))
    )


def archive_supplier(*, actor: Actor, supplier_id: int) -> SupplierView:
    """Retire a supplier: no new orders or items, and no longer anyone's preferred
    supplier. Refused while it has drafts or open orders. Raises Conflict, NotFound,
    PermissionDenied."""
    with write_transaction() as session:
        current = _locked_supplier(session, actor, supplier_id)
        if current.archived_at is not None:
            raise Conflict(f"{current.name} is already archived.")
        pending = session.scalars(
            select(orders.c.number).where(
                orders.c.supplier_id == current.id,
                orders.c.status.in_(("draft", *OPEN_STATUSES)),
            ).order_by(orders.c.id).limit(5)
        ).all()
        if pending:
            raise Conflict(f"{current.name} has orders not yet closed ({', '.join(pending)}): "
                           "receive or cancel them first.")
        now = utcnow()
        unpreferred = session.execute(
            update(supplier_items)
            .where(supplier_items.c.supplier_id == current.id, supplier_items.c.preferred)
            .values(preferred=False, updated_at=now)
        ).rowcount
        session.execute(update(suppliers).where(suppliers.c.id == current.id)
                        .values(archived_at=now, updated_at=now))
        changes: dict[str, tuple[Any, Any]] = {"archived": (False, True)}
        if unpreferred:
            changes["preferred_items"] = (unpreferred, 0)
        audit.record(session, actor, "supplier.archived", "supplier", current.id, current.name,
                     store_id=current.store_id, changes=changes, now=now)
    return get_supplier(actor, supplier_id)


def unarchive_supplier(*, actor: Actor, supplier_id: int) -> SupplierView:
    """Bring an archived supplier back. Raises Conflict, NotFound, PermissionDenied."""
    with write_transaction() as session:
        current = _locked_supplier(session, actor, supplier_id)
        if current.archived_at is None:
            raise Conflict(f"{current.name} is not archived.")
        now = utcnow()
        session.execute(update(suppliers).where(suppliers.c.id == current.id)
                        .values(archived_at=None, updated_at=now))
        audit.record(session, actor, "supplier.unarchived", "supplier", current.id,
                     current.name, store_id=current.store_id,
                     changes={"archived": (True, False)}, now=now)
    return get_supplier(actor, supplier_id)


# --------------------------------------------------------------------------- items


def _item_fields(row: Any) -> dict[str, Any]:
    return {
        "unit_cost": amount(row.unit_cost), "supplier_sku": row.supplier_sku,
        "pack_size": row.pack_size, "min_order_qty": row.min_order_qty,
        "preferred": bool(row.preferred),
    }


def set_supplier_item(
    *,
    actor: Actor,
    supplier_id: int,
    product_id: int,
    unit_cost: Any,
    supplier_sku: str | None = None,
    pack_size: int = 1,
    min_order_qty: int = 0,
    preferred: bool = False,
) -> SupplierItemView:
    """Record what a supplier sells a variant for (in the supplier's currency), its SKU
    there, the pack it comes in and the least it takes; the same supplier and variant
    again changes the item. Made preferred, it takes over from the variant's other
    preferred supplier. Raises ValidationError naming each bad field, Conflict (an
    archived supplier, a product with no stock of its own), NotFound, PermissionDenied."""
    check = Checker()
    if not is_id(product_id):
        check.fail("product_id", "Choose a product.")
    cost = check_amount(check, "unit_cost", unit_cost)
    check.text("supplier_sku", supplier_sku, required=False, max_length=64)
    check.whole("pack_size", pack_size, minimum=1)
    check.whole("min_order_qty", min_order_qty, minimum=0)
    if not isinstance(preferred, bool):
        check.fail("preferred", "Choose yes or no.")
    check.done()
    assert cost is not None
    with write_transaction() as session:
        supplier = _locked_supplier(session, actor, supplier_id)
        if supplier.archived_at is not None:
            raise Conflict(f"{supplier.name} is archived: it supplies nothing new.")
        product = stockable(session, supplier.store_id, [product_id],
                            lambda _p: "product_id")[product_id]
        # The product's row, locked: two suppliers made preferred at once take turns, so
        # the one that commits last is the preferred one, not a unique-index failure.
        session.execute(
            select(products.c.id).where(products.c.id == product_id)
            .with_for_update(key_share=True)
        ).all()
        current = session.execute(
            select(supplier_items).where(supplier_items.c.supplier_id == supplier.id,
                                         supplier_items.c.product_id == product_id)
        ).one_or_none()
        now = utcnow()
        after = {
            "unit_cost": cost, "supplier_sku": text_or_none(supplier_sku),
            "pack_size": pack_size, "min_order_qty": min_order_qty, "preferred": preferred,
        }
        if preferred:
            session.execute(
                update(supplier_items)
                .where(supplier_items.c.product_id == product_id, supplier_items.c.preferred,
                       supplier_items.c.supplier_id != supplier.id)
                .values(preferred=False, updated_at=now)
            )
        if current is None:
            item_id = session.execute(
                insert(supplier_items).values(
                    store_id=supplier.store_id, supplier_id=supplier.id, product_id=product_id,
                    created_at=now, updated_at=now, **after,
                ).returning(supplier_items.c.id)
            ).scalar_one()
            changes = audit.diff({}, {**after, "unit_cost": amount(cost)})
            action = "supplier.item_added"
        else:
            item_id = current.id
            changes = audit.diff(_item_fields(current), {**after, "unit_cost": amount(cost)})
            if changes:
                session.execute(update(supplier_items).where(supplier_items.c.id == item_id)
                                .values(**after, updated_at=now))
            action = "supplier.item_updated"
        if changes:
            audit.record(session, actor, action, "supplier", supplier.id,
                         f"{supplier.name}: {product.sku}", store_id=supplier.store_id,
                         product_id=product_id, changes=changes, now=now)
    return get_supplier_item(actor, item_id)


def remove_supplier_item(*, actor: Actor, supplier_item_id: int) -> None:
    """The supplier no longer sells this variant; orders already made keep their lines.
    Raises NotFound, PermissionDenied."""
    with write_transaction() as session:
        item = session.execute(
            select(supplier_items, products.c.sku)
            .join(products, products.c.id == supplier_items.c.product_id)
            .where(supplier_items.c.id == supplier_item_id)
        ).one_or_none() if is_id(supplier_item_id) else None
        if item is None or not actor.is_member(item.store_id):
            raise NotFound("Supplier item not found.", {"supplier_item_id": "No such item."})
        supplier = _locked_supplier(session, actor, item.supplier_id)
        session.execute(delete(supplier_items).where(supplier_items.c.id == item.id))
        audit.record(session, actor, "supplier.item_removed", "supplier", supplier.id,
                     f"{supplier.name}: {item.sku}", store_id=supplier.store_id,
                     product_id=item.product_id,
                     changes=audit.diff(_item_fields(item), {}))


# --------------------------------------------------------------------------- the store's


def set_store_currency(*, actor: Actor, store_id: int, currency: str) -> str:
    """The currency the store values stock in (average costs, stock value, the rate of an
    order in another currency). It changes only before the store has any purchase order
    or known cost: those are kept in the old one. Raises ValidationError, Conflict,
    NotFound, PermissionDenied."""
    check = Checker()
    code = check_currency(check, "currency", currency)
    check.done()
    assert code is not None
    require_store(actor, PURCHASING, store_id)
    with write_transaction() as session:
        before = session.execute(
            select(stores.c.currency, stores.c.name).where(stores.c.id == store_id)
            .with_for_update(key_share=True)
        ).one_or_none()
        if before is None:
            raise NotFound("Store not found.")
        if before.currency == code:
            return code
        valued = session.scalar(
            select(or_(
                select(orders.c.id).where(orders.c.store_id == store_id).exists(),
                select(entries.c.id).where(entries.c.store_id == store_id,
                                           entries.c.average_cost.is_not(None)).exists(),
            ))
        )
        if valued:
            raise Conflict(
                f"{before.name} already keeps costs in {before.currency}: its currency can "
                "change only before it has purchase orders or known costs.",
                {"currency": f"Costs are already kept in {before.currency}."},
            )
        session.execute(update(stores).where(stores.c.id == store_id).values(currency=code))
        audit.record(session, actor, "store.updated", "store", store_id, before.name,
                     store_id=store_id, changes={"currency": (before.currency, code)})
    return code


__all__ = [
    "archive_supplier",
    "create_supplier",
    "remove_supplier_item",
    "set_store_currency",
    "set_supplier_item",
    "unarchive_supplier",
    "update_supplier",
]
