"""Command-line entry points: `flask seed-demo`, `flask create-user`, `flask worker`,
`flask inventory …`."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.extensions import db
from app.models import ROLES
from app.services.errors import StockroomError

if TYPE_CHECKING:
    from app.demo import DemoSummary

F = TypeVar("F", bound=Callable[..., Any])

inventory_cli = AppGroup("inventory", help="Check and maintain stock.")


def domain_errors(command: F) -> F:
    """Show a domain error as its message and exit 1, never as a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StockroomError as exc:
            db.session.rollback()
            raise click.ClickException(exc.message) from exc

    return wrapper  # type: ignore[return-value]


def register_commands(app: Flask) -> None:
    """Attach every command group to the app."""
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_user)
    app.cli.add_command(inventory_cli)
    app.cli.add_command(worker)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(webhooks_cli)


# --------------------------------------------------------------------------- alerts


@click.group("alerts")
def alerts_cli() -> None:
    """Stock alerts by mail (the worker sends them on its own; this sends them now)."""


@alerts_cli.command("send")
@click.option("--digest", is_flag=True,
              help="Send the daily digest to those who chose it, instead of each alert.")
@with_appcontext
def send_alerts(digest: bool) -> None:
    """Mail the low and out-of-stock alerts due now."""
    from app import tasks

    sent = tasks.send_alerts(digest=digest)
    click.echo(f"Sent {sent} alert mail{'' if sent == 1 else 's'}"
               f"{' (daily digest)' if digest else ''}.")


# --------------------------------------------------------------------------- webhooks


@click.group("webhooks")
def webhooks_cli() -> None:
    """Webhook deliveries (the worker sends them every minute; this sends them now)."""


@webhooks_cli.command("send")
@with_appcontext
def send_webhooks() -> None:
    """Queue each webhook's new events and send what is due now."""
    from app import tasks

    sent = tasks.send_webhooks()
    click.echo(f"Sent {sent} webhook request{'' if sent == 1 else 's'}.")


@webhooks_cli.command("receive")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="A loopback address to listen on.")
@click.option("--port", default=5001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--path", default="/hooks", show_default=True)
@click.option("--register", is_flag=True,
              help="Add this receiver as a webhook (every event) to each store that has "
                   "none at its URL.")
@with_appcontext
@domain_errors
def receive_webhooks(host: str, port: int, path: str, register: bool) -> None:
    """Run a development receiver: print each delivery, verifying its signature with the
    secret of the endpoint that sent it. Loopback only. Ctrl-C stops it."""
    import ipaddress

    from app.hooks.receiver import Receiver
    from app.services import webhooks

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise click.ClickException(f"--host {host} is not a loopback address; the receiver "
                                   "is for this machine only (127.0.0.1 or ::1).")
    if not path.startswith("/"):
        raise click.ClickException("--path must start with /.")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        server = Receiver(app, host, port, path, click.echo)
    except OSError as exc:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
    if register:
        policy = webhooks.policy_from(app.config)
        for name in webhooks.register_everywhere(server.url, policy,
                                                 description="Development receiver"):
            click.echo(f"Added a webhook to {server.url} in {name}.")
    click.echo(f"Receiving webhooks on {server.url}; each delivery is printed here.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --------------------------------------------------------------------------- worker


@click.command("worker")
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Tasks run at once in this process.")
@click.option("--no-schedule", is_flag=True,
              help="Run queued tasks only; leave the periodic schedule to other workers.")
@with_appcontext
def worker(threads: int, no_schedule: bool) -> None:
    """Run a task worker: the periodic jobs (expiring reservations, mailing stock alerts and
    sending webhooks every minute, folding tallies hourly, the alert digest daily) and
    whatever the app queues. Ctrl-C (SIGINT) lets running tasks finish; SIGTERM stops at
    once. Start as many as you like against one queue."""
    import logging

    from huey.consumer import Consumer

    from app import tasks

    tasks.bind_app(current_app._get_current_object())  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    storage = tasks.huey.storage
    where = (f"Redis ({storage.name})" if type(storage).__name__ == "RedisStorage"
             else getattr(storage, "filename", type(storage).__name__))
    click.echo(f"Task worker: {threads} thread{'s' if threads > 1 else ''}, queue in {where}")
    if no_schedule:
        click.echo("Schedule: off (--no-schedule)")
    else:
        for name, when in tasks.SCHEDULE.items():
            click.echo(f"Schedule: {name} {when}")
    Consumer(tasks.huey, workers=threads, worker_type="thread", periodic=not no_schedule).run()


# --------------------------------------------------------------------------- seed-demo


@click.command("seed-demo")
@click.option("--reset", is_flag=True,
              help="Empty the database first (only a SQLite file inside instance/).")
@click.option("--if-empty", is_flag=True,
              help="Do nothing, successfully, when the database already has data.")
@with_appcontext
@domain_errors
def seed_demo(reset: bool, if_empty: bool) -> None:
    """Fill an empty database with three demo stores and three weeks of history."""
    from app import demo

    try:
        has_data = demo.database_has_data()
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            "The database has no tables yet; run `flask db upgrade` first."
        ) from exc
    if has_data and if_empty and not reset:
        click.echo("The database already has data; leaving it as it is.")
        return
    if has_data and not reset:
        raise click.ClickException(
            "The database already has data. Run `flask seed-demo --reset` to replace it "
            "with the demo data set."
        )
    if has_data:
        _reset_local_database()

    click.echo("Seeding the demo data set...")
    summary = demo.seed()
    _print_summary(summary)


def _reset_local_database() -> None:
    """Drop and recreate every table, but only in a SQLite file under instance/: anything
    else may be a shared or production database, and emptying it is the operator's call."""
    url = db.engine.url
    path = os.path.realpath(url.database or "") if url.get_backend_name() == "sqlite" else ""
    instance = os.path.realpath(current_app.instance_path)
    if not path or os.path.commonpath([path, instance]) != instance:
        where = url.render_as_string(hide_password=True)
        raise click.ClickException(
            f"--reset only empties a SQLite database inside {instance}; this one is {where}. "
            "To start over, recreate that database yourself (for PostgreSQL: dropdb and "
            "createdb), run `flask db upgrade`, then `flask seed-demo`."
        )
    from flask_migrate import stamp

    db.session.remove()
    db.drop_all()
    db.create_all()
    # The tables now match the models, which the newest migration describes; record that so
    # a later `flask db upgrade` does not try to build them a second time.
    stamp()
    click.echo(f"Emptied {path}.")


def _print_summary(summary: DemoSummary) -> None:
    echo = click.echo
    products = sum(summary.products.values())
    unlimited = products - summary.products.get("physical", 0)
    echo(f"Done in {summary.seconds:.1f} s.")
    echo("")
    echo(f"  stores        {summary.stores}")
    echo(f"  locations     {summary.locations}")
    echo(f"  products      {products} ({unlimited} digital, service or subscription)")
    echo(f"  entries       {summary.entries}: " + ", ".join(
        f"{count} {status}" for status, count in summary.statuses.items()
    ))
    echo("  reservations  " + ", ".join(
        f"{count} {status}" for status, count in summary.reservations.items()
    ) + f" ({summary.overdue_holds} active past their expiry)")
    echo(f"  movements     {sum(summary.movements.values())} from "
         f"{summary.first_movement:%Y-%m-%d} to {summary.last_movement:%Y-%m-%d}")
    echo(f"  suppliers     {summary.suppliers}; purchase orders "
         f"{sum(summary.purchase_orders.values())}: " + ", ".join(
             f"{count} {status}" for status, count in summary.purchase_orders.items()))
    echo("")
    echo("Sign in as:")
    rows = [("role", "email", "password", "access")] + [
        (u.role, u.email, summary.password, u.description) for u in summary.users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for n, row in enumerate(rows):
        echo("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
             + "  " + row[3])
        if n == 0:
            echo("  " + "  ".join("-" * w for w in widths) + "  " + "-" * len(row[3]))


# --------------------------------------------------------------------------- create-user


@click.command("create-user")
@click.argument("email")
@click.option("--name", required=True, help="The name shown in the app and the audit log.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 12 characters; asked for when left out.")
@click.option("--platform-admin", is_flag=True, help="May manage every store.")
@click.option("--store", "store_slug", metavar="SLUG", help="Make the user a member of this store.")
@click.option("--role", type=click.Choice(ROLES), help="Role in --store (default: staff).")
@click.option("--grant", "grants", multiple=True, metavar="GROUP",
              help="Permission group for a staff member, e.g. inventory:adjust; repeatable.")
@with_appcontext
@domain_errors
def create_user(
    email: str, name: str, password: str, platform_admin: bool, store_slug: str | None,
    role: str | None, grants: tuple[str, ...],
) -> None:
    """Create a user who can sign in, optionally with a role in one store."""
    from app.services.people import accounts

    if (role or grants) and not store_slug:
        raise click.UsageError("--role and --grant need --store.")
    user = accounts.create_user(
        email=email, name=name, password=password, platform_admin=platform_admin,
        store_slug=store_slug, role=role, grants=grants,
    )
    what = ["platform admin"] if platform_admin else []
    if store_slug:
        what.append(f"{role or 'staff'} of {store_slug}"
                    + (f" with {', '.join(sorted(grants))}" if grants else ""))
    click.echo(f"Created {user.email}" + (f" ({'; '.join(what)})" if what else "") + ".")


# --------------------------------------------------------------------------- inventory


@inventory_cli.command("verify")
@domain_errors
def verify() -> None:
    """Replay the ledger against every entry and reservation, recount each entry's incoming
    from the open purchase orders, and recount the overview's stock tallies; exit 1 on any
    mismatch."""
    from app.services import tallies
    from app.services.ledger import count_entries, verify_ledger

    mismatches = [str(m) for m in verify_ledger()] + tallies.verify()
    checked = count_entries()
    for mismatch in mismatches:
        click.echo(f"  {mismatch}")
    noun = "mismatch" if len(mismatches) == 1 else "mismatches"
    click.echo(f"Checked {checked} entries: {len(mismatches)} {noun}")
    if mismatches:
        click.get_current_context().exit(1)


@inventory_cli.command("fold-tallies")
@domain_errors
def fold_tallies() -> None:
    """Fold the overview's stock tallies into one row per location. Reads do it when rows
    pile up; schedule this where stock changes a lot and the overview is seldom opened."""
    from app.services import tallies

    removed = tallies.fold()
    click.echo(f"Folded {removed:,} tally {'row' if removed == 1 else 'rows'}.")


@inventory_cli.command("rebuild-tallies")
@domain_errors
def rebuild_tallies() -> None:
    """Recount the overview's stock tallies from every entry (a repair; verify says when)."""
    from app.services import tallies

    tallies.rebuild()
    click.echo("Stock tallies recounted from every entry.")


@inventory_cli.command("expire-reservations")
@domain_errors
def expire_reservations() -> None:
    """Return the units of every reservation past its expiry to available."""
    from app.services import stock

    expired = stock.expire_reservations()
    click.echo(f"Expired {expired} reservation{'' if expired == 1 else 's'}.")


@inventory_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--apply", "apply_file", is_flag=True,
              help="Apply the file (all rows or none); without it, only preview.")
@click.option("--as", "as_email", metavar="EMAIL",
              help="Act as this user, with their permissions (default: a system actor that "
              "may act in every store).")
@click.option("--show", default=20, show_default=True, metavar="N",
              help="How many changes to list in the preview.")
@domain_errors
def import_entries(file: Any, apply_file: bool, as_email: str | None, show: int) -> None:
    """Import entries from a CSV file (the overview's export format): preview every row,
    and with --apply set them all as one ledger batch. Exits 1 when the file has errors."""
    from app.services import stock

    data = file.read()
    actor = _import_actor(as_email)
    lines = max(data.count(b"\n"), 1)
    with click.progressbar(length=lines, label="Checking rows",
                           file=sys.stderr) as bar:
        plan = stock.plan_import(data, actor=actor, max_rows=None, progress=bar.update)
    click.echo(stock.describe(plan) + ".")
    problems = list(plan.problems())
    for line, kind, message in problems:
        where = f"line {line}: " if line is not None else ""
        click.echo(f"  {kind}: {where}{message}")
    changes = [r for r in plan.rows if r.changes]
    show = max(show, 0)
    for r in changes[:show]:
        click.echo("  " + _change_line(r))
    if len(changes) > show:
        click.echo(f"  … and {len(changes) - show:,} more changes")
    ctx = click.get_current_context()
    if not plan.ok:
        click.echo("Nothing was imported: fix the errors and run again.")
        ctx.exit(1)
    if not apply_file:
        click.echo("Dry run: nothing changed. Run again with --apply to import.")
        return
    with click.progressbar(length=len(plan.rows) * 2, label="Importing",
                           file=sys.stderr) as bar:
        result = stock.apply_import(
            data, actor=actor, seen=plan.seen(), max_rows=None, progress=bar.update
        )
    click.echo(f"Imported: {stock.describe_result(result)}.")


def _import_actor(email: str | None) -> Any:
    from sqlalchemy import select

    from app.models import User
    from app.permissions import actor_for_user, system_actor
    from app.services.people.credentials import normalize_email

    if email is None:
        return system_actor("import")
    user_id = db.session.scalar(select(User.id).where(User.email == normalize_email(email)))
    actor = actor_for_user(user_id) if user_id is not None else None
    db.session.rollback()
    if actor is None or actor.user_id is None:
        raise click.ClickException(f"No active user {email}.")
    return actor


def _change_line(row: Any) -> str:
    where = f"line {row.line}: {row.store} {row.location} {row.sku}"
    parts = []
    if row.creates_product:
        parts.append(f"creates {row.new_variant.describe()}")
    if row.creates:
        parts.append(f"new entry, on hand {row.new_quantity:,}")
    elif row.delta:
        parts.append(f"on hand {row.old_quantity:,} → {row.new_quantity:,} ({row.delta:+,})")
    if row.threshold_changes:
        parts.append(f"threshold {row.old_threshold or 0:,} → {row.new_threshold:,}")
    return f"{where}: {', '.join(parts)}"
