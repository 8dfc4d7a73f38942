"""The overview's rows, built in Python through MarkupSafe: a page of 50 of them is most of
the overview's bytes and most of its rendering time.

Each value from the database goes through `escape` exactly once, as it is put into the row;
numbers are formatted from ints and cannot hold markup. What varies only by store (which
actions the actor may use there) is worked out once per store and request, and the row's
"More" menu is not in the row at all: the page carries one menu per set of actions, as a
<template> whose links name entry 0, and static/app.js fills in the row's entry when it is
opened.
Without JavaScript, "More" is a link to the entry's page, which offers every action.
A row names its entry's store only on a page that spans several stores; a page of one store
names it once, at its head.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from flask import current_app, g, request, url_for
from markupsafe import Markup, escape

from app.inventory import bp
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.permissions import ADJUST, READ, THRESHOLD
from app.services.queries import EntryView
from app.web import current_actor

# Placeholder entry id in a URL built once and then filled in per row.
_SLOT = "/entries/0/"
# Stand-in for the entry id while an actions cell is rendered. A NUL never reaches the HTML
# otherwise: URLs percent-encode it and the labels are ours.
_ID = "\x00id\x00"

# One row. The cells' order is what static/app.css lays out (by position for the plain
# numbers), so a cell moves here only together with the stylesheet. {0} is the entry id;
# every other field is either escaped or built from ints and our own labels.
#
# Optional end tags are left out (</td> before the next cell or the row's end), as HTML
# allows: the parser closes each cell itself, and a page of 50 rows is 2.5 KB smaller.
_ROW = (
    '<tr id="entry-{0}"{1}><td>{2}<a id="t{0}" href="{3}">{4}</a><small>{5}</small>{6}'
    '<td><code id="l{0}">{7}</code>{8}'
    "{9}<td>{10}<td>{11}<td>{12}<td>{13}<td>{14}</tr>"
)
# On hand, reserved, available; an unlimited product's row says so across the three.
_QUANTITIES = "<td>{0:,}<td>{1:,}<td>{2:,}"
_UNLIMITED_CELLS = '<td class="unlimited-cell" colspan="3">Unlimited'
# Labelled by the row's product and location, as the row's buttons are described by them.
_SELECT = ('<input type="checkbox" name="entry" value="{0}" form="bulk-select" '
           'aria-labelledby="t{0} l{0}">')
_NOTE = '<span class="row-note" role="status" data-row-note>{0}</span>'
_BADGE = '<span class="badge badge-{0}">{1}</span>'
_UNLIMITED_BADGE = '<span class="badge badge-unlimited">Unlimited</span>'


def _spans_stores(store_arg: str | None) -> bool:
    """Whether a page of rows, filtered by this ?store= value, may hold several stores'
    entries. Not when it names a store the actor may read (the rows are that store's), nor
    when the actor may read one store only. From the actor's memberships: no query."""
    raw = (store_arg or "").strip()
    actor = current_actor()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and actor.can(READ, int(raw)):
        return False
    readable = actor.stores_with(READ)
    return readable is None or len(readable) != 1


def _store_shown() -> bool:
    """Whether rows name their store: only on a page that may list several stores' entries.
    A page of one store names it once, at its head, so the rows need not."""
    shown: bool | None = g.get("_rows_store_shown")
    if shown is None:
        shown = g._rows_store_shown = _spans_stores(request.args.get("store"))
    return shown


@bp.app_template_global()
def rows_name_store() -> bool:
    """Whether the rows being rendered name their store (see _store_shown)."""
    return _store_shown()


def rows_of_page(url: str | None) -> None:
    """Rows rendered from here on stand in the page at this URL (the row sent back after an
    action, or asked for alone): they name their store as that page's own rows do."""
    query = parse_qs(urlsplit(url or "").query)
    g._rows_store_shown = _spans_stores((query.get("store") or [""])[0])
    g.pop("_rows", None)
    if query.get("group"):
        # The overview grouped by item has no bulk bar for a checkbox to send.
        without_row_selection()


def row_actions_for(store_id: int) -> tuple[str, ...]:
    """The row actions the signed-in actor may use on entries of this store, in order."""
    cache: dict[int, tuple[str, ...]] = g.setdefault("_row_actions", {})
    if store_id not in cache:
        actor = current_actor()
        cache[store_id] = tuple(
            name for name in ROW_ACTIONS if actor.can(ACTIONS[name].permission, store_id)
        )
    return cache[store_id]


def row_selectable(store_id: int) -> bool:
    """Whether rows of this store get a checkbox: some bulk action is allowed there, and
    the page has a bulk bar (the overview grouped by item has none)."""
    if g.get("_rows_unselectable"):
        return False
    cache: dict[int, bool] = g.setdefault("_row_selectable", {})
    if store_id not in cache:
        actor = current_actor()
        cache[store_id] = actor.can(ADJUST, store_id) or actor.can(THRESHOLD, store_id)
    return cache[store_id]


def entry_action_url(entry_id: int, action_name: str) -> str:
    """url_for('inventory.entry_action', …) for this entry, built once per action."""
    cache: dict[str, str] = g.setdefault("_row_action_urls", {})
    if action_name not in cache:
        cache[action_name] = url_for("inventory.entry_action", entry_id=0,
                                     action_name=action_name)
    return cache[action_name].replace(_SLOT, f"/entries/{int(entry_id)}/", 1)


def _entry_base() -> str:
    base: str | None = g.get("_entry_url")
    if base is None:
        base = g._entry_url = url_for("inventory.entry", entry_id=0).removesuffix("0")
    return base


@bp.app_template_global()
def entry_url(entry_id: int) -> str:
    """url_for('inventory.entry', entry_id=…), built once per request."""
    return f"{_entry_base()}{int(entry_id)}"


@bp.app_template_global()
def row_actions_cell(entry: EntryView) -> Markup:
    """The inside of a row's actions cell: its first action and the "More" link that opens
    the page's menu for the entry's store. Both are described by the row's product link
    (id t<entry>) and location code (id l<entry>)."""
    cache: dict[int, str] = g.setdefault("_row_action_cells", {})
    shape = cache.get(entry.store_id)
    if shape is None:
        shape = cache[entry.store_id] = _actions_shape(entry.store_id)
    return Markup(shape.format(int(entry.id)))


def _actions_shape(store_id: int) -> str:
    """The actions cell of any entry of this store, as a str.format template of its id.

    No `next` in the links: the action's form takes the page it was opened from (htmx's
    current URL, or the Referer of a plain click; see urls.next_from_request)."""
    allowed = row_actions_for(store_id)
    if not allowed:
        return ""
    first = ACTIONS[allowed[0]]
    html = (
        f'<div class="row-actions"><a href="{escape(entry_action_url(0, first.name))}"'
        f' data-dialog aria-describedby="t{_ID} l{_ID}">{escape(first.label)}</a>'
    )
    if len(allowed) > 1:
        html += (
            f'<a href="{escape(_entry_base())}{_ID}" data-more="{menu_key(allowed)}"'
            f' aria-describedby="t{_ID} l{_ID}">More</a>'
        )
    html = html.replace(_SLOT, f"/entries/{_ID}/", 1)
    return html.replace("{", "{{").replace("}", "}}").replace(_ID, "{0}") + "</div>"


def without_row_selection() -> None:
    """Rows rendered from here on in this request get no checkbox: their page has no bulk
    bar to send them."""
    g._rows_unselectable = True
    g.pop("_rows", None)


@bp.app_template_global()
def prepare_row_menus(store_ids: Iterable[int]) -> str:
    """Count these stores' rows as rendered, so row_menus() carries their "More" menus:
    for a page whose rows arrive later (a group of the grouped overview, expanded)."""
    cache: dict[int, str] = g.setdefault("_row_action_cells", {})
    for store_id in store_ids:
        if store_id not in cache:
            cache[store_id] = _actions_shape(store_id)
    return ""


@bp.app_template_global()
def item_url(item_id: int) -> str:
    """An item's own page (its variant × location matrix)."""
    return url_for("catalog.item", item_id=item_id)


def menu_key(allowed: tuple[str, ...]) -> int:
    """Which "More" menu a row opens: a number naming the set of actions it offers (one bit
    per row action), so stores where the actor may do the same share one menu, and a row
    sent alone after an action names the menu its page already holds."""
    return sum(1 << index for index, name in enumerate(ROW_ACTIONS) if name in allowed)


@bp.app_template_global()
def row_menus() -> Markup:
    """One "More" menu per set of actions the rows rendered so far offer, as templates
    naming entry 0 (static/app.js puts in the row's id). Called after the rows."""
    cells: dict[int, str] = g.get("_row_action_cells", {})
    menus: dict[int, tuple[str, ...]] = {}
    for store_id in cells:
        allowed = row_actions_for(store_id)
        if len(allowed) > 1:
            menus.setdefault(menu_key(allowed), allowed)
    macro = current_app.jinja_env.get_template("inventory/_row.html").module.row_menu
    html = [
        str(macro(key, allowed[1:], {name: entry_action_url(0, name) for name in allowed},
                  ACTIONS))
        for key, allowed in menus.items()
    ]
    return Markup("".join(html))


class _Rows:
    """What the rows of one request share, looked up once for the page instead of once per
    row: request globals (flask.g is a context-local proxy, and a row used to reach it seven
    times), each store's checkbox and actions cell, each day's label, each status's badge."""

    __slots__ = ("entry_base", "store_shown", "stores", "days", "badges")

    def __init__(self) -> None:
        self.entry_base = _entry_base()
        self.store_shown = _store_shown()
        self.stores: dict[int, tuple[str, str]] = {}
        self.days: dict[object, str] = {}
        self.badges: dict[tuple[str, str], str] = {}

    def store(self, store_id: int) -> tuple[str, str]:
        """The row's checkbox (a template of the entry id, or "") and its actions cell."""
        shared = self.stores.get(store_id)
        if shared is None:
            cells: dict[int, str] = g.setdefault("_row_action_cells", {})
            shape = cells.get(store_id)
            if shape is None:
                shape = cells[store_id] = _actions_shape(store_id)
            shared = self.stores[store_id] = (
                _SELECT if row_selectable(store_id) else "", shape)
        return shared

    def day(self, moment: datetime) -> str:
        """A movement's day as the overview shows it ("04 Dec"), formatted once per day."""
        day = moment.date()
        label = self.days.get(day)
        if label is None:
            label = self.days[day] = moment.strftime("%d %b")
        return label

    def badge(self, status: str, label: str) -> str:
        badge = self.badges.get((status, label))
        if badge is None:
            badge = self.badges[(status, label)] = _BADGE.format(escape(status), escape(label))
        return badge


def _rows() -> _Rows:
    rows: _Rows | None = g.get("_rows")
    if rows is None:
        rows = g._rows = _Rows()
    return rows


def _row_html(entry: EntryView, note: str | None, rows: _Rows) -> str:
    entry_id = int(entry.id)
    select, actions = rows.store(entry.store_id)
    if entry.unlimited:
        row_class = ' class="row-changed unlimited"' if note else ' class="unlimited"'
        quantities, badge = _UNLIMITED_CELLS, _UNLIMITED_BADGE
    else:
        row_class = ' class="row-changed"' if note else ""
        quantities = _QUANTITIES.format(
            int(entry.quantity), int(entry.reserved_quantity), int(entry.available_quantity)
        )
        badge = rows.badge(entry.status, entry.status_label)
    threshold = entry.low_stock_threshold
    moved = entry.last_movement_at
    return _ROW.format(
        entry_id,
        row_class,
        select.format(entry_id),
        f"{rows.entry_base}{entry_id}",
        escape(entry.title),
        escape(entry.sku),
        _NOTE.format(escape(note)) if note else "",
        escape(entry.location_code),
        f"<small>{escape(entry.store_name)}</small>" if rows.store_shown else "",
        quantities,
        f"{int(entry.incoming_quantity):,}",
        f"{int(threshold):,}" if threshold else "Off",
        badge,
        "—" if moved is None else rows.day(moved),
        actions.format(entry_id),
    )


@bp.app_template_global("lean_entry_row")
def entry_row(entry: EntryView, note: str | None = None) -> Markup:
    """One overview row: for every row of a page and for the one row sent after a change."""
    return Markup(_row_html(entry, note, _rows()))


@bp.app_template_global()
def entry_rows(entries: Iterable[EntryView]) -> Markup:
    """A page of overview rows."""
    rows = _rows()
    return Markup("".join([_row_html(entry, None, rows) for entry in entries]))
