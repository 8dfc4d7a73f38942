"""People: user accounts (platform admins) and each store's members and their permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.people import bp
from app.people.forms import (
    AddMemberForm,
    ConfirmForm,
    CreateUserForm,
    GrantsForm,
    ResetPasswordForm,
    RoleForm,
)
from app.services.errors import Conflict, OwnerRequired, ValidationError
from app.services.people import accounts, credentials, members
from app.web import current_actor
from app.web.actions import FormView, run_form
from app.web.htmx import is_htmx, trigger, vary_on_htmx

# --------------------------------------------------------------------------- users


@bp.get("")
@login_required
def users():  # type: ignore[no-untyped-def]
    """Platform admins: every user and a form to add one. Everyone else: the stores whose
    people they manage."""
    return _users_page(CreateUserForm(formdata=None))


@bp.post("/users")
@login_required
def create_user():  # type: ignore[no-untyped-def]
    """Open an account (platform admins)."""
    actor = current_actor()
    if not actor.is_platform_admin:
        abort(404)  # accounts are platform admins' alone, as /admin is: no hint they exist
    form = CreateUserForm()

    def created(user: Any) -> Response:
        kind = "platform admin" if user.is_platform_admin else "user"
        return _users_done(
            f"Created the {kind} {user.label}. Add them to a store from its people page.")

    return run_form(
        form, lambda status, problem=None: _users_page(form, status=status),
        lambda: accounts.create_account(
            actor=actor, email=form.email.data or "", name=form.name.data or "",
            password=form.password.data or "", platform_admin=bool(form.platform_admin.data),
        ),
        created, refused=_beside_email(form, lambda: _users_page(form, status=409)),
    )


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate_user(user_id: int):  # type: ignore[no-untyped-def]
    """Ask, then deactivate an account: the user is signed out at their next request."""
    actor = current_actor()
    user = accounts.get_user(actor, user_id)
    dialog = _confirm_dialog(
        title=f"Deactivate {user.name}?",
        warning=f"{user.email} is signed out at their next request and cannot sign in until "
        "reactivated. Their memberships and history stay.",
        action=url_for("people.deactivate_user", user_id=user.id),
        submit=f"Deactivate {user.name}",
        cancel=url_for("people.users"),
    )

    def deactivate() -> str:
        changed = accounts.set_user_active(actor=actor, user_id=user.id, active=False)
        return f"Deactivated {changed.label}; their sessions end now."

    return _confirmed_user_change(dialog, deactivate)


@bp.post("/users/<int:user_id>/reactivate")
@login_required
def reactivate_user(user_id: int):  # type: ignore[no-untyped-def]
    """Let a deactivated user sign in again."""
    if not ConfirmForm().validate():
        abort(400, _expired())
    changed = accounts.set_user_active(actor=current_actor(), user_id=user_id, active=True)
    return _users_done(f"Reactivated {changed.label}; they can sign in again.")


@bp.route("/users/<int:user_id>/platform-admin/grant", methods=["GET", "POST"])
@login_required
def grant_platform_admin(user_id: int):  # type: ignore[no-untyped-def]
    """Ask, then make a user a platform admin: every store, every permission."""
    return _platform_admin_access(user_id, admin=True)


@bp.route("/users/<int:user_id>/platform-admin/revoke", methods=["GET", "POST"])
@login_required
def revoke_platform_admin(user_id: int):  # type: ignore[no-untyped-def]
    """Ask, then take a user's platform admin access away; their store roles stay."""
    return _platform_admin_access(user_id, admin=False)


def _platform_admin_access(user_id: int, *, admin: bool) -> Response:
    actor = current_actor()
    user = accounts.get_user(actor, user_id)
    endpoint = "people.grant_platform_admin" if admin else "people.revoke_platform_admin"
    if admin:
        title, submit = f"Make {user.name} a platform admin?", "Make platform admin"
        warning = (f"{user.email} can then see and change every store, its stock and its "
                   "people, and manage every user, from their next request.")
    else:
        title, submit = f"Take platform admin access from {user.name}?", "Take access away"
        warning = (f"From their next request {user.email} keeps only their store roles "
                   f"({user.store_count:,} {'store' if user.store_count == 1 else 'stores'}).")
    dialog = _confirm_dialog(title=title, warning=warning, submit=submit,
                             action=url_for(endpoint, user_id=user.id),
                             cancel=url_for("people.users"))

    def change() -> str:
        changed = accounts.set_platform_admin(actor=actor, user_id=user.id, admin=admin)
        return (f"Made {changed.label} a platform admin." if admin
                else f"Took platform admin access from {changed.label}.")

    return _confirmed_user_change(dialog, change)


def _confirmed_user_change(dialog: dict[str, Any], change: Callable[[], str]) -> Response:
    """A user-account change behind a confirmation: GET asks; POST checks the form, makes
    the change (which returns what to tell the admin) and shows the users panel, or the
    dialog again with the refusal (409)."""
    form = ConfirmForm()
    view = _dialog(dialog, form)
    if request.method == "GET":
        return view.render()
    return run_form(form, view.render, change,
                    lambda message: _users_done(message, dialog=True),
                    invalid=lambda: view.render(400, problem=_expired()))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@login_required
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    """Set a new password for a user; every session they have ends."""
    actor = current_actor()
    user = accounts.get_user(actor, user_id)
    form = ResetPasswordForm()
    dialog = {
        "title": f"Reset the password of {user.name}",
        "warning": f"{user.email} is signed out everywhere and signs in with the new password. "
        "Tell them the password through a channel you trust.",
        "action": url_for("people.reset_password", user_id=user.id),
        "submit": "Set new password",
        "danger": False,
        "cancel": url_for("people.users"),
        "fields": [form.password],
        "hint": f"At least {credentials.MIN_PASSWORD_LENGTH} characters.",
    }
    view = _dialog(dialog, form)
    if request.method == "GET":
        return view.render()
    return run_form(
        form, view.render,
        lambda: accounts.reset_password(actor=actor, user_id=user.id,
                                        password=form.password.data or ""),
        lambda changed: _users_done(
            f"Set a new password for {changed.label}; their sessions end now.", dialog=True),
    )


def _users_page(form: CreateUserForm, *, status: int = 200) -> Response:
    actor = current_actor()
    context: dict[str, Any] = {"form": form, "min_password": credentials.MIN_PASSWORD_LENGTH}
    if actor.is_platform_admin:
        context["users"] = accounts.list_users(actor)
    context["stores"] = members.managed_stores(actor)
    if is_htmx() and request.method == "POST":
        html = render_template("people/_users_panel.html", **context)
        return make_response(html + _users_count(context.get("users")) + _oob_flashes([]),
                             status)
    return vary_on_htmx(make_response(render_template("people/users.html", **context), status))


def _users_count(users: Any) -> str:
    """The heading's user count, swapped in beside a changed users panel."""
    if users is None:
        return ""
    return render_template("people/_users_count.html", users=users, oob=True)


def _users_done(message: str, *, dialog: bool = False) -> Response:
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("people.users"), code=303)
    actor = current_actor()
    users = accounts.list_users(actor)
    html = render_template(
        "people/_users_panel.html", form=CreateUserForm(formdata=None),
        users=users, stores=members.managed_stores(actor),
        min_password=credentials.MIN_PASSWORD_LENGTH,
    )
    response = make_response(html + _users_count(users) + _oob_flashes([("success", message)]))
    if dialog:
        response.headers["HX-Retarget"] = "#users-panel"
        response.headers["HX-Reswap"] = "outerHTML"
        trigger(response, **{"close-dialog": True})
    return response


# --------------------------------------------------------------------------- members


@bp.get("/stores/<int:store_id>")
@login_required
def store_members(store_id: int):  # type: ignore[no-untyped-def]
    """A store's members: roles, granted permission groups, and adding someone."""
    return _members_page(store_id, AddMemberForm(formdata=None))


@bp.post("/stores/<int:store_id>/members")
@login_required
def add_member(store_id: int):  # type: ignore[no-untyped-def]
    """Add a user to the store by email; owners may create the account here."""
    actor = current_actor()
    members.store_members(actor, store_id)  # 404 / 403 before reading the form
    form = AddMemberForm()

    def added(change: Any) -> Response:
        m = change.member
        made = "Created the account and added" if change.created_user else "Added"
        return _members_done(store_id, f"{made} {m.name} ({m.email}) to {change.store.name} "
                             f"as {m.role_label.lower()}.")

    return run_form(
        form, lambda status, problem=None: _members_page(store_id, form, status=status),
        lambda: members.add_member(
            actor=actor, store_id=store_id, email=form.email.data or "",
            role=form.role.data or "", grants=form.grants.data or [],
            name=form.name.data or None, password=form.password.data or None,
        ),
        added, refused=_beside_email(form, lambda: _members_page(store_id, form, status=409)),
    )


@bp.post("/stores/<int:store_id>/members/<int:membership_id>/role")
@login_required
def change_role(store_id: int, membership_id: int):  # type: ignore[no-untyped-def]
    """Make a member owner, admin or staff."""
    actor = current_actor()
    members.get_member(actor, store_id, membership_id)
    form = RoleForm()
    if not form.validate():
        return _row_problem(store_id, membership_id, "role", *_refusal(form))
    try:
        change = members.change_role(actor=actor, store_id=store_id,
                                     membership_id=membership_id, role=form.role.data or "")
    except ValidationError as exc:
        return _row_problem(store_id, membership_id, "role",
                            " ".join(exc.fields.values()), 422)
    except Conflict as exc:
        return _row_problem(store_id, membership_id, "role", exc.message, 409,
                            value=form.role.data or "")
    m = change.member
    if change.previous_role == m.role:
        message = f"{m.name} is already {m.role_label.lower()}; nothing changed."
    else:
        message = (f"{m.name} is now {m.role_label.lower()} of {change.store.name} "
                   f"(was {members.ROLE_LABELS[change.previous_role or ''].lower()}).")
        if change.previous_grants and m.role != "staff":
            message += " Their staff permission groups were cleared."
    return _members_done(store_id, message)


@bp.post("/stores/<int:store_id>/members/<int:membership_id>/grants")
@login_required
def set_grants(store_id: int, membership_id: int):  # type: ignore[no-untyped-def]
    """Replace the permission groups granted to a staff member."""
    actor = current_actor()
    members.get_member(actor, store_id, membership_id)
    form = GrantsForm()
    if not form.validate():
        return _row_problem(store_id, membership_id, "grants", *_refusal(form))
    try:
        change = members.set_grants(actor=actor, store_id=store_id,
                                    membership_id=membership_id, grants=form.grants.data or [])
    except ValidationError as exc:
        return _row_problem(store_id, membership_id, "grants",
                            " ".join(exc.fields.values()), 422)
    m = change.member
    granted = ", ".join(name.lower() for name in m.grant_names)
    can = f"read stock, plus {granted}" if granted else "read stock only"
    return _members_done(store_id, f"{m.name} can now {can}. It applies from their next "
                         "request.")


@bp.route("/stores/<int:store_id>/members/<int:membership_id>/remove",
          methods=["GET", "POST"])
@login_required
def remove_member(store_id: int, membership_id: int):  # type: ignore[no-untyped-def]
    """Ask, then take a member out of the store; their account stays."""
    actor = current_actor()
    page = members.store_members(actor, store_id)
    member = members.get_member(actor, store_id, membership_id)
    if member.role == "owner" and not page.manages_owners:
        raise OwnerRequired()
    form = ConfirmForm()
    dialog = _confirm_dialog(
        title=f"Remove {member.name} from {page.store.name}?",
        warning=f"{member.email} loses access to {page.store.name} at their next request. "
        "Their account, other stores and the movements they recorded stay.",
        action=url_for("people.remove_member", store_id=store_id, membership_id=member.id),
        submit=f"Remove {member.name}",
        cancel=url_for("people.store_members", store_id=store_id),
    )
    view = _dialog(dialog, form)
    if request.method == "GET":
        return view.render()

    def removed(change: Any) -> Response:
        message = (f"Removed {change.member.name} ({change.member.email}) from "
                   f"{page.store.name}.")
        if change.member.user_id == actor.user_id and not actor.is_platform_admin:
            # They just gave up this store: its page is no longer theirs to see.
            flash(message, "success")
            target = url_for("people.users")
            if is_htmx():
                return Response(status=204, headers={"HX-Redirect": target})
            return redirect(target, code=303)
        return _members_done(store_id, message, dialog=True)

    return run_form(
        form, view.render,
        lambda: members.remove_member(actor=actor, store_id=store_id, membership_id=member.id),
        removed, invalid=lambda: view.render(400, problem=_expired()),
    )


def _members_page(
    store_id: int, form: AddMemberForm, *, status: int = 200,
    row_errors: dict[int, dict[str, str]] | None = None,
) -> Response:
    context = _members_context(store_id, form, row_errors)
    if is_htmx() and request.method == "POST":
        html = render_template("people/_members.html", **context)
        return make_response(html + _oob_flashes([]), status)
    html = render_template("people/store_members.html", **context)
    return vary_on_htmx(make_response(html, status))


def _members_context(
    store_id: int, form: AddMemberForm, row_errors: dict[int, dict[str, str]] | None
) -> dict[str, Any]:
    return {
        "page": members.store_members(current_actor(), store_id),
        "form": form,
        "row_errors": row_errors or {},
        "roles": members.ROLE_LABELS,
        "groups": members.GROUP_LABELS,
        "min_password": credentials.MIN_PASSWORD_LENGTH,
    }


def _members_done(store_id: int, message: str, *, dialog: bool = False) -> Response:
    if not is_htmx():
        flash(message, "success")
        return redirect(url_for("people.store_members", store_id=store_id), code=303)
    context = _members_context(store_id, AddMemberForm(formdata=None), None)
    html = render_template("people/_members.html", **context)
    response = make_response(html + _oob_flashes([("success", message)]))
    if dialog:
        response.headers["HX-Retarget"] = "#store-members"
        response.headers["HX-Reswap"] = "outerHTML"
        trigger(response, **{"close-dialog": True})
    return response


def _row_problem(
    store_id: int, membership_id: int, field: str, message: str, status: int,
    value: str = "",
) -> Response:
    """The member page (or its fragment) with `message` beside one row's field, the
    submitted value still chosen."""
    errors = {field: message, f"{field}_value": value}
    return _members_page(store_id, AddMemberForm(formdata=None), status=status,
                         row_errors={membership_id: errors})


# --------------------------------------------------------------------------- shared


def _confirm_dialog(
    *, title: str, warning: str, action: str, submit: str, cancel: str
) -> dict[str, Any]:
    return {"title": title, "warning": warning, "action": action, "submit": submit,
            "danger": True, "cancel": cancel, "fields": [], "hint": None}


def _dialog(dialog: dict[str, Any], form: Any) -> FormView:
    """A confirmation or small form: a dialog under htmx, a page of its own without."""
    return FormView("people/_dialog_body.html", dialog["title"],
                    context={"dialog": dialog, "form": form, "problem": None})


def _beside_email(form: Any, page: Callable[[], Response]) -> Callable[[Any], Response | None]:
    """A conflict on a form that names a person by email (taken, already a member): the
    message beside the email field, the page drawn again with 409."""
    def refused(exc: Any) -> Response | None:
        if not isinstance(exc, Conflict):
            return None
        form.email.errors = [*form.email.errors, exc.message]
        return page()

    return refused


def _oob_flashes(messages: list[tuple[str, str]]) -> str:
    return render_template("_flashes.html", oob=True, messages=messages)


def _expired() -> str:
    return "Your session expired. Reload the page and try again."


def _refusal(form: Any) -> tuple[str, int]:
    """Why a one-field row form was refused: an expired session (400), or what is wrong
    with the value itself (422), such as a control character."""
    if "csrf_token" in form.errors:
        return _expired(), 400
    return " ".join(m for messages in form.errors.values() for m in messages), 422
