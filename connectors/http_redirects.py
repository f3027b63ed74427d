"""Redirects: followed within the origin a call was made to, never anywhere else.

requests follows a redirect to any host and strips only `Authorization` on the way there: an
API key header, the keys in a body a 307 or 308 sends again, and every other header went with
it, and the other host's answer was taken for the system's own. So each hop is sent with
`allow_redirects=False`; the next request is the one requests builds (method, body and headers
as RFC 9110 says), sent only when its origin (scheme, host and port) is the first request's.
Any other (an https to http downgrade on the same host included) is refused before a byte goes
to it, and a chain of more than a few hops ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


class RedirectRefused(Exception):
    """A redirect the client would not follow. Its text names the origin it pointed to, never
    the path, query or user info, which may carry secrets."""


def origin(url: str) -> Origin:
    """Scheme, host (lower case) and port (the scheme's default when none is written)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # not a port: the same origin as nothing
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def shown(where: Origin) -> str:
    scheme, host, port = where
    return f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS.get(scheme) else f":{port}")


def send_within_origin(
    session: requests.Session,
    method: str,
    url: str,
    timeouts: Callable[[], tuple[float, float]],
    kwargs: dict[str, Any],
) -> requests.Response:
    """The answer to `method url`, redirects within its origin followed; `timeouts()` gives each
    hop its (connect, read) timeouts. Raises RedirectRefused for any other redirect."""
    response = session.request(method, url, timeout=timeouts(), allow_redirects=False, **kwargs)
    start = origin(response.request.url or url)
    for _ in range(MAX_REDIRECTS):
        following = response.next  # None unless a redirect (a 3xx with a Location)
        if following is None:
            return response
        target = origin(following.url or "")
        if target != start:
            downgrade = start[0] == "https" and target[0] == "http"
            how = ", from https to http" if downgrade else ""
            raise RedirectRefused(f"refused a redirect to another origin{how} ({shown(target)})")
        settings = session.merge_environment_settings(
            following.url, kwargs.get("proxies") or {}, False, kwargs.get("verify"), None
        )
        response = session.send(following, allow_redirects=False, timeout=timeouts(), **settings)
    if response.next is None:
        return response
    raise RedirectRefused(f"more than {MAX_REDIRECTS} redirects within {shown(start)}")
