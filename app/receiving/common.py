"""What the receiving screens share: who may use them, how a typed quantity and a scanned
code are read, the posted form, and the over-receipt a list would need confirmed."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask import abort, make_response, request
from werkzeug.wrappers import Response

from app.permissions import RECEIVE, Actor
from app.services.stock.counts import MAX_CODE
from app.services.validation import LIMIT, LIMIT_TEXT, ascii_strip, parse_id, unsafe_character
from app.web.boundary import screen_beyond_form
from app.web.forms import Form

# ASCII digits, optionally with thousands commas, as every whole-number field reads them;
# a sign is read so that "-3" is named as negative rather than as not a number.
_WHOLE = re.compile(r"[+-]?(?:[0-9]{1,10}|[1-9][0-9]{0,2}(?:,[0-9]{3}){1,3})", re.ASCII)
QUANTITY_PROBLEM = f"Enter a whole number from 0 to {LIMIT_TEXT}, like 12."
NEGATIVE_PROBLEM = "Must not be negative."


class ReceiveForm(Form):
    """Only the CSRF token: the screens' other fields repeat per line and are read by hand."""


def posted() -> None:
    """Check the posted form's token and screen the fields read beside it (400 without a
    valid token: the CSRF handler answers before this when protection is on)."""
    form = ReceiveForm()
    screen_beyond_form(form)
    if not form.validate():  # pragma: no cover - a bad CSRF token is refused before this
        abort(400)


def require_some_store(actor: Actor) -> None:
    """403 for someone who may receive in no store at all."""
    stores = actor.stores_with(RECEIVE)
    if stores is not None and not stores:
        abort(403)


def require_receive(actor: Actor, store_id: int) -> None:
    if not actor.can(RECEIVE, store_id):
        abort(403)


def quantity(text: str) -> tuple[int | None, str | None]:
    """A "receiving now" figure as typed: blank is 0 (nothing of that line arrived);
    returns (the number, None) or (None, the problem)."""
    value = ascii_strip(text or "")
    if not value:
        return 0, None
    if not _WHOLE.fullmatch(value):
        return None, QUANTITY_PROBLEM
    number = int(value.replace(",", ""))
    if number < 0:
        return None, NEGATIVE_PROBLEM
    if number > LIMIT:
        return None, QUANTITY_PROBLEM
    return number, None


def code_problem(code: str) -> str | None:
    """Why a scanned or typed code cannot be looked up at all, or None."""
    text = ascii_strip(code or "")
    if not text:
        return "Scan or type a SKU or GTIN."
    if len(text) > MAX_CODE or unsafe_character(text):
        return f"A SKU or GTIN has at most {MAX_CODE} plain characters."
    return None


def code_key(code: str) -> str:
    """A code as matched against a line's codes: NFKC, without the spaces around it, any
    case (static/receive.js folds codes the same way)."""
    return unicodedata.normalize("NFKC", code or "").strip().lower()


def form_id(name: str) -> int | None:
    """An id posted in a field, or None."""
    raw = request.form.get(name)
    return parse_id(raw) if isinstance(raw, str) else None


def text(message: str, status: int) -> Response:
    response = make_response(message, status)
    response.mimetype = "text/plain"
    return response


@dataclass(frozen=True)
class Excess:
    """A line of a list that would bring more than is awaited, as the confirmation names
    it."""

    label: str
    receiving: int
    awaited: int

    @property
    def over(self) -> int:
        return self.receiving - self.awaited
