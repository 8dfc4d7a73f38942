"""A draft's lines: added by scanning or typing a code (a second scan of the same variant
adds a pack to its line), changed and removed while the order is a draft."""

from __future__ import annotations

from flask import abort, make_response, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.purchasing import bp
from app.purchasing.common import (
    beside_fields,
    plain_amount,
    product_for_code,
)
from app.purchasing.forms import ConfirmForm, LineEditForm, LineForm, amount_text
from app.purchasing.order_view import lines_context, load_order, order_context
from app.services import purchasing
from app.services.purchasing import PurchaseOrderLineView, PurchaseOrderView
from app.web import current_actor, format_money
from app.web.actions import FormView, finish, flash_oob, run_form, swap
from app.web.htmx import is_htmx

# The service names a new line's fields lines[0].…; the form calls them by their own names.
LINE_FIELDS = {"lines[0].product_id": "code", "lines[0].location_id": "location_id",
               "lines[0].quantity": "quantity", "lines[0].unit_cost": "unit_cost",
               "lines": "code"}


def _lines_response(found: PurchaseOrderView, form: LineForm | None, status: int,
                    problem: str | None = None, flashed: str | None = None,
                    changed: int | None = None) -> Response:
    """The lines panel for htmx (with the flash), else the order's whole page."""
    if not is_htmx():
        html = render_template("purchasing/order.html", **{
            **order_context(found), **lines_context(found, form, problem)})
        return make_response(html, status)
    html = render_template("purchasing/_order_lines.html",
                           **lines_context(found, form, problem, changed))
    if flashed:
        html += flash_oob(flashed)
    return make_response(html, status)


@bp.post("/orders/<int:order_id>/lines")
@login_required
def line_add(order_id: int):  # type: ignore[no-untyped-def]
    """Add what a scanned or typed code names to a draft: the quantity typed, else the
    supplier's minimum in whole packs; the cost typed, else the supplier's. The same
    variant to the same location again adds to its line (a pack, or the quantity typed)."""
    found = load_order(order_id)
    form = LineForm()  # its choices are set where it is drawn (lines_context)

    def render(status: int, problem: str | None = None) -> Response:
        return _lines_response(found, form, status, problem)

    def add() -> tuple[PurchaseOrderView, str, int]:
        product = product_for_code(found.store_id, form.code.data)
        after, line_id, before = purchasing.add_scanned_line(
            actor=current_actor(), order_id=found.id, product_id=product.id,
            location_id=form.location_id.id_value, quantity=form.quantity.number,
            unit_cost=amount_text(form.unit_cost), expected_version=found.version)
        line = next(x for x in after.lines if x.id == line_id)
        if before is not None:
            return after, (f"{line.sku} at {line.location_code}: {before:,} → "
                           f"{line.ordered_qty:,}."), line_id
        return after, (f"Added {line.ordered_qty:,} × {line.sku} to {line.location_code} "
                       f"at {format_money(line.unit_cost, after.currency)}."), line_id

    def added(result: tuple[PurchaseOrderView, str, int]) -> Response:
        after, message, line_id = result
        fresh = LineForm(formdata=None, data={"location_id": str(form.location_id.id_value)})
        return finish(message, url_for("purchasing.order", order_id=after.id,
                                       to=form.location_id.id_value),
                      lambda: _lines_response(after, fresh, 200, flashed=message,
                                              changed=line_id))

    return run_form(form, render, add, added, labelled=True,
                    refused=beside_fields(form, render, names=LINE_FIELDS))


def _line(found: PurchaseOrderView, line_id: int) -> PurchaseOrderLineView:
    line = next((x for x in found.lines if x.id == line_id), None)
    if line is None:
        abort(404)
    return line


@bp.route("/orders/<int:order_id>/lines/<int:line_id>/edit", methods=["GET", "POST"])
@login_required
def line_edit(order_id: int, line_id: int):  # type: ignore[no-untyped-def]
    """Change a draft line's quantity and unit cost: a dialog under htmx, a page without."""
    found = load_order(order_id)
    line = _line(found, line_id)
    form = LineEditForm(data=None if request.method == "POST" else {
        "expected_version": str(found.version), "quantity": str(line.ordered_qty),
        "unit_cost": plain_amount(line.unit_cost, found.currency)})
    back = url_for("purchasing.order", order_id=found.id)
    title = "Edit line"
    view = FormView("purchasing/_line_form.html", title, context={
        "form": form, "order": found, "line": line, "title": title, "problem": None,
        "back": back,
    }, crumbs=[("Purchase orders", url_for("purchasing.orders", store=found.store_id)),
               (found.number, back)])
    if request.method == "GET":
        return view.render()

    def saved(after: PurchaseOrderView) -> Response:
        now = _line(after, line_id)
        message = (f"{now.sku} at {now.location_code}: {line.ordered_qty:,} → "
                   f"{now.ordered_qty:,} at {format_money(now.unit_cost, after.currency)}.")
        return finish(message, back, lambda: swap(
            _lines_response(after, None, 200, flashed=message, changed=line_id), "#po-lines"))

    return run_form(
        form, view.render,
        lambda: purchasing.update_purchase_order_line(
            actor=current_actor(), line_id=line.id, quantity=form.quantity.number,
            unit_cost=amount_text(form.unit_cost), expected_version=form.expected_version.number),
        saved, labelled=True, refused=beside_fields(form, view.render),
    )


@bp.route("/orders/<int:order_id>/lines/<int:line_id>/remove", methods=["GET", "POST"])
@login_required
def line_remove(order_id: int, line_id: int):  # type: ignore[no-untyped-def]
    """Take a line off a draft, after a confirmation."""
    found = load_order(order_id)
    line = _line(found, line_id)
    form = ConfirmForm()
    back = url_for("purchasing.order", order_id=found.id)
    view = FormView("purchasing/_confirm.html", "Remove line", context={
        "form": form, "title": f"Remove {line.sku} from {found.number}",
        "button": "Remove line", "destructive": True, "problem": None, "back": back,
        "target": url_for("purchasing.line_remove", order_id=found.id, line_id=line.id),
        "explain": [f"{line.ordered_qty:,} × {line.title} ({line.sku}) to "
                    f"{line.location_code} will no longer be on {found.number}."],
    })
    if request.method == "GET":
        return view.render()

    def removed(after: PurchaseOrderView) -> Response:
        message = f"Removed {line.sku} at {line.location_code} from {after.number}."
        return finish(message, back, lambda: swap(
            _lines_response(after, None, 200, flashed=message), "#po-lines"))

    return run_form(
        form, view.render,
        lambda: purchasing.remove_purchase_order_line(
            actor=current_actor(), line_id=line.id, expected_version=found.version),
        removed,
    )

