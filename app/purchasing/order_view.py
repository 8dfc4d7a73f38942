"""What an order's page and its fragments show: the order (once the user may buy in its
store), its store and supplier, and its lines with the form that adds one."""

from __future__ import annotations

from typing import Any

from flask import request

from app.purchasing.common import location_choices, require_purchasing, store_named
from app.purchasing.forms import LineForm
from app.services import purchasing, queries
from app.services.purchasing import PurchaseOrderView
from app.services.validation import parse_id
from app.web import current_actor, show_store


def load_order(order_id: int) -> PurchaseOrderView:
    """The order, once the user may buy in its store (others: 404, readers: 403)."""
    found = purchasing.get_purchase_order(current_actor(), order_id)
    show_store(found.store_id)
    require_purchasing(found.store_id)
    return found


def order_context(found: PurchaseOrderView) -> dict[str, Any]:
    actor = current_actor()
    store = store_named(found.store_id)
    return {"order": found, "store": store,
            "supplier": purchasing.get_supplier(actor, found.supplier_id)}


def destination(found: PurchaseOrderView) -> int | None:
    """Where the next line arrives unless told: ?to= (the last scan's), else the last
    line's location, else where the order is to arrive, else the store's only location."""
    places = {p.id for p in queries.store_locations(current_actor(), store_id=found.store_id)}
    wanted = parse_id(request.args.get("to") or "")
    if wanted in places:
        return wanted
    if found.lines:
        latest = max(found.lines, key=lambda x: x.id)
        if latest.location_id in places:
            return latest.location_id
    if found.deliver_to_id in places:
        return found.deliver_to_id
    return next(iter(places)) if len(places) == 1 else None


def lines_context(found: PurchaseOrderView, form: LineForm | None = None,
                  problem: str | None = None, changed: int | None = None) -> dict[str, Any]:
    """What the lines panel shows: the lines (the one just `changed` marked), their total
    (in the store's currency too), and while a draft the form that adds one."""
    items = {i.product_id: i for i in purchasing.list_supplier_items(current_actor(),
                                                                    found.supplier_id)}
    if form is None and found.is_draft:
        where = destination(found)
        form = LineForm(formdata=None, data={"location_id": str(where) if where else ""})
    if form is not None:
        form.location_id.choices = location_choices(found.store_id, empty="Choose a location",
                                                    named=False)
    return {"order": found, "store": store_named(found.store_id), "items": items,
            "line_form": form, "line_problem": problem, "changed_line": changed}
