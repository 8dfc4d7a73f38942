"""The CLI tier runs on SQLite only, and seeds the demo data set once per run."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask

from app import create_app
from app.extensions import db


@pytest.fixture
def backend() -> str:
    """Commands are thin wrappers over services that the service tier runs on both backends."""
    return "sqlite"


def cli_config(path: Path) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture
def cli_app() -> Callable[[Path], Flask]:
    """An app over the SQLite file at `path`, whatever it holds."""
    return lambda path: create_app(cli_config(path))


@dataclass(frozen=True)
class Seeded:
    path: Path
    result: Result


@pytest.fixture(scope="session")
def seeded(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """`flask seed-demo` run once into a copy of the empty schema (it takes seconds)."""
    path = tmp_path_factory.mktemp("seeded") / "demo.sqlite"
    shutil.copyfile(sqlite_template, path)
    application = create_app(cli_config(path))
    result = application.test_cli_runner().invoke(args=["seed-demo"])
    with application.app_context():
        db.session.remove()
        db.engine.dispose()  # the last connection closing folds the WAL into the file
    return Seeded(path, result)


@pytest.fixture
def seeded_app(seeded: Seeded, tmp_path: Path) -> Iterator[Flask]:
    """An app over a private copy of the seeded database, free to change."""
    assert seeded.result.exit_code == 0, seeded.result.output
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(seeded.path, path)
    application = create_app(cli_config(path))
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
