"""A webhook receiver for development and the demo: `flask webhooks receive`, which `make run`
starts beside the web app and the worker.

It listens on a loopback address, checks each request's signature with the secret of every
enabled endpoint that points at it (read at each request, so a new secret is used at once),
prints one line per delivery on the console and answers 204, or 401 when no secret matches.
What it answered shows in the endpoint's delivery log. It is what an integrator writes
first, and a way to watch the events of `make run` go out.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from flask import Flask
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.services import webhooks

MAX_BODY = 1 << 20


def describe(event: dict[str, Any]) -> str:
    """One event in a line: its id and type, and what it is about."""
    data = event.get("data") or {}
    line = f"{event.get('id')} {event.get('type')}"
    if "reservation_id" in data and "quantity" in data:
        line += (f" reservation {data['reservation_id']} ({data.get('order_ref') or 'no order'}):"
                 f" {data['quantity']} released")
    elif "purchase_order_id" in data:
        line += f" {data.get('number')}: {data.get('status')}"
    elif "sku" in data:
        line += f" {data['sku']} at {data.get('location')}"
        if "available_before" in data:
            line += f": available {data['available_before']} -> {data['available_after']}"
        elif "available_after" in data:
            line += f": available {data['available_after']}"
    return line


class Receiver(ThreadingHTTPServer):
    """Serves `path` on (host, port) until shut down; `echo` prints each line."""

    daemon_threads = True

    def __init__(self, app: Flask, host: str, port: int, path: str,
                 echo: Callable[[str], None]) -> None:
        self.app, self.path, self.echo = app, path, echo
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.path}"

    def verified(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """The event, when one of the endpoints' secrets signed it."""
        with self.app.app_context():
            secrets = webhooks.secrets_at(self.url)
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return dict(json.loads(body))
        return None

    def say(self, text: str) -> None:
        with self.lock:
            self.echo(f"{datetime.now():%H:%M:%S} webhook {text}")


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (the http.server name)
        if self.path != self.server.path:
            self._answer(404)
            return
        length = int(self.headers.get("content-length") or 0)
        if not 0 <= length <= MAX_BODY:
            self._answer(413)
            return
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        event = self.server.verified(body, headers)
        if event is None:
            self.server.say(f"{headers.get('webhook-id', '(no id)')}: the signature matches "
                            "no endpoint's secret; answered 401")
            self._answer(401)
            return
        self.server.say(f"{describe(event)} (signature verified)")
        self._answer(204)

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # one line per delivery is printed by do_POST
