"""The overview's state, read from and written back to the URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from app.permissions import Actor
from app.services import queries
from app.services.queries import (
    PAGE_SIZES,
    SORTS,
    STATUS_LABELS,
    STATUSES,
    EntryFilters,
    search_mode,
)
from app.services.validation import LIMIT, ascii_strip, identifier
from app.web.urls import page_params

DEFAULT_PER_PAGE = 50


@dataclass(frozen=True)
class OverviewView:
    filters: EntryFilters
    cursor: str | None = None
    per_page: int = DEFAULT_PER_PAGE
    errors: Mapping[str, str] = field(default_factory=dict)
    # The title of the item filtered by, for its chip.
    item_title: str | None = None
    # Rows grouped under their items, each with its roll-up (?group=item).
    group: bool = False

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string for this state with `changes` applied; a change resets paging."""
        f = self.filters
        values: dict[str, Any] = {
            "store": f.store_id,
            "location": f.location_id,
            "status": f.status,
            "max_qty": f.max_quantity,
            "item": f.item_id,
            "value": f.option_value,
            "group": "item" if self.group else None,
            "q": f.search,
            "sort": None if f.sort == "title" else f.sort,
            "dir": "desc" if f.descending else None,
            "per_page": None if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "cursor": self.cursor,
        }
        return page_params(values, changes)

    def url(self, endpoint: str = "inventory.overview", **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return url_for(endpoint) + (f"?{query}" if query else "")

    def sort_url(self, column: str) -> str:
        descending = not self.filters.descending if self.filters.sort == column else False
        return self.url(sort=None if column == "title" else column,
                        dir="desc" if descending else None)

    def sort_state(self, column: str) -> str:
        if self.filters.sort != column:
            return "none"
        return "descending" if self.filters.descending else "ascending"

    @property
    def chips(self) -> list[tuple[str, str]]:
        """Active filters as (label, url without it)."""
        f = self.filters
        out = []
        if f.status:
            out.append((f"Status: {STATUS_LABELS[f.status]}", self.url(status=None)))
        if f.max_quantity is not None:
            out.append((f"On hand ≤ {f.max_quantity:,}", self.url(max_qty=None)))
        if f.item_id is not None:
            out.append((f"Item: {self.item_title or f.item_id}", self.url(item=None)))
        if f.option_value is not None:
            out.append((f"Option: {f.option_value}", self.url(value=None)))
        if f.search:
            label = "SKU starts with" if search_mode(f.search) == "sku_prefix" else "Search"
            out.append((f"{label}: {f.search}", self.url(q=None)))
        return out


def whole_number(raw: str | None, name: str, errors: dict[str, str], minimum: int = 0
                 ) -> int | None:
    """A whole number from the query string; a bad one is recorded in `errors` under `name`."""
    text = ascii_strip(raw or "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 10 or int(text) > LIMIT:
        errors[name] = "Enter a whole number from 0 to 1,000,000,000."
        return None
    value = int(text)
    if value < minimum:
        errors[name] = f"Must be at least {minimum}."
        return None
    return value


def overview_args(actor: Actor, args: Mapping[str, str]) -> OverviewView:
    """The overview's filters from the query string; NotFound when one names a store or
    location the actor cannot read (see queries.require_readable)."""
    view = parse_overview_args(args)
    queries.require_readable(
        actor, store_id=view.filters.store_id, location_id=view.filters.location_id
    )
    if view.filters.item_id is not None:
        view = replace(view, item_title=queries.item_title(actor, view.filters.item_id))
    return view


def parse_overview_args(args: Mapping[str, str]) -> OverviewView:
    """Read filters from the query string; a bad value is reported and left out."""
    errors: dict[str, str] = {}
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in STATUSES:
        errors["status"] = "Choose a status from the list."
        status = None
    sort = (args.get("sort") or "title").strip()
    if sort not in SORTS:
        errors["sort"] = "Choose a column to sort by."
        sort = "title"
    # NFKC, as identifiers are stored: a full-width SKU from an IME or scanner still matches.
    search = identifier(args.get("q") or "") or None
    if search is not None and (len(search) > 100 or any(ord(c) < 32 for c in search)):
        errors["q"] = "Search for at most 100 characters of plain text."
        search = None
    option_value = (args.get("value") or "").strip() or None
    if option_value is not None and (len(option_value) > 60
                                     or any(ord(c) < 32 for c in option_value)):
        errors["value"] = "An option value is at most 60 characters of plain text."
        option_value = None
    per_page = whole_number(args.get("per_page"), "per_page", errors) or DEFAULT_PER_PAGE
    if per_page not in PAGE_SIZES:
        errors["per_page"] = f"Show {', '.join(map(str, PAGE_SIZES))} rows per page."
        per_page = DEFAULT_PER_PAGE
    filters = EntryFilters(
        store_id=whole_number(args.get("store"), "store", errors, minimum=1),
        location_id=whole_number(args.get("location"), "location", errors, minimum=1),
        status=status,
        max_quantity=whole_number(args.get("max_qty"), "max_qty", errors),
        search=search,
        item_id=whole_number(args.get("item"), "item", errors, minimum=1),
        option_value=option_value,
        sort=sort,
        descending=args.get("dir") == "desc",
    )
    cursor = (args.get("cursor") or "").strip() or None
    if cursor is not None and len(cursor) > 400:
        errors["cursor"] = "This page link is no longer valid."
        cursor = None
    group = (args.get("group") or "").strip()
    if group not in ("", "item"):
        errors["group"] = "Group by item, or not at all."
    view = OverviewView(filters=filters, cursor=cursor, per_page=per_page, errors=errors,
                        group=group == "item")
    return view
