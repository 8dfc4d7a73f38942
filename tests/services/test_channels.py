"""Sales channels: a store sells on a channel from an ordered list of its locations; an
order reserved on the channel gets each line's location chosen by the engine, split
across locations only where the channel allows it; a hold can move to another location."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Reservation, StockMovement
from app.services import channels, stock
from app.services.errors import (
    Conflict,
    ExceedsFulfilled,
    InsufficientStock,
    NotFound,
    OrderShort,
    PermissionDenied,
    ValidationError,
)


@pytest.fixture
def shop(store, owner, make_location, make_product):
    web, back, counter = (make_location(store, c) for c in ("WEB_WH", "BACK", "COUNTER"))
    mug = make_product(store, "MUG")
    ebook = make_product(store, "EBOOK", type="digital")
    entries = {
        code: stock.create_entry(actor=owner, product_id=mug.id, location_id=loc.id,
                                 quantity=qty).entry.id
        for code, loc, qty in (("WEB_WH", web, 3), ("BACK", back, 10), ("COUNTER", counter, 4))
    }
    online = channels.create_channel(actor=owner, store_id=store.id, code="web", name="Web shop",
                                     location_ids=[web.id, back.id])
    split = channels.create_channel(actor=owner, store_id=store.id, code="market",
                                    location_ids=[web.id, counter.id], allow_split=True)

    return SimpleNamespace(store=store, mug=mug, ebook=ebook, entries=entries, online=online,
                           split=split,
                           locations={"WEB_WH": web, "BACK": back, "COUNTER": counter})


def _reserved(entry_id: int) -> int:
    db.session.rollback()
    return db.session.get(InventoryEntry, entry_id).reserved_quantity


def test_a_channel_sells_from_its_locations_in_order(shop, owner):
    assert shop.online.code == "WEB" and shop.online.location_codes == ("WEB_WH", "BACK")
    [mug, ebook] = channels.channel_availability(owner, shop.online.id,
                                                 [shop.mug.id, shop.ebook.id])
    assert (mug.available, mug.by_location) == (13, (("WEB_WH", 3), ("BACK", 10)))
    assert ebook.unlimited and ebook.available is None


def test_a_line_without_a_location_takes_the_first_location_that_covers_it(shop, owner):
    change = stock.reserve_order(
        actor=owner, store_id=shop.store.id, order_ref="W-1", channel_id=shop.online.id,
        lines=[{"line_ref": "a", "product_id": shop.mug.id, "quantity": 2},
               {"line_ref": "b", "product_id": shop.mug.id, "quantity": 2},
               {"line_ref": "c", "product_id": shop.ebook.id, "quantity": 1}])
    a, b, c = change.details["lines"]
    # The first fits at WEB_WH; the second no longer does (1 left there) and goes to BACK.
    assert a["location_id"] == shop.locations["WEB_WH"].id
    assert b["location_id"] == shop.locations["BACK"].id
    assert c["status"] == "unlimited" and change.details["channel"] == "WEB"
    assert (_reserved(shop.entries["WEB_WH"]), _reserved(shop.entries["BACK"])) == (2, 2)
    # The same order again changes nothing: each line already holds its stock.
    again = stock.reserve_order(
        actor=owner, store_id=shop.store.id, order_ref="W-1", channel_id=shop.online.id,
        lines=[{"line_ref": "a", "product_id": shop.mug.id, "quantity": 2}])
    assert again.details["lines"][0]["status"] == "already_reserved"
    assert _reserved(shop.entries["WEB_WH"]) == 2


def test_a_line_no_location_covers_is_split_only_where_the_channel_allows(shop, owner):
    with pytest.raises(OrderShort) as short:
        stock.reserve_order(actor=owner, store_id=shop.store.id, order_ref="W-2",
                            channel_id=shop.online.id,
                            lines=[{"line_ref": "a", "product_id": shop.mug.id, "quantity": 12}])
    assert "a: MUG on WEB, no one location of which holds it all" in str(short.value)
    assert _reserved(shop.entries["BACK"]) == 0

    change = stock.reserve_order(actor=owner, store_id=shop.store.id, order_ref="M-1",
                                 channel_id=shop.split.id,
                                 lines=[{"line_ref": "a", "product_id": shop.mug.id,
                                         "quantity": 6}])
    line = change.details["lines"][0]
    assert [(x["location_id"], x["quantity"]) for x in line["allocations"]] == [
        (shop.locations["WEB_WH"].id, 3), (shop.locations["COUNTER"].id, 3)]
    assert len(line["reservation_ids"]) == 2
    with pytest.raises(OrderShort, match=r"available 1, requested 2"):
        stock.reserve_order(actor=owner, store_id=shop.store.id, order_ref="M-2",
                            channel_id=shop.split.id,
                            lines=[{"line_ref": "a", "product_id": shop.mug.id, "quantity": 2}])


def test_without_a_channel_a_line_still_needs_its_location(shop, owner):
    with pytest.raises(ValidationError) as exc:
        stock.reserve_order(actor=owner, store_id=shop.store.id, order_ref="X",
                            lines=[{"product_id": shop.mug.id, "quantity": 1}])
    assert "or reserve the order on a sales channel" in exc.value.fields["lines[0].location_id"]
    with pytest.raises(NotFound):
        stock.reserve_order(actor=owner, store_id=shop.store.id, order_ref="X",
                            channel_id=999_999, lines=[{"product_id": shop.mug.id,
                                                        "quantity": 1}])


def test_two_orders_choosing_at_once_never_hold_more_than_there_is(shop, owner, app):
    """Each order locks every entry its lines could take from before reading their stock."""
    results: list[object] = []

    def order(ref: str) -> None:
        with app.app_context():
            try:
                results.append(stock.reserve_order(
                    actor=owner, store_id=shop.store.id, order_ref=ref,
                    channel_id=shop.online.id,
                    lines=[{"product_id": shop.mug.id, "quantity": 7}]))
            except OrderShort as exc:
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=order, args=(f"R-{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, OrderShort) for r in results) == 1
    assert _reserved(shop.entries["BACK"]) == 7 and _reserved(shop.entries["WEB_WH"]) == 0


def test_a_hold_moves_to_another_location_with_its_ledger(shop, owner):
    held = stock.reserve_stock(actor=owner, entry_id=shop.entries["BACK"], quantity=4,
                               order_ref="O-9", line_ref="L1")
    rid = held.reservation_ids[0]
    moved = stock.move_reservation(actor=owner, reservation_id=rid,
                                   location_id=shop.locations["COUNTER"].id)
    assert (_reserved(shop.entries["BACK"]), _reserved(shop.entries["COUNTER"])) == (0, 4)
    hold = db.session.get(Reservation, rid)
    assert (hold.entry_id, hold.status, hold.order_ref) == (shop.entries["COUNTER"], "active",
                                                            "O-9")
    rows = db.session.scalars(select(StockMovement).where(
        StockMovement.id.in_(moved.movement_ids)).order_by(StockMovement.id)).all()
    assert [(r.type, r.reserved_delta, r.reason) for r in rows] == [
        ("released", -4, "Moved to COUNTER"), ("reserved", 4, "Moved from BACK")]
    # The target must cover it; nothing changes when it cannot.
    with pytest.raises(InsufficientStock):
        stock.move_reservation(actor=owner, reservation_id=rid,
                               location_id=shop.locations["WEB_WH"].id)
    assert (_reserved(shop.entries["COUNTER"]), _reserved(shop.entries["WEB_WH"])) == (4, 0)
    with pytest.raises(ValidationError):
        stock.move_reservation(actor=owner, reservation_id=rid,
                               location_id=shop.locations["COUNTER"].id)
    # Once part of it has shipped, it stays where it shipped from.
    stock.fulfill_stock(actor=owner, reservation_id=rid, quantity=1)
    with pytest.raises(Conflict, match="has shipped"):
        stock.move_reservation(actor=owner, reservation_id=rid,
                               location_id=shop.locations["BACK"].id)


def _on_hand(entry_id: int) -> int:
    db.session.rollback()
    return db.session.get(InventoryEntry, entry_id).quantity


def test_a_split_lines_return_goes_back_where_each_unit_shipped_from(shop, owner):
    """The market channel splits 6 mugs: 3 from WEB_WH and 3 from COUNTER. What comes back
    goes back to the holds that shipped it, the oldest first; never all to one place."""
    order = {"actor": owner, "store_id": shop.store.id, "order_ref": "M-5"}
    stock.reserve_order(**order, channel_id=shop.split.id,
                        lines=[{"line_ref": "a", "product_id": shop.mug.id, "quantity": 6}])
    stock.fulfill_order(**order)
    web, counter = shop.entries["WEB_WH"], shop.entries["COUNTER"]
    assert (_on_hand(web), _on_hand(counter)) == (0, 1)

    back = stock.return_order(**order, lines=[{"line_ref": "a", "quantity": 4}],
                              reason="Parcel refused")
    assert (_on_hand(web), _on_hand(counter)) == (3, 2)
    rows = db.session.scalars(select(StockMovement).where(
        StockMovement.id.in_(back.movement_ids)).order_by(StockMovement.id)).all()
    holds = {h.entry_id: h.id for h in db.session.scalars(
        select(Reservation).where(Reservation.order_ref == "M-5"))}
    assert [(r.entry_id, r.quantity_delta, r.reservation_id) for r in rows] == [
        (web, 3, holds[web]), (counter, 1, holds[counter])]
    stock.return_order(**order, lines=[{"line_ref": "a", "quantity": 2}], reason="Second box")
    assert (_on_hand(web), _on_hand(counter)) == (3, 4)
    with pytest.raises(ExceedsFulfilled, match="only 0 shipped"):
        stock.return_order(**order, lines=[{"line_ref": "a", "quantity": 1}], reason="More")


def test_a_line_reserved_again_elsewhere_comes_back_where_it_shipped_from(shop, owner):
    """Payment fails and the line is released; by the retry WEB_WH has sold out, so the
    channel takes it from BACK. It ships from BACK, and its return goes back to BACK."""
    order = {"actor": owner, "store_id": shop.store.id, "order_ref": "W-7"}
    line = {"line_ref": "a", "product_id": shop.mug.id, "quantity": 3}
    first = stock.reserve_order(**order, channel_id=shop.online.id, lines=[line])
    assert first.details["lines"][0]["location_id"] == shop.locations["WEB_WH"].id
    stock.release_order(**order)
    stock.reserve_stock(actor=owner, entry_id=shop.entries["WEB_WH"], quantity=3,
                        order_ref="W-8")
    again = stock.reserve_order(**order, channel_id=shop.online.id, lines=[line])
    assert again.details["lines"][0]["location_id"] == shop.locations["BACK"].id
    stock.fulfill_order(**order)
    assert _on_hand(shop.entries["BACK"]) == 7

    stock.return_order(**order, lines=[{"line_ref": "a", "quantity": 3}], reason="Too big")
    assert (_on_hand(shop.entries["WEB_WH"]), _on_hand(shop.entries["BACK"])) == (3, 10)


def test_channels_need_the_catalog_permission_and_their_own_store(shop, owner, member,
                                                                  make_store):
    staff = member(shop.store, "staff")
    with pytest.raises(PermissionDenied):
        channels.create_channel(actor=staff, store_id=shop.store.id, code="x",
                                location_ids=[shop.locations["BACK"].id])
    with pytest.raises(Conflict, match="WEB"):
        channels.create_channel(actor=owner, store_id=shop.store.id, code="Web",
                                location_ids=[shop.locations["BACK"].id])
    other = make_store()
    with pytest.raises(ValidationError) as exc:
        channels.create_channel(actor=member(other, "owner"), store_id=other.id, code="x",
                                location_ids=[shop.locations["BACK"].id])
    assert "not an active location of this store" in exc.value.fields["locations"]
    with pytest.raises(ValidationError) as exc:
        channels.create_channel(actor=owner, store_id=shop.store.id, code="y", location_ids=[])
    assert exc.value.fields["locations"].startswith("Choose at least one location")
    assert channels.get_channel(staff, shop.online.id).code == "WEB"
    with pytest.raises(NotFound):
        channels.get_channel(member(other, "owner"), shop.online.id)
