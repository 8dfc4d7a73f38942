"""Catalog screens for items with options: an item's variant × location matrix, a new item
made from its options' combinations, a value added to an option later, and archiving or
restoring an item with all its variants."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.catalog import bp
from app.catalog.forms import ConfirmForm, ItemForm, OptionValueForm, RenameItemForm
from app.catalog.routes import (
    StoreNotChosen,
    _manageable_stores,
    _store_to_create_in,
    store_for_new_form,
)
from app.permissions import ADJUST, CATALOG
from app.services import items
from app.services.errors import Conflict, StockroomError, ValidationError
from app.web import current_actor, show_store
from app.web.actions import FormView, attach_field_errors, finish, reload_main, run_form

# The service's field names where the form names them differently: a variant's SKU is made
# from the form's prefix.
ITEM_FIELDS = {"sku": "sku_prefix"}


@bp.get("/items/<int:item_id>", endpoint="item")
@login_required
def item_page(item_id: int):  # type: ignore[no-untyped-def]
    """An item: its options, totals, and every variant's stock at every location."""
    view = items.get_item(current_actor(), item_id)
    show_store(view.store_id)
    return _item_page(view, _value_form(view, formdata=None), 200)


@bp.post("/items/<int:item_id>/values")
@login_required
def item_add_value(item_id: int):  # type: ignore[no-untyped-def]
    """Add a value to one of the item's options, and a variant for each combination."""
    actor = current_actor()
    view = items.get_item(actor, item_id)
    show_store(view.store_id)
    if not actor.can(CATALOG, view.store_id):
        abort(403)
    form = _value_form(view)

    def add() -> tuple[int, ...]:
        raw = (form.option.data or "").strip()
        option = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 2 else 0
        return items.add_option_value(actor=actor, item_id=item_id, option=option,
                                      value=form.value.data or "",
                                      sku_prefix=form.sku_prefix.data or "")

    def added(product_ids: tuple[int, ...]) -> Response:
        after = items.get_item(actor, item_id)
        skus = [v.sku for v in after.variants if v.product_id in set(product_ids)]
        noun = "variant" if len(skus) == 1 else "variants"
        flash(f"Added {(form.value.data or '').strip()}: {len(skus)} new {noun}, "
              f"{', '.join(skus)}.", "success")
        return redirect(url_for("catalog.item", item_id=item_id), code=303)

    def render(status: int, problem: str | None = None) -> Response:
        return _item_page(view, form, status, problem=problem)

    def refused(exc: StockroomError) -> Response | None:
        if isinstance(exc, ValidationError):
            attach_field_errors(form, exc, fallback="value")
            return render(422)
        if isinstance(exc, Conflict):
            # A SKU the store already has: the prefix is what to change.
            form.sku_prefix.errors = [*form.sku_prefix.errors, exc.message]
            return render(409)
        return None

    return run_form(form, render, add, added, refused=refused)


@bp.post("/items/<int:item_id>/rename")
@login_required
def item_rename(item_id: int):  # type: ignore[no-untyped-def]
    """Give the item a new title; each variant's title follows."""
    actor = current_actor()
    view = items.get_item(actor, item_id)
    show_store(view.store_id)
    if not actor.can(CATALOG, view.store_id):
        abort(403)
    form = RenameItemForm()

    def renamed(title: str) -> Response:
        flash(f"Renamed {view.title} to {title}; its {len(view.variants)} variants follow.",
              "success")
        return redirect(url_for("catalog.item", item_id=item_id), code=303)

    return run_form(
        form, lambda status, problem=None: _item_page(
            view, _value_form(view, formdata=None), status, problem=problem, rename=form),
        lambda: items.rename_item(actor=actor, item_id=item_id, title=form.title.data or ""),
        renamed, labelled=True,
    )


@bp.route("/items/<int:item_id>/<any(archive, unarchive):verb>", methods=["GET", "POST"])
@login_required
def item_archive(item_id: int, verb: str):  # type: ignore[no-untyped-def]
    """Archive an item with all its variants, or restore it: a dialog that says what will
    happen (and which variants still hold stock) and asks for the second click."""
    actor = current_actor()
    view = items.get_item(actor, item_id)
    show_store(view.store_id)
    if not actor.can(CATALOG, view.store_id):
        abort(403)
    form = ConfirmForm()
    archive = verb == "archive"
    page = url_for("catalog.item", item_id=item_id)
    title = "Archive item" if archive else "Restore item"
    dialog = FormView("catalog/_item_archive.html", title, context={
        "item": view, "verb": verb, "title": title, "form": form, "problem": None,
        "holding": [v for v in view.variants if v.on_hand or v.reserved],
        "back": page,
    }, crumbs=(("Products", url_for("catalog.products", store=view.store_id)),
               (view.title, page)))
    if request.method == "GET":
        return dialog.render()

    def done(result: items.ArchivedItem) -> Response:
        count = len(result.skus)
        noun = "variant" if count == 1 else "variants"
        message = (f"Archived {result.title} and {count} {noun}." if archive
                   else f"Restored {result.title} and {count} {noun}.")
        return finish(message, page, lambda: reload_main(page, message))

    service = items.archive_item if archive else items.unarchive_item
    return run_form(form, dialog.render, lambda: service(actor=actor, item_id=item_id), done)


@bp.route("/items/new", methods=["GET", "POST"])
@login_required
def item_new():  # type: ignore[no-untyped-def]
    """Add an item with options, and a variant for every combination of their values."""
    form = ItemForm()
    if request.method == "GET":
        return _item_form(form, store_for_new_form(), 200)
    try:
        store_id = _store_to_create_in()
    except StoreNotChosen:
        form.validate()
        return _item_form(form, None, 422, store_error="Choose the store to add the item to.")

    def create() -> items.CreatedItem:
        options = items.parse_options(form.options.data or "")
        return items.create_item(
            actor=current_actor(), store_id=store_id, title=form.title.data or "",
            options=options,
            variants_to_make=items.generate(
                options, form.sku_prefix.data or "",
                reorder_point=form.reorder_point.number or 0,
                reorder_quantity=form.reorder_quantity.number or 0,
                reorder_up_to=form.reorder_up_to.number or 0,
            ),
            product_type=form.product_type.data or "", allow_backorder=bool(
                form.allow_backorder.data),
        )

    def created(made: items.CreatedItem) -> Response:
        count = len(made.product_ids)
        flash(f"Added {made.title} with {count} {'variant' if count == 1 else 'variants'}."
              + (" Stock them at a location from each variant's page."
                 if form.product_type.data == "physical" else ""), "success")
        return redirect(url_for("catalog.item", item_id=made.id), code=303)

    def refused(exc: StockroomError) -> Response | None:
        if isinstance(exc, ValidationError):
            attach_field_errors(form, exc, names=ITEM_FIELDS, labelled=True)
            return _item_form(form, store_id, 422)
        if isinstance(exc, Conflict):
            form.sku_prefix.errors = [*form.sku_prefix.errors, exc.message]
            return _item_form(form, store_id, 409)
        return None

    return run_form(
        form, lambda status, problem=None: _item_form(form, store_id, status, problem),
        create, created, refused=refused,
    )


def _value_form(view: items.ItemView, formdata: Any = ...) -> OptionValueForm:
    form = OptionValueForm() if formdata is ... else OptionValueForm(formdata=formdata)
    form.option.choices = [SelectChoice(str(n), o.name)
                           for n, o in enumerate(view.options, start=1)]
    if formdata is None:
        form.sku_prefix.data = items.sku_prefix_of(view)
    return form


def _item_page(view: items.ItemView, form: OptionValueForm, status: int,
               problem: str | None = None, rename: RenameItemForm | None = None) -> Response:
    actor = current_actor()
    context = {
        "item": view, "form": form, "problem": problem,
        "rename": rename or RenameItemForm(formdata=None, data={"title": view.title}),
        "can_manage": actor.can(CATALOG, view.store_id),
        "can_adjust": actor.can(ADJUST, view.store_id),
    }
    return make_response(render_template("catalog/item.html", **context), status)


def _item_form(form: ItemForm, store_id: int | None, status: int, problem: str | None = None,
               store_error: str | None = None) -> Response:
    context = {
        "form": form, "store_id": store_id, "problem": problem,
        "manageable": _manageable_stores(), "store_error": store_error,
    }
    return make_response(render_template("catalog/item_form.html", **context), status)
