"""Every mutating form route of the URL map, fed hostile values in every field.

Each route has a case here (a route without one fails the completeness test): who sends it,
a valid form (which must succeed on the fresh world, checked first, so the fuzz cannot pass
by everything being refused), and the kind of each field. Then every field in turn gets
every class of hostile value (hostile.py), on top of an otherwise valid form (on SQLite,
the classes that can reach storage; the rest are decided before any statement, and are
sent on PostgreSQL):

- never a 5xx;
- a 4xx changes nothing (every row of every table compared before and after);
- a value the field must refuse gets a 4xx that names the field: its error beside it
  (`id="<field>-error"`) or the boundary's “<field>”;
- a value that is accepted shows no markup of its own in the response, nor in the page a
  redirect leads to; the world is then put back before the next value.

Plus, for every route: hostile field names, and a field no form declares.
Half the requests go as htmx sends them, half as a plain form post.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from web.helpers import HX, PASSWORD, valid_form
from web.test_admin_matrix import World, _build_world, _item_form, _product_form
from werkzeug.test import TestResponse

from app.extensions import db
from app.inventory.actions import ACTIONS as ENTRY_ACTIONS
from app.inventory.bulk_view import BULK_ACTIONS
from app.permissions import ADJUST, THRESHOLD, system_actor
from app.services import catalog, purchasing, stock
from app.services.people import tokens

from .conftest import Counter, Tally, changed_tables, fingerprint
from .hostile import CONTROLS, MISSING, REACH_STORAGE, Raw, values_for

# --------------------------------------------------------------------------- the world


def build_world() -> World:
    """The administration matrix's world (stores A and B, their locations, products,
    entries and people), plus what the stock dialogs and the token page act on."""
    world = _build_world(db.session)
    admin = system_actor("fuzz")
    world.ids["reservation_a"] = stock.reserve_stock(
        actor=admin, entry_id=world.entry_main, quantity=2, order_ref="ORD-A1",
    ).reservation_ids[0]
    held = stock.reserve_stock(actor=admin, entry_id=world.entry_b, quantity=1,
                                   order_ref="ORD-B1")
    world.ids["reservation_b"] = held.reservation_ids[0]
    from app.models import Location

    for key, code in (("loc_spare", "SPARE_BAY"), ("loc_delete", "DELETE_BAY")):
        loc = Location(store_id=world.store_a, code=code)
        db.session.add(loc)
        db.session.commit()
        world.ids[key] = loc.id
    # Where the main entry's hold can move to: the same product stocked elsewhere.
    move_bay = Location(store_id=world.store_a, code="MOVE_BAY")
    db.session.add(move_bay)
    db.session.commit()
    world.ids["loc_move"] = move_bay.id
    world.ids["entry_move"] = stock.create_entry(
        actor=admin, product_id=world.product_main, location_id=move_bay.id, quantity=10,
    ).entry.id
    world.ids["entry_delete"] = stock.create_entry(
        actor=admin, product_id=world.product_edit, location_id=world.loc_delete, quantity=0,
    ).entry.id
    world.ids["token_a"] = tokens.create_token(user_id=world.user_owner_a, name="fuzz")[0].id
    # Receiving: an order placed for crates at a dock of their own, so that receiving moves
    # nothing another case relies on.
    dock = Location(store_id=world.store_a, code="DOCK_BAY")
    db.session.add(dock)
    db.session.commit()
    crate = catalog.create_product(actor=admin, store_id=world.store_a, sku="DOCK-SKU-1",
                                   title="Dock Crate")
    supplier = purchasing.create_supplier(actor=admin, store_id=world.store_a, name="Fuzz Co")
    draft = purchasing.create_purchase_order(
        actor=admin, supplier_id=supplier.id,
        lines=[{"product_id": crate.id, "location_id": dock.id, "quantity": 1000,
                "unit_cost": "1.00"}])
    placed = purchasing.order_purchase_order(actor=admin, order_id=draft.id)
    world.ids.update(loc_dock=dock.id, product_dock=crate.id, po_a=placed.id,
                     po_line_a=placed.lines[0].id)
    _buying(world, admin)
    _hooks(world, admin)
    # A line for the reorder report to draft a purchase order from, in each store: nothing
    # of it at the bay (a reorder point of 5, so 10 are suggested), sold by a supplier.
    for store_key, place_key, key, sku in (
        ("store_a", "loc_main", "product_reorder", "ALPHA-REORDER-1"),
        ("store_b", "loc_b", "product_reorder_b", "BETA-REORDER-1"),
    ):
        due = catalog.create_product(actor=admin, store_id=world.ids[store_key], sku=sku,
                                     title="Reorder me", reorder_point=5, reorder_quantity=10)
        stock.create_entry(actor=admin, product_id=due.id, location_id=world.ids[place_key])
        seller = purchasing.create_supplier(actor=admin, store_id=world.ids[store_key],
                                            name="Fuzz Supply")
        purchasing.set_supplier_item(actor=admin, supplier_id=seller.id, product_id=due.id,
                                     unit_cost="1")
        world.ids[key] = due.id
    db.session.remove()
    return world


def _hooks(world: World, admin: Any) -> None:
    """Two webhooks of store A, one on with a delivery in its log and one off, and a third
    to remove."""
    from app.models import Event, WebhookDelivery
    from app.services import webhooks

    local = webhooks.Policy(allow_http_loopback=True)
    made = {key: webhooks.create_endpoint(admin, world.store_a, url=f"http://127.0.0.1:9/{key}",
                                          policy=local)[0].id
            for key in ("hook_a", "hook_off", "hook_delete")}
    webhooks.set_enabled(admin, made["hook_off"], False)
    event = db.session.execute(select(Event).where(Event.store_id == world.store_a)
                               .order_by(Event.sequence.desc()).limit(1)).scalar_one()
    delivery = WebhookDelivery(endpoint_id=made["hook_a"], store_id=world.store_a,
                               sequence=event.sequence, event_type=event.type,
                               entry_id=event.entry_id, status="succeeded", attempts=1,
                               response_code=204)
    db.session.add(delivery)
    db.session.commit()
    world.ids.update(made, delivery_a=delivery.id)


def _buying(world: World, admin: Any) -> None:
    """What the purchasing screens act on: store A's supplier with an item, a draft with a
    line, an order placed (to cancel), an idle supplier (to archive) and an archived one
    (to restore); store B's supplier, for foreign ids."""
    supplier = purchasing.create_supplier(actor=admin, store_id=world.store_a,
                                          name="Alpha Supplies", lead_time_days=4)
    world.ids["supplier_a"] = supplier.id
    world.ids["supplier_item_a"] = purchasing.set_supplier_item(
        actor=admin, supplier_id=supplier.id, product_id=world.product_main,
        unit_cost="3.00", pack_size=2, min_order_qty=4).id
    world.ids["supplier_idle"] = purchasing.create_supplier(
        actor=admin, store_id=world.store_a, name="Alpha Idle Imports").id
    shelved = purchasing.create_supplier(actor=admin, store_id=world.store_a,
                                         name="Alpha Old Supplies")
    purchasing.archive_supplier(actor=admin, supplier_id=shelved.id)
    world.ids["supplier_archived"] = shelved.id
    world.ids["supplier_b"] = purchasing.create_supplier(
        actor=admin, store_id=world.store_b, name="Beta Supplies").id
    draft = purchasing.create_purchase_order(
        actor=admin, supplier_id=supplier.id, lines=[
            {"product_id": world.product_main, "location_id": world.loc_main, "quantity": 4}])
    world.ids["po_draft"], world.ids["po_draft_line"] = draft.id, draft.lines[0].id
    world.ids["po_open"] = purchasing.order_purchase_order(
        actor=admin, order_id=purchasing.create_purchase_order(
            actor=admin, supplier_id=supplier.id, lines=[
                {"product_id": world.product_edit, "location_id": world.loc_spare,
                 "quantity": 6, "unit_cost": "1.25"}]).id).id


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # a key of hostile.BAD
    also: tuple[str, ...] = ()  # other names its error goes by, or the words that name it
    default: bool = False  # left out, it takes its declared default


@dataclass(frozen=True)
class FormCase:
    id: str
    endpoint: str
    action: str | None  # for routes that dispatch on a path segment
    actor: str  # "anonymous", "platform_admin", "owner_a"; a fresh sign-in per request
    url: Callable[[World], str]  # with `fresh` below
    form: Callable[[World, int], dict[str, Any]]  # valid; `n` makes its unique values unique
    fields: tuple[Field, ...] = ()
    ok: tuple[int, ...] = (303,)
    foreign: Callable[[World], dict[str, list[str]]] = lambda w: {}
    fresh: bool = False  # each request from a client signed in for it (sign-out ends it)


NEXT = Field("next", "next")
KEY = Field("idempotency_key", "key")


def _order_version(w: World) -> int:
    from app.models import PurchaseOrder

    version = db.session.scalar(select(PurchaseOrder.version).where(PurchaseOrder.id == w.po_a))
    db.session.rollback()
    return int(version)


def _order_form(w: World, *, qty: str, code: str = "", key: str = "fuzz-receive",
                reason: str = "") -> dict[str, Any]:
    """The order page's form as a browser posts it: its one line counted `qty`."""
    return {"version": str(_order_version(w)), "line": [str(w.po_line_a)], "seen": ["1000"],
            "qty": [qty], "code": code, "reason": reason, "idempotency_key": key}


_ORDER_FIELDS = (Field("line", "id", ("arrived incomplete", "arrived garbled")),
                 Field("seen", "optional_number", ("arrived incomplete", "arrived garbled")),
                 Field("qty", "optional_number", ("arrived incomplete",)))


def _arrivals_form(w: World, *, count: str, code: str = "", key: str = "fuzz-arrive"
                   ) -> dict[str, Any]:
    """A "whatever arrives" list at the dock: the crate, going to the one open line."""
    shown = f"{w.po_line_a}:{w.po_a}:{_order_version(w)}:1000"
    return {"location": str(w.loc_dock), "row_product": [str(w.product_dock)],
            "row_count": [count], "row_lines": [shown], "code": code, "reason": "",
            "idempotency_key": key}


_ARRIVAL_FIELDS = (
    Field("location", "id"),
    Field("row_product", "id", ("arrived incomplete", "arrived garbled")),
    Field("row_count", "optional_number", ("arrived incomplete",)),
    Field("row_lines", "optional_text", ("arrived incomplete", "arrived garbled")),
)


def _entry_case(action: str) -> FormCase:
    kinds: dict[str, dict[str, str]] = {
        "adjust": {"delta": "number", "reason": "text", "reference": "optional_text"},
        "set": {"quantity": "number", "reason": "optional_text",
                "expected_version": "optional_id"},
        "count": {"counted_quantity": "number", "reason": "optional_text",
                  "expected_version": "optional_id"},
        "reserve": {"quantity": "number", "order_ref": "text", "line_ref": "optional_text",
                    "hold_minutes": "optional_number"},
        "release": {"quantity": "optional_number", "reservation_id": "optional_id",
                    "reason": "optional_text"},
        "fulfill": {"quantity": "optional_number", "reservation_id": "optional_id",
                    "reason": "optional_text"},
        "return": {"quantity": "number", "reason": "text", "reference": "optional_text"},
        "transfer": {"to_location_id": "id", "quantity": "number", "reason": "optional_text"},
        "threshold": {"low_stock_threshold": "number"},
        "delete": {"reason": "optional_text"},
    }
    entry = "entry_delete" if action == "delete" else "entry_main"

    def form(w: World, n: int) -> dict[str, Any]:
        place = SimpleNamespace(spare=SimpleNamespace(id=w.loc_spare))
        return {**valid_form(action, place), "idempotency_key": f"fuzz-{action}-{n}"}

    return FormCase(
        f"entry-{action}", "inventory.entry_action", action, "owner_a",
        lambda w: f"/inventory/entries/{w.ids[entry]}/{action}", form,
        (*(Field(k, v) for k, v in kinds[action].items()), KEY, NEXT),
        ok=(303,),
        foreign=lambda w: {"to_location_id": [str(w.loc_b)],
                           "reservation_id": [str(w.reservation_b)]},
    )


def _bulk_case(action: str, step: str) -> FormCase:
    values = {"adjust": {"delta": "3", "reason": "Fuzz check"},
              "threshold": {"low_stock_threshold": "4"}}[action]
    kinds = {"adjust": {"delta": "number", "reason": "text", "reference": "optional_text"},
             "threshold": {"low_stock_threshold": "number"}}[action]
    return FormCase(
        f"bulk-{action}-{step}", "inventory.bulk_action", action, "owner_a",
        lambda w: f"/inventory/bulk/{action}",
        lambda w, n: {"entry": str(w.entry_main), "step": step,
                      "idempotency_key": f"fuzz-bulk-{n}", "next": "/inventory", **values},
        # A selection that is not an entry is named as the selection.
        (Field("entry", "id", ("The selection", "Select at least one entry")),
         *(Field(k, v) for k, v in kinds.items()),
         KEY, NEXT, Field("step", "choice")),
        ok=(303,) if step == "apply" else (200,),
        foreign=lambda w: {"entry": [str(w.entry_b)]},
    )


PRODUCT_FIELDS = (
    Field("sku", "identifier"), Field("title", "text"), Field("gtin", "optional_text"),
    Field("product_type", "choice"), Field("allow_backorder", "flag"),
    Field("reorder_point", "number", default=True),
    Field("reorder_quantity", "number", default=True),
    Field("reorder_up_to", "optional_number", default=True),
)


def _import_csv(w: World, cells: dict[str, bytes] | None = None) -> bytes:
    row = {"store": w.slugs["store_a"].encode(), "location": b"ALPHA_BAY",
           "sku": b"ALPHA-SKU-1", "quantity": b"15", **(cells or {})}
    return b"store,location,sku,quantity\n" + b",".join(row.values()) + b"\n"


def _signed_import(w: World, user_id: int, data: bytes) -> str:
    plan = stock.plan_import(data, actor=system_actor("fuzz"))
    return URLSafeTimedSerializer("test-secret", salt="stockroom.import").dumps({
        "user": user_id, "name": "stock.csv", "batch": stock.new_batch_ref(),
        "data": data.decode(), "seen": sorted(plan.seen().items()), "warnings": False,
    })


SUPPLIER_FIELDS = (
    Field("name", "text"), Field("contact_name", "optional_text"),
    Field("email", "optional_text"), Field("phone", "optional_text"),
    Field("currency", "optional_text"), Field("lead_time_days", "number", default=True),
    Field("notes", "optional_text"),
)
ITEM_FIELDS = (
    Field("unit_cost", "text"), Field("supplier_sku", "optional_text"),
    Field("pack_size", "number", default=True), Field("min_order_qty", "number", default=True),
    Field("preferred", "flag"),
)
VERSION = Field("expected_version", "optional_id")

# Suppliers and purchase orders: who buys in store A (its owner), and a platform admin for
# the currency of a store that has bought nothing yet.
PURCHASING_CASES: list[FormCase] = [
    FormCase("supplier-new", "purchasing.supplier_new", None, "owner_a",
             lambda w: f"/purchasing/suppliers/new?store={w.store_a}",
             lambda w, n: {"name": f"Fuzz Supplies {n}", "contact_name": "Fay",
                           "email": "fay@fuzz.test", "phone": "+1 555", "currency": "USD",
                           "lead_time_days": "3", "notes": "Fuzz"}, SUPPLIER_FIELDS),
    FormCase("supplier-edit", "purchasing.supplier_edit", None, "owner_a",
             lambda w: f"/purchasing/suppliers/{w.supplier_a}/edit",
             lambda w, n: {"name": f"Alpha Supplies {n}", "currency": "USD",
                           "lead_time_days": str(n % 300)}, SUPPLIER_FIELDS),
    FormCase("supplier-archive", "purchasing.supplier_archive", "archive", "owner_a",
             lambda w: f"/purchasing/suppliers/{w.supplier_idle}/archive", lambda w, n: {}),
    FormCase("supplier-unarchive", "purchasing.supplier_archive", "unarchive", "owner_a",
             lambda w: f"/purchasing/suppliers/{w.supplier_archived}/unarchive",
             lambda w, n: {}),
    FormCase("supplier-item-add", "purchasing.supplier_item_add", None, "owner_a",
             lambda w: f"/purchasing/suppliers/{w.supplier_a}/items",
             lambda w, n: {"code": "EDIT-ME-1", "unit_cost": f"{n % 90 + 1}.25",
                           "supplier_sku": "AS-1", "pack_size": "2", "min_order_qty": "4",
                           "preferred": "y"},
             (Field("code", "identifier"), *ITEM_FIELDS)),
    FormCase("supplier-item-edit", "purchasing.supplier_item_edit", None, "owner_a",
             lambda w: f"/purchasing/supplier-items/{w.supplier_item_a}/edit",
             lambda w, n: {"unit_cost": f"{n % 90 + 4}.75", "pack_size": "2",
                           "min_order_qty": "4"}, ITEM_FIELDS),
    FormCase("supplier-item-remove", "purchasing.supplier_item_remove", None, "owner_a",
             lambda w: f"/purchasing/supplier-items/{w.supplier_item_a}/remove",
             lambda w, n: {}),
    FormCase("store-currency", "purchasing.store_currency", None, "platform_admin",
             lambda w: f"/purchasing/stores/{w.store_c}/currency",
             lambda w, n: {"currency": "EUR"}, (Field("currency", "identifier"),)),
    FormCase("order-new", "purchasing.order_new", None, "owner_a",
             lambda w: f"/purchasing/orders/new?store={w.store_a}",
             lambda w, n: {"idempotency_key": f"fuzz-po-{n}", "supplier_id": str(w.supplier_a),
                           "location_id": str(w.loc_main), "expected_on": "2030-01-31",
                           "exchange_rate": "", "notes": "Fuzz"},
             (KEY, Field("supplier_id", "id"), Field("location_id", "id"),
              Field("expected_on", "optional_text"), Field("exchange_rate", "optional_text"),
              Field("notes", "optional_text")),
             foreign=lambda w: {"supplier_id": [str(w.supplier_b)],
                                "location_id": [str(w.loc_b)]}),
    FormCase("order-edit", "purchasing.order_edit", None, "owner_a",
             lambda w: f"/purchasing/orders/{w.po_draft}/edit",
             lambda w, n: {"expected_on": f"2030-01-{n % 28 + 1:02d}", "notes": f"Fuzz {n}",
                           "exchange_rate": "", "expected_version": ""},
             (VERSION, Field("expected_on", "optional_text"),
              Field("exchange_rate", "optional_text"), Field("notes", "optional_text"))),
    FormCase("order-place", "purchasing.order_action", "order", "owner_a",
             lambda w: f"/purchasing/orders/{w.po_draft}/order",
             lambda w, n: {"idempotency_key": f"fuzz-place-{n}", "expected_version": ""},
             (KEY, VERSION)),
    FormCase("order-cancel", "purchasing.order_action", "cancel", "owner_a",
             lambda w: f"/purchasing/orders/{w.po_open}/cancel",
             lambda w, n: {"idempotency_key": f"fuzz-cancel-{n}", "reason": "Fuzz",
                           "expected_version": ""},
             (KEY, Field("reason", "optional_text"), VERSION)),
    FormCase("order-line-add", "purchasing.line_add", None, "owner_a",
             lambda w: f"/purchasing/orders/{w.po_draft}/lines",
             lambda w, n: {"code": "EDIT-ME-1", "quantity": "2", "unit_cost": "1.50",
                           "location_id": str(w.loc_main)},
             (Field("code", "identifier"), Field("quantity", "optional_number"),
              Field("unit_cost", "optional_text"), Field("location_id", "id")),
             foreign=lambda w: {"location_id": [str(w.loc_b)]}),
    FormCase("order-line-edit", "purchasing.line_edit", None, "owner_a",
             lambda w: f"/purchasing/orders/{w.po_draft}/lines/{w.po_draft_line}/edit",
             lambda w, n: {"quantity": str(n % 50 + 5), "unit_cost": "2.00",
                           "expected_version": ""},
             (Field("quantity", "number"), Field("unit_cost", "text"), VERSION)),
    FormCase("order-line-remove", "purchasing.line_remove", None, "owner_a",
             lambda w: f"/purchasing/orders/{w.po_draft}/lines/{w.po_draft_line}/remove",
             lambda w, n: {}),
]


CASES: list[FormCase] = [
    # Signing in and out.
    FormCase("sign-in", "auth.sign_in", None, "anonymous", lambda w: "/sign-in",
             lambda w, n: {"email": w.users["staff_a"], "password": PASSWORD, "next": ""},
             (Field("email", "identifier"), Field("password", "password"), NEXT)),
    FormCase("sign-out", "auth.sign_out", None, "owner_a", lambda w: "/sign-out",
             lambda w, n: {}, fresh=True),
    # The user's own API tokens.
    FormCase("token-create", "account.create_token", None, "owner_a",
             lambda w: "/account/tokens", lambda w, n: {"name": f"Fuzz token {n}"},
             (Field("name", "text"),), ok=(201,)),
    FormCase("token-revoke", "account.revoke_token", None, "owner_a",
             lambda w: f"/account/tokens/{w.token_a}/revoke", lambda w, n: {}),
    # The user's own scan preference ("entry" is everyone's to begin with).
    FormCase("account-scan", "account.set_scan_opens", None, "owner_a",
             lambda w: "/account/scan", lambda w, n: {"scan_opens": "adjust"},
             (Field("scan_opens", "choice", also=("scan-opens", "when a scan finds")),)),
    # The user's own stock alerts: how they hear about a store, and the bell read.
    FormCase("account-alerts", "account.set_alert_modes", None, "owner_a",
             lambda w: "/account/alerts/settings",
             lambda w, n: {f"mode-{w.store_a}": ("digest", "off", "immediate")[n % 3]}),
    FormCase("account-alerts-read", "account.mark_alerts_read", None, "owner_a",
             lambda w: "/account/alerts/read", lambda w, n: {}),
    # Webhooks of store A.
    FormCase("hooks-create", "hooks.create", None, "owner_a",
             lambda w: f"/webhooks?store={w.store_a}",
             lambda w, n: {"url": f"http://127.0.0.1:9/new-{n}", "description": f"Fuzz {n}",
                           "event_types": "stock.low"},
             (Field("url", "text"), Field("description", "optional_text")), ok=(201,)),
    FormCase("hooks-update", "hooks.update", None, "owner_a",
             lambda w: f"/webhooks/{w.hook_a}",
             lambda w, n: {"url": f"http://127.0.0.1:9/changed-{n}",
                           "description": f"Changed {n}"},
             (Field("url", "text"), Field("description", "optional_text"))),
    FormCase("hooks-disable", "hooks.endpoint_action", "disable", "owner_a",
             lambda w: f"/webhooks/{w.hook_a}/disable", lambda w, n: {}),
    FormCase("hooks-enable", "hooks.endpoint_action", "enable", "owner_a",
             lambda w: f"/webhooks/{w.hook_off}/enable", lambda w, n: {}),
    FormCase("hooks-rotate", "hooks.endpoint_action", "rotate", "owner_a",
             lambda w: f"/webhooks/{w.hook_a}/rotate", lambda w, n: {}, ok=(200,)),
    FormCase("hooks-delete", "hooks.endpoint_action", "delete", "owner_a",
             lambda w: f"/webhooks/{w.hook_delete}/delete", lambda w, n: {}),
    FormCase("hooks-redeliver", "hooks.redeliver", None, "owner_a",
             lambda w: f"/webhooks/{w.hook_a}/deliveries/{w.delivery_a}/redeliver",
             lambda w, n: {}),
    # Stores administration.
    FormCase("admin-new", "admin.create_store", None, "platform_admin",
             lambda w: "/admin/stores/new",
             lambda w, n: {"name": f"Zeta Store {n}", "slug": f"zeta-{n}", "next": ""},
             (Field("name", "text"), Field("slug", "identifier"), NEXT)),
    FormCase("admin-rename", "admin.store_action", "rename", "platform_admin",
             lambda w: f"/admin/stores/{w.store_c}/rename",
             lambda w, n: {"name": f"Gamma Renamed {n}", "next": ""},
             (Field("name", "text"), NEXT)),
    FormCase("admin-archive", "admin.store_action", "archive", "platform_admin",
             lambda w: f"/admin/stores/{w.store_c2}/archive", lambda w, n: {"next": ""},
             (NEXT,)),
    FormCase("admin-unarchive", "admin.store_action", "unarchive", "platform_admin",
             lambda w: f"/admin/stores/{w.store_d}/unarchive", lambda w, n: {"next": ""},
             (NEXT,)),
    # User accounts.
    FormCase("people-create-user", "people.create_user", None, "platform_admin",
             lambda w: "/people/users",
             lambda w, n: {"email": f"fresh-{n}@example.test", "name": "Fresh Person",
                           "password": "a-brand-new-password-42"},
             (Field("email", "identifier"), Field("name", "text"),
              Field("password", "password"), Field("platform_admin", "flag"))),
    FormCase("people-deactivate", "people.deactivate_user", None, "platform_admin",
             lambda w: f"/people/users/{w.user_to_deactivate}/deactivate", lambda w, n: {}),
    FormCase("people-reactivate", "people.reactivate_user", None, "platform_admin",
             lambda w: f"/people/users/{w.user_inactive}/reactivate", lambda w, n: {}),
    FormCase("people-grant-admin", "people.grant_platform_admin", None, "platform_admin",
             lambda w: f"/people/users/{w.user_to_promote}/platform-admin/grant",
             lambda w, n: {}),
    FormCase("people-revoke-admin", "people.revoke_platform_admin", None, "platform_admin",
             lambda w: f"/people/users/{w.user_to_demote}/platform-admin/revoke",
             lambda w, n: {}),
    FormCase("people-password", "people.reset_password", None, "platform_admin",
             lambda w: f"/people/users/{w.user_to_reset}/password",
             lambda w, n: {"password": "a-brand-new-password-42"},
             (Field("password", "password"),)),
    # Store members.
    FormCase("members-add", "people.add_member", None, "owner_a",
             lambda w: f"/people/stores/{w.store_a}/members",
             lambda w, n: {"email": f"member-{n}@example.test", "role": "staff",
                           "grants": [ADJUST], "name": "New Member",
                           "password": "a-brand-new-password-42"},
             (Field("email", "identifier"), Field("role", "choice"),
              Field("grants", "choice"), Field("name", "optional_text"),
              Field("password", "password"))),
    FormCase("members-role", "people.change_role", None, "owner_a",
             lambda w: f"/people/stores/{w.store_a}/members/{w.target_role}/role",
             lambda w, n: {"role": "admin"}, (Field("role", "choice"),)),
    FormCase("members-grants", "people.set_grants", None, "owner_a",
             lambda w: f"/people/stores/{w.store_a}/members/{w.target_grants}/grants",
             lambda w, n: {"grants": [ADJUST, THRESHOLD]}, (Field("grants", "choice"),)),
    FormCase("members-remove", "people.remove_member", None, "owner_a",
             lambda w: f"/people/stores/{w.store_a}/members/{w.target_remove}/remove",
             lambda w, n: {}),
    # Catalog.
    FormCase("location-create", "catalog.location_create", None, "owner_a",
             lambda w: f"/catalog/locations?store={w.store_a}",
             lambda w, n: {"code": f"NEW_BAY_{n}", "name": "New bay"},
             (Field("code", "identifier"), Field("name", "optional_text"))),
    FormCase("location-rename", "catalog.location_action", "rename", "owner_a",
             lambda w: f"/catalog/locations/{w.loc_rename}/rename",
             lambda w, n: {"name": f"Renamed bay {n}"}, (Field("name", "optional_text"),)),
    FormCase("location-archive", "catalog.location_action", "archive", "owner_a",
             lambda w: f"/catalog/locations/{w.loc_empty}/archive", lambda w, n: {}),
    FormCase("location-unarchive", "catalog.location_action", "unarchive", "owner_a",
             lambda w: f"/catalog/locations/{w.loc_archived}/unarchive", lambda w, n: {}),
    FormCase("channel-create", "catalog.channel_create", None, "owner_a",
             lambda w: f"/catalog/channels?store={w.store_a}",
             lambda w, n: {"code": f"NEW_WEB_{n}", "name": "New web shop", "allow_split": "y",
                           "locations": [str(w.loc_main), str(w.loc_empty)]},
             (Field("code", "identifier"), Field("name", "optional_text"),
              Field("locations", "id"), Field("allow_split", "flag")),
             foreign=lambda w: {"locations": [str(w.loc_b)]}),
    FormCase("channel-edit", "catalog.channel_edit", None, "owner_a",
             lambda w: f"/catalog/channels/{w.channel_a}/edit",
             lambda w, n: {"name": f"Edited web {n}", "allow_split": "y",
                           "locations": [str(w.loc_empty), str(w.loc_main)]},
             (Field("name", "optional_text", ("edit-channel-name",)),
              Field("locations", "id", ("edit-channel-locations",)),
              Field("allow_split", "flag", ("edit-channel-allow_split",))),
             foreign=lambda w: {"locations": [str(w.loc_b)]}),
    FormCase("product-new", "catalog.product_new", None, "owner_a",
             lambda w: f"/catalog/products/new?store={w.store_a}",
             lambda w, n: _product_form(f"NEW-SKU-{n}", "A new thing"), PRODUCT_FIELDS),
    FormCase("product-edit", "catalog.product_edit", None, "owner_a",
             lambda w: f"/catalog/products/{w.product_edit}/edit",
             lambda w, n: _product_form("EDIT-ME-1", f"Edited title {n}"), PRODUCT_FIELDS),
    FormCase("product-archive", "catalog.product_archive", "archive", "owner_a",
             lambda w: f"/catalog/products/{w.product_live}/archive", lambda w, n: {}),
    FormCase("product-unarchive", "catalog.product_archive", "unarchive", "owner_a",
             lambda w: f"/catalog/products/{w.product_archived}/unarchive", lambda w, n: {}),
    FormCase("product-stock", "catalog.product_stock", None, "owner_a",
             lambda w: f"/catalog/products/{w.product_unstocked}/stock",
             lambda w, n: {"idempotency_key": f"fuzz-stock-{n}",
                           "location_id": str(w.loc_main), "quantity": "5",
                           "low_stock_threshold": "1", "reason": "Opening stock",
                           "unit_cost": "2.40"},
             (KEY, Field("location_id", "id"), Field("quantity", "number", default=True),
              Field("low_stock_threshold", "number", default=True),
              Field("reason", "optional_text"), Field("unit_cost", "optional_text")),
             foreign=lambda w: {"location_id": [str(w.loc_b)]}),
    FormCase("product-components", "catalog.product_components", None, "owner_a",
             lambda w: f"/catalog/products/{w.product_bundle}/components",
             lambda w, n: {"components": f"EDIT-ME-1 × {n % 5 + 1}"},
             (Field("components", "optional_text"),)),
    FormCase("item-new", "catalog.item_new", None, "owner_a",
             lambda w: f"/catalog/items/new?store={w.store_a}",
             lambda w, n: _item_form(f"FZ{n}", f"Fuzz parka {n}"),
             (Field("title", "text"), Field("options", "optional_text"),
              Field("sku_prefix", "identifier"), Field("product_type", "choice"),
              Field("allow_backorder", "flag"), Field("reorder_point", "number", default=True),
              Field("reorder_quantity", "number", default=True),
              Field("reorder_up_to", "optional_number", default=True))),
    FormCase("item-rename", "catalog.item_rename", None, "owner_a",
             lambda w: f"/catalog/items/{w.item_a}/rename",
             lambda w, n: {"title": f"Alpha Secret Parka {n}"}, (Field("title", "text"),)),
    FormCase("item-add-value", "catalog.item_add_value", None, "owner_a",
             lambda w: f"/catalog/items/{w.item_a}/values",
             lambda w, n: {"option": "1", "value": f"V{n}", "sku_prefix": "ALPHA-PRK"},
             (Field("option", "choice"), Field("value", "text"),
              Field("sku_prefix", "identifier"))),
    FormCase("item-archive", "catalog.item_archive", "archive", "owner_a",
             lambda w: f"/catalog/items/{w.item_a}/archive", lambda w, n: {}),
    FormCase("item-unarchive", "catalog.item_archive", "unarchive", "owner_a",
             lambda w: f"/catalog/items/{w.item_archived}/unarchive", lambda w, n: {}),
    # Moving a hold from its entry's page to the product's entry at another location.
    FormCase("reservation-move", "inventory.reservation_move", None, "owner_a",
             lambda w: f"/inventory/entries/{w.entry_main}/reservations/{w.reservation_a}/move",
             lambda w, n: {"idempotency_key": f"fuzz-move-{n}", "location_id": str(w.loc_move),
                           "reason": "Collect there"},
             (KEY, Field("location_id", "id"), Field("reason", "optional_text")),
             foreign=lambda w: {"location_id": [str(w.loc_b)]}),
    # The stock dialogs and the overview's bulk changes.
    *(_entry_case(action) for action in ENTRY_ACTIONS),
    *(_bulk_case(action, step) for action in BULK_ACTIONS for step in ("preview", "apply")),
    # Counting a location (adding a line only redraws the list, like a preview): the list
    # travels as repeated fields, one of each per line; a
    # line's error stands in its row (`e12-line_counted-error`), a list that does not add
    # up is named as the lines.
    FormCase("count-list-preview", "inventory.count_edit", None, "owner_a",
             lambda w: "/inventory/count/line",
             lambda w, n: {"location": str(w.loc_main), "code": "ALPHA-SKU-1",
                           "quantity": "2", "line_code": ["ALPHA-SKU-1"],
                           "line_counted": ["3"], "line_expected": ["10"], "reason": ""},
             (Field("location", "id"), Field("code", "optional_text"),
              Field("quantity", "optional_number"),
              Field("line_code", "identifier", ("lines",)),
              Field("line_counted", "number", ("lines",)),
              Field("line_expected", "optional_number", ("lines",)),
              Field("reason", "optional_text")),
             ok=(200,), foreign=lambda w: {"location": [str(w.loc_b)]}),
    FormCase("count-apply", "inventory.count_apply", None, "owner_a",
             lambda w: "/inventory/count",
             lambda w, n: {"location": str(w.loc_main), "idempotency_key": f"fuzz-count-{n}",
                           "line_code": ["ALPHA-SKU-1"], "line_counted": [str(20 + n % 5)],
                           "line_expected": [""], "reason": "Fuzz count", "code": "",
                           "quantity": ""},
             (Field("location", "id"), Field("line_code", "identifier", ("lines",)),
              Field("line_counted", "number", ("lines",)),
              Field("line_expected", "optional_number", ("lines",)),
              Field("reason", "optional_text"), Field("idempotency_key", "optional_text")),
             foreign=lambda w: {"location": [str(w.loc_b)]}),
    # Receiving: an order's lines and a "whatever arrives" list travel as repeated fields,
    # one of each per line, as the count's do; a scan only redraws the page.
    FormCase("receive-order-scan-preview", "receiving.order_scan", None, "owner_a",
             lambda w: f"/receiving/orders/{w.po_a}/scan",
             lambda w, n: _order_form(w, code="DOCK-SKU-1", qty="2"),
             (Field("code", "optional_text"), *_ORDER_FIELDS), ok=(200,)),
    FormCase("receive-order", "receiving.order_receive", None, "owner_a",
             lambda w: f"/receiving/orders/{w.po_a}",
             lambda w, n: _order_form(w, qty=str(1 + n % 5), key=f"fuzz-receive-{n}",
                                      reason="Delivery note 7"),
             (Field("version", "id", ("arrived incomplete",)), *_ORDER_FIELDS,
              Field("reason", "optional_text"), Field("idempotency_key", "optional_text"),
              Field("confirm_over", "flag"))),
    FormCase("receive-arrivals-scan-preview", "receiving.arrival_scan", None, "owner_a",
             lambda w: "/receiving/arrivals/scan",
             lambda w, n: _arrivals_form(w, code="dock-sku-1", count="1"),
             (Field("code", "optional_text"), *_ARRIVAL_FIELDS), ok=(200,),
             foreign=lambda w: {"location": [str(w.loc_b)], "row_product": [str(w.product_b)]}),
    FormCase("receive-arrivals", "receiving.arrivals_receive", None, "owner_a",
             lambda w: "/receiving/arrivals",
             lambda w, n: _arrivals_form(w, count=str(1 + n % 5), key=f"fuzz-arrive-{n}"),
             (*_ARRIVAL_FIELDS, Field("reason", "optional_text"),
              Field("idempotency_key", "optional_text"), Field("confirm_over", "flag")),
             foreign=lambda w: {"location": [str(w.loc_b)], "row_product": [str(w.product_b)]}),
    # Draft purchase orders from the lines chosen on the reorder report: each line names a
    # product, a location and the suggestion shown.
    FormCase("reorder-drafts", "inventory.reorder_purchase_orders", None, "owner_a",
             lambda w: "/reports/reorder/purchase-orders",
             lambda w, n: {"store": str(w.store_a), "idempotency_key": f"fuzz-reorder-{n}",
                           "line": [f"{w.product_reorder}-{w.loc_main}-10"]},
             (Field("line", "id", ("lines",)), Field("idempotency_key", "optional_text")),
             foreign=lambda w: {"line": [f"{w.product_reorder_b}-{w.loc_b}-10"]}),
    # CSV import: the cells of the file are its fields (see test_import_* below); here the
    # form around it.
    FormCase("import-preview", "imports.preview", None, "owner_a", lambda w: "/import/preview",
             lambda w, n: {"file": (io.BytesIO(_import_csv(w)), "stock.csv")}, ok=(200,)),
    FormCase("import-apply", "imports.apply", None, "owner_a", lambda w: "/import/apply",
             lambda w, n: {"token": _signed_import(w, w.user_owner_a, _import_csv(w))},
             (Field("token", "key", ("This preview could not be read",)),)),
    *PURCHASING_CASES,
]


# --------------------------------------------------------------------------- completeness


def _dispatched(endpoint: str) -> set[str | None]:
    """The actions a route that dispatches on a path segment offers."""
    from app.admin.routes import ACTIONS as STORE_ACTIONS
    from app.catalog.routes import LOCATION_ACTIONS

    return {
        "inventory.entry_action": set(ENTRY_ACTIONS),
        "inventory.bulk_action": set(BULK_ACTIONS),
        "admin.store_action": set(STORE_ACTIONS),
        "catalog.location_action": set(LOCATION_ACTIONS),
        "catalog.product_archive": {"archive", "unarchive"},
        "catalog.item_archive": {"archive", "unarchive"},
        "purchasing.supplier_archive": {"archive", "unarchive"},
        "purchasing.order_action": {"order", "cancel"},
        "hooks.endpoint_action": {"enable", "disable", "rotate", "delete"},
    }.get(endpoint, {None})


def test_every_mutating_form_route_has_a_case(app: Flask) -> None:
    """A POST route added to the browser's screens without a case here fails this test."""
    routes = {(rule.endpoint, action)
              for rule in app.url_map.iter_rules()
              if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/")
              and rule.endpoint != "static"
              for action in _dispatched(rule.endpoint)}
    covered = {(c.endpoint, c.action) for c in CASES}
    assert routes - covered == set(), "mutating routes without a fuzz case"
    assert covered - routes == set(), "fuzz cases for routes that no longer exist"
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- requests


def _sign_in(app: Flask, world: World, actor: str) -> FlaskClient:
    client = app.test_client()
    if actor != "anonymous":
        response = client.post("/sign-in", data={"email": world.users[actor],
                                                 "password": PASSWORD})
        assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return client


def _send(client: FlaskClient, url: str, form: dict[str, Any], *, htmx: bool,
          raw: tuple[str, Raw] | None = None) -> TestResponse:
    headers = HX if htmx else {}
    if raw is not None:
        name, value = raw
        body = urlencode(form, doseq=True) + f"&{name}={value.escaped}"
        return client.post(url, data=body.encode(), headers=headers,
                           content_type="application/x-www-form-urlencoded")
    return client.post(url, data=form, headers=headers)


@dataclass(frozen=True)
class Mutation:
    field: str
    also: tuple[str, ...]
    cls: str
    value: Any
    must_refuse: bool

    def shown(self) -> str:
        if self.value is MISSING:
            return "missing"
        text = self.value.escaped if isinstance(self.value, Raw) else self.value
        return repr(text[:30] + ("…" if len(text) > 30 else ""))


def mutations(case: FormCase, world: World, backend: str) -> Iterator[Mutation]:
    """Every field's hostile values, on SQLite those that can reach storage (hostile's
    REACH_STORAGE), then the fields no form has."""
    valid = case.form(world, 0)
    foreign = case.foreign(world)
    classes = None if backend == "postgresql" else REACH_STORAGE
    for f in case.fields:
        current = valid.get(f.name, "")
        current = current[0] if isinstance(current, list) else current
        for cls, value, bad in values_for(f.kind, str(current), foreign.get(f.name, []),
                                          classes=classes):
            if value is MISSING and f.default:
                bad = False  # a form post without it means the default the form declares
            yield Mutation(f.name, f.also, cls, value, bad)
    # A field no form declares: ignored, whatever it holds, unless it is far too long.
    for cls, value, bad in values_for("unread", "1"):
        if cls in ("control", "overlong", "markup"):
            yield Mutation("fuzz_extra", (), cls, value, bad)
    # Field names no form has: named (written with escapes) and refused before any view.
    for c in CONTROLS:
        yield Mutation(f"x{c}", (), "control name", "1", True)


def _apply(form: dict[str, Any], m: Mutation) -> tuple[dict[str, Any], tuple[str, Raw] | None]:
    form = {k: v for k, v in form.items() if k != m.field}
    if m.value is MISSING:
        return form, None
    if isinstance(m.value, Raw):
        return form, (m.field, m.value)
    form[m.field] = m.value
    return form, None


def _printable(name: str) -> str:
    return "".join(c if c.isprintable() and c not in "\x85" else f"\\u{ord(c):04x}"
                   for c in name)


def names_field(body: str, m: Mutation) -> bool:
    """The error names the field: beside it (its id, or the id of its copy in one row of a
    table, `role-12-error`, `m12-grants-error`), in the boundary's “field”, or in words."""
    for name in (m.field, *m.also):
        if " " in name:
            if name in body:
                return True
            continue
        shown = _printable(name)
        if f"“{shown}”" in body or re.search(
                rf'id="(?:\w+-)?{re.escape(shown)}(?:-\d+)?-error"', body):
            return True
    return False


MARKERS = ("<script>alert", "<img src=x", 'hx-post="/x')


def markup_in(body: str) -> list[str]:
    return [m for m in MARKERS if m in body]


def _is_multipart(form: dict[str, Any]) -> bool:
    return any(isinstance(v, tuple) for v in form.values())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_values_in_every_field(
    case: FormCase, app: Flask, keep_world: Callable[..., Any], tally: Tally, backend: str,
) -> None:
    kept = keep_world("forms", build_world)
    world: World = kept.data
    counter = Counter(tally, form_route=case.id)
    client = _sign_in(app, world, case.actor)
    url = case.url(world)

    def client_for_request() -> FlaskClient:
        if case.actor == "anonymous":
            return app.test_client()
        return _sign_in(app, world, case.actor) if case.fresh else client

    # The valid form succeeds on the fresh world: refusals below are about the values.
    before = fingerprint()
    response = _send(client_for_request(), url, case.form(world, 0), htmx=False)
    counter.sent(response.status_code)
    assert response.status_code in case.ok, response.get_data(as_text=True)[:600]
    # Marking the bell read changes nothing where nothing was unread (none is, in this world).
    if (case.endpoint not in ("auth.sign_in", "imports.preview", "account.mark_alerts_read")
            and "preview" not in case.id):
        assert changed_tables(before, fingerprint()), "the valid form changed nothing"
    kept.reset()
    baseline = fingerprint()

    failures: list[str] = []
    for n, m in enumerate(mutations(case, world, backend), start=1):
        form, raw = _apply(case.form(world, n), m)
        if raw is not None and _is_multipart(form):
            continue  # a raw urlencoded value cannot ride in a multipart body
        response = _send(client_for_request(), url, form, htmx=n % 2 == 1, raw=raw)
        status = response.status_code
        counter.sent(status)
        body = response.get_data(as_text=True)
        where = f"{m.field}={m.shown()} ({m.cls}, {'htmx' if n % 2 else 'plain'})"
        if status >= 500:
            failures.append(f"{where}: {status}")
            kept.reset()
            continue
        if markup_in(body):
            failures.append(f"{where}: unescaped markup {markup_in(body)} in the response")
        after = fingerprint()
        if status >= 400:
            if after != baseline:
                failures.append(f"{where}: refused with {status} but changed "
                                f"{changed_tables(baseline, after)}")
                kept.reset(after)
            if m.must_refuse and not names_field(body, m) and not (
                    m.cls == "foreign" and status == 404):
                # Another store's id is "not found", like an id that does not exist (the
                # tenancy rule in the README): a 404 page, naming nothing of it.
                failures.append(f"{where}: {status} without naming the field")
            continue
        if m.must_refuse:
            failures.append(f"{where}: accepted with {status}")
        elif m.cls == "markup" and status in (301, 302, 303) and case.actor != "anonymous":
            landed = client_for_request().get(response.headers["Location"])
            counter.sent(landed.status_code)
            if markup_in(landed.get_data(as_text=True)):
                failures.append(f"{where}: unescaped markup in the page redirected to")
        if after != baseline:
            kept.reset(after)
    assert failures == [], f"{len(failures)} failures on {case.id}:\n" + "\n".join(failures)


# --------------------------------------------------------------------------- CSV cells

CELLS = {"store": "identifier", "location": "identifier", "sku": "identifier",
         "quantity": "number"}


def _csv_with(w: World, column: str, value: Any) -> bytes:
    """The import file of the valid case with one cell replaced, quoted as CSV quotes it;
    raw bytes go in as they are."""
    out = io.StringIO()
    row = {"store": w.slugs["store_a"], "location": "ALPHA_BAY", "sku": "ALPHA-SKU-1",
           "quantity": "15", column: "\x1e" if isinstance(value, Raw) else
           ("" if value is MISSING else value)}
    csv.writer(out, lineterminator="\n").writerows([list(row), list(row.values())])
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if isinstance(value, Raw):
        data = data.replace(b"\x1e", unquote_to_bytes(value.escaped))
    return data


def _import_errors(body: str) -> str:
    found = re.findall(r"<strong>Error:</strong>([^<]*)|<li>([^<]*)</li>|<p>([^<]*)</p>", body)
    return " ".join("".join(parts) for parts in found).lower()


def _judged_preview(response: Any, column: str, value: Any, cls: str, bad: bool, *,
                    line_will_do: bool = False) -> list[str]:
    """What is wrong with an import preview's answer to one hostile cell: a server error,
    unescaped markup, or (for a value the column must refuse) an offer to apply it or a
    refusal that names neither the column nor, where `line_will_do`, the line."""
    body = response.get_data(as_text=True)
    shown = value.escaped if isinstance(value, Raw) else repr(value)[:30]
    where = f"{column}={shown} ({cls})"
    if response.status_code >= 500:
        return [f"{where}: {response.status_code}"]
    failures = []
    if markup_in(body):
        failures.append(f"{where}: unescaped markup {markup_in(body)}")
    if bad:
        errors = _import_errors(body)
        named = column.lower() in errors or (line_will_do and "line 2" in errors)
        if 'name="token"' in body:
            failures.append(f"{where}: the preview offers to apply it")
        elif not named and not (isinstance(value, Raw) and "not utf-8" in errors):
            # Bytes that are not UTF-8 make the file unreadable as a whole.
            failures.append(f"{where}: refused without naming the column"
                            + (" or line" if line_will_do else ""))
    return failures


def test_hostile_cells_in_an_import_preview(
    app: Flask, keep_world: Callable[..., Any], tally: Tally,
) -> None:
    """Each cell of an imported file gets every class of hostile value: the preview never
    changes anything, offers no apply for a value the column must refuse, and says which
    column (or line) is wrong."""
    kept = keep_world("forms", build_world)
    world: World = kept.data
    counter = Counter(tally, form_route="import-preview")
    client = _sign_in(app, world, "owner_a")
    baseline = fingerprint()
    failures: list[str] = []
    for n, (column, kind) in enumerate((c, k) for c, k in CELLS.items()):
        valid = {"store": world.slugs["store_a"], "location": "ALPHA_BAY",
                 "sku": "ALPHA-SKU-1", "quantity": "15"}[column]
        for cls, value, bad in values_for(kind, valid):
            if value is MISSING:
                continue  # a missing cell is an empty one
            data = _csv_with(world, column, value)
            response = client.post("/import/preview", headers=HX if n % 2 else {},
                                   data={"file": (io.BytesIO(data), "stock.csv")})
            counter.sent(response.status_code)
            failures += _judged_preview(response, column, value, cls, bad, line_will_do=True)
    assert fingerprint() == baseline, "a preview changed something"
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)


def _item_cells(w: World) -> dict[str, dict[str, str]]:
    """Two valid rows of a file with item and options columns: one stocks a SKU the store
    has (made outside the item forms: it belongs to no item, so its cells stay blank), one
    adds a SKU to the catalog."""
    base = {"store": w.slugs["store_a"], "location": "ALPHA_BAY", "quantity": "15"}
    return {
        "known": {**base, "sku": "ALPHA-SKU-1", "item": "", "options": ""},
        "new": {**base, "sku": "FUZZ-NEW-1", "item": "Fuzz Parka",
                "options": "Color: Black; Size: XL"},
    }


def _csv_of(row: dict[str, str], column: str, value: Any) -> bytes:
    out = io.StringIO()
    cells = {**row, column: "\x1e" if isinstance(value, Raw) else
             ("" if value is MISSING else value)}
    csv.writer(out, lineterminator="\n").writerows([list(cells), list(cells.values())])
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if isinstance(value, Raw):
        data = data.replace(b"\x1e", unquote_to_bytes(value.escaped))
    return data


def test_hostile_item_and_options_cells_in_an_import_preview(
    app: Flask, keep_world: Callable[..., Any], tally: Tally,
) -> None:
    """The item and options cells, of a row whose SKU the store has and of a row that adds
    its SKU to the catalog, get every class of hostile value: the preview never changes
    anything, offers no apply for a value the column must refuse, and names the column."""
    kept = keep_world("forms", build_world)
    world: World = kept.data
    counter = Counter(tally, form_route="import-preview")
    client = _sign_in(app, world, "owner_a")
    rows = _item_cells(world)
    baseline = fingerprint()
    failures: list[str] = []
    # A new SKU must name its item; a known SKU's blank cells claim nothing.
    kinds = {("known", "item"): "optional_text", ("known", "options"): "optional_text",
             ("new", "item"): "text", ("new", "options"): "optional_text"}
    for n, ((base, column), kind) in enumerate(kinds.items()):
        row = rows[base]
        valid = _csv_of(row, column, row[column])
        first = client.post("/import/preview", data={"file": (io.BytesIO(valid), "s.csv")})
        assert 'name="token"' in first.get_data(as_text=True), (base, "valid row refused")
        for cls, value, bad in values_for(kind, row[column]):
            response = client.post("/import/preview", headers=HX if n % 2 else {},
                                   data={"file": (io.BytesIO(_csv_of(row, column, value)),
                                                  "stock.csv")})
            counter.sent(response.status_code)
            failures += [f"{base} {failure}" for failure in
                         _judged_preview(response, column, value, cls, bad)]
    assert fingerprint() == baseline, "a preview changed something"
    assert failures == [], f"{len(failures)} failures:\n" + "\n".join(failures)
