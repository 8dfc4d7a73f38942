"""Read models: status rules, totals and reports, all computed in SQL."""

from __future__ import annotations

import pytest

from app.services import queries, stock
from app.services.errors import NotFound


def test_entry_status_follows_available_and_threshold(make_entry, admin_actor):
    cases = {
        "in_stock": make_entry(quantity=10, threshold=3),
        "low_stock": make_entry(quantity=5, reserved=2, threshold=3),
        "out_of_stock": make_entry(quantity=4, reserved=4),
    }
    for expected, entry in cases.items():
        assert queries.get_entry(admin_actor, entry.id).status == expected


def test_threshold_zero_disables_low_stock(make_entry, admin_actor):
    entry = make_entry(quantity=1, threshold=0)
    assert queries.get_entry(admin_actor, entry.id).status == "in_stock"


def test_backorder_product_with_nothing_available_is_on_backorder(
    make_store, make_location, make_product, make_entry, admin_actor
):
    store = make_store()
    product = make_product(store, allow_backorder=True)
    entry = make_entry(quantity=0, store=store, product=product)
    assert queries.get_entry(admin_actor, entry.id).status == "on_backorder"


def test_changing_the_threshold_changes_the_status_at_once(make_entry, admin_actor):
    entry = make_entry(quantity=5)
    assert queries.get_entry(admin_actor, entry.id).status == "in_stock"
    stock.set_threshold(actor=admin_actor, entry_id=entry.id, low_stock_threshold=5)
    assert queries.get_entry(admin_actor, entry.id).status == "low_stock"


def test_stats_and_counts_by_status(make_store, make_location, make_entry, admin_actor):
    store = make_store()
    make_entry(quantity=10, reserved=4, threshold=2, store=store)
    make_entry(quantity=3, threshold=5, store=store)
    make_entry(quantity=0, store=store)
    other = make_entry(quantity=7)
    stats = queries.stock_stats(admin_actor, store_id=store.id)
    assert stats["total_entries"] == 3
    assert stats["total_quantity"] == 13
    assert stats["total_reserved"] == 4
    assert stats["total_available"] == 9
    assert (stats["in_stock"], stats["low_stock"], stats["out_of_stock"]) == (1, 1, 1)
    assert stats["low_stock_count"] == 1
    assert stats["stores_with_inventory"] == 1
    assert stats["unique_locations"] == 3
    everything = queries.stock_stats(admin_actor)
    assert everything["total_entries"] == 4
    assert everything["total_quantity"] == 13 + other.quantity
    assert everything["stores_with_inventory"] == 2


def test_readers_see_only_their_stores(make_store, make_entry, make_user, actor_of):
    mine, theirs = make_store(), make_store()
    own = make_entry(quantity=5, store=mine)
    foreign = make_entry(quantity=9, store=theirs)
    reader = actor_of(make_user(role="staff", store=mine))
    assert queries.get_entry(reader, own.id).quantity == 5
    with pytest.raises(NotFound):
        queries.get_entry(reader, foreign.id)
    assert queries.stock_stats(reader)["total_quantity"] == 5
    with pytest.raises(NotFound):
        queries.product_stock(reader, foreign.product_id)


def test_product_stock_totals_across_locations(
    make_store, make_location, make_product, make_entry, admin_actor
):
    store = make_store()
    product = make_product(store)
    make_entry(quantity=100, reserved=10, store=store, product=product)
    make_entry(quantity=50, store=store, product=product)
    make_entry(quantity=25, reserved=5, store=store, product=product)
    summary = queries.product_stock(admin_actor, product.id)
    assert len(summary.locations) == 3
    assert (summary.total_quantity, summary.total_reserved, summary.total_available) == (
        175, 15, 160,
    )
    assert summary.status == "in_stock"


def test_digital_product_is_unlimited_and_in_stock(make_store, make_product, admin_actor):
    store = make_store()
    product = make_product(store, type="digital")
    summary = queries.product_stock(admin_actor, product.id)
    assert summary.unlimited
    assert summary.status == "in_stock"
    assert summary.locations == []


def test_low_stock_and_out_of_stock_reports(make_store, make_entry, admin_actor):
    store = make_store()
    low = make_entry(quantity=2, threshold=5, store=store)
    empty = make_entry(quantity=0, store=store)
    make_entry(quantity=50, threshold=5, store=store)
    assert [e.id for e in queries.low_stock(admin_actor, store_id=store.id)] == [low.id]
    assert [e.id for e in queries.out_of_stock(admin_actor, store_id=store.id)] == [empty.id]
    by_threshold = queries.low_stock(admin_actor, store_id=store.id, threshold=10)
    assert {e.id for e in by_threshold} == {low.id, empty.id}


def test_reorder_suggestions_list_entries_at_or_below_their_point(
    make_store, make_location, make_product, make_entry, admin_actor
):
    """Per location, net of incoming: the full rule is in test_reorder_suggestions.py."""
    store = make_store()
    a, b = make_location(store), make_location(store)
    due = make_product(store, reorder_point=20, reorder_quantity=50)
    low = make_entry(quantity=12, store=store, location=a, product=due)
    make_entry(quantity=21, store=store, location=b, product=due)
    fine = make_product(store, reorder_point=5, reorder_quantity=10)
    make_entry(quantity=30, store=store, location=a, product=fine)
    make_entry(quantity=0, store=store, location=a, product=make_product(store, reorder_point=0))
    rows = queries.reorder_suggestions(admin_actor, queries.ReportFilters(store_id=store.id)).rows
    assert [(r.entry_id, r.available_quantity, r.shortfall, r.suggested) for r in rows] == [
        (low.id, 12, 8, 50)]


def test_entry_reservations_lists_active_first(make_entry, admin_actor):
    entry = make_entry(quantity=10)
    first = stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=2, order_ref="A")
    stock.release_stock(actor=admin_actor, reservation_id=first.reservation_ids[0])
    stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=1, order_ref="B")
    rows = queries.entry_reservations(admin_actor, entry.id)
    assert [(r.order_ref, r.status) for r in rows] == [("B", "active"), ("A", "released")]


def _walk(actor, filters, limit):
    seen, cursor, pages = [], None, 0
    while True:
        page = queries.list_entries(actor, filters, cursor=cursor, limit=limit)
        seen.extend(r.id for r in page.rows)
        pages += 1
        if page.next_cursor is None:
            return seen, pages, page
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", sorted(queries.SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_keyset_pages_visit_every_row_once_in_order(
    make_store, make_product, make_location, make_entry, admin_actor, sort, descending
):
    store = make_store()
    location = make_location(store)
    for n in range(7):
        make_entry(quantity=n % 3, store=store, location=location,
                   product=make_product(store, title=f"Item {n % 4}"))
    filters = queries.EntryFilters(store_id=store.id, sort=sort, descending=descending)
    everything = queries.list_entries(admin_actor, filters, limit=100).rows
    seen, pages, last = _walk(admin_actor, filters, limit=3)
    assert seen == [r.id for r in everything]
    assert pages == 3 and last.total == 7
    # Walking back from the last page returns the previous pages in the same order.
    back = queries.list_entries(admin_actor, filters, cursor=last.prev_cursor, limit=3)
    assert [r.id for r in back.rows] == seen[3:6]
    assert back.next_cursor is not None


def test_filters_narrow_the_overview(make_store, make_location, make_product, make_entry,
                                     admin_actor):
    store = make_store()
    a, b = make_location(store, "AISLE_A"), make_location(store, "AISLE_B")
    mug = make_product(store, sku="MUG-BLU", title="Blue Mug", gtin="4006381333931")
    make_entry(quantity=3, threshold=5, store=store, location=a, product=mug)
    make_entry(quantity=40, store=store, location=b, product=mug)
    make_entry(quantity=0, store=store, location=b)

    def ids(**kw):
        page = queries.list_entries(admin_actor, queries.EntryFilters(store_id=store.id, **kw))
        return len(page.rows)

    assert ids() == 3
    assert ids(location_id=b.id) == 2
    assert ids(status="low_stock") == 1
    assert ids(status="out_of_stock") == 1
    assert ids(max_quantity=3) == 2
    assert ids(search="blue") == 2
    assert ids(search="mug-b") == 2
    assert ids(search="4006381333931") == 2
    assert ids(search="100%_") == 0
    assert [e.sku for e in queries.find_exact(admin_actor, "mug-blu")] == ["MUG-BLU", "MUG-BLU"]


def test_a_tampered_cursor_is_a_validation_error(make_entry, admin_actor):
    from app.services.errors import ValidationError

    make_entry()
    with pytest.raises(ValidationError) as caught:
        queries.list_entries(admin_actor, queries.EntryFilters(), cursor="not-a-cursor")
    assert "cursor" in caught.value.fields


def test_stats_agree_with_each_entrys_own_status_in_every_scope(
    make_store, make_location, make_product, make_entry, make_user, actor_of, admin_actor
):
    """The counts by status (three counted, in_stock the rest) and the store and location
    counts match what each entry says of itself, for a platform admin, one store and a
    reader of one store."""
    from collections import Counter

    mine, theirs, empty = make_store(), make_store(), make_store()
    make_location(empty)  # a location without entries is not counted
    made = []
    for n, store in enumerate([mine, mine, mine, mine, theirs, theirs, mine]):
        product = make_product(store, allow_backorder=n % 3 == 0)
        made.append(make_entry(
            quantity=(0, 4, 9, 2, 0, 5, 1)[n], threshold=(0, 5, 3, 2, 1, 0, 0)[n],
            reserved=(0, 1, 0, 2, 0, 0, 0)[n], store=store, product=product,
        ))
    reader = actor_of(make_user(role="staff", store=mine))
    for actor, store_id, visible in (
        (admin_actor, None, made),
        (admin_actor, mine.id, [e for e in made if e.store_id == mine.id]),
        (reader, None, [e for e in made if e.store_id == mine.id]),
        (reader, theirs.id, []),
    ):
        stats = queries.stock_stats(actor, store_id=store_id)
        statuses = Counter(queries.get_entry(admin_actor, e.id).status for e in visible)
        assert {s: stats[s] for s in queries.STATUSES} == {s: statuses[s] for s in queries.STATUSES}
        assert stats["total_entries"] == len(visible)
        assert stats["total_quantity"] == sum(e.quantity for e in visible)
        assert stats["total_available"] == sum(e.quantity - e.reserved_quantity for e in visible)
        assert stats["stores_with_inventory"] == len({e.store_id for e in visible})
        assert stats["unique_locations"] == len({e.location_id for e in visible})
    assert set(Counter(queries.get_entry(admin_actor, e.id).status for e in made)) == set(
        queries.STATUSES
    )
