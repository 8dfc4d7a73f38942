"""Safe defaults; instance/config.py and environment variables override them."""

from __future__ import annotations

import os


def _database_url(instance_path: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "stockroom.sqlite")
    # Accept the URL forms hosting providers hand out and pin the psycopg 3 driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def defaults(instance_path: str) -> dict[str, object]:
    """The configuration every deployment starts from."""
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-only-change-me"),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # How long a SQLite writer waits for the lock before giving up, in milliseconds.
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "10000")),
        "DB_POOL_SIZE": int(os.environ.get("DB_POOL_SIZE", "5")),
        "DB_MAX_OVERFLOW": int(os.environ.get("DB_MAX_OVERFLOW", "10")),
        "WTF_CSRF_TIME_LIMIT": None,
        # Form fields (not files) a request may carry in all: room for a value far past any
        # field's limit, so the boundary can name that field instead of a bare 413.
        "MAX_FORM_MEMORY_SIZE": 2 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("FLASK_DEBUG") not in ("1", "true"),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Webhooks (app.services.webhooks): https to public addresses only, unless plain
        # http to this machine is allowed (make run and make dev allow it, for a local
        # receiver) or a host is named on the allow-list.
        "WEBHOOKS_ALLOW_HTTP_LOOPBACK": os.environ.get(
            "WEBHOOKS_ALLOW_HTTP_LOOPBACK", "").strip().lower() in ("1", "true", "yes", "on"),
        "WEBHOOKS_ALLOWED_HOSTS": os.environ.get("WEBHOOKS_ALLOWED_HOSTS", ""),
        "WEBHOOKS_CONNECT_TIMEOUT": float(os.environ.get("WEBHOOKS_CONNECT_TIMEOUT", "3")),
        "WEBHOOKS_READ_TIMEOUT": float(os.environ.get("WEBHOOKS_READ_TIMEOUT", "10")),
    }
