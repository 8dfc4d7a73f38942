"""The form-and-dialog flow every blueprint shares.

A form that changes something is drawn where it was asked for: in the dialog shell when htmx
opens it, its body alone when htmx posts it (swapped into #dialog-body), and inside the
full-page wrapper for a plain request (a new tab, JavaScript off). Posting it validates the
form, calls one service function, and answers 422 with the field errors beside their fields,
409 with the conflict's message above the form, or the view's own success: the changed
fragment for htmx, a flash and a 303 redirect for a plain post.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from flask import flash, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from app.services.errors import Conflict, StockroomError, ValidationError
from app.web.htmx import is_htmx, trigger

T = TypeVar("T")

# The dialog shell and the full-page wrapper: the one pair every form is drawn in.
DIALOG_SHELL = "_dialog.html"
FORM_PAGE = "form_page.html"


def attach_field_errors(
    form: Any, exc: ValidationError, *, names: Mapping[str, str] | None = None,
    labelled: bool = False, fallback: str | None = None,
) -> None:
    """Put a domain error's field messages beside the form's fields. `names` maps a
    service's field name to the form's where they differ; a message for a field the form
    does not have goes beside the `fallback` field when there is one, else above the form
    (prefixed with the field's name when `labelled`)."""
    for name, message in exc.fields.items():
        target = getattr(form, (names or {}).get(name, name), None)
        if target is None and fallback is not None:
            target = getattr(form, fallback)
        if target is not None and hasattr(target, "errors"):
            errors = target.errors
            target.errors = [*errors, message] if isinstance(errors, list) else [message]
        else:
            form.form_errors.append(f"{name}: {message}" if labelled else message)


@dataclass(frozen=True)
class FormView:
    """A form's template (`body`, which draws its own title, errors and buttons) with
    what it needs, and how its page looks when it is not in a dialog."""

    body: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    dialog_class: str = ""
    panel_class: str = "narrow-panel"
    # (label, url) links above the panel on the full page.
    crumbs: Sequence[tuple[str, str]] = ()

    def with_context(self, **changes: Any) -> FormView:
        """This view with some of its template's values changed."""
        return replace(self, context={**self.context, **changes})

    def render(self, status: int = 200, **changes: Any) -> Response:
        """The form where it was asked for: the dialog shell (htmx GET), the form's body
        alone (htmx POST, swapped into #dialog-body), or the full page (no htmx)."""
        context = {**self.context, **changes, "body": self.body}
        if not is_htmx():
            html = render_template(FORM_PAGE, page_title=self.title, crumbs=self.crumbs,
                                   panel_class=self.panel_class, **context)
        elif request.method == "GET":
            html = render_template(DIALOG_SHELL, dialog_class=self.dialog_class, **context)
        else:
            html = render_template(self.body, in_dialog=True, **context)
        return make_response(html, status)


def run_form(
    form: Any,
    render: Callable[..., Response],
    call: Callable[[], T],
    done: Callable[[T], Response],
    *,
    refused: Callable[[StockroomError], Response | None] | None = None,
    invalid: Callable[[], Response] | None = None,
    labelled: bool = False,
) -> Response:
    """Validate the posted `form`, `call` the one service function, and answer.

    `render(status, problem=None)` draws the form again. An invalid form is drawn with 422
    (or `invalid()` answers); a ValidationError's fields go beside their inputs (422); a
    Conflict's message stands above the form (409). `refused(exc)` may answer a refusal
    its own way first (return None to leave it to these rules). On success, `done(result)`.
    `labelled` is attach_field_errors' own.
    """
    if not form.validate():
        return invalid() if invalid is not None else render(422)
    try:
        result = call()
    except (ValidationError, Conflict) as exc:
        answer = refused(exc) if refused is not None else None
        if answer is not None:
            return answer
        if isinstance(exc, ValidationError):
            attach_field_errors(form, exc, labelled=labelled)
            return render(422)
        return render(409, problem=exc.message)
    return done(result)


def finish(message: str, next_url: str, fragment: Callable[[], Response]) -> Response:
    """After a change: a plain post gets the message flashed and a 303 to `next_url`; htmx
    gets `fragment()`, the part of the page the change moved."""
    if not is_htmx():
        flash(message, "success")
        return redirect(next_url, code=303)
    return fragment()


def swap(fragment: str | Response, target: str, *, how: str = "outerHTML",
         **events: Any) -> Response:
    """A fragment that replaces `target` on the page the dialog was opened from, and
    closes the dialog (plus any other `events` for the page to hear)."""
    response = fragment if isinstance(fragment, Response) else make_response(fragment, 200)
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = how
    return trigger(response, **events, **{"close-dialog": True})


def flash_oob(message: str, category: str = "success") -> str:
    """The flash area's out-of-band swap carrying one message, to send beside a fragment."""
    return render_template("_flashes.html", oob=True, messages=[(category, message)])


def reload_main(page: str, message: str, **events: Any) -> Response:
    """Under htmx, after a dialog's change to what a whole page shows: that page's main
    part loaded again in place, with the message flashed, and the dialog closed."""
    flash(message, "success")
    response = make_response("", 200)
    response.headers["HX-Location"] = json.dumps(
        {"path": page, "target": "#main", "select": "#main", "swap": "outerHTML"})
    return trigger(response, **events, **{"close-dialog": True})
