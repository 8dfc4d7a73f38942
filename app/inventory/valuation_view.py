"""The stock value report's state, read from and written back to the URL: the store and
location, whether it lists the entries with a cost or those without, its order and page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from app.inventory.filters import DEFAULT_PER_PAGE, whole_number
from app.services.queries import PAGE_SIZES
from app.services.queries.valuation import DEFAULT_SORT, VALUATION_SORTS, ValuationFilters

SORT_LABELS = {
    "value": "Value", "cost": "Average cost", "quantity": "On hand", "title": "Product",
    "sku": "SKU", "location": "Location",
}
# Amounts and counts read largest first, names from A.
_TEXT_SORTS = frozenset({"title", "sku", "location"})
# Entries without a cost have neither a cost nor a value to sort on.
UNCOSTED_SORTS = tuple(s for s in VALUATION_SORTS if s not in ("value", "cost"))


def descending_by_default(sort: str) -> bool:
    return sort not in _TEXT_SORTS


@dataclass(frozen=True)
class ValuationView:
    filters: ValuationFilters = field(default_factory=ValuationFilters)
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def default_descending(self) -> bool:
        """Whether the sort reads highest first unless told otherwise."""
        return descending_by_default(self.filters.sort)

    @property
    def sorts(self) -> tuple[str, ...]:
        return UNCOSTED_SORTS if self.filters.uncosted else VALUATION_SORTS

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string for this state with `changes` applied; any change but the
        page's own starts again from the first page."""
        f = self.filters
        values: dict[str, Any] = {
            "store": f.store_id,
            "location": f.location_id,
            "show": "uncosted" if f.uncosted else None,
            "sort": None if f.sort == DEFAULT_SORT else f.sort,
            "dir": (None if f.descending == descending_by_default(f.sort)
                    else "desc" if f.descending else "asc"),
            "per_page": None if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "page": None if self.page == 1 else self.page,
        }
        if changes and "page" not in changes:
            values["page"] = None
        if "sort" in changes and "dir" not in changes:
            values["dir"] = None
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def url(self, endpoint: str = "inventory.valuation", **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return url_for(endpoint) + (f"?{query}" if query else "")

    def csv_url(self) -> str:
        return self.url("inventory.valuation_csv", page=None, per_page=None)

    def sort_url(self, column: str) -> str:
        """A column heading's link: sorts by it in its natural order, or turns the order
        round when it is the sort already."""
        if self.filters.sort == column:
            descending = not self.filters.descending
            natural = descending == descending_by_default(column)
            return self.url(dir=None if natural else ("desc" if descending else "asc"))
        return self.url(sort=None if column == DEFAULT_SORT else column, dir=None)

    def sort_state(self, column: str) -> str:
        if self.filters.sort != column:
            return "none"
        return "descending" if self.filters.descending else "ascending"


def parse_valuation_args(args: Mapping[str, str]) -> ValuationView:
    """Read the report's state; a bad value is reported (naming its field) and left out."""
    errors: dict[str, str] = {}
    show = (args.get("show") or "").strip()
    if show not in ("", "uncosted"):
        errors["show"] = "Choose entries with a cost or without."
        show = ""
    uncosted = show == "uncosted"
    sorts = UNCOSTED_SORTS if uncosted else VALUATION_SORTS
    sort = (args.get("sort") or "").strip() or (DEFAULT_SORT if not uncosted else "quantity")
    if sort not in sorts:
        errors["sort"] = "Choose a column to sort by."
        sort = DEFAULT_SORT if not uncosted else "quantity"
    direction = (args.get("dir") or "").strip()
    if direction not in ("", "asc", "desc"):
        errors["dir"] = "Choose ascending or descending."
        direction = ""
    descending = direction == "desc" if direction else descending_by_default(sort)
    per_page = whole_number(args.get("per_page"), "per_page", errors) or DEFAULT_PER_PAGE
    if per_page not in PAGE_SIZES:
        errors["per_page"] = f"Show {', '.join(map(str, PAGE_SIZES))} rows per page."
        per_page = DEFAULT_PER_PAGE
    page = whole_number(args.get("page"), "page", errors, minimum=1) or 1
    filters = ValuationFilters(
        store_id=whole_number(args.get("store"), "store", errors, minimum=1),
        location_id=whole_number(args.get("location"), "location", errors, minimum=1),
        uncosted=uncosted, sort=sort, descending=descending,
    )
    return ValuationView(filters=filters, page=page, per_page=per_page, errors=errors)
