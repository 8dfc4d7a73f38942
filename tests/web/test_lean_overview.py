"""The overview's bytes: a page of 50 rows of the demo data within its budget (issue 15: 40 KB
a page, 0.6 KB a row), with nothing left out to get there — the store named once when the
page shows one store, the sort and page links plain links, the keyboard help fetched when
asked for. Byte budgets only: times are the benchmark's business, never a test's."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import demo
from app.models import Membership, Store, User

from .helpers import HX, csrf_from_page

PAGE_BUDGET = 40 * 1024
ROW_BUDGET = 0.6 * 1024
ROW = re.compile(r'<tr id="entry-(\d+)"[^>]*>.*?</tr>', re.S)


def rows_of(body: str) -> list[str]:
    return [m.group(0) for m in ROW.finditer(body)]


@pytest.fixture
def demo_site(app: Flask) -> Callable[[str], FlaskClient]:
    demo.seed()

    def signed_in(email: str) -> FlaskClient:
        client = app.test_client()
        form = {"email": email, "password": demo.DEMO_PASSWORD}
        if app.config.get("WTF_CSRF_ENABLED", True):
            form["csrf_token"] = csrf_from_page(client.get("/sign-in").get_data(as_text=True))
        response = client.post("/sign-in", data=form)
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
        return client

    return signed_in


def test_a_page_of_fifty_demo_rows_fits_the_budget(
    demo_site: Callable[[str], FlaskClient],
) -> None:
    # The owner and the platform admin see several stores (each row names its own); the
    # staff member one. The page is the same HTML at any width: the phone layout is CSS.
    for email in ("owner@stockroom.test", "admin@stockroom.test", "staff@stockroom.test"):
        check_budget(demo_site(email))


def check_budget(client: FlaskClient) -> None:
    page = client.get("/inventory").get_data(as_text=True)
    rows = rows_of(page)
    assert len(rows) == 50
    assert len(page.encode()) <= PAGE_BUDGET, len(page.encode())
    first = page.index(rows[0])
    last = page.index(rows[-1]) + len(rows[-1])
    assert (last - first) / len(rows) <= ROW_BUDGET
    # The next page is a plain link (static/app.js sends a click on it through htmx).
    assert re.search(r'<a class="button secondary" rel="next" href="/inventory\?cursor=[^"]+">',
                     page)
    assert "hx-get" not in page[page.index('<section id="results"'):]
    # The results htmx swaps in after a sort or a page are the page's, and no bigger.
    fragment = client.get("/inventory?sort=quantity", headers=HX).get_data(as_text=True)
    assert len(rows_of(fragment)) == 50
    assert len(fragment.encode()) < len(page.encode())


@pytest.fixture
def two_stores(
    make_store: Callable[..., Store],
    make_entry: Callable[..., Any],
    make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> SimpleNamespace:
    first, second = make_store("Harbour & Co"), make_store("Northwind")
    entries = [make_entry(store=first), make_entry(store=second)]
    both = make_user(role="owner", store=first)
    from app.extensions import db

    db.session.add(Membership(user_id=both.id, store_id=second.id, role="owner", grants=[]))
    db.session.commit()
    one = make_user(role="owner", store=first)
    return SimpleNamespace(first=first, second=second, entries=entries,
                           both=sign_in(both), one=sign_in(one))


def test_rows_name_their_store_only_when_the_page_spans_several(
    two_stores: SimpleNamespace,
) -> None:
    first, entry = two_stores.first, two_stores.entries[0]
    every = two_stores.both.get("/inventory").get_data(as_text=True)
    assert "<small>Harbour &amp; Co</small>" in every
    assert "<small>Northwind</small>" in every
    # One store picked: its name heads the page, and no row repeats it.
    picked = two_stores.both.get(f"/inventory?store={first.id}").get_data(as_text=True)
    assert '<p class="store-context">Harbour &amp; Co</p>' in picked
    assert len(rows_of(picked)) == 1 and "<small>Harbour" not in rows_of(picked)[0]
    # A user of one store: the same.
    only = two_stores.one.get("/inventory").get_data(as_text=True)
    assert '<p class="store-context">Harbour &amp; Co</p>' in only
    assert "<small>Harbour" not in rows_of(only)[0]
    # The row an action sends back, or asked for alone, looks like its page's rows.
    for client, page in ((two_stores.both, "/inventory"),
                         (two_stores.both, f"/inventory?store={first.id}"),
                         (two_stores.one, "/inventory")):
        body = client.get(page).get_data(as_text=True)
        row = next(r for r in rows_of(body) if f'id="entry-{entry.id}"' in r)
        single = client.get(f"/inventory/entries/{entry.id}/row", query_string={"next": page})
        assert single.get_data(as_text=True) == row


def test_sort_and_page_links_are_plain_links_in_the_results(
    two_stores: SimpleNamespace,
) -> None:
    body = two_stores.both.get("/inventory").get_data(as_text=True)
    results = body[body.index('<section id="results"'):body.index("</section>",
                                                                   body.index('id="results"'))]
    # The section says how htmx swaps what its links load (static/app.js sends their clicks).
    assert 'hx-target="#results" hx-swap="outerHTML" hx-push-url="true"' in results
    assert "hx-get" not in results
    head = results[results.index("<thead>"):results.index("</thead>")]
    assert len(re.findall(r'<a href="/inventory\?[^"]*(?:sort|dir)=', head)) == 8
    assert re.search(r'<a class="group-toggle" href="/inventory\?group=item">', results)


def test_the_keyboard_help_is_fetched_not_carried(
    two_stores: SimpleNamespace, app: Flask
) -> None:
    body = two_stores.both.get("/inventory").get_data(as_text=True)
    assert "keys-help-title" not in body
    assert 'data-keys-help="/inventory/keys"' in body
    help_ = two_stores.both.get("/inventory/keys")
    assert help_.status_code == 200
    text = help_.get_data(as_text=True)
    assert text.startswith('<dialog id="keys-help" class="dialog keys-help" '
                           'aria-labelledby="keys-help-title">')
    assert '<h2 id="keys-help-title">Keyboard shortcuts</h2>' in text
    assert "Content-Security-Policy" in help_.headers
    # Signed out: the sign-in page, never the dialog.
    assert app.test_client().get("/inventory/keys").status_code in (302, 303)


def test_templates_lose_indentation_but_never_a_separating_space(app: Flask) -> None:
    source = ('<section id="s"{% if oob %} hx-swap-oob="true"{% endif %}\n'
              '         hx-get="/x">\n'
              '  <p>one\n'
              '     two</p>\n'
              '  {% if yes %}\n'
              '    <b>in</b>\n'
              '  {% endif %}\n'
              '</section>')
    html = app.jinja_env.from_string(source).render(oob=False, yes=True)
    # After a block tag, whose line break trim_blocks takes, one space keeps the place.
    assert html == '<section id="s" hx-get="/x">\n<p>one\ntwo</p>\n <b>in</b>\n</section>'
