"""Webhooks end to end against a local receiver (loopback only, stopped after each test):
every event arrives at least once however often the receiver fails, signed so that the
standardwebhooks package verifies it, repeats only ever sharing an id, each entry's events
in order; a worker killed mid-delivery sends again after restart; backoff, giving up after
a day, turning a failing endpoint off and telling its owners; who may manage them."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from app.clock import utcnow
from app.extensions import db
from app.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from app.services import stock, webhooks
from app.services.errors import NotFound, PermissionDenied, ValidationError

POLICY = webhooks.Policy(allow_http_loopback=True, connect_timeout=0.5, read_timeout=0.4)


@dataclass
class Receiver:
    """A local HTTP receiver: fails a share of requests (500), answers some too late."""

    fail_share: float = 0.0
    slow_share: float = 0.0
    seed: int = 7
    status: int = 204
    location: str | None = None
    got: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        rng = random.Random(self.seed)
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with lock:
                    receiver.got.append(({k.lower(): v for k, v in self.headers.items()},
                                         body, self.path))
                    draw = rng.random()
                if draw < receiver.slow_share:
                    time.sleep(POLICY.read_timeout * 2)
                code = 500 if draw < receiver.fail_share else receiver.status
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        made.append(Receiver(**kwargs).start())
        return made[-1]

    yield make  # type: ignore[misc]
    for r in made:
        r.stop()


def pending() -> int:
    n = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                          .where(WebhookDelivery.status == "pending")) or 0
    db.session.rollback()
    return n


def next_due(after: datetime | None = None) -> datetime | None:
    """When the next pending delivery is due (after `after`: the ones waiting for an earlier
    one of their entry are due already)."""
    query = select(func.min(WebhookDelivery.next_attempt_at)).where(
        WebhookDelivery.status == "pending")
    if after is not None:
        query = query.where(WebhookDelivery.next_attempt_at > after)
    moment = db.session.scalar(query)
    db.session.rollback()
    return moment


def run_until_done(start: datetime, *, rounds: int = 400) -> datetime:
    """Queue and send, moving the clock to the next retry, until nothing is pending."""
    now = start
    for _ in range(rounds):
        webhooks.fan_out(now=now)
        webhooks.deliver_due(POLICY, now=now, rng=random.Random(1))
        if not pending():
            return now
        now = max(now + timedelta(seconds=1), next_due(after=now) or now)
    raise AssertionError("deliveries still pending")


def store_events(store_id: int, after: int) -> list[tuple[int, str, int | None]]:
    from app.models import Event

    rows = db.session.execute(
        select(Event.sequence, Event.type, Event.entry_id)
        .where(Event.store_id == store_id, Event.sequence > after).order_by(Event.sequence)
    ).all()
    db.session.rollback()
    return [(r.sequence, r.type, r.entry_id) for r in rows]


def test_every_event_arrives_signed_in_order_per_entry_from_a_receiver_that_fails_often(
    make_entry, make_location, owner, store, receiver
):
    hook = receiver(fail_share=0.4, slow_share=0.05)
    endpoint, secret = webhooks.create_endpoint(owner, store.id, url=hook.url, policy=POLICY)
    start = endpoint_cursor(endpoint.id)
    made = [make_entry(quantity=20, threshold=8, store=store, location=make_location(store))
            for _ in range(4)]
    rng = random.Random(3)
    for _ in range(60):
        entry = rng.choice(made)
        delta = rng.choice((-5, -3, -1, 2, 4, 7))
        try:
            stock.adjust_stock(actor=owner, entry_id=entry.id, delta=delta, reason="test")
        except Exception:  # stock would go below zero: that change is not made
            db.session.rollback()
    expected = store_events(store.id, start)
    assert len(expected) > 60

    run_until_done(utcnow())

    verifier = Webhook(secret)
    first_seen: dict[str, int] = {}
    bodies: dict[str, bytes] = {}
    for n, (headers, body, _path) in enumerate(hook.got):
        verified = verifier.verify(body, headers)  # raises on a bad signature
        message_id = headers["webhook-id"]
        assert verified["id"] == message_id
        assert bodies.setdefault(message_id, body) == body  # a repeat is the same event
        first_seen.setdefault(message_id, n)
    assert set(first_seen) == {f"evt_{store.id}_{s}" for s, _, _ in expected}
    assert len(hook.got) > len(expected)  # the receiver did fail, and was tried again
    # Per entry, the first arrivals come in the events' order.
    for entry in made:
        mine = [f"evt_{store.id}_{s}" for s, _, e in expected if e == entry.id]
        assert sorted(mine, key=first_seen.get) == mine
    outcome = db.session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all()
    assert dict(outcome) == {"succeeded": len(expected)}


def endpoint_cursor(endpoint_id: int) -> int:
    value = db.session.scalar(select(WebhookEndpoint.last_sequence)
                              .where(WebhookEndpoint.id == endpoint_id))
    db.session.rollback()
    return int(value or 0)


def test_a_worker_killed_after_sending_sends_again_with_the_same_id(
    make_entry, owner, store, receiver
):
    entry = make_entry(quantity=10, store=store)
    hook = receiver()
    endpoint, secret = webhooks.create_endpoint(owner, store.id, url=hook.url, policy=POLICY)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="sold")
    webhooks.fan_out()

    def sends_then_dies(*args: Any) -> webhooks.Answer:
        webhooks.post(*args)
        raise KeyboardInterrupt  # killed before the answer was recorded

    with pytest.raises(KeyboardInterrupt):
        webhooks.deliver_due(POLICY, poster=sends_then_dies)
    assert pending() == 1
    db.session.remove()
    webhooks.deliver_due(POLICY)
    assert pending() == 0
    ids = [h["webhook-id"] for h, _, _ in hook.got]
    assert len(ids) == 2 and ids[0] == ids[1]
    for headers, body, _ in hook.got:
        Webhook(secret).verify(body, headers)


def test_queuing_twice_never_delivers_twice_and_new_endpoints_start_now(
    make_entry, owner, store, receiver
):
    entry = make_entry(quantity=10, store=store)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="before")
    hook = receiver()
    endpoint, _ = webhooks.create_endpoint(owner, store.id, url=hook.url, policy=POLICY,
                                           event_types=["stock.low", "stock.changed"])
    start = endpoint_cursor(endpoint.id)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="after")
    assert webhooks.fan_out() == 1
    # As if the cursor's move had been lost: the same events again add nothing.
    db.session.execute(update(WebhookEndpoint).values(last_sequence=start))
    db.session.commit()
    webhooks.fan_out()
    assert webhooks.deliver_due(POLICY).delivered == 1
    assert [json.loads(b)["data"]["reason"] for _, b, _ in hook.got] == ["after"]


def test_backoff_then_dead_after_a_day_and_the_endpoint_turned_off_with_its_owners_told(
    make_entry, owner, store
):
    entry = make_entry(quantity=10, store=store)
    endpoint, _ = webhooks.create_endpoint(owner, store.id, url="http://127.0.0.1:9/x",
                                           policy=POLICY)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="sold")
    webhooks.fan_out()
    calls: list[datetime] = []

    def always_500(*args: Any) -> webhooks.Answer:
        return webhooks.Answer(500, 3, "Answered 500")

    now = utcnow()
    waits: list[timedelta] = []
    result = None
    for _ in range(40):
        result = webhooks.deliver_due(POLICY, now=now, poster=always_500,
                                      rng=random.Random(5))
        calls.append(now)
        due = next_due()
        if due is None:
            break
        waits.append(due - now)
        now = due
    for wait, base in zip(waits, webhooks.BACKOFF, strict=False):
        assert base * 0.8 <= wait <= base * 1.2
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert (row.status, row.response_code, row.error) == ("dead", 500, "Answered 500")
    assert row.last_attempt_at - row.first_failed_at >= webhooks.GIVE_UP_AFTER
    assert row.attempts == len(calls)
    db.session.rollback()
    assert result is not None and result.disabled == [endpoint.id]
    view = webhooks.get_endpoint(owner, endpoint.id)
    assert not view.enabled and view.disabled_reason.startswith("Every delivery failed")
    told = db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "webhook.disabled"))
    assert told == 1
    mails = webhooks.disabled_mails([endpoint.id], base_url="https://stock.example")
    assert len(mails) == 1 and "Webhook turned off" in mails[0].subject
    assert f"https://stock.example/webhooks?store={store.id}" in mails[0].body
    # Sent again by hand: pending, the same event, once the endpoint is on again.
    webhooks.set_enabled(owner, endpoint.id, True)
    again = webhooks.redeliver(owner, row.id)
    assert again.status == "pending" and again.event_id == f"evt_{store.id}_{row.sequence}"


def test_a_redirect_is_not_followed(make_entry, owner, store, receiver):
    entry = make_entry(quantity=10, store=store)
    hook = receiver(status=302, location="/elsewhere")
    webhooks.create_endpoint(owner, store.id, url=hook.url, policy=POLICY)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="sold")
    webhooks.fan_out()
    done = webhooks.deliver_due(POLICY)
    assert (done.sent, done.delivered) == (1, 0)
    assert [path for _, _, path in hook.got] == ["/hook"]
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert (row.status, row.response_code) == ("pending", 302)
    assert "redirects are not followed" in row.error


def test_a_target_that_turned_private_is_refused_at_send(make_entry, owner, store, receiver):
    entry = make_entry(quantity=10, store=store)
    hook = receiver()
    webhooks.create_endpoint(owner, store.id, url=hook.url, policy=POLICY)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason="sold")
    webhooks.fan_out()
    done = webhooks.deliver_due(webhooks.Policy())  # production: no loopback
    assert (done.sent, done.delivered) == (1, 0)
    assert hook.got == []
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert row.error.startswith("Refused: ")


def test_who_may_manage_webhooks_and_bad_input_changes_nothing(
    make_store, member, owner, store
):
    staff = member(store, "staff", grants=("inventory:adjust",))
    with pytest.raises(PermissionDenied):
        webhooks.create_endpoint(staff, store.id, url="http://127.0.0.1:9/x", policy=POLICY)
    stranger = member(make_store(), "owner")
    with pytest.raises(NotFound):
        webhooks.create_endpoint(stranger, store.id, url="http://127.0.0.1:9/x", policy=POLICY)
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(owner, store.id, url="http://10.0.0.1/x", policy=POLICY,
                                 description="x" * 300, event_types=["stock.nope"])
    assert set(refused.value.fields) == {"url", "description", "event_types"}
    assert db.session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
    endpoint, first = webhooks.create_endpoint(owner, store.id, url="http://127.0.0.1:9/x",
                                               policy=POLICY)
    _, second = webhooks.rotate_secret(owner, endpoint.id)
    assert first != second and second.startswith("whsec_")
    with pytest.raises(NotFound):
        webhooks.delete_endpoint(stranger, endpoint.id)
    webhooks.delete_endpoint(owner, endpoint.id)
    actions = list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.like("webhook.%")).order_by(AuditEvent.id)))
    assert actions == ["webhook.created", "webhook.secret_rotated", "webhook.deleted"]


def test_a_receiver_down_for_an_hour_gets_everything_afterwards_in_order(
    make_entry, owner, store, receiver
):
    entry = make_entry(quantity=100, threshold=10, store=store)
    hook = receiver()
    url = hook.url
    hook.stop()  # down: connections refused
    endpoint, secret = webhooks.create_endpoint(owner, store.id, url=url, policy=POLICY)
    now = utcnow()
    for minute in range(60):  # a change and a worker run every minute for an hour
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-1, reason=f"m{minute}")
        webhooks.fan_out(now=now)
        webhooks.deliver_due(POLICY, now=now, rng=random.Random(minute))
        now += timedelta(minutes=1)
    assert webhooks.get_endpoint(owner, endpoint.id).failing_since is not None
    port = int(url.split(":")[2].split("/")[0])
    back = Receiver()
    back.server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(back))
    threading.Thread(target=back.server.serve_forever, daemon=True).start()
    try:
        run_until_done(now)
    finally:
        back.stop()
    reasons = [json.loads(b)["data"].get("reason") for _, b, _ in back.got
               if json.loads(b)["type"] == "stock.changed"]
    assert reasons == [f"m{m}" for m in range(60)]
    for headers, body, _ in back.got:
        Webhook(secret).verify(body, headers)
    assert webhooks.get_endpoint(owner, endpoint.id).failing_since is None


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.got.append(({k.lower(): v for k, v in self.headers.items()}, body,
                                 self.path))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
