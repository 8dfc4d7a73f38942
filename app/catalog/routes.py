"""Catalog screens: a store's locations and products, and stocking a product somewhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.catalog import bp
from app.catalog.channel_panel import panel_context
from app.catalog.forms import (
    BundleForm,
    ConfirmForm,
    NewLocationForm,
    ProductForm,
    RenameLocationForm,
    StockEntryForm,
)
from app.permissions import CATALOG
from app.services import bundles, catalog, items, locations, stock
from app.services.errors import Conflict, ValidationError
from app.services.validation import ascii_strip
from app.web import current_actor, readable_stores, show_store
from app.web.actions import FormView, finish, flash_oob, run_form, swap
from app.web.htmx import is_htmx, vary_on_htmx, wants_fragment
from app.web.urls import safe_next

# The location actions a dialog offers: (title, button, service, past tense, destructive).
LOCATION_ACTIONS: dict[str, tuple[str, str, Any, str, bool]] = {
    "rename": ("Rename location", "Save name", locations.rename_location, "Renamed", False),
    "archive": ("Archive location", "Archive location", locations.archive_location,
                "Archived", True),
    "unarchive": ("Restore location", "Restore location", locations.unarchive_location,
                  "Restored", False),
}


# --------------------------------------------------------------------------- stores


def _store_id() -> int | None:
    """The store a catalog page is about: ?store=ID, else the user's only store. With
    several and none named it is None: the page asks which, rather than pick one.
    A malformed id is a 404, like a foreign one (the service says NotFound for those)."""
    raw = ascii_strip(request.args.get("store") or "")
    if not raw:
        stores = readable_stores()
        store_id = stores[0].id if len(stores) == 1 else None
    elif not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        abort(404)
    else:
        store_id = int(raw)
    show_store(store_id)
    return store_id


def _manageable_stores() -> list[Any]:
    """The user's stores whose catalog they may change, for a create form's store choice."""
    actor = current_actor()
    return [s for s in readable_stores() if actor.can(CATALOG, s.id)]


class StoreNotChosen(Exception):
    """A create form reached the server without naming its store, and the user has several."""

    message = "Choose the store to add it to."


def _store_to_create_in() -> int:
    """The store a create form acts in: its `store` field, else ?store=, else the user's one
    store it could be. Several and none named: StoreNotChosen, never a guess."""
    raw = (request.form.get("store") or request.args.get("store") or "").strip()
    if raw:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            abort(404)
        store_id = int(raw)
    else:
        stores = _manageable_stores()
        if not stores:
            abort(403 if readable_stores() else 404)
        if len(stores) > 1:
            raise StoreNotChosen
        store_id = stores[0].id
    catalog.readable_store(current_actor(), store_id)  # foreign ids: 404 before any 403
    _require_catalog(store_id)
    show_store(store_id)
    return store_id


def store_for_new_form() -> int | None:
    """The store an empty create form opens in: the one ?store= names, else the user's
    only store whose catalog they manage; None when they manage several (the form asks)."""
    if request.args.get("store"):
        return _store_to_create_in()
    stores = _manageable_stores()
    if not stores:
        abort(404 if not readable_stores() else 403)
    store_id = stores[0].id if len(stores) == 1 else None
    show_store(store_id)
    return store_id


def _require_catalog(store_id: int) -> None:
    if not current_actor().can(CATALOG, store_id):
        abort(403)


def _beside(form: FlaskForm, field: str, page: Callable[[], Response],
            when: Callable[[Conflict], bool] = lambda _exc: True,
            ) -> Callable[[Any], Response | None]:
    """A conflict that is about one field (a code or SKU already taken): its message beside
    that field, the form drawn again with 409."""
    def refused(exc: Any) -> Response | None:
        if not isinstance(exc, Conflict) or not when(exc):
            return None
        errors = getattr(form, field).errors
        getattr(form, field).errors = [*errors, exc.message]
        return page()

    return refused


# --------------------------------------------------------------------------- locations


@bp.get("/locations", endpoint="locations")
@login_required
def location_list():  # type: ignore[no-untyped-def]
    """A store's locations with their stock totals, active first, archived apart."""
    store_id = _store_id()
    form = NewLocationForm(formdata=None)
    return _locations_response(store_id, form, 200)


@bp.post("/locations")
@login_required
def location_create():  # type: ignore[no-untyped-def]
    """Add a location to the store the form names; the code is stored UPPERCASE."""
    form = NewLocationForm()
    try:
        store_id = _store_to_create_in()
    except StoreNotChosen as exc:
        form.validate()
        return _locations_response(None, form, 422, store_error=exc.message)

    def added(created: Any) -> Response:
        message = f"Added location {created.code}."
        return finish(message, url_for("catalog.locations", store=store_id),
                      lambda: _locations_response(store_id, NewLocationForm(formdata=None), 200,
                                                  flashed=message))

    return run_form(
        form, lambda status, problem=None: _locations_response(store_id, form, status),
        lambda: locations.create_location(
            actor=current_actor(), store_id=store_id, code=form.code.data or "",
            name=form.name.data or "",
        ),
        added, labelled=True,
        refused=_beside(form, "code", lambda: _locations_response(store_id, form, 409)),
    )


@bp.route("/locations/<int:location_id>/<action_name>", methods=["GET", "POST"])
@login_required
def location_action(location_id: int, action_name: str):  # type: ignore[no-untyped-def]
    """Rename, archive or restore a location: a dialog under htmx, a page without."""
    if action_name not in LOCATION_ACTIONS:
        abort(404)
    actor = current_actor()
    place = locations.get_location(actor, location_id)
    show_store(place.store_id)
    _require_catalog(place.store_id)
    form: FlaskForm = RenameLocationForm() if action_name == "rename" else ConfirmForm()
    view = _location_dialog(action_name, form, place)
    if request.method == "GET":
        if action_name == "rename":
            form.name.data = place.name  # type: ignore[attr-defined]
        return view.render()
    _title, _button, service, done, _destructive = LOCATION_ACTIONS[action_name]

    def change() -> Any:
        kwargs: dict[str, Any] = {"actor": actor, "location_id": location_id}
        if action_name == "rename":
            kwargs["name"] = form.name.data or ""  # type: ignore[attr-defined]
        return service(**kwargs)

    def changed(after: Any) -> Response:
        if action_name == "rename":
            message = (f"Renamed {after.code}: “{place.name or 'no name'}” → "
                       f"“{after.name or 'no name'}”.")
        else:
            message = f"{done} location {after.code}."
        return finish(message, url_for("catalog.locations", store=place.store_id),
                      lambda: swap(_locations_response(
                          place.store_id, NewLocationForm(formdata=None), 200,
                          flashed=message), "#locations"))

    return run_form(form, view.render, change, changed, labelled=True)


def _locations_response(store_id: int | None, form: FlaskForm, status: int,
                        flashed: str | None = None, store_error: str | None = None,
                        channel_form: Any = None,
                        channel_problem: str | None = None):  # type: ignore[no-untyped-def]
    actor = current_actor()
    rows = locations.list_locations(actor, store_id) if store_id is not None else []
    context = {
        "store_id": store_id,
        "active": [r for r in rows if not r.archived],
        "archived": [r for r in rows if r.archived],
        "form": form,
        "can_manage": actor.can(CATALOG, store_id) if store_id is not None
        else bool(_manageable_stores()),
        "manageable": _manageable_stores(),
        "store_error": store_error,
    }
    if is_htmx() and (request.method == "POST" or (wants_fragment() and store_id is not None)):
        # The locations part alone: the channels panel beside it keeps what it shows. With
        # no store chosen, a list's request gets the whole page, which asks which.
        html = render_template("catalog/_locations.html", **context)
        if flashed:
            html += flash_oob(flashed)
        return vary_on_htmx(make_response(html, status))
    context.update(panel_context(store_id, channel_form), channel_problem=channel_problem)
    return vary_on_htmx(make_response(render_template("catalog/locations.html", **context),
                                      status))


def _location_dialog(action_name: str, form: FlaskForm,
                     place: locations.LocationRow) -> FormView:
    title, button, _service, _done, destructive = LOCATION_ACTIONS[action_name]
    return FormView("catalog/_location_action.html", title, context={
        "action_name": action_name, "title": title, "button": button,
        "destructive": destructive, "form": form, "place": place, "problem": None,
        "back": url_for("catalog.locations", store=place.store_id),
    })


# --------------------------------------------------------------------------- products


@bp.get("/products", endpoint="products")
@login_required
def product_list():  # type: ignore[no-untyped-def]
    """A store's products by SKU with stock totals; search by SKU, title or GTIN."""
    actor = current_actor()
    store_id = _store_id()
    search = (request.args.get("q") or "").strip()[:catalog.SEARCH_MAX_LENGTH]
    archived = request.args.get("archived") == "1"
    cursor = (request.args.get("cursor") or "").strip() or None
    errors: dict[str, str] = {}
    page = None
    if store_id is not None:
        try:
            page = catalog.list_products(actor, store_id, search=search, archived=archived,
                                         cursor=cursor)
        except ValidationError as exc:
            # A stale or forged page link: say so and show the first page.
            errors, cursor = exc.fields, None
            page = catalog.list_products(actor, store_id, search=search, archived=archived)
    context = {
        "store_id": store_id, "page": page, "search": search, "archived": archived,
        "cursor": cursor, "errors": errors,
        "can_manage": actor.can(CATALOG, store_id) if store_id is not None
        else bool(_manageable_stores()),
    }
    status = 422 if errors else 200
    # No store chosen (a user of several stores, none named): only the whole page asks
    # which, so that is the answer even to htmx.
    if wants_fragment() and page is not None:
        response = make_response(render_template("catalog/_products.html", **context), status)
        response.headers["HX-Push-Url"] = _products_url(store_id, search, archived, cursor)
        return vary_on_htmx(response)
    return vary_on_htmx(make_response(render_template("catalog/products.html", **context),
                                      status))


def _products_url(store_id: int | None, search: str, archived: bool,
                  cursor: str | None) -> str:
    params: dict[str, Any] = {"store": store_id}
    if search:
        params["q"] = search
    if archived:
        params["archived"] = "1"
    if cursor:
        params["cursor"] = cursor
    return url_for("catalog.products", **params)


@bp.route("/products/new", methods=["GET", "POST"])
@login_required
def product_new():  # type: ignore[no-untyped-def]
    """Add a product to the catalog of the store the form names."""
    form = ProductForm()
    if request.method == "GET":
        return _product_form(form, None, store_for_new_form(), 200)
    try:
        store_id = _store_to_create_in()
    except StoreNotChosen:
        form.validate()
        return _product_form(form, None, None, 422,
                             store_error="Choose the store to add the product to.")

    def added(product: Any) -> Response:
        # The new product's own page, whether or not htmx sent the form.
        flash(f"Added {product.sku} — {product.title}." + (
            " Stock it at a location below." if product.type == "physical" else ""), "success")
        return redirect(url_for("catalog.product_edit", product_id=product.id), code=303)

    return run_form(
        form, lambda status, problem=None: _product_form(form, None, store_id, status, problem),
        lambda: catalog.create_product(actor=current_actor(), store_id=store_id,
                                       **_product_values(form)),
        added, labelled=True,
        refused=_beside(form, "sku", lambda: _product_form(form, None, store_id, 409)),
    )


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@login_required
def product_edit(product_id: int):  # type: ignore[no-untyped-def]
    """Change a product's details; archive or restore it; stock it at a location."""
    actor = current_actor()
    product = catalog.get_product(actor, product_id)
    show_store(product.store_id)
    _require_catalog(product.store_id)
    form = ProductForm(data=None if request.method == "POST" else _product_data(product))
    if request.method == "GET":
        return _product_form(form, product, product.store_id, 200)

    def saved(after: Any) -> Response:
        flash(f"Saved {after.sku} — {after.title}.", "success")
        return redirect(url_for("catalog.product_edit", product_id=product_id), code=303)

    return run_form(
        form,
        lambda status, problem=None: _product_form(form, product, product.store_id, status,
                                                   problem),
        lambda: catalog.update_product(actor=actor, product_id=product_id,
                                       **_product_values(form)),
        saved, labelled=True,
        refused=_beside(form, "sku", lambda: _product_form(form, product, product.store_id, 409),
                        when=lambda exc: "SKU" in exc.message),
    )


def _product_data(product: catalog.ProductRow) -> dict[str, Any]:
    return {
        "sku": product.sku, "title": product.title, "gtin": product.gtin or "",
        "product_type": product.type, "allow_backorder": product.allow_backorder,
        "reorder_point": str(product.reorder_point),
        "reorder_quantity": str(product.reorder_quantity),
        "reorder_up_to": str(product.reorder_up_to),
    }


@bp.post("/products/<int:product_id>/components")
@login_required
def product_components(product_id: int):  # type: ignore[no-untyped-def]
    """Make a product a bundle of other products, change its components, or (with none
    listed) make it an ordinary product again."""
    actor = current_actor()
    product = catalog.get_product(actor, product_id)
    show_store(product.store_id)
    _require_catalog(product.store_id)
    form = BundleForm()

    def render(status: int, problem: str | None = None) -> Response:
        return _product_form(ProductForm(formdata=None, data=_product_data(product)), product,
                             product.store_id, status, bundle_form=form,
                             bundle_problem=problem)

    def save() -> list[bundles.Component]:
        parts = bundles.parse_parts(actor, product.store_id, form.components.data or "")
        return bundles.set_components(actor=actor, bundle_id=product_id, parts=parts)

    def saved(parts: list[bundles.Component]) -> Response:
        if parts:
            flash(f"{product.sku} is a bundle of "
                  + ", ".join(f"{c.sku} ×{c.quantity}" for c in parts) + ".", "success")
        else:
            flash(f"{product.sku} is no longer a bundle.", "success")
        return redirect(url_for("catalog.product_edit", product_id=product_id), code=303)

    return run_form(form, render, save, saved, labelled=True,
                    refused=_beside(form, "components", lambda: render(409)))


@bp.post("/products/<int:product_id>/<any(archive, unarchive):verb>")
@login_required
def product_archive(product_id: int, verb: str):  # type: ignore[no-untyped-def]
    """Archive a product (it leaves the list and the reorder report) or restore it."""
    actor = current_actor()
    product = catalog.get_product(actor, product_id)
    _require_catalog(product.store_id)
    form = ConfirmForm()
    if not form.validate():
        abort(400, "Your session expired. Reload the page and try again.")
    service = catalog.archive_product if verb == "archive" else catalog.unarchive_product
    try:
        after = service(actor=actor, product_id=product_id)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"{'Archived' if after.archived else 'Restored'} {after.sku} — {after.title}.",
              "success")
    return redirect(url_for("catalog.product_edit", product_id=product_id), code=303)


@bp.route("/products/<int:product_id>/stock", methods=["GET", "POST"])
@login_required
def product_stock(product_id: int):  # type: ignore[no-untyped-def]
    """Start tracking a product at a location, with its opening stock."""
    actor = current_actor()
    product = catalog.get_product(actor, product_id)
    show_store(product.store_id)
    _require_catalog(product.store_id)
    form = StockEntryForm()
    options = catalog.stocking_options(actor, product_id)
    form.location_id.choices = _location_choices(options)
    view = _stock_form(form, product)

    def render(status: int = 200, **changes: Any) -> Response:
        if status != 200:
            # A corrected retry is a new request, not a replay of the refused one.
            form.idempotency_key.data = uuid.uuid4().hex
        return view.render(status, **changes)

    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
        return render()

    def track() -> Any:
        raw = ascii_strip(form.location_id.data or "")
        if not raw:
            raise ValidationError({"location_id": "Choose a location."})
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            raise ValidationError({"location_id": "Choose one from the list."})
        return stock.create_entry(
            actor=actor, product_id=product_id, location_id=int(raw),
            quantity=form.quantity.number or 0,
            low_stock_threshold=form.low_stock_threshold.number or 0,
            reason=(form.reason.data or "").strip() or None,
            unit_cost=form.unit_cost.data or None,
            idempotency_key=form.idempotency_key.data,
        )

    def stocked(change: Any) -> Response:
        code = next((o.code for o in options if o.id == change.entry.location_id),
                    "the location")
        message = (f"Now tracking {product.sku} at {code}: "
                   f"{change.entry.quantity:,} on hand.")
        return finish(message, url_for("inventory.product", product_id=product_id),
                      lambda: swap(render_template(
                          "catalog/_product_row.html",
                          product=catalog.get_product(actor, product_id), can_manage=True,
                      ) + flash_oob(message), f"#product-{product_id}"))

    return run_form(form, render, track, stocked, labelled=True)


def _product_values(form: ProductForm) -> dict[str, Any]:
    return {
        "sku": form.sku.data or "",
        "title": form.title.data or "",
        "gtin": (form.gtin.data or "").strip() or None,
        "product_type": form.product_type.data,
        "allow_backorder": bool(form.allow_backorder.data),
        "reorder_point": form.reorder_point.number,
        "reorder_quantity": form.reorder_quantity.number,
        "reorder_up_to": form.reorder_up_to.number or 0,
    }


def _product_form(form: ProductForm, product: catalog.ProductRow | None, store_id: int | None,
                  status: int, problem: str | None = None,
                  store_error: str | None = None,
                  bundle_form: BundleForm | None = None,
                  bundle_problem: str | None = None):  # type: ignore[no-untyped-def]
    context: dict[str, Any] = {
        "bundle_problem": bundle_problem,
        "form": form, "product": product, "store_id": store_id, "problem": problem,
        "confirm": ConfirmForm(formdata=None), "manageable": _manageable_stores(),
        "store_error": store_error,
        "variant_of": items.item_of(current_actor(), product.id) if product else None,
    }
    if product is not None and not product.unlimited:
        parts = bundles.components_of(product.id)
        context["bundle_parts"] = parts
        context["bundle_made"] = (bundles.bundle_availability(current_actor(), product.id)
                                  if parts else None)
        context["bundle_form"] = bundle_form or BundleForm(formdata=None, data={
            "components": "\n".join(f"{c.sku} × {c.quantity}" for c in parts)})
    if product is not None and not product.unlimited and not context.get("bundle_parts"):
        stock_form = StockEntryForm(formdata=None)
        stock_form.idempotency_key.data = uuid.uuid4().hex
        options = catalog.stocking_options(current_actor(), product.id)
        stock_form.location_id.choices = _location_choices(options)
        context["stock_form"] = stock_form
    return make_response(render_template("catalog/product_form.html", **context), status)


def _stock_form(form: StockEntryForm, product: catalog.ProductRow) -> FormView:
    title = "Stock at a location"
    return FormView("catalog/_stock_form.html", title, context={
        "form": form, "product": product, "problem": None, "title": title,
        "back": safe_next(request.args.get("next"))
        or url_for("catalog.product_edit", product_id=product.id),
    })


def _location_choices(options: Iterable[Any]) -> list[SelectChoice]:
    """Where a product can still be stocked, as the Location select offers it."""
    return [SelectChoice("", "Choose a location")] + [
        SelectChoice(str(o.id), f"{o.code} — {o.name}" if o.name else o.code) for o in options
    ]
