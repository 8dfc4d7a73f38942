"""Every operation of the API, fed hostile values in every JSON body field, query parameter,
string path parameter and the Idempotency-Key header; plus bodies nested too deeply and
bodies whose keys no field can have.

The OpenAPI document lists the operations; each must have a case here (a new one without a
case fails the completeness test). schemathesis covers the schema (tests/api); this covers
the bytes the schema lets through: a NUL in a string, a lone surrogate, "５", 2**63.

For each request: never a 5xx; a 4xx is the API's JSON error and changes nothing (every row
of every table compared); a value the field must refuse gets a 4xx whose `fields` names the
field (or `body`, for the body as a whole); an accepted request is followed by a reset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from api.calls import CALLS, PURCHASING_READS, build_scene
from flask import Flask
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import ItemVariant, User
from app.services.people import tokens

from .conftest import Counter, Tally, changed_tables, fingerprint
from .hostile import CONTROLS, MARKUP, MISSING, SQL

ADMIN = "/api/v1/admin/inventory"
HOOKS = "/api/v1/store/webhooks"


# --------------------------------------------------------------------------- the world


def _ids(node: Any) -> Any:
    """The scene with every model replaced by its id: the rows are put back between tests,
    the ids stay."""
    if isinstance(node, SimpleNamespace):
        return SimpleNamespace(**{k: _ids(v) for k, v in vars(node).items()})
    return SimpleNamespace(id=node.id) if hasattr(node, "id") else node


@pytest.fixture
def api_world(
    keep_world: Callable[..., Any], make_store: Callable[..., Any],
    make_location: Callable[..., Any], make_product: Callable[..., Any],
    make_entry: Callable[..., Any], make_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Stores A and B as tests/api builds them (an entry of 10 with 2 reserved, a spare
    location, a digital product), the scene every call of api/calls.py succeeds on, and
    tokens for A's owner and a platform admin."""
    # A token records its last use at most once a minute; the fuzz of one database takes
    # longer than that, and the record is not a change any request asked for. Each token is
    # used once when the world is built, and that record then stands.
    monkeypatch.setattr(tokens, "LAST_USED_RESOLUTION", timedelta(days=3650))

    def build() -> SimpleNamespace:
        def store_world(name: str, prefix: str) -> SimpleNamespace:
            store = make_store(name)
            location = make_location(store, f"{prefix}_MAIN")
            spare = make_location(store, f"{prefix}_SPARE")
            product = make_product(store, f"{prefix}-MUG", title=f"{name} mug")
            digital = make_product(store, f"{prefix}-EBOOK", title=f"{name} ebook",
                                   type="digital")
            entry = make_entry(store=store, location=location, product=product, quantity=10,
                               reserved=2)
            item = SimpleNamespace(id=db.session.get(ItemVariant, product.id).item_id)
            return SimpleNamespace(store=store, location=location, spare=spare,
                                   product=product, digital=digital, entry=entry, item=item)

        world = SimpleNamespace(a=store_world("Alpha", "A"), b=store_world("Beta", "B"))
        scene = _ids(build_scene(world, make_location, make_entry))
        owner = make_user(role="owner", store=world.a.store)
        admin = make_user(platform_admin=True)
        scene.tokens = {}
        for who, user in (("owner", owner), ("admin", admin)):
            plaintext = tokens.create_token(user_id=user.id, name="fuzz")[1]
            tokens.authenticate_token(plaintext)
            scene.tokens[who] = plaintext
        return scene

    return keep_world("api", build)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class ApiCase:
    name: str
    method: str
    url: Callable[[Any], str]
    body: Callable[[Any], Any] = lambda s: None
    actor: str = "owner"  # "owner" of store A, "admin" (platform), "anonymous"
    locations: tuple[str, ...] = ()  # body fields holding a location code


def _from_call(c: Any) -> ApiCase:
    locations = tuple(k for k in ("location", "from_location", "to_location")
                      if isinstance(c.body(_PROBE), dict) and k in c.body(_PROBE))
    return ApiCase(c.name, c.method.upper(), c.url, c.body, "owner", locations)


_PROBE = SimpleNamespace(a=SimpleNamespace(**{k: SimpleNamespace(id=1) for k in (
    "store", "entry", "product", "location", "spare", "digital", "item")}),
    b=SimpleNamespace(**{k: SimpleNamespace(id=2) for k in (
        "store", "entry", "product", "location", "spare", "digital", "item")}),
    empty=SimpleNamespace(id=3), hold=SimpleNamespace(id=4), parka=SimpleNamespace(id=5),
    shelved=SimpleNamespace(id=6), kit=SimpleNamespace(id=7), supplier=SimpleNamespace(id=8),
    idle_supplier=SimpleNamespace(id=9), gone_supplier=SimpleNamespace(id=10),
    draft=SimpleNamespace(id=11), draft_line=SimpleNamespace(id=12),
    placed=SimpleNamespace(id=13), placed_line=SimpleNamespace(id=14),
    reorder=SimpleNamespace(id=15), webhook=SimpleNamespace(id=16),
    delivery=SimpleNamespace(id=17))

CASES: list[ApiCase] = [
    *(_from_call(c) for c in CALLS + PURCHASING_READS),
    ApiCase("me", "GET", lambda s: "/api/v1/me"),
    ApiCase("event feed", "GET",
            lambda s: f"/api/v1/store/events?store_id={s.a.store.id}&after=0&limit=5"),
    ApiCase("webhooks", "GET", lambda s: f"{HOOKS}?store_id={s.a.store.id}"),
    ApiCase("webhook create", "POST", lambda s: HOOKS,
            lambda s: {"store_id": s.a.store.id, "url": "http://127.0.0.1:9/new",
                       "description": "ERP", "event_types": ["stock.low"]}),
    ApiCase("webhook", "GET", lambda s: f"{HOOKS}/{s.webhook.id}"),
    ApiCase("webhook update", "PUT", lambda s: f"{HOOKS}/{s.webhook.id}",
            lambda s: {"url": "http://127.0.0.1:9/changed", "description": "Shop",
                       "event_types": ["stock.out"]}),
    ApiCase("webhook enabled", "PUT", lambda s: f"{HOOKS}/{s.webhook.id}/enabled",
            lambda s: {"enabled": False}),
    ApiCase("webhook secret", "POST", lambda s: f"{HOOKS}/{s.webhook.id}/secret"),
    ApiCase("webhook delete", "DELETE", lambda s: f"{HOOKS}/{s.webhook.id}"),
    ApiCase("webhook deliveries", "GET",
            lambda s: f"{HOOKS}/{s.webhook.id}/deliveries?before={s.delivery.id + 1}"),
    ApiCase("webhook redeliver", "POST", lambda s: f"{HOOKS}/deliveries/{s.delivery.id}/redeliver"),
    # Draft purchase orders need purchasing:manage, which staff are never granted, so this
    # change is not among calls.py's matrix of grantable permissions.
    ApiCase("reorder drafts", "POST",
            lambda s: "/api/v1/store/reorder-suggestions/purchase-orders",
            lambda s: {"store_id": s.a.store.id, "lines": [
                {"product_id": s.reorder.id, "location_id": s.a.location.id,
                 "expected_quantity": 10}]}),
    ApiCase("public availability", "GET",
            lambda s: f"/api/v1/public/products/{s.a.product.id}/availability",
            actor="anonymous"),
    ApiCase("public item availability", "GET",
            lambda s: f"/api/v1/public/items/{s.a.item.id}/availability",
            actor="anonymous"),
    ApiCase("admin list", "GET", lambda s: f"{ADMIN}?store_id={s.a.store.id}&low_stock=5",
            actor="admin"),
    ApiCase("admin stats", "GET", lambda s: f"{ADMIN}/stats?store_id={s.a.store.id}",
            actor="admin"),
    ApiCase("admin low stock", "GET",
            lambda s: f"{ADMIN}/low-stock?store_id={s.a.store.id}&threshold=5", actor="admin"),
    ApiCase("admin stores", "GET", lambda s: f"{ADMIN}/stores", actor="admin"),
    ApiCase("admin locations", "GET", lambda s: f"{ADMIN}/locations?store_id={s.a.store.id}",
            actor="admin"),
    ApiCase("admin product", "GET", lambda s: f"{ADMIN}/products/{s.a.product.id}",
            actor="admin"),
    ApiCase("admin store", "GET", lambda s: f"{ADMIN}/stores/{s.a.store.id}?q=mug",
            actor="admin"),
    ApiCase("admin set", "POST", lambda s: f"{ADMIN}/set",
            lambda s: {"store_id": s.a.store.id, "entry_id": s.a.entry.id, "quantity": 12,
                       "reason": "Recount"}, actor="admin"),
    ApiCase("admin adjust", "POST", lambda s: f"{ADMIN}/adjust",
            lambda s: {"store_id": s.a.store.id, "product_id": s.a.product.id,
                       "location": "A_MAIN", "quantity": 2, "reason": "Found"},
            actor="admin", locations=("location",)),
    ApiCase("admin threshold", "PUT", lambda s: f"{ADMIN}/{s.a.entry.id}",
            lambda s: {"low_stock_threshold": 3}, actor="admin"),
    ApiCase("admin delete", "DELETE", lambda s: f"{ADMIN}/{s.empty.id}", actor="admin"),
    ApiCase("store activity", "GET",
            lambda s: f"/api/v1/stores/{s.a.store.id}/activity?kind=product&actor=x"
                      f"&product_id={s.a.product.id}&from=2026-01-01&to=2026-12-31&limit=5"),
    ApiCase("admin activity", "GET",
            lambda s: f"/api/v1/admin/activity?store_id={s.a.store.id}&object_type=entry"
                      f"&object_id={s.a.entry.id}&kind=entry.threshold_set", actor="admin"),
]


def _operations(app: Flask) -> set[tuple[str, str]]:
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return {(method.upper(), path) for path, item in document["paths"].items()
            for method in item if method != "parameters"}


def _operation_of(operations: set[tuple[str, str]], method: str, url: str) -> tuple[str, str]:
    path = urlsplit(url).path
    for op_method, template in operations:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if op_method == method and re.fullmatch(pattern, path):
            return op_method, template
    raise AssertionError(f"no operation for {method} {url}")


def test_every_api_operation_has_a_case(app: Flask) -> None:
    operations = _operations(app)
    scene = _PROBE
    covered = {_operation_of(operations, c.method, c.url(scene)) for c in CASES}
    assert operations - covered == set(), "API operations without a fuzz case"
    assert len({c.name for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- the values


@dataclass(frozen=True)
class Mutation:
    where: str  # "body", "query", "path", "header", "whole"
    field: str  # as `fields` names it
    cls: str
    value: Any
    must_refuse: bool

    def shown(self) -> str:
        if self.value is MISSING:
            return "missing"
        return repr(self.value)[:40]


def _json_values(valid: Any, foreign: list[Any]) -> Iterator[tuple[str, Any, bool]]:
    """(class, value, must refuse) for a JSON body field whose valid value is `valid`."""
    number = isinstance(valid, int) and not isinstance(valid, bool)
    text = str(valid)
    for c in CONTROLS:
        yield "control", f"{text}{c}", True
    yield "control", f"\x00{text}", True
    yield "surrogate", "\ud800", True
    yield "surrogate", f"{text}\udfff", True
    yield "overlong", "x" * 10_240, True
    yield "overlong", "x" * 100_000, True
    for v in ("５", "1\u00a0", "\u20071"):
        yield "foreign_digits", v, number
    for v in (2**63, 10**30, -(2**63)):
        yield "huge", v, number
    for v in (1.5, 1e3, float("nan"), float("inf")):
        yield "float", v, True
    yield "float", "1.5", number
    for v in ("+1", "--1", "1"):
        yield "sign", v, number  # a number as a string: JSON numbers are numbers
    for v in (True, None, [], {}, [valid]):
        # An empty list may be what a list means (an item without options, a bundle with
        # no components left); another type never is.
        empty_list = v == [] and isinstance(valid, list)
        # true for a yes/no field that was false is a value, not another type.
        other_flag = isinstance(valid, bool) and isinstance(v, bool)
        yield "type", v, number or (v is not None and not empty_list and not other_flag)
    for v in (MARKUP[0], MARKUP[2], SQL[0]):
        yield "markup", v, number
    for v in foreign:
        yield "foreign", v, True
    yield "empty", "", number
    yield "empty", MISSING, False  # whether a field is required is the schema's business


def _query_values(valid: str, integer: bool, enum: bool) -> Iterator[tuple[str, Any, bool]]:
    strict = integer or enum
    for c in CONTROLS[:3]:
        yield "control", f"{valid}{c}", True
    yield "surrogate", "%ED%A0%80", strict  # arrives as U+FFFD
    yield "overlong", "x" * 10_240, True
    for v in ("５", "1\u00a0", "\u20071", str(2**63), "1.5", "NaN", "--1"):
        yield "number", v, strict
    for v in (MARKUP[0], SQL[0]):
        yield "markup", v, strict


def mutations(case: ApiCase, scene: Any, operations: dict[tuple[str, str], Any]
              ) -> Iterator[tuple[Mutation, str, Any, dict[str, str]]]:
    """(mutation, url, body, headers) for every hostile request of the case."""
    url, body = case.url(scene), case.body(scene)
    foreign_ids = {"store_id": scene.b.store.id, "entry_id": scene.b.entry.id,
                   "product_id": scene.b.product.id}
    # Body fields, and the fields of the first order line.
    if isinstance(body, dict):
        for path in _paths(body):
            valid = _get(body, path)
            name = path[-1]
            foreign: list[Any] = []
            if name in foreign_ids:
                foreign = [foreign_ids[name]]
            if name in case.locations:
                foreign = ["B_MAIN"]
            for cls, value, bad in _json_values(valid, foreign):
                if name == "line_ref" and cls == "empty":
                    bad = False
                changed = _set(body, path, value)
                yield Mutation("body", _name(path), cls, value, bad), url, changed, {}
        # Keys no field can have, and bodies nested too deeply.
        for key in ("a\x00", "\ud800", "\x1b[2J"):
            yield (Mutation("body", _printable(key), "key", key, True), url,
                   {**body, key: 1}, {})
    if body is not None:
        deep: Any = 1
        for _ in range(40):
            deep = [deep]
        nested = {**body, "extra": deep} if isinstance(body, dict) else deep
        yield Mutation("whole", "body", "nested", "40 levels", True), url, nested, {}
        yield (Mutation("whole", "body", "nested", "[" * 10_000, True), url,
               RawJson("[" * 10_000), {})
    # Query parameters, as the OpenAPI document declares them.
    split = urlsplit(url)
    given = dict(p.split("=", 1) for p in split.query.split("&") if p)
    for param in operations.get("query", []):
        name, schema = param["name"], param.get("schema", {})
        valid = given.get(name, "1" if schema.get("type") == "integer" else "mug")
        values = list(_query_values(valid, schema.get("type") == "integer", "enum" in schema))
        foreign_query = {"store_id": scene.b.store.id, "location_id": scene.b.location.id}
        if name in foreign_query and case.actor == "owner":
            # Another store's id as a filter is "not found", as one that does not exist.
            values.append(("foreign", str(foreign_query[name]), True))
        for cls, value, bad in values:
            query = {**given, name: value}
            raw = value == "%ED%A0%80"
            qs = urlencode({k: v for k, v in query.items() if k != name}) + \
                f"&{name}={value if raw else quote(value, safe='')}"
            yield (Mutation("query", name, cls, value, bad), f"{split.path}?{qs}", body, {})
    # String path parameters (ints are the router's: anything else is a 404 there).
    if "/orders/" in split.path and not split.path.endswith("/availability"):
        ref = split.path.split("/")[4]
        for c in CONTROLS[:3]:
            bad_path = split.path.replace(ref, quote(f"{ref}{c}", safe=""), 1)
            yield (Mutation("path", "order_ref", "control", f"{ref}{c}", True),
                   f"{bad_path}?{split.query}", body, {})
        for v in (MARKUP[0], "５", "x" * 101):
            bad_path = split.path.replace(ref, quote(v, safe=""), 1)
            yield (Mutation("path", "order_ref", "text", v, False),
                   f"{bad_path}?{split.query}", body, {})
    # The Idempotency-Key header of a change.
    if any(p["name"] == "Idempotency-Key" for p in operations.get("header", [])):
        for value, bad in (("k\x00", True), ("\x1bk", True), ("k" * 201, True),
                           (MARKUP[0], False), ("", False)):
            yield (Mutation("header", "Idempotency-Key", "header", value, bad), url, body,
                   {"Idempotency-Key": value})


@dataclass(frozen=True)
class RawJson:
    text: str


def _paths(body: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    for key, value in body.items():
        if key == "lines" and isinstance(value, list) and value:
            for inner in value[0]:
                yield ("lines", 0, inner)
        else:
            yield (key,)


def _get(body: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        body = body[step]
    return body


def _set(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    if value is MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return copy


def _name(path: tuple[Any, ...]) -> str:
    return path[0] if len(path) == 1 else f"{path[0]}[{path[1]}].{path[2]}"


def _printable(name: str) -> str:
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]",
                  lambda m: f"\\u{ord(m.group()):04x}", name)


def names(error: dict[str, Any], m: Mutation) -> bool:
    fields = error.get("fields") or {}
    if m.where == "whole" or error.get("code") == "too_large":
        return "body" in fields  # the body as a whole could not be read
    if m.cls == "foreign":
        # Another store's id is not found; the error names the lookup that failed, which
        # for an id given with another (a store and an entry in it) may be the other one.
        return bool(fields)
    return any(key == m.field or key.startswith(f"{m.field}.") or key.startswith(
        f"{m.field}[") for key in fields)


# --------------------------------------------------------------------------- requests


def _send(app: Flask, case: ApiCase, token: str | None, url: str, body: Any,
          headers: dict[str, str]) -> TestResponse:
    client = app.test_client()
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **headers}
    if case.method in ("GET", "DELETE"):
        return client.open(url, method=case.method, headers=headers)
    data = body.text if isinstance(body, RawJson) else json.dumps(body)
    return client.open(url, method=case.method, headers=headers, data=data,
                       content_type="application/json")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_values_in_every_api_field(
    case: ApiCase, app: Flask, api_world: Any, tally: Tally,
) -> None:
    scene = api_world.data
    token = None if case.actor == "anonymous" else scene.tokens[case.actor]
    all_operations = _operations_with_parameters(app)
    op = _operation_of(set(all_operations), case.method, case.url(scene))
    counter = Counter(tally, api_operation=f"{op[0]} {op[1]}")

    before = fingerprint()
    response = _send(app, case, token, case.url(scene), case.body(scene), {})
    counter.sent(response.status_code)
    assert 200 <= response.status_code < 300, response.get_data(as_text=True)[:500]
    if case.method != "GET" and case.name not in ("availability",):
        assert changed_tables(before, fingerprint()), "the valid request changed nothing"
    api_world.reset()
    baseline = fingerprint()

    failures: list[str] = []
    for m, url, body, headers in mutations(case, scene, all_operations[op]):
        response = _send(app, case, token, url, body, headers)
        status = response.status_code
        counter.sent(status)
        where = f"{m.where} {m.field}={m.shown()} ({m.cls})"
        if status >= 500:
            failures.append(f"{where}: {status} {response.get_data(as_text=True)[:200]}")
            api_world.reset()
            continue
        after = fingerprint()
        if status >= 400:
            error = (response.get_json(silent=True) or {}).get("error")
            if not isinstance(error, dict):
                failures.append(f"{where}: {status} is not the API's JSON error")
                error = {}
            if after != baseline:
                failures.append(f"{where}: refused with {status} but changed "
                                f"{changed_tables(baseline, after)}")
                api_world.reset(after)
            if m.must_refuse and not names(error, m):
                failures.append(f"{where}: {status} without naming it: {error}")
            continue
        if m.must_refuse:
            failures.append(f"{where}: accepted with {status}")
        if after != baseline:
            api_world.reset(after)
    assert failures == [], f"{len(failures)} failures on {case.name}:\n" + "\n".join(failures)


_DOCUMENTS: dict[int, dict[tuple[str, str], Any]] = {}


def _operations_with_parameters(app: Flask) -> dict[tuple[str, str], Any]:
    """Each operation's parameters by where they go: {"query": [...], "path": [...]}."""
    if id(app) not in _DOCUMENTS:
        document = app.test_client().get("/api/v1/openapi.json").get_json()
        found: dict[tuple[str, str], Any] = {}
        for path, item in document["paths"].items():
            shared = item.get("parameters", [])
            for method, op in item.items():
                if method == "parameters":
                    continue
                by_place: dict[str, list[Any]] = {}
                for p in [*shared, *op.get("parameters", [])]:
                    by_place.setdefault(p["in"], []).append(p)
                found[(method.upper(), path)] = by_place
        _DOCUMENTS[id(app)] = found
    return _DOCUMENTS[id(app)]

