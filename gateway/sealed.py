"""Secrets the journal must keep (Xoxoday's API tokens), sealed with a key derived from
`secret_key`: a copy of the journal file or a database dump does not hand them out.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) seals; each configured secret key
gives a Fernet key through HKDF-SHA256, the signing key seals and every key opens, so rotating
`secret_key` (the old one kept in `old_secret_keys`) leaves stored tokens readable. A value
stored by an earlier release, in plain text, is read as it is and sealed when next written.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.errors import GatewayError

PREFIX = "sealed:v1:"
INFO = b"points-gateway journal secrets v1"


class SealBroken(GatewayError):
    """A sealed value that none of the configured keys opens (its key was dropped)."""

    error_code = "sealed_secret_unreadable"


def _fernet_key(secret_key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived)


class Sealer:
    """Seals with the signing key, opens with any of `secret_keys` (oldest first, as in
    Settings.secret_keys)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        newest_first = [Fernet(_fernet_key(k)) for k in reversed(secret_keys)]
        self._fernet = MultiFernet(newest_first)

    def seal(self, text: str) -> str:
        return PREFIX + self._fernet.encrypt(text.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # plain, from a journal an earlier release wrote
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except InvalidToken:
            raise SealBroken(
                "a secret in the journal was sealed with a key that is no longer configured: "
                "put that key back in gateway.old_secret_keys, or set the secret again"
            ) from None
