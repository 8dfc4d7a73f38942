"""Items with options and their variants.

An item is what a merchant sells as they think of it ("Summit Down Parka"); its options
(Color, Size: at most three) multiply into variants. Each variant is a product (the unit
stock is kept in, with its own SKU, GTIN, reorder point and entries per location), linked
to its item by an `item_variants` row holding its option values. An item without options
has exactly one variant: every product made alone (catalog.create_product) is one.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import (
    MAX_OPTIONS,
    InventoryEntry,
    Item,
    ItemVariant,
    Location,
    Product,
    Store,
)
from app.permissions import CATALOG, READ, Actor
from app.services import audit
from app.services.bundles import bundle_made, bundle_parts
from app.services.catalog import (
    check_product_fields,
    created_changes,
    duplicate_sku,
    insert_variant,
)
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.services.queries import Availability, product_status
from app.services.stores import require_store
from app.services.validation import Checker, identifier, is_id

# As many variants as a merchant can still read in one matrix; more is a catalog import.
MAX_VARIANTS = 100
OPTION_NAME_LENGTH = 40
OPTION_VALUE_LENGTH = 60
SKU_LENGTH = 64
TITLE_LENGTH = 200
DESCRIPTION_LENGTH = 5000
TITLE_SEPARATOR = " - "
OPTIONS_SEPARATOR = "; "
# What an item's status may be set to; "archived" comes with archive_item, for its variants.
SETTABLE_STATUSES = ("active", "draft")

items = Item.__table__
variants = ItemVariant.__table__
products = Product.__table__
entries = InventoryEntry.__table__
locations = Location.__table__
stores = Store.__table__


@dataclass(frozen=True)
class Option:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class VariantSpec:
    """One variant to create: its option values (one per option, in option order)."""

    values: tuple[str, ...]
    sku: str
    gtin: str | None = None
    reorder_point: int = 0
    reorder_quantity: int = 0
    reorder_up_to: int = 0


def value_code(value: str) -> str:
    """The part of a SKU that stands for an option value: "Glacier Blue" → "GLACIERBLUE",
    "250 g" → "250G", "S/M" → "SM". ASCII letters and digits only, upper case."""
    folded = unicodedata.normalize("NFKD", value)
    return re.sub(r"[^A-Za-z0-9]", "", folded.encode("ascii", "ignore").decode()).upper()


def variant_sku(prefix: str, values: Sequence[str]) -> str:
    """The SKU a generated variant gets: the prefix and each value's code, joined by '-'."""
    return "-".join([identifier(prefix), *(value_code(v) or "X" for v in values)])


def variant_title(title: str, values: Sequence[str]) -> str:
    """A variant's own title, as lists and labels show it: "Parka - Black / XL"."""
    return title + (TITLE_SEPARATOR + " / ".join(values) if values else "")


def combinations(options: Sequence[Option]) -> list[tuple[str, ...]]:
    """Every combination of the options' values, the first option varying slowest."""
    return [tuple(c) for c in itertools.product(*(o.values for o in options))]


def generate(options: Sequence[Option], sku_prefix: str, *, reorder_point: int = 0,
             reorder_quantity: int = 0, reorder_up_to: int = 0) -> list[VariantSpec]:
    """One variant per combination of the options' values, SKUs made from `sku_prefix`.
    Raises ValidationError (naming `options`) before making more than an item may hold:
    options typed into a form could otherwise multiply into millions of combinations."""
    if len(options) > MAX_OPTIONS:
        raise ValidationError({"options": f"An item has at most {MAX_OPTIONS} options; "
                                          f"this one has {len(options)}."})
    if not isinstance(sku_prefix, str) or not identifier(sku_prefix):
        raise ValidationError({"sku_prefix": "Enter a SKU prefix, like PRK."})
    count = math.prod(len(o.values) for o in options)
    if count > MAX_VARIANTS:
        raise ValidationError({"options": f"These options make {count} variants; an item has "
                                          f"at most {MAX_VARIANTS}. Split it into several items."})
    return [
        VariantSpec(values=combo, sku=variant_sku(sku_prefix, combo),
                    reorder_point=reorder_point, reorder_quantity=reorder_quantity,
                    reorder_up_to=reorder_up_to)
        for combo in combinations(options)
    ]


def parse_options(text: str) -> list[Option]:
    """Options as a person types them, one per line: "Color: Black, Glacier Blue".
    Raises ValidationError naming the field `options`."""
    options: list[Option] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, values = line.partition(":")
        if not colon:
            raise ValidationError({"options": (
                f"Line {number}: write the option's name, a colon and its values separated "
                "by commas, for example “Size: S, M, L”.")})
        options.append(Option(name.strip(), tuple(v.strip() for v in values.split(",")
                                                  if v.strip())))
    return options


def options_text(names: Sequence[str | None], values: Sequence[str]) -> str:
    """A variant's options as the entries CSV writes them and its import reads them back:
    "Color: Black; Size: S" (empty for an item without options)."""
    return OPTIONS_SEPARATOR.join(
        f"{name}: {value}" for name, value in zip(names, values, strict=False) if name and value
    )


def read_options_text(text: str) -> list[tuple[str, str]]:
    """The (option, value) pairs of an options cell as `options_text` writes it, checked as
    an item's options are. Raises ValidationError naming `options`."""
    pairs: list[tuple[str, str]] = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        name, colon, value = part.partition(":")
        if not colon:
            shown = part.strip()
            shown = shown if len(shown) <= 30 else shown[:30] + "…"
            raise ValidationError({"options": (
                f"“{shown}” is not an option and its value: write each as “Name: value”, "
                "separated by semicolons, for example “Color: Black; Size: M”.")})
        name, value = name.strip(), value.strip()
        if name and not value:
            raise ValidationError({"options": f"The option {name[:20]} has no value."})
        pairs.append((name, value))
    check = Checker()
    _check_options(check, [Option(name, (value,)) for name, value in pairs])
    check.done()
    return pairs


def _check_options(check: Checker, options: Sequence[Option]) -> None:
    if len(options) > MAX_OPTIONS:
        check.fail("options", f"An item has at most {MAX_OPTIONS} options; "
                              f"this one has {len(options)}.")
        return
    seen: set[str] = set()
    for option in options:
        label = option.name or "An option"
        if not option.name:
            check.fail("options", "Every option needs a name, such as Color or Size.")
        elif len(option.name) > OPTION_NAME_LENGTH:
            check.fail("options", f"The option name {option.name[:20]}… is longer than "
                                  f"{OPTION_NAME_LENGTH} characters.")
        elif option.name.casefold() in seen:
            check.fail("options", f"The option {option.name} is named twice.")
        seen.add(option.name.casefold())
        if not option.values:
            check.fail("options", f"{label} needs at least one value.")
        values: set[str] = set()
        for value in option.values:
            if not value:
                check.fail("options", f"{label} has an empty value.")
            elif len(value) > OPTION_VALUE_LENGTH:
                check.fail("options", f"{label}: the value {value[:20]}… is longer than "
                                      f"{OPTION_VALUE_LENGTH} characters.")
            elif any(unicodedata.category(ch) == "Cc" for ch in value + option.name):
                check.fail("options", f"{label} must not contain control characters.")
            elif value.casefold() in values:
                check.fail("options", f"{label} has the value {value} twice.")
            values.add(value.casefold())


def _check_variants(check: Checker, title: str, options: Sequence[Option],
                    specs: Sequence[VariantSpec]) -> None:
    if not specs:
        check.fail("options", "An item needs at least one variant.")
        return
    if len(specs) > MAX_VARIANTS:
        check.fail("options", f"These options make {len(specs)} variants; an item has at "
                              f"most {MAX_VARIANTS}. Split it into several items.")
        return
    skus: dict[str, tuple[str, ...]] = {}
    combos: set[tuple[str, ...]] = set()
    for spec in specs:
        if len(spec.values) != len(options) or any(
            v not in o.values for v, o in zip(spec.values, options, strict=False)
        ):
            check.fail("variants", f"The variant {' / '.join(spec.values) or '(no values)'} "
                                   "does not match the item's options: give one value of "
                                   "each option.")
            continue
        if spec.values in combos:
            check.fail("variants", f"The variant {' / '.join(spec.values)} is listed twice.")
        combos.add(spec.values)
        sku = identifier(spec.sku) if isinstance(spec.sku, str) else spec.sku
        if isinstance(sku, str) and len(sku) > SKU_LENGTH:
            check.fail("sku", f"The SKU {sku[:24]}… for {' / '.join(spec.values)} would be "
                              f"longer than {SKU_LENGTH} characters; use a shorter prefix.")
        elif isinstance(sku, str) and sku.casefold() in skus:
            other = " / ".join(skus[sku.casefold()])
            check.fail("sku", f"{' / '.join(spec.values)} and {other} would both have the "
                              f"SKU {sku}.")
        elif isinstance(sku, str):
            skus[sku.casefold()] = spec.values
    # An option's values live in its variants: a value no variant has would be lost.
    for index, option in enumerate(options):
        unused = [v for v in option.values if all(c[index] != v for c in combos)]
        if unused and not check.errors:
            check.fail("variants", f"No variant has {option.name} {', '.join(unused)}; give "
                                   "it a variant or leave the value out.")
    problem = _title_problem(title, [s.values for s in specs])
    if problem:
        check.fail("title", problem)


def _title_problem(title: str, combos: Sequence[Sequence[str]], *,
                   remedy: str = "Shorten the title.") -> str | None:
    """What is wrong when a variant's title ("Parka - Black / XL") would be too long for a
    product's title, or None."""
    longest = max((variant_title(title.strip(), c) for c in combos), key=len,
                  default=title.strip())
    if len(longest) <= TITLE_LENGTH:
        return None
    return (f"With its option values a variant's title would be {len(longest)} characters "
            f"(“{longest[:40]}…”); a title is at most {TITLE_LENGTH}. {remedy}")


@dataclass(frozen=True)
class CreatedItem:
    id: int
    store_id: int
    title: str
    product_ids: tuple[int, ...]


def create_item(
    *,
    actor: Actor,
    store_id: int,
    title: str,
    options: Sequence[Option] = (),
    variants_to_make: Sequence[VariantSpec],
    product_type: str = "physical",
    allow_backorder: bool = False,
    description: str | None = None,
    status: str = "active",
) -> CreatedItem:
    """Create an item with its options and variants in one transaction: every variant a
    product with its SKU (unique in the store), recorded in the audit trail. A `draft` item
    is left out of the public read until it is made active. Raises ValidationError (naming
    `title`, `options`, `variants`, `sku`, `status`, …), Conflict (a SKU the store already
    has), NotFound, PermissionDenied."""
    check = Checker()
    check.text("title", title, required=True, max_length=TITLE_LENGTH)
    check.text("description", description, required=False, max_length=DESCRIPTION_LENGTH)
    if status not in SETTABLE_STATUSES:
        check.fail("status", f"Choose one of: {', '.join(SETTABLE_STATUSES)}.")
    options = [Option(o.name.strip(), tuple(v.strip() for v in o.values)) for o in options]
    _check_options(check, options)
    if not check.errors:
        _check_variants(check, title, options, variants_to_make)
    for spec in variants_to_make[:MAX_VARIANTS]:
        check_product_fields(check, sku=spec.sku, title=title, gtin=spec.gtin,
                      product_type=product_type, allow_backorder=allow_backorder,
                      reorder_point=spec.reorder_point, reorder_quantity=spec.reorder_quantity,
                      reorder_up_to=spec.reorder_up_to)
    check.done()
    require_store(actor, CATALOG, store_id)
    title = title.strip()
    names = [o.name for o in options] + [None] * (MAX_OPTIONS - len(options))
    try:
        with write_transaction() as session:
            _refuse_taken(session, store_id, [identifier(v.sku) for v in variants_to_make])
            item = Item(store_id=store_id, title=title, status=status,
                        description=(description or "").strip() or None,
                        option1=names[0], option2=names[1], option3=names[2])
            session.add(item)
            session.flush()
            made = [
                insert_variant(
                    session, actor, item, spec.values, sku=identifier(spec.sku),
                    title=variant_title(title, spec.values), gtin=spec.gtin,
                    product_type=product_type, allow_backorder=allow_backorder,
                    reorder_point=spec.reorder_point, reorder_quantity=spec.reorder_quantity,
                    reorder_up_to=spec.reorder_up_to, position=position,
                ).id
                for position, spec in enumerate(variants_to_make)
            ]
    except IntegrityError as exc:  # a concurrent create took a SKU first
        if not is_unique_violation(exc, "sku"):
            raise
        raise Conflict("Another change took one of these SKUs first; try again.") from exc
    return CreatedItem(id=item.id, store_id=store_id, title=title, product_ids=tuple(made))


def _refuse_taken(session: Any, store_id: int, skus: Sequence[str]) -> None:
    taken = session.scalars(
        select(products.c.sku).where(products.c.store_id == store_id,
                                     products.c.sku.in_(skus)).order_by(products.c.sku)
    ).all()
    if len(taken) == 1:
        raise duplicate_sku(taken[0])
    if taken:
        raise Conflict(f"This store already has products with the SKUs {', '.join(taken)}.")


def add_option_value(
    *, actor: Actor, item_id: int, option: int, value: str, sku_prefix: str
) -> tuple[int, ...]:
    """Add a value to one of the item's options, and with it a variant for every
    combination with the other options' values (SKUs made from `sku_prefix`), in one
    transaction. Returns the new products' ids. Raises ValidationError, Conflict, NotFound,
    PermissionDenied."""
    check = Checker()
    check.text("value", value, required=True, max_length=OPTION_VALUE_LENGTH)
    check.text("sku_prefix", sku_prefix, required=True, max_length=SKU_LENGTH)
    check.done()
    value = value.strip()
    try:
        with write_transaction() as session:
            item = session.execute(
                select(Item).where(Item.id == item_id).with_for_update()
            ).scalar_one_or_none() if is_id(item_id) else None
            if item is None or not actor.is_member(item.store_id):
                raise NotFound("Item not found.")
            if not actor.can(CATALOG, item.store_id):
                raise PermissionDenied(CATALOG)
            shape = _options(session, item)
            if not (type(option) is int and 1 <= option <= len(shape)):
                raise ValidationError({"option": "Choose one of the item's options."})
            chosen = shape[option - 1]
            if value.casefold() in {v.casefold() for v in chosen.values}:
                raise ValidationError({"value": f"{chosen.name} already has the value {value}."})
            others = [o if i != option - 1 else Option(o.name, (value,))
                      for i, o in enumerate(shape)]
            specs = generate(others, sku_prefix)
            existing = session.scalar(select(func.count()).select_from(variants)
                                      .where(variants.c.item_id == item.id)) or 0
            check = Checker()
            if existing + len(specs) > MAX_VARIANTS:
                check.fail("value", f"That would make {existing + len(specs)} variants; an "
                                    f"item has at most {MAX_VARIANTS}.")
            for spec in specs:
                if len(spec.sku) > SKU_LENGTH:
                    check.fail("sku_prefix", f"The SKU {spec.sku[:24]}… would be longer than "
                                             f"{SKU_LENGTH} characters; use a shorter prefix.")
            problem = _title_problem(item.title, [s.values for s in specs],
                                     remedy="Shorten the value or the item's title.")
            if problem:
                check.fail("value", problem)
            check.done()
            template = session.execute(
                select(products.c.type, products.c.allow_backorder, products.c.reorder_point,
                       products.c.reorder_quantity, products.c.reorder_up_to)
                .join(variants, variants.c.product_id == products.c.id)
                .where(variants.c.item_id == item.id).order_by(variants.c.position).limit(1)
            ).one()
            _refuse_taken(session, item.store_id, [s.sku for s in specs])
            made = tuple(
                insert_variant(
                    session, actor, item, spec.values, sku=spec.sku,
                    title=variant_title(item.title, spec.values), gtin=None,
                    product_type=template.type, allow_backorder=template.allow_backorder,
                    reorder_point=template.reorder_point,
                    reorder_quantity=template.reorder_quantity,
                    reorder_up_to=template.reorder_up_to,
                    position=existing + n,
                ).id
                for n, spec in enumerate(specs)
            )
            session.execute(update(items).where(items.c.id == item.id)
                            .values(updated_at=utcnow()))
    except IntegrityError as exc:
        if not is_unique_violation(exc, "sku"):
            raise
        raise Conflict("Another change took one of these SKUs first; try again.") from exc
    return made


def _options(session: Any, item: Item) -> list[Option]:
    """The item's options with their values in the order the variants first use them."""
    rows = session.execute(
        select(variants.c.value1, variants.c.value2, variants.c.value3)
        .where(variants.c.item_id == item.id)
        .order_by(variants.c.position, variants.c.product_id)
    ).all()
    options = []
    for index, name in enumerate(item.option_names):
        seen: dict[str, None] = {}
        for row in rows:
            if row[index]:
                seen.setdefault(row[index], None)
        options.append(Option(name, tuple(seen)))
    return options


@dataclass
class VariantDraft:
    """A variant bulk work adds to an item: its SKU, title and option values (in the
    item's option order). `product_id` is set once written."""

    sku: str
    title: str
    values: tuple[str, ...]
    product_id: int | None = None


@dataclass
class ItemDraft:
    """An item bulk work adds variants to: one that exists (`new` False, with its id, its
    variant count and its first variant's settings for the new ones) or one to create."""

    store_id: int
    title: str
    option_names: tuple[str, ...]
    new: bool
    id: int | None = None
    existing_variants: int = 0
    product_type: str = "physical"
    allow_backorder: bool = False
    reorder_point: int = 0
    reorder_quantity: int = 0
    reorder_up_to: int = 0
    variants: list[VariantDraft] = field(default_factory=list)


# Rows per multi-row INSERT: well inside every backend's parameter limit.
DRAFT_CHUNK = 500


def insert_drafts(session: Any, actor: Actor, drafts: Sequence[ItemDraft], *,
                  batch_ref: str | None, now: datetime) -> None:
    """Write the drafts' new items and variants in the caller's transaction, set-based: a
    CSV import may add thousands. Each new product is recorded as the catalog records one
    (under `batch_ref`). The caller has checked the drafts against the catalog's rules
    (catalog permission, SKUs free, options and values, at most MAX_VARIANTS) inside its
    transaction, with the existing items locked; a SKU taken meanwhile fails the insert."""
    made = [d for d in drafts if d.new]
    for start in range(0, len(made), DRAFT_CHUNK):
        chunk = made[start:start + DRAFT_CHUNK]
        ids = session.execute(
            insert(items).returning(items.c.id, sort_by_parameter_order=True),
            [{"store_id": d.store_id, "title": d.title, "status": "active",
              "option1": names[0], "option2": names[1], "option3": names[2],
              "created_at": now, "updated_at": now}
             for d in chunk
             for names in [(*d.option_names, None, None, None)[:MAX_OPTIONS]]],
        ).scalars().all()
        for draft, item_id in zip(chunk, ids, strict=True):
            draft.id = item_id
    work = [(d, v, d.existing_variants + n) for d in drafts for n, v in enumerate(d.variants)]
    audited: list[audit.Change] = []
    for start in range(0, len(work), DRAFT_CHUNK):
        chunk = work[start:start + DRAFT_CHUNK]
        fields = [
            {"store_id": d.store_id, "sku": v.sku, "title": v.title, "gtin": None,
             "type": d.product_type,
             "allow_backorder": d.allow_backorder and d.product_type == "physical",
             "reorder_point": d.reorder_point, "reorder_quantity": d.reorder_quantity,
             "reorder_up_to": d.reorder_up_to,
             "created_at": now, "updated_at": now}
            for d, v, _position in chunk
        ]
        # Matched back by SKU (unique in a store): RETURNING in parameter order would go
        # row by row on SQLite.
        found = {
            (store_id, sku): product_id
            for product_id, store_id, sku in session.execute(
                insert(products).returning(products.c.id, products.c.store_id, products.c.sku),
                fields,
            )
        }
        ids = [found[(d.store_id, v.sku)] for d, v, _position in chunk]
        session.execute(insert(variants), [
            {"product_id": product_id, "store_id": d.store_id, "item_id": d.id,
             "value1": padded[0], "value2": padded[1], "value3": padded[2],
             "position": position}
            for (d, v, position), product_id in zip(chunk, ids, strict=True)
            for padded in [(*v.values, "", "", "")[:MAX_OPTIONS]]
        ])
        for (d, v, _position), product_id, values in zip(chunk, ids, fields, strict=True):
            v.product_id = product_id
            audited.append(audit.Change(
                "product.created", "product", product_id, v.sku, d.store_id, product_id,
                created_changes(values, d.title, v.values),
            ))
    grown = sorted(d.id for d in drafts if not d.new and d.variants and d.id is not None)
    if grown:
        session.execute(update(items).where(items.c.id.in_(grown)).values(updated_at=now))
    audit.record_many(session, actor, audited, batch_ref=batch_ref, now=now)


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class Cell:
    entry_id: int
    quantity: int
    reserved: int
    threshold: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved

    @property
    def status(self) -> str:
        if self.available <= 0:
            return "out_of_stock"
        if self.threshold and self.available <= self.threshold:
            return "low_stock"
        return "in_stock"


@dataclass(frozen=True)
class VariantRow:
    product_id: int
    sku: str
    gtin: str | None
    type: str
    values: tuple[str, ...]
    archived: bool
    cells: dict[int, Cell] = field(default_factory=dict)

    @property
    def on_hand(self) -> int:
        return sum(c.quantity for c in self.cells.values())

    @property
    def available(self) -> int:
        return sum(c.available for c in self.cells.values())

    @property
    def reserved(self) -> int:
        return sum(c.reserved for c in self.cells.values())


@dataclass(frozen=True)
class LocationColumn:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ItemView:
    id: int
    store_id: int
    title: str
    description: str | None
    status: str
    options: tuple[Option, ...]
    variants: tuple[VariantRow, ...]
    locations: tuple[LocationColumn, ...]
    updated_at: datetime

    @property
    def on_hand(self) -> int:
        return sum(v.on_hand for v in self.variants)

    @property
    def available(self) -> int:
        return sum(v.available for v in self.variants)

    @property
    def has_options(self) -> bool:
        return bool(self.options)

    def column_total(self, location_id: int) -> tuple[int, int]:
        cells = [v.cells[location_id] for v in self.variants if location_id in v.cells]
        return sum(c.quantity for c in cells), sum(c.available for c in cells)


def get_item(actor: Actor, item_id: int) -> ItemView:
    """An item with its variants and their stock at every location of the store that
    holds any of them (the variant × location matrix). Raises NotFound (a foreign store's
    item too)."""
    item = db.session.get(Item, item_id) if is_id(item_id) else None
    if item is None or not actor.is_member(item.store_id) or not actor.can(READ,
                                                                            item.store_id):
        raise NotFound("Item not found.")
    rows = db.session.execute(
        select(products.c.id, products.c.sku, products.c.gtin, products.c.type,
               products.c.archived_at, variants.c.value1, variants.c.value2, variants.c.value3)
        .join(variants, variants.c.product_id == products.c.id)
        .where(variants.c.item_id == item.id)
        .order_by(variants.c.position, products.c.id)
    ).all()
    count = len(item.option_names)
    found = {
        r.id: VariantRow(product_id=r.id, sku=r.sku, gtin=r.gtin, type=r.type,
                         values=(r.value1, r.value2, r.value3)[:count],
                         archived=r.archived_at is not None)
        for r in rows
    }
    stock = db.session.execute(
        select(entries.c.id, entries.c.product_id, entries.c.location_id, entries.c.quantity,
               entries.c.reserved_quantity, entries.c.low_stock_threshold)
        .where(entries.c.product_id.in_(list(found)))
    ).all() if found else []
    used: set[int] = set()
    for e in stock:
        found[e.product_id].cells[e.location_id] = Cell(
            entry_id=e.id, quantity=e.quantity, reserved=e.reserved_quantity,
            threshold=e.low_stock_threshold)
        used.add(e.location_id)
    columns = db.session.execute(
        select(locations.c.id, locations.c.code, locations.c.name)
        .where(locations.c.id.in_(list(used))).order_by(locations.c.code)
    ).all() if used else []
    return ItemView(
        id=item.id, store_id=item.store_id, title=item.title, description=item.description,
        status=item.status, options=tuple(_options(db.session, item)),
        variants=tuple(found.values()),
        locations=tuple(LocationColumn(id=c.id, code=c.code, name=c.name) for c in columns),
        updated_at=item.updated_at,
    )


@dataclass(frozen=True)
class VariantOf:
    """Which item a product belongs to, for its page: the item, the values, the siblings."""

    item_id: int
    title: str
    option_names: tuple[str, ...]
    values: tuple[str, ...]
    variants: int


def item_of(actor: Actor, product_id: int) -> VariantOf | None:
    """The item a readable product is a variant of; None when it has none (rows loaded
    outside the app) or the product cannot be read."""
    siblings = variants.alias("siblings")
    row = db.session.execute(
        select(items.c.id, items.c.store_id, items.c.title, items.c.option1, items.c.option2,
               items.c.option3, variants.c.value1, variants.c.value2, variants.c.value3,
               select(func.count()).select_from(siblings)
               .where(siblings.c.item_id == items.c.id)
               .scalar_subquery().label("siblings"))
        .join(variants, variants.c.item_id == items.c.id)
        .where(variants.c.product_id == product_id)
    ).one_or_none() if is_id(product_id) else None
    if row is None or not actor.is_member(row.store_id) or not actor.can(READ, row.store_id):
        return None
    names = tuple(n for n in (row.option1, row.option2, row.option3) if n)
    return VariantOf(item_id=row.id, title=row.title, option_names=names,
                      values=(row.value1, row.value2, row.value3)[:len(names)],
                      variants=int(row.siblings))


def sku_prefix_of(view: ItemView) -> str:
    """The SKU prefix the item's variants share, to suggest for new ones: "PRK" from
    PRK-BLACK-S and PRK-BLACK-M; the first SKU when they share none."""
    skus = [v.sku for v in view.variants]
    if not skus:
        return ""
    common = skus[0]
    for sku in skus[1:]:
        while not sku.startswith(common):
            common = common[:-1]
    if len(skus) > 1 and "-" in common:
        common = common[: common.rfind("-")] if not common.endswith("-") else common
    return common.rstrip("-") or skus[0]



@dataclass(frozen=True)
class PublicVariant:
    """What a storefront may know of one variant: its SKU and option values, how many can
    be sold now (or unlimited), and the status word."""

    product_id: int
    sku: str
    options: dict[str, str]
    availability: Availability


def public_item_availability(item_id: int) -> list[PublicVariant]:
    """An active item's live variants with their availability over all their locations,
    for anyone: seed 004's public read of an item's rows. Raises NotFound for unknown,
    draft and archived items and items of archived stores."""
    item = db.session.execute(
        select(items.c.id, items.c.option1, items.c.option2, items.c.option3)
        .join(stores, stores.c.id == items.c.store_id)
        .where(items.c.id == item_id, items.c.status == "active",
               stores.c.archived_at.is_(None))
    ).one_or_none() if is_id(item_id) else None
    if item is None:
        raise NotFound("Item not found.")
    names = [n for n in (item.option1, item.option2, item.option3) if n]
    rows = db.session.execute(
        select(products.c.id, products.c.sku, products.c.type, products.c.allow_backorder,
               variants.c.value1, variants.c.value2, variants.c.value3,
               func.coalesce(func.sum(entries.c.quantity - entries.c.reserved_quantity), 0)
               .label("available"),
               func.coalesce(func.sum(entries.c.low_stock_threshold), 0).label("thresholds"))
        .join(variants, variants.c.product_id == products.c.id)
        .outerjoin(entries, entries.c.product_id == products.c.id)
        .where(variants.c.item_id == item.id, products.c.archived_at.is_(None))
        .group_by(products.c.id, products.c.sku, products.c.type, products.c.allow_backorder,
                  variants.c.value1, variants.c.value2, variants.c.value3, variants.c.position)
        .order_by(variants.c.position, products.c.id)
    ).all()
    kits = bundle_parts(db.session, [r.id for r in rows])
    out = []
    for r in rows:
        total = int(r.available)
        status = product_status(r.type, r.allow_backorder, total, int(r.thresholds))
        if r.id in kits:
            total = bundle_made(kits[r.id])
            status = "in_stock" if total > 0 else "out_of_stock"
        unlimited = r.type != "physical"
        out.append(PublicVariant(
            product_id=r.id, sku=r.sku,
            options=dict(zip(names, (r.value1, r.value2, r.value3), strict=False)),
            # Backorders and holds can leave nothing sellable; never show a negative count.
            availability=Availability(r.id, unlimited, None if unlimited else max(total, 0),
                                      status),
        ))
    return out


def rename_item(*, actor: Actor, item_id: int, title: str) -> str:
    """Give an item a new title, and each of its variants the title it makes ("Parka -
    Black / S"), in one transaction, each variant's change recorded. Search finds the new
    titles at once (the search indexes follow the products' titles). Returns the title.
    Raises ValidationError naming `title`, NotFound, PermissionDenied."""
    check = Checker()
    check.text("title", title, required=True, max_length=TITLE_LENGTH)
    check.done()
    update_item(actor=actor, item_id=item_id, title=title)
    return title.strip()


class _Keep:
    """The value of an item field that an update leaves as it is."""


KEEP: Any = _Keep()


def update_item(*, actor: Actor, item_id: int, title: Any = KEEP, description: Any = KEEP,
                status: Any = KEEP) -> None:
    """Change an item's title (each variant's title follows, "Parka - Black / S"), its
    description (None or blank clears it) or its status (active or draft), in one
    transaction. Each variant records what changed of it and of its item, as
    `product.updated`; a field sent with the value it has changes nothing and records
    nothing. Raises ValidationError naming the field, Conflict (the status of an archived
    item: restore it first), NotFound, PermissionDenied."""
    check = Checker()
    if title is not KEEP:
        check.text("title", title, required=True, max_length=TITLE_LENGTH)
    if description is not KEEP:
        check.text("description", description, required=False,
                   max_length=DESCRIPTION_LENGTH)
    if status is not KEEP and status not in SETTABLE_STATUSES:
        check.fail("status", f"Choose one of: {', '.join(SETTABLE_STATUSES)}; archive an "
                             "item (all its variants) with its own action.")
    check.done()
    with write_transaction() as session:
        item = _locked_item(session, actor, item_id)
        after = {
            "title": item.title if title is KEEP else title.strip(),
            "description": (item.description if description is KEEP
                            else (description or "").strip() or None),
            "status": item.status if status is KEEP else status,
        }
        if after["status"] != item.status and item.status == "archived":
            raise Conflict(f"{item.title} is archived; restore it before changing its status.")
        count = len(item.option_names)
        rows = _variant_rows(session, item)
        if after["title"] != item.title:
            problem = _title_problem(
                after["title"], [(r.value1, r.value2, r.value3)[:count] for r in rows])
            if problem:
                raise ValidationError({"title": problem})
        item_changes = {f"item_{name}": change for name, change in audit.diff(
            {"description": item.description, "status": item.status},
            {"description": after["description"], "status": after["status"]}).items()}
        for r in rows:
            changes = dict(item_changes)
            new_title = variant_title(after["title"], (r.value1, r.value2, r.value3)[:count])
            if new_title != r.title:
                session.execute(update(products).where(products.c.id == r.id)
                                .values(title=new_title, updated_at=utcnow()))
                changes = {"title": (r.title, new_title), **changes}
            if changes:
                audit.record(session, actor, "product.updated", "product", r.id, r.sku,
                             store_id=item.store_id, product_id=r.id, changes=changes)
        if after != {"title": item.title, "description": item.description,
                     "status": item.status}:
            session.execute(update(items).where(items.c.id == item.id)
                            .values(**after, updated_at=utcnow()))


def _locked_item(session: Any, actor: Actor, item_id: Any) -> Item:
    """The item, locked for the change (FOR UPDATE: only catalog changes take an item).
    Raises NotFound (a foreign store's too), PermissionDenied."""
    item = session.execute(
        select(Item).where(Item.id == item_id).with_for_update()
    ).scalar_one_or_none() if is_id(item_id) else None
    if item is None or not actor.is_member(item.store_id):
        raise NotFound("Item not found.")
    if not actor.can(CATALOG, item.store_id):
        raise PermissionDenied(CATALOG)
    return item  # type: ignore[no-any-return]


def _variant_rows(session: Any, item: Item) -> list[Any]:
    """The item's variants with their SKU, title, archive time and values, locked for
    the change in id order."""
    return list(session.execute(
        select(products.c.id, products.c.sku, products.c.title, products.c.archived_at,
               variants.c.value1, variants.c.value2, variants.c.value3)
        .join(variants, variants.c.product_id == products.c.id)
        .where(variants.c.item_id == item.id).order_by(products.c.id)
        # NO KEY UPDATE, as catalog edits take it: stock operations hold KEY SHARE.
        .with_for_update(key_share=True)
    ).all())


@dataclass(frozen=True)
class ArchivedItem:
    """An item archived or restored: its title, and the SKUs of the variants that changed
    with it."""

    title: str
    skus: tuple[str, ...]


def archive_item(*, actor: Actor, item_id: int) -> ArchivedItem:
    """Archive an item and every variant it has that is not archived yet, in one
    transaction, each recorded as `product.archived`: as archiving a product does, they
    leave the product list, the reorder report and the public reads, while their entries,
    stock, reservations and ledger stay (stock held is real until moved, shipped or
    written off). Raises Conflict (already archived), NotFound, PermissionDenied."""
    return _set_item_archived(actor, item_id, archived=True)


def unarchive_item(*, actor: Actor, item_id: int) -> ArchivedItem:
    """Bring an archived item back, active, with every variant it has. Raises Conflict
    (not archived), NotFound, PermissionDenied."""
    return _set_item_archived(actor, item_id, archived=False)


def _set_item_archived(actor: Actor, item_id: int, *, archived: bool) -> ArchivedItem:
    with write_transaction() as session:
        item = _locked_item(session, actor, item_id)
        if (item.status == "archived") == archived:
            raise Conflict(f"{item.title} is {'already archived' if archived else 'not archived'}.")
        now = utcnow()
        changed = [r for r in _variant_rows(session, item)
                   if (r.archived_at is None) == archived]
        for r in changed:
            session.execute(update(products).where(products.c.id == r.id)
                            .values(archived_at=now if archived else None, updated_at=now))
            audit.record(session, actor,
                         "product.archived" if archived else "product.unarchived", "product",
                         r.id, r.sku, store_id=item.store_id, product_id=r.id,
                         changes={"archived": (not archived, archived)})
        session.execute(update(items).where(items.c.id == item.id).values(
            status="archived" if archived else "active", updated_at=now))
        title = item.title
    return ArchivedItem(title=title, skus=tuple(r.sku for r in changed))
