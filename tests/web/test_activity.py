"""The Activity page and its CSV: full page vs fragment, filters, paging, permissions,
foreign ids, escaping; and the changes on an entry's and a product's page."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.clock import frozen_at
from app.database import write_transaction
from app.permissions import AUDIT, Actor
from app.services import audit

from .helpers import HX, assert_csp_clean

SCRIPT = "<script>alert(1)</script>"


def is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>") and "</html>" in body


def shown(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="activity-(\d+)"', body)]


def link(body: str, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', body)
    return match.group(1).replace("&amp;", "&") if match else None


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
def site(
    make_store: Callable[..., Any], make_product: Callable[..., Any],
    make_entry: Callable[..., Any], admin_actor: Actor,
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """Alpha: a product edit, a threshold set, a member added; Beta: a product archived
    with a hostile name; a store-less token revocation."""
    alpha, beta = make_store("Alpha"), make_store("Beta")
    mug = make_product(alpha, "MUG", title="Blue Mug")
    entry = make_entry(store=alpha, product=mug)
    hat = make_product(beta, "HAT", title="Hidden Hat")
    write(admin_actor, "product.updated", "product", mug.id, "MUG — Blue Mug",
          store_id=alpha.id, product_id=mug.id,
          changes={"reorder_point": (0, 5), "title": ("Mug", SCRIPT + "x" * 120)}, day=1)
    write(admin_actor, "entry.threshold_set", "entry", entry.id, "MUG at LOC_1",
          store_id=alpha.id, product_id=mug.id, changes={"low_stock_threshold": (3, 0)}, day=2)
    write(admin_actor, "member.added", "member", 77, "=HYPERLINK(1)", store_id=alpha.id,
          changes={"role": (None, "staff")}, day=3)
    write(admin_actor, "product.archived", "product", hat.id, "HAT — Hidden Hat",
          store_id=beta.id, product_id=hat.id, day=4)
    write(admin_actor, "token.revoked", "token", 5, "laptop", day=5)
    owner = login_as("owner", alpha)
    return SimpleNamespace(alpha=alpha, beta=beta, mug=mug, entry=entry, hat=hat, owner=owner,
                           login_as=login_as)


def test_the_page_is_whole_without_htmx_and_lists_the_store(site) -> None:
    response = site.owner.get("/activity")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and is_full_page(body)
    assert re.search(r'href="/activity"\s+aria-current="page">Activity</a>', body)
    assert len(shown(body)) == 3
    assert "Threshold set" in body and "Product updated" in body and "Member added" in body
    assert "Reorder point" in body and "Low-stock threshold" in body
    assert "Hidden Hat" not in body and "laptop" not in body
    assert f'href="/inventory/entries/{site.entry.id}"' in body
    assert f'href="/products/{site.mug.id}"' in body
    assert "HX-Request" in response.vary
    assert_csp_clean(body)


def test_htmx_gets_the_results_fragment(site) -> None:
    response = site.owner.get("/activity?kind=entry", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and not is_full_page(body)
    assert re.match(r'\s*<section id="results"', body)
    assert len(shown(body)) == 1 and "Threshold set" in body
    assert response.headers["HX-Push-Url"] == "/activity?kind=entry"
    assert "HX-Request" in response.vary


def test_values_are_escaped_and_long_ones_cut(site) -> None:
    body = site.owner.get("/activity").get_data(as_text=True)
    assert SCRIPT not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    # Cut on screen, whole in the tooltip.
    escaped = SCRIPT.replace("<", "&lt;").replace(">", "&gt;")
    assert "x" * 54 + "…</span>" in body and f'title="{escaped}' in body


def test_paging_walks_the_trail(site) -> None:
    first = site.owner.get("/activity?per_page=25").get_data(as_text=True)
    assert link(first, "next") is None
    write(Actor(name="bulk"), "product.updated", "product", site.mug.id, "MUG",
          store_id=site.alpha.id, product_id=site.mug.id, day=6)
    pages, url = [], "/activity?per_page=25"
    # 25 more rows make two pages.
    with write_transaction() as session, _recording():
        audit.record_many(session, Actor(name="bulk"), [
            audit.Change("product.updated", "product", site.mug.id, "MUG", site.alpha.id,
                         site.mug.id, {"reorder_point": (n, n + 1)}) for n in range(25)])
    while url:
        body = site.owner.get(url).get_data(as_text=True)
        pages.append(shown(body))
        url = link(body, "next")
    assert [len(p) for p in pages] == [25, 4]
    assert len({n for p in pages for n in p}) == 29


def test_bad_filters_are_reported_and_left_out(site) -> None:
    response = site.owner.get("/activity?kind=ledger&from=tomorrow&object=x:1&cursor=zz")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Choose what kind of change from the list." in body
    assert "Enter a date as YYYY-MM-DD" in body
    assert "This page link is no longer valid." in body
    assert len(shown(body)) == 3


@pytest.mark.parametrize("query", [
    lambda s: f"store={s.beta.id}", lambda s: f"product={s.hat.id}",
    lambda s: f"object=product:{s.hat.id}", lambda s: "object=token:5",
    lambda s: "store=99999",
])
def test_foreign_ids_are_not_found(site, query) -> None:
    for path in ("/activity", "/activity.csv"):
        assert site.owner.get(f"{path}?{query(site)}").status_code == 404


def test_staff_without_audit_are_refused_and_see_no_link(site) -> None:
    staff = site.login_as("staff", site.alpha)
    assert staff.get("/activity").status_code == 403
    assert staff.get("/activity.csv").status_code == 403
    assert 'href="/activity' not in staff.get("/inventory").get_data(as_text=True)
    auditor = site.login_as("staff", site.alpha, (AUDIT,))
    assert len(shown(auditor.get("/activity").get_data(as_text=True))) == 3


def test_a_platform_admin_sees_every_store_with_a_store_column(site) -> None:
    admin = site.login_as("platform_admin")
    body = admin.get("/activity").get_data(as_text=True)
    assert len(shown(body)) == 5
    assert '<th scope="col">Store</th>' in body and "Platform" in body and "Beta" in body
    narrowed = admin.get(f"/activity?store={site.beta.id}").get_data(as_text=True)
    assert len(shown(narrowed)) == 1 and '<th scope="col">Store</th>' not in narrowed


def test_the_export_holds_every_filtered_row_neutralised(site) -> None:
    response = site.owner.get("/activity.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "stockroom-activity-" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Time (UTC)", "Store", "What"]
    assert [r[2] for r in rows[1:]] == ["Member added", "Threshold set", "Product updated"]
    assert rows[1][6] == "'=HYPERLINK(1)"
    assert "Low-stock threshold: 3 → 0" in rows[2][7]
    # The export carries the whole value.
    assert SCRIPT + "x" * 120 in rows[3][7]
    filtered = site.owner.get("/activity.csv?kind=member").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(filtered)))) == 2


def test_entry_and_product_pages_show_their_changes(site) -> None:
    entry = site.owner.get(f"/inventory/entries/{site.entry.id}").get_data(as_text=True)
    assert 'id="changes"' in entry and "Low-stock threshold" in entry
    product = site.owner.get(f"/products/{site.mug.id}").get_data(as_text=True)
    assert 'id="changes"' in product
    assert "Reorder point" in product and "Low-stock threshold" in product
    assert SCRIPT not in product
    staff = site.login_as("staff", site.alpha)
    page = staff.get(f"/products/{site.mug.id}").get_data(as_text=True)
    # Readers see the history, without the link to the Activity page they cannot open.
    assert "Reorder point" in page and "/activity?" not in page


def test_the_account_page_lists_changes_to_the_users_own_account(site, admin_actor) -> None:
    user = site.owner.user
    write(admin_actor, "user.password_reset", "user", user.id, user.email,
          changes={"password_hash": ("old", "new")}, day=6)
    body = site.owner.get("/account/tokens").get_data(as_text=True)
    assert "Changes to your account" in body and "Password reset" in body
    assert "(secret)" in body and ">old<" not in body
    # Someone else's account changes are not theirs to read.
    other = site.login_as("owner", site.alpha)
    assert "Password reset" not in other.get("/account/tokens").get_data(as_text=True)
