"""Indexes the console's search needs: an operation found by the unique_id Xoxoday sent or
by the reference a points ledger knows it by, without reading every operation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_operations_unique_id", "operations", ["unique_id"])
    op.create_index("ix_operations_reference", "operations", ["reference"])


def downgrade() -> None:
    op.drop_index("ix_operations_reference", "operations")
    op.drop_index("ix_operations_unique_id", "operations")
