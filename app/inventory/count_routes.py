"""Count a location: pick it, scan what is there (each scan +1, or a number typed), see the
running list against what the books say, and apply it as one count.

The list lives in the page: each line is a few plain form fields (its SKU, what the books
said when it was scanned, what was counted), so without JavaScript every Add or Remove is a
form post that draws the page again with one line more or less, and Apply posts them all.
With JavaScript (static/scan.js) a scan asks `count_line` for one line's row and the list
grows in place; a scanner or the camera feed the same path.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.inventory import bp
from app.permissions import ADJUST, Actor
from app.services import queries, stock
from app.services.errors import Conflict, CountRefused, ValidationError
from app.services.queries import EntryView
from app.services.queries.lookups import LocationOption
from app.services.stock.counts import MAX_CODE, count_key
from app.services.validation import LIMIT, LIMIT_TEXT, ascii_strip, parse_id, unsafe_character
from app.web import current_actor, readable_stores, show_store
from app.web.boundary import screen_beyond_form
from app.web.forms import Form

# ASCII digits, optionally with thousands commas: as every whole-number field reads them.
_WHOLE = re.compile(r"[+-]?(?:[0-9]{1,10}|[1-9][0-9]{0,2}(?:,[0-9]{3}){1,3})", re.ASCII)
# Lines named in a flash after a count; the rest are summed up.
NAMED_LINES = 8


class CountForm(Form):
    """Only the CSRF token: the page's other fields repeat per line and are read by hand."""


@dataclass
class CountLine:
    """One line of the running list as the page shows it."""

    code: str
    counted_text: str
    expected: int | None
    entry: EntryView | None = None
    errors: dict[str, str] = field(default_factory=dict)
    position: int = 0

    @property
    def counted(self) -> int | None:
        return _whole(self.counted_text)

    @property
    def difference(self) -> int | None:
        if self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected

    @property
    def dom_id(self) -> str:
        return f"e{self.entry.id}" if self.entry else f"n{self.position}"


@dataclass
class CountPage:
    location: LocationOption | None
    lines: list[CountLine] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    code: str = ""
    quantity: str = ""
    reason: str = ""
    problem: str | None = None


# --------------------------------------------------------------------------- routes


@bp.get("/inventory/count")
@login_required
def count():  # type: ignore[no-untyped-def]
    """The count screen: a location to choose, then the scan box and the running list."""
    actor = current_actor()
    _require_some_store(actor)
    raw = request.args.get("location")
    if raw is None or not ascii_strip(raw):
        return _render(actor, CountPage(location=None))
    location = _location(actor, raw)
    if location is None:
        page = CountPage(location=None, errors={"location": "Choose a location from the list."})
        return _render(actor, page, 422)
    return _render(actor, CountPage(location=location))


@bp.get("/inventory/count/line")
@login_required
def count_line():  # type: ignore[no-untyped-def]
    """One line's row for a scanned or typed code at the location: what scan.js adds to
    the list. 422 with the reason as text when the code names nothing there."""
    actor = current_actor()
    location = _location(actor, request.args.get("location") or "")
    if location is None:
        abort(404)
    code = request.args.get("code") or ""
    quantity = request.args.get("quantity") or ""
    counted = _whole(quantity) if ascii_strip(quantity) else 1
    if counted is None or not 0 <= counted <= LIMIT:
        return _text(f"Quantity: enter a whole number from 0 to {LIMIT_TEXT}.", 422)
    found, problem = _find(actor, location, code)
    if found is None:
        return _text(problem or "", 422)
    expected_text = request.args.get("expected") or ""
    expected = _whole(expected_text) if expected_text else None
    line = CountLine(found.sku, str(counted),
                     expected if expected is not None and expected >= 0 else found.quantity,
                     found)
    html = render_template("inventory/_count_line.html", line=line, location=location)
    return make_response(html, 200)


@bp.post("/inventory/count/line")
@login_required
def count_edit():  # type: ignore[no-untyped-def]
    """Without JavaScript: add the scanned code to the list (or remove a line) and draw the
    page again with the list carried in its fields."""
    actor = current_actor()
    page = _posted_page(actor)
    form = request.form
    removed = form.get("remove")
    if removed is not None:
        key = count_key(removed)
        page.lines = [line for line in page.lines if count_key(line.code) != key]
        if not any(line.errors for line in page.lines):
            page.errors.pop("lines", None)
        return _render(actor, page, _status(page))
    code = ascii_strip(page.code)
    if not code or page.location is None:
        return _render(actor, page, _status(page))  # Enter in a counted figure: as edited
    quantity = _whole(page.quantity) if ascii_strip(page.quantity) else 1
    if quantity is None or not 0 <= quantity <= LIMIT:
        page.errors["quantity"] = f"Enter a whole number from 0 to {LIMIT_TEXT}."
        return _render(actor, page, 422)
    found, problem = _find(actor, page.location, code)
    if found is None:
        page.errors["code"] = problem or ""
        return _render(actor, page, 422)
    for line in page.lines:
        if line.entry is not None and line.entry.id == found.id:
            current = line.counted
            if current is None:
                line.counted_text = str(quantity)
            else:
                line.counted_text = str(min(current + quantity, LIMIT))
            break
    else:
        page.lines.append(CountLine(found.sku, str(quantity), found.quantity, found,
                                    position=len(page.lines) + 1))
    page.code, page.quantity = "", ""
    return _render(actor, page, _status(page))


def _status(page: CountPage) -> int:
    """A list drawn with something to fix is a 422, like any form sent back with errors."""
    return 422 if page.errors else 200


@bp.post("/inventory/count")
@login_required
def count_apply():  # type: ignore[no-untyped-def]
    """Apply the list as one count of the location: every line or none."""
    actor = current_actor()
    page = _posted_page(actor)
    location = page.location
    if location is None or page.errors:
        page.problem = "Nothing was counted: fix what is marked below and apply again."
        return _render(actor, page, 422)
    lines = [{"code": line.code, "counted_quantity": line.counted,
              "expected_quantity": line.expected} for line in page.lines]
    key = request.form.get("idempotency_key") or None
    try:
        change = stock.count_many(actor=actor, location_id=location.id, lines=lines,
                                  reason=page.reason or None, idempotency_key=key)
    except CountRefused as exc:
        for problem in exc.problems:
            _attach(page, problem.field, problem.problem)
        for position, quantity in exc.current.items():
            line = page.lines[position - 1]
            if "expected" in line.errors:
                line.expected = quantity  # the figure to check against, as it is now
        page.problem = exc.message
        return _render(actor, page, exc.status)
    except ValidationError as exc:
        for name, message in exc.fields.items():
            _attach(page, name, message)
        page.problem = "Nothing was counted. " + "; ".join(exc.fields.values())
        return _render(actor, page, 422)
    except Conflict as exc:
        page.problem = exc.message
        return _render(actor, page, 409)
    flash(describe_count(change.details), "success")
    return redirect(url_for("inventory.count", location=location.id), code=303)


def describe_count(details: dict[str, Any]) -> str:
    """What a count did, in one line: the figures that moved, from → to."""
    lines = details["lines"]
    moved = [line for line in lines if line["discrepancy"]]
    items = f"{len(lines):,} {'item' if len(lines) == 1 else 'items'}"
    text = f"Counted {items} at {details['location_code']}."
    if not moved:
        return text + " Every figure was right."
    named = ", ".join(f"{line['title']} ({line['sku']}) {line['before']:,} → {line['counted']:,}"
                      for line in moved[:NAMED_LINES])
    more = f" and {len(moved) - NAMED_LINES:,} more" if len(moved) > NAMED_LINES else ""
    same = len(lines) - len(moved)
    confirmed = f" {same:,} confirmed." if same else ""
    return f"{text} Changed: {named}{more}.{confirmed}"


# --------------------------------------------------------------------------- machinery


def _require_some_store(actor: Actor) -> None:
    stores = actor.stores_with(ADJUST)
    if stores is not None and not stores:
        abort(403)


def _countable(actor: Actor) -> list[LocationOption]:
    """Active locations in the stores where the actor may count (the store the page is in,
    when the top bar names one)."""
    raw = ascii_strip(request.args.get("store") or "")
    store_id = parse_id(raw) if raw else None
    return [loc for loc in queries.store_locations(actor, store_id=store_id)
            if actor.can(ADJUST, loc.store_id)]


def _location(actor: Actor, raw: str) -> LocationOption | None:
    """The location a request names: None for something that is not an id; 404 for one
    the actor cannot see, 403 for one they may see but not count."""
    location_id = parse_id(raw) if isinstance(raw, str) else None
    if location_id is None:
        return None
    found = next((loc for loc in queries.store_locations(actor) if loc.id == location_id), None)
    if found is None:
        abort(404)
    if not actor.can(ADJUST, found.store_id):
        abort(403)
    show_store(found.store_id)
    return found


def _find(actor: Actor, location: LocationOption | None, code: str
          ) -> tuple[EntryView | None, str | None]:
    """The entry a scanned code names at the location, or why there is none."""
    text = ascii_strip(code)
    if location is None:
        return None, "Choose a location first."
    if not text:
        return None, "Scan or type a SKU or GTIN."
    if len(text) > MAX_CODE or unsafe_character(text):
        return None, f"A SKU or GTIN has at most {MAX_CODE} plain characters."
    found = queries.find_exact(actor, text, limit=1, store_id=location.store_id,
                               location_id=location.id)
    if found:
        return found[0], None
    elsewhere = queries.find_exact(actor, text, limit=1, store_id=location.store_id)
    if elsewhere:
        return None, f"{elsewhere[0].sku} is not stocked at {location.code}."
    return None, f"Nothing in this store has the SKU or GTIN “{text}”."


def _whole(text: str) -> int | None:
    value = ascii_strip(text or "")
    if not _WHOLE.fullmatch(value):
        return None
    number = int(value.replace(",", ""))
    return number if -LIMIT <= number <= LIMIT else None


def _posted_page(actor: Actor) -> CountPage:
    """The page as posted: its location (404/403 as on the page), the list's lines looked
    up again for display, and the errors of lines that cannot be read."""
    form = CountForm()
    screen_beyond_form(form)
    if not form.validate():  # pragma: no cover - a bad CSRF token is refused before this
        abort(400)
    values = request.form
    raw_location = values.get("location") or ""
    location = _location(actor, raw_location)
    page = CountPage(location=location, code=values.get("code") or "",
                     quantity=values.get("quantity") or "", reason=values.get("reason") or "")
    if location is None:
        page.errors["location"] = "Choose a location from the list."
        return page
    codes = values.getlist("line_code")
    counted = values.getlist("line_counted")
    expected = values.getlist("line_expected")
    if not (len(codes) == len(counted) == len(expected)):
        page.errors["lines"] = "The list arrived incomplete; scan the items again."
        return page
    if len(codes) > stock.MAX_COUNT_LINES:
        page.errors["lines"] = f"At most {stock.MAX_COUNT_LINES} lines per count."
        return page
    if len(ascii_strip(page.reason)) > 200:
        page.errors["reason"] = "Must be at most 200 characters."
    for n, (code, count_text, expected_text) in enumerate(
        zip(codes, counted, expected, strict=True), start=1
    ):
        # The on hand the line was scanned against; blank (a list typed by hand) means
        # "count it whatever it is now".
        line = CountLine(ascii_strip(code), count_text, _whole(expected_text), position=n)
        if ascii_strip(expected_text) and (line.expected is None or line.expected < 0):
            line.expected = None
            line.errors["expected"] = "The on hand it was scanned against is not a number."
        if line.counted is None:
            line.errors["counted"] = "Enter a whole number, like 12."
        elif line.counted < 0:
            line.errors["counted"] = "Must not be negative."
        found, problem = _find(actor, location, line.code)
        if found is None:
            line.errors["code"] = problem or ""
        line.entry = found
        page.lines.append(line)
    if any(line.errors for line in page.lines):
        page.errors["lines"] = "Some lines need attention."
    return page


def _attach(page: CountPage, name: str, message: str) -> None:
    """Put a service error beside what it names: a line's field, or the page's."""
    match = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", name)
    if match and int(match.group(1)) < len(page.lines):
        short = match.group(2).replace("_quantity", "")
        page.lines[int(match.group(1))].errors[short] = message
    else:
        page.errors[name.removesuffix("_id")] = message


def _render(actor: Actor, page: CountPage, status: int = 200) -> Response:
    locations = _countable(actor) if page.location is None else []
    stores = {s.id: s.name for s in readable_stores()}
    page = replace(page, lines=[replace(line, position=n)
                                for n, line in enumerate(page.lines, start=1)])
    html = render_template(
        "inventory/count.html", page=page, location=page.location, locations=locations,
        store_names=stores, several_stores=len({loc.store_id for loc in locations}) > 1,
        idempotency_key=uuid.uuid4().hex,
    )
    return make_response(html, status)


def _text(message: str, status: int) -> Response:
    response = make_response(message, status)
    response.mimetype = "text/plain"
    return response
