"""Work that runs away from the request: a huey task queue and its periodic jobs.

Where the queue lives: with `REDIS_URL` set, in Redis, so that workers on several machines
share it; otherwise in a SQLite file beside the database in `instance/` (`TASKS_DATABASE`
names another), so a single machine needs nothing installed or started beyond
`flask worker`. `make run` starts one worker beside the web app.

The queue only says *when* to work. What the work is about lives in Stockroom's database:
a reservation past its expiry is found by its `expires_at`, tally rows by their count. A
worker killed in the middle of a task loses that run and nothing else; the next minute's
run (or the next worker) finds the same rows and does the same work, which is safe to do
twice. Several workers each run the schedule; a lock in the queue's storage lets one run
of a job at a time through and the others skip it.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, has_app_context
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import TaskLockedException

log = logging.getLogger("stockroom.tasks")

# Flask's instance folder for this package: the directory beside app/ (as create_app has it).
INSTANCE = Path(__file__).resolve().parent.parent / "instance"

F = TypeVar("F", bound=Callable[..., Any])


def make_huey(environ: os._Environ[str] | dict[str, str] = os.environ) -> Huey:
    """The queue as the environment configures it (see the module's docstring)."""
    # Deployments sharing one Redis keep apart by their queue's name.
    name = environ.get("TASKS_QUEUE") or "stockroom"
    url = environ.get("REDIS_URL")
    if url:
        return RedisHuey(name, url=url)
    path = environ.get("TASKS_DATABASE") or str(INSTANCE / "tasks.sqlite")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=path)


huey = make_huey()

# The app a worker's tasks run in: `flask worker` sets it to the app it was started with.
_worker_app: Flask | None = None


def bind_app(app: Flask) -> None:
    """Run this process's tasks inside `app` (the worker command calls this)."""
    global _worker_app
    _worker_app = app


def _app() -> Flask:
    if _worker_app is None:
        raise RuntimeError("Tasks run in `flask worker`, or inside an application context.")
    return _worker_app


def in_app(job: F) -> F:
    """Runs `job` inside an application context: the caller's, or the worker's app."""

    @functools.wraps(job)
    def run(*args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return job(*args, **kwargs)
        with _app().app_context():
            return job(*args, **kwargs)

    return run  # type: ignore[return-value]


def one_at_a_time(name: str, job: Callable[[], int]) -> dict[str, Any]:
    """Runs `job` unless another run of it holds the queue's lock for `name` (another
    worker's schedule fired too): then this run is skipped, and says so."""
    try:
        with huey.lock_task(name):
            return {"done": job()}
    except TaskLockedException:
        log.info("%s is already running in another worker; skipped", name)
        return {"skipped": True}


# --------------------------------------------------------------------------- the schedule


@huey.periodic_task(crontab(minute="*"), retries=0)
@in_app
def expire_reservations() -> dict[str, Any]:
    """Every minute: reservations past their expiry give their units back to available.
    (Reads and writes of an entry also expire its own reservations as they pass.)"""

    def job() -> int:
        from app.services import stock

        expired = stock.expire_reservations()
        if expired:
            log.info("expired %d reservation%s", expired, "" if expired == 1 else "s")
        return expired

    return one_at_a_time("expire-reservations", job)


@huey.periodic_task(crontab(minute="7"), retries=0)
@in_app
def fold_tallies() -> dict[str, Any]:
    """Hourly: fold the overview's stock tallies into one row per location."""

    def job() -> int:
        from app.services import tallies

        return tallies.fold()

    return one_at_a_time("fold-tallies", job)


# The hour (UTC) of the daily alert digest.
DIGEST_HOUR = os.environ.get("ALERTS_DIGEST_HOUR", "7")


def send_alerts(*, digest: bool) -> int:
    """Mails the stock alerts due: each crossing, or the daily digest. The number sent."""
    from app.services import alerts
    from app.web import mail

    return alerts.send_mails(mail.send, digest=digest, base_url=mail.base_url())


@huey.periodic_task(crontab(minute="*"), retries=0)
@in_app
def send_stock_alerts() -> dict[str, Any]:
    """Every minute: a mail to each subscriber of a store whose stock crossed into low or
    out since their last one (those who chose each alert as it happens)."""
    return one_at_a_time("send-stock-alerts", lambda: send_alerts(digest=False))


@huey.periodic_task(crontab(minute="0", hour=DIGEST_HOUR), retries=0)
@in_app
def send_alert_digest() -> dict[str, Any]:
    """Daily: one mail per subscriber and store listing the day's crossings (those who chose
    the digest); nothing when there were none."""
    return one_at_a_time("send-alert-digest", lambda: send_alerts(digest=True))


def send_webhooks(*, within_seconds: float = 50.0) -> int:
    """Queues the new events for each webhook, then sends what is due, again and again while
    a pass finds a full batch and time is left; tells the owners of any webhook turned off
    for failing a day. The number of requests sent."""
    import time

    from flask import current_app

    from app.services import webhooks
    from app.web import mail

    policy = webhooks.policy_from(current_app.config)
    deadline = time.monotonic() + within_seconds
    sent = 0
    while True:
        webhooks.fan_out()
        done = webhooks.deliver_due(policy)
        sent += done.sent
        for message in webhooks.disabled_mails(done.disabled or [], base_url=mail.base_url()):
            mail.send(message)
        if done.sent < webhooks.DELIVERY_BATCH or time.monotonic() >= deadline:
            return sent


@huey.periodic_task(crontab(minute="*"), retries=0)
@in_app
def deliver_webhooks() -> dict[str, Any]:
    """Every minute: each webhook's new events queued and what is due sent (retries wait
    their turn by backoff), for up to 50 seconds."""
    return one_at_a_time("deliver-webhooks", send_webhooks)


SCHEDULE = {
    "deliver_webhooks": "every minute",
    "expire_reservations": "every minute",
    "fold_tallies": "hourly, at minute 7",
    "send_stock_alerts": "every minute",
    "send_alert_digest": f"daily, at {DIGEST_HOUR}:00 UTC",
}
