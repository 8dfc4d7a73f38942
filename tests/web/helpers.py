"""What the web tests read out of pages: tokens, hidden values, links, and markup audits."""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.inventory.actions import ACTIONS

PASSWORD = "correct horse battery staple"
HX = {"HX-Request": "true"}

ACTION_NAMES = tuple(ACTIONS)


class Htmx:
    """Requests as htmx sends them: `HX-Request: true` on top of any other headers."""

    headers = HX

    def get(self, client: FlaskClient, url: str, **kwargs: Any) -> TestResponse:
        return client.get(url, headers={**HX, **kwargs.pop("headers", {})}, **kwargs)

    def post(self, client: FlaskClient, url: str, **kwargs: Any) -> TestResponse:
        return client.post(url, headers={**HX, **kwargs.pop("headers", {})}, **kwargs)


def hidden_value(body: str, name: str) -> str:
    """The value of the form input called `name` (the first one on the page)."""
    for match in re.finditer(r"<input\b[^>]*>", body):
        tag = match.group(0)
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(value.group(1)) if value else ""
    raise AssertionError(f"no input named {name!r} in the page")


def csrf_from_page(body: str) -> str:
    """The CSRF token a page hands to its forms."""
    return hidden_value(body, "csrf_token")


def csrf_from_hx_headers(body: str) -> str:
    match = re.search(r"hx-headers='([^']*)'", body)
    assert match, "no hx-headers on the page"
    token = re.search(r'"X-CSRFToken": "([^"]+)"', html.unescape(match.group(1)))
    assert token, match.group(1)
    return token.group(1)


def action_links(body: str, entry_id: int) -> set[str]:
    """The stock actions a page offers for an entry (links to their dialogs): the entry's
    own links, and the page's "More" menu for the entry's store when its row has one (the
    menu's links name entry 0, and the page's script puts in the row's entry). A single
    row sent after an action carries no menu: the page it lands in has it."""
    found = set(re.findall(rf'href="/inventory/entries/{entry_id}/([a-z]+)["?]', body))
    row = re.search(rf'<tr id="entry-{entry_id}"[^>]*>.*?</tr>', body, re.S)
    more = re.search(r'data-more="(\d+)"', row.group(0)) if row else None
    if more:
        menu = re.search(rf'<template id="row-menu-{more.group(1)}">(.*?)</template>', body, re.S)
        assert menu or "<table" not in body, f"no menu for store {more.group(1)} on the page"
        if menu:
            found |= set(re.findall(r'href="/inventory/entries/0/([a-z]+)"', menu.group(1)))
    return found


class MarkupAudit(HTMLParser):
    """Records what a strict CSP would block or what smells of injected markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline_scripts: list[str] = []
        self.script_srcs: list[str] = []
        self.style_attrs: list[str] = []
        self.handler_attrs: list[str] = []
        self.style_blocks = 0
        self.tags: list[tuple[str, dict[str, Any]]] = []
        self._in_script = False
        self._script_src = ""
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        for name, _value in attrs:
            if name == "style":
                self.style_attrs.append(tag)
            if name.startswith("on"):
                self.handler_attrs.append(f"{tag} {name}")
        if tag == "script":
            self._in_script = True
            self._script_src = str(attributes.get("src") or "")
            self._script_text = []
            if self._script_src:
                self.script_srcs.append(self._script_src)
        if tag == "style":
            self.style_blocks += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script:
            self._in_script = False
            text = "".join(self._script_text).strip()
            if not self._script_src or text:
                self.inline_scripts.append(text or "<script> without src")

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self._script_text.append(data)

    def elements(self, tag: str, **attributes: str) -> list[dict[str, Any]]:
        return [
            attrs for name, attrs in self.tags
            if name == tag and all(attrs.get(k) == v for k, v in attributes.items())
        ]


def audit(body: str) -> MarkupAudit:
    parser = MarkupAudit()
    parser.feed(body)
    parser.close()
    return parser


def assert_csp_clean(body: str) -> None:
    """No inline script, no style attribute or block, no event-handler attribute."""
    found = audit(body)
    assert found.inline_scripts == [], found.inline_scripts[:3]
    assert found.style_attrs == [], found.style_attrs[:3]
    assert found.style_blocks == 0
    assert found.handler_attrs == [], found.handler_attrs[:3]


def valid_form(action: str, place: SimpleNamespace, **changes: str) -> dict[str, str]:
    """A submission of `action` that succeeds on a scene's entry (quantity 10,
    reserved 2; reserved 0 for delete)."""
    fields: dict[str, str] = {
        "adjust": {"delta": "3", "reason": "Found in the back"},
        "set": {"quantity": "7"},
        "count": {"counted_quantity": "8"},
        "reserve": {"quantity": "2", "order_ref": "ORD-1001"},
        "release": {"quantity": "1", "reservation_id": ""},
        "fulfill": {"quantity": "1", "reservation_id": ""},
        "return": {"quantity": "2", "reason": "Customer return"},
        "transfer": {"to_location_id": str(place.spare.id), "quantity": "1"},
        "threshold": {"low_stock_threshold": "4"},
        "delete": {"reason": "Location closed"},
    }[action]
    return {"idempotency_key": uuid.uuid4().hex, **fields, **changes}
