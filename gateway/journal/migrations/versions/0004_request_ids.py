"""The request id of each operation and delivery, so the console finds an order by the
X-Request-ID in Xoxoday's logs or ours. Nullable: rows written before have none.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("operations", sa.Column("request_id", sa.String(128), nullable=True))
    op.add_column("deliveries", sa.Column("request_id", sa.String(128), nullable=True))
    op.create_index("ix_operations_request_id", "operations", ["request_id"])
    op.create_index("ix_deliveries_request_id", "deliveries", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_request_id", "deliveries")
    op.drop_index("ix_operations_request_id", "operations")
    op.drop_column("deliveries", "request_id")
    op.drop_column("operations", "request_id")
