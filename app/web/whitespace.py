"""Templates without their indentation: what a page's HTML needs, not how its source reads.

Every line of a template loses its leading and trailing spaces and tabs before Jinja compiles
it (once per template, not per request). Line breaks stay, so text on either side of one keeps
its space and the page renders as before: outside <pre>, <textarea> and `white-space: pre`
(which no template uses) a run of whitespace between words or tags is one space to the
browser. The overview's frame alone drops about a kilobyte a page.
"""

from __future__ import annotations

import re

from jinja2.ext import Extension

_INDENT = re.compile(r"^[ \t]+|[ \t]+$", re.MULTILINE)
# A template that holds whitespace-sensitive markup keeps its source as written.
_KEEP = re.compile(r"<(?:pre|textarea)\b", re.IGNORECASE)


class StripIndentation(Extension):
    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None and not name.endswith(".html"):
            return source
        if _KEEP.search(source):
            return source
        return _INDENT.sub("", source)
