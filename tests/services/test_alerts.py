"""Stock alerts: crossings into low and out of stock reach the bell and the mail of those
who hear about the store, once each, as each crossing or as a daily digest; a mail that
failed to go is sent again; a real SMTP server receives them."""

from __future__ import annotations

import email
import socket
import threading
from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from app.models import AlertSubscription, Membership, User
from app.services import alerts, stock
from app.services.errors import ValidationError
from app.tasks import send_alerts


@pytest.fixture
def outbox() -> list[alerts.Mail]:
    return []


def crossings(owner: Any, entry_id: int, deltas: tuple[int, ...]) -> None:
    for delta in deltas:
        stock.adjust_stock(actor=owner, entry_id=entry_id, delta=delta, reason="test")


def test_an_owner_hears_each_crossing_once_by_mail_and_in_the_bell(
    make_entry, owner, store, outbox
):
    entry = make_entry(quantity=10, threshold=5, store=store)
    assert alerts.ensure_owner_subscriptions() == 1
    assert alerts.unread_count(owner.user_id) == 0
    # 10 → 6 → 4 (low) → 3 → 0 (out) → 8 (back) → 4 (low)
    crossings(owner, entry.id, (-4, -2, -1, -3, 8, -4))

    assert alerts.unread_count(owner.user_id) == 3
    seen = alerts.recent(owner.user_id)
    assert [(a.label, a.data["available_after"], a.unread) for a in seen] == [
        ("Low stock", 4, True), ("Out of stock", 0, True), ("Low stock", 4, True)]

    assert alerts.send_mails(outbox.append, base_url="https://stock.example/") == 1
    (mail,) = outbox
    assert mail.subject == f"3 stock alerts at {store.name}"
    assert mail.body.count("- Low stock: ") == 2 and mail.body.count("- Out of stock: ") == 1
    assert f"https://stock.example/inventory/entries/{entry.id}" in mail.body
    assert "threshold 5" in mail.body
    # Nothing new: no second mail, and the digest is not theirs.
    assert alerts.send_mails(outbox.append) == 0
    assert alerts.send_mails(outbox.append, digest=True) == 0

    assert alerts.mark_read(owner.user_id) == 1
    assert alerts.unread_count(owner.user_id) == 0
    assert [a.unread for a in alerts.recent(owner.user_id)] == [False] * 3
    crossings(owner, entry.id, (-4,))  # out again
    assert alerts.unread_count(owner.user_id) == 1
    assert alerts.send_mails(outbox.append) == 1
    assert outbox[-1].subject.startswith(f"Out of stock at {store.name}: ")


def test_a_mail_that_fails_to_go_is_sent_the_next_time(make_entry, owner, store, outbox):
    entry = make_entry(quantity=6, threshold=5, store=store)
    alerts.ensure_owner_subscriptions()
    crossings(owner, entry.id, (-2,))

    def down(mail: alerts.Mail) -> None:
        raise ConnectionRefusedError("smtp is down")

    with pytest.raises(ConnectionRefusedError):
        alerts.send_mails(down)
    assert alerts.send_mails(outbox.append) == 1
    assert "Low stock at" in outbox[0].subject


def test_staff_opt_in_the_digest_collects_the_day_and_off_silences_the_bell(
    make_entry, member, owner, store, outbox
):
    staff = member(store, "staff")
    entry = make_entry(quantity=10, threshold=5, store=store)
    alerts.ensure_owner_subscriptions()
    assert [(s.store_id, s.mode) for s in alerts.settings(staff)] == [(store.id, "off")]
    assert [(s.store_id, s.mode) for s in alerts.settings(owner)] == [(store.id, "immediate")]
    assert alerts.set_modes(staff, {store.id: "digest"}) == 1
    assert alerts.set_modes(owner, {store.id: "off"}) == 1

    crossings(owner, entry.id, (-6, -4, 3))  # low, out, low
    assert alerts.unread_count(owner.user_id) == 0
    assert alerts.recent(owner.user_id) == []
    assert alerts.unread_count(staff.user_id) == 3
    assert alerts.send_mails(outbox.append) == 0
    assert alerts.send_mails(outbox.append, digest=True) == 1
    assert outbox[0].subject == f"Stock alerts for {store.name}: 3 since the last digest"
    assert alerts.send_mails(outbox.append, digest=True) == 0


def test_only_members_hear_and_bad_settings_change_nothing(
    make_entry, make_store, member, owner, store, outbox
):
    elsewhere = make_store()
    with pytest.raises(ValidationError) as refused:
        alerts.set_modes(owner, {store.id: "digest", elsewhere.id: "digest"})
    assert set(refused.value.fields) == {f"mode-{elsewhere.id}"}
    with pytest.raises(ValidationError) as refused:
        alerts.set_modes(owner, {store.id: "hourly"})
    assert set(refused.value.fields) == {f"mode-{store.id}"}
    assert db.session.query(AlertSubscription).count() == 0

    staff = member(store, "staff")
    alerts.set_modes(staff, {store.id: "immediate"})
    entry = make_entry(quantity=6, threshold=5, store=store)
    alerts.ensure_owner_subscriptions()
    # Leaving the store ends its alerts.
    db.session.query(Membership).filter_by(user_id=staff.user_id).delete()
    db.session.commit()
    crossings(owner, entry.id, (-2,))
    assert alerts.unread_count(staff.user_id) == 0
    alerts.send_mails(outbox.append)
    assert [m.to for m in outbox] == [db.session.get(User, owner.user_id).email]


def test_the_bell_counts_to_its_cap(make_entry, make_location, owner, store):
    alerts.ensure_owner_subscriptions()
    made = [make_entry(quantity=1, threshold=0, store=store, location=make_location(store))
            for _ in range(alerts.BELL_CAP + 2)]
    stock.bulk_adjust(actor=owner, selection=stock.selection(entry_ids=[e.id for e in made]),
                      delta=-1, reason="sold")
    assert alerts.unread_count(owner.user_id) == alerts.BELL_CAP + 1


# --------------------------------------------------------------------------- over SMTP


class Received:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Received()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_app(app: Flask, smtp_server: Any) -> Flask:
    from app.web.mail import mailer

    _, port = smtp_server
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                      MAIL_DEFAULT_SENDER="Stockroom <alerts@stock.example>")
    mailer.init_app(app)
    return app


def test_a_real_smtp_server_receives_the_alert_and_the_digest(
    smtp_app, smtp_server, make_entry, member, owner, store
):
    handler, _ = smtp_server
    staff = member(store, "staff")
    alerts.set_modes(staff, {store.id: "digest"})
    alerts.ensure_owner_subscriptions()
    entry = make_entry(quantity=3, threshold=2, store=store)
    crossings(owner, entry.id, (-3,))

    assert send_alerts(digest=False) == 1
    assert send_alerts(digest=True) == 1
    assert len(handler.messages) == 2
    alert, digest = handler.messages
    assert alert["From"] == "Stockroom <alerts@stock.example>"
    assert alert["Subject"].startswith(f"Out of stock at {store.name}")
    assert digest["Subject"] == f"Stock alerts for {store.name}: 1 since the last digest"
    body = digest.get_payload(decode=True).decode()
    assert "Out of stock now: " in body and f"/inventory/entries/{entry.id}" in body


def test_a_member_made_owner_hears_from_the_next_crossing_without_waiting_for_the_worker(
    make_entry, owner, store
):
    """Adding an owner, or making a member one, subscribes them in the same transaction:
    the crossing right after is in their bell (the worker's sweep used to make it)."""
    from app.services.people import members

    entry = make_entry(quantity=10, threshold=5, store=store)
    alerts.ensure_owner_subscriptions()
    added = members.add_member(actor=owner, store_id=store.id, email="co@owner.test",
                               role="owner", name="Co Owner",
                               password="correct horse battery staple")
    staff = members.add_member(actor=owner, store_id=store.id, email="clerk@owner.test",
                               role="staff", name="Clerk",
                               password="correct horse battery staple")
    members.change_role(actor=owner, store_id=store.id, membership_id=staff.member.id,
                        role="owner")
    assert alerts.ensure_owner_subscriptions() == 0  # nothing left for the sweep

    crossings(owner, entry.id, (-6,))  # 4: low
    for user_id in (added.member.user_id, staff.member.user_id):
        assert alerts.unread_count(user_id) == 1
