"""Ledger verification: replay the append-only movements against the current state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from app.extensions import db

# Each query returns (entry_id, what, expected, actual) for every disagreement.
_CHECKS = (
    # I2: on-hand and reserved equal the ledger replayed from zero.
    """
    SELECT e.id, 'quantity' AS what, COALESCE(SUM(m.quantity_delta), 0) AS expected,
           e.quantity AS actual
    FROM inventory_entries e LEFT JOIN stock_movements m ON m.entry_id = e.id
    GROUP BY e.id, e.quantity
    HAVING e.quantity <> COALESCE(SUM(m.quantity_delta), 0)
    """,
    """
    SELECT e.id, 'reserved', COALESCE(SUM(m.reserved_delta), 0), e.reserved_quantity
    FROM inventory_entries e LEFT JOIN stock_movements m ON m.entry_id = e.id
    GROUP BY e.id, e.reserved_quantity
    HAVING e.reserved_quantity <> COALESCE(SUM(m.reserved_delta), 0)
    """,
    # I3: reserved equals the sum of the entry's active reservations.
    """
    SELECT e.id, 'active reservations', COALESCE(SUM(r.open_quantity), 0), e.reserved_quantity
    FROM inventory_entries e
    LEFT JOIN reservations r ON r.entry_id = e.id AND r.status = 'active'
    GROUP BY e.id, e.reserved_quantity
    HAVING e.reserved_quantity <> COALESCE(SUM(r.open_quantity), 0)
    """,
    # Every ledger row's resulting quantities follow from the rows before it.
    """
    SELECT entry_id, 'running quantity at movement ' || CAST(id AS VARCHAR(20)),
           running_q, quantity_after
    FROM (
        SELECT id, entry_id, quantity_after, reserved_after,
               SUM(quantity_delta) OVER (PARTITION BY entry_id ORDER BY id) AS running_q,
               SUM(reserved_delta) OVER (PARTITION BY entry_id ORDER BY id) AS running_r
        FROM stock_movements
    ) replay
    WHERE running_q <> quantity_after OR running_r <> reserved_after
    """,
    # A deleted entry's ledger closes at zero.
    """
    SELECT m.entry_id, 'ledger of deleted entry', 0, SUM(m.quantity_delta)
    FROM stock_movements m
    WHERE NOT EXISTS (SELECT 1 FROM inventory_entries e WHERE e.id = m.entry_id)
    GROUP BY m.entry_id
    HAVING SUM(m.quantity_delta) <> 0 OR SUM(m.reserved_delta) <> 0
    """,
)


@dataclass(frozen=True)
class Mismatch:
    entry_id: int
    what: str
    expected: int
    actual: int

    def __str__(self) -> str:
        return f"entry {self.entry_id}: {self.what} is {self.actual}, ledger says {self.expected}"


def verify_ledger() -> list[Mismatch]:
    """Every disagreement between entries, reservations and the ledger; empty when sound."""
    found: list[Mismatch] = []
    for sql in _CHECKS:
        for row in db.session.execute(text(sql)):
            found.append(Mismatch(int(row[0]), str(row[1]), int(row[2]), int(row[3])))
    db.session.rollback()
    return sorted(found, key=lambda m: (m.entry_id, m.what))


def count_entries() -> int:
    """How many entries a verification covered."""
    return int(db.session.execute(text("SELECT COUNT(*) FROM inventory_entries")).scalar_one())
