"""auth_token issue/verify with itsdangerous, and GetProfile api keys. Constant-time throughout."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Sequence

from cachetools import LRUCache
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gateway.errors import Unauthorized

TOKEN_SALT = "points-gateway.auth-token"


class TokenAuthority:
    """Signs a unique_id into an expiring token; verifies a token names the caller's unique_id.

    `secret_keys` is oldest first, the signing key last: any of them verifies, so a key can be
    rotated without logging everyone out.
    """

    def __init__(
        self,
        secret_keys: Sequence[str],
        ttl_seconds: int,
        fold_case: bool = False,
        cache_size: int = 10_000,
        salt: str = TOKEN_SALT,
    ):
        self._serializer = URLSafeTimedSerializer(list(secret_keys), salt=salt)
        self.ttl_seconds = ttl_seconds
        self._fold_case = fold_case  # email identities match case-insensitively
        # Tokens whose signature already checked out -> (unique_id, issued at). A signature's
        # validity never changes for the keys of this process, so only its age is re-checked;
        # a forged token never gets in. It spares the HMAC on Xoxoday's repeated calls.
        self._verified: LRUCache[str, tuple[str, int]] = LRUCache(maxsize=cache_size)
        self._verified_lock = threading.Lock()

    def _norm(self, unique_id: str) -> str:
        return unique_id.lower() if self._fold_case else unique_id

    def issue(self, unique_id: str) -> str:
        return self._serializer.dumps(self._norm(unique_id))

    def verify(self, token: object, unique_id: str) -> None:
        if not isinstance(token, str) or not token:
            raise Unauthorized("auth_token is missing")
        with self._verified_lock:
            known = self._verified.get(token)
        if known is None:
            known = self._check_signature(token)
        bound, issued_at = known
        age = int(time.time()) - issued_at  # whole seconds, as itsdangerous counts them
        if not 0 <= age <= self.ttl_seconds:
            raise Unauthorized("auth_token has expired")
        if not hmac.compare_digest(bound.encode(), self._norm(unique_id).encode()):
            raise Unauthorized("auth_token was issued for another user")

    def _check_signature(self, token: str) -> tuple[str, int]:
        try:
            bound, issued = self._serializer.loads(
                token, max_age=self.ttl_seconds, return_timestamp=True
            )
        except SignatureExpired:
            raise Unauthorized("auth_token has expired") from None
        except BadSignature:
            raise Unauthorized("auth_token is not valid") from None
        if not isinstance(bound, str):
            raise Unauthorized("auth_token is not valid")
        known = (bound, int(issued.timestamp()))
        with self._verified_lock:
            self._verified[token] = known
        return known


class ApiKeys:
    """The GetProfile api_key values Xoxoday may send (several, so one can rotate)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [k.encode() for k in keys]

    def verify(self, key: object) -> None:
        if not isinstance(key, str) or not key:
            raise Unauthorized("api_key is missing")
        given = key.encode()
        # Compare against every key, so the time taken does not say which one nearly matched.
        matched = False
        for known in self._keys:
            matched |= hmac.compare_digest(given, known)
        if not matched:
            raise Unauthorized("api_key is not valid")
