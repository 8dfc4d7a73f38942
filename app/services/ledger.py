"""Ledger verification: replay the append-only movements against the current state,
recount incoming from the purchase orders it is derived from, and check the outbox holds
one event per ledger row, numbered without a gap."""

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

# What open purchase orders (ordered, partly received) still bring, per product and
# location: an entry's incoming must equal it (stock.receipts keeps it so).
_OUTSTANDING = """
    SELECT l.product_id, l.location_id,
           SUM(CASE WHEN l.ordered_qty > l.received_qty
                    THEN l.ordered_qty - l.received_qty ELSE 0 END) AS outstanding
    FROM purchase_order_lines l JOIN purchase_orders o ON o.id = l.order_id
    WHERE o.status IN ('ordered', 'partially_received')
    GROUP BY l.product_id, l.location_id
"""
_INCOMING_CHECKS = (
    f"""
    SELECT e.id, 'incoming', COALESCE(o.outstanding, 0), e.incoming_quantity
    FROM inventory_entries e
    LEFT JOIN ({_OUTSTANDING}) o ON o.product_id = e.product_id AND o.location_id = e.location_id
    WHERE e.incoming_quantity <> COALESCE(o.outstanding, 0)
    """,
    # Units on their way to a product and location that has no entry to show them.
    f"""
    SELECT 0, 'incoming of product ' || CAST(o.product_id AS VARCHAR(20)) || ' at location '
              || CAST(o.location_id AS VARCHAR(20)) || ' (no entry)',
           o.outstanding, 0
    FROM ({_OUTSTANDING}) o
    WHERE o.outstanding > 0 AND NOT EXISTS (
        SELECT 1 FROM inventory_entries e
        WHERE e.product_id = o.product_id AND e.location_id = o.location_id)
    """,
)


# The outbox (app.models.events): one stock.changed per ledger row, and each store's events
# numbered 1 … N without a gap, N being the store's last number given.
_EVENT_CHECKS = (
    """
    SELECT m.entry_id, 'stock.changed events of movement ' || CAST(m.id AS VARCHAR(20)),
           1, COUNT(e.id)
    FROM stock_movements m
    LEFT JOIN events e ON e.movement_id = m.id AND e.type = 'stock.changed'
    GROUP BY m.id, m.entry_id
    HAVING COUNT(e.id) <> 1
    """,
    """
    SELECT 0, 'events numbered in store ' || CAST(s.store_id AS VARCHAR(20)),
           s.last_sequence, COUNT(e.id)
    FROM event_sequences s LEFT JOIN events e ON e.store_id = s.store_id
    GROUP BY s.store_id, s.last_sequence
    HAVING COUNT(e.id) <> s.last_sequence
        OR COUNT(DISTINCT e.sequence) <> COUNT(e.id)
        OR COALESCE(MIN(e.sequence), 1) <> 1
        OR COALESCE(MAX(e.sequence), 0) <> s.last_sequence
    """,
    """
    SELECT 0, 'events of store ' || CAST(e.store_id AS VARCHAR(20)) || ' (no numbering)',
           0, COUNT(*)
    FROM events e
    WHERE NOT EXISTS (SELECT 1 FROM event_sequences s WHERE s.store_id = e.store_id)
    GROUP BY e.store_id
    """,
)


@dataclass(frozen=True)
class Mismatch:
    entry_id: int
    what: str
    expected: int
    actual: int
    # Who holds the other figure, with its verb.
    source: str = "ledger says"

    def __str__(self) -> str:
        where = f"entry {self.entry_id}: " if self.entry_id else ""
        return f"{where}{self.what} is {self.actual}, {self.source} {self.expected}"


def verify_ledger() -> list[Mismatch]:
    """Every disagreement between entries, reservations and the ledger, between entries'
    incoming and the open purchase orders, and between the ledger and its events; empty
    when sound."""
    found: list[Mismatch] = []
    sources = ((_CHECKS, "ledger says"), (_INCOMING_CHECKS, "open purchase orders say"),
               (_EVENT_CHECKS, "the outbox should hold"))
    for checks, source in sources:
        for sql in checks:
            for row in db.session.execute(text(sql)):
                found.append(Mismatch(int(row[0]), str(row[1]), int(row[2]), int(row[3]),
                                      source))
    db.session.rollback()
    return sorted(found, key=lambda m: (m.entry_id, m.what))


def count_entries() -> int:
    """How many entries a verification covered."""
    return int(db.session.execute(text("SELECT COUNT(*) FROM inventory_entries")).scalar_one())
