"""Printable label sheets: barcodes of products, entries and locations, for the shelf and
the scanner."""

from __future__ import annotations

from flask import render_template, request
from flask_login import login_required

from app.labels import bp
from app.services import labels
from app.services.errors import NotFound
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor
from app.web.barcodes import SYMBOLOGIES, svg


def _ids(name: str) -> list[int]:
    """Every ?name=ID of the query string (also comma-separated); a malformed one is a 404,
    like an id of another store."""
    found: list[int] = []
    for raw in request.args.getlist(name):
        for part in raw.split(","):
            if not ascii_strip(part):
                continue
            value = parse_id(part)
            if value is None:
                raise NotFound(f"No such {name}.", {name: f"No such {name}."})
            found.append(value)
    return found


@bp.get("")
@login_required
def sheet():  # type: ignore[no-untyped-def]
    """A sheet of labels, ready to print: ?product=, ?entry=, ?location= ids, or ?store= with
    ?every=products|locations; ?symbology= auto, code128 or qr."""
    symbology = request.args.get("symbology", "auto")
    if symbology not in SYMBOLOGIES:
        symbology = "auto"
    store = _ids("store")
    sheet_labels = labels.labels_for(
        current_actor(), product_ids=_ids("product"), entry_ids=_ids("entry"),
        location_ids=_ids("location"), store_id=store[0] if store else None,
        every=request.args.get("every"),
    )
    drawn = [(label, svg(label.code, symbology, gtin=label.gtin)) for label in sheet_labels]
    query = {k: v for k, v in request.args.items(multi=True) if k != "symbology"}
    return render_template("labels/sheet.html", labels=drawn, symbology=symbology,
                           symbologies=SYMBOLOGIES, query=query)
