"""The signed-in user's own settings: personal API tokens."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.account import bp
from app.account.forms import CreateTokenForm, RevokeTokenForm
from app.services import tokens
from app.services.errors import ValidationError


@bp.get("/tokens")
@login_required
def list_tokens():  # type: ignore[no-untyped-def]
    """The user's API tokens and a form to create one."""
    return _page(CreateTokenForm())


@bp.post("/tokens")
@login_required
def create_token():  # type: ignore[no-untyped-def]
    """Create a token and show its secret this once; it is not stored anywhere readable."""
    form = CreateTokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        token, plaintext = tokens.create_token(user_id=current_user.id, name=form.name.data or "")
    except ValidationError as exc:
        form.name.errors = [*form.name.errors, *exc.fields.values()]
        return _page(form, status=422)
    # Rendered, not redirected: a redirect would have to carry the secret in the session.
    return _page(CreateTokenForm(formdata=None), created=token, plaintext=plaintext, status=201)


@bp.get("/tokens/<int:token_id>/revoke")
@login_required
def confirm_revoke(token_id: int):  # type: ignore[no-untyped-def]
    """Ask before revoking: programs using the token stop working at once."""
    token = next((t for t in tokens.user_tokens(current_user.id) if t.id == token_id), None)
    if token is None or not token.active:
        abort(404)
    return _page(CreateTokenForm(formdata=None), confirm=token)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    """Revoke one of the user's tokens; it stops working at once."""
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        return _page(CreateTokenForm(formdata=None), status=400)
    token = tokens.revoke_token(user_id=current_user.id, token_id=token_id)
    flash(f"Revoked the token {token.name} ({token.prefix}…).", "success")
    return redirect(url_for("account.list_tokens"), code=303)


def _page(form: CreateTokenForm, *, status: int = 200, **context):  # type: ignore[no-untyped-def]
    html = render_template(
        "account/tokens.html", form=form, revoke_form=RevokeTokenForm(),
        tokens=tokens.user_tokens(current_user.id), **context,
    )
    return html, status, {"Cache-Control": "no-store"}
