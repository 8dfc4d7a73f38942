"""CSV import of inventory entries: upload, a dry-run preview, then apply all or nothing.

Nothing is kept on the server between preview and apply: the preview page carries the file
and what it saw of each entry in a signed token, so any app process can apply it, and apply
plans the file again under lock.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import RequestEntityTooLarge

from app.extensions import csrf
from app.imports import bp
from app.services import stock
from app.services.errors import ImportRefused
from app.services.stock import ImportPlan
from app.web import current_actor
from app.web.boundary import screen_form, screens_its_own_form

# Bytes a browser may upload: a 100,000-row export is about 8 MB.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
# The apply form carries the whole file, compressed, in one field.
MAX_TOKEN_BYTES = 24 * 1024 * 1024
TOKEN_MAX_AGE = 60 * 60  # seconds a preview stays appliable
RECENT_BATCHES = 5  # applied batches a session may reopen although they wrote no movement
SHOWN_ROWS = 500  # rows listed on the preview; the counts cover all of them
SHOWN_PRODUCTS = 200  # new products listed on their own above the rows
EXPORT_URL = "/inventory.csv"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="stockroom.import")


def _protect(limit: int) -> None:
    """Refuse bodies over `limit` before reading them, then check the CSRF token (the app's
    check runs before any view could raise the form limits, so these views run it here)."""
    request.max_content_length = limit
    request.max_form_memory_size = limit
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    screen_form(long_fields=("token",))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """An upload over the limit: say how large a file may be, on the upload page."""
    problem = (
        f"The file is too large: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB can be "
        "uploaded here. Split it, or import it with `flask inventory import`."
    )
    return _start_page(problem, 413)


@bp.get("")
@login_required
def start():  # type: ignore[no-untyped-def]
    """The upload form and what the file must look like."""
    return _start_page(None, 200)


@bp.post("/preview")
@csrf.exempt
@login_required
@screens_its_own_form
def preview():  # type: ignore[no-untyped-def]
    """Plan the uploaded file without changing anything and show every row's effect."""
    _protect(MAX_UPLOAD_BYTES)
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    if upload is None or (not upload.filename and not data):
        return _start_page("Choose a CSV file to upload.", 422)
    plan = stock.plan_import(data, actor=current_actor())
    name = (upload.filename or "upload.csv")[-100:]
    return _preview_page(plan, data, name, stock.new_batch_ref())


@bp.post("/apply")
@csrf.exempt
@login_required
@screens_its_own_form
def apply():  # type: ignore[no-untyped-def]
    """Apply a previewed file: all rows or none, as one batch in the ledger."""
    _protect(MAX_TOKEN_BYTES)
    try:
        token = _serializer().loads(request.form.get("token", ""), max_age=TOKEN_MAX_AGE)
    except SignatureExpired:
        return _start_page("This preview is more than an hour old. Upload the file again.", 422)
    except BadSignature:
        return _start_page("This preview could not be read. Upload the file again.", 422)
    if token.get("user") != current_user.id:
        return _start_page("This preview belongs to another sign-in. Upload the file again.",
                           422)
    data = str(token["data"]).encode()
    name, ref = str(token["name"]), str(token["batch"])
    seen = {int(line): int(version) for line, version in token["seen"]}
    actor = current_actor()
    if token.get("warnings") and request.form.get("confirm") != "yes":
        plan = stock.plan_import(data, actor=actor)
        return _preview_page(plan, data, name, ref, status=422,
                             confirm_error="Tick the box to confirm you have read the warnings.")
    try:
        result = stock.apply_import(data, actor=actor, batch_ref=ref, seen=seen)
    except ImportRefused as exc:
        plan = stock.plan_import(data, actor=actor)
        return _preview_page(plan, data, name, stock.new_batch_ref(), status=409,
                             problem=exc.message)
    if result.replayed:
        flash(f"This file was already imported as {result.batch_ref}; nothing changed.", "info")
    else:
        flash(f"Imported {name}: {stock.describe_result(result)}.", "success")
    # The done page of a batch that wrote no movement (thresholds only) has nothing in the
    # ledger to prove whose it is: the signed session remembers the last few applied here.
    session["import_batches"] = [result.batch_ref,
                                 *session.get("import_batches", [])][:RECENT_BATCHES]
    return redirect(url_for("imports.done", batch_ref=result.batch_ref), 303)


@bp.get("/batches/<batch_ref>")
@login_required
def done(batch_ref: str):  # type: ignore[no-untyped-def]
    """What an applied import wrote, and where to look at it. A batch with no movement in the
    reader's stores is not found, like every other thing of another store's, unless this
    sign-in applied it."""
    if not batch_ref.startswith("import-") or len(batch_ref) > 64:
        return _start_page("That is not an import batch reference.", 404)
    by_store = stock.batch_movements(current_actor(), batch_ref)
    if not by_store and batch_ref not in session.get("import_batches", []):
        abort(404)
    # An import of one store's entries leads back to that store's overview.
    store_id = next(iter(by_store)) if len(by_store) == 1 else None
    return render_template("imports/done.html", batch_ref=batch_ref,
                           movements=sum(by_store.values()), store_id=store_id)


# --------------------------------------------------------------------------- pages


def _start_page(problem: str | None, status: int):  # type: ignore[no-untyped-def]
    html = render_template(
        "imports/start.html", problem=problem, export_url=EXPORT_URL,
        max_rows=stock.BROWSER_MAX_ROWS, max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
    )
    return make_response(html, status)


def _preview_page(  # type: ignore[no-untyped-def]
    plan: ImportPlan,
    data: bytes,
    name: str,
    batch_ref: str,
    *,
    status: int = 200,
    problem: str | None = None,
    confirm_error: str | None = None,
):
    token = None
    # A file that changes nothing has nothing to apply (a read-only user's preview, say):
    # the page then offers no Apply button at all.
    if plan.ok and plan.updates + plan.creates:
        token = _serializer().dumps({
            "user": current_user.id,
            "name": name,
            "batch": batch_ref,
            "data": data.decode("utf-8-sig"),
            "seen": sorted(plan.seen().items()),
            "warnings": plan.has_warnings,
        })
    shown = _rows_to_show(plan)
    context: dict[str, Any] = {
        "plan": plan,
        "name": name,
        "token": token,
        "shown": shown,
        "hidden": sum(1 for r in plan.rows if r.errors or r.warnings or r.changes) - len(shown),
        "shown_products": SHOWN_PRODUCTS,
        "problem": problem,
        "confirm_error": confirm_error,
        "export_url": EXPORT_URL,
    }
    return make_response(render_template("imports/preview.html", **context), status)


def _rows_to_show(plan: ImportPlan) -> list[stock.PlannedRow]:
    """Errors first, then warnings, then changes; rows that change nothing are only counted."""
    ranked = sorted(
        (r for r in plan.rows if r.errors or r.warnings or r.changes),
        key=lambda r: (0 if r.errors else 1 if r.warnings else 2, r.line),
    )
    return ranked[:SHOWN_ROWS]
