"""Alembic's environment for the journal: always run on a connection the gateway opened
(gateway/journal/schema.py), inside its transaction and, on PostgreSQL, its advisory lock."""

from alembic import context

from gateway.journal.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it: the migrations say so with batch_alter_table.
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
