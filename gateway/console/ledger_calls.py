"""A points ledger's calls as this host's metrics count them: by outcome, and how long they
took. The figures /metrics answers for the ledger's connector (points_gateway_connector_calls
and _seconds): under `serve`, the sum over every worker of this host since it started
(prometheus_client's multiprocess files); in a single process, that process's. Other hosts
count their own, and a restart starts over: Prometheus keeps them over time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.base import LedgerRefused

PREFIX = "points_gateway_connector"


def _refusals(cls: type[LedgerRefused] = LedgerRefused) -> frozenset[str]:
    """The error codes of a ledger answering that it did not apply a write: an answer, not
    a failure."""
    codes = {cls.error_code}
    for sub in cls.__subclasses__():
        codes |= _refusals(sub)
    return frozenset(codes)


REFUSALS = _refusals()


def kind_of(outcome: str) -> str:
    """ok, refused (the ledger answered no) or failed (it did not answer usefully)."""
    return "ok" if outcome == "ok" else "refused" if outcome in REFUSALS else "failed"


@dataclass
class LedgerCalls:
    connector: str  # the name its calls are counted under
    outcomes: dict[str, int] = field(default_factory=dict)  # "ok" or an error_code -> calls
    #: (upper bound in seconds, calls that took at most that long); the last bound is inf
    buckets: list[tuple[float, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def within(self) -> list[tuple[float, int]]:
        """Calls per bucket (not cumulative): those above the previous bound, up to this one."""
        found, below = [], 0
        for bound, cumulative in self.buckets:
            found.append((bound, cumulative - below))
            below = cumulative
        return found

    def at_most(self, share: float) -> float | None:
        """The smallest bucket bound that `share` of the calls stayed within (inf: beyond the
        last); None without calls."""
        if not self.buckets or self.buckets[-1][1] == 0:
            return None
        for bound, cumulative in self.buckets:
            if cumulative >= share * self.buckets[-1][1]:
                return bound
        return float("inf")


def reporting_name(connector: Any) -> str | None:
    """The name a connector's calls are counted under: its circuit breaker's, where it has
    one (every remote call is measured through it); None for one that reports no calls."""
    inner = getattr(connector, "source", connector)  # under the profile cache
    breaker = getattr(inner, "breaker", None) or getattr(
        getattr(inner, "client", None), "breaker", None
    )
    name = getattr(breaker, "name", None)
    return name if isinstance(name, str) else None


def _registry() -> Any:
    # Imported here, not at the module's import: see gateway/metrics.py.
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    try:  # prometheus_client reads PROMETHEUS_MULTIPROC_DIR itself, as for /metrics
        multiprocess.MultiProcessCollector(registry)
    except ValueError:  # a single process: its own registry
        return REGISTRY
    return registry


def ledger_calls(connector: Any, registry: Any = None) -> LedgerCalls | None:
    """The ledger connector's calls so far, or None when it reports none (no breaker)."""
    name = reporting_name(connector)
    if name is None:
        return None
    found = LedgerCalls(name)
    cumulative: dict[float, int] = {}
    for family in (registry or _registry()).collect():
        for sample in family.samples:
            if sample.labels.get("connector") != name:
                continue
            if sample.name == f"{PREFIX}_calls_total":
                outcome = sample.labels.get("outcome", "?")
                found.outcomes[outcome] = found.outcomes.get(outcome, 0) + int(sample.value)
            elif sample.name == f"{PREFIX}_seconds_bucket":
                bound = float(sample.labels["le"])
                cumulative[bound] = cumulative.get(bound, 0) + int(sample.value)
    found.buckets = sorted(cumulative.items())
    return found
