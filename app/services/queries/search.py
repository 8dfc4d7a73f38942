"""How a search term matches products: substrings through the trigram indexes, SKU
prefixes, whole GTINs, and exact codes for scanners."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    union_all,
)

from app.models.catalog import SEARCH_TABLE
from app.services.queries.common import (
    dialect_name,
    products,
)

# Trigram indexes serve substrings of at least this many characters.
MIN_SUBSTRING = 3


fts = table(SEARCH_TABLE, column("rowid"))


def _like_escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_mode(term: str) -> str:
    """How a search term is matched: "substring" of a title or SKU from MIN_SUBSTRING
    characters, else "sku_prefix" (the start of a SKU), which the overview says aloud; a
    whole GTIN matches in both."""
    return "substring" if len(term.strip()) >= MIN_SUBSTRING else "sku_prefix"


def exact_code_condition(term: str | ColumnElement[str]) -> ColumnElement[bool]:
    """The product's SKU (any case) or GTIN is exactly `term`: what a scanner types.
    Served by the case-folded SKU index and the GTIN index. SQLite folds ASCII letters
    only; PostgreSQL folds every letter."""
    if dialect_name() == "sqlite":
        sku_matches = products.c.sku.collate("NOCASE") == term
    else:
        sku_matches = func.lower(products.c.sku) == func.lower(term)
    return or_(sku_matches, products.c.gtin == term)


def search_condition(term: str, product_id: Any = products.c.id) -> ColumnElement[bool]:
    """Products whose title or SKU contains `term` (any case), through the trigram
    indexes, or whose GTIN is `term`; a term shorter than MIN_SUBSTRING matches the start
    of a SKU instead of a substring. `product_id` is the column tested: the products' own
    id, or an entry's product_id, which spares a query that needs nothing else of the
    product the join to products."""
    return search_clause(search_mode(term), product_id, search_values(term))


def search_values(term: str) -> dict[str, str]:
    """What a search for `term` fills search_clause's values with."""
    escaped = _like_escaped(term)
    return {
        "search_term": term,
        "search_pattern": (escaped + "%" if search_mode(term) == "sku_prefix"
                           else "%" + escaped + "%"),
        # A quoted FTS5 phrase of trigrams is a substring match; only " is special in it.
        "search_phrase": '"' + term.replace('"', '""') + '"',
    }


# Placeholders for search_values, for a statement built once and run with many terms.
SEARCH_PARAMS: dict[str, Any] = {
    name: bindparam(name, type_=String()) for name in search_values("x")
}


def search_clause(mode: str, product_id: Any, values: dict[str, Any]) -> ColumnElement[bool]:
    """search_condition for a term of `mode`, with `values` as search_values gives them
    or SEARCH_PARAMS."""
    whole_gtin = products.c.gtin == values["search_term"]
    pattern = values["search_pattern"]
    if mode == "sku_prefix":
        if dialect_name() == "sqlite":
            # LIKE folds ASCII case on SQLite and uses the NOCASE index for a prefix.
            prefix = or_(products.c.sku.like(pattern, escape="\\"), whole_gtin)
        else:
            prefix = or_(func.lower(products.c.sku).like(func.lower(pattern), escape="\\"),
                         whole_gtin)
        if product_id is products.c.id:
            return prefix
        return product_id.in_(select(products.c.id).where(prefix))
    if dialect_name() == "sqlite":
        phrase = values["search_phrase"]
        return product_id.in_(union_all(
            select(fts.c.rowid).where(literal_column(SEARCH_TABLE).op("MATCH")(phrase)),
            select(products.c.id).where(whole_gtin),
        ))
    # One SELECT per column and one for the GTIN, so the planner weighs each index on its
    # own; an OR of them is costed as a whole and can tip into a scan of every product.
    found = union_all(
        select(products.c.id).where(products.c.title.ilike(pattern, escape="\\")),
        select(products.c.id).where(products.c.sku.ilike(pattern, escape="\\")),
        select(products.c.id).where(whole_gtin),
    )
    return product_id.in_(found)
