"""Sales channels through the API: an order reserved on a channel names no locations; a
reservation moves between locations; a channel answers what it can sell."""

from __future__ import annotations

from .calls import ORDERS, build_scene


def test_an_order_on_a_channel_gets_its_locations_chosen(world, make_location, make_entry,
                                                         api_as):
    scene = build_scene(world, make_location, make_entry)
    client = api_as("owner", world.a.store)
    body = {"store_id": world.a.store.id, "channel": "a_web",
            "lines": [{"line_ref": "L1", "product_id": world.a.product.id, "quantity": 2}]}
    response = client.post(f"{ORDERS}/WEB-1/reserve", body)
    assert response.status_code == 200, response.get_json()
    line = response.get_json()["details"]["lines"][0]
    assert line["location_id"] == world.a.location.id and line["status"] == "reserved"
    # More than the channel's locations hold: 409 naming the line and the channel.
    too_many = {**body, "lines": [{**body["lines"][0], "line_ref": "L2", "quantity": 50}]}
    short = client.post(f"{ORDERS}/WEB-1/reserve", too_many)
    assert short.status_code == 409
    assert "L2: A-MUG on A_WEB" in short.get_json()["error"]["message"]
    # A code the store has no channel for is named as the field at fault.
    missing = client.post(f"{ORDERS}/WEB-2/reserve", {**body, "channel": "nope"})
    assert missing.status_code == 404
    assert "channel" in missing.get_json()["error"]["fields"]
    assert scene.hold.id


def test_a_reservation_moves_and_a_channel_says_what_it_can_sell(world, make_location,
                                                                 make_entry, api_as):
    scene = build_scene(world, make_location, make_entry)
    client = api_as("owner", world.a.store)
    moved = client.post(f"{ORDERS}/ORD-H/reservations/{scene.hold.id}/move",
                        {"location": "a_move"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["details"]["to_location_id"] != world.a.location.id
    # The order's read says where the hold is now.
    [hold] = client.get(f"{ORDERS}/ORD-H?store_id={world.a.store.id}").get_json()[
        "reservations"]
    assert (hold["id"], hold["product_id"], hold["location"]) == (
        scene.hold.id, world.a.product.id, "A_MOVE")
    assert hold["location_id"] == moved.get_json()["details"]["to_location_id"]
    # Moving it where it already is names the request's field.
    again = client.post(f"{ORDERS}/ORD-H/reservations/{scene.hold.id}/move",
                        {"location": "a_move"})
    assert again.status_code == 422
    assert again.get_json()["error"]["fields"] == {
        "location": "The reservation is already held there."}
    # Named under another order, the reservation is not found.
    wrong = client.post(f"{ORDERS}/ORD-X/reservations/{scene.hold.id}/move",
                        {"location": "A_MAIN"})
    assert wrong.status_code == 404
    answer = client.get(f"/api/v1/store/channels/A_WEB/availability?store_id="
                        f"{world.a.store.id}&product_id={world.a.product.id}").get_json()
    assert answer["locations"] == ["A_MAIN", "A_SPARE"]
    [product] = answer["products"]
    assert product["available"] == sum(x["available"] for x in product["locations"])
