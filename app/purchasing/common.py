"""What the purchasing screens share: the store a page acts in, the permission every one of
them needs, and the choices their forms offer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import abort, request
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.models import Store
from app.permissions import PURCHASING
from app.services import purchasing, queries
from app.services.errors import Conflict, StockroomError, ValidationError
from app.services.money import format_amount
from app.services.stores import require_store
from app.services.validation import ascii_strip, identifier, parse_id
from app.web import current_actor, readable_stores, show_store
from app.web.actions import attach_field_errors

# Orders a list page shows; the next page starts after the last of them.
ORDERS_PER_PAGE = 25
# The longest code a product has: a SKU takes 64 characters, a GTIN 14 digits.
MAX_CODE = 64


def purchasing_stores() -> list[Store]:
    """The user's stores where they manage purchasing, by name."""
    actor = current_actor()
    return [s for s in readable_stores() if actor.can(PURCHASING, s.id)]


def require_purchasing(store_id: int) -> None:
    """Every purchasing screen needs purchasing:manage in its store (a reader: 403)."""
    if not current_actor().can(PURCHASING, store_id):
        abort(403)


def store_named(store_id: int) -> Store:
    """One of the user's stores, by id: a store they cannot see (or an archived one) is a
    404, one where they may not buy a 403."""
    require_store(current_actor(), PURCHASING, store_id)
    store = next((s for s in readable_stores() if s.id == store_id), None)
    if store is None:
        abort(404)
    show_store(store.id)
    return store


def store_from_args() -> Store | None:
    """The store a list or a new form is about: ?store=ID, else the user's only store where
    they buy. None when they buy for several and named none: the page asks which."""
    raw = ascii_strip(request.args.get("store") or "")
    if raw:
        store_id = parse_id(raw)
        if store_id is None:
            abort(404)
        return store_named(store_id)
    stores = purchasing_stores()
    if not stores:
        abort(403 if readable_stores() else 404)
    if len(stores) > 1:
        show_store(None)
        return None
    show_store(stores[0].id)
    return stores[0]


def location_choices(store_id: int, *, empty: str | None = None, named: bool = True
                     ) -> list[SelectChoice]:
    """The store's active locations, as a select offers them (with their names, unless the
    select is a narrow one)."""
    places = queries.store_locations(current_actor(), store_id=store_id)
    first = [SelectChoice("", empty)] if empty else []
    return first + [SelectChoice(str(p.id), f"{p.code} — {p.name}" if p.name and named
                                 else p.code) for p in places]


def supplier_choices(store_id: int) -> list[SelectChoice]:
    """The store's active suppliers, with the currency each quotes in."""
    return [SelectChoice("", "Choose a supplier")] + [
        SelectChoice(str(s.id), f"{s.name} ({s.currency})")
        for s in purchasing.list_suppliers(current_actor(), store_id)
    ]


def product_for_code(store_id: int, raw: str | None) -> queries.ProductMatch:
    """The store's product a typed or scanned code (SKU, any case, or GTIN) names. Raises
    ValidationError naming `code`."""
    text = identifier(raw or "")
    if not text:
        raise ValidationError({"code": "Scan or type a SKU or GTIN."})
    if len(text) > MAX_CODE:
        raise ValidationError({"code": f"A SKU or GTIN has at most {MAX_CODE} characters."})
    found = queries.find_product_code(current_actor(), text, store_id=store_id)
    if not found:
        raise ValidationError({"code": f"Nothing in this store has the SKU or GTIN “{text}”."})
    if found[0].archived:
        raise ValidationError({"code": f"{found[0].sku} is archived: restore it before "
                                       "buying it in."})
    return found[0]


def beside_fields(form: Any, render: Callable[..., Response],
                  names: Mapping[str, str] | None = None
                  ) -> Callable[[StockroomError], Response | None]:
    """A refusal that names fields (a bad amount, a name already taken): each message beside
    its field (`names` maps the service's field names to the form's), the form drawn again
    with 422, or 409 for a conflict. A refusal naming no field of the form is left to
    run_form, which says it above the form."""
    def refused(exc: StockroomError) -> Response | None:
        mapped = [(names or {}).get(name, name) for name in exc.fields]
        if not any(hasattr(getattr(form, name, None), "errors") for name in mapped):
            return None
        attach_field_errors(form, exc, names=names, labelled=True)  # type: ignore[arg-type]
        return render(409 if isinstance(exc, Conflict) else 422)

    return refused


def plain_amount(value: Any, currency: str) -> str:
    """An amount as a form shows it to be changed: the currency's decimals (more only where
    the amount has them), no thousands separators."""
    return format_amount(value, currency).replace(",", "")
