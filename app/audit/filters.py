"""The Movements page's state, read from and written back to the URL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import url_for

from app.permissions import Actor
from app.services import queries
from app.services.queries.movements import TYPE_LABELS, MovementFilters
from app.services.validation import ascii_strip, parse_id
from app.web.urls import page_params

DEFAULT_PER_PAGE = 50
PAGE_SIZES = (25, 50, 100, 200)
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class MovementsView:
    filters: MovementFilters
    cursor: str | None = None
    per_page: int = DEFAULT_PER_PAGE
    errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def actor_text(self) -> str:
        f = self.filters
        return str(f.actor_id) if f.actor_id is not None else (f.actor_name or "")

    @property
    def active(self) -> bool:
        """Whether any filter narrows the log."""
        return any(v is not None for v in vars(self.filters).values())

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string for this state with `changes` applied; a change resets paging."""
        f = self.filters
        values: dict[str, Any] = {
            "store": f.store_id,
            "product": f.product_id,
            "location": f.location_id,
            "type": f.movement_type,
            "actor": self.actor_text,
            "from": f.date_from.isoformat() if f.date_from else None,
            "to": f.date_to.isoformat() if f.date_to else None,
            "batch": f.batch_ref,
            "per_page": None if self.per_page == DEFAULT_PER_PAGE else self.per_page,
            "cursor": self.cursor,
        }
        return page_params(values, changes)

    def url(self, endpoint: str = "audit.movements", **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return url_for(endpoint) + (f"?{query}" if query else "")

    def export_url(self) -> str:
        """The CSV of every row these filters match, not just this page."""
        return self.url("audit.movements_csv", cursor=None, per_page=None)

    def chips(self, names: Mapping[str, str | None]) -> list[tuple[str, str]]:
        """Active filters as (label, url without it); `names` holds what the ids are called."""
        f = self.filters
        out = []
        if f.store_id is not None:
            out.append((f"Store: {names.get('store') or f'#{f.store_id}'}", self.url(store=None)))
        if f.product_id is not None:
            label = names.get("product") or f"#{f.product_id}"
            out.append((f"Product: {label}", self.url(product=None)))
        if f.location_id is not None:
            label = names.get("location") or f"#{f.location_id}"
            out.append((f"Location: {label}", self.url(location=None)))
        if f.movement_type is not None:
            out.append((f"Type: {TYPE_LABELS[f.movement_type]}", self.url(type=None)))
        if f.actor_id is not None:
            label = names.get("actor") or f"user #{f.actor_id}"
            out.append((f"By: {label}", self.url(actor=None)))
        elif f.actor_name:
            out.append((f"By: “{f.actor_name}”", self.url(actor=None)))
        if f.date_from is not None:
            out.append((f"From {f.date_from:%d %b %Y}", self.url(**{"from": None})))
        if f.date_to is not None:
            out.append((f"To {f.date_to:%d %b %Y}", self.url(to=None)))
        if f.batch_ref is not None:
            out.append((f"Batch: {f.batch_ref}", self.url(batch=None)))
        return out


def _id(raw: str | None, name: str, errors: dict[str, str]) -> int | None:
    text = ascii_strip(raw or "")
    if not text:
        return None
    value = parse_id(text)
    if value is None:
        errors[name] = "Choose from the list, or follow a link from a movement."
    return value


def _day(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
    text = ascii_strip(raw or "")
    if not text:
        return None
    try:
        if not ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD, for example 2026-03-31."
        return None


def parse_movement_args(args: Mapping[str, str]) -> MovementsView:
    """Read filters from the query string; a bad value is reported and left out."""
    errors: dict[str, str] = {}
    movement_type = (args.get("type") or "").strip() or None
    if movement_type is not None and movement_type not in TYPE_LABELS:
        errors["type"] = "Choose a movement type from the list."
        movement_type = None

    actor_id, actor_name = None, None
    who = ascii_strip(args.get("actor") or "")
    if who.isascii() and who.isdigit():
        actor_id = _id(who, "actor", errors)
    elif who:
        if len(who) > 254 or any(ord(c) < 32 for c in who):
            errors["actor"] = "Enter a user id, or at most 254 characters of a name or email."
        else:
            actor_name = who

    date_from = _day(args.get("from"), "from", errors)
    date_to = _day(args.get("to"), "to", errors)
    if date_from and date_to and date_to < date_from:
        errors["to"] = "The end date is before the start date."
        date_to = None

    per_page = DEFAULT_PER_PAGE
    raw_per_page = ascii_strip(args.get("per_page") or "")
    if raw_per_page:
        if raw_per_page in {str(n) for n in PAGE_SIZES}:
            per_page = int(raw_per_page)
        else:
            errors["per_page"] = f"Show {', '.join(map(str, PAGE_SIZES))} rows per page."

    batch_ref = (args.get("batch") or "").strip() or None
    if batch_ref is not None and (len(batch_ref) > 64 or not batch_ref.isprintable()):
        errors["batch"] = "Enter a batch reference of at most 64 characters."
        batch_ref = None

    cursor = (args.get("cursor") or "").strip() or None
    if cursor is not None and len(cursor) > 400:
        errors["cursor"] = "This page link is no longer valid."
        cursor = None

    filters = MovementFilters(
        store_id=_id(args.get("store"), "store", errors),
        product_id=_id(args.get("product"), "product", errors),
        location_id=_id(args.get("location"), "location", errors),
        movement_type=movement_type,
        actor_id=actor_id,
        actor_name=actor_name,
        date_from=date_from,
        date_to=date_to,
        batch_ref=batch_ref,
    )
    return MovementsView(filters=filters, cursor=cursor, per_page=per_page, errors=errors)


def movement_args(actor: Actor, args: Mapping[str, str]) -> MovementsView:
    """The log's filters from the query string; NotFound when one names a store, product or
    location the actor cannot read (see queries.require_readable)."""
    view = parse_movement_args(args)
    f = view.filters
    queries.require_readable(
        actor, store_id=f.store_id, location_id=f.location_id, product_id=f.product_id
    )
    return view
