"""Replenishment: suppliers, what they supply, purchase orders and receiving against them.

`from app.services import purchasing`, then `purchasing.create_purchase_order(...)`. The
verbs live by area: `suppliers` (suppliers, supplier items, the store's currency) and
`orders` (drafts, ordering, cancelling, receiving), `reorder` (drafts from the reorder
suggestions); `views` holds the rows they return and
the reads. What an order does to stock (incoming, receipts, average cost) happens in the
stock engine's package (stock.receipts), inside the order's transaction.
"""

from __future__ import annotations

from app.services.purchasing.orders import (
    MAX_PURCHASE_ORDER_LINES,
    add_purchase_order_lines,
    add_scanned_line,
    cancel_purchase_order,
    create_purchase_order,
    order_purchase_order,
    purchase_order_number,
    receive_purchase_order,
    remove_purchase_order_line,
    update_purchase_order,
    update_purchase_order_line,
)
from app.services.purchasing.reorder import create_reorder_purchase_orders, lines_from_keys
from app.services.purchasing.suppliers import (
    archive_supplier,
    create_supplier,
    remove_supplier_item,
    set_store_currency,
    set_supplier_item,
    unarchive_supplier,
    update_supplier,
)
from app.services.purchasing.views import (
    STATUS_LABELS,
    OpenLineView,
    PurchaseOrderLineView,
    PurchaseOrderSummary,
    PurchaseOrderView,
    ReceiptLineView,
    ReceiptView,
    ReceivableOrder,
    SupplierCounts,
    SupplierItemView,
    SupplierView,
    find_orders_to_receive,
    find_purchase_order,
    get_purchase_order,
    get_receipts,
    get_supplier,
    get_supplier_item,
    list_purchase_orders,
    list_receivable_orders,
    list_supplier_items,
    list_suppliers,
    open_lines_at,
    product_for_code,
    product_suppliers,
    receiving_codes,
    supplier_counts,
)

__all__ = [
    "MAX_PURCHASE_ORDER_LINES",
    "STATUS_LABELS",
    "OpenLineView",
    "PurchaseOrderLineView",
    "PurchaseOrderSummary",
    "PurchaseOrderView",
    "ReceiptLineView",
    "ReceiptView",
    "ReceivableOrder",
    "SupplierCounts",
    "SupplierItemView",
    "SupplierView",
    "add_purchase_order_lines",
    "add_scanned_line",
    "archive_supplier",
    "cancel_purchase_order",
    "create_purchase_order",
    "create_reorder_purchase_orders",
    "create_supplier",
    "find_orders_to_receive",
    "find_purchase_order",
    "get_purchase_order",
    "get_receipts",
    "get_supplier",
    "get_supplier_item",
    "list_purchase_orders",
    "list_receivable_orders",
    "list_supplier_items",
    "lines_from_keys",
    "list_suppliers",
    "open_lines_at",
    "order_purchase_order",
    "product_for_code",
    "product_suppliers",
    "purchase_order_number",
    "receive_purchase_order",
    "receiving_codes",
    "remove_purchase_order_line",
    "remove_supplier_item",
    "set_store_currency",
    "set_supplier_item",
    "supplier_counts",
    "unarchive_supplier",
    "update_purchase_order",
    "update_purchase_order_line",
    "update_supplier",
]
