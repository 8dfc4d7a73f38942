"""The development webhook receiver that `make run` starts: it registers itself once per
store, verifies each delivery with the sending endpoint's secret, prints it, and answers
401 to a request no secret signed."""

from __future__ import annotations

import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from stocked import stocked_entry

from app import create_app
from app.extensions import db
from app.hooks.receiver import Receiver
from app.models import WebhookDelivery
from app.permissions import system_actor
from app.services import stock, webhooks

from .conftest import cli_config

LOOPBACK = webhooks.Policy(allow_http_loopback=True)


@pytest.fixture
def app(sqlite_template: Path, tmp_path: Path) -> Iterator[Flask]:
    path = tmp_path / "stockroom.sqlite"
    shutil.copyfile(sqlite_template, path)
    application = create_app(cli_config(path))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def receiver(app: Flask) -> Iterator[tuple[Receiver, list[str]]]:
    lines: list[str] = []
    server = Receiver(app, "127.0.0.1", 0, "/hooks", lines.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, lines
    server.shutdown()
    server.server_close()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_it_registers_once_per_store_and_prints_each_verified_delivery(
    app: Flask, receiver: tuple[Receiver, list[str]]
) -> None:
    server, lines = receiver
    store_id, entry_id = stocked_entry("Hook mug", "HOOK-1")
    assert webhooks.register_everywhere(server.url, LOOPBACK, description="Dev") == ["Hook mug"]
    assert webhooks.register_everywhere(server.url, LOOPBACK, description="Dev") == []

    stock.adjust_stock(actor=system_actor("tests"), entry_id=entry_id, delta=-3, reason="sold")
    webhooks.fan_out()
    done = webhooks.deliver_due(LOOPBACK)

    assert (done.sent, done.delivered) == (1, 1)
    assert len(lines) == 1
    row = db.session.execute(select(WebhookDelivery)).scalar_one()
    assert (row.status, row.response_code) == ("succeeded", 204)
    assert lines[0].endswith(f"webhook evt_{store_id}_{row.sequence} stock.changed HOOK-1 "
                             "at BIN: available 10 -> 7 (signature verified)")


def test_a_request_no_secret_signed_is_answered_401_and_said_so(
    app: Flask, receiver: tuple[Receiver, list[str]]
) -> None:
    server, lines = receiver
    stocked_entry("Hook mug", "HOOK-1")
    webhooks.register_everywhere(server.url, LOOPBACK, description="Dev")
    forged = webhooks.new_secret()
    body = b'{"id":"evt_1_1","type":"stock.changed","data":{}}'
    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    moment = datetime.now(UTC)
    headers = {"content-type": "application/json", "webhook-id": "evt_1_1",
               "webhook-timestamp": str(int(moment.timestamp())),
               "webhook-signature": Webhook(forged).sign("evt_1_1", moment, body)}

    assert _post(server.url, body, headers) == 401
    assert _post(server.url.replace("/hooks", "/elsewhere"), body, headers) == 404
    assert len(lines) == 1 and "matches no endpoint's secret; answered 401" in lines[0]


def test_the_command_listens_on_loopback_only(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["webhooks", "receive", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "not a loopback address" in result.output


def test_registering_needs_plain_http_to_loopback_allowed(app: Flask) -> None:
    stocked_entry("Hook mug", "HOOK-1")
    with pytest.raises(webhooks.ValidationError) as refused:
        webhooks.register_everywhere("http://127.0.0.1:5001/hooks", webhooks.Policy(),
                                     description="Dev")
    assert "url" in refused.value.fields
