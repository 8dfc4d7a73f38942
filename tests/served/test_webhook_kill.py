"""A webhook sender killed (SIGKILL) while its request is in flight: the next run sends the
same event again, with the same webhook-id, and records it delivered. Real processes, on
both databases: `flask webhooks send` against a local receiver that holds the first request
open."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from stocked import stocked_entry

from app import create_app
from app.extensions import db
from app.models import WebhookDelivery
from app.permissions import system_actor
from app.services import stock, webhooks

from .server import ROOT


class Receiver:
    """Holds the first request open until released; answers the others 204 at once."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.got.append((self.headers["webhook-id"], body))
                if len(receiver.got) == 1:
                    receiver.release.wait(30)
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.stop()


def _send(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "webhooks", "send"], cwd=ROOT,
        env={**env, "WEBHOOKS_ALLOW_HTTP_LOOPBACK": "true", "WEBHOOKS_READ_TIMEOUT": "60"},
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def test_a_sender_killed_mid_request_sends_the_event_again_with_its_id(
    migrated: dict[str, str], database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    application = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                              "SQLALCHEMY_DATABASE_URI": database_url})
    with application.app_context():
        store_id, entry_id = stocked_entry("Hook mug", "HOOK-1")
        actor = system_actor("tests")
        webhooks.create_endpoint(actor, store_id, url=receiver.url,
                                 policy=webhooks.Policy(allow_http_loopback=True))
        stock.adjust_stock(actor=actor, entry_id=entry_id, delta=-1, reason="sold")
        db.session.remove()

    log = tmp_path / "send.log"
    first = _send(migrated, log)
    deadline = time.monotonic() + 30
    while not receiver.got:
        assert first.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)  # killed while the request is in flight
    first.wait(10)

    again = _send(migrated, tmp_path / "again.log")
    assert again.wait(60) == 0, (tmp_path / "again.log").read_text()
    assert len(receiver.got) == 2
    (first_id, first_body), (second_id, second_body) = receiver.got
    assert first_id == second_id and first_body == second_body
    with application.app_context():
        row = db.session.execute(select(WebhookDelivery)).scalar_one()
        assert (row.status, row.attempts, row.response_code) == ("succeeded", 1, 204)
        db.session.remove()
        db.engine.dispose()
