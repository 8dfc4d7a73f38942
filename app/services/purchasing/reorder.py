"""Draft purchase orders from reorder suggestions (queries.reorder): the lines someone chose,
checked against the suggestions as they stand, ordered from each line's supplier, one draft
per supplier and destination location, all in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Supplier
from app.permissions import PURCHASING, Actor
from app.services.errors import Conflict, NotFound, StaleSuggestion, ValidationError
from app.services.purchasing.common import checked_line_places, line_field, stores
from app.services.purchasing.orders import (
    MAX_PURCHASE_ORDER_LINES,
    insert_draft,
    resolve_new_lines,
)
from app.services.purchasing.views import PurchaseOrderView, read_order
from app.services.queries.reorder import line_states
from app.services.stock.engine import StockChange, run_mutation
from app.services.stores import require_store
from app.services.validation import Checker, is_id

suppliers = Supplier.__table__

_BAD_KEY = ("A chosen line is not one the report offered: load the report again and choose "
            "again.")


def lines_from_keys(keys: Sequence[str]) -> list[dict[str, int]]:
    """The lines a reorder form sends, each as ReorderSuggestion.line_key wrote it
    ("product-location-quantity seen"), as create_reorder_purchase_orders takes them.
    Raises ValidationError naming `lines` for a key no report wrote."""
    lines = []
    for key in keys:
        parts = key.split("-") if isinstance(key, str) else []
        if len(parts) != 3 or not all(
            p.isascii() and p.isdigit() and len(p) <= 10 and int(p) > 0 for p in parts
        ):
            raise ValidationError({"lines": _BAD_KEY})
        product_id, location_id, quantity = (int(p) for p in parts)
        lines.append({"product_id": product_id, "location_id": location_id,
                      "expected_quantity": quantity})
    return lines


def _check_lines(check: Checker, given: Any) -> list[dict[str, Any]]:
    parsed: list[dict[str, Any]] = []
    for n, line, product_id, location_id in checked_line_places(
            check, given, limit=MAX_PURCHASE_ORDER_LINES,
            empty="Choose at least one line to order.",
            too_many=f"At most {MAX_PURCHASE_ORDER_LINES:,} lines at once.",
            shape="Each line needs product_id and location_id."):
        check.optional_whole(line_field(n, "expected_quantity"), line.get("expected_quantity"),
                             minimum=1)
        parsed.append({"n": n, "product_id": product_id, "location_id": location_id,
                       "expected_quantity": line.get("expected_quantity")})
    return parsed


def create_reorder_purchase_orders(
    *,
    actor: Actor,
    store_id: int,
    lines: Sequence[Mapping[str, Any]],
    idempotency_key: str | None = None,
) -> list[PurchaseOrderView]:
    """Draft purchase orders for reorder suggestions of a store, all or none: one per
    supplier and destination location, each line at its suggested quantity and its
    supplier's unit cost, by supplier name and location code. A line names product_id and
    location_id, and may carry expected_quantity, the suggestion as it was shown: a line
    whose suggestion is now another, or that is no longer due, is refused (the drafts made
    count as coming, so a repeat is refused too, unless it is the same idempotency key).
    Raises ValidationError naming lines[n].…, NotFound (the store, or a line naming no
    stock of it), StaleSuggestion (naming every changed line), Conflict (a line with no
    supplier), PermissionDenied."""
    check = Checker()
    if not is_id(store_id):
        check.fail("store_id", "Choose a store.")
    parsed = _check_lines(check, lines)
    check.done()
    require_store(actor, PURCHASING, store_id)

    def work(session: Session) -> StockChange:
        # The store's row, locked first: two people drafting from the same suggestions
        # take turns, and the second sees the first one's drafts as coming.
        session.execute(
            select(stores.c.id).where(stores.c.id == store_id).with_for_update(key_share=True)
        ).all()
        states = line_states(session, actor, store_id,
                             [(x["product_id"], x["location_id"]) for x in parsed])
        missing = {
            line_field(x["n"], "product_id"): "No such product at that location in this store."
            for x in parsed if (x["product_id"], x["location_id"]) not in states
        }
        if missing:
            raise NotFound("A chosen line names no stock of this store: nothing was ordered.",
                           missing)
        stale, unsupplied = [], []
        for x in parsed:
            state = states[(x["product_id"], x["location_id"])]
            line = state.suggestion
            label = f"{line.sku} at {line.location_code}"
            seen = x["expected_quantity"]
            if not state.due:
                stale.append((f"lines[{x['n']}]", f"{label} no longer needs reordering "
                              f"({line.coming:,} available and coming, reorder point "
                              f"{line.reorder_point:,})"))
            elif seen is not None and seen != line.suggested:
                stale.append((f"lines[{x['n']}]", f"{label} is now suggested at "
                              f"{line.suggested:,}, not {seen:,}"))
            elif line.supplier_id is None:
                unsupplied.append((f"lines[{x['n']}]", label))
        if stale:
            raise StaleSuggestion(stale)
        if unsupplied:
            raise Conflict(
                f"No supplier sells {', '.join(label for _f, label in unsupplied)}: add a "
                "supplier for it first. Nothing was ordered.",
                {field: "No supplier." for field, _label in unsupplied},
            )
        groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for x in parsed:
            line = states[(x["product_id"], x["location_id"])].suggestion
            assert line.supplier_id is not None
            groups.setdefault((line.supplier_id, line.location_id), []).append(
                {"n": x["n"], "product_id": line.product_id, "location_id": line.location_id,
                 "quantity": line.suggested, "unit_cost": None})
        sellers = {r.id: r for r in session.execute(
            select(suppliers).where(suppliers.c.id.in_(sorted({s for s, _ in groups}))))}
        places = {line.suggestion.location_id: line.suggestion.location_code
                  for line in states.values()}
        order_ids = []
        for supplier_id, location_id in sorted(
            groups, key=lambda g: (sellers[g[0]].name.lower(), g[0], places[g[1]], g[1])
        ):
            supplier = sellers[supplier_id]
            ready = resolve_new_lines(session, None, store_id, supplier.id,
                                      groups[(supplier_id, location_id)])
            order_ids.append(insert_draft(session, actor, supplier, ready,
                                          deliver_to_id=location_id))
        return StockChange("purchase_order.reorder", details={"order_ids": order_ids})

    change = run_mutation(
        "purchase_order.reorder", actor, idempotency_key,
        {"store_id": store_id, "lines": [dict(x) for x in lines or ()
                                         if isinstance(x, Mapping)]},
        work,
    )
    return [read_order(db.session, order_id, replayed=change.replayed)
            for order_id in change.details["order_ids"]]


__all__ = ["create_reorder_purchase_orders", "lines_from_keys"]
