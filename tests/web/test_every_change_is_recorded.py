"""Every mutating browser route, sent a valid request, leaves a trace: an audit row for a
change that is not stock, a ledger row for one that is.

The requests are the fuzz tier's valid forms (tests/fuzz/test_forms.py), one per route of
the URL map: a route added without a case there fails the completeness test below too. A
route that changes nothing by design (signing in and out, previews) is excluded here with
its reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from fuzz.test_forms import CASES, FormCase, _dispatched, _send, _sign_in, build_world
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, InventoryEntry, Location, Product, StockMovement
from app.permissions import system_actor
from app.services import stock


class NoTrace(Exception):
    """A route succeeded and left neither an audit row nor a ledger row."""


# Only a missing trace is expected: a request that fails for another reason still fails.

# Routes that change no record when they succeed, and why.
EXCLUDED: dict[str, str] = {
    "sign-in": "signing in opens a session; it changes no record",
    "sign-out": "signing out ends the user's sessions; it changes no record",
    "account-alerts-read": "reading the bell moves the user's own place in it; it changes no "
                           "record",
    "import-preview": "a preview reads the file and changes nothing",
    "bulk-adjust-preview": "a preview shows the change and changes nothing",
    "bulk-threshold-preview": "a preview shows the change and changes nothing",
    "count-list-preview": "adding a scanned line to a count redraws the list; only applying "
                          "it changes stock",
    "receive-order-scan-preview": "a scan redraws the order's counts; only Receive changes "
                                  "stock",
    "receive-arrivals-scan-preview": "a scan redraws the list of arrivals; only Receive "
                                     "changes stock",
}



def _threshold_only_csv(w: Any) -> bytes:
    """A file that keeps the main entry's quantity and changes only its threshold."""
    row = db.session.execute(
        select(InventoryEntry.quantity, InventoryEntry.low_stock_threshold, Location.code,
               Product.sku)
        .join(Location, Location.id == InventoryEntry.location_id)
        .join(Product, Product.id == InventoryEntry.product_id)
        .where(InventoryEntry.id == w.entry_main)
    ).one()
    db.session.rollback()
    cells = [w.slugs["store_a"], row.code, row.sku, str(row.quantity),
             str((row.low_stock_threshold or 0) + 3)]
    return ("store,location,sku,quantity,threshold\n" + ",".join(cells) + "\n").encode()


def _signed(w: Any, data: bytes) -> str:
    from itsdangerous import URLSafeTimedSerializer

    plan = stock.plan_import(data, actor=system_actor("tests"))
    return URLSafeTimedSerializer("test-secret", salt="stockroom.import").dumps({
        "user": w.user_owner_a, "name": "stock.csv", "batch": stock.new_batch_ref(),
        "data": data.decode(), "seen": sorted(plan.seen().items()), "warnings": False,
    })


# Variants of a route whose trace depends on what was sent.
VARIANTS: list[FormCase] = [
    FormCase("import-apply-threshold-only", "imports.apply", None, "owner_a",
              lambda w: "/import/apply",
              lambda w, n: {"token": _signed(w, _threshold_only_csv(w))}),
    FormCase("product-stock-zero", "catalog.product_stock", None, "owner_a",
              lambda w: f"/catalog/products/{w.product_unstocked}/stock",
              lambda w, n: {"idempotency_key": "zero-stock", "location_id": str(w.loc_main),
                            "quantity": "0", "low_stock_threshold": "1", "reason": ""}),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases: each route's trace is written in its own transaction on either."""
    return str(request.param)


def _params() -> list[Any]:
    params = []
    for case in CASES:
        if case.id in EXCLUDED:
            continue
        params.append(pytest.param(case, id=case.id))
    params += [pytest.param(case, id=case.id) for case in VARIANTS]
    return params


def traces() -> tuple[int, int]:
    """How many audit rows and ledger rows there are."""
    counts = (db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
              db.session.scalar(select(func.count()).select_from(StockMovement)) or 0)
    db.session.rollback()
    return counts


def test_every_mutating_route_is_checked_or_excluded_with_its_reason(app: Flask) -> None:
    """A POST route of the URL map without a case (in the fuzz tier's table) fails here."""
    routes = {(rule.endpoint, action)
              for rule in app.url_map.iter_rules()
              if rule.methods and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
              and not rule.rule.startswith("/api/") and rule.endpoint != "static"
              for action in _dispatched(rule.endpoint)}
    assert routes - {(c.endpoint, c.action) for c in CASES} == set()
    assert set(EXCLUDED) <= {c.id for c in CASES}
    assert all(reason for reason in EXCLUDED.values())


@pytest.mark.parametrize("case", _params())
def test_a_successful_change_leaves_an_audit_or_ledger_row(app: Flask, case: FormCase) -> None:
    world = build_world()
    client = _sign_in(app, world, case.actor)
    before = traces()

    response = _send(client, case.url(world), case.form(world, 0), htmx=False)
    assert response.status_code in case.ok, response.get_data(as_text=True)[:600]

    after = traces()
    assert after[0] >= before[0] and after[1] >= before[1]
    if after == before:
        raise NoTrace(f"{case.id} succeeded and left no audit or ledger row")
