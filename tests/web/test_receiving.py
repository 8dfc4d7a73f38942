"""The receiving screens without a browser: the way in, one order received by scans and
typed counts as plain form posts (JavaScript off), the look-ups receive.js asks for, bad
counts refused beside their line with nothing changed, over-receipts only once confirmed,
stale figures shown again with the counts kept, closed orders, and who may receive."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, PurchaseOrder, PurchaseOrderLine, StockMovement
from app.permissions import ADJUST, RECEIVE, system_actor
from app.services import purchasing

from .helpers import HX, hidden_value

BUYER = system_actor("buyer")


@pytest.fixture
def dock(make_store, make_location, make_product, login_as) -> SimpleNamespace:
    """Harbour: at MAIN, PO-0001 (due 3 May 2031) orders 10 kettles, 4 mugs (and 2 mugs to
    BACK); PO-0002 (due 1 May 2031) 5 kettles; PO-0003 is cancelled, PO-0004 a draft. A
    lamp is on no order. The supplier calls the kettle AC-KET. Signed in: an owner, staff
    granted receiving, staff who may only adjust, a read-only viewer, and the owner of
    another store."""
    store = make_store("Harbour")
    main, back = make_location(store, "MAIN"), make_location(store, "BACK")
    kettle = make_product(store, "KET-1", title="Kettle", gtin="4006381333931")
    mug = make_product(store, "MUG-1", title="Mug")
    lamp = make_product(store, "LAMP-1", title="Lamp")
    acme = purchasing.create_supplier(actor=BUYER, store_id=store.id, name="Acme")
    purchasing.set_supplier_item(actor=BUYER, supplier_id=acme.id, product_id=kettle.id,
                                 unit_cost="2.00", supplier_sku="AC-KET")

    def order(lines, expected_on=None, place=True):
        draft = purchasing.create_purchase_order(
            actor=BUYER, supplier_id=acme.id, expected_on=expected_on,
            lines=[{"product_id": p.id, "location_id": at.id, "quantity": n,
                    "unit_cost": "2.00"} for p, at, n in lines])
        return purchasing.order_purchase_order(actor=BUYER, order_id=draft.id) if (
            place) else draft

    first = order([(kettle, main, 10), (mug, main, 4), (mug, back, 2)], date(2031, 5, 3))
    second = order([(kettle, main, 5)], date(2031, 5, 1))
    cancelled = order([(lamp, main, 1)])
    purchasing.cancel_purchase_order(actor=BUYER, order_id=cancelled.id)
    draft = order([(mug, main, 1)], place=False)
    other = make_store("Elsewhere")
    clients = dict(
        owner=login_as("owner", store),
        receiver=login_as("staff", store, grants=(RECEIVE,)),
        adjuster=login_as("staff", store, grants=(ADJUST,)),
        viewer=login_as("staff", store),
        stranger=login_as("owner", other),
    )
    kettle_line, mug_back, mug_main = first.lines
    assert (kettle_line.sku, mug_back.location_code, mug_main.location_code) == (
        "KET-1", "BACK", "MAIN")
    return SimpleNamespace(
        store=store, main=main, back=back, kettle=kettle, mug=mug, lamp=lamp, first=first,
        second=second, cancelled=cancelled, draft=draft, kettle_line=kettle_line,
        mug_back=mug_back, mug_main=mug_main, **clients)


def orders_state() -> tuple[Any, ...]:
    """Every purchase order's status and version and every line's received figures."""
    db.session.rollback()  # the committed state, not an older snapshot
    state = (
        tuple(db.session.execute(select(PurchaseOrder.id, PurchaseOrder.status,
                                        PurchaseOrder.version).order_by(PurchaseOrder.id))),
        tuple(db.session.execute(select(PurchaseOrderLine.id, PurchaseOrderLine.received_qty,
                                        PurchaseOrderLine.over_received_qty)
                                 .order_by(PurchaseOrderLine.id))),
    )
    db.session.rollback()
    return state


@pytest.fixture
def unchanged(db_state: Callable[[], Any]) -> Callable[[], Any]:
    """`check = unchanged()` ... `check()`: nothing in stock, the ledger or the orders moved."""

    def take() -> Callable[[], None]:
        before = (db_state(), orders_state())

        def check() -> None:
            assert (db_state(), orders_state()) == before

        return check

    return take


def on_hand(product_id: int, location_id: int) -> tuple[int, int]:
    """(on hand, incoming) as committed."""
    db.session.rollback()
    row = db.session.execute(
        select(InventoryEntry.quantity, InventoryEntry.incoming_quantity).where(
            InventoryEntry.product_id == product_id, InventoryEntry.location_id == location_id)
    ).one()
    db.session.rollback()
    return int(row[0]), int(row[1])


def counts(d: SimpleNamespace, kettle: str = "", mug_back: str = "", mug_main: str = "",
           **extra: Any) -> dict[str, Any]:
    """The order page's form for PO-0001 as a browser posts it."""
    lines = (d.kettle_line, d.mug_back, d.mug_main)
    form: dict[str, Any] = {
        "version": str(d.first.version), "idempotency_key": extra.pop("key", "k-1"),
        "line": [str(x.id) for x in lines], "seen": [str(x.outstanding_qty) for x in lines],
        "qty": [kettle, mug_back, mug_main], "code": "", "reason": ""}
    form.update(extra)
    return form


def order_now(order_id: int) -> Any:
    """The order as committed now."""
    db.session.rollback()
    return purchasing.get_purchase_order(BUYER, order_id)


def typed(body: str) -> dict[int, str]:
    """What each line's "receiving now" field holds in a page."""
    return {int(n): v for n, v in re.findall(r'id="qty-(\d+)"[^>]* name="qty" value="([^"]*)"',
                                              body)}


# --------------------------------------------------------------------------- the way in


def test_the_landing_lists_open_orders_soonest_expected_first(dock):
    response = dock.receiver.get("/receiving")
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    listed = re.findall(r">Receive (PO-\d+)</a>", body)
    assert listed == ["PO-0002", "PO-0001"]  # not the cancelled one, nor the draft
    row = re.search(rf'<tr id="order-{dock.first.id}">.*?</tr>', body, re.S).group(0)
    assert "Acme" in row and "<code>BACK</code>, <code>MAIN</code>" in row
    assert "03 May 2031" in row and ">16 <" in row.replace("</td>", "<")
    assert 'id="receive-number"' in body and "autofocus" in body
    assert f'<option value="{dock.main.id}">MAIN</option>' in body
    nav = dock.receiver.get("/inventory").get_data(as_text=True)
    assert 'href="/receiving' in nav and ">Receive</a>" in nav


def test_only_those_who_may_receive_see_the_link_and_the_screens(dock):
    for name in ("viewer", "adjuster"):
        client = getattr(dock, name)
        assert ">Receive</a>" not in client.get("/inventory").get_data(as_text=True), name
        assert client.get("/receiving").status_code == 403, name
        assert client.get("/receiving/find?number=PO-0001").status_code == 403, name
        assert client.get(f"/receiving/arrivals?location={dock.main.id}").status_code == 403
    assert ">Receive</a>" in dock.owner.get("/inventory").get_data(as_text=True)
    # The owner of another store receives there, and learns nothing of this one.
    theirs = dock.stranger.get("/receiving").get_data(as_text=True)
    assert "Receive PO-0001" not in theirs and "No purchase order is awaiting stock" in theirs
    assert dock.stranger.get("/receiving/find?number=PO-0001").status_code == 422
    assert dock.stranger.get(f"/receiving/arrivals?location={dock.main.id}").status_code == 404


def test_a_number_scanned_or_typed_opens_its_order(dock):
    found = dock.receiver.get("/receiving/find?number=%20po-0001%20")
    assert found.status_code == 303
    assert found.headers["Location"].endswith(f"/receiving/orders/{dock.first.id}")

    missing = dock.receiver.get("/receiving/find?number=PO-0099")
    assert missing.status_code == 422
    assert "No purchase order PO-0099 in the stores where you receive." in missing.get_data(
        as_text=True)
    blank = dock.receiver.get("/receiving/find?number=")
    assert blank.status_code == 422
    assert "Scan or type a purchase order number, like PO-0001." in blank.get_data(as_text=True)
    in_store = dock.receiver.get(f"/receiving/find?number=PO-0099&store={dock.store.id}")
    assert "No purchase order PO-0099 in this store." in in_store.get_data(as_text=True)
    # A closed order opens too: its page says why there is nothing to receive.
    closed = dock.receiver.get("/receiving/find?number=PO-0003")
    page = dock.receiver.get(closed.headers["Location"]).get_data(as_text=True)
    assert "PO-0003 is cancelled: nothing is awaited." in page
    assert 'name="qty-' not in page


def test_a_number_in_two_stores_asks_which(dock, make_store, make_location, make_product,
                                           login_as):
    second = make_store("Quayside")
    place = make_location(second, "DOCK")
    cup = make_product(second, "CUP-1")
    supplier = purchasing.create_supplier(actor=BUYER, store_id=second.id, name="Cupco")
    draft = purchasing.create_purchase_order(
        actor=BUYER, supplier_id=supplier.id,
        lines=[{"product_id": cup.id, "location_id": place.id, "quantity": 3,
                "unit_cost": "1"}])
    purchasing.order_purchase_order(actor=BUYER, order_id=draft.id)
    admin = login_as("platform_admin")

    body = admin.get("/receiving/find?number=PO-0001").get_data(as_text=True)
    assert "PO-0001 is a number in 2 stores. Which one?" in body
    assert f'href="/receiving/orders/{dock.first.id}">PO-0001 in Harbour</a>' in body
    assert f'href="/receiving/orders/{draft.id}">PO-0001 in Quayside</a>' in body
    chosen = admin.get(f"/receiving/find?number=PO-0001&store={second.id}")
    assert chosen.headers["Location"].endswith(f"/receiving/orders/{draft.id}")


# --------------------------------------------------------------------------- one order


def test_the_order_page_shows_each_line_and_the_scan_box(dock):
    response = dock.receiver.get(f"/receiving/orders/{dock.first.id}")
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "Receive <code>PO-0001</code>" in body and "16 units outstanding" in body
    assert re.search(r'<input id="receive-code"[^>]*autofocus', body)
    assert hidden_value(body, "version") == str(dock.first.version)
    row = re.search(rf'<tr id="line-{dock.kettle_line.id}".*?</tr>', body, re.S).group(0)
    assert """data-codes='["KET-1", "4006381333931", "AC-KET"]'""" in row
    assert 'data-outstanding="10"' in row and "KET-1 → <strong>MAIN</strong>" in row
    assert re.search(r'<script src="/static/receive(-[0-9a-f]+)?\.js" defer>', body)
    assert dock.owner.get("/receiving/orders/999999").status_code == 404


@pytest.mark.parametrize("code", ["KET-1", "ket-1", "4006381333931", "ac-ket", " KET-1 "])
def test_without_javascript_a_scan_adds_one_to_its_line(dock, code):
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}/scan",
                                  data=counts(dock, kettle="2", mug_main="1", code=code))
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert typed(body) == {dock.kettle_line.id: "3", dock.mug_back.id: "",
                           dock.mug_main.id: "1"}
    assert "Kettle (KET-1) at MAIN: 3 receiving now." in body
    assert 'id="receive-code" name="code" value=""' in body


def test_a_product_ordered_to_two_places_fills_the_first_still_short(dock):
    form = counts(dock, mug_back="2", code="MUG-1")
    body = dock.receiver.post(f"/receiving/orders/{dock.first.id}/scan",
                              data=form).get_data(as_text=True)
    assert typed(body)[dock.mug_main.id] == "1"  # BACK already has its 2
    body = dock.receiver.post(f"/receiving/orders/{dock.first.id}/scan", data=counts(
        dock, mug_back="2", mug_main="4", code="MUG-1")).get_data(as_text=True)
    assert typed(body)[dock.mug_main.id] == "5"  # both full: the last one, over
    assert "1 over" in body


@pytest.mark.parametrize(("code", "message"), [
    ("LAMP-1", "LAMP-1 is not on PO-0001."),
    ("NOPE-9", "Nothing in this store has the SKU or GTIN “NOPE-9”."),
    ("", None),
    ("x" * 101, "A SKU or GTIN has at most 100 plain characters."),
])
def test_a_code_on_no_line_is_said_at_the_scan_box_keeping_the_counts(dock, code, message,
                                                                     unchanged):
    check = unchanged()
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}/scan",
                                  data=counts(dock, kettle="7", mug_main="abc", code=code))
    body = response.get_data(as_text=True)

    assert response.status_code == 422
    if message:
        assert f'<p class="field-error" id="receive-code-error" data-scan-error>{message}</p>' \
            in body
    assert typed(body)[dock.kettle_line.id] == "7"
    assert typed(body)[dock.mug_main.id] == "abc"  # kept as typed, named beside its line
    assert f'id="qty-{dock.mug_main.id}-error">Enter a whole number' in body
    check()


def test_the_look_up_receive_js_asks_for(dock):
    url = f"/receiving/orders/{dock.first.id}/code?code="
    found = dock.receiver.get(url + "AC-KET", headers=HX)
    assert (found.status_code, found.get_data(as_text=True)) == (200, str(dock.kettle_line.id))
    assert found.mimetype == "text/plain"
    missing = dock.receiver.get(url + "LAMP-1", headers=HX)
    assert (missing.status_code, missing.get_data(as_text=True)) == (
        422, "LAMP-1 is not on PO-0001.")
    assert dock.viewer.get(url + "KET-1").status_code == 403
    assert dock.stranger.get(url + "KET-1").status_code == 404


def test_a_scan_opens_the_count_for_those_who_chose_adjust(dock):
    dock.receiver.post("/account/scan", data={"scan_opens": "adjust"})
    body = dock.receiver.post(f"/receiving/orders/{dock.first.id}/scan",
                              data=counts(dock, kettle="2", code="KET-1")).get_data(as_text=True)

    assert typed(body)[dock.kettle_line.id] == "2"  # not counted: the cursor goes there
    assert re.search(rf'<input id="qty-{dock.kettle_line.id}"[^>]*autofocus', body)
    assert not re.search(r'<input id="receive-code"[^>]*autofocus', body)
    assert "Kettle (KET-1) at MAIN: type how many arrived." in body
    assert 'data-scan-opens="adjust"' in body


def test_receive_takes_every_counted_line_as_one_receipt(dock):
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                  data=counts(dock, kettle="6", mug_main="4", reason="DN 7781"))

    assert response.status_code == 303
    assert on_hand(dock.kettle.id, dock.main.id) == (6, 4 + 5)
    assert on_hand(dock.mug.id, dock.main.id) == (4, 0)
    rows = db.session.execute(select(StockMovement.batch_ref, StockMovement.reference,
                                     StockMovement.reason)
                              .where(StockMovement.type == "received")).all()
    db.session.rollback()
    assert len(rows) == 2 and len({r.batch_ref for r in rows}) == 1
    assert {(r.reference, r.reason) for r in rows} == {("PO-0001", "DN 7781")}

    summary = dock.receiver.get(response.headers["Location"])
    body = summary.get_data(as_text=True)
    assert summary.status_code == 200
    assert "Received 10 units" in body
    assert "Partly received" in body
    kettle = re.search(r"<tr>\s*<td class=\"product\"><span class=\"title\">Kettle.*?</tr>",
                       body, re.S).group(0)
    assert re.findall(r'data-label="[^"]+">([^<]+)<', kettle) == ["+6", "6", "4"]
    assert "Receive more of PO-0001" in body and "DN 7781" in body

    # The rest arrives: the order is received, and says so.
    fresh = order_now(dock.first.id)
    form = counts(dock, kettle="4", mug_back="2", key="k-2")
    form["version"] = str(fresh.version)
    done = dock.receiver.get(dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                                data=form).headers["Location"])
    assert ">Received</span>" in done.get_data(as_text=True)
    assert "Receive more of" not in done.get_data(as_text=True)


def test_a_repeated_post_receives_once(dock, unchanged):
    form = counts(dock, kettle="3")
    first = dock.receiver.post(f"/receiving/orders/{dock.first.id}", data=form)
    again = dock.receiver.post(f"/receiving/orders/{dock.first.id}", data=form)

    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert on_hand(dock.kettle.id, dock.main.id) == (3, 12)

    # The same page sent again with other counts (back through the browser's history).
    check = unchanged()
    changed = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                 data=counts(dock, kettle="4"))
    body = changed.get_data(as_text=True)
    assert changed.status_code == 409
    assert "This page was used for a receipt already. Nothing more was received" in body
    assert typed(body)[dock.kettle_line.id] == "4"
    assert hidden_value(body, "idempotency_key") != "k-1"
    check()


@pytest.mark.parametrize(("value", "message"), [
    ("-3", "Must not be negative."),
    ("1000000001", "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("99999999999999999999", "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("three", "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("1.5", "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("５", "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("<b>2</b>", "Enter a whole number from 0 to 1,000,000,000, like 12."),
])
def test_a_bad_count_is_named_beside_its_line_and_nothing_is_received(dock, unchanged, value,
                                                                     message):
    check = unchanged()
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                  data=counts(dock, kettle="2", mug_main=value))
    body = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "Nothing was received: fix what is marked below." in body
    assert f'<p class="field-error" id="qty-{dock.mug_main.id}-error">{message}</p>' in body
    assert typed(body)[dock.kettle_line.id] == "2"
    assert "<b>2</b>" not in body
    check()


@pytest.mark.parametrize(("change", "message"), [
    ({"line": ["1", "2"]}, "The page arrived incomplete."),
    ({"seen": []}, "The page arrived incomplete."),
    ({"line": ["999999", "2", "3"]}, "The page arrived garbled."),
    ({"seen": ["x", "0", "0"]}, "The page arrived garbled."),
])
def test_a_torn_page_receives_nothing(dock, unchanged, change, message):
    check = unchanged()
    form = {**counts(dock, kettle="1"), **change}
    for url in (f"/receiving/orders/{dock.first.id}",
                f"/receiving/orders/{dock.first.id}/scan"):
        response = dock.receiver.post(url, data={**form, "code": "KET-1"})
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    check()


def test_nothing_counted_and_a_page_without_its_version_are_refused(dock, unchanged):
    check = unchanged()
    nothing = dock.receiver.post(f"/receiving/orders/{dock.first.id}", data=counts(dock))
    assert nothing.status_code == 422
    assert "Nothing was received: count at least one unit first." in nothing.get_data(
        as_text=True)
    for version in ("", "x", "0", "-1"):
        torn = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                  data=counts(dock, kettle="1", version=version))
        assert torn.status_code == 422
        assert "The page arrived incomplete" in torn.get_data(as_text=True)
    long_note = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                   data=counts(dock, kettle="1", reason="x" * 201))
    assert long_note.status_code == 422
    assert 'id="receive-reason-error">Must be at most 200 characters.' in long_note.get_data(
        as_text=True)
    check()


@pytest.mark.parametrize("value", ["\x00", "2\x1b", "\x85"])
def test_hostile_bytes_in_a_count_are_refused_naming_it(dock, unchanged, value):
    check = unchanged()
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                  data=counts(dock, kettle=value))
    assert response.status_code == 422
    assert "“qty”" in response.get_data(as_text=True)
    check()


def test_more_than_awaited_needs_a_confirmation(dock, unchanged):
    check = unchanged()
    refused = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                 data=counts(dock, kettle="12", mug_main="5"))
    body = refused.get_data(as_text=True)

    assert refused.status_code == 409
    assert "More than PO-0001 ordered" in body
    dialog = re.search(r'<dialog id="over-dialog".*?</dialog>', body, re.S).group(0)
    assert " open data-open" in dialog
    items = [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li>(.*?)</li>", dialog)]
    assert items == ["Kettle (KET-1) at MAIN: 12 arriving, 10 awaited — 2 over",
                     "Mug (MUG-1) at MAIN: 5 arriving, 4 awaited — 1 over"]
    assert typed(body)[dock.kettle_line.id] == "12"
    # The confirming button comes after Add, so Enter in a field never confirms.
    assert body.index("data-add") < body.index('name="confirm_over"')
    check()

    confirmed = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                   data=counts(dock, kettle="12", mug_main="5",
                                               confirm_over="1", key="k-2"))
    assert confirmed.status_code == 303
    assert on_hand(dock.kettle.id, dock.main.id) == (12, 5)
    after = order_now(dock.first.id)
    assert [(x.received_qty, x.over_received_qty) for x in after.lines] == [
        (12, 2), (0, 0), (5, 1)]


def test_a_stale_order_comes_back_fresh_with_the_counts_kept(dock, unchanged):
    page = dock.receiver.get(f"/receiving/orders/{dock.first.id}").get_data(as_text=True)
    seen_version = hidden_value(page, "version")
    # Someone else receives 7 kettles meanwhile.
    purchasing.receive_purchase_order(actor=BUYER, order_id=dock.first.id,
                                      lines=[{"line_id": dock.kettle_line.id, "quantity": 7}])
    check = unchanged()

    # Counted 5 against the 10 shown, and confirmed nothing: refused, not received.
    response = dock.receiver.post(f"/receiving/orders/{dock.first.id}",
                                  data=counts(dock, kettle="5", mug_main="1",
                                              version=seen_version, confirm_over="1"))
    body = response.get_data(as_text=True)

    assert response.status_code == 409
    assert "PO-0001 changed since you loaded it" in body and "Nothing was received" in body
    assert "Kettle (KET-1) at MAIN 10 → 3" in body
    assert typed(body)[dock.kettle_line.id] == "5" and typed(body)[dock.mug_main.id] == "1"
    assert hidden_value(body, "version") == str(int(seen_version) + 1)
    assert f'name="line" value="{dock.kettle_line.id}"><input type="hidden" name="seen" ' \
        'value="3">' in body
    check()


@pytest.mark.parametrize("which", ["cancelled", "draft", "received"])
def test_a_closed_order_receives_nothing(dock, unchanged, which):
    if which == "received":
        purchasing.receive_purchase_order(actor=BUYER, order_id=dock.second.id,
                                          lines=[{"line_id": dock.second.lines[0].id,
                                                  "quantity": 5}])
    order = {"cancelled": dock.cancelled, "draft": dock.draft, "received": dock.second}[which]
    fresh = order_now(order.id)
    check = unchanged()
    page = dock.receiver.get(f"/receiving/orders/{order.id}").get_data(as_text=True)
    assert {"cancelled": "is cancelled: nothing is awaited.",
            "draft": "is a draft: it can be received once it has been ordered.",
            "received": "is received in full: nothing more is awaited."}[which] in page
    assert 'name="qty-' not in page

    line = fresh.lines[0]
    response = dock.receiver.post(f"/receiving/orders/{order.id}", data={
        "version": str(fresh.version), "line": str(line.id), "seen": "1", "qty": "1",
        "idempotency_key": "k-x"})
    assert response.status_code == 409
    assert "only an ordered purchase order is received" in response.get_data(as_text=True)
    check()


def test_who_may_post_a_receipt(dock, unchanged):
    check = unchanged()
    for name in ("viewer", "adjuster"):
        client = getattr(dock, name)
        assert client.get(f"/receiving/orders/{dock.first.id}").status_code == 403
        assert client.post(f"/receiving/orders/{dock.first.id}",
                           data=counts(dock, kettle="1")).status_code == 403
        assert client.post(f"/receiving/orders/{dock.first.id}/scan",
                           data=counts(dock, code="KET-1")).status_code == 403
    assert dock.stranger.get(f"/receiving/orders/{dock.first.id}").status_code == 404
    assert dock.stranger.post(f"/receiving/orders/{dock.first.id}",
                              data=counts(dock, kettle="1")).status_code == 404
    check()
    assert dock.owner.post(f"/receiving/orders/{dock.first.id}",
                           data=counts(dock, kettle="1")).status_code == 303


# --------------------------------------------------------------------------- whatever arrives


def arrivals_form(d: SimpleNamespace, rows: list[tuple[int, str, str]], **extra: str
                  ) -> dict[str, Any]:
    return {"location": str(d.main.id), "idempotency_key": extra.pop("key", "a-1"),
            "row_product": [str(p) for p, _, _ in rows], "row_count": [c for _, c, _ in rows],
            "row_lines": [s for _, _, s in rows], "code": "", "reason": "", **extra}


def rows_of(body: str) -> list[tuple[int, str, str]]:
    products = re.findall(r'name="row_product" value="(\d+)"', body)
    lines = re.findall(r'name="row_lines" value="([^"]*)"', body)
    counted = re.findall(r'name="row_count" value="([^"]*)"', body)
    return [(int(p), c, s) for p, c, s in zip(products, counted, lines, strict=True)]


def goes_to(body: str, product_id: int) -> list[str]:
    row = re.search(rf'<tr id="arrival-{product_id}".*?</tr>', body, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", li).split(" Acme")[0]
            for li in re.findall(r"<li data-goes[^>]*>(.*?)</li>", row)]


def test_whatever_arrives_sends_each_unit_to_the_soonest_expected_order(dock):
    response = dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                 "&code=4006381333931&count=7", headers=HX)
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert body.strip().startswith("<tr") and body.count("<tr") == 1
    assert goes_to(body, dock.kettle.id) == ["5 → PO-0002", "2 → PO-0001"]
    assert "due 01 May" in body and "5 awaited" in body
    assert rows_of(body) == [(dock.kettle.id, "7", (
        f"{dock.second.lines[0].id}:{dock.second.id}:{dock.second.version}:5,"
        f"{dock.kettle_line.id}:{dock.first.id}:{dock.first.version}:10"))]


@pytest.mark.parametrize(("code", "message"), [
    ("LAMP-1", "No open purchase order for LAMP-1 at MAIN."),  # only a cancelled one
    ("NOPE-9", "Nothing in this store has the SKU or GTIN “NOPE-9”."),
    ("", "Scan or type a SKU or GTIN."),
])
def test_a_code_with_no_open_line_here_says_so(dock, code, message):
    response = dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                 f"&code={code}", headers=HX)
    assert (response.status_code, response.get_data(as_text=True)) == (422, message)
    # The mugs at BACK: nothing for MUG-1 awaits at BACK once those 2 are in.
    purchasing.receive_purchase_order(actor=BUYER, order_id=dock.first.id,
                                      lines=[{"line_id": dock.mug_back.id, "quantity": 2}])
    at_back = dock.receiver.get(f"/receiving/arrivals/line?location={dock.back.id}&code=MUG-1")
    assert at_back.get_data(as_text=True) == "No open purchase order for MUG-1 at BACK."


def test_without_javascript_scans_build_the_list_and_receive_takes_each_order(dock):
    client, rows = dock.receiver, []
    for code in ("KET-1", "MUG-1", "ket-1", "4006381333931", "KET-1"):
        response = client.post("/receiving/arrivals/scan", data=arrivals_form(dock, rows,
                                                                            code=code))
        assert response.status_code == 200
        rows = rows_of(response.get_data(as_text=True))
    assert [(p, c) for p, c, _ in rows] == [(dock.kettle.id, "4"), (dock.mug.id, "1")]

    refused = client.post("/receiving/arrivals/scan",
                          data=arrivals_form(dock, rows, code="LAMP-1"))
    assert refused.status_code == 422
    assert "No open purchase order for LAMP-1 at MAIN." in refused.get_data(as_text=True)
    assert rows_of(refused.get_data(as_text=True)) == rows

    rows[0] = (rows[0][0], "7", rows[0][2])  # typed over the count
    shown = client.post("/receiving/arrivals/scan", data=arrivals_form(dock, rows))
    assert goes_to(shown.get_data(as_text=True), dock.kettle.id) == [
        "5 → PO-0002", "2 → PO-0001"]

    response = client.post("/receiving/arrivals", data=arrivals_form(dock, rows))
    assert response.status_code == 303
    assert on_hand(dock.kettle.id, dock.main.id) == (7, 8)
    assert on_hand(dock.mug.id, dock.main.id) == (1, 3)
    after = [order_now(o.id) for o in (dock.first, dock.second)]
    assert [x.received_qty for x in after[0].lines] == [2, 0, 1]
    assert (after[1].status, after[1].lines[0].received_qty) == ("received", 5)

    summary = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Received 8 units" in summary
    assert summary.index("PO-0001") < summary.index("PO-0002")
    assert f'href="/receiving/arrivals?location={dock.main.id}">Scan more arrivals at MAIN' \
        in summary


def test_a_row_removed_leaves_the_list(dock):
    rows = rows_of(dock.receiver.post("/receiving/arrivals/scan", data=arrivals_form(
        dock, [], code="KET-1")).get_data(as_text=True))
    rows += rows_of(dock.receiver.post("/receiving/arrivals/scan", data=arrivals_form(
        dock, rows, code="MUG-1")).get_data(as_text=True))[1:]
    body = dock.receiver.post("/receiving/arrivals/scan", data=arrivals_form(
        dock, rows, remove=str(dock.kettle.id))).get_data(as_text=True)
    assert [p for p, _, _ in rows_of(body)] == [dock.mug.id]


def test_more_than_the_open_orders_await_here_needs_a_confirmation(dock, unchanged):
    line = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                     "&code=KET-1").get_data(as_text=True))[0]
    rows = [(line[0], "18", line[2])]
    check = unchanged()
    refused = dock.receiver.post("/receiving/arrivals", data=arrivals_form(dock, rows))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Kettle (KET-1): 18 arrived, 15 awaited (3 over)" in body
    assert " open data-open" in body
    assert goes_to(body, dock.kettle.id) == ["5 → PO-0002", "13 → PO-0001"]
    check()

    confirmed = dock.receiver.post("/receiving/arrivals", data=arrivals_form(
        dock, rows, confirm_over="1", key="a-2"))
    assert confirmed.status_code == 303
    first = order_now(dock.first.id)
    assert (first.lines[0].received_qty, first.lines[0].over_received_qty) == (13, 3)


def test_an_order_changed_meanwhile_is_reported_and_the_rest_received(dock):
    line = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                     "&code=KET-1").get_data(as_text=True))[0]
    mug = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                    "&code=MUG-1").get_data(as_text=True))[0]
    # Someone receives 1 mug on PO-0001 in between: PO-0001 is stale, PO-0002 is not.
    purchasing.receive_purchase_order(actor=BUYER, order_id=dock.first.id,
                                      lines=[{"line_id": dock.mug_main.id, "quantity": 1}])
    response = dock.receiver.post("/receiving/arrivals", data=arrivals_form(
        dock, [(line[0], "7", line[2]), (mug[0], "2", mug[2])]))
    body = response.get_data(as_text=True)

    assert response.status_code == 409
    assert "Received PO-0002." in body
    assert "Not received: PO-0001 changed since you loaded it." in body
    assert on_hand(dock.kettle.id, dock.main.id) == (5, 10)  # PO-0002's 5 only
    # What PO-0001 was to take stays listed, going where it goes now.
    assert [(p, c) for p, c, _ in rows_of(body)] == [(dock.kettle.id, "2"), (dock.mug.id, "2")]
    assert goes_to(body, dock.kettle.id) == ["2 → PO-0001"]
    assert 'href="/receiving/receipts?receipt=' in body


@pytest.mark.parametrize(("field", "value", "status", "message"), [
    ("row_count", "-2", 422, "Must not be negative."),
    ("row_count", "lots", 422, "Enter a whole number from 0 to 1,000,000,000, like 12."),
    ("row_lines", "1:2", 422, "The list arrived garbled; scan the items again."),
    ("row_product", "abc", 422, "The list arrived garbled; scan the items again."),
])
def test_a_garbled_or_bad_list_receives_nothing(dock, unchanged, field, value, status, message):
    line = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                     "&code=KET-1").get_data(as_text=True))[0]
    form = arrivals_form(dock, [(line[0], "2", line[2])])
    form[field] = [value]
    check = unchanged()
    response = dock.receiver.post("/receiving/arrivals", data=form)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    check()


def test_arrivals_at_a_location_one_may_not_receive_at(dock, unchanged, make_location):
    check = unchanged()
    form = arrivals_form(dock, [], code="KET-1")
    assert dock.viewer.post("/receiving/arrivals/scan", data=form).status_code == 403
    assert dock.viewer.get(f"/receiving/arrivals/line?location={dock.main.id}"
                           "&code=KET-1").status_code == 403
    assert dock.stranger.post("/receiving/arrivals", data=form).status_code == 404
    assert dock.receiver.get("/receiving/arrivals?location=999999").status_code == 404
    not_one = dock.receiver.get("/receiving/arrivals?location=x")
    assert not_one.status_code == 422
    assert 'id="receive-location-error">Choose a location from the list.' in not_one.get_data(
        as_text=True)
    garbled = dock.receiver.post("/receiving/arrivals", data={**form, "location": "1.5"})
    assert garbled.status_code == 422 and "Choose a location" in garbled.get_data(as_text=True)
    blank = dock.receiver.get("/receiving/arrivals?location=")
    assert blank.status_code == 303 and blank.headers["Location"].endswith("/receiving")
    check()


def test_a_receipt_summary_needs_a_receipt_one_may_read(dock):
    change = purchasing.receive_purchase_order(
        actor=BUYER, order_id=dock.first.id, lines=[{"line_id": dock.kettle_line.id,
                                                     "quantity": 1}])
    url = f"/receiving/receipts?receipt={min(change.movement_ids)}"
    assert dock.viewer.get(url).status_code == 200  # reading a receipt needs reading only
    assert dock.stranger.get(url).status_code == 404
    for bad in ("", "?receipt=x", "?receipt=999999", "?receipt=0"):
        assert dock.receiver.get("/receiving/receipts" + bad).status_code == 404


def test_rows_that_saw_an_order_at_different_versions_are_checked_at_the_oldest(dock):
    kettle = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                       "&code=KET-1").get_data(as_text=True))[0]
    purchasing.receive_purchase_order(actor=BUYER, order_id=dock.first.id,
                                      lines=[{"line_id": dock.mug_back.id, "quantity": 1}])
    mug = rows_of(dock.receiver.get(f"/receiving/arrivals/line?location={dock.main.id}"
                                    "&code=MUG-1").get_data(as_text=True))[0]
    # The mug's row (listed first) saw PO-0001 as it is now, the kettle's before the change.
    response = dock.receiver.post("/receiving/arrivals", data=arrivals_form(
        dock, [(mug[0], "1", mug[2]), (kettle[0], "6", kettle[2])]))

    assert response.status_code == 409
    assert "Not received: PO-0001 changed since you loaded it." in response.get_data(
        as_text=True)
    assert order_now(dock.first.id).lines[2].received_qty == 0
    assert on_hand(dock.kettle.id, dock.main.id) == (5, 10)  # PO-0002 took its 5
