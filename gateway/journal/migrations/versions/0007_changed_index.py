"""An index of when each operation a points ledger settles last changed (updated_at), so the
console's chart of unfinished operations over time reads the operations finished within its
window without reading every operation. Partial: updated_at is NULL where no ledger is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WHERE = "updated_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_operations_updated_at",
        "operations",
        ["updated_at"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_operations_updated_at", "operations")
