"""The journal's schema, versioned by Alembic (gateway/journal/migrations).

`upgrade` brings a journal to this release's schema: a new database, one made by 0.1.0 (which
created its tables on start, without a version), or one a migration behind. On PostgreSQL it
holds an advisory lock meanwhile, so two hosts starting at once do not both migrate. `serve`
upgrades an embedded SQLite journal itself; a PostgreSQL one is upgraded by an operator
(`points-gateway db upgrade`), unless `[gateway] auto_migrate = true`. A journal at a revision
this release does not know was written by a newer release: every way in refuses it, unchanged
(SchemaNewer).
"""

from __future__ import annotations

from functools import cache
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


class SchemaNewer(Exception):
    """A newer release wrote the journal (a revision this one does not know): it is left as it
    is, for this release's code cannot know what that one changed."""


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this release's code expects."""
    found = _scripts().get_current_head()
    assert found is not None  # the baseline at least
    return found


def is_newer(revision: str | None) -> bool:
    """Whether `revision` is none of this release's: a newer release's (None: no version yet)."""
    return revision is not None and revision not in {
        s.revision for s in _scripts().walk_revisions()
    }


def refuse_newer(revision: str | None) -> None:
    """SchemaNewer, naming both revisions, when a newer release wrote the journal."""
    if is_newer(revision):
        raise SchemaNewer(
            f"the journal is at revision {revision}, written by a newer release; this release "
            f"knows up to {head()}: run the newer release, or restore the journal's backup from "
            "before that release upgraded it (nothing was changed)"
        )


def current(conn: Connection) -> str | None:
    """The journal's revision: None for an empty database or one made before versioning."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(conn: Connection, namespace: str | None = None) -> None:
    """Upgrade within `conn`'s transaction (a write transaction of the journal's)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if namespace:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{namespace}"'))
    # Before Alembic, which would fail with a traceback on a revision it cannot locate; the
    # caller's transaction then rolls back whatever this one began.
    refuse_newer(current(conn))
    command.upgrade(_config(conn), "head")


def require(conn: Connection) -> None:
    """SchemaBehind, saying what to run, unless the journal is at this release's schema."""
    found, wanted = current(conn), head()
    refuse_newer(found)
    if found != wanted:
        where = "an empty or unversioned database" if found is None else f"revision {found}"
        raise SchemaBehind(
            f"the journal is at {where}, this release needs {wanted}: run "
            "`points-gateway db upgrade` once (or set [gateway] auto_migrate = true)"
        )
