"""A state for an operation whose reference the ledger holds for another write ("conflict"):
unfinished, so the partial index of unfinished operations takes it in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BEFORE = "state IN ('received', 'sent', 'unknown')"
AFTER = "state IN ('received', 'sent', 'unknown', 'conflict')"


def _unfinished_index(where: str) -> None:
    op.drop_index("ix_operations_unfinished", "operations")
    op.create_index(
        "ix_operations_unfinished",
        "operations",
        ["state"],
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    _unfinished_index(AFTER)


def downgrade() -> None:
    _unfinished_index(BEFORE)
