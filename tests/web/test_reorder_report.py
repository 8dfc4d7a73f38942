"""The reorder report as a screen: lines per location grouped by supplier, the supplier
filter it shares with the other reports, choosing lines and drafting purchase orders from
them (with htmx and without), and every way a post is refused with nothing made."""

from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Membership, PurchaseOrder
from app.permissions import system_actor
from app.services import catalog, purchasing, stock

from .helpers import HX, action_links

REPORT = "/reports/reorder"
ORDER = "/reports/reorder/purchase-orders"


def row_ids(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="entry-(\d+)"', body)]


def line_boxes(body: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="line" value="([^"]+)" form="reorder-order"',
                      body)


def orders() -> list[tuple[str, str]]:
    db.session.rollback()  # a snapshot older than the request's commit would miss it
    found = db.session.execute(
        select(PurchaseOrder.number, PurchaseOrder.status).order_by(PurchaseOrder.id)).all()
    db.session.rollback()
    return [tuple(r) for r in found]


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry, login_as) -> SimpleNamespace:
    """Harbor: Kettle due at FRONT and BACK, Mug at FRONT (Acme sells both), Tape at FRONT
    (no supplier); a second store of the same owner with a due line and a supplier."""
    admin = system_actor("tests")
    store = make_store("Harbor")
    front, back = make_location(store, "FRONT"), make_location(store, "BACK")
    kettle = make_product(store, sku="KET-1", title="Kettle", reorder_point=10,
                          reorder_quantity=24)
    mug = make_product(store, sku="MUG-1", title="Mug", reorder_point=5, reorder_quantity=0)
    tape = make_product(store, sku="TAP-1", title="Tape", reorder_point=4, reorder_quantity=2)
    entry = {
        "kettle_front": make_entry(quantity=2, store=store, location=front, product=kettle),
        "kettle_back": make_entry(quantity=3, store=store, location=back, product=kettle),
        "mug_front": make_entry(quantity=1, store=store, location=front, product=mug),
        "tape_front": make_entry(quantity=0, store=store, location=front, product=tape),
    }
    acme = purchasing.create_supplier(actor=admin, store_id=store.id, name="Acme Supply",
                                      lead_time_days=7)
    purchasing.set_supplier_item(actor=admin, supplier_id=acme.id, product_id=kettle.id,
                                 unit_cost="3.50", pack_size=12, preferred=True)
    purchasing.set_supplier_item(actor=admin, supplier_id=acme.id, product_id=mug.id,
                                 unit_cost="2", pack_size=6, min_order_qty=12)
    other = make_store("Dockside")
    dock = make_location(other, "DOCK")
    far = make_product(other, sku="FAR-1", title="Far", reorder_point=3, reorder_quantity=5)
    make_entry(quantity=0, store=other, location=dock, product=far)
    dock_supplier = purchasing.create_supplier(actor=admin, store_id=other.id, name="Dock Co")
    purchasing.set_supplier_item(actor=admin, supplier_id=dock_supplier.id, product_id=far.id,
                                 unit_cost="1")
    owner = login_as("owner", store)
    db.session.add(Membership(user_id=owner.user.id, store_id=other.id, role="owner"))
    db.session.commit()
    staff = login_as("staff", store, grants=("inventory:adjust",))
    return SimpleNamespace(store=store, front=front, back=back, kettle=kettle, mug=mug,
                           tape=tape, entry=entry, acme=acme, other=other, dock=dock, far=far,
                           dock_supplier=dock_supplier, owner=owner, staff=staff)


# A draft's number: a link to its page where the app has one, else the number in bold.
NUMBER = r'(?:<strong>|<a href="[^"]+">)(PO-\d+)(?:</strong>|</a>)'


def key(shop, product, location, quantity) -> str:
    return f"{product.id}-{location.id}-{quantity}"


def page(client, **query) -> str:
    response = client.get(REPORT, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------- the page


def test_lines_come_grouped_by_supplier_and_only_a_buyer_may_choose_them(shop) -> None:
    body = page(shop.owner, store=shop.store.id)
    e = shop.entry
    # Acme's lines by title (Kettle at FRONT before BACK by entry id), then no supplier.
    assert row_ids(body) == [e["kettle_front"].id, e["kettle_back"].id, e["mug_front"].id,
                             e["tape_front"].id]
    assert body.index("Acme Supply") < body.index(f'id="entry-{e["kettle_front"].id}"')
    assert body.index('<span class="group-name">No supplier</span>') < body.index(
        f'id="entry-{e["tape_front"].id}"')
    assert "Delivers in 7 days · prices in USD" in body
    assert '<p class="count" id="report-count">4 lines to reorder</p>' in body
    # Kettle: 2 of a point of 10, 24 in packs of 12; Mug: 1 of 5, at least 12 in sixes.
    kettle_row = re.search(rf'<tr id="entry-{e["kettle_front"].id}".*?</tr>', body, re.S)[0]
    assert '<td class="num suggested">24<span class="sub">packs of 12</span>' in kettle_row
    assert '<td class="num cost">3.50</td>' in kettle_row
    mug_row = re.search(rf'<tr id="entry-{e["mug_front"].id}".*?</tr>', body, re.S)[0]
    assert "<span class=\"sub\">packs of 6, min 12</span>" in mug_row
    # A box for each line with a supplier; Tape has none to order from.
    assert line_boxes(body) == [key(shop, shop.kettle, shop.front, 24),
                                key(shop, shop.kettle, shop.back, 24),
                                key(shop, shop.mug, shop.front, 12)]
    assert '<form id="reorder-order"' in body and "Create draft purchase orders" in body
    # Across both of the owner's stores, lines are chosen once a store is.
    both = page(shop.owner)
    assert line_boxes(both) == [] and "choose their store at the top" in both
    # Staff read the same lines with their row actions, and choose nothing.
    seen = page(shop.staff)
    assert row_ids(seen) == row_ids(body)
    assert line_boxes(seen) == [] and 'id="reorder-order"' not in seen
    assert "choose their store" not in seen
    # What things cost is for buyers: no cost column for staff.
    assert ">Unit cost</th>" in body and "Unit cost" not in seen and "3.50" not in seen
    assert "adjust" in action_links(seen, e["kettle_front"].id)


def test_a_line_ordered_up_to_a_level_says_so_under_its_order(shop) -> None:
    """Tape (0 of a point of 4) with a level of 9 is ordered up to it, not its 2; a line at
    its point reads "At point" rather than short by 0."""
    catalog.update_product(actor=system_actor("tests"), product_id=shop.tape.id, sku="TAP-1",
                           title="Tape", reorder_point=4, reorder_quantity=2, reorder_up_to=9)
    stock.adjust_stock(actor=system_actor("tests"), entry_id=shop.entry["kettle_back"].id,
                       delta=7, reason="Counted")
    body = page(shop.owner, store=shop.store.id)
    tape = re.search(rf'<tr id="entry-{shop.entry["tape_front"].id}".*?</tr>', body, re.S)[0]
    assert '<td class="num shortfall">4</td>' in tape
    assert '<td class="num suggested">9<span class="sub">up to 9</span>' in tape
    kettle = re.search(rf'<tr id="entry-{shop.entry["kettle_back"].id}".*?</tr>', body, re.S)[0]
    assert '<td class="num shortfall">At point</td>' in kettle
    assert '<td class="num suggested">24<span class="sub">packs of 12</span>' in kettle
    # The file keeps the numbers: the level in its own column, 0 short at the point.
    rows = list(csv.reader(io.StringIO(shop.owner.get(
        "/reports/reorder.csv", query_string={"store": shop.store.id}).get_data(as_text=True)
        .lstrip("\ufeff"))))
    head = rows[0]
    at = head.index
    cells = {(r[at("sku")], r[at("location")]): r for r in rows[1:]}
    assert [cells[("TAP-1", "FRONT")][at(c)] for c in (
        "reorder_point", "order_up_to", "shortfall", "suggested")] == ["4", "9", "4", "9"]
    assert [cells[("KET-1", "BACK")][at(c)] for c in ("order_up_to", "shortfall")] == ["", "0"]


def test_the_supplier_filter_is_shared_by_every_report(shop) -> None:
    acme = page(shop.owner, store=shop.store.id, supplier=shop.acme.id)
    assert len(row_ids(acme)) == 3 and "Supplier: Acme Supply" in acme
    unsupplied = page(shop.owner, store=shop.store.id, supplier="none")
    assert row_ids(unsupplied) == [shop.entry["tape_front"].id]
    assert "Supplier: none" in unsupplied
    out = shop.owner.get("/reports/out-of-stock", query_string={
        "store": shop.store.id, "supplier": shop.acme.id}).get_data(as_text=True)
    assert "Nothing from this supplier." in out
    low = shop.owner.get("/reports/low-stock.csv", query_string={"supplier": "none"})
    assert low.status_code == 200
    # The other store's supplier, with this store named; a supplier of nobody's; nonsense.
    for query, status in (({"store": shop.store.id, "supplier": shop.dock_supplier.id}, 404),
                          ({"supplier": 999_999}, 404), ({"supplier": "acme"}, 422)):
        for path in (REPORT, "/reports/low-stock", REPORT + ".csv"):
            assert shop.owner.get(path, query_string=query).status_code == status, (path, query)
    body = shop.owner.get(REPORT, query_string={"supplier": "acme"}).get_data(as_text=True)
    assert "<li><b>supplier</b>: Choose a supplier from the list.</li>" in body


# --------------------------------------------------------------------------- drafting


def test_chosen_lines_become_drafts_named_in_the_results(shop) -> None:
    response = shop.owner.post(ORDER, headers=HX, data={
        "store": shop.store.id, "idempotency_key": "pick-1",
        "line": [key(shop, shop.kettle, shop.back, 24), key(shop, shop.kettle, shop.front, 24)],
    })
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="results"')
    assert response.headers["HX-Push-Url"] == f"{REPORT}?store={shop.store.id}"
    assert orders() == [("PO-0001", "draft"), ("PO-0002", "draft")]
    assert "2 draft purchase orders created." in body
    # By supplier, then location code: BACK before FRONT.
    assert re.findall(NUMBER + r" — Acme Supply to (\w+): 1 line, 84.00 USD",
                      body) == [("PO-0001", "BACK"), ("PO-0002", "FRONT")]
    # The drafted lines count as coming: no longer suggested.
    assert row_ids(body) == [shop.entry["mug_front"].id, shop.entry["tape_front"].id]


def test_without_javascript_the_post_redirects_to_the_report_naming_the_drafts(shop) -> None:
    response = shop.owner.post(ORDER, data={
        "store": shop.store.id, "supplier": shop.acme.id, "idempotency_key": "pick-2",
        "line": [key(shop, shop.mug, shop.front, 12)]})
    assert response.status_code == 303
    [(number, _status)] = orders()
    order_id = db.session.scalar(select(PurchaseOrder.id))
    assert response.headers["Location"] == (
        f"{REPORT}?store={shop.store.id}&supplier={shop.acme.id}&created={order_id}")
    body = page(shop.owner, store=shop.store.id, supplier=shop.acme.id, created=order_id)
    assert re.findall(NUMBER + " — Acme Supply to FRONT: 1 line, 24.00 USD", body) == [number]
    # Sent again (a reload of the post), the same key makes nothing more.
    again = shop.owner.post(ORDER, data={
        "store": shop.store.id, "supplier": shop.acme.id, "idempotency_key": "pick-2",
        "line": [key(shop, shop.mug, shop.front, 12)]})
    assert again.status_code == 303 and len(orders()) == 1
    # Another reader's drafts, or nonsense, in ?created= are left out.
    assert "created." not in page(shop.owner, created="999,abc")


@pytest.mark.parametrize(("lines", "status", "words"), [
    (["abc"], 422, "not one the report offered"),
    ([], 422, "Choose at least one line to order."),
    (["{kettle}-{front}-24", "{kettle}-{front}-24"], 422, "Line 1 already orders"),
    (["{far}-{dock}-5"], 404, "names no stock of this store"),
    (["{tape}-{front}-5"], 409, "No supplier sells TAP-1 at FRONT"),
    (["{kettle}-{front}-36"], 409, "KET-1 at FRONT is now suggested at 24, not 36"),
])
def test_a_refused_post_says_why_keeps_the_choice_and_makes_nothing(shop, lines, status,
                                                                    words) -> None:
    ids = {"kettle": shop.kettle.id, "front": shop.front.id, "far": shop.far.id,
           "dock": shop.dock.id, "tape": shop.tape.id}
    sent = [line.format(**ids) for line in lines]
    for headers in (HX, {}):
        response = shop.owner.post(ORDER, headers=headers, data={
            "store": shop.store.id, "line": sent})
        body = response.get_data(as_text=True)
        assert response.status_code == status, body[:500]
        assert words in body
        assert '<div class="error-summary" role="alert">' in body
        if status == 422:
            assert 'id="lines' in body  # the message names the field
    assert orders() == []
    # A line still due stays chosen, so the user can take it out and send again.
    kept = shop.owner.post(ORDER, headers=HX, data={
        "store": shop.store.id,
        "line": [key(shop, shop.kettle, shop.front, 24), f"{shop.tape.id}-{shop.front.id}-5"],
    }).get_data(as_text=True)
    assert f'value="{key(shop, shop.kettle, shop.front, 24)}" form="reorder-order" data-line ' \
           'checked' in kept


def test_a_line_that_changed_since_the_page_is_refused(shop) -> None:
    shown = key(shop, shop.kettle, shop.front, 24)
    stock.adjust_stock(actor=system_actor("tests"), entry_id=shop.entry["kettle_front"].id,
                       delta=20, reason="Delivery")
    response = shop.owner.post(ORDER, headers=HX, data={"store": shop.store.id, "line": [shown]})
    assert response.status_code == 409
    assert ("KET-1 at FRONT no longer needs reordering (22 available and coming, reorder "
            "point 10)") in response.get_data(as_text=True)
    assert orders() == []


def test_only_a_buyer_may_draft_and_only_in_a_store_of_theirs(shop, login_as) -> None:
    data = {"store": shop.store.id, "line": [key(shop, shop.kettle, shop.front, 24)]}
    assert shop.staff.post(ORDER, data=data).status_code == 403
    assert shop.staff.post(ORDER, data=data, headers=HX).status_code == 403
    stranger = login_as("owner", shop.other)
    assert stranger.post(ORDER, data=data).status_code == 404
    # Across two stores the store must be named: the lines are ordered for one.
    unnamed = shop.owner.post(ORDER, headers=HX, data={"line": data["line"]})
    assert unnamed.status_code == 422
    assert 'id="store-error"' in unnamed.get_data(as_text=True)
    assert orders() == []


# --------------------------------------------------------------------------- row actions


def test_an_action_on_a_line_swaps_it_in_place(shop) -> None:
    entry = shop.entry["kettle_back"]
    report_url = f"{REPORT}?store={shop.store.id}"
    response = shop.owner.post(f"/inventory/entries/{entry.id}/adjust", headers=HX, data={
        "delta": "+1", "reason": "Found one", "idempotency_key": "k-line-1",
        "next": report_url})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{entry.id}".*?</tr>', body, re.S)[0]
    # 4 of 10 now: still due, at the same 24.
    assert 'class="row-changed"' in row and '<td class="num shortfall">6</td>' in row
    assert f'value="{key(shop, shop.kettle, shop.back, 24)}"' in row
    lifted = shop.owner.post(f"/inventory/entries/{entry.id}/adjust", headers=HX, data={
        "delta": "+30", "reason": "Delivery", "idempotency_key": "k-line-2",
        "next": report_url}).get_data(as_text=True)
    row = re.search(rf'<tr id="entry-{entry.id}".*?</tr>', lifted, re.S)[0]
    assert "Adjusted +30: on hand 4 → 34. No longer needs reordering." in row
    assert 'name="line"' not in row and '<td class="num suggested">—</td>' in row
    assert '<p class="count" id="report-count" hx-swap-oob="true">3 lines to reorder</p>' \
        in lifted


def test_drafts_made_here_count_and_are_not_suggested_twice(shop) -> None:
    shop.owner.post(ORDER, headers=HX, data={
        "store": shop.store.id, "line": [key(shop, shop.mug, shop.front, 12)]})
    assert len(orders()) == 1
    body = page(shop.owner, store=shop.store.id)
    assert shop.entry["mug_front"].id not in row_ids(body)
