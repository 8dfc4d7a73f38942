"""Stock: every change of an inventory entry's quantities, and its ledger row.

`from app.services import stock`, then `stock.adjust_stock(...)`. The engine
(`stock.engine`) holds the guarded statements, the mutation runner and the one ledger
writer; the verbs live by area: `entries` (create, delete, adjust, set, count, threshold),
`counts` (a location's count, many lines at once), `holds` (reserve, release, fulfill,
return, expire), `orders` (an order's lines all or nothing), `transfers`, `bulk` (one
change to many entries) and `imports` (CSV files).
Nothing outside this package writes inventory entries or ledger rows.
"""

from __future__ import annotations

from app.services.stock.bulk import (
    MAX_BULK,
    BulkLine,
    BulkPreview,
    BulkRefused,
    Selection,
    bulk_adjust,
    bulk_threshold,
    count_matching,
    preview_bulk_adjust,
    preview_bulk_threshold,
    selection,
    selection_size,
)
from app.services.stock.counts import MAX_COUNT_LINES, CountProblem, CountRefused, count_many
from app.services.stock.engine import EntryState, LedgerRow, StockChange
from app.services.stock.entries import (
    adjust_stock,
    count_stock,
    create_entry,
    delete_entry,
    set_stock,
    set_threshold,
)
from app.services.stock.holds import (
    expire_reservations,
    fulfill_stock,
    move_reservation,
    release_stock,
    reserve_stock,
    return_stock,
)
from app.services.stock.imports import (
    BROWSER_MAX_ROWS,
    ImportPlan,
    ImportRefused,
    ImportResult,
    PlannedRow,
    apply_import,
    batch_movements,
    describe,
    describe_result,
    new_batch_ref,
    plan_import,
)
from app.services.stock.orders import fulfill_order, release_order, reserve_order, return_order
from app.services.stock.transfers import transfer_stock

__all__ = [
    "BROWSER_MAX_ROWS",
    "MAX_BULK",
    "MAX_COUNT_LINES",
    "BulkLine",
    "BulkPreview",
    "BulkRefused",
    "CountProblem",
    "CountRefused",
    "EntryState",
    "ImportPlan",
    "ImportRefused",
    "ImportResult",
    "LedgerRow",
    "PlannedRow",
    "Selection",
    "StockChange",
    "adjust_stock",
    "apply_import",
    "batch_movements",
    "bulk_adjust",
    "bulk_threshold",
    "count_many",
    "count_matching",
    "count_stock",
    "create_entry",
    "delete_entry",
    "describe",
    "describe_result",
    "expire_reservations",
    "fulfill_order",
    "fulfill_stock",
    "move_reservation",
    "new_batch_ref",
    "plan_import",
    "preview_bulk_adjust",
    "preview_bulk_threshold",
    "release_order",
    "release_stock",
    "reserve_order",
    "reserve_stock",
    "return_order",
    "return_stock",
    "selection",
    "selection_size",
    "set_stock",
    "set_threshold",
    "transfer_stock",
]
