"""Secrets at rest and in tracebacks.

Found from outside: the SQLite journal, Xoxoday's access and refresh tokens in it, was created
0644; the tokens were stored in plain text; log redaction did not reach exception text and
tracebacks, SQLAlchemy's `[parameters: ...]` included.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat

import pytest
from sqlalchemy import insert, text

from gateway.journal import Journal
from gateway.journal.records import utcnow
from gateway.journal.tables import xoxoday_tokens
from gateway.logs import JsonFormatter, RedactSecrets
from gateway.sealed import PREFIX, SealBroken, Sealer
from gateway.xoxoday.tokens import TokenPair, TokenStore

OLD_KEY = "old-secret-key-0123456789-abcdefghijklmnop"
NEW_KEY = "new-secret-key-9876543210-zyxwvutsrqponmlk"
PAIR = TokenPair("xo-access-token-5e5e5e", "xo-refresh-token-7f7f7f")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_journal_and_its_folder_are_private(tmp_path):
    folder = tmp_path / "var" / "gateway"
    journal = Journal(f"sqlite:///{folder / 'journal.db'}")
    journal.create_schema()
    journal.count()
    for name in ("journal.db", "journal.db-wal", "journal.db-shm", "journal.db.writelock"):
        if (folder / name).exists():
            assert mode(folder / name) == 0o600, name
    assert mode(folder / "journal.db") == 0o600
    assert mode(folder) == 0o700
    journal.dispose()


def test_a_journal_an_earlier_release_left_readable_is_tightened(tmp_path):
    path = tmp_path / "journal.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    journal = Journal(f"sqlite:///{path}")
    journal.create_schema()
    assert mode(path) == 0o600
    journal.dispose()


def raw_tokens(journal) -> tuple[str, str]:
    with journal.reader.connect() as conn:
        row = conn.execute(text("SELECT access_token, refresh_token FROM xoxoday_tokens")).one()
    return row[0], row[1]


def test_xoxoday_tokens_are_sealed_in_the_journal(journal):
    store = TokenStore(journal, Sealer([NEW_KEY]))
    store.put(PAIR)
    access, refresh = raw_tokens(journal)
    assert access.startswith(PREFIX) and refresh.startswith(PREFIX)
    assert PAIR.access_token not in access + refresh
    assert store.get().access_token == PAIR.access_token
    assert store.replace(PAIR.access_token, TokenPair("fresh-access", "fresh-refresh"))
    assert not store.replace(PAIR.access_token, TokenPair("lost", "race"))  # stale: no-op
    assert store.get().access_token == "fresh-access"


def test_plain_tokens_of_an_older_journal_are_read_and_sealed_when_replaced(journal):
    with journal._write() as conn:
        conn.execute(
            insert(xoxoday_tokens).values(
                name="default",
                access_token=PAIR.access_token,
                refresh_token=PAIR.refresh_token,
                updated_at=utcnow(),
            )
        )
    store = TokenStore(journal, Sealer([NEW_KEY]))
    assert store.get() == PAIR
    assert store.replace(PAIR.access_token, TokenPair("fresh-access", "fresh-refresh"))
    assert raw_tokens(journal)[0].startswith(PREFIX)


def test_old_secret_keys_still_open_what_they_sealed(journal):
    TokenStore(journal, Sealer([OLD_KEY])).put(PAIR)
    rotated = TokenStore(journal, Sealer([OLD_KEY, NEW_KEY]))  # oldest first, signing last
    assert rotated.get() == PAIR
    with pytest.raises(SealBroken, match="old_secret_keys"):
        TokenStore(journal, Sealer([NEW_KEY])).get()


def formatted(record: logging.LogRecord, secrets: tuple[str, ...]) -> str:
    RedactSecrets(secrets).filter(record)
    return JsonFormatter().format(record) + logging.Formatter("%(message)s").format(record)


def test_tracebacks_are_redacted(caplog):
    secret = "xo-refresh-token-7f7f7f"
    try:
        raise RuntimeError(f"Xoxoday said no to {secret} (refresh_token={secret})")
    except RuntimeError:
        logging.getLogger("gateway.test").exception("refresh failed")
    (record,) = [r for r in caplog.records if r.name == "gateway.test"]
    RedactSecrets(("another-handler-s-secret",)).filter(record)  # a first handler's filter
    out = formatted(record, (secret,))
    assert "Traceback" in out and "RuntimeError" in out
    assert secret not in out and "[redacted]" in out


def test_sqlalchemy_parameters_never_reach_a_log_line(journal, caplog):
    """The journal's engines hide bound values; redaction removes any that still appear."""
    TokenStore(journal, Sealer([NEW_KEY])).put(PAIR)
    try:
        with journal._write() as conn:  # the same name again: an IntegrityError
            conn.execute(
                insert(xoxoday_tokens).values(
                    name="default",
                    access_token="plain-secret-in-a-statement",
                    refresh_token="x",
                    updated_at=utcnow(),
                )
            )
    except Exception:
        logging.getLogger("gateway.test").exception("insert failed")
    (record,) = [r for r in caplog.records if r.name == "gateway.test"]
    assert "plain-secret-in-a-statement" not in formatted(record, ())
    leaked = "boom\n[SQL: INSERT ...]\n[parameters: ('tok-123', 'tok-456')]\n(Background on this"
    assert "tok-123" not in RedactSecrets(()).redact(leaked)


def test_metrics_say_when_the_stored_tokens_expire_and_never_show_them(journal):
    """The alert on an expiring refresh token reads this gauge; the tokens stay out of it."""
    from datetime import UTC, datetime

    from gateway.metrics import JournalCollector

    access_end = datetime(2027, 1, 1, 12, tzinfo=UTC)
    refresh_end = datetime(2027, 3, 1, tzinfo=UTC)
    TokenStore(journal, Sealer([NEW_KEY])).put(
        TokenPair(PAIR.access_token, PAIR.refresh_token, access_end, refresh_end)
    )
    TokenStore(journal, Sealer([NEW_KEY]), name="no-expiry").put(PAIR)
    families = {f.name: f for f in JournalCollector(journal).collect()}
    samples = families["points_gateway_xoxoday_token_expiry_timestamp_seconds"].samples
    assert {(s.labels["name"], s.labels["token"]): s.value for s in samples} == {
        ("default", "access"): access_end.timestamp(),
        ("default", "refresh"): refresh_end.timestamp(),
    }
    assert PAIR.refresh_token not in repr(samples)
