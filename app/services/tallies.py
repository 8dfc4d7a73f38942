"""Reading, folding and checking the stock tallies (app/models/tallies.py).

The triggers write; this module reads the totals of a set of stores, folds their rows
into one per location when enough have piled up, and checks them against a recount of
every entry (`flask inventory verify`, and the concurrency tests' oracle after every run).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, TextClause, bindparam, func, select, text
from sqlalchemy.exc import OperationalError

from app.database import write_transaction
from app.extensions import db
from app.models.tallies import COLUMNS, COUNTS, NONZERO, REBUILD, RECOUNT, SUMS, StockTally

log = logging.getLogger(__name__)
tallies = StockTally.__table__

# Rows beyond one per location that a read tolerates before it folds them. Reading them
# is a sum over an index range, so a few thousand cost about a millisecond.
FOLD_AFTER = 2_000
# How long a read waits for a lock to fold: a busy database (a long import holding SQLite's
# write lock, say) postpones the fold to a later read rather than delaying this one.
READ_FOLD_WAIT_MS = 100


@dataclass(frozen=True)
class Totals:
    """The sums over a set of stores, and where the stock is."""

    entries: int
    quantity: int
    reserved: int
    low_stock: int
    out_of_stock: int
    on_backorder: int
    stores: int  # stores with at least one entry
    locations: int  # locations with at least one entry


def totals(store_ids: Collection[int] | None) -> Totals:
    """The totals of these stores (None: every store), from one grouped read; folds the
    rows afterwards when many have piled up since the last fold."""
    values = {} if store_ids is None else {"store_ids": sorted(store_ids)}
    sums = dict.fromkeys(COUNTS, 0)
    stores: set[int] = set()
    places = rows = groups = 0
    for row in db.session.execute(_totals_statement(store_ids is not None), values):
        groups += 1
        rows += row[-1]
        for name, value in zip(COUNTS, row[2:-1], strict=True):
            sums[name] += int(value or 0)
        if row[2]:
            stores.add(row.store_id)
            places += 1
    if rows - groups > FOLD_AFTER:
        fold_quietly(store_ids)
    return Totals(**sums, stores=len(stores), locations=places)


@functools.lru_cache(maxsize=2)
def _totals_statement(scoped: bool) -> Select[Any]:
    """totals()' statement, built once (building it costs more than running it)."""
    query = select(
        tallies.c.store_id, tallies.c.location_id,
        *(func.sum(tallies.c[c]) for c in COUNTS), func.count(),
    ).group_by(tallies.c.store_id, tallies.c.location_id)
    if scoped:
        query = query.where(tallies.c.store_id.in_(bindparam("store_ids", expanding=True)))
    return query


def fold_quietly(store_ids: Collection[int] | None) -> None:
    """fold(), but a busy database only postpones it: the totals are right either way.
    Inside a caller's unfinished write it waits for the next read."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        return
    try:
        fold(store_ids, lock_wait_ms=READ_FOLD_WAIT_MS)
    except OperationalError as exc:
        db.session.rollback()
        log.info("stock tallies not folded this time: %s", exc.orig)


def fold(store_ids: Collection[int] | None = None, *, lock_wait_ms: int = 2_000) -> int:
    """Replace the tally rows of these stores (None: all) by one row per location with
    their sums, dropping locations whose sums are all zero; returns the rows removed.

    PostgreSQL: one statement deletes the rows it sees and inserts their sums, so rows
    that concurrent transactions add meanwhile are neither lost nor counted twice; a second
    fold running at once waits for the first and then skips the rows it removed.
    SQLite: the write lock makes the two statements one step. A lock held elsewhere is
    waited for `lock_wait_ms` at most (then OperationalError)."""
    ids = None if store_ids is None else sorted(store_ids)
    where = "" if ids is None else "WHERE store_id IN :ids"
    params = {} if ids is None else {"ids": ids}
    with write_transaction(lock_wait_ms=lock_wait_ms) as session:
        if session.get_bind().dialect.name == "postgresql":
            statement = text(
                f"WITH gone AS (DELETE FROM stock_tallies {where} RETURNING *), "
                f"kept AS (INSERT INTO stock_tallies ({COLUMNS}) "
                f"SELECT store_id, location_id, {SUMS} FROM gone "
                f"GROUP BY store_id, location_id HAVING {NONZERO} RETURNING 1) "
                "SELECT count(*) FROM gone"
            )
        else:
            last = session.scalar(text("SELECT max(id) FROM stock_tallies")) or 0
            params["last"] = last
            scope = "id <= :last" + ("" if ids is None else " AND store_id IN :ids")
            session.execute(_expanding(text(
                f"INSERT INTO stock_tallies ({COLUMNS}) "
                f"SELECT store_id, location_id, {SUMS} FROM stock_tallies WHERE {scope} "
                f"GROUP BY store_id, location_id HAVING {NONZERO}"
            ), ids), params)
            statement = text(f"DELETE FROM stock_tallies WHERE {scope}")
            return int(session.execute(_expanding(statement, ids), params).rowcount)
        return int(session.execute(_expanding(statement, ids), params).scalar_one())


def _expanding(statement: TextClause, ids: list[int] | None) -> TextClause:
    return statement if ids is None else statement.bindparams(bindparam("ids", expanding=True))


def rebuild() -> None:
    """Recount every entry into the tallies from scratch (after a bulk load that bypassed
    the triggers, or a repair)."""
    with write_transaction() as session:
        for statement in REBUILD:
            session.execute(text(statement))


def verify() -> list[str]:
    """Every location whose tallies disagree with a recount of its entries; empty when the
    tallies are exact."""
    recount = {
        (r[0], r[1]): tuple(int(v or 0) for v in r[2:])
        for r in db.session.execute(text(f"{RECOUNT} GROUP BY e.store_id, e.location_id"))
    }
    summed = {
        (r[0], r[1]): tuple(int(v or 0) for v in r[2:])
        for r in db.session.execute(
            select(tallies.c.store_id, tallies.c.location_id,
                   *(func.sum(tallies.c[c]) for c in COUNTS))
            .group_by(tallies.c.store_id, tallies.c.location_id)
        )
    }
    db.session.rollback()
    zero = (0,) * len(COUNTS)
    problems = []
    for key in sorted(recount.keys() | summed.keys()):
        expected, actual = recount.get(key, zero), summed.get(key, zero)
        if expected != actual:
            store_id, location_id = key
            differences = ", ".join(
                f"{name} {have} (entries say {want})"
                for name, want, have in zip(COUNTS, expected, actual, strict=True)
                if want != have
            )
            problems.append(f"store {store_id}, location {location_id}: tallies {differences}")
    return problems
