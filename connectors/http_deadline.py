"""A deadline for a whole HTTP call: connecting, sending, and reading the answer to its end.

requests' timeouts bound each socket operation, not the call: a system that answers a byte at
a time, under the read timeout each time, holds a call (and a gateway thread) for as long as
it likes. So each call runs under a `Deadline`: a timer that, when the call's budget runs out,
shuts down the sockets the call is using, which ends any read or write blocked on them at once,
in the headers or in the body. A call whose socket was shut is a timeout, whatever it was
answered: a body that ends with its connection looks whole when cut short.

The sockets are found through urllib3's pools: `DeadlineAdapter` (mounted on the client's
session) makes every pool show a connection's socket, once connected, to the deadline of the
call running in that thread, and take it back before anyone else may borrow the connection, so
a deadline can only ever cut its own call. Connecting is bounded by the connect timeout, never
more than the time left; a connection made after the deadline is refused before it sends.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError
from urllib3.poolmanager import PoolManager

_running = threading.local()  # .deadline: the Deadline of the call this thread is making


class DeadlinePassed(requests.ReadTimeout):
    """The call's budget ran out once the request may have been sent."""


class DeadlineBeforeSending(requests.ConnectTimeout):
    """The call's budget ran out before this try sent anything."""


class Deadline:
    """One call's deadline, `seconds` from now; `with` it around the call (retries and all)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._held: dict[Any, Any] = {}  # connection -> its socket, while the call uses it
        self._expired = False
        self._cut = False  # a socket in use was shut down: its answer may be cut short
        self._ended = False
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._outer: Deadline | None = None

    @property
    def expired(self) -> bool:
        return self._expired

    @property
    def cut(self) -> bool:
        return self._cut

    def left(self) -> float:
        return self.at - time.monotonic()

    def __enter__(self) -> Deadline:
        self._outer = getattr(_running, "deadline", None)
        _running.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._ended = True
            self._held.clear()
        self._timer.cancel()
        _running.deadline = self._outer

    def _expire(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._expired = True
            for sock in self._held.values():
                _shut(sock)
                self._cut = True

    def _using(self, conn: Any) -> None:
        """`conn` is connected and about to send for this call."""
        with self._lock:
            if self._expired:
                raise ConnectTimeoutError(conn, "the call's budget ran out before sending")
            self._held[conn] = conn.sock

    def _returned(self, conn: Any) -> None:
        with self._lock:
            self._held.pop(conn, None)


def _shut(sock: Any) -> None:
    """Shut a socket down (from another thread: close() would not wake a blocked read). A TLS
    socket is shut below TLS, as the plain socket it is."""
    raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
    if isinstance(raw, socket.socket):
        with contextlib.suppress(OSError):  # already closed or reset: nothing left to cut
            socket.socket.shutdown(raw, socket.SHUT_RDWR)


class _Watched(HTTPConnectionPool):
    """A pool whose connections are watched by the deadline of the call that borrows them."""

    def _validate_conn(self, conn: Any) -> None:
        super()._validate_conn(conn)  # an HTTPS pool connects here
        if conn.is_closed:
            conn.connect()  # a plain one would on sending: connect now, so it is watched
        deadline: Deadline | None = getattr(_running, "deadline", None)
        if deadline is not None:
            deadline._using(conn)

    def _put_conn(self, conn: Any) -> None:
        deadline: Deadline | None = getattr(_running, "deadline", None)
        if deadline is not None and conn is not None:
            deadline._returned(conn)
        super()._put_conn(conn)


@functools.cache
def _watched(pool_class: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    if issubclass(pool_class, _Watched):
        return pool_class
    return type(f"Watched{pool_class.__name__}", (_Watched, pool_class), {})


def _watch(manager: PoolManager) -> PoolManager:
    manager.pool_classes_by_scheme = {
        scheme: _watched(cls) for scheme, cls in manager.pool_classes_by_scheme.items()
    }
    return manager


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter with pools (direct, through a proxy or SOCKS) that deadlines watch."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        known = proxy in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return manager if known else _watch(manager)
