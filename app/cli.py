"""Command-line entry points: `flask seed-demo`, `flask create-user`, `flask inventory …`."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    """Attach every command group to the app."""
