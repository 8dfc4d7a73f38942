"""Health checks for a load balancer: /livez (the process answers) and /healthz (and so does
the database).

Both are plain JSON, need no sign-in, never touch the session (so no cookie is set), are
exempt from rate limits, and cost one `SELECT 1` at most.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from app.extensions import csrf, db, limiter

log = logging.getLogger("stockroom")

bp = Blueprint("health", __name__)

# PostgreSQL gives up on the probe after this long; a load balancer polls every few seconds
# and must not pile up waiting checks on a database that hangs.
STATEMENT_TIMEOUT_MS = 2000


def register_health(app: Flask) -> None:
    """Add /livez and /healthz, outside rate limits and CSRF."""
    limiter.exempt(bp)
    csrf.exempt(bp)
    app.register_blueprint(bp)


@bp.get("/livez")
def livez() -> Response:
    """The process is up and serving requests; says nothing about the database."""
    return _answer({"status": "ok"}, 200)


@bp.get("/healthz")
def healthz() -> Response:
    """Ready for traffic: the database answers `SELECT 1`. 503 when it does not."""
    try:
        _probe_database()
    except Exception as exc:  # any failure means "do not send traffic here"
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        log.error("Health check: the database did not answer (%s: %s)",
                  exc.__class__.__name__, first_line)
        return _answer({"status": "unavailable", "database": "error"}, 503)
    return _answer({"status": "ok", "database": "ok"}, 200)


def _probe_database() -> None:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # SET LOCAL ends with the probe's transaction, which is rolled back on close.
            conn.exec_driver_sql(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        if conn.execute(text("SELECT 1")).scalar_one() != 1:
            raise RuntimeError("SELECT 1 did not return 1")


def _answer(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
