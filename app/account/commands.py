"""`flask create-token EMAIL --name NAME`: a personal API token from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services import tokens
from app.services.accounts import normalize_email
from app.services.errors import StockroomError


@click.command("create-token")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. the shop's checkout.")
@with_appcontext
def create_token(email: str, name: str) -> None:
    """Create an API token for a user and print it; it is shown this once."""
    user_id = db.session.scalar(select(User.id).where(User.email == normalize_email(email)))
    if user_id is None:
        raise click.ClickException(f"No user with the email {normalize_email(email)}.")
    try:
        token, plaintext = tokens.create_token(user_id=user_id, name=name)
    except StockroomError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created the token {token.name!r} ({token.prefix}…) for {normalize_email(email)}.")
    click.echo("It is shown this once; store it somewhere safe:")
    click.echo(plaintext)
