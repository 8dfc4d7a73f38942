"""The event feed over the API: a store's events after a sequence number, each once, in
order; its paging checked; another store's feed not found."""

from __future__ import annotations

from .helpers import assert_error

URL = "/api/v1/store/events"
ADJUST = "/api/v1/store/inventory/adjust"


def test_a_consumer_reads_every_change_once_in_order(api_as, world) -> None:
    owner = api_as("owner", world.a.store)
    start = owner.get(URL).get_json()
    assert start["store_id"] == world.a.store.id
    # The entry was made with 10 on hand: its first row, and its coming into stock.
    assert [e["type"] for e in start["events"]][:2] == ["stock.changed", "stock.back_in_stock"]
    mark = start["next_after"]

    for quantity in (-3, -4, 5):
        owner.post(ADJUST, {"product_id": world.a.product.id, "location": "a_main",
                            "quantity": quantity, "reason": "count"})

    seen = []
    after = mark
    while True:
        page = owner.get(URL, query_string={"after": after, "limit": 1}).get_json()
        seen += page["events"]
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert [e["sequence"] for e in seen] == list(range(mark + 1, mark + 4))
    assert [e["data"]["quantity_after"] for e in seen] == [7, 3, 8]
    assert {e["data"]["sku"] for e in seen} == {"A-MUG"}
    assert all(e["id"] == f"evt_{world.a.store.id}_{e['sequence']}" for e in seen)


def test_paging_is_checked_and_other_stores_are_not_found(api_as, world) -> None:
    owner = api_as("owner", world.a.store)
    for query, field in (({"after": "-1"}, "after"), ({"after": "x"}, "after"),
                         ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit")):
        assert field in assert_error(owner.get(URL, query_string=query), 422)["fields"]
    missing = owner.get(URL, query_string={"store_id": world.b.store.id})
    assert "store_id" in assert_error(missing, 404)["fields"]


def test_whoever_reads_the_stock_reads_its_events(api_as, world) -> None:
    staff = api_as("staff", world.a.store)
    assert staff.get(URL).status_code == 200
    admin = api_as("platform_admin")
    assert "store_id" in assert_error(admin.get(URL), 422)["fields"]
    assert admin.get(URL, query_string={"store_id": world.b.store.id}).status_code == 200
