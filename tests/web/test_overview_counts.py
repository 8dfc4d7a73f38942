"""What the overview says about how much matched: a capped count past the limit, the
"select all matching" offer only when one bulk action can take it, and short searches
named for what they are."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask.testing import FlaskClient

from app.inventory import routes
from app.services import stock


@pytest.fixture
def shelf(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    store = make_store()
    bay = make_location(store, code="BAY_1")
    for n in range(5):
        make_entry(store=store, location=bay, quantity=n + 1,
                   product=make_product(store, sku=f"AB-{n}", title=f"Walnut board {n}"))
    return SimpleNamespace(store=store, owner=login_as("owner", store))


def body_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_count_stops_at_the_limit_and_says_so(shelf, monkeypatch) -> None:
    monkeypatch.setattr(routes, "COUNT_LIMIT", 3)
    body = body_of(shelf.owner, f"/inventory?store={shelf.store.id}&per_page=25")
    assert "More than 3 entries" in body
    assert body.count('<tr id="entry-') == 5  # the page itself is not cut

    monkeypatch.setattr(routes, "COUNT_LIMIT", 5)
    body = body_of(shelf.owner, f"/inventory?store={shelf.store.id}")
    assert "More than" not in body
    assert ">5 entries<" in body


def test_select_all_is_offered_only_when_one_bulk_action_can_take_it(
    shelf, monkeypatch, login_as: Callable[..., FlaskClient]
) -> None:
    url = f"/inventory?store={shelf.store.id}&per_page=25&sort=title"
    # The page reads the package's re-export, the service its own module's.
    monkeypatch.setattr(stock, "MAX_BULK", 4)
    monkeypatch.setattr(stock.bulk, "MAX_BULK", 4)
    monkeypatch.setattr(routes, "COUNT_LIMIT", 100)
    for client in (shelf.owner, login_as("platform_admin")):
        body = body_of(client, url.replace("per_page=25", "per_page=25&q=walnut"))
        assert "More than 4 entries match: narrow the filters" in body
        assert 'value="filter" data-select-all' not in body

    monkeypatch.setattr(stock, "MAX_BULK", 5)
    monkeypatch.setattr(stock.bulk, "MAX_BULK", 5)
    body = body_of(shelf.owner, url)
    assert "narrow the filters" not in body


def test_a_short_search_says_it_matches_the_start_of_skus(shelf) -> None:
    body = body_of(shelf.owner, f"/inventory?store={shelf.store.id}&q=ab")
    assert "Showing SKUs that start with “ab”" in body
    assert "SKU starts with: ab" in body
    assert body.count('<tr id="entry-') == 5

    body = body_of(shelf.owner, f"/inventory?store={shelf.store.id}&q=walnut")
    assert "Showing SKUs that start with" not in body
    assert "Search: walnut" in body
    assert body.count('<tr id="entry-') == 5


def test_turning_a_page_or_searching_leaves_the_stats_alone(shelf) -> None:
    """The stats cards come back out of band only when the store changes: a page flip or
    a search in the same store sends the rows alone (and skips the stats queries)."""
    here = f"http://localhost/inventory?store={shelf.store.id}"

    def fragment(url: str, current: str | None) -> str:
        headers = {"HX-Request": "true", **({"HX-Current-URL": current} if current else {})}
        response = shelf.owner.get(url, headers=headers)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    same_store = fragment(f"/inventory?store={shelf.store.id}&q=walnut", here)
    assert 'id="results"' in same_store
    assert 'id="stats"' not in same_store

    other_store = fragment("/inventory", here)
    assert 'id="stats"' in other_store and 'hx-swap-oob="true"' in other_store

    # Without the header (an old client, a bookmarklet) the stats always come along.
    assert 'id="stats"' in fragment(f"/inventory?store={shelf.store.id}", None)
