"""Mail out: the alerts' sender, over flask-mailman.

Configured by environment variables, as the database is: `MAIL_SERVER`, `MAIL_PORT`,
`MAIL_USERNAME`, `MAIL_PASSWORD`, `MAIL_USE_TLS` / `MAIL_USE_SSL`, `MAIL_DEFAULT_SENDER`
(or the same with the `FLASK_` prefix, or in instance/config.py). With no `MAIL_SERVER`
the mails are printed to the console (the worker's output under `make run`), and tests
keep them in memory; `MAIL_BACKEND` names another backend outright.
"""

from __future__ import annotations

import os

from flask import Flask, current_app
from flask_mailman import EmailMessage, Mail

from app.services.alerts import Mail as AlertMail

mailer = Mail()

_FROM_ENVIRONMENT = ("MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER",
                     "MAIL_BACKEND")
_TRUE = ("1", "true", "yes", "on")


def init_mail(app: Flask) -> None:
    """Reads the MAIL_* variables the configuration has not set, picks the backend, binds."""
    config = app.config
    for name in _FROM_ENVIRONMENT:
        if name not in config and os.environ.get(name):
            config[name] = os.environ[name]
    if "MAIL_PORT" not in config and os.environ.get("MAIL_PORT", "").isdigit():
        config["MAIL_PORT"] = int(os.environ["MAIL_PORT"])
    for flag in ("MAIL_USE_TLS", "MAIL_USE_SSL"):
        if flag not in config and flag in os.environ:
            config[flag] = os.environ[flag].strip().lower() in _TRUE
    config.setdefault("MAIL_DEFAULT_SENDER", "Stockroom <stockroom@localhost>")
    config.setdefault("MAIL_TIMEOUT", 10)
    if not config.get("MAIL_BACKEND"):
        config["MAIL_BACKEND"] = ("locmem" if app.testing
                                  else "smtp" if config.get("MAIL_SERVER") else "console")
    mailer.init_app(app)


def send(mail: AlertMail) -> None:
    """Sends one alert mail now; a failure raises, so the alert stays due."""
    EmailMessage(subject=mail.subject, body=mail.body, to=[mail.to],
                 from_email=current_app.config["MAIL_DEFAULT_SENDER"]).send()


def base_url() -> str:
    """Where links in mails point: `STOCKROOM_URL`, or the address `make run` serves."""
    return str(current_app.config.get("STOCKROOM_URL")
               or os.environ.get("STOCKROOM_URL") or "http://127.0.0.1:5000")
