"""The task queue and `flask worker`: the schedule, the jobs, and a real worker process
taking work from SQLite storage and, where a Redis server answers, from Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from huey import Huey
from sqlalchemy import text
from stocked import stocked_entry

from app import create_app, tasks
from app.clock import frozen_at, utcnow
from app.extensions import db
from app.models import Reservation
from app.permissions import system_actor
from app.services import stock, tallies

from .conftest import cli_config

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("STOCKROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _at(minute: int, hour: int = 10) -> datetime:
    return datetime(2026, 12, 6, hour, minute)


def test_the_schedule_expires_and_alerts_every_minute_folds_hourly_and_digests_daily() -> None:
    expire = tasks.expire_reservations.task_class().validate_datetime
    fold = tasks.fold_tallies.task_class().validate_datetime
    alert = tasks.send_stock_alerts.task_class().validate_datetime
    digest = tasks.send_alert_digest.task_class().validate_datetime
    assert all(expire(_at(m)) and alert(_at(m)) for m in range(60))
    assert [m for m in range(60) if fold(_at(m))] == [7]
    assert all(fold(_at(7, h)) for h in range(24))
    day = [(h, m) for h in range(24) for m in range(60) if digest(_at(m, h))]
    assert day == [(int(tasks.DIGEST_HOUR), 0)]
    everything = {"expire_reservations", "fold_tallies", "send_stock_alerts",
                  "send_alert_digest", "deliver_webhooks"}
    periodic = {t.__name__ for t in tasks.huey._registry._periodic_tasks}
    assert periodic == everything
    assert set(tasks.SCHEDULE) == everything


def test_the_queue_is_in_sqlite_unless_redis_is_named(tmp_path: Path) -> None:
    local = tasks.make_huey({"TASKS_DATABASE": str(tmp_path / "q" / "tasks.sqlite")})
    assert type(local.storage).__name__ == "SqliteStorage"
    assert (tmp_path / "q" / "tasks.sqlite").exists()
    shared = tasks.make_huey({"REDIS_URL": REDIS_URL, "TASKS_QUEUE": "elsewhere"})
    assert type(shared.storage).__name__ == "RedisStorage"
    assert shared.name == "elsewhere"


def _overdue_hold(application, quantity: int = 3) -> tuple[int, int]:
    """An entry of 10 with a hold of `quantity` that expired an hour ago."""
    from app.models import InventoryEntry

    with application.app_context():
        _, entry_id = stocked_entry("Task mug", "TASK-1")
        actor = system_actor("tests")
        start = utcnow() - timedelta(hours=2)
        with frozen_at(start):
            hold = stock.reserve_stock(actor=actor, entry_id=entry_id, quantity=quantity,
                                       order_ref="WEB-1", expires_at=start + timedelta(hours=1))
        db.session.remove()
        assert db.session.get(InventoryEntry, entry_id).reserved_quantity == quantity
        return entry_id, hold.reservation_ids[0]


def _status(application, reservation_id: int) -> str:
    with application.app_context():
        db.session.remove()
        return db.session.get(Reservation, reservation_id).status


@pytest.fixture
def fresh_app(sqlite_template: Path, tmp_path: Path):
    path = tmp_path / "stockroom.sqlite"
    shutil.copyfile(sqlite_template, path)
    application = create_app(cli_config(path))
    yield application, path
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_expiry_job_returns_overdue_units_and_skips_while_another_run_holds_it(
    fresh_app,
) -> None:
    application, _ = fresh_app
    entry_id, hold_id = _overdue_hold(application)
    with application.app_context():
        with tasks.huey.lock_task("expire-reservations"):
            assert tasks.expire_reservations.call_local() == {"skipped": True}
        assert _status(application, hold_id) == "active"
        assert tasks.expire_reservations.call_local() == {"done": 1}
        assert tasks.expire_reservations.call_local() == {"done": 0}  # twice is safe
    assert _status(application, hold_id) == "expired"


def test_the_fold_job_folds_tallies(fresh_app) -> None:
    application, _ = fresh_app
    _overdue_hold(application)
    with application.app_context():
        rows = "SELECT count(*) FROM stock_tallies"
        assert db.session.execute(text(rows)).scalar_one() > 1
        assert tasks.fold_tallies.call_local()["done"] > 1
        db.session.remove()
        assert db.session.execute(text(rows)).scalar_one() == 1  # one row for the one bin
        assert tallies.verify() == []


@pytest.fixture(params=["sqlite", "redis"])
def queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Huey, dict]]:
    """A queue of this test's own, and the environment that points a worker at it."""
    name = f"stockroom-test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        host, port = "127.0.0.1", 6379
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            if os.environ.get("STOCKROOM_REQUIRE_POSTGRES") == "1":  # CI has Redis too
                pytest.fail(f"no Redis at {host}:{port}")
            pytest.skip(f"no Redis at {host}:{port}")
        env = {"REDIS_URL": REDIS_URL, "TASKS_QUEUE": name}
    else:
        env = {"TASKS_DATABASE": str(tmp_path / "tasks.sqlite"), "TASKS_QUEUE": name}
    huey = tasks.make_huey(env)
    huey._registry = tasks.huey._registry  # the app's tasks, on this queue
    yield huey, env
    huey.flush()


def _start_worker(env: dict[str, str], db_path: Path, log: Path) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items()
            if k not in ("REDIS_URL", "TASKS_DATABASE", "TASKS_QUEUE", "DATABASE_URL")}
    full.update(env, DATABASE_URL=f"sqlite:///{db_path}", FLASK_APP="app")
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "worker", "--no-schedule", "--threads", "1"],
        cwd=ROOT, env=full, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def _wait_for(done: Callable[[], bool], log: Path, seconds: float = 30) -> None:
    """Periodic tasks keep no result in the queue: what they did is read in the database."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"the worker did not do it:\n{log.read_text()}"
        time.sleep(0.2)


def test_a_worker_process_runs_work_queued_while_it_was_down(
    fresh_app, queue, tmp_path: Path,
) -> None:
    """Work queued with no worker running waits in the queue's storage; a worker started
    afterwards (and one started again after a kill) takes it and does it."""
    application, db_path = fresh_app
    huey, env = queue
    _, hold_id = _overdue_hold(application)
    with application.app_context():
        db.engine.dispose()  # the worker process writes the same SQLite file
    huey.enqueue(tasks.expire_reservations.s())
    assert huey.pending_count() == 1

    log = tmp_path / "worker.log"
    worker = _start_worker(env, db_path, log)
    try:
        _wait_for(lambda: _status(application, hold_id) == "expired", log)
        assert huey.pending_count() == 0
        if "REDIS_URL" in env:
            return  # the restart below is the same on either storage
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)

        # Killed: what is queued now waits for the next worker.
        _, second = _overdue_hold(application)
        with application.app_context():
            db.engine.dispose()
        huey.enqueue(tasks.expire_reservations.s())
        time.sleep(0.5)
        assert _status(application, second) == "active"  # nobody to do it yet
        worker = _start_worker(env, db_path, tmp_path / "worker2.log")
        _wait_for(lambda: _status(application, second) == "expired", tmp_path / "worker2.log")
    finally:
        worker.send_signal(signal.SIGTERM)  # stop now: nothing is running
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
