"""What the browser tests and the screenshot script share: Chromium and a live server.

Not a test module (no test_ prefix); pytest imports it from the browser tier's conftest and
`tests/browser/screenshots.py` imports it as a sibling.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> Path:
    """Debian's Chromium, or the one $STOCKROOM_CHROMIUM names."""
    return Path(os.environ.get("STOCKROOM_CHROMIUM") or DEFAULT_CHROMIUM)


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium from the system package: Playwright downloads no browser here."""
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), headless=True, args=CHROMIUM_ARGS
    )


class _Server(ThreadedWSGIServer):
    """werkzeug's threaded server, keeping its request threads so that stop() can wait.

    A request still running when a test ends (an htmx load or poll the page fired just
    before it closed) would otherwise go on using the database after the next test's setup
    has replaced the file under it, and SQLite then reports the new file malformed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_threads: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        self.request_threads = [t for t in self.request_threads if t.is_alive()]
        self.request_threads.append(thread)
        thread.start()


class LiveServer:
    """The app served by werkzeug on 127.0.0.1 on a free port, in a daemon thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = _Server("127.0.0.1", 0, app)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits up to one interval
            name="stockroom-live-server",
            daemon=True,
        )

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        deadline = time.monotonic() + 10  # the browser has closed its connections by now
        for thread in self._server.request_threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def __call__(self, path: str = "/") -> str:
        """The absolute URL of `path` on this server."""
        return self.url + path

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
