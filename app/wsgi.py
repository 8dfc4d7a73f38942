"""The production entry point: `gunicorn app.wsgi:app` (gunicorn.conf.py names it already).

It builds the app from the environment like `flask` does, then refuses to serve with the
development secret key, and trusts X-Forwarded-For/-Proto from as many proxies as
PROXY_HOPS says (0 unless set), so sign-in throttling counts real client addresses behind
a load balancer.
"""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

# The placeholder app/config.py falls back to when SECRET_KEY is not set.
DEVELOPMENT_SECRET_KEY = "dev-only-change-me"
MIN_SECRET_KEY_LENGTH = 16


class UnsafeConfiguration(RuntimeError):
    """The environment is not fit to serve production traffic."""


def production_app() -> Flask:
    application = create_app()
    key = application.config.get("SECRET_KEY")
    if not isinstance(key, str | bytes) or key == DEVELOPMENT_SECRET_KEY \
            or len(key) < MIN_SECRET_KEY_LENGTH:
        raise UnsafeConfiguration(
            "Set SECRET_KEY (or FLASK_SECRET_KEY) to a random value of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters, the same in every process: sessions and "
            "CSRF tokens are signed with it. For example: "
            "python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    hops = os.environ.get("PROXY_HOPS", "0").strip() or "0"
    if not hops.isdigit():
        raise UnsafeConfiguration("PROXY_HOPS must be a whole number: the proxies in front.")
    if int(hops):
        application.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            application.wsgi_app, x_for=int(hops), x_proto=int(hops)
        )
    return application


app = production_app()
