"""Products: what a store sells, identified by SKU, optionally by GTIN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import (
    PRODUCT_TYPES,
    UNLIMITED_TYPES,
    InventoryEntry,
    Item,
    ItemVariant,
    Location,
    Product,
    Store,
)
from app.permissions import CATALOG, READ, Actor
from app.services import audit
from app.services.cursors import decode_cursor, encode_cursor
from app.services.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ReservedStockBlocksTypeChange,
)
from app.services.stores import require_store
from app.services.validation import Checker, identifier, is_id

GTIN_LENGTHS = (8, 12, 13, 14)
PRODUCT_PAGE_SIZE = 50
SEARCH_MAX_LENGTH = 200

products = Product.__table__
items = Item.__table__
variants = ItemVariant.__table__
entries = InventoryEntry.__table__
locations = Location.__table__


def gtin_check_digit(body: str) -> str:
    """The GS1 check digit for a GTIN without its last digit.

    Weights alternate 3, 1, … starting from the digit next to the check digit, so the
    same rule serves GTIN-8, -12, -13 and -14.
    """
    if not body.isdigit():
        raise ValueError("a GTIN has digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_gtin(code: str) -> bool:
    """True for a GTIN-8/12/13/14 whose check digit is right."""
    return (
        code.isascii() and code.isdigit() and len(code) in GTIN_LENGTHS
        and gtin_check_digit(code[:-1]) == code[-1]
    )


def gtin_problem(code: str) -> str | None:
    """What is wrong with a GTIN, in words a person can act on; None when it is valid."""
    if not (code.isascii() and code.isdigit()):
        return "A GTIN has digits only (0–9), no spaces or letters."
    if len(code) not in GTIN_LENGTHS:
        return f"A GTIN has 8, 12, 13 or 14 digits; this one has {len(code)}."
    expected = gtin_check_digit(code[:-1])
    if expected != code[-1]:
        return (f"The check digit is wrong: after {code[:-1]} it should be {expected}, "
                f"not {code[-1]}. Check for a typing error.")
    return None


def check_product_fields(
    check: Checker,
    *,
    sku: Any,
    title: Any,
    gtin: Any,
    product_type: Any,
    allow_backorder: Any,
    reorder_point: Any,
    reorder_quantity: Any,
    reorder_up_to: Any = 0,
) -> None:
    check.text("sku", sku, required=True, max_length=64)
    check.text("title", title, required=True, max_length=200)
    if isinstance(gtin, str) and gtin.strip():
        problem = gtin_problem(gtin.strip())
        if problem:
            check.fail("gtin", problem)
    check.text("gtin", gtin, required=False, max_length=14)
    if product_type not in PRODUCT_TYPES:
        check.fail("product_type", f"Choose one of: {', '.join(PRODUCT_TYPES)}.")
    if not isinstance(allow_backorder, bool):
        check.fail("allow_backorder", "Choose yes or no.")
    check.whole("reorder_point", reorder_point, minimum=0)
    check.whole("reorder_quantity", reorder_quantity, minimum=0)
    check.whole("reorder_up_to", reorder_up_to, minimum=0)
    if (type(reorder_up_to) is int and type(reorder_point) is int and 0 < reorder_up_to
            and reorder_up_to <= reorder_point and "reorder_up_to" not in check.errors):
        # Ordering up to the point or below would never lift the stock off it.
        check.fail("reorder_up_to", "Order up to must be above the reorder point.")


def duplicate_sku(sku: str) -> Conflict:
    return Conflict(f"This store already has a product with the SKU {sku}.")


def create_product(
    *,
    actor: Actor,
    store_id: int,
    sku: str,
    title: str,
    gtin: str | None = None,
    product_type: str = "physical",
    allow_backorder: bool = False,
    reorder_point: int = 0,
    reorder_quantity: int = 0,
    reorder_up_to: int = 0,
) -> Product:
    """Add a product to a store's catalog. Raises ValidationError, Conflict, NotFound,
    PermissionDenied."""
    check = Checker()
    check_product_fields(
        check, sku=sku, title=title, gtin=gtin, product_type=product_type,
        allow_backorder=allow_backorder, reorder_point=reorder_point,
        reorder_quantity=reorder_quantity, reorder_up_to=reorder_up_to,
    )
    check.done()
    require_store(actor, CATALOG, store_id)
    sku = identifier(sku)

    try:
        with write_transaction() as session:
            if session.get(Store, store_id) is None:
                raise NotFound("Store not found.")
            if session.scalar(
                select(func.count()).where(Product.store_id == store_id, Product.sku == sku)
            ):
                raise duplicate_sku(sku)
            # A product made alone is the single variant of an item of its own.
            item = Item(store_id=store_id, title=title.strip(), status="active")
            session.add(item)
            session.flush()
            product = insert_variant(
                session, actor, item, (), sku=sku, title=title.strip(), gtin=gtin,
                product_type=product_type, allow_backorder=allow_backorder,
                reorder_point=reorder_point, reorder_quantity=reorder_quantity,
                reorder_up_to=reorder_up_to,
            )
    except IntegrityError as exc:
        if not is_unique_violation(exc, "sku"):
            raise
        raise duplicate_sku(sku) from exc
    return product


def insert_variant(
    session: Session,
    actor: Actor,
    item: Item,
    values: tuple[str, ...],
    *,
    sku: str,
    title: str,
    gtin: str | None,
    product_type: str,
    allow_backorder: bool,
    reorder_point: int,
    reorder_quantity: int,
    reorder_up_to: int = 0,
    position: int = 0,
) -> Product:
    """Insert one product as the variant of `item` with these option values, and record it.
    The caller has checked the fields and that the SKU is free, inside its transaction."""
    product = Product(
        store_id=item.store_id, sku=sku, title=title,
        gtin=(gtin or "").strip() or None, type=product_type,
        # Unlimited products never run short, so backorders mean nothing for them.
        allow_backorder=allow_backorder and product_type == "physical",
        reorder_point=reorder_point, reorder_quantity=reorder_quantity,
        reorder_up_to=reorder_up_to,
    )
    session.add(product)
    session.flush()
    padded = (*values, "", "", "")[:3]
    session.add(ItemVariant(product_id=product.id, store_id=item.store_id, item_id=item.id,
                            value1=padded[0], value2=padded[1], value3=padded[2],
                            position=position))
    audit.record(session, actor, "product.created", "product", product.id, product.sku,
                 store_id=item.store_id, product_id=product.id,
                 changes=created_changes(product.__dict__, item.title, values))
    return product


def created_changes(fields: Any, item_title: str, values: tuple[str, ...]
                    ) -> dict[str, tuple[Any, Any]]:
    """What a new variant's audit row records: its fields, and its item and option values."""
    changes = audit.diff({}, _audited(fields))
    if values:
        changes["item"] = (None, item_title)
        changes["options"] = (None, " / ".join(values))
    return changes


# The product fields its audit rows follow: what an edit can change.
AUDITED_FIELDS = ("sku", "title", "gtin", "type", "allow_backorder", "reorder_point",
                  "reorder_quantity", "reorder_up_to")


def _audited(values: Any) -> dict[str, Any]:
    return {name: values[name] for name in AUDITED_FIELDS}



def update_product(
    *,
    actor: Actor,
    product_id: int,
    sku: str,
    title: str,
    gtin: str | None = None,
    product_type: str = "physical",
    allow_backorder: bool = False,
    reorder_point: int = 0,
    reorder_quantity: int = 0,
    reorder_up_to: int = 0,
) -> ProductRow:
    """Change a product's details, its SKU included (still unique in its store).

    Turning a physical product unlimited (digital, service, subscription) is refused while
    any of its entries holds reserved units: those holds were promised against counted
    stock and must be released or fulfilled first. Entries with stock on hand but nothing
    reserved stay as they are (the ledger keeps them) and show as unlimited.
    Raises ValidationError, Conflict, ReservedStockBlocksTypeChange, NotFound,
    PermissionDenied."""
    check = Checker()
    check_product_fields(
        check, sku=sku, title=title, gtin=gtin, product_type=product_type,
        allow_backorder=allow_backorder, reorder_point=reorder_point,
        reorder_quantity=reorder_quantity, reorder_up_to=reorder_up_to,
    )
    check.done()
    sku = identifier(sku)
    try:
        with write_transaction() as session:
            # The entries first, then the product, in the order stock changes take them.
            # Held, no reservation lands between the check below and the change, and the
            # stock tallies see every entry's last state when the type or backorder
            # setting changes its status (a new entry waits on the product: _ensure_entry).
            held = session.execute(
                select(entries.c.reserved_quantity).where(entries.c.product_id == product_id)
                .order_by(entries.c.id).with_for_update()
            ).scalars().all() if is_id(product_id) else []
            current = _manageable(session, actor, product_id)
            if session.scalar(
                select(func.count()).where(products.c.store_id == current.store_id,
                                           products.c.sku == sku, products.c.id != product_id)
            ):
                raise duplicate_sku(sku)
            if product_type in UNLIMITED_TYPES and current.type not in UNLIMITED_TYPES:
                reserved = [r for r in held if r]
                if reserved:
                    raise ReservedStockBlocksTypeChange(
                        current.sku, product_type, sum(reserved), len(reserved)
                    )
            after = {
                "sku": sku, "title": title.strip(), "gtin": (gtin or "").strip() or None,
                "type": product_type,
                "allow_backorder": allow_backorder and product_type == "physical",
                "reorder_point": reorder_point, "reorder_quantity": reorder_quantity,
                "reorder_up_to": reorder_up_to,
            }
            session.execute(
                update(products).where(products.c.id == product_id)
                .values(**after, updated_at=utcnow())
            )
            if after["title"] != current.title:
                _sync_own_item(session, product_id, title=after["title"])
            changed = audit.diff(_audited(current._mapping), after)
            # An edit that changes nothing leaves nothing to record.
            if changed:
                audit.record(session, actor, "product.updated", "product", product_id, sku,
                             store_id=current.store_id, product_id=product_id,
                             changes=changed)
    except IntegrityError as exc:  # a concurrent create or edit took the SKU first
        if not is_unique_violation(exc, "sku"):
            raise
        raise duplicate_sku(sku) from exc
    return get_product(actor, product_id)


def archive_product(*, actor: Actor, product_id: int) -> ProductRow:
    """Retire a product from the catalog list, the reorder report and the public
    availability read; its entries and ledger stay. Raises Conflict, NotFound,
    PermissionDenied."""
    return _set_archived(actor, product_id, archived=True)


def unarchive_product(*, actor: Actor, product_id: int) -> ProductRow:
    """Bring an archived product back. Raises Conflict, NotFound, PermissionDenied."""
    return _set_archived(actor, product_id, archived=False)


def _set_archived(actor: Actor, product_id: int, *, archived: bool) -> ProductRow:
    with write_transaction() as session:
        current = _manageable(session, actor, product_id)
        if (current.archived_at is not None) == archived:
            raise Conflict(
                f"{current.sku} is {'already archived' if archived else 'not archived'}."
            )
        session.execute(
            update(products).where(products.c.id == product_id)
            .values(archived_at=utcnow() if archived else None, updated_at=utcnow())
        )
        _sync_own_item(session, product_id, status="archived" if archived else "active")
        audit.record(session, actor, "product.archived" if archived else "product.unarchived",
                     "product", product_id, current.sku, store_id=current.store_id,
                     product_id=product_id, changes={"archived": (not archived, archived)})
    return get_product(actor, product_id)


def _sync_own_item(session: Session, product_id: int, **values: Any) -> None:
    """An item with a single variant is that product to the user: its title and status
    follow the product's. An item with several variants keeps its own."""
    item_id = session.scalar(
        select(variants.c.item_id).where(variants.c.product_id == product_id)
    )
    if item_id is None:
        return
    siblings = session.scalar(
        select(func.count()).select_from(variants).where(variants.c.item_id == item_id)
    )
    if siblings == 1:
        session.execute(update(items).where(items.c.id == item_id)
                        .values(**values, updated_at=utcnow()))


def _manageable(session: Session, actor: Actor, product_id: object) -> Any:
    current = session.execute(
        select(products.c.id, products.c.store_id, products.c.archived_at,
               *(products.c[name] for name in AUDITED_FIELDS))
        .where(products.c.id == product_id)
        # NO KEY UPDATE: stock operations take KEY SHARE on the product (their ledger and
        # reservation rows reference it) while holding an entry; FOR UPDATE would deadlock.
        .with_for_update(key_share=True)
    ).one_or_none() if is_id(product_id) else None
    if current is None or not actor.is_member(current.store_id):
        raise NotFound("Product not found.")
    if not actor.can(CATALOG, current.store_id):
        raise PermissionDenied(CATALOG)
    return current


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class ProductRow:
    id: int
    store_id: int
    sku: str
    title: str
    gtin: str | None
    type: str
    allow_backorder: bool
    reorder_point: int
    reorder_quantity: int
    reorder_up_to: int
    archived_at: datetime | None
    entries: int
    on_hand: int
    reserved: int

    @property
    def unlimited(self) -> bool:
        return self.type in UNLIMITED_TYPES

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass(frozen=True)
class ProductPage:
    rows: list[ProductRow]
    total: int
    next_cursor: str | None


def _on_hand(column: Any) -> Any:
    # Correlated per row through the (product_id, location_id) unique index: a page costs
    # the same whatever the store's size.
    return (
        select(func.coalesce(func.sum(column), 0))
        .where(entries.c.product_id == products.c.id)
        .scalar_subquery()
    )


def _row_select() -> Any:
    return select(
        products.c.id, products.c.store_id, products.c.sku, products.c.title, products.c.gtin,
        products.c.type, products.c.allow_backorder, products.c.reorder_point,
        products.c.reorder_quantity, products.c.reorder_up_to, products.c.archived_at,
        select(func.count(entries.c.id)).where(entries.c.product_id == products.c.id)
        .scalar_subquery().label("entries"),
        _on_hand(entries.c.quantity).label("on_hand"),
        _on_hand(entries.c.reserved_quantity).label("reserved"),
    )


def _product_row(r: Any) -> ProductRow:
    data = r._asdict()
    data.pop("sort_key", None)
    for key in ("entries", "on_hand", "reserved"):
        data[key] = int(data[key])
    return ProductRow(**data)


def readable_store(actor: Actor, store_id: object) -> int:
    """The store id, once the actor may read it. Raises NotFound, PermissionDenied."""
    require_store(actor, READ, store_id)
    if db.session.get(Store, store_id) is None:
        raise NotFound("Store not found.")
    return int(store_id)  # type: ignore[arg-type]


def list_products(
    actor: Actor,
    store_id: int,
    *,
    search: str | None = None,
    archived: bool = False,
    cursor: str | None = None,
    limit: int = PRODUCT_PAGE_SIZE,
) -> ProductPage:
    """One page of a store's products by SKU, keyset-paginated on (sku, id); `search`
    matches SKU or title (contains, any case) or the GTIN exactly. Archived products are
    listed only with `archived`. Raises NotFound, ValidationError (a forged cursor)."""
    store_id = readable_store(actor, store_id)
    conditions = [
        products.c.store_id == store_id,
        products.c.archived_at.is_not(None) if archived else products.c.archived_at.is_(None),
    ]
    term = (search or "").strip()[:SEARCH_MAX_LENGTH]
    if term:
        pattern = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(
            products.c.sku.ilike(pattern, escape="\\"),
            products.c.title.ilike(pattern, escape="\\"),
            products.c.gtin == term,
        ))
    query = _row_select().where(*conditions)
    if cursor:
        key = decode_cursor(cursor, str)
        query = query.where(tuple_(products.c.sku, products.c.id) > tuple_(key.value, key.id))
    fetched = db.session.execute(
        query.order_by(products.c.sku, products.c.id).limit(limit + 1)
    ).all()
    more = len(fetched) > limit
    rows = [_product_row(r) for r in fetched[:limit]]
    total = db.session.scalar(select(func.count()).select_from(products).where(*conditions))
    next_cursor = (
        encode_cursor(rows[-1].sku, rows[-1].id, backwards=False) if more and rows else None
    )
    return ProductPage(rows=rows, total=int(total or 0), next_cursor=next_cursor)


def get_product(actor: Actor, product_id: int) -> ProductRow:
    """One product with its stock totals. Raises NotFound (also for a foreign store's)."""
    row = db.session.execute(
        _row_select().where(products.c.id == product_id)
    ).one_or_none() if is_id(product_id) else None
    if row is None or not actor.is_member(row.store_id) or not actor.can(READ, row.store_id):
        raise NotFound("Product not found.")
    return _product_row(row)


@dataclass(frozen=True)
class StockingOption:
    id: int
    code: str
    name: str


def stocking_options(actor: Actor, product_id: int) -> list[StockingOption]:
    """The store's active locations where the product has no entry yet, by code."""
    product = get_product(actor, product_id)
    stocked = select(entries.c.location_id).where(entries.c.product_id == product_id)
    rows = db.session.execute(
        select(locations.c.id, locations.c.code, locations.c.name)
        .where(locations.c.store_id == product.store_id, locations.c.archived_at.is_(None),
               locations.c.id.not_in(stocked))
        .order_by(locations.c.code, locations.c.id)
    )
    return [StockingOption(**r._asdict()) for r in rows]
