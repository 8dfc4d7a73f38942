"""The reports' state, read from and written back to the URL: which report, the store,
location and supplier it is narrowed to, its order and its page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from app.inventory.filters import DEFAULT_PER_PAGE, whole_number
from app.permissions import Actor
from app.services import queries
from app.services.errors import NotFound
from app.services.queries import PAGE_SIZES, REORDER_SORTS, REPORT_SORTS, ReportFilters
from app.web.urls import page_params

# A sort's label in the sort field and its column heading.
SORT_LABELS = {
    "title": "Product", "sku": "SKU", "location": "Location", "quantity": "On hand",
    "reserved": "Reserved", "available": "Available", "threshold": "Threshold",
    "shortfall": "Short by", "incoming": "Incoming", "reorder_point": "Reorder point",
    "suggested": "Suggested order",
}
# ?supplier= for lines whose variant no supplier sells.
NO_SUPPLIER = "none"


@dataclass(frozen=True)
class Report:
    name: str  # the service's name for it: low_stock, out_of_stock, reorder
    endpoint: str
    title: str
    sorts: tuple[str, ...]
    # The first order shown: the most pressing rows first, ascending.
    default_sort: str
    empty: str
    # What a row that an action took out of the report says, e.g. "no longer low".
    left: str = ""

    @property
    def csv_endpoint(self) -> str:
        return f"{self.endpoint}_csv"

    @property
    def suggests(self) -> bool:
        """The reorder report: its rows are suggestions, not the overview's entries."""
        return self.name == "reorder"

    def listed(self, entry: queries.EntryView) -> bool:
        """Whether an entry still belongs in this report (after an action on its row)."""
        return queries.in_report(self.name, entry)


REPORTS = {
    "low_stock": Report(
        "low_stock", "inventory.low_stock", "Low stock", REPORT_SORTS["low_stock"], "available",
        "Nothing is running low. Set thresholds on entries to be warned here.",
        left="No longer low",
    ),
    "out_of_stock": Report(
        "out_of_stock", "inventory.out_of_stock", "Out of stock", REPORT_SORTS["out_of_stock"],
        "title", "Every tracked entry has stock available.", left="Back in stock",
    ),
    "reorder": Report(
        "reorder", "inventory.reorder", "Reorder report", REORDER_SORTS, "title",
        "Nothing needs reordering. An entry appears here when its available and incoming "
        "stock falls to its reorder point: its low-stock threshold, or else its product's "
        "reorder point.",
        left="No longer needs reordering",
    ),
}


def report_at(path: str) -> Report | None:
    """The report a page's path shows (where a row action was opened from), if any."""
    for report in REPORTS.values():
        if url_for(report.endpoint) == path:
            return report
    return None


@dataclass(frozen=True)
class ReportView:
    report: Report
    filters: ReportFilters
    cursor: str | None = None
    per_page: int = DEFAULT_PER_PAGE
    errors: Mapping[str, str] = field(default_factory=dict)

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string for this state with `changes` applied; a change resets paging."""
        f = self.filters
        values: dict[str, Any] = {
            "store": f.store_id,
            "location": f.location_id,
            "supplier": NO_SUPPLIER if f.without_supplier else f.supplier_id,
            "sort": None if f.sort == self.report.default_sort else f.sort,
            "dir": "desc" if f.descending else None,
            "per_page": None if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "cursor": self.cursor,
        }
        return page_params(values, changes)

    def url(self, endpoint: str | None = None, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return url_for(endpoint or self.report.endpoint) + (f"?{query}" if query else "")

    def csv_url(self) -> str:
        return self.url(self.report.csv_endpoint, cursor=None, per_page=None)

    def sort_url(self, column: str) -> str:
        descending = not self.filters.descending if self.filters.sort == column else False
        return self.url(sort=None if column == self.report.default_sort else column,
                        dir="desc" if descending else None)

    def sort_state(self, *columns: str) -> str:
        if self.filters.sort not in columns:
            return "none"
        return "descending" if self.filters.descending else "ascending"


def report_args(actor: Actor, report: Report, args: Mapping[str, str]) -> ReportView:
    """A report's state from the query string; NotFound when it names a store, location or
    supplier the actor cannot read, or a location or supplier of another store than the one
    named (see queries.require_readable)."""
    view = parse_report_args(report, args)
    f = view.filters
    queries.require_readable(actor, store_id=f.store_id, location_id=f.location_id)
    if f.store_id is not None and f.location_id is not None and (
        queries.location_store(actor, f.location_id) != f.store_id
    ):
        raise NotFound("No such location in this store.", {"location": "No such location."})
    if f.supplier_id is not None:
        sells_in = queries.supplier_store(actor, f.supplier_id)
        if f.store_id is not None and sells_in != f.store_id:
            raise NotFound("No such supplier in this store.", {"supplier": "No such supplier."})
    return view


def parse_report_args(report: Report, args: Mapping[str, str]) -> ReportView:
    """Read a report's state; a bad value is reported (naming its field) and left out."""
    errors: dict[str, str] = {}
    sort = (args.get("sort") or "").strip() or report.default_sort
    if sort not in report.sorts:
        errors["sort"] = "Choose a column to sort by."
        sort = report.default_sort
    direction = (args.get("dir") or "").strip()
    if direction not in ("", "asc", "desc"):
        errors["dir"] = "Choose ascending or descending."
        direction = ""
    per_page = whole_number(args.get("per_page"), "per_page", errors) or DEFAULT_PER_PAGE
    if per_page not in PAGE_SIZES:
        errors["per_page"] = f"Show {', '.join(map(str, PAGE_SIZES))} rows per page."
        per_page = DEFAULT_PER_PAGE
    supplier = (args.get("supplier") or "").strip()
    without_supplier = supplier == NO_SUPPLIER
    filters = ReportFilters(
        store_id=whole_number(args.get("store"), "store", errors, minimum=1),
        location_id=whole_number(args.get("location"), "location", errors, minimum=1),
        supplier_id=None if without_supplier else whole_number(supplier, "supplier", errors,
                                                                minimum=1),
        without_supplier=without_supplier,
        sort=sort,
        descending=direction == "desc",
    )
    if "supplier" in errors:
        errors["supplier"] = "Choose a supplier from the list."
    cursor = (args.get("cursor") or "").strip() or None
    if cursor is not None and len(cursor) > 400:
        errors["cursor"] = "This page link is no longer valid."
        cursor = None
    return ReportView(report=report, filters=filters, cursor=cursor, per_page=per_page,
                      errors=errors)
