"""Templates without their indentation: what a page's HTML needs, not how its source reads.

Every line of a template loses its leading and trailing spaces and tabs before Jinja compiles
it (once per template, not per request). Line breaks stay, so text on either side of one keeps
its space and the page renders as before: outside <pre>, <textarea> and `white-space: pre`
(which no template uses) a run of whitespace between words or tags is one space to the
browser. Where a line follows a block tag or a comment, whose line break trim_blocks takes
away, one space stands in for the indentation: an attribute continued on the next line stays
apart from the one before it. The overview's frame alone drops about a kilobyte a page.
"""

from __future__ import annotations

import re

from jinja2.ext import Extension

# A template that holds whitespace-sensitive markup keeps its source as written.
_KEEP = re.compile(r"<(?:pre|textarea)\b", re.IGNORECASE)


def strip_indentation(source: str) -> str:
    lines = source.split("\n")
    out: list[str] = []
    after_tag = False
    for line in lines:
        text = line.strip(" \t")
        indented = text != "" and line[0] in " \t"
        if after_tag and indented and not text.startswith(("{%", "{#")):
            text = " " + text
        out.append(text)
        # trim_blocks takes the line break after a block tag or a comment.
        after_tag = text.endswith(("%}", "#}"))
    return "\n".join(out)


class StripIndentation(Extension):
    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is not None and not name.endswith(".html"):
            return source
        if _KEEP.search(source):
            return source
        return strip_indentation(source)
