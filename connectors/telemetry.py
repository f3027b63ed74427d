"""What connectors report about themselves (calls, retries, breaker, cache), to whoever listens.

Connectors do not depend on a metrics library: they call the module's `telemetry`, which does
nothing until the gateway installs its own (Prometheus) with `install`.
"""

from __future__ import annotations


class Telemetry:
    def call(self, connector: str, outcome: str, seconds: float) -> None:
        """One call to a remote system; `outcome` is "ok" or the error_code raised."""

    def retry(self, connector: str) -> None:
        """One more try of a call that failed."""

    def breaker(self, connector: str, is_open: bool) -> None:
        """The connector's circuit breaker opened or closed."""

    def cache(self, result: str) -> None:
        """One profile lookup through the cache: "hit", "miss" or "stale"."""


telemetry = Telemetry()


def install(listener: Telemetry) -> None:
    global telemetry
    telemetry = listener
