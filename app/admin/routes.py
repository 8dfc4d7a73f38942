"""Stores administration for platform admins: every store's statistics, one page per store,
and opening, renaming, archiving and unarchiving stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import ConfirmStoreForm, CreateStoreForm, RenameStoreForm, StoreActionForm
from app.extensions import login_manager
from app.permissions import Actor
from app.services import admin_stats
from app.services import stores as store_service
from app.services.admin_stats import StoreStats
from app.services.stores import StoreState
from app.web import current_actor
from app.web.actions import FormView, finish, run_form, swap
from app.web.htmx import vary_on_htmx, wants_fragment
from app.web.urls import safe_next


@dataclass(frozen=True)
class StoreAction:
    name: str
    title: str
    submit: str
    form: type[StoreActionForm]
    apply: Callable[[Actor, int, Any], StoreState]
    describe: Callable[[StoreState], str]
    destructive: bool = False
    # Archive offered on an archived store (and the reverse) is refused before the form.
    wrong_state: Callable[[StoreStats], str | None] = lambda _store: None


def _renamed(state: StoreState) -> str:
    if state.previous_name == state.name:
        return f"Nothing changed: the store is already called {state.name}."
    return f"Renamed store {state.previous_name} → {state.name}."


ACTIONS: dict[str, StoreAction] = {
    a.name: a
    for a in (
        StoreAction(
            "rename", "Rename store", "Rename", RenameStoreForm,
            lambda actor, store_id, form: store_service.rename_store(
                actor=actor, store_id=store_id, name=form.name.data or ""),
            _renamed,
        ),
        StoreAction(
            "archive", "Archive store", "Archive store", ConfirmStoreForm,
            lambda actor, store_id, _form: store_service.archive_store(
                actor=actor, store_id=store_id),
            lambda s: f"Archived {s.name}: its members no longer see it. Nothing was deleted.",
            destructive=True,
            wrong_state=lambda s: f"Store {s.name} is already archived." if s.archived else None,
        ),
        StoreAction(
            "unarchive", "Unarchive store", "Unarchive store", ConfirmStoreForm,
            lambda actor, store_id, _form: store_service.unarchive_store(
                actor=actor, store_id=store_id),
            lambda s: f"Unarchived {s.name}: its members see it again.",
            wrong_state=lambda s: None if s.archived else f"Store {s.name} is not archived.",
        ),
    )
}
CREATE = StoreAction(
    "create", "New store", "Create store", CreateStoreForm,
    lambda actor, _store_id, form: _created(actor, form),
    lambda s: f"Opened store {s.name} ({s.slug}). Next: its locations, products and people.",
)


def _created(actor: Actor, form: Any) -> StoreState:
    store = store_service.create_store(
        actor=actor, name=form.name.data or "", slug=form.slug.data or ""
    )
    return StoreState(store.id, store.name, store.slug, store.archived_at)


@bp.before_request
def _platform_admins_only():  # type: ignore[no-untyped-def]
    """Anonymous visitors sign in first; anyone else is not told this area exists."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_actor().is_platform_admin:
        abort(404)
    return None


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    """The administration starts at the stores."""
    return redirect(url_for("admin.stores"))


@bp.get("/stores")
def stores():  # type: ignore[no-untyped-def]
    """Every store with its statistics and the platform totals; htmx asks for the tables."""
    overview = admin_stats.stores_overview(current_actor())
    template = "admin/_stores.html" if wants_fragment() else "admin/stores.html"
    return vary_on_htmx(make_response(render_template(template, overview=overview)))


@bp.get("/stores/<int:store_id>")
def store(store_id: int):  # type: ignore[no-untyped-def]
    """One store: its statistics, what it is set up with, and where to manage it."""
    stats = admin_stats.store_stats(current_actor(), store_id)
    template = "admin/_store.html" if wants_fragment() else "admin/store.html"
    return vary_on_htmx(make_response(render_template(template, store=stats)))


@bp.route("/stores/new", methods=["GET", "POST"])
def create_store():  # type: ignore[no-untyped-def]
    """Open a store: the form (a dialog under htmx, a page without), and the change."""
    return _run(CREATE, None, url_for("admin.create_store"))


@bp.route("/stores/<int:store_id>/<action_name>", methods=["GET", "POST"])
def store_action(store_id: int, action_name: str):  # type: ignore[no-untyped-def]
    """Rename, archive or unarchive a store; archiving is a second, explicit click."""
    action = ACTIONS.get(action_name) or abort(404)
    stats = admin_stats.store_stats(current_actor(), store_id)
    target = url_for("admin.store_action", store_id=store_id, action_name=action.name)
    return _run(action, stats, target)


def _run(action: StoreAction, stats: StoreStats | None, target: str):  # type: ignore[no-untyped-def]
    actor = current_actor()
    form = action.form()
    view = _view(action, form, stats, target)
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if stats is not None and action.name == "rename":
            form.name.data = stats.name  # type: ignore[attr-defined]
        problem = action.wrong_state(stats) if stats is not None else None
        return view.render(409 if problem else 200, problem=problem, blocked=bool(problem))

    def done(state: StoreState) -> Response:
        message = action.describe(state)
        next_url = safe_next(form.next.data) or url_for("admin.stores")
        return finish(message, next_url, lambda: _refreshed(actor, state.id, next_url, message))

    return run_form(form, view.render,
                    lambda: action.apply(actor, stats.id if stats else 0, form), done)


def _refreshed(actor: Actor, store_id: int, next_url: str, message: str) -> Response:
    """After a change under htmx: the section the dialog was opened from, redrawn, and the
    flash out of band."""
    messages = [("success", message)]
    if urlsplit(next_url).path == url_for("admin.store", store_id=store_id):
        html = render_template("admin/_store.html", messages=messages, with_flash=True,
                               store=admin_stats.store_stats(actor, store_id))
        target = "#store-detail"
    else:
        html = render_template("admin/_stores.html", messages=messages, with_flash=True,
                               overview=admin_stats.stores_overview(actor))
        target = "#stores-admin"
    return swap(html, target, **{"stores-changed": {"store": store_id}})


def _view(action: StoreAction, form: Any, stats: StoreStats | None, target: str) -> FormView:
    crumbs = [("Stores", url_for("admin.stores"))]
    if stats is not None:
        crumbs.append((stats.name, url_for("admin.store", store_id=stats.id)))
    return FormView(
        "admin/_store_form.html", action.title, crumbs=crumbs,
        context={"action": action, "form": form, "store": stats, "target": target,
                 "problem": None, "blocked": False},
    )
