"""What every page shares: the signed-in actor, security headers, errors, template helpers."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import Flask, Response, g, request, url_for
from flask_login import current_user

from app.extensions import db, login_manager
from app.models import Store
from app.permissions import READ, Actor, SignedInUser, actor_for_user, signed_in
from app.services import alerts
from app.services.money import format_amount, format_total
from app.services.queries import STATUS_LABELS
from app.web.boundary import screen_request
from app.web.errors import register_error_handlers
from app.web.health import register_health
from app.web.htmx import is_htmx
from app.web.request_ids import assign_request_id, request_id
from app.web.whitespace import StripIndentation

log = logging.getLogger("stockroom")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_web(app: Flask) -> None:
    """Wire request ids, headers, sign-in loading, error pages and template helpers."""
    app.before_request(assign_request_id)
    app.before_request(screen_request)
    app.after_request(_security_headers)
    register_error_handlers(app)
    register_health(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    # Block tags leave no blank lines behind: the overview's rows are most of its bytes.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    # And no indentation (app/web/whitespace.py).
    app.jinja_env.add_extension(StripIndentation)
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.filters["when"] = format_when
    app.jinja_env.filters["signed"] = format_signed
    app.jinja_env.filters["day"] = format_day
    # Money: `amount` for a figure (the currency's decimals, more where it has them: 0.0125)
    # and `cost` the same for a unit's cost; `money` adds the currency's code (1,250.00 EUR);
    # `total` rounds a sum to the currency's decimals.
    app.jinja_env.filters["amount"] = format_amount
    app.jinja_env.filters["cost"] = format_amount
    app.jinja_env.filters["money"] = format_money
    app.jinja_env.filters["total"] = format_total
    app.context_processor(_template_globals)


def current_actor() -> Actor:
    """The signed-in user's permissions, read with the user (see _load_user) once per
    request."""
    if "actor" not in g:
        # Loading the session's user sets g.actor from the same query.
        authenticated = current_user.is_authenticated
        if "actor" not in g:
            # Signed in during this request (login_user), or not signed in at all.
            g.actor = (actor_for_user(current_user.id) if authenticated
                       else Actor(name="anonymous"))
    return g.actor  # type: ignore[no-any-return]


def readable_stores() -> list[Store]:
    """The stores the signed-in user may look at, for the store switcher and filters."""
    if "readable_stores" not in g:
        allowed = current_actor().stores_with(READ)
        query = db.select(Store).where(Store.archived_at.is_(None)).order_by(Store.name)
        if allowed is not None:
            query = query.where(Store.id.in_(sorted(allowed)))
        g.readable_stores = list(db.session.scalars(query))
    return g.readable_stores


# Pages that show one store's things or all of the user's stores, chosen by ?store=: the top
# bar's switcher reloads them in the store picked, and the navigation carries the store along.
# Any other page (an entry, a product, a form) belongs to one store already: switching from
# there opens the overview.
STORE_PAGES = frozenset({
    "inventory.overview", "inventory.low_stock", "inventory.out_of_stock", "inventory.reorder",
    "inventory.valuation",
    "audit.movements", "activity.activity", "catalog.products", "catalog.locations",
    "receiving.start",
    "purchasing.suppliers", "purchasing.orders",
})


def show_store(store_id: int | None) -> None:
    """Name the store this page acts in (an entry's, a product's) in the top bar."""
    g.page_store_id = store_id


def current_store() -> Store | None:
    """The store the page acts in: the one its view named, else ?store= when that is one
    of the user's stores; None for "all my stores"."""
    if "page_store_id" in g:
        wanted: int | None = g.page_store_id
    else:
        raw = (request.args.get("store") or "").strip()
        wanted = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None
    if wanted is None:
        return None
    return next((s for s in readable_stores() if s.id == wanted), None)


def store_switch_url() -> str:
    """Where the top bar's store switcher goes: this page when it lists by store, else the
    overview."""
    endpoint = request.endpoint if request.endpoint in STORE_PAGES else "inventory.overview"
    return url_for(endpoint)


def in_store(endpoint: str) -> str:
    """A navigation link that keeps the current store."""
    store = current_store()
    return url_for(endpoint, store=store.id if store else None)


def format_number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def format_signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"{value:,}".replace("-", "−")


def format_money(value: Decimal | None, currency: str) -> str:
    """An amount with its currency's code after it, as people write it: 1,250.00 EUR."""
    return "—" if value is None else f"{format_amount(value, currency)}\u00a0{currency}"


def format_when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M")


def format_day(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%d %b")


def _load_user(token: str) -> SignedInUser | None:
    """The session's user and, from the same query, their actor (kept in g for
    current_actor): one statement per signed-in request, nothing cached across requests."""
    user_id, _, session_token = token.partition(":")
    if not user_id.isascii() or not user_id.isdigit() or len(user_id) > 10:
        return None
    loaded = signed_in(int(user_id), session_token)
    if loaded is None:
        return None
    user, g.actor = loaded
    return user


def _unauthorized() -> Any:
    from flask import flash, redirect, url_for

    target = url_for("auth.sign_in", next=request.full_path.rstrip("?"))
    if is_htmx():
        # Never swap a sign-in page into a table cell: send the whole window there.
        return Response(status=401, headers={"HX-Redirect": target})
    flash(login_manager.login_message, "info")
    return redirect(target)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Request-ID"] = request_id()
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def unread_alerts() -> int:
    """The signed-in user's unread stock alerts, for the bell (app.services.alerts)."""
    if "unread_alerts" not in g:
        g.unread_alerts = (alerts.unread_count(current_user.id)
                           if current_user.is_authenticated else 0)
    return int(g.unread_alerts)


def _template_globals() -> dict[str, Any]:
    return {
        "unread_alerts": unread_alerts,
        "actor": current_actor,
        "readable_stores": readable_stores,
        "current_store": current_store,
        "store_switch_url": store_switch_url,
        "in_store": in_store,
        "status_labels": STATUS_LABELS,
    }
