"""Suppliers: a store's list, a supplier's page with what it sells, adding, editing,
archiving and restoring them, and the currency the store keeps its costs in."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.models import Store
from app.purchasing import bp
from app.purchasing.common import (
    beside_fields,
    plain_amount,
    product_for_code,
    purchasing_stores,
    require_purchasing,
    store_from_args,
    store_named,
)
from app.purchasing.forms import ConfirmForm, CurrencyForm, SupplierForm, SupplierItemForm
from app.services import purchasing
from app.services.purchasing import SupplierItemView, SupplierView
from app.web import current_actor, format_money, show_store
from app.web.actions import FormView, finish, flash_oob, reload_main, run_form, swap
from app.web.htmx import is_htmx, vary_on_htmx
from app.web.urls import next_from_request

# The archive dialog's words: (title, button, past tense, destructive).
SUPPLIER_ACTIONS = {
    "archive": ("Archive supplier", "Archive supplier", "Archived", True),
    "unarchive": ("Restore supplier", "Restore supplier", "Restored", False),
}


# --------------------------------------------------------------------------- the list


@bp.get("/suppliers", endpoint="suppliers")
@login_required
def supplier_list():  # type: ignore[no-untyped-def]
    """A store's suppliers with what each sells and what is on order; archived ones apart."""
    store = store_from_args()
    if store is None:
        return render_template("purchasing/choose_store.html", title="Suppliers",
                               stores=purchasing_stores())
    actor = current_actor()
    rows = purchasing.list_suppliers(actor, store.id, include_archived=True)
    return vary_on_htmx(make_response(render_template(
        "purchasing/suppliers.html", store=store,
        active=[s for s in rows if not s.archived], archived=[s for s in rows if s.archived],
        counts=purchasing.supplier_counts(actor, store.id),
    )))


@bp.route("/suppliers/new", methods=["GET", "POST"])
@login_required
def supplier_new():  # type: ignore[no-untyped-def]
    """Add a supplier to the store ?store= names (or the user's one store where they buy)."""
    store = store_from_args()
    if store is None:
        return render_template("purchasing/choose_store.html", title="New supplier",
                               stores=purchasing_stores())
    form = SupplierForm(data=None if request.method == "POST" else {
        "currency": store.currency, "lead_time_days": "0"})
    title = "New supplier"
    view = FormView("purchasing/_supplier_form.html", title, context={
        "form": form, "supplier": None, "store": store, "title": title, "problem": None,
        "target": url_for("purchasing.supplier_new", store=store.id),
        "back": url_for("purchasing.suppliers", store=store.id),
    }, crumbs=[("Suppliers", url_for("purchasing.suppliers", store=store.id))])
    if request.method == "GET":
        return view.render()

    def added(supplier: SupplierView) -> Response:
        # Its own page, whether or not htmx sent the form: what it sells is added there.
        message = f"Added supplier {supplier.name}. Add what it sells below."
        if is_htmx():
            return reload_main(url_for("purchasing.supplier", supplier_id=supplier.id),
                               message)
        return finish(message, url_for("purchasing.supplier", supplier_id=supplier.id),
                      lambda: make_response(""))

    return run_form(
        form, view.render,
        lambda: purchasing.create_supplier(actor=current_actor(), store_id=store.id,
                                           **_supplier_values(form)),
        added, refused=beside_fields(form, view.render), labelled=True,
    )


def _supplier_values(form: SupplierForm) -> dict[str, Any]:
    return {
        "name": form.name.data or "",
        "contact_name": form.contact_name.data or None,
        "email": form.email.data or None,
        "phone": form.phone.data or None,
        "currency": form.currency.data or None,
        "lead_time_days": form.lead_time_days.number or 0,
        "notes": form.notes.data or None,
    }


# --------------------------------------------------------------------------- one supplier


def _supplier(supplier_id: int) -> SupplierView:
    """The supplier, once the user may buy in its store (others: 404, readers: 403)."""
    supplier = purchasing.get_supplier(current_actor(), supplier_id)
    show_store(supplier.store_id)
    require_purchasing(supplier.store_id)
    return supplier


def _store_of(supplier: SupplierView) -> Store:
    return store_named(supplier.store_id)


@bp.get("/suppliers/<int:supplier_id>")
@login_required
def supplier(supplier_id: int):  # type: ignore[no-untyped-def]
    """A supplier's details, what it sells (added here by SKU or scan) and its orders."""
    found = _supplier(supplier_id)
    actor = current_actor()
    orders = purchasing.list_purchase_orders(actor, found.store_id, supplier_id=found.id,
                                             limit=10)
    return render_template(
        "purchasing/supplier.html", store=_store_of(found), orders=orders,
        **_items_context(found, SupplierItemForm(formdata=None)),
    )


def _items_context(found: SupplierView, form: SupplierItemForm,
                   problem: str | None = None) -> dict[str, Any]:
    return {"supplier": found, "items": purchasing.list_supplier_items(current_actor(),
                                                                       found.id),
            "item_form": form, "item_problem": problem}


def _items_response(found: SupplierView, form: SupplierItemForm, status: int,
                    problem: str | None = None, flashed: str | None = None) -> Response:
    """What the supplier's items panel shows: the panel alone for htmx, else the page."""
    if not is_htmx():
        actor = current_actor()
        orders = purchasing.list_purchase_orders(actor, found.store_id, supplier_id=found.id,
                                                 limit=10)
        return make_response(render_template(
            "purchasing/supplier.html", store=_store_of(found), orders=orders,
            **_items_context(found, form, problem)), status)
    html = render_template("purchasing/_supplier_items.html", **_items_context(
        found, form, problem))
    if flashed:
        html += flash_oob(flashed)
    return make_response(html, status)


@bp.route("/suppliers/<int:supplier_id>/edit", methods=["GET", "POST"])
@login_required
def supplier_edit(supplier_id: int):  # type: ignore[no-untyped-def]
    """Change a supplier's details: a dialog under htmx, a page without."""
    found = _supplier(supplier_id)
    form = SupplierForm(data=None if request.method == "POST" else {
        "name": found.name, "contact_name": found.contact_name or "",
        "email": found.email or "", "phone": found.phone or "", "currency": found.currency,
        "lead_time_days": str(found.lead_time_days), "notes": found.notes or "",
    })
    back = next_from_request() or url_for("purchasing.supplier", supplier_id=found.id)
    title = "Edit supplier"
    view = FormView("purchasing/_supplier_form.html", title, context={
        "form": form, "supplier": found, "store": _store_of(found), "title": title,
        "problem": None, "back": back,
        "target": url_for("purchasing.supplier_edit", supplier_id=found.id, next=back),
    }, crumbs=[("Suppliers", url_for("purchasing.suppliers", store=found.store_id)),
               (found.name, url_for("purchasing.supplier", supplier_id=found.id))])
    if request.method == "GET":
        return view.render()

    def saved(after: SupplierView) -> Response:
        message = f"Saved {after.name}: {_changes(found, after)}."
        if is_htmx():
            return reload_main(back, message)
        return finish(message, back, lambda: make_response(""))

    return run_form(
        form, view.render,
        lambda: purchasing.update_supplier(actor=current_actor(), supplier_id=found.id,
                                           **_supplier_values(form)),
        saved, refused=beside_fields(form, view.render), labelled=True,
    )


_LABELS = {"name": "name", "contact_name": "contact", "email": "email", "phone": "phone",
           "currency": "currency", "lead_time_days": "lead time", "notes": "notes"}


def _changes(before: SupplierView, after: SupplierView) -> str:
    """What an edit changed, in words: "lead time 14 → 10 days"."""
    said = []
    for name, label in _LABELS.items():
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        if name == "notes":
            said.append("notes changed")
        elif name == "lead_time_days":
            said.append(f"lead time {old} → {new} days")
        else:
            said.append(f"{label} {old or 'none'} → {new or 'none'}")
    return "; ".join(said) or "nothing changed"


@bp.route("/suppliers/<int:supplier_id>/<any(archive, unarchive):verb>",
          methods=["GET", "POST"])
@login_required
def supplier_archive(supplier_id: int, verb: str):  # type: ignore[no-untyped-def]
    """Archive a supplier (no new orders or items; no longer anyone's preferred supplier) or
    restore it, after a confirmation."""
    found = _supplier(supplier_id)
    form = ConfirmForm()
    title, button, done, destructive = SUPPLIER_ACTIONS[verb]
    back = next_from_request() or url_for("purchasing.supplier", supplier_id=found.id)
    view = FormView("purchasing/_confirm.html", title, context={
        "form": form, "title": f"{title} — {found.name}", "button": button,
        "destructive": destructive, "problem": None, "back": back,
        "target": url_for("purchasing.supplier_archive", supplier_id=found.id, verb=verb,
                          next=back),
        "explain": _archive_words(found, verb),
    })
    if request.method == "GET":
        return view.render()
    service = purchasing.archive_supplier if verb == "archive" else purchasing.unarchive_supplier

    def changed(after: SupplierView) -> Response:
        message = f"{done} supplier {after.name}."
        if is_htmx():
            return reload_main(back, message)
        return finish(message, back, lambda: make_response(""))

    return run_form(form, view.render,
                    lambda: service(actor=current_actor(), supplier_id=found.id), changed)


def _archive_words(found: SupplierView, verb: str) -> list[str]:
    if verb == "unarchive":
        return [f"{found.name} will take orders again and can be made a variant's "
                "preferred supplier again."]
    return [f"{found.name} will take no new orders and no new items, and stops being any "
            "variant's preferred supplier.",
            "Its orders and what it sells stay on record; you can restore it later. An "
            "order not yet received or cancelled keeps it from being archived."]


# --------------------------------------------------------------------------- its items


@bp.post("/suppliers/<int:supplier_id>/items")
@login_required
def supplier_item_add(supplier_id: int):  # type: ignore[no-untyped-def]
    """Record what the supplier sells a variant for, the variant named by its SKU or GTIN
    (typed or scanned); the same variant again changes its terms."""
    found = _supplier(supplier_id)
    form = SupplierItemForm()

    def render(status: int, problem: str | None = None) -> Response:
        return _items_response(found, form, status, problem)

    def save() -> SupplierItemView:
        product = product_for_code(found.store_id, form.code.data)
        return purchasing.set_supplier_item(
            actor=current_actor(), supplier_id=found.id, product_id=product.id,
            **_item_values(form))

    def saved(item: SupplierItemView) -> Response:
        message = f"{found.name} sells {item.sku} at {_terms(item)}."
        return finish(message, url_for("purchasing.supplier", supplier_id=found.id),
                      lambda: _items_response(found, SupplierItemForm(formdata=None), 200,
                                              flashed=message))

    return run_form(form, render, save, saved, labelled=True,
                    refused=beside_fields(form, render, names={"product_id": "code"}))


def _item_values(form: SupplierItemForm) -> dict[str, Any]:
    return {
        "unit_cost": (form.unit_cost.data or "").strip() or None,
        "supplier_sku": form.supplier_sku.data or None,
        "pack_size": form.pack_size.number if form.pack_size.number is not None else 1,
        "min_order_qty": form.min_order_qty.number or 0,
        "preferred": bool(form.preferred.data),
    }


def _terms(item: SupplierItemView) -> str:
    said = [f"{format_money(item.unit_cost, item.currency)} a unit"]
    if item.pack_size > 1:
        said.append(f"in packs of {item.pack_size:,}")
    if item.min_order_qty:
        said.append(f"at least {item.min_order_qty:,} an order")
    if item.preferred:
        said.append("preferred")
    return ", ".join(said)


def _item(item_id: int) -> tuple[SupplierItemView, SupplierView]:
    item = purchasing.get_supplier_item(current_actor(), item_id)
    return item, _supplier(item.supplier_id)


@bp.route("/supplier-items/<int:item_id>/edit", methods=["GET", "POST"])
@login_required
def supplier_item_edit(item_id: int):  # type: ignore[no-untyped-def]
    """Change what a supplier sells a variant for: a dialog under htmx, a page without."""
    item, found = _item(item_id)
    form = SupplierItemForm(data=None if request.method == "POST" else {
        "code": item.sku, "unit_cost": plain_amount(item.unit_cost, item.currency),
        "supplier_sku": item.supplier_sku or "", "pack_size": str(item.pack_size),
        "min_order_qty": str(item.min_order_qty), "preferred": item.preferred,
    })
    title = "Edit supplier item"
    back = url_for("purchasing.supplier", supplier_id=found.id)
    view = FormView("purchasing/_item_form.html", title, context={
        "form": form, "item": item, "supplier": found, "title": title, "problem": None,
        "back": back,
    }, crumbs=[("Suppliers", url_for("purchasing.suppliers", store=found.store_id)),
               (found.name, back)])
    if request.method == "GET":
        return view.render()

    def saved(after: SupplierItemView) -> Response:
        message = f"{found.name} sells {after.sku} at {_terms(after)}."
        return finish(message, back, lambda: swap(_items_response(
            found, SupplierItemForm(formdata=None), 200, flashed=message), "#supplier-items"))

    return run_form(
        form, view.render,
        lambda: purchasing.set_supplier_item(actor=current_actor(), supplier_id=found.id,
                                             product_id=item.product_id, **_item_values(form)),
        saved, labelled=True, refused=beside_fields(form, view.render),
    )


@bp.route("/supplier-items/<int:item_id>/remove", methods=["GET", "POST"])
@login_required
def supplier_item_remove(item_id: int):  # type: ignore[no-untyped-def]
    """The supplier no longer sells this variant (orders keep their lines), after a
    confirmation."""
    item, found = _item(item_id)
    form = ConfirmForm()
    back = url_for("purchasing.supplier", supplier_id=found.id)
    view = FormView("purchasing/_confirm.html", "Remove supplier item", context={
        "form": form, "title": f"Remove {item.sku} from {found.name}",
        "button": "Remove item", "destructive": True, "problem": None, "back": back,
        "target": url_for("purchasing.supplier_item_remove", item_id=item.id),
        "explain": [f"{found.name} will no longer be listed as selling {item.title} "
                    f"({item.sku}). Orders already made keep their lines."],
    })
    if request.method == "GET":
        return view.render()

    def removed(_none: None) -> Response:
        message = f"{found.name} no longer sells {item.sku}."
        return finish(message, back, lambda: swap(_items_response(
            found, SupplierItemForm(formdata=None), 200, flashed=message), "#supplier-items"))

    return run_form(
        form, view.render,
        lambda: purchasing.remove_supplier_item(actor=current_actor(), supplier_item_id=item.id),
        removed,
    )


# --------------------------------------------------------------------------- the store's


@bp.route("/stores/<int:store_id>/currency", methods=["GET", "POST"])
@login_required
def store_currency(store_id: int):  # type: ignore[no-untyped-def]
    """The currency the store keeps costs and values stock in: it changes only before the
    store has purchase orders or known costs."""
    store = store_named(store_id)
    form = CurrencyForm(data=None if request.method == "POST" else {
        "currency": store.currency})
    back = url_for("purchasing.suppliers", store=store.id)
    title = "Store currency"
    view = FormView("purchasing/_currency_form.html", title, context={
        "form": form, "store": store, "title": title, "problem": None, "back": back,
    }, crumbs=[("Suppliers", back)])
    if request.method == "GET":
        return view.render()
    before = store.currency

    def saved(code: str) -> Response:
        message = (f"{store.name} keeps its costs in {code} (was {before})." if code != before
                   else f"{store.name} already keeps its costs in {code}.")
        if is_htmx():
            return reload_main(back, message)
        return finish(message, back, lambda: make_response(""))

    return run_form(
        form, view.render,
        lambda: purchasing.set_store_currency(actor=current_actor(), store_id=store.id,
                                              currency=form.currency.data or ""),
        saved, refused=beside_fields(form, view.render), labelled=True,
    )
