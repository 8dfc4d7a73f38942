"""Barcodes as inline SVG: Code 128 for SKUs and location codes, EAN-13 for a product's
13-digit GTIN, QR for anything. The encoders are python-barcode and segno; this module only
makes their SVG fit a page under Stockroom's CSP (no style attributes) and labels it for
screen readers."""

from __future__ import annotations

import io
import re

import barcode
import segno
from barcode.writer import SVGWriter
from markupsafe import Markup, escape

SYMBOLOGIES = {"auto": "Auto: EAN-13 for a GTIN-13, else Code 128",
               "code128": "Code 128", "qr": "QR code"}

_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# style="fill:black;" → fill="black": a style attribute is inline CSS, which the CSP refuses.
_STYLE_FILL = re.compile(r'style="fill:\s*([#a-zA-Z0-9]+);?"')


def svg(code: str, symbology: str = "code128", *, gtin: str | None = None) -> Markup:
    """The barcode of `code` (or of `gtin`, for EAN-13) as an <svg> element, or an empty
    Markup when the code cannot be drawn in that symbology (a Code 128 SKU always can)."""
    if symbology == "qr":
        out = io.BytesIO()
        # A viewBox and no fixed size: the sheet's CSS sizes it.
        segno.make(code, error="m").save(out, kind="svg", xmldecl=False, svgns=True,
                                         border=2, omitsize=True)
        drawn = out.getvalue().decode()
        label = f"QR code of {code}"
    else:
        kind, value = "code128", code
        if symbology == "auto" and gtin and len(gtin) == 13 and gtin.isascii() and gtin.isdigit():
            kind, value = "ean13", gtin
        try:
            symbol = barcode.get(kind, value, writer=SVGWriter())
        except (barcode.errors.BarcodeError, ValueError):
            return Markup("")
        out = io.BytesIO()
        symbol.write(out, options={"module_width": 0.3, "module_height": 12.0,
                                   "quiet_zone": 2.5, "write_text": False})
        drawn = out.getvalue().decode()
        label = f"{'EAN-13' if kind == 'ean13' else 'Code 128'} barcode of {value}"
    drawn = _STYLE_FILL.sub(r'fill="\1"', _COMMENT.sub("", _PROLOGUE.sub("", drawn, count=1)))
    drawn = drawn.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(drawn)  # noqa: S704 - encoder output; the only text in it is escaped above
