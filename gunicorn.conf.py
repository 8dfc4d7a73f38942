"""gunicorn settings for Stockroom. gunicorn reads this file by itself when it starts in this
folder; elsewhere pass `-c path/to/gunicorn.conf.py`. Command-line flags win over it.

Workers are separate processes that share nothing but the database (and Redis for rate
limits): sessions are signed cookies, so any worker serves any request.
"""

from __future__ import annotations

from typing import Any

# The app that refuses to start with the development SECRET_KEY.
wsgi_app = "app.wsgi:app"
# Build the app once in the master, then fork the workers: they start in a fraction of the
# time and share its memory, and a bad configuration stops gunicorn at once instead of
# every worker failing to boot. New code needs a restart (TERM, start), not a HUP.
preload_app = True

# Workers come from -w or WEB_CONCURRENCY, the address from -b or PORT (gunicorn's defaults).
# Synchronous workers: one request at a time each, so a worker needs one database
# connection; DB_POOL_SIZE bounds what a worker may ever open.
worker_class = "sync"
timeout = 30
graceful_timeout = 20

# Request lines and errors to stdout/stderr, for the process manager to collect.
accesslog = "-"
errorlog = "-"

# No runtime control socket: Stockroom is managed by signals (HUP reloads, TERM stops),
# and two instances on one machine would otherwise contend for the same socket path.
control_socket_disable = True


def post_fork(server: Any, worker: Any) -> None:
    """With --preload the app (and its engine) was built in the master before the fork.
    A pooled connection must never be shared by two processes, so each worker drops the
    inherited pool without closing the master's connections and opens its own."""
    application = getattr(server.app, "callable", None)
    if application is None:  # not preloaded: the worker builds the app after the fork
        return
    from app.extensions import db

    with application.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
