"""The signed-in user's own settings: stock alerts and the bell, what a scan opens,
personal API tokens."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from app.account import bp
from app.account.forms import (
    EXPIRY_DAYS,
    PERMISSION_LABELS,
    SCAN_CHOICES,
    AlertSettingsForm,
    CreateTokenForm,
    MarkReadForm,
    RevokeTokenForm,
    ScanSettingForm,
)
from app.clock import utcnow
from app.permissions import READ
from app.services import activity, alerts
from app.services.errors import ValidationError
from app.services.people import accounts, tokens
from app.web import current_actor
from app.web.actions import attach_field_errors, finish, run_form

# The service's field names as this form names them.
FORM_FIELDS = {"expires_at": "expires_on", "store_ids": "stores"}


@bp.get("/tokens")
@login_required
def list_tokens():  # type: ignore[no-untyped-def]
    """The user's API tokens and a form to create one."""
    return _page(_form())


@bp.post("/tokens")
@login_required
def create_token():  # type: ignore[no-untyped-def]
    """Create a token and show its secret this once; it is not stored anywhere readable."""
    form = _form()
    valid = form.validate_on_submit()
    choice = _expiry(form)
    if not valid or choice is None:
        return _page(form, status=422)
    platform_admin = bool(form.platform_admin.data) if current_user.is_platform_admin else True
    access = form.access.data
    try:
        token, plaintext = tokens.create_token(
            user_id=current_user.id, name=form.name.data or "", expires_at=choice,
            store_ids=form.stores.data or None,
            permissions=(None if access == "all" else [READ] if access == "read"
                         else form.permissions.data or []),
            platform_admin=platform_admin,
        )
    except ValidationError as exc:
        attach_field_errors(form, exc, names=FORM_FIELDS, fallback="name")
        return _page(form, status=422)
    # Rendered, not redirected: a redirect would have to carry the secret in the session.
    return _page(_form(formdata=None), created=token, plaintext=plaintext, status=201)


@bp.get("/tokens/<int:token_id>/revoke")
@login_required
def confirm_revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Ask before revoking: programs using the token stop working at once."""
    token = next((t for t in tokens.user_tokens(current_user.id) if t.id == token_id), None)
    if token is None or token.revoked_at is not None:
        abort(404)
    return _page(_form(formdata=None), confirm=token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of the user's tokens; it stops working at once."""
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        return _page(_form(formdata=None), status=400)
    token = tokens.revoke_token(user_id=current_user.id, token_id=token_id)
    flash(f"Revoked the token {token.name} ({token.prefix}…).", "success")
    return redirect(url_for("account.list_tokens"), code=303)


@bp.post("/scan")
@login_required
def set_scan_opens():  # type: ignore[no-untyped-def]
    """Save what a scan naming exactly one entry opens for this user: its page or Adjust."""
    form = ScanSettingForm()

    def render(status: int = 200, problem: str | None = None):  # type: ignore[no-untyped-def]
        return make_response(_page(_form(formdata=None), scan_form=form, scan_problem=problem,
                                   status=status))

    def done(value: str):  # type: ignore[no-untyped-def]
        label = dict((c.value, c.label) for c in SCAN_CHOICES)[value]
        message = f"Saved. When a scan finds one entry: {label[0].lower()}{label[1:]}."
        return finish(message, url_for("account.list_tokens"), lambda: render())

    return run_form(
        form, render,
        lambda: accounts.set_scan_opens(actor=current_actor(), scan_opens=form.scan_opens.data),
        done,
    )


@bp.get("/alerts")
@login_required
def alerts_page():  # type: ignore[no-untyped-def]
    """The bell: the latest low and out-of-stock crossings of the user's stores."""
    return _alerts_page()


@bp.get("/alerts/bell")
@login_required
def bell():  # type: ignore[no-untyped-def]
    """The bell alone, for the page to swap in after a stock change and every minute."""
    return render_template("_bell.html"), 200, {"Cache-Control": "no-store"}


def _alerts_page(status: int = 200):  # type: ignore[no-untyped-def]
    html = render_template(
        "account/alerts.html", alerts=alerts.recent(current_user.id),
        unread=alerts.unread_count(current_user.id), read_form=MarkReadForm(),
        listening=[s for s in alerts.settings(current_actor()) if s.mode != "off"],
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.post("/alerts/read")
@login_required
def mark_alerts_read():  # type: ignore[no-untyped-def]
    """Everything in the bell so far becomes read."""
    if not MarkReadForm().validate_on_submit():
        return _alerts_page(status=400)
    alerts.mark_read(current_user.id)
    flash("Marked every alert as read.", "success")
    return redirect(url_for("account.alerts_page"), code=303)


@bp.post("/alerts/settings")
@login_required
def set_alert_modes():  # type: ignore[no-untyped-def]
    """Save how the user hears about each of their stores' crossings."""
    form = AlertSettingsForm()
    if not form.validate_on_submit():
        return _page(_form(formdata=None), alert_form=form, status=400)
    modes: dict[int, str] = {}
    for name, value in request.form.items():
        if name.startswith("mode-"):
            number = name.removeprefix("mode-")
            # Not one of their stores' ids: the service names it as not theirs.
            modes[int(number) if number.isdigit() and len(number) < 10 else -1] = value
    try:
        changed = alerts.set_modes(current_actor(), modes)
    except ValidationError as exc:
        return _page(_form(formdata=None), alert_form=form, alert_errors=exc.fields,
                     alert_values=modes, status=422)
    flash("Saved your stock alerts." if changed else "Your stock alerts were already so.",
          "success")
    return redirect(url_for("account.list_tokens") + "#alerts", code=303)


def _form(**kwargs: Any) -> CreateTokenForm:
    """The create form, its stores the ones the user may limit a token to."""
    form = CreateTokenForm(**kwargs)
    form.stores.choices = [
        SelectChoice(str(c.id), c.name)
        for c in tokens.store_choices(current_user.id,
                                      platform_admin=current_user.is_platform_admin)
    ]
    return form


def _expiry(form: CreateTokenForm) -> datetime | tokens.Expiry | None:
    """The form's expiry for the service, or None after naming the problem on the form."""
    choice, day = form.expiry.data, form.expires_on.data
    if choice == "date":
        if day is None:
            if not form.expires_on.errors:
                form.expires_on.errors = ["Enter the date the token expires."]
            return None
        # It stops working as that day begins (UTC).
        return datetime.combine(day, time.min)
    if day is not None:
        form.expires_on.errors = [*form.expires_on.errors,
                                  "Choose \"On a date\" to use this date, or clear it."]
        return None
    if choice == "never":
        return tokens.Expiry.NEVER
    if choice in EXPIRY_DAYS:
        return utcnow() + timedelta(days=EXPIRY_DAYS[choice])
    return None  # the radio field has already named an unknown choice


def _page(form: CreateTokenForm, *, status: int = 200, **context):  # type: ignore[no-untyped-def]
    context.setdefault("scan_form", ScanSettingForm(formdata=None,
                                                    scan_opens=current_user.scan_opens))
    context.setdefault("alert_form", AlertSettingsForm(formdata=None))
    context.setdefault("alert_errors", {})
    context.setdefault("alert_values", {})
    html = render_template(
        "account/tokens.html", form=form, revoke_form=RevokeTokenForm(),
        tokens=tokens.user_tokens(current_user.id), permission_labels=PERMISSION_LABELS,
        changes=activity.account_changes(current_user.id),
        alert_settings=alerts.settings(current_actor()), alert_modes=alerts.MODE_LABELS,
        **context,
    )
    return html, status, {"Cache-Control": "no-store"}
