from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import bp
from app.auth.forms import SignInForm
from app.extensions import limiter
from app.services.people import credentials
from app.web.urls import safe_next

FAILED = "Email or password is not right."


def _attempt_key() -> str:
    """Throttle per client address and per account tried, so one can't lock out the other."""
    email = credentials.normalize_email(request.form.get("email", ""))[:254]
    return f"{request.remote_addr}|{email}"


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config.get("SIGN_IN_LIMIT", "10 per minute"),
    key_func=_attempt_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code != 303,
)
def sign_in():  # type: ignore[no-untyped-def]
    """Show the sign-in form and check credentials."""
    if current_user.is_authenticated:
        return redirect(url_for("inventory.overview"))
    form = SignInForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        user = credentials.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            target = safe_next(form.next.data) or url_for("inventory.overview")
            session.clear()  # a fresh session at sign-in: nothing carries over
            login_user(user)
            return redirect(target, code=303)
        form.password.errors.append(FAILED)
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("auth/sign_in.html", form=form), status


@bp.post("/sign-out")
@login_required
def sign_out():  # type: ignore[no-untyped-def]
    """End the session; the old cookie stops working everywhere."""
    credentials.end_sessions(current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.sign_in"), code=303)
