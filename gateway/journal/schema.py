"""The journal's schema, versioned by Alembic (gateway/journal/migrations).

`upgrade` brings a journal to this release's schema: a new database, one made by 0.1.0 (which
created its tables on start, without a version), or one a migration behind. On PostgreSQL it
holds an advisory lock meanwhile, so two hosts starting at once do not both migrate. `serve`
upgrades an embedded SQLite journal itself; a PostgreSQL one is upgraded by an operator
(`points-gateway db upgrade`), unless `[gateway] auto_migrate = true`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Any fixed number, the same on every host: the key of the PostgreSQL advisory lock.
MIGRATION_LOCK = 7_305_424_117


class SchemaBehind(Exception):
    """The journal's schema is not this release's; nothing is changed on its own."""


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The revision this release's code expects."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    found = ScriptDirectory.from_config(config).get_current_head()
    assert found is not None  # the baseline at least
    return found


def current(conn: Connection) -> str | None:
    """The journal's revision: None for an empty database or one made before versioning."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, namespace: str | None = None) -> None:
    """Upgrade within `conn`'s transaction (a write transaction of the journal's)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if namespace:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"'))
    command.upgrade(_config(conn), "head")


def require(conn: Connection) -> None:
    """SchemaBehind, saying what to run, unless the journal is at this release's schema."""
    found, wanted = current(conn), head()
    if found != wanted:
        where = "an empty or unversioned database" if found is None else f"revision {found}"
        raise SchemaBehind(
            f"the journal is at {where}, this release needs {wanted}: run "
            "`points-gateway db upgrade` once (or set [gateway] auto_migrate = true)"
        )
