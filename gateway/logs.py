"""Logging set-up, with every configured secret redacted from every record."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

# Values of these keys are never logged, whatever the message that carries them.
SECRET_FIELDS = re.compile(
    r"""(?P<key>["']?(?:auth_token|api_key|password|secret(?:_key)?|access_token|refresh_token)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["']?)[^"',\s}&]+"""
)
REDACTED = "[redacted]"
# What SQLAlchemy appends to a statement's error: the bound values (tokens, ids) of the statement.
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\n|\(Background|$))", re.S)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with known secrets and secret-named fields blanked out."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        # One search over the whole record finds whether anything needs redacting: almost
        # every record needs nothing, and redacting each field costs ~50 µs a request.
        parts = [r"\[parameters: ", SECRET_FIELDS.pattern, *map(re.escape, self.secrets)]
        self.suspect = re.compile("|".join(f"(?:{part})" for part in parts))

    def redact(self, text: str) -> str:
        cleaned = SQL_PARAMETERS.sub(f"[parameters: {REDACTED}]", text)
        cleaned = SECRET_FIELDS.sub(rf"\g<key>\g<quote>{REDACTED}", cleaned)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, REDACTED)
        return cleaned

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        fields = getattr(record, "fields", {})
        texts = [message, *(value for value in fields.values() if isinstance(value, str))]
        # NUL between the parts: no pattern matches across it, so a miss here is a miss in each.
        if (
            not record.exc_info
            and not record.stack_info
            and not self.suspect.search("\0".join(texts))
        ):
            return True
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for name, value in getattr(record, "fields", {}).items():
            if isinstance(value, str):
                record.fields[name] = self.redact(value)  # type: ignore[attr-defined]
        # A traceback quotes exception messages and source lines: it is written from
        # exc_text, which formatters use as it is once set, so set it redacted.
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and a record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure(level: str, secrets: Iterable[str], json_lines: bool = False) -> None:
    """Give the root logger a handler (unless pytest did) and the redaction filter."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            JsonFormatter()
            if json_lines
            else logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"
            )
        )
        root.addHandler(handler)
    logging.getLogger("gateway").setLevel(level)
    logging.getLogger("connectors").setLevel(level)
    redact = RedactSecrets(secrets)
    for each in root.handlers:
        for old in [f for f in each.filters if isinstance(f, RedactSecrets)]:
            each.removeFilter(old)
        each.addFilter(redact)
