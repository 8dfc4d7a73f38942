"""Stopping a stock operation mid-transaction, to race another change against it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.services.stock import engine


def paused_at_ledger_write(
    app: Flask, monkeypatch: pytest.MonkeyPatch, name: str, work: Callable[[], Any]
) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
    """Start `work` in a thread called `name` that stops, mid-transaction, right after
    its first ledger row (its stock changes made, nothing committed). Returns the thread,
    the event that lets it go on, and a dict where outcome[name] is what `work` returned
    or raised."""
    paused, release, outcome = threading.Event(), threading.Event(), {}
    real_write = engine.write_ledger

    def write_ledger(*args: Any, **kwargs: Any) -> list[int]:
        movement_ids = real_write(*args, **kwargs)
        if threading.current_thread().name == name:
            paused.set()
            release.wait(20)
        return movement_ids

    monkeypatch.setattr(engine, "write_ledger", write_ledger)

    def run() -> None:
        with app.app_context():
            try:
                outcome[name] = work()
            except Exception as exc:  # judged by the test
                outcome[name] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    assert paused.wait(20), f"{name} never reached its ledger write"
    return thread, release, outcome
