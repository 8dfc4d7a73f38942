"""Fixtures for the concurrency battery."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def factories(make_store, make_location, make_product, make_entry) -> SimpleNamespace:
    """The conftest factories under one name, for helpers that build their own fixtures."""
    return SimpleNamespace(
        store=make_store, location=make_location, product=make_product, entry=make_entry
    )
