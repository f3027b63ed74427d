"""Logging set-up, with every configured secret redacted from every record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Values of these keys are never logged, whatever the message that carries them.
SECRET_FIELDS = re.compile(
    r"""(?P<key>["']?(?:auth_token|api_key|password|secret(?:_key)?|access_token|refresh_token)["']?\s*[:=]\s*)"""
    r"""(?P<quote>["']?)[^"',\s}&]+"""
)
REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    """Rewrites a record's message with known secrets and secret-named fields blanked out."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = SECRET_FIELDS.sub(rf"\g<key>\g<quote>{REDACTED}", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, REDACTED)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure(level: str, secrets: Iterable[str]) -> None:
    """Give the root logger a handler (unless gunicorn or pytest did) and the redaction filter."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z"
            )
        )
        root.addHandler(handler)
    logging.getLogger("gateway").setLevel(level)
    logging.getLogger("connectors").setLevel(level)
    redact = RedactSecrets(secrets)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactSecrets)]:
            handler.removeFilter(old)
        handler.addFilter(redact)
