"""Stockroom: inventory admin for merchants with several stores and locations."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, commands."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    os.makedirs(app.instance_path, exist_ok=True)

    from app.config import defaults

    app.config.from_mapping(defaults(app.instance_path))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)

    from app.database import configure_engine, engine_options
    from app.extensions import csrf, db, limiter, login_manager, migrate

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"),
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])

    from app import models  # noqa: F401  (register the tables with the metadata)
    from app.web import init_web
    from app.web.mail import init_mail
    from app.web.static import init_static

    init_web(app)
    init_static(app)
    init_mail(app)

    from app.activity import bp as activity_bp
    from app.audit import bp as audit_bp
    from app.auth import bp as auth_bp
    from app.inventory import bp as inventory_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(inventory_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(activity_bp)

    from app.account import bp as account_bp
    from app.account.commands import create_token
    from app.api import init_api

    app.register_blueprint(account_bp)

    from app.admin import bp as admin_bp
    from app.catalog import bp as catalog_bp
    from app.hooks import bp as hooks_bp
    from app.imports import bp as imports_bp
    from app.labels import bp as labels_bp
    from app.people import bp as people_bp
    from app.purchasing import bp as purchasing_bp
    from app.receiving import bp as receiving_bp

    for blueprint in (admin_bp, people_bp, catalog_bp, imports_bp, labels_bp, purchasing_bp,
                      receiving_bp, hooks_bp):
        app.register_blueprint(blueprint)
    init_api(app)
    app.cli.add_command(create_token)

    from app.cli import register_commands

    register_commands(app)
    return app
