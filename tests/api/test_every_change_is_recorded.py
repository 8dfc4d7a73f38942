"""Every mutating API operation, sent a valid request, leaves a trace: an audit row for a
change that is not stock, a ledger row for one that is.

The requests are the fuzz tier's (tests/fuzz/test_api.py, built on calls.py), one per
operation of the OpenAPI document: an operation added without a case there fails the
completeness test below too. An operation that changes nothing by design is excluded here
with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from fuzz.test_api import _PROBE, CASES, ApiCase, _operation_of, _operations, _send
from sqlalchemy import func, select

from api.calls import INV
from app.extensions import db
from app.models import AuditEvent, StockMovement
from app.permissions import system_actor
from app.services import stock
from app.services.people import tokens

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


class NoTrace(Exception):
    """An operation succeeded and left neither an audit row nor a ledger row."""


# Only a missing trace is expected: a request that fails for another reason still fails.

# Mutating operations that change no record, and why.
EXCLUDED: dict[str, str] = {
    "availability": "a POST only because its question has a body; it reads, changes nothing",
}

# Variants of an operation whose trace depends on what was sent.
VARIANTS: list[ApiCase] = [
    ApiCase("create with no stock", "POST", lambda s: INV,
            lambda s: {"product_id": s.a.product.id, "location": "A_NEW", "quantity": 0}),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases: each operation's trace is written in its own transaction on either."""
    return str(request.param)


def _params() -> list[Any]:
    params = []
    for case in CASES:
        if case.method not in MUTATING or case.name in EXCLUDED:
            continue
        params.append(pytest.param(case, id=case.name))
    params += [pytest.param(case, id=case.name) for case in VARIANTS]
    return params


def traces() -> tuple[int, int]:
    """How many audit rows and ledger rows there are."""
    counts = (db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
              db.session.scalar(select(func.count()).select_from(StockMovement)) or 0)
    db.session.rollback()
    return counts


def test_every_mutating_operation_is_checked_or_excluded_with_its_reason(app: Flask) -> None:
    """An operation of the OpenAPI document without a case (in the fuzz tier's table)
    fails here."""
    operations = _operations(app)
    covered = {_operation_of(operations, c.method, c.url(_PROBE)) for c in CASES}
    assert {op for op in operations if op[0] in MUTATING} - covered == set()
    names = {c.name for c in CASES}
    assert set(EXCLUDED) <= names
    assert all(reason for reason in EXCLUDED.values())


@pytest.mark.parametrize("case", _params())
def test_a_successful_change_leaves_an_audit_or_ledger_row(
    app: Flask, scene: SimpleNamespace, make_user: Callable[..., Any], case: ApiCase,
) -> None:
    owner = make_user(role="owner", store=scene.a.store)
    admin = make_user(platform_admin=True)
    token = tokens.create_token(user_id=(admin if case.actor == "admin" else owner).id,
                                name="trace")[1]
    if case.name in ("order release", "order fulfill"):
        stock.reserve_stock(actor=system_actor("tests"), entry_id=scene.a.entry.id,
                                quantity=1, order_ref="SETUP")
    body = case.body(scene)
    url = case.url(scene)
    before = traces()

    response = _send(app, case, token, url, body, {})
    assert 200 <= response.status_code < 300, response.get_data(as_text=True)[:600]

    after = traces()
    assert after[0] >= before[0] and after[1] >= before[1]
    if after == before:
        raise NoTrace(f"{case.name} succeeded and left no audit or ledger row")
