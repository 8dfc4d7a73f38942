"""Webhooks: a store's events, signed and sent to the endpoints its managers name.

Sending follows the outbox (app.services.events) and never blocks a stock change:
- `fan_out` moves each enabled endpoint's cursor along its store's events, adding one
  delivery per event it wants, in one transaction per step (a crash queues nothing, and the
  next run queues the same events; a delivery is unique per endpoint and event);
- `deliver_due` sends what is due, signed as the Standard Webhooks specification says
  (`webhook-id` is the event's id, the same on every attempt, `webhook-timestamp`,
  `webhook-signature`), to the address it checked, with no redirect followed and time-outs
  on connect and read. A 2xx answer delivers; anything else is tried again after 30 s,
  2, 10 and 30 min, then hourly doubling to 8 h, each ±20 %, until a day has passed (then
  the delivery is dead, and can be sent again by hand). An entry's events go in order: a
  delivery waits while an earlier one of the same entry to the same endpoint is pending.
- an endpoint whose every attempt has failed for a day is disabled, its store's owners told.
A worker killed after a receiver answered but before the answer was recorded sends that
event again on its next run: at least once, with the same `webhook-id`.

Targets are checked when saved and again, resolved, before every request (SSRF): `https`
only, unless plain `http` to a loopback address is allowed (development and tests), and no
loopback, private, link-local, shared (CGNAT), multicast or reserved address unless its
host is on the allow-list. The request goes to the address checked, so a name that resolves
elsewhere a moment later (DNS rebinding) is not followed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from app.clock import utcnow
from app.database import insert_ignoring_conflicts, write_transaction
from app.extensions import db
from app.models import (
    EVENT_TYPES,
    Membership,
    Store,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.permissions import WEBHOOKS, Actor, system_actor
from app.services import audit
from app.services.alerts import Mail
from app.services.errors import NotFound, PermissionDenied, ValidationError
from app.services.events import event_id, event_rows, events, payload
from app.services.validation import unsafe_character

endpoints = WebhookEndpoint.__table__
deliveries = WebhookDelivery.__table__
memberships = Membership.__table__
users = User.__table__
stores = Store.__table__

MAX_URL = 2048
MAX_DESCRIPTION = 200
MAX_ENDPOINTS_PER_STORE = 20
FAN_OUT_BATCH = 1000
DELIVERY_BATCH = 200  # deliveries one pass sends at most
# Waits after the 1st, 2nd … failure; the last repeats until the day is up.
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2), timedelta(hours=4),
           timedelta(hours=8))
JITTER = 0.2
GIVE_UP_AFTER = timedelta(days=1)
RESPONSE_READ_LIMIT = 64 * 1024
LOG_PAGE = 50


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Policy:
    """Where requests may go and how long they may take: from the app's settings."""

    allow_http_loopback: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    connect_timeout: float = 3.0
    read_timeout: float = 10.0


def policy_from(config: Mapping[str, Any]) -> Policy:
    """The policy the settings describe: WEBHOOKS_ALLOW_HTTP_LOOPBACK,
    WEBHOOKS_ALLOWED_HOSTS (comma-separated host names), WEBHOOKS_CONNECT_TIMEOUT and
    WEBHOOKS_READ_TIMEOUT (seconds)."""
    hosts = config.get("WEBHOOKS_ALLOWED_HOSTS") or ""
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",")]
    loopback = config.get("WEBHOOKS_ALLOW_HTTP_LOOPBACK", False)
    if isinstance(loopback, str):
        loopback = loopback.strip().lower() in ("1", "true", "yes", "on")
    return Policy(
        allow_http_loopback=bool(loopback),
        allowed_hosts=frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip()),
        connect_timeout=float(config.get("WEBHOOKS_CONNECT_TIMEOUT", 3.0)),
        read_timeout=float(config.get("WEBHOOKS_READ_TIMEOUT", 10.0)),
    )


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (an address, not a name) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


class Refused(ValueError):
    """A target the policy does not allow; the message says why, for the person."""


Resolver = Callable[[str, int], Sequence[str]]


def _resolve(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def check_url(url: Any, policy: Policy, *, resolve: Resolver = _resolve) -> Target:
    """The URL as a target requests may go to; Refused says why not."""
    if not isinstance(url, str) or not url.strip():
        raise Refused("Enter the URL to send events to.")
    if unsafe_character(url) is not None:
        raise Refused("A URL has no spaces or control characters.")
    url = url.strip(" ")
    if len(url) > MAX_URL:
        raise Refused(f"Use at most {MAX_URL} characters.")
    if any(c.isspace() or not c.isprintable() for c in url):
        raise Refused("A URL has no spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("This is not a URL Stockroom can send to.") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http") or not host:
        raise Refused("Use an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise Refused("Leave the user name and password out of the URL: the signature "
                      "proves the events are Stockroom's.")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise Refused(f"The host {host} could not be found.") from None
    if not addresses:
        raise Refused(f"The host {host} could not be found.")
    ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    loopback = all(ip.is_loopback or (isinstance(ip, ipaddress.IPv6Address)
                                      and ip.ipv4_mapped is not None
                                      and ip.ipv4_mapped.is_loopback) for ip in ips)
    allowed = host.lower() in policy.allowed_hosts
    if scheme == "http" and not (policy.allow_http_loopback and loopback) and not allowed:
        raise Refused("Use an https:// URL.")
    if not allowed and not (policy.allow_http_loopback and loopback):
        for ip in ips:
            if not _public(ip):
                raise Refused(f"{host} is a private, loopback or link-local address; "
                              "events go only to public addresses.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, addresses[0])


# --------------------------------------------------------------------------- managing


@dataclass(frozen=True)
class EndpointView:
    id: int
    store_id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime
    created_by: str
    pending: int = 0
    dead: int = 0

    @property
    def every_event(self) -> bool:
        return not self.event_types


def _require(actor: Actor, store_id: int) -> None:
    if not actor.can(WEBHOOKS, store_id):
        if not actor.is_member(store_id):
            raise NotFound("Store not found.")
        raise PermissionDenied(WEBHOOKS)


def _view(row: Any, counts: Mapping[int, tuple[int, int]] | None = None) -> EndpointView:
    pending, dead = (counts or {}).get(row.id, (0, 0))
    return EndpointView(row.id, row.store_id, row.url, row.description,
                        tuple(json.loads(row.event_types or "[]")), row.enabled,
                        row.failing_since, row.disabled_reason, row.created_at,
                        row.created_by, pending, dead)


def list_endpoints(actor: Actor, store_id: int) -> list[EndpointView]:
    """The store's endpoints, oldest first, with their pending and dead deliveries."""
    _require(actor, store_id)
    session = db.session()
    rows = session.execute(select(endpoints).where(endpoints.c.store_id == store_id)
                           .order_by(endpoints.c.id)).all()
    counts: dict[int, tuple[int, int]] = {}
    for endpoint_id, status, n in session.execute(
        select(deliveries.c.endpoint_id, deliveries.c.status, func.count())
        .where(deliveries.c.store_id == store_id, deliveries.c.status.in_(("pending", "dead")))
        .group_by(deliveries.c.endpoint_id, deliveries.c.status)
    ):
        pending, dead = counts.get(endpoint_id, (0, 0))
        counts[endpoint_id] = (n, dead) if status == "pending" else (pending, n)
    session.rollback()
    return [_view(r, counts) for r in rows]


def get_endpoint(actor: Actor, endpoint_id: Any) -> EndpointView:
    row = db.session.execute(select(endpoints).where(endpoints.c.id == endpoint_id)).first() \
        if type(endpoint_id) is int else None
    if row is None:
        raise NotFound("Webhook not found.")
    db.session.rollback()
    _require(actor, row.store_id)
    return _view(row)


def _checked(url: Any, description: Any, event_types: Any, policy: Policy,
             resolve: Resolver) -> tuple[str, str, list[str]]:
    problems: dict[str, str] = {}
    try:
        check_url(url, policy, resolve=resolve)
    except Refused as exc:
        problems["url"] = str(exc)
    if description is None:
        description = ""
    if not isinstance(description, str):
        problems["description"] = "Enter text."
    elif len(description.strip()) > MAX_DESCRIPTION:
        problems["description"] = f"Use at most {MAX_DESCRIPTION} characters."
    elif unsafe_character(description) is not None:
        problems["description"] = "Remove the control characters."
    chosen: list[str] = []
    if event_types is None:
        event_types = []
    if not isinstance(event_types, (list, tuple)) or not all(
            isinstance(t, str) for t in event_types):
        problems["event_types"] = "Choose event types from the list."
    else:
        unknown = [t for t in event_types if t not in EVENT_TYPES]
        if unknown:
            problems["event_types"] = "Choose event types from the list."
        chosen = sorted(set(event_types))
    if problems:
        raise ValidationError(problems)
    return str(url).strip(" "), str(description).strip(), chosen


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: whsec_ and 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _store_name(session: Session, store_id: int) -> str:
    return str(session.scalar(select(stores.c.name).where(stores.c.id == store_id)) or "")


def create_endpoint(actor: Actor, store_id: Any, *, url: Any, description: Any = "",
                    event_types: Any = (), policy: Policy,
                    resolve: Resolver = _resolve) -> tuple[EndpointView, str]:
    """Adds an endpoint; it is sent what happens from now on. Returns it and its secret,
    shown this once."""
    if type(store_id) is not int:
        raise ValidationError({"store_id": "Choose a store."})
    _require(actor, store_id)
    url, description, chosen = _checked(url, description, event_types, policy, resolve)
    secret = new_secret()
    now = utcnow()
    with write_transaction() as session:
        count = session.scalar(select(func.count()).select_from(endpoints)
                               .where(endpoints.c.store_id == store_id)) or 0
        if count >= MAX_ENDPOINTS_PER_STORE:
            raise ValidationError({"url": f"A store has at most {MAX_ENDPOINTS_PER_STORE} "
                                          "webhooks; remove one first."})
        start = session.scalar(select(func.coalesce(func.max(events.c.sequence), 0))
                               .where(events.c.store_id == store_id)) or 0
        new_id = session.execute(insert(endpoints).values(
            store_id=store_id, url=url, description=description,
            event_types=json.dumps(chosen), secret=secret, enabled=True,
            last_sequence=start, created_at=now, created_by=actor.name, updated_at=now,
        ).returning(endpoints.c.id)).scalar_one()
        audit.record(session, actor, "webhook.created", "store", store_id,
                     _store_name(session, store_id), store_id=store_id,
                     changes={"webhook": (None, url),
                              "events": (None, ", ".join(chosen) or "every event")})
        row = session.execute(select(endpoints).where(endpoints.c.id == new_id)).one()
    return _view(row), secret


def secrets_at(url: str) -> list[str]:
    """The secrets of the enabled endpoints that send to `url`: what a receiver there
    verifies signatures with."""
    session = db.session()
    found = list(session.scalars(select(endpoints.c.secret).where(
        endpoints.c.url == url, endpoints.c.enabled).order_by(endpoints.c.id)))
    session.rollback()
    return found


def register_everywhere(url: str, policy: Policy, *, description: str) -> list[str]:
    """An endpoint at `url`, for every event, in each store that has none there yet (the
    development receiver's, which `make run` starts); the names of the stores given one."""
    actor = system_actor("development receiver")
    session = db.session()
    have = set(session.scalars(select(endpoints.c.store_id).where(endpoints.c.url == url)))
    wanted = session.execute(select(stores.c.id, stores.c.name).order_by(stores.c.id)).all()
    session.rollback()
    added = []
    for store_id, name in wanted:
        if store_id not in have:
            create_endpoint(actor, store_id, url=url, description=description, policy=policy)
            added.append(str(name))
    return added


def _locked(session: Session, actor: Actor, endpoint_id: Any) -> Any:
    row = session.execute(
        select(endpoints).where(endpoints.c.id == endpoint_id).with_for_update()
    ).first() if type(endpoint_id) is int else None
    if row is None:
        raise NotFound("Webhook not found.")
    _require(actor, row.store_id)
    return row


def update_endpoint(actor: Actor, endpoint_id: Any, *, url: Any, description: Any = "",
                    event_types: Any = (), policy: Policy,
                    resolve: Resolver = _resolve) -> EndpointView:
    """Changes where an endpoint's events go and which ones."""
    url, description, chosen = _checked(url, description, event_types, policy, resolve)
    with write_transaction() as session:
        row = _locked(session, actor, endpoint_id)
        changes = {k: v for k, v in {
            "url": (row.url, url), "description": (row.description, description),
            "events": (", ".join(json.loads(row.event_types)) or "every event",
                       ", ".join(chosen) or "every event"),
        }.items() if v[0] != v[1]}
        if changes:
            session.execute(update(endpoints).where(endpoints.c.id == row.id).values(
                url=url, description=description, event_types=json.dumps(chosen),
                updated_at=utcnow()))
            audit.record(session, actor, "webhook.updated", "store", row.store_id,
                         _store_name(session, row.store_id), store_id=row.store_id,
                         changes={"webhook": (row.url, row.url), **changes})
        row = session.execute(select(endpoints).where(endpoints.c.id == row.id)).one()
    return _view(row)


def set_enabled(actor: Actor, endpoint_id: Any, enabled: bool) -> EndpointView:
    """Turns an endpoint off, or on again (its failures forgotten: what waited is sent)."""
    with write_transaction() as session:
        row = _locked(session, actor, endpoint_id)
        if row.enabled != enabled:
            values: dict[str, Any] = {"enabled": enabled, "updated_at": utcnow()}
            if enabled:
                values.update(failing_since=None, disabled_reason=None)
            session.execute(update(endpoints).where(endpoints.c.id == row.id).values(**values))
            audit.record(session, actor, "webhook.enabled" if enabled else "webhook.disabled",
                         "store", row.store_id, _store_name(session, row.store_id),
                         store_id=row.store_id,
                         changes={"webhook": (row.url, row.url),
                                  "enabled": (row.enabled, enabled)})
        row = session.execute(select(endpoints).where(endpoints.c.id == row.id)).one()
    return _view(row)


def rotate_secret(actor: Actor, endpoint_id: Any) -> tuple[EndpointView, str]:
    """A new signing secret, shown this once; the old one stops signing at once."""
    secret = new_secret()
    with write_transaction() as session:
        row = _locked(session, actor, endpoint_id)
        session.execute(update(endpoints).where(endpoints.c.id == row.id)
                        .values(secret=secret, updated_at=utcnow()))
        audit.record(session, actor, "webhook.secret_rotated", "store", row.store_id,
                     _store_name(session, row.store_id), store_id=row.store_id,
                     changes={"webhook": (row.url, row.url)})
        row = session.execute(select(endpoints).where(endpoints.c.id == row.id)).one()
    return _view(row), secret


def delete_endpoint(actor: Actor, endpoint_id: Any) -> EndpointView:
    """Removes an endpoint and its delivery log; nothing more is sent to it."""
    with write_transaction() as session:
        row = _locked(session, actor, endpoint_id)
        session.execute(delete(deliveries).where(deliveries.c.endpoint_id == row.id))
        session.execute(delete(endpoints).where(endpoints.c.id == row.id))
        audit.record(session, actor, "webhook.deleted", "store", row.store_id,
                     _store_name(session, row.store_id), store_id=row.store_id,
                     changes={"webhook": (row.url, None)})
    return _view(row)


@dataclass(frozen=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    response_code: int | None
    duration_ms: int | None
    error: str | None
    created_at: datetime


def delivery_log(actor: Actor, endpoint_id: Any, *, before: Any = None,
                 limit: int = LOG_PAGE) -> tuple[list[DeliveryView], int | None]:
    """The endpoint's deliveries, newest first, a page at a time; the id to page before."""
    endpoint = get_endpoint(actor, endpoint_id)
    query = select(deliveries).where(deliveries.c.endpoint_id == endpoint.id)
    if before is not None:
        if type(before) is not int or before < 1:
            raise ValidationError({"before": "Must be a whole number."})
        query = query.where(deliveries.c.id < before)
    rows = db.session.execute(query.order_by(deliveries.c.id.desc()).limit(limit + 1)).all()
    db.session.rollback()
    more = len(rows) > limit
    rows = rows[:limit]
    return ([DeliveryView(r.id, event_id(r.store_id, r.sequence), r.event_type, r.status,
                          r.attempts, r.next_attempt_at, r.last_attempt_at, r.response_code,
                          r.duration_ms, r.error, r.created_at) for r in rows],
            rows[-1].id if more else None)


def redeliver(actor: Actor, delivery_id: Any) -> DeliveryView:
    """Sends a delivery again at the next run, with the same webhook-id, whatever became of
    it (succeeded or dead)."""
    with write_transaction() as session:
        row = session.execute(select(deliveries).where(deliveries.c.id == delivery_id)
                              .with_for_update()).first() if type(delivery_id) is int else None
        if row is None:
            raise NotFound("Delivery not found.")
        _require(actor, row.store_id)
        now = utcnow()
        session.execute(update(deliveries).where(deliveries.c.id == row.id).values(
            status="pending", next_attempt_at=now, first_failed_at=None))
        audit.record(session, actor, "webhook.redelivered", "store", row.store_id,
                     _store_name(session, row.store_id), store_id=row.store_id,
                     changes={"event": (None, event_id(row.store_id, row.sequence))})
        row = session.execute(select(deliveries).where(deliveries.c.id == row.id)).one()
    return DeliveryView(row.id, event_id(row.store_id, row.sequence), row.event_type,
                        row.status, row.attempts, row.next_attempt_at, row.last_attempt_at,
                        row.response_code, row.duration_ms, row.error, row.created_at)


# --------------------------------------------------------------------------- queuing


def fan_out(*, now: datetime | None = None, batch: int = FAN_OUT_BATCH,
            rounds: int = 50) -> int:
    """Queues the events each enabled endpoint has not had yet; the deliveries added."""
    now = now or utcnow()
    added = 0
    ids = list(db.session.scalars(select(endpoints.c.id).where(endpoints.c.enabled)
                                  .order_by(endpoints.c.id)))
    db.session.rollback()
    for endpoint_id in ids:
        for _ in range(rounds):
            made, full = _fan_out_one(endpoint_id, now, batch)
            added += made
            if not full:
                break
    return added


def _fan_out_one(endpoint_id: int, now: datetime, batch: int) -> tuple[int, bool]:
    with write_transaction() as session:
        row = session.execute(select(endpoints).where(endpoints.c.id == endpoint_id)
                              .with_for_update()).first()
        if row is None or not row.enabled:
            return 0, False
        found = session.execute(
            select(events.c.sequence, events.c.type, events.c.entry_id)
            .where(events.c.store_id == row.store_id, events.c.sequence > row.last_sequence)
            .order_by(events.c.sequence).limit(batch)
        ).all()
        if not found:
            return 0, False
        wanted = set(json.loads(row.event_types or "[]"))
        rows = [{"endpoint_id": row.id, "store_id": row.store_id, "sequence": e.sequence,
                 "event_type": e.type, "entry_id": e.entry_id, "status": "pending",
                 "attempts": 0, "next_attempt_at": now, "created_at": now}
                for e in found if not wanted or e.type in wanted]
        if rows:
            session.execute(insert_ignoring_conflicts(deliveries,
                                                      session.get_bind().dialect.name), rows)
        session.execute(update(endpoints).where(endpoints.c.id == row.id)
                        .values(last_sequence=found[-1].sequence))
    return len(rows), len(found) == batch


# --------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Answer:
    code: int | None
    duration_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


Poster = Callable[[Target, bytes, Mapping[str, str], Policy], Answer]


def post(target: Target, body: bytes, headers: Mapping[str, str], policy: Policy) -> Answer:
    """One POST to the checked address, no redirect followed, no retry here."""
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1,
            server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout,
                                          retries=False, maxsize=1)
    started = time.perf_counter()
    try:
        response = pool.urlopen("POST", target.path, body=body,
                                headers={**headers, "Host": host_header}, redirect=False,
                                retries=False, preload_content=False)
        try:
            response.read(RESPONSE_READ_LIMIT)
        finally:
            response.release_conn()
        code = response.status
        error = None if 200 <= code < 300 else (
            f"Answered {code}" + (" (redirects are not followed)" if 300 <= code < 400 else ""))
        return Answer(code, _ms(started), error)
    except urllib3.exceptions.HTTPError as exc:
        reason = type(getattr(exc, "reason", None) or exc).__name__
        kind = ("Timed out" if "Timeout" in reason or "Timeout" in type(exc).__name__
                else "Could not connect")
        return Answer(None, _ms(started), f"{kind}: {str(exc)[:200]}")
    finally:
        pool.close()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def backoff(failures: int, rng: random.Random | None = None) -> timedelta:
    """The wait after the `failures`-th failure in a row, ±20 %."""
    base = BACKOFF[min(failures, len(BACKOFF)) - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def _sign(secret: str, message_id: str, moment: datetime, body: bytes) -> str:
    return str(Webhook(secret).sign(message_id, moment, body))


@dataclass
class Pass:
    """What one run of deliver_due did."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    disabled: list[int] | None = None


def _due(session: Session, now: datetime, limit: int) -> list[Any]:
    earlier = deliveries.alias("earlier")
    waiting = (
        select(earlier.c.id).where(
            earlier.c.endpoint_id == deliveries.c.endpoint_id,
            earlier.c.entry_id == deliveries.c.entry_id,
            earlier.c.sequence < deliveries.c.sequence,
            earlier.c.status == "pending",
            earlier.c.next_attempt_at > now,
        ).exists()
    )
    return session.execute(
        select(deliveries.c.id, deliveries.c.endpoint_id, deliveries.c.store_id,
               deliveries.c.sequence, deliveries.c.entry_id, deliveries.c.attempts,
               deliveries.c.first_failed_at, endpoints.c.url, endpoints.c.secret)
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now,
               endpoints.c.enabled, or_(deliveries.c.entry_id.is_(None), ~waiting))
        .order_by(deliveries.c.endpoint_id, deliveries.c.sequence).limit(limit)
    ).all()


def deliver_due(policy: Policy, *, now: datetime | None = None, limit: int = DELIVERY_BATCH,
                poster: Poster = post, resolve: Resolver = _resolve,
                rng: random.Random | None = None) -> Pass:
    """Sends what is due, each delivery's outcome recorded as soon as it is known."""
    now = now or utcnow()
    done = Pass(disabled=[])
    session = db.session()
    due = _due(session, now, limit)
    bodies = _bodies(session, due)
    session.rollback()
    blocked_entries: set[tuple[int, int]] = set()
    unreachable: set[int] = set()
    for d in due:
        if d.endpoint_id in unreachable or (d.endpoint_id, d.entry_id) in blocked_entries:
            continue
        body = bodies[(d.store_id, d.sequence)]
        message_id = event_id(d.store_id, d.sequence)
        try:
            target = check_url(d.url, policy, resolve=resolve)
        except Refused as exc:
            answer = Answer(None, 0, f"Refused: {exc}")
        else:
            # Signed at the moment of sending, by the wall clock the receiver checks it
            # against (not the service clock, which tests and the demo move).
            moment = datetime.now(UTC)
            headers = {
                "content-type": "application/json",
                "user-agent": "Stockroom-Webhooks/1",
                "webhook-id": message_id,
                "webhook-timestamp": str(int(moment.timestamp())),
                "webhook-signature": _sign(d.secret, message_id, moment, body),
            }
            answer = poster(target, body, headers, policy)
        done.sent += 1
        if answer.delivered:
            done.delivered += 1
            _record_success(d, answer, now)
            continue
        done.failed += 1
        if d.entry_id is not None:
            blocked_entries.add((d.endpoint_id, d.entry_id))
        if answer.code is None:
            unreachable.add(d.endpoint_id)  # the rest of its deliveries wait for next run
        if _record_failure(d, answer, now, rng):
            done.dead += 1
    done.disabled = _disable_failing(now)
    return done


def _bodies(session: Session, due: Sequence[Any]) -> dict[tuple[int, int], bytes]:
    wanted: dict[int, set[int]] = {}
    for d in due:
        wanted.setdefault(d.store_id, set()).add(d.sequence)
    bodies: dict[tuple[int, int], bytes] = {}
    for store_id, numbers in wanted.items():
        for row in event_rows(session, and_(events.c.store_id == store_id,
                                            events.c.sequence.in_(sorted(numbers)))):
            bodies[(store_id, row.sequence)] = json.dumps(
                payload(row), separators=(",", ":"), ensure_ascii=False).encode()
    return bodies


def _record_success(d: Any, answer: Answer, now: datetime) -> None:
    with write_transaction() as session:
        session.execute(update(deliveries).where(deliveries.c.id == d.id).values(
            status="succeeded", attempts=deliveries.c.attempts + 1, last_attempt_at=now,
            next_attempt_at=None, response_code=answer.code, duration_ms=answer.duration_ms,
            error=None))
        session.execute(update(endpoints).where(endpoints.c.id == d.endpoint_id,
                                                endpoints.c.failing_since.is_not(None))
                        .values(failing_since=None))


def _record_failure(d: Any, answer: Answer, now: datetime,
                    rng: random.Random | None) -> bool:
    """Schedules the next attempt, or gives up after a day; True when it gave up."""
    failures = d.attempts + 1
    first = d.first_failed_at or now
    dead = now - first >= GIVE_UP_AFTER
    with write_transaction() as session:
        session.execute(update(deliveries).where(deliveries.c.id == d.id).values(
            status="dead" if dead else "pending", attempts=failures, last_attempt_at=now,
            first_failed_at=first, response_code=answer.code, duration_ms=answer.duration_ms,
            error=(answer.error or "")[:300] or None,
            next_attempt_at=None if dead else now + backoff(failures, rng)))
        session.execute(update(endpoints).where(endpoints.c.id == d.endpoint_id,
                                                endpoints.c.failing_since.is_(None))
                        .values(failing_since=now))
    return dead


def _disable_failing(now: datetime) -> list[int]:
    """Endpoints that have failed for a day are turned off, and the store's owners told."""
    with write_transaction() as session:
        rows = session.execute(
            select(endpoints.c.id, endpoints.c.store_id, endpoints.c.url,
                   endpoints.c.failing_since)
            .where(endpoints.c.enabled, endpoints.c.failing_since <= now - GIVE_UP_AFTER)
            .with_for_update()
        ).all()
        actor = system_actor("webhooks")
        for row in rows:
            reason = (f"Every delivery failed from {row.failing_since:%Y-%m-%d %H:%M} UTC "
                      "for a day")
            session.execute(update(endpoints).where(endpoints.c.id == row.id).values(
                enabled=False, disabled_reason=reason, updated_at=now))
            audit.record(session, actor, "webhook.disabled", "store", row.store_id,
                         _store_name(session, row.store_id), store_id=row.store_id,
                         changes={"webhook": (row.url, row.url), "enabled": (True, False)})
    return [r.id for r in rows]


def disabled_mails(endpoint_ids: Iterable[int], *, base_url: str = "") -> list[Mail]:
    """A mail to each owner of the store of each endpoint just disabled."""
    ids = list(endpoint_ids)
    if not ids:
        return []
    rows = db.session.execute(
        select(endpoints.c.url, endpoints.c.store_id, endpoints.c.disabled_reason,
               stores.c.name, users.c.email)
        .join(stores, stores.c.id == endpoints.c.store_id)
        .join(memberships, and_(memberships.c.store_id == endpoints.c.store_id,
                                memberships.c.role == "owner"))
        .join(users, and_(users.c.id == memberships.c.user_id, users.c.active.is_(True)))
        .where(endpoints.c.id.in_(ids))
    ).all()
    db.session.rollback()
    base_url = base_url.rstrip("/")
    return [Mail(
        to=r.email, subject=f"Webhook turned off at {r.name}: {r.url}",
        body=(f"Stockroom stopped sending events to {r.url} for {r.name}.\n\n"
              f"{r.disabled_reason}. What happened since waits for it: turn it on again "
              "when the receiver answers, and every event since is sent in order.\n\n"
              f"{base_url}/webhooks?store={r.store_id}\n"),
    ) for r in rows]


__all__ = [
    "Answer",
    "DeliveryView",
    "EndpointView",
    "Pass",
    "Policy",
    "Refused",
    "Target",
    "backoff",
    "check_url",
    "create_endpoint",
    "delete_endpoint",
    "deliver_due",
    "delivery_log",
    "disabled_mails",
    "fan_out",
    "get_endpoint",
    "list_endpoints",
    "new_secret",
    "policy_from",
    "post",
    "redeliver",
    "rotate_secret",
    "set_enabled",
    "update_endpoint",
]
