"""The catalog side of a CSV import: its `item` and `options` columns.

A row whose SKU the store has must agree with the catalog: the item it names is the
variant's item, its options (“Color: Black; Size: S”, as the export writes them) are the
variant's. An import never moves a variant, renames an item or changes option values: a
cell that disagrees is the row's error, naming its column.

A row whose SKU the store lacks and that names an item adds the SKU to the catalog: as a
variant of the store's item of that title and those option names (as adding an option
value does), or of a new item with those options when the store has none of that title;
a row without options makes an item of its own, as a product made alone does. The checks
are the catalog's: a SKU of at most 64 characters, at most three options named once each,
values of at most 60 characters that no other variant of the item has, at most
MAX_VARIANTS variants an item. Planning reads and never writes; the import writes the
drafts with items.insert_drafts in its own transaction.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import UNLIMITED_TYPES, Item, ItemVariant
from app.services import items as catalog_items
from app.services.errors import ValidationError
from app.services.items import ItemDraft, VariantDraft, options_text, variant_title
from app.services.stock.engine import chunks, products
from app.services.validation import unsafe_character

items = Item.__table__
variants = ItemVariant.__table__

CHUNK = 500  # keys per IN (...) lookup
BULK_KEYS = 2_000  # beyond this many products in one store, read the store's variants whole
TITLE_LENGTH = 200
SKU_LENGTH = catalog_items.SKU_LENGTH


@dataclass
class NewVariant:
    """A product the import adds to the catalog, and the item it joins."""

    item: ItemDraft
    draft: VariantDraft
    line: int  # the first line that makes it; others stock it at other locations

    @property
    def sku(self) -> str:
        return self.draft.sku

    @property
    def options(self) -> str:
        return options_text(self.item.option_names, self.draft.values)

    def describe(self) -> str:
        """"variant PRK-BLACK-XL of Parka (Color: Black; Size: XL)", saying when the item is
        new too."""
        item = f"the new item {self.item.title}" if self.item.new else self.item.title
        if not self.item.option_names:
            return f"product {self.sku}, {item} (no options)"
        return f"variant {self.sku} of {item} ({self.options})"


class CatalogRow(Protocol):
    """What planning needs of an import row (stock.imports.PlannedRow)."""

    line: int
    store: str
    store_id: int | None
    sku: str
    product_id: int | None
    item: str | None
    options: str | None
    title: str | None
    errors: list[str]
    new_variant: NewVariant | None


def _shown(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _read_options(row: CatalogRow) -> list[tuple[str, str]] | None:
    """The row's option pairs; None (with the row's error) when the cell cannot be read."""
    try:
        return catalog_items.read_options_text(row.options or "")
    except ValidationError as exc:
        row.errors.append("Options: " + exc.fields["options"].rstrip("."))
        return None


# --------------------------------------------------------------------------- known SKUs


def check_known(session: Session, rows: Sequence[CatalogRow]) -> None:
    """Rows whose SKU the store has: an item or options cell must say what the catalog
    says. A blank cell claims nothing and is not checked."""
    wanted = [r for r in rows if r.product_id is not None and (r.item or r.options)]
    if not wanted:
        return
    found: dict[int, tuple[str, tuple[str | None, ...], tuple[str, ...]]] = {}
    query = (
        select(variants.c.product_id, items.c.title, items.c.option1, items.c.option2,
               items.c.option3, variants.c.value1, variants.c.value2, variants.c.value3)
        .join(items, items.c.id == variants.c.item_id)
    )
    by_store: dict[int, set[int]] = {}
    for r in wanted:
        by_store.setdefault(r.store_id, set()).add(r.product_id)  # type: ignore[arg-type]
    for store_id, ids in by_store.items():
        # A large file reads the store's whole catalogue once rather than key by key.
        queries = (
            [query.where(variants.c.store_id == store_id)] if len(ids) > BULK_KEYS else
            [query.where(variants.c.product_id.in_(chunk)) for chunk in chunks(sorted(ids),
                                                                               CHUNK)]
        )
        for statement in queries:
            for row in session.execute(statement):
                found[row.product_id] = (row.title, (row.option1, row.option2, row.option3),
                                         (row.value1, row.value2, row.value3))
    for r in wanted:
        known = found.get(r.product_id)  # type: ignore[arg-type]
        if r.item:
            if known is None:
                r.errors.append(f"Item: {r.sku} belongs to no item; leave the item blank")
            elif known[0] != r.item:
                r.errors.append(
                    f"Item: {r.sku} is a variant of “{_shown(known[0])}”, not "
                    f"“{_shown(r.item)}”; an import does not move variants or rename items"
                )
        if not r.options:
            continue
        actual = options_text(known[1], known[2]) if known else ""
        if r.options == actual:
            continue  # as exported, whatever its values hold (a semicolon, say)
        pairs = _read_options(r)
        if pairs is None:
            continue
        if known is None or pairs != [(n, v) for n, v in zip(known[1], known[2], strict=True)
                                      if n and v]:
            is_now = f"is “{actual}”" if actual else "has no options"
            r.errors.append(f"Options: {r.sku} {is_now}, not “{_shown(r.options, 80)}”; an "
                            "import does not change a variant's options")


# --------------------------------------------------------------------------- new SKUs


@dataclass
class _Known:
    """An item of the store, or one this import makes, with what new variants must avoid."""

    draft: ItemDraft
    skus: dict[tuple[str, ...], str]  # values → the SKU that has them
    spellings: list[dict[str, str]]  # per option: value case-folded → as the item writes it


def plan_new(session: Session, rows: Sequence[CatalogRow], *, lock: bool) -> None:
    """Rows whose SKU the store lacks and that name an item: plan the variant each adds
    (`row.new_variant`) or give the row the catalog's reason it cannot. With `lock` (apply,
    PostgreSQL) the items the file adds to are locked, in id order, before they are read."""
    wanted = [r for r in rows if r.store_id is not None and r.sku and r.item]
    if not wanted:
        return
    titles: dict[int, set[str]] = {}
    for r in wanted:
        titles.setdefault(r.store_id, set()).add(r.item)  # type: ignore[arg-type]
    by_title = _items_titled(session, titles, lock=lock)
    planned: dict[tuple[int, str], NewVariant] = {}
    for r in wanted:
        _plan_row(r, by_title, planned)


def _items_titled(session: Session, titles: dict[int, set[str]], *, lock: bool
                  ) -> dict[tuple[int, str], list[_Known]]:
    columns = (items.c.id, items.c.store_id, items.c.title, items.c.option1, items.c.option2,
               items.c.option3)
    rows = [
        row
        for store_id, wanted in titles.items()
        for chunk in chunks(sorted(wanted), CHUNK)
        for row in session.execute(
            select(*columns).where(items.c.store_id == store_id, items.c.title.in_(chunk)))
    ]
    if lock and session.get_bind().dialect.name == "postgresql":
        # As adding an option value does, so no other change adds variants meanwhile; all
        # of them in id order, whatever their stores, then read again as locked.
        ids = sorted(row.id for row in rows)
        rows = [
            row
            for chunk in chunks(ids, CHUNK)
            for row in session.execute(select(*columns).where(items.c.id.in_(chunk))
                                       .order_by(items.c.id).with_for_update())
            if row.title in titles[row.store_id]
        ]
    found = [
        ItemDraft(store_id=row.store_id, title=row.title, new=False, id=row.id,
                  option_names=tuple(n for n in (row.option1, row.option2, row.option3) if n))
        for row in sorted(rows, key=lambda row: row.id)
    ]
    known: dict[int, _Known] = {
        d.id: _Known(d, {}, [{} for _ in d.option_names])  # type: ignore[misc]
        for d in found
    }
    ids = sorted(known)
    first: set[int] = set()
    for chunk in chunks(ids, CHUNK):
        for row in session.execute(
            select(variants.c.item_id, products.c.sku, variants.c.value1, variants.c.value2,
                   variants.c.value3, products.c.type, products.c.allow_backorder,
                   products.c.reorder_point, products.c.reorder_quantity,
                   products.c.reorder_up_to)
            .join(products, products.c.id == variants.c.product_id)
            .where(variants.c.item_id.in_(chunk))
            .order_by(variants.c.item_id, variants.c.position, variants.c.product_id)
        ):
            k = known[row.item_id]
            values = (row.value1, row.value2, row.value3)[:len(k.draft.option_names)]
            k.skus[values] = row.sku
            for n, value in enumerate(values):
                k.spellings[n].setdefault(value.casefold(), value)
            k.draft.existing_variants += 1
            if row.item_id not in first:
                # New variants take the settings of the item's first, as adding a value does.
                first.add(row.item_id)
                k.draft.product_type = row.type
                k.draft.allow_backorder = row.allow_backorder
                k.draft.reorder_point = row.reorder_point
                k.draft.reorder_quantity = row.reorder_quantity
                k.draft.reorder_up_to = row.reorder_up_to
    by_title: dict[tuple[int, str], list[_Known]] = {}
    for k in known.values():
        by_title.setdefault((k.draft.store_id, k.draft.title), []).append(k)
    return by_title


def _text_problem(value: str, what: str) -> str | None:
    if len(value) > TITLE_LENGTH:
        return f"{what} is longer than {TITLE_LENGTH} characters"
    if unsafe_character(value) or any(unicodedata.category(c) == "Cc" for c in value):
        return f"{what} must not contain control characters"
    return None


def _plan_row(r: CatalogRow, by_title: dict[tuple[int, str], list[_Known]],
              planned: dict[tuple[int, str], NewVariant]) -> None:
    store_id, title = r.store_id, r.item or ""
    assert store_id is not None
    problems = [p for p in (_text_problem(title, "Item: the title"),) if p]
    if len(r.sku) > SKU_LENGTH:
        problems.append(f"The SKU {_shown(r.sku, 24)} is longer than {SKU_LENGTH} "
                        "characters, too long for a new product")
    own_title = r.title or ""
    if own_title and (problem := _text_problem(own_title, "The title")):
        problems.append(problem)
    r.errors.extend(problems)
    pairs = _read_options(r)
    if problems or pairs is None:
        return
    names = tuple(n for n, _ in pairs)
    values = tuple(v for _, v in pairs)

    earlier = planned.get((store_id, r.sku))
    if earlier is not None:
        if (earlier.item.title, earlier.item.option_names, earlier.draft.values) == (
                title, names, values):
            r.new_variant = earlier  # the same new variant, stocked at another location
        else:
            said = f"{title} ({options_text(names, values)})" if names else title
            r.errors.append(f"Item and options: line {earlier.line} adds "
                            f"{earlier.describe()}; this row says {_shown(said, 80)}")
        return

    candidates = by_title.get((store_id, title), [])
    target: _Known | None = None
    if names:
        matching = [k for k in candidates if k.draft.option_names == names]
        if len(matching) > 1:
            r.errors.append(f"Item: the store has {len(matching)} items called "
                            f"“{_shown(title)}” with the options {', '.join(names)}; add "
                            "this variant on its item's page")
            return
        others = [k for k in candidates if k.draft.option_names]
        if not matching and others:
            r.errors.append(f"Options: {_shown(title)} has the options "
                            f"{', '.join(others[0].draft.option_names)}; this row names "
                            f"{', '.join(names)}")
            return
        target = matching[0] if matching else None
    if target is not None:
        item = target.draft
        clash = target.skus.get(values)
        if clash is not None:
            r.errors.append(f"Options: {_shown(title)} already has "
                            f"{options_text(names, values)}, as SKU {clash}")
            return
        for name, value, spelled in zip(names, values, target.spellings, strict=True):
            known = spelled.get(value.casefold())
            if known is not None and known != value:
                r.errors.append(f"Options: {_shown(title)} writes its {name} “{known}”, not "
                                f"“{value}”")
                return
        total = item.existing_variants + len(item.variants) + 1
        if total > catalog_items.MAX_VARIANTS:
            r.errors.append(f"Options: {_shown(title)} would have {total} variants; an item "
                            f"has at most {catalog_items.MAX_VARIANTS}")
            return
        if item.product_type in UNLIMITED_TYPES:
            r.errors.append(f"{r.sku} would be a {item.product_type} product, as "
                            f"{_shown(title)}'s variants are: its stock is unlimited and "
                            "needs no entry")
            return
    else:
        # No item to join: a new one (and one of its own for a row without options).
        item = ItemDraft(store_id=store_id, title=title, option_names=names, new=True)
        target = _Known(item, {}, [{} for _ in names])
        if names:
            by_title.setdefault((store_id, title), []).append(target)
    draft = VariantDraft(sku=r.sku, values=values,
                         title=own_title or variant_title(title, values))
    item.variants.append(draft)
    target.skus[values] = r.sku
    for n, value in enumerate(values):
        target.spellings[n].setdefault(value.casefold(), value)
    r.new_variant = planned[(store_id, r.sku)] = NewVariant(item=item, draft=draft,
                                                             line=r.line)
