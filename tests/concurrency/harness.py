"""Run many workers at once, each with its own app context, session and connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

# A worker that has not finished by then is stuck (a deadlock the database did not break).
JOIN_TIMEOUT_S = 120


@dataclass
class Outcomes:
    """What every call returned or raised, each with its thread and round."""

    results: list[tuple[int, int, Any]] = field(default_factory=list)
    errors: list[tuple[int, int, Exception]] = field(default_factory=list)

    def errors_of(self, *kinds: type[Exception]) -> list[Exception]:
        return [e for _, _, e in self.errors if isinstance(e, kinds)]

    def errors_not_of(self, *kinds: type[Exception]) -> list[Exception]:
        return [e for _, _, e in self.errors if not isinstance(e, kinds)]

    @property
    def values(self) -> list[Any]:
        return [value for _, _, value in self.results]


def hammer(
    app: Flask, threads: int, rounds: int, call: Callable[[int, int], Any]
) -> Outcomes:
    """Start `threads` workers together (a barrier) and let each make `rounds` calls of
    `call(thread, round)`. Every exception a call raises is collected, never swallowed."""
    barrier = threading.Barrier(threads)
    lock = threading.Lock()
    outcomes = Outcomes()
    crashed: list[BaseException] = []

    def worker(thread: int) -> None:
        try:
            # Its own app context, so its own scoped session and pooled connection.
            with app.app_context():
                barrier.wait(timeout=30)
                for n in range(rounds):
                    try:
                        value = call(thread, n)
                    except Exception as exc:  # collected and judged by the test
                        with lock:
                            outcomes.errors.append((thread, n, exc))
                    else:
                        with lock:
                            outcomes.results.append((thread, n, value))
        except BaseException as exc:  # the harness itself failed: surface it in the test
            with lock:
                crashed.append(exc)

    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(JOIN_TIMEOUT_S)
    stuck = sum(w.is_alive() for w in workers)
    assert not stuck, f"{stuck} worker(s) still running after {JOIN_TIMEOUT_S}s"
    if crashed:
        raise crashed[0]
    return outcomes


def summary(outcomes: Outcomes) -> str:
    """A one-line account of the outcomes, for failure messages and reports."""
    kinds: dict[str, int] = {}
    for _, _, exc in outcomes.errors:
        kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    return f"{len(outcomes.results)} succeeded" + (f", {parts}" if parts else "")
