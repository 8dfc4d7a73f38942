"""GET /api/v1/stores/<id>/activity and /api/v1/admin/activity: the audit trail with the
screen's filters, cursor pages, and the same permissions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from app.clock import frozen_at
from app.database import write_transaction
from app.permissions import AUDIT, Actor
from app.services import audit

# The fixtures build their stores, products and entries through the verbs, which record
# themselves; these tests read a trail written by hand, so only `write` records.
_RECORD_MANY = audit.record_many
_quiet = {"on": False}


@contextmanager
def _recording() -> Iterator[None]:
    _quiet["on"] = False
    try:
        yield
    finally:
        _quiet["on"] = True


@pytest.fixture(autouse=True)
def _only_the_written_trail(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def record_many(*args: Any, **kwargs: Any) -> int:
        return 0 if _quiet["on"] else _RECORD_MANY(*args, **kwargs)

    monkeypatch.setattr(audit, "record_many", record_many)
    _quiet["on"] = True
    yield
    _quiet["on"] = False


def write(actor: Actor, action: str, object_type: str, object_id: int | None, label: str,
          *, day: int = 1, **kwargs: Any) -> None:
    with frozen_at(datetime(2026, 3, day, 9, 0)), write_transaction() as session:
        with _recording():
            audit.record(session, actor, action, object_type, object_id, label, **kwargs)


@pytest.fixture
def trail(make_store: Callable[..., Any], make_product: Callable[..., Any],
          make_entry: Callable[..., Any], admin_actor: Actor,
          api_as: Callable[..., Any]) -> SimpleNamespace:
    alpha, beta = make_store("Alpha"), make_store("Beta")
    mug = make_product(alpha, "MUG", title="Blue Mug")
    entry = make_entry(store=alpha, product=mug)
    hat = make_product(beta, "HAT", title="Hidden Hat")
    write(admin_actor, "product.updated", "product", mug.id, "MUG — Blue Mug",
          store_id=alpha.id, product_id=mug.id, changes={"reorder_point": (0, 5)}, day=1)
    write(admin_actor, "entry.threshold_set", "entry", entry.id, "MUG at LOC",
          store_id=alpha.id, product_id=mug.id, changes={"low_stock_threshold": (3, 0)}, day=2)
    write(admin_actor, "member.added", "member", 77, "new@example.test", store_id=alpha.id,
          day=3)
    write(admin_actor, "product.archived", "product", hat.id, "HAT", store_id=beta.id,
          product_id=hat.id, day=4)
    write(admin_actor, "token.revoked", "token", 5, "laptop", day=5)
    # Every client is made before the first request, as a server's users exist before it.
    return SimpleNamespace(alpha=alpha, beta=beta, mug=mug, entry=entry, hat=hat,
                           owner=api_as("owner", alpha), staff=api_as("staff", alpha),
                           auditor=api_as("staff", alpha, (AUDIT,)),
                           admin=api_as("platform_admin"), api_as=api_as)


def test_a_store_read_lists_its_changes_newest_first(trail) -> None:
    response = trail.owner.get(f"/api/v1/stores/{trail.alpha.id}/activity")
    assert response.status_code == 200
    body = response.get_json()
    assert [i["action"] for i in body["items"]] == [
        "member.added", "entry.threshold_set", "product.updated"]
    assert body["total"] == 3 and body["next_cursor"] is None
    item = body["items"][1]
    assert item["changes"] == {"low_stock_threshold": [3, 0]}
    assert item["action_label"] == "Threshold set"
    assert item["created_at"] == "2026-03-02T09:00:00Z"
    assert item["store_name"] == "Alpha"


@pytest.mark.parametrize("query, expected", [
    ("kind=entry", ["entry.threshold_set"]),
    ("kind=product.updated", ["product.updated"]),
    ("product_id={mug}", ["entry.threshold_set", "product.updated"]),
    ("object_type=entry&object_id={entry}", ["entry.threshold_set"]),
    ("from=2026-03-02&to=2026-03-02", ["entry.threshold_set"]),
    ("actor=system", ["member.added", "entry.threshold_set", "product.updated"]),
])
def test_filters(trail, query: str, expected: list[str]) -> None:
    query = query.format(mug=trail.mug.id, entry=trail.entry.id)
    body = trail.owner.get(f"/api/v1/stores/{trail.alpha.id}/activity?{query}").get_json()
    assert [i["action"] for i in body["items"]] == expected


def test_cursor_pages(trail) -> None:
    url = f"/api/v1/stores/{trail.alpha.id}/activity?limit=2"
    first = trail.owner.get(url).get_json()
    second = trail.owner.get(f"{url}&cursor={first['next_cursor']}").get_json()
    assert [len(first["items"]), len(second["items"])] == [2, 1]
    assert second["next_cursor"] is None and second["prev_cursor"]
    forged = trail.owner.get(f"{url}&cursor=forged")
    assert forged.status_code == 422 and "cursor" in forged.get_json()["error"]["fields"]


@pytest.mark.parametrize("query, field", [
    ("kind=ledger", "kind"), ("object_id=3", "object_id"), ("from=2026-03-05&to=2026-03-01", "to"),
    ("object_type=shelf&object_id=1", "object_type"), ("limit=0", "limit"),
])
def test_bad_filters_are_422_naming_the_field(trail, query: str, field: str) -> None:
    response = trail.owner.get(f"/api/v1/stores/{trail.alpha.id}/activity?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_foreign_stores_and_ids_are_404_and_no_audit_read_is_403(trail) -> None:
    assert trail.owner.get(f"/api/v1/stores/{trail.beta.id}/activity").status_code == 404
    assert trail.owner.get("/api/v1/stores/99999/activity").status_code == 404
    foreign = trail.owner.get(
        f"/api/v1/stores/{trail.alpha.id}/activity?product_id={trail.hat.id}")
    assert foreign.status_code == 404
    assert foreign.get_json()["error"]["fields"] == {"product_id": "No such product."}
    refused = trail.staff.get(f"/api/v1/stores/{trail.alpha.id}/activity")
    assert refused.status_code == 403 and AUDIT in refused.get_json()["error"]["message"]
    assert trail.auditor.get(f"/api/v1/stores/{trail.alpha.id}/activity").status_code == 200


def test_the_admin_read_spans_stores_and_the_platform(trail) -> None:
    admin = trail.admin
    body = admin.get("/api/v1/admin/activity").get_json()
    assert [i["action"] for i in body["items"]][:2] == ["token.revoked", "product.archived"]
    assert body["items"][0]["store_id"] is None
    beta = admin.get(f"/api/v1/admin/activity?store_id={trail.beta.id}").get_json()
    assert [i["action"] for i in beta["items"]] == ["product.archived"]
    assert trail.owner.get("/api/v1/admin/activity").status_code == 403
