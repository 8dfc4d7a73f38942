"""The one gate a request's text passes before any view reads it.

Path values, query strings and the headers Stockroom stores are refused with a 422 naming
the field when they hold a character no field can take (see validation.unsafe_character);
so are form field names, and form values far longer than any field. Form values themselves
are judged by the base form (app/web/forms.py), which names the problem beside the field;
the few views that read a form without one call screen_form(), or screen_beyond_form() for
the fields they read beside one.

JSON bodies are screened by the API's blueprints (app/api/common.py) with the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import current_app, request
from werkzeug.datastructures import MultiDict

from app.services.errors import UnreadableInput
from app.services.validation import printable, unsafe_character

# Longer than any field of any form (the longest, a product title, takes 200 characters);
# a value past this is an attack or an accident, and is named instead of parsed further.
MAX_FIELD_CHARS = 10_000
# Headers whose values are stored or looked up.
SCREENED_HEADERS = ("Idempotency-Key",)

View = TypeVar("View", bound=Callable[..., Any])


def screens_its_own_form(view: View) -> View:
    """Mark a view that raises the form limits before reading its body (an upload): the gate
    leaves its form alone, and the view calls screen_form() once the limits are set."""
    view.screens_its_own_form = True  # type: ignore[attr-defined]
    return view


def screen_request() -> None:
    """before_request: refuse unreadable text in the path, query string, headers and form."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            _check(name, value)
    _screen_pairs(request.args.items(multi=True))
    for header in SCREENED_HEADERS:
        value = request.headers.get(header)
        if value is not None:
            _check(header, value)
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return  # the API's bodies are JSON, screened by its blueprints
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "screens_its_own_form", False):
        return
    screen_form(values=False)


def screen_form(*, long_fields: Iterable[str] = (), values: bool = True) -> None:
    """Refuse unreadable form field names, file names and (with `values`) values;
    `long_fields` may exceed the length cap (a field carrying a signed file)."""
    _screen_pairs(request.form.items(multi=True), frozenset(long_fields), values=values)
    files: MultiDict[str, Any] = request.files
    for name, upload in files.items(multi=True):
        _check(name, name)
        _check(name, upload.filename or "")


def screen_beyond_form(form: Any) -> None:
    """Refuse unreadable values in the fields a view reads beside its form (the bulk
    actions' selection and filters): the form judges its own fields, beside each one."""
    declared = frozenset(getattr(form, "_fields", {}))
    _screen_pairs(pair for pair in request.form.items(multi=True) if pair[0] not in declared)


def _screen_pairs(pairs: Iterable[tuple[str, str]], long_fields: frozenset[str] = frozenset(),
                  *, values: bool = True) -> None:
    for name, value in pairs:
        _check(name, name)
        if len(value) > MAX_FIELD_CHARS and name not in long_fields:
            raise UnreadableInput(
                printable(name),
                f"It is {len(value):,} characters long; no field takes more than "
                f"{MAX_FIELD_CHARS:,}.",
            )
        if values:
            _check(name, value)


def _check(name: str, value: str) -> None:
    problem = unsafe_character(value)
    if problem is not None:
        raise UnreadableInput(printable(name), problem)
