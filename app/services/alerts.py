"""Stock alerts: the crossings into low and out of stock, told to the people who want them.

The crossings are the store's `stock.low` and `stock.out` events (app.services.events),
written by the transaction that made them. A subscription (app.models.alerts) says who
hears about a store and how (each crossing within the minute, or one mail a day), and
holds how far its mails and its bell have got in the store's event sequence. So:
- the bell's unread alerts are the crossings after `read_through`; reading moves it on;
- a mail lists the crossings after `mailed_through` and moves it on once sent. A worker
  killed between sending and moving on sends that mail again: at least once, never none.

Owners hear about their stores unless they turn it off; anyone else who can see a store
opts in on their account page. Only members hear: leaving a store ends its alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, literal, select, text, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import insert_ignoring_conflicts, write_transaction
from app.extensions import db
from app.models import (
    ALERT_EVENT_TYPES,
    ALERT_MODES,
    AlertSubscription,
    EventSequence,
    Membership,
    Store,
    User,
)
from app.permissions import READ, Actor
from app.services import audit
from app.services.errors import ValidationError
from app.services.events import event_rows, events, payload
from app.services.queries import STATUS_LABELS

subscriptions = AlertSubscription.__table__
memberships = Membership.__table__
sequences = EventSequence.__table__
users = User.__table__
stores = Store.__table__

MODE_LABELS = {
    "immediate": "Each alert as it happens",
    "digest": "A daily digest",
    "off": "Off",
}
# The bell counts this far, then says "99+".
BELL_CAP = 99
# The bell's list, and how many crossings one mail names before it says how many more.
RECENT_LIMIT = 50
MAIL_LIMIT = 50


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


Sender = Callable[[Mail], None]


@dataclass(frozen=True)
class StoreAlerts:
    """One of the user's stores and how they hear about its crossings."""

    store_id: int
    store_name: str
    mode: str


@dataclass(frozen=True)
class Alert:
    store_id: int
    store_name: str
    sequence: int
    type: str
    at: datetime
    data: Mapping[str, Any]
    unread: bool

    @property
    def label(self) -> str:
        return "Out of stock" if self.type == "stock.out" else "Low stock"


def _session(session: Session | None) -> Session:
    return session or db.session()


# Written out, not bound: SQLite uses the partial index ix_events_alerts only for a
# condition that names its very values.
_ALERTS_ONLY = text(
    "events.type IN (" + ", ".join(f"'{t}'" for t in ALERT_EVENT_TYPES) + ")"
)


def _alert_events(store_id: Any, after: Any) -> Any:
    return and_(events.c.store_id == store_id, _ALERTS_ONLY, events.c.sequence > after)


def _last_sequence(store_id: Any) -> Any:
    return func.coalesce(
        select(sequences.c.last_sequence).where(sequences.c.store_id == store_id)
        .scalar_subquery(), 0,
    )


def _default_mode(role: str) -> str:
    return "immediate" if role == "owner" else "off"


# --------------------------------------------------------------------------- settings


def settings(actor: Actor, *, session: Session | None = None) -> list[StoreAlerts]:
    """The stores the actor belongs to and how they hear about each, by store name."""
    if actor.user_id is None:
        return []
    rows = _session(session).execute(
        select(stores.c.id, stores.c.name, memberships.c.role, subscriptions.c.mode)
        .select_from(memberships)
        .join(stores, stores.c.id == memberships.c.store_id)
        .outerjoin(subscriptions, and_(subscriptions.c.user_id == memberships.c.user_id,
                                       subscriptions.c.store_id == memberships.c.store_id))
        .where(memberships.c.user_id == actor.user_id)
        .order_by(stores.c.name, stores.c.id)
    )
    return [StoreAlerts(r.id, r.name, r.mode or _default_mode(r.role)) for r in rows
            if actor.can(READ, r.id)]


def set_modes(actor: Actor, modes: Mapping[int, Any], *,
              session: Session | None = None) -> int:
    """Sets how the actor hears about each store in `modes` (store id → mode); the number
    changed, recorded on the user's trail. Every value is checked before anything is saved;
    a store the actor does not belong to is refused by name. A new subscription starts at
    the store's latest event."""
    session = _session(session)
    mine = {s.store_id: s for s in settings(actor, session=session)}
    problems: dict[str, str] = {}
    for store_id, mode in modes.items():
        field = f"mode-{store_id}"
        if store_id not in mine:
            problems[field] = "You do not belong to this store."
        elif mode not in ALERT_MODES:
            problems[field] = "Choose each alert as it happens, a daily digest or off."
    if problems:
        raise ValidationError(problems)
    moved = {store_id: mode for store_id, mode in modes.items()
             if mine[store_id].mode != mode}
    if not moved:
        return 0
    now = utcnow()
    with write_transaction() as writing:
        dialect = writing.get_bind().dialect.name
        for store_id, mode in moved.items():
            writing.execute(
                insert_ignoring_conflicts(subscriptions, dialect).values(
                    user_id=actor.user_id, store_id=store_id, mode=mode,
                    mailed_through=_last_sequence(store_id),
                    read_through=_last_sequence(store_id), created_at=now, updated_at=now,
                )
            )
            writing.execute(
                update(subscriptions)
                .where(subscriptions.c.user_id == actor.user_id,
                       subscriptions.c.store_id == store_id)
                .values(mode=mode, updated_at=now)
            )
        person = writing.execute(
            select(users.c.name, users.c.email).where(users.c.id == actor.user_id)
        ).one()
        audit.record(
            writing, actor, "user.updated", "user", actor.user_id,
            f"{person.name} ({person.email})",
            changes={f"stock alerts: {mine[s].store_name}": (mine[s].mode, mode)
                     for s, mode in moved.items()},
        )
    return len(moved)


def ensure_owner_subscriptions(*, session: Session | None = None) -> int:
    """Owners without a subscription get one, starting at their store's latest event (the
    worker's sweep, for owners made before subscriptions were). The number made."""
    session = _session(session)
    made = _subscribe_owners(session, None)
    session.commit()
    return made


def subscribe_owners(session: Session, store_id: int) -> int:
    """The store's owners without a subscription get one, in the caller's transaction: a
    member made owner, or a new store's owner, hears from the store's next event on."""
    return _subscribe_owners(session, store_id)


def _subscribe_owners(session: Session, store_id: int | None) -> int:
    now = utcnow()
    missing = (
        select(memberships.c.user_id, memberships.c.store_id, literal("immediate"),
               _last_sequence(memberships.c.store_id), _last_sequence(memberships.c.store_id),
               literal(now), literal(now))
        .where(memberships.c.role == "owner",
               ~select(subscriptions.c.id).where(
                   subscriptions.c.user_id == memberships.c.user_id,
                   subscriptions.c.store_id == memberships.c.store_id).exists())
    )
    if store_id is not None:
        missing = missing.where(memberships.c.store_id == store_id)
    dialect = session.get_bind().dialect.name
    return len(session.execute(
        insert_ignoring_conflicts(subscriptions, dialect).from_select(
            ["user_id", "store_id", "mode", "mailed_through", "read_through", "created_at",
             "updated_at"], missing,
        ).returning(subscriptions.c.id)
    ).all())


# --------------------------------------------------------------------------- the bell


def _listening(user_id: int) -> Any:
    """The user's subscriptions that are on, in stores they still belong to."""
    return (
        select(subscriptions.c.store_id, subscriptions.c.read_through, stores.c.name)
        .join(memberships, and_(memberships.c.user_id == subscriptions.c.user_id,
                                memberships.c.store_id == subscriptions.c.store_id))
        .join(stores, stores.c.id == subscriptions.c.store_id)
        .where(subscriptions.c.user_id == user_id, subscriptions.c.mode != "off")
    )


def unread_count(user_id: int, *, session: Session | None = None) -> int:
    """Crossings the user has not read yet, counted up to BELL_CAP + 1."""
    session = _session(session)
    total = 0
    for sub in session.execute(_listening(user_id)):
        if total > BELL_CAP:
            break
        total += session.execute(
            select(func.count()).select_from(
                select(events.c.id).where(_alert_events(sub.store_id, sub.read_through))
                .limit(BELL_CAP + 1 - total).subquery()
            )
        ).scalar_one()
    return total


def recent(user_id: int, *, limit: int = RECENT_LIMIT,
           session: Session | None = None) -> list[Alert]:
    """The user's latest crossings across their stores, newest first, unread ones marked."""
    session = _session(session)
    found: list[Alert] = []
    for sub in session.execute(_listening(user_id)).all():
        for row in event_rows(session, _alert_events(sub.store_id, 0), limit=limit,
                              newest_first=True):
            body = payload(row)
            found.append(Alert(sub.store_id, sub.name, row.sequence, row.type, row.created_at,
                               body["data"], row.sequence > sub.read_through))
    found.sort(key=lambda a: (a.at, a.sequence), reverse=True)
    return found[:limit]


def mark_read(user_id: int, *, session: Session | None = None) -> int:
    """Everything in the user's bell so far becomes read; the number of stores moved on."""
    session = _session(session)
    moved = session.execute(
        update(subscriptions)
        .where(subscriptions.c.user_id == user_id,
               subscriptions.c.read_through < _last_sequence(subscriptions.c.store_id))
        .values(read_through=_last_sequence(subscriptions.c.store_id))
    ).rowcount
    session.commit()
    return moved or 0


# --------------------------------------------------------------------------- mail


def _line(alert: Mapping[str, Any], label: str) -> str:
    label = STATUS_LABELS.get(alert.get("status") or "", label)
    available = alert.get("available_after")
    left = "" if available is None else f", {available} available"
    threshold = alert.get("low_stock_threshold")
    at = "" if threshold is None else f" (threshold {threshold})"
    return (f"- {label}: {alert.get('sku')} {alert.get('title')} at "
            f"{alert.get('location')}{left}{at}")


def _compose(to: str, store_name: str, rows: list[Row[Any]], more: int, base_url: str,
             store_id: int, digest: bool) -> Mail:
    bodies = [payload(r) for r in rows]
    count = len(bodies) + more
    if digest:
        subject = f"Stock alerts for {store_name}: {count} since the last digest"
    elif count == 1:
        only = bodies[0]["data"]
        label = "Out of stock" if rows[0].type == "stock.out" else "Low stock"
        subject = f"{label} at {store_name}: {only.get('sku')} at {only.get('location')}"
    else:
        subject = f"{count} stock alerts at {store_name}"
    lines = [
        f"Stock alerts for {store_name}"
        + (" since the last digest:" if digest else ":"),
        "",
    ]
    for row, body in zip(rows, bodies, strict=True):
        lines.append(_line(body["data"], "Out of stock" if row.type == "stock.out"
                           else "Low stock"))
        lines.append(f"  {base_url}/inventory/entries/{body['data'].get('entry_id')}")
    if more:
        lines.append(f"- and {more} more")
    lines += [
        "",
        f"Low stock now: {base_url}/reports/low-stock?store={store_id}",
        f"Out of stock now: {base_url}/reports/out-of-stock?store={store_id}",
        "",
        f"You get these as {MODE_LABELS['digest' if digest else 'immediate'].lower()}; "
        f"change it on your account page: {base_url}/account/tokens#alerts",
    ]
    return Mail(to=to, subject=subject, body="\n".join(lines) + "\n")


def send_mails(sender: Sender, *, digest: bool = False, base_url: str = "",
               session: Session | None = None) -> int:
    """Mails each subscriber of the mode (each crossing, or the daily digest) the crossings
    since their last mail, one mail per person and store; the number of mails sent. Each
    subscription moves on only after its mail went out."""
    session = _session(session)
    ensure_owner_subscriptions(session=session)
    base_url = base_url.rstrip("/")
    due = session.execute(
        select(subscriptions.c.id, subscriptions.c.store_id, subscriptions.c.mailed_through,
               users.c.email, stores.c.name)
        .join(memberships, and_(memberships.c.user_id == subscriptions.c.user_id,
                                memberships.c.store_id == subscriptions.c.store_id))
        .join(users, users.c.id == subscriptions.c.user_id)
        .join(stores, stores.c.id == subscriptions.c.store_id)
        .where(subscriptions.c.mode == ("digest" if digest else "immediate"),
               users.c.active.is_(True),
               select(events.c.id).where(_alert_events(subscriptions.c.store_id,
                                                       subscriptions.c.mailed_through))
               .exists())
        .order_by(subscriptions.c.id)
    ).all()
    session.rollback()
    sent = 0
    for sub in due:
        where = _alert_events(sub.store_id, sub.mailed_through)
        rows = event_rows(session, where, limit=MAIL_LIMIT)
        if not rows:
            continue
        total, last = session.execute(
            select(func.count(), func.max(events.c.sequence)).where(where)
        ).one()
        sender(_compose(sub.email, sub.name, rows, total - len(rows), base_url, sub.store_id,
                        digest))
        session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id, subscriptions.c.mailed_through < last)
            .values(mailed_through=last)
        )
        session.commit()
        sent += 1
    return sent


__all__ = [
    "ALERT_MODES",
    "BELL_CAP",
    "MODE_LABELS",
    "Alert",
    "Mail",
    "Sender",
    "StoreAlerts",
    "ensure_owner_subscriptions",
    "subscribe_owners",
    "mark_read",
    "recent",
    "send_mails",
    "set_modes",
    "settings",
    "unread_count",
]
