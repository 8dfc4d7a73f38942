"""`flask create-token EMAIL --name NAME`: a personal API token from the command line."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import Store, User
from app.permissions import ALL_PERMISSIONS, READ
from app.services.errors import StockroomError
from app.services.people import tokens
from app.services.people.credentials import normalize_email


@click.command("create-token")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. the shop's checkout.")
@click.option("--expires", "expires", metavar="YYYY-MM-DD|never",
              help="The day the token stops working (as it begins, UTC), or `never`. "
                   "Default: 90 days from now.")
@click.option("--store", "stores", multiple=True, metavar="SLUG",
              help="Limit the token to this store (repeat for several). Default: all of the "
                   "user's stores.")
@click.option("--permission", "permissions", multiple=True,
              type=click.Choice(sorted(ALL_PERMISSIONS)),
              help="Limit the token to this permission (repeat for several).")
@click.option("--read-only", is_flag=True, help="Limit the token to inventory:read.")
@click.option("--no-platform-admin", is_flag=True,
              help="A platform admin's token acts through their memberships only.")
@with_appcontext
def create_token(email: str, name: str, expires: str | None, stores: tuple[str, ...],
                 permissions: tuple[str, ...], read_only: bool,
                 no_platform_admin: bool) -> None:
    """Create an API token for a user and print it; it is shown this once."""
    user_id = db.session.scalar(select(User.id).where(User.email == normalize_email(email)))
    if user_id is None:
        raise click.ClickException(f"No user with the email {normalize_email(email)}.")
    if read_only and permissions:
        raise click.ClickException("Give --read-only or --permission, not both.")
    store_ids = None
    if stores:
        found = dict(db.session.execute(
            select(Store.slug, Store.id).where(Store.slug.in_(stores))).all())
        missing = [slug for slug in stores if slug not in found]
        if missing:
            raise click.ClickException(f"No store with the slug {missing[0]}.")
        store_ids = [found[slug] for slug in stores]
    try:
        token, plaintext = tokens.create_token(
            user_id=user_id, name=name, expires_at=_expiry(expires), store_ids=store_ids,
            permissions=[READ] if read_only else list(permissions) or None,
            platform_admin=not no_platform_admin,
        )
    except StockroomError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    until = (f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at
             else "with no expiry")
    click.echo(f"Created the token {token.name!r} ({token.prefix}…) for "
               f"{normalize_email(email)}, {until}.")
    click.echo("It is shown this once; store it somewhere safe:")
    click.echo(plaintext)


def _expiry(value: str | None) -> datetime | tokens.Expiry:
    if value is None:
        return tokens.Expiry.DEFAULT
    if value.strip().lower() == "never":
        return tokens.Expiry.NEVER
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d")
    except ValueError:
        raise click.BadParameter("Give a date as YYYY-MM-DD, or never.",
                                 param_hint="--expires") from None
