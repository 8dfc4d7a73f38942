"""api token expiry and scope: when a token stops working, and which stores and
permissions it may use

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# Every column is nullable and NULL means "not limited": the tokens already issued keep
# working as before, without an expiry and with all of their user's permissions.
COLUMNS = ('expires_at', 'store_ids', 'permissions', 'platform_admin')


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('store_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('permissions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('platform_admin', sa.Boolean(), nullable=True))


def downgrade():
    # The older schema cannot hold a token's limits, and a limited token must not come back
    # with more than it was given: tokens that expire or carry a scope are revoked.
    op.execute(
        "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP WHERE revoked_at IS NULL AND ("
        + " OR ".join(f"{column} IS NOT NULL" for column in COLUMNS) + ")"
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
