"""purchasing: suppliers, supplier items, purchase orders and their lines; the store's
currency, each entry's average cost, each ledger row's unit cost and order line

Incoming becomes derived from open purchase orders. A database upgraded here has none, so
any incoming figure typed before has no order behind it: it is set to 0, and each entry's
old figure is kept in the audit trail (entry.incoming_cleared) by a named system actor.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ACTOR = "system:migration-0010"
OBJECT_TYPES_BEFORE = ('store', 'location', 'product', 'entry', 'member', 'user', 'token')
OBJECT_TYPES_AFTER = ('store', 'location', 'product', 'entry', 'supplier', 'purchase_order',
                      'member', 'user', 'token')
AUDIT_GUARD_SQLITE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
)


def _object_type_check(types):
    return "object_type IN (" + ", ".join(f"'{t}'" for t in types) + ")"


def _audit_table(types):
    """audit_events as 0005 made it, with these object types allowed: what a batch copy on
    SQLite (which cannot alter a CHECK in place) rebuilds the table from."""
    return sa.Table(
        'audit_events', sa.MetaData(),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('object_type', sa.String(length=16), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=True),
        sa.Column('object_label', sa.String(length=254), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('batch_ref', sa.String(length=64), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(_object_type_check(types), name='ck_audit_events_object_type'),
        sa.CheckConstraint('length(actor_name) > 0', name='ck_audit_events_actor_named'),
        sa.CheckConstraint('length(action) > 0', name='ck_audit_events_action_named'),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'],
                                name='fk_audit_events_actor_id_users'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name='fk_audit_events_store_id_stores'),
        sa.PrimaryKeyConstraint('id', name='pk_audit_events'),
        sa.Index('ix_audit_events_store', 'store_id', 'id'),
        sa.Index('ix_audit_events_object', 'object_type', 'object_id', 'id'),
        sa.Index('ix_audit_events_product', 'product_id', 'id'),
        sa.Index('ix_audit_events_actor', 'actor_id', 'id'),
        sa.Index('ix_audit_events_created', 'created_at', 'id'),
    )


def _allow_object_types(types):
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f('ck_audit_events_object_type'), 'audit_events', type_='check')
        op.create_check_constraint(op.f('ck_audit_events_object_type'), 'audit_events',
                                   _object_type_check(types))
        return
    # A copy: the old table goes with its append-only triggers, and the copy gets them.
    with op.batch_alter_table('audit_events', copy_from=_audit_table(types),
                              recreate='always'):
        pass
    for statement in AUDIT_GUARD_SQLITE:
        op.execute(statement)


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    # Not batch copies (other tables name these ones, and the ledger is append-only):
    # ADD COLUMN keeps each table and its rows in place.
    if sqlite:
        op.execute("ALTER TABLE stores ADD COLUMN currency VARCHAR(3) DEFAULT 'USD' NOT NULL "
                   "CONSTRAINT ck_stores_currency_code CHECK (length(currency) = 3)")
    else:
        op.add_column('stores', sa.Column('currency', sa.String(length=3), nullable=False,
                                          server_default='USD'))
        op.create_check_constraint(op.f('ck_stores_currency_code'), 'stores', 'length(currency) = 3')

    op.create_table(
        'suppliers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('contact_name', sa.String(length=120), nullable=True),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('phone', sa.String(length=40), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('lead_time_days', sa.Integer(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('archived_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('length(currency) = 3', name=op.f('ck_suppliers_currency_code')),
        sa.CheckConstraint('lead_time_days >= 0 AND lead_time_days <= 365',
                           name=op.f('ck_suppliers_lead_time')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_suppliers_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
        sa.UniqueConstraint('store_id', 'id', name=op.f('uq_suppliers_store_id_id')),
        sa.UniqueConstraint('store_id', 'name', name=op.f('uq_suppliers_store_id_name')),
    )
    op.create_table(
        'supplier_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('supplier_sku', sa.String(length=64), nullable=True),
        sa.Column('unit_cost', sa.BigInteger(), nullable=False),
        sa.Column('pack_size', sa.Integer(), nullable=False),
        sa.Column('min_order_qty', sa.Integer(), nullable=False),
        sa.Column('preferred', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('unit_cost >= 0', name=op.f('ck_supplier_items_unit_cost_nonnegative')),
        sa.CheckConstraint('pack_size >= 1', name=op.f('ck_supplier_items_pack_size_positive')),
        sa.CheckConstraint('min_order_qty >= 0',
                           name=op.f('ck_supplier_items_min_order_nonnegative')),
        sa.ForeignKeyConstraint(['store_id', 'product_id'], ['products.store_id', 'products.id'],
                                name=op.f('fk_supplier_items_store_id_product_id_products')),
        sa.ForeignKeyConstraint(['store_id', 'supplier_id'],
                                ['suppliers.store_id', 'suppliers.id'],
                                name=op.f('fk_supplier_items_store_id_supplier_id_suppliers')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_supplier_items_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_items')),
        sa.UniqueConstraint('supplier_id', 'product_id',
                            name=op.f('uq_supplier_items_supplier_id_product_id')),
    )
    op.create_index('ix_supplier_items_product', 'supplier_items', ['product_id'], unique=False)
    op.create_index('uq_supplier_items_preferred', 'supplier_items', ['product_id'], unique=True,
                    sqlite_where=sa.text('preferred'), postgresql_where=sa.text('preferred'))
    op.create_table(
        'purchase_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('expected_on', sa.Date(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('exchange_rate', sa.Numeric(precision=15, scale=9), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_by_name', sa.String(length=254), nullable=False),
        sa.Column('ordered_at', sa.DateTime(), nullable=True),
        sa.Column('ordered_by_id', sa.Integer(), nullable=True),
        sa.Column('ordered_by_name', sa.String(length=254), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.Column('closed_by_id', sa.Integer(), nullable=True),
        sa.Column('closed_by_name', sa.String(length=254), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'ordered', 'partially_received', 'received', 'cancelled')",
            name=op.f('ck_purchase_orders_status')),
        sa.CheckConstraint('length(currency) = 3', name=op.f('ck_purchase_orders_currency_code')),
        sa.CheckConstraint('exchange_rate IS NULL OR exchange_rate > 0',
                           name=op.f('ck_purchase_orders_exchange_rate')),
        sa.CheckConstraint("status IN ('draft', 'cancelled') OR ordered_at IS NOT NULL",
                           name=op.f('ck_purchase_orders_ordered_stamp')),
        sa.CheckConstraint("(status IN ('received', 'cancelled')) = (closed_at IS NOT NULL)",
                           name=op.f('ck_purchase_orders_closed_stamp')),
        sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'],
                                name=op.f('fk_purchase_orders_closed_by_id_users')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_purchase_orders_created_by_id_users')),
        sa.ForeignKeyConstraint(['ordered_by_id'], ['users.id'],
                                name=op.f('fk_purchase_orders_ordered_by_id_users')),
        sa.ForeignKeyConstraint(['store_id', 'supplier_id'],
                                ['suppliers.store_id', 'suppliers.id'],
                                name=op.f('fk_purchase_orders_store_id_supplier_id_suppliers')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_purchase_orders_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_orders')),
        sa.UniqueConstraint('store_id', 'id', name=op.f('uq_purchase_orders_store_id_id')),
        sa.UniqueConstraint('store_id', 'number', name=op.f('uq_purchase_orders_store_id_number')),
        sa.UniqueConstraint('store_id', 'sequence',
                            name=op.f('uq_purchase_orders_store_id_sequence')),
    )
    op.create_index('ix_purchase_orders_store_status', 'purchase_orders',
                    ['store_id', 'status', 'id'], unique=False)
    op.create_index('ix_purchase_orders_supplier', 'purchase_orders', ['supplier_id', 'id'],
                    unique=False)
    op.create_table(
        'purchase_order_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('ordered_qty', sa.Integer(), nullable=False),
        sa.Column('received_qty', sa.Integer(), nullable=False),
        sa.Column('over_received_qty', sa.Integer(), nullable=False),
        sa.Column('unit_cost', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('ordered_qty > 0', name=op.f('ck_purchase_order_lines_ordered_positive')),
        sa.CheckConstraint('received_qty >= 0',
                           name=op.f('ck_purchase_order_lines_received_nonnegative')),
        sa.CheckConstraint('over_received_qty >= 0',
                           name=op.f('ck_purchase_order_lines_over_received_nonnegative')),
        sa.CheckConstraint('received_qty <= ordered_qty + over_received_qty',
                           name=op.f('ck_purchase_order_lines_received_within_ordered')),
        sa.CheckConstraint('unit_cost >= 0',
                           name=op.f('ck_purchase_order_lines_unit_cost_nonnegative')),
        sa.ForeignKeyConstraint(
            ['store_id', 'location_id'], ['locations.store_id', 'locations.id'],
            name=op.f('fk_purchase_order_lines_store_id_location_id_locations')),
        sa.ForeignKeyConstraint(
            ['store_id', 'order_id'], ['purchase_orders.store_id', 'purchase_orders.id'],
            name=op.f('fk_purchase_order_lines_store_id_order_id_purchase_orders'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['store_id', 'product_id'], ['products.store_id', 'products.id'],
            name=op.f('fk_purchase_order_lines_store_id_product_id_products')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_purchase_order_lines_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_lines')),
        sa.UniqueConstraint('order_id', 'product_id', 'location_id',
                            name=op.f('uq_purchase_order_lines_order_id_product_id_location_id')),
    )
    op.create_index('ix_purchase_order_lines_order', 'purchase_order_lines', ['order_id', 'id'],
                    unique=False)
    op.create_index('ix_purchase_order_lines_destination', 'purchase_order_lines',
                    ['product_id', 'location_id'], unique=False)

    if sqlite:
        op.execute("ALTER TABLE inventory_entries ADD COLUMN average_cost BIGINT "
                   "CONSTRAINT ck_inventory_entries_average_cost_nonnegative "
                   "CHECK (average_cost >= 0)")
        op.execute("ALTER TABLE stock_movements ADD COLUMN unit_cost BIGINT "
                   "CONSTRAINT ck_stock_movements_unit_cost_nonnegative CHECK (unit_cost >= 0)")
        op.execute("ALTER TABLE stock_movements ADD COLUMN purchase_order_line_id INTEGER "
                   "CONSTRAINT fk_stock_movements_purchase_order_line_id_purchase_order_lines "
                   "REFERENCES purchase_order_lines (id)")
    else:
        op.add_column('inventory_entries', sa.Column('average_cost', sa.BigInteger(),
                                                     nullable=True))
        op.create_check_constraint(op.f('ck_inventory_entries_average_cost_nonnegative'),
                                   'inventory_entries', 'average_cost >= 0')
        op.add_column('stock_movements', sa.Column('unit_cost', sa.BigInteger(), nullable=True))
        op.create_check_constraint(op.f('ck_stock_movements_unit_cost_nonnegative'),
                                   'stock_movements', 'unit_cost >= 0')
        op.add_column('stock_movements', sa.Column('purchase_order_line_id', sa.Integer(),
                                                   nullable=True))
        op.create_foreign_key(
            op.f('fk_stock_movements_purchase_order_line_id_purchase_order_lines'),
            'stock_movements', 'purchase_order_lines', ['purchase_order_line_id'], ['id'])
    op.create_index('ix_stock_movements_purchase_order_line', 'stock_movements',
                    ['purchase_order_line_id'], unique=False)

    _allow_object_types(OBJECT_TYPES_AFTER)
    _clear_typed_incoming(sqlite)


def _clear_typed_incoming(sqlite):
    """Keep each typed incoming figure in the audit trail, then derive incoming (0: there
    are no purchase orders yet)."""
    changes = "'{\"incoming_quantity\": [' || CAST(e.incoming_quantity AS VARCHAR(20)) || ', 0]}'"
    # Naive UTC, as every timestamp column stores it.
    now = "CURRENT_TIMESTAMP"
    if not sqlite:
        changes = f"CAST({changes} AS JSON)"
        now = "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"
    op.execute(
        "INSERT INTO audit_events (store_id, action, object_type, object_id, object_label, "
        "product_id, changes, actor_name, created_at) "
        f"SELECT e.store_id, 'entry.incoming_cleared', 'entry', e.id, p.sku || ' at ' || l.code, "
        f"e.product_id, {changes}, '{ACTOR}', {now} "
        "FROM inventory_entries e JOIN products p ON p.id = e.product_id "
        "JOIN locations l ON l.id = e.location_id "
        "WHERE e.incoming_quantity <> 0 ORDER BY e.id"
    )
    op.execute("UPDATE inventory_entries SET incoming_quantity = 0 WHERE incoming_quantity <> 0")


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    # The trail of suppliers and orders outlives them, as the store's own history (the
    # object types before this revision), the way sales channels record theirs.
    # (SQLite: the copy that follows brings the dropped trigger back.)
    if sqlite:
        op.execute("DROP TRIGGER audit_events_no_update")
    else:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete")
    op.execute("UPDATE audit_events SET object_type = 'store', object_id = store_id "
               "WHERE object_type IN ('supplier', 'purchase_order')")
    if not sqlite:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete")
    _allow_object_types(OBJECT_TYPES_BEFORE)

    op.drop_index('ix_stock_movements_purchase_order_line', table_name='stock_movements')
    if sqlite:
        op.execute("ALTER TABLE stock_movements DROP COLUMN purchase_order_line_id")
        op.execute("ALTER TABLE stock_movements DROP COLUMN unit_cost")
        op.execute("ALTER TABLE inventory_entries DROP COLUMN average_cost")
    else:
        op.drop_constraint(
            op.f('fk_stock_movements_purchase_order_line_id_purchase_order_lines'),
            'stock_movements', type_='foreignkey')
        op.drop_column('stock_movements', 'purchase_order_line_id')
        op.drop_constraint(op.f('ck_stock_movements_unit_cost_nonnegative'), 'stock_movements',
                           type_='check')
        op.drop_column('stock_movements', 'unit_cost')
        op.drop_constraint(op.f('ck_inventory_entries_average_cost_nonnegative'), 'inventory_entries',
                           type_='check')
        op.drop_column('inventory_entries', 'average_cost')

    op.drop_index('ix_purchase_order_lines_destination', table_name='purchase_order_lines')
    op.drop_index('ix_purchase_order_lines_order', table_name='purchase_order_lines')
    op.drop_table('purchase_order_lines')
    op.drop_index('ix_purchase_orders_supplier', table_name='purchase_orders')
    op.drop_index('ix_purchase_orders_store_status', table_name='purchase_orders')
    op.drop_table('purchase_orders')
    op.drop_index('uq_supplier_items_preferred', table_name='supplier_items')
    op.drop_index('ix_supplier_items_product', table_name='supplier_items')
    op.drop_table('supplier_items')
    op.drop_table('suppliers')
    if sqlite:
        op.execute("ALTER TABLE stores DROP COLUMN currency")
    else:
        op.drop_constraint(op.f('ck_stores_currency_code'), 'stores', type_='check')
        op.drop_column('stores', 'currency')
