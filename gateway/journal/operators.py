"""The console's people and what they did: operator accounts (scrypt password hashes), login
attempts counted per address and per account, the operators' sessions (in the journal, so
every worker and host sees them), and the audit of every action an operator takes.

Operators belong to no program: each has a scope, the programs they may see ("*" for every
program, or their names comma-separated, kept in that order: see `scope_of`). The audit is a
program's: each row carries the program of the journal it was recorded through."""

from __future__ import annotations

import hashlib
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Insert, case, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from gateway.errors import GatewayError
from gateway.journal.records import as_utc, utcnow
from gateway.journal.scope import ProgramRefused, program_name, scoped
from gateway.journal.scope import add as add_row
from gateway.journal.store import Journal
from gateway.journal.tables import audit, console_sessions, login_failures, operators

ROLES = ("viewer", "operator")
NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
MIN_PASSWORD = 12
#: An operator's scope that takes in every program, present and future.
EVERY_PROGRAM = "*"
# Hashed when a name is unknown, so a wrong name takes as long as a wrong password.
_NOBODY = generate_password_hash("no operator has this password")


class OperatorRefused(GatewayError):
    """A name, role or password the console cannot take."""

    error_code = "operator_refused"


def scope_of(programs: str | list[str] | tuple[str, ...]) -> str:
    """An operator's scope as the journal keeps it: "*" (every program), or the programs'
    names, each once, sorted and comma-separated ("acme,globex"). Takes "*", such a text
    (spaces around the names allowed), or a list of names; OperatorRefused for anything else
    (no program at all included: an operator who may see nothing is removed instead)."""
    names = programs.split(",") if isinstance(programs, str) else list(programs)
    names = [name.strip() for name in names]
    if not any(names):
        raise OperatorRefused("a scope names at least one program, or * for every program")
    if names == [EVERY_PROGRAM]:
        return EVERY_PROGRAM
    try:
        checked = sorted({program_name(name) for name in names})
    except ProgramRefused as exc:
        raise OperatorRefused(f"a scope is * or program names, comma-separated: {exc}") from None
    return ",".join(checked)


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    programs: str = EVERY_PROGRAM  # "*", or the names of the programs they may see (scope_of)

    @property
    def may_act(self) -> bool:
        """An operator may resolve and mark operations; a viewer only looks."""
        return self.role == "operator"

    @property
    def every_program(self) -> bool:
        return self.programs == EVERY_PROGRAM

    def sees(self, program: str) -> bool:
        """Whether the operator may see (and, with may_act, act in) `program`."""
        return self.every_program or program in self.programs.split(",")

    def visible(self, programs: list[str]) -> list[str]:
        """Those of `programs` (the configured ones, say) the operator may see, in order."""
        return [program for program in programs if self.sees(program)]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    operator: str
    action: str
    target: str | None
    reason: str | None


class Operators:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def add(
        self, name: str, role: str, password: str, programs: str | list[str] = EVERY_PROGRAM
    ) -> Operator:
        """A new operator of `role`, who may see `programs` (see scope_of)."""
        scope = scope_of(programs)
        if not NAME.fullmatch(name):
            raise OperatorRefused("a name is 1-64 letters, digits and . _ @ -")
        if role not in ROLES:
            raise OperatorRefused(f"a role is one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise OperatorRefused(f"a password has at least {MIN_PASSWORD} characters")
        row = {"name": name, "role": role, "created_at": utcnow(), "programs": scope}
        row["password_hash"] = generate_password_hash(password)
        try:
            with self.journal._write() as conn:
                conn.execute(insert(operators).values(row))
        except IntegrityError:
            raise OperatorRefused(f"an operator named {name!r} exists already") from None
        return Operator(name, role, scope)

    def set_programs(self, name: str, programs: str | list[str]) -> Operator | None:
        """Change the programs the operator may see (see scope_of); None when there is no such
        operator. Their sessions stay: each request reads the operator's scope anew."""
        scope = scope_of(programs)
        with self.journal._write() as conn:
            changed = update(operators).where(operators.c.name == name).values(programs=scope)
            if conn.execute(changed).rowcount != 1:
                return None
        return self.get(name)

    def remove(self, name: str) -> int | None:
        """Remove the operator and end their console sessions at once: how many sessions
        ended, or None when there is no such operator."""
        with self.journal._write() as conn:
            if conn.execute(delete(operators).where(operators.c.name == name)).rowcount != 1:
                return None
            ended = delete(console_sessions).where(console_sessions.c.operator == name)
            return int(conn.execute(ended).rowcount)

    def all(self) -> list[Operator]:
        o = operators.c
        with self.journal.reader.connect() as conn:
            found = conn.execute(select(o.name, o.role, o.programs).order_by(o.name))
            return [Operator(*row) for row in found]

    def get(self, name: str) -> Operator | None:
        o = operators.c
        with self.journal.reader.connect() as conn:
            row = conn.execute(select(o.name, o.role, o.programs).where(o.name == name)).first()
        return Operator(*row) if row else None

    def verify(self, name: str, password: str) -> Operator | None:
        o = operators.c
        with self.journal.reader.connect() as conn:
            row = conn.execute(
                select(o.role, o.password_hash, o.programs).where(o.name == name)
            ).first()
        if row is None:
            check_password_hash(_NOBODY, password)
            return None
        return Operator(name, row[0], row[2]) if check_password_hash(row[1], password) else None

    # -- login attempts ----------------------------------------------------------------------
    def attempt(self, keys: list[str], limit: int, window: timedelta) -> bool:
        """Count one login attempt under each of `keys` in turn, before its password is checked:
        whether every count stays within `limit`. Each count is one atomic upsert answering the
        new count, so attempts at once each get a count of their own and at most `limit` of them
        pass. A key over the limit stops the counting (the keys after it are not counted: a
        locked-out address adds no row for each name it tries). A run of attempts whose first
        is older than `window` starts over; a success deletes the counts (succeeded)."""
        now = utcnow()
        with self.journal._write() as conn:
            for key in keys:
                counted = _count(conn.dialect.name, key, now, now - window)
                if conn.execute(counted).scalar_one() > limit:
                    return False
        return True

    def failed(self, keys: list[str], window: timedelta) -> None:
        """One more failed attempt under each of `keys`, whatever the counts."""
        self.attempt(keys, sys.maxsize, window)

    def succeeded(self, keys: list[str]) -> None:
        with self.journal._write() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key.in_(keys)))


def _count(dialect: str, key: str, now: datetime, since: datetime) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING: one more attempt under `key` (or the
    first of a new run, when the run began before `since`), answering the count."""
    f = login_failures.c
    stale = f.first_at <= since
    upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(login_failures)
    return (
        upsert.values(key=key, failures=1, first_at=now)
        .on_conflict_do_update(
            index_elements=[f.key],
            set_={
                "failures": case((stale, 1), else_=f.failures + 1),
                "first_at": case((stale, now), else_=f.first_at),
            },
        )
        .returning(f.failures)
    )


def digest(session_id: str) -> str:
    """What the journal keeps of a session id: its SHA-256, so a copy of the journal (a backup,
    a dump) holds no live session."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class ConsoleSessions:
    """The operators' console sessions: a random id for the browser's cookie, its digest in the
    journal. A session ends `lifetime` after it began however busy, after `idle` without a
    request, when its operator logs out, or when the operator is removed."""

    def __init__(self, journal: Journal, lifetime: timedelta, idle: timedelta) -> None:
        self.journal = journal
        self.lifetime, self.idle = lifetime, idle
        # The last use is written at most this often: a session may end this much early (a
        # tenth of `idle` at most), never late.
        self.touch_every = min(timedelta(minutes=1), idle / 10)

    def start(self, operator: str) -> str:
        """A new session for `operator`: its id, never one that existed before (so no one can
        fix the id a victim logs in with). Sessions ended meanwhile are deleted."""
        session_id = secrets.token_urlsafe(32)
        now, s = utcnow(), console_sessions.c
        with self.journal._write() as conn:
            ended = (s.created_at <= now - self.lifetime) | (s.last_seen <= now - self.idle)
            conn.execute(delete(console_sessions).where(ended))
            row = {"id_hash": digest(session_id), "operator": operator}
            conn.execute(insert(console_sessions).values(**row, created_at=now, last_seen=now))
        return session_id

    def find(self, session_id: str) -> Operator | None:
        """The operator of a live session, its use recorded; None for an ended or unknown one
        (an ended one is deleted) or a removed operator."""
        if not session_id or len(session_id) > 128:
            return None
        now, key, s = utcnow(), digest(session_id), console_sessions.c
        query = (
            select(
                s.created_at, s.last_seen, operators.c.name, operators.c.role, operators.c.programs
            )
            .join(operators, operators.c.name == s.operator)
            .where(s.id_hash == key)
        )
        with self.journal.reader.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if (
            as_utc(row.created_at) <= now - self.lifetime
            or as_utc(row.last_seen) <= now - self.idle
        ):
            self.end(session_id)
            return None
        if as_utc(row.last_seen) <= now - self.touch_every:
            with self.journal._write() as conn:
                seen = update(console_sessions).where(s.id_hash == key, s.last_seen < now)
                conn.execute(seen.values(last_seen=now))
        return Operator(row.name, row.role, row.programs)

    def end(self, session_id: str) -> None:
        """Log out: the session is deleted, its cookie opens nothing any more."""
        with self.journal._write() as conn:
            conn.execute(
                delete(console_sessions).where(console_sessions.c.id_hash == digest(session_id))
            )


class Audit:
    """The audit of the journal's program: what operators did in it."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(
        self, operator: str, action: str, target: str | None = None, reason: str | None = None
    ) -> None:
        row = {"at": utcnow(), "operator": operator, "action": action}
        with self.journal._write() as conn:
            entry = add_row(audit, self.journal.program).values(**row, target=target, reason=reason)
            conn.execute(entry)

    def recent(self, limit: int = 50, before: int | None = None) -> list[AuditEntry]:
        """Newest first; `before`: the id the previous page ended at (a keyset cursor)."""
        query = scoped(audit, self.journal.program).order_by(audit.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit.c.id < before)
        with self.journal.reader.connect() as conn:
            return [
                AuditEntry(r.id, as_utc(r.at), r.operator, r.action, r.target, r.reason)
                for r in conn.execute(query)
            ]
