"""The console's sessions, kept in the journal so that every worker and host sees them and
logging out ends them: a SHA-256 of each session's random id (never the id), its operator,
when it began and when it was last used.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_operator", "console_sessions", ["operator"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_operator", "console_sessions")
    op.drop_table("console_sessions")
