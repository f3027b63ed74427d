"""What every contract of the conformance kit shares (see connectors.testing)."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_DOWN, Decimal
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pytest
from marshmallow import Schema

from connectors.base import MAX_DECIMALS, Balance, Connector, ConnectorError, PointsLedger, Profile
from connectors.registry import GROUP

UNKNOWN_ID = "no-such-employee-000"
UNKNOWN_EMAIL = "nobody.at.all@example.invalid"

#: (what was called, the ConnectorError it raised): whatever it says may be logged or shown.
Errors = list[tuple[str, BaseException]]


class ConnectorContract:
    """What every connector owes, whatever its role."""

    @pytest.fixture
    def connector(self) -> Connector:
        raise NotImplementedError("the test class must define a `connector` fixture")

    @pytest.fixture
    def backend_down(self) -> Callable[[], None] | None:
        return None  # a connector without a backend to break skips the failure checks

    @pytest.fixture
    def secrets(self) -> Iterable[str]:
        return ()

    @pytest.fixture(autouse=True)
    def _every_logger_at_debug(self, caplog: pytest.LogCaptureFixture) -> None:
        """Every logger records from DEBUG up, from before the connector is built: a secret
        logged while building it, or only at DEBUG, is seen by the secret checks. (A logger
        that does not propagate to the root logger is not seen.)"""
        caplog.set_level(logging.DEBUG)
        for name, logger in list(logging.root.manager.loggerDict.items()):
            if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
                caplog.set_level(logging.DEBUG, logger=name)

    def test_options_are_a_marshmallow_schema(self, connector: Connector) -> None:
        assert issubclass(type(connector).options_schema, Schema)

    def test_is_found_by_its_entry_point(self, connector: Connector) -> None:
        cls = type(connector)
        assert any(_names(ep, cls) for ep in entry_points(group=GROUP)), (
            f"{cls.__name__} is not registered in the points_gateway.connectors "
            "entry-point group (pyproject.toml), so a configuration cannot name it"
        )

    def test_check_passes_when_the_system_is_up(self, connector: Connector) -> None:
        connector.check()

    def test_check_fails_with_a_connector_error_when_down(
        self, connector: Connector, backend_down: Callable[[], None] | None
    ) -> None:
        if backend_down is None:
            pytest.skip("no backend_down fixture")
        backend_down()
        with pytest.raises(ConnectorError):
            connector.check()


def _names(ep: EntryPoint, cls: type) -> bool:
    """Whether the entry point names `cls`: by its text, without importing anyone else's
    plugin (and showing its import-time warnings in the integrator's run), or else by loading
    it, its warnings kept out of the run."""
    if (ep.module, ep.attr) == (cls.__module__, cls.__qualname__):
        return True
    if ep.module.split(".")[0] != cls.__module__.split(".")[0]:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(ep.load() is cls)
        except Exception:  # a broken plugin is not this connector
            return False


def attempt(errors: Errors, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`; a ConnectorError is kept in `errors` (anything else fails the test: the
    gateway would answer 500)."""
    try:
        return fn(*args)
    except ConnectorError as exc:
        errors.append((what, exc))
        return None


def swallow(fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(ConnectorError):
        fn(*args)


def assert_no_secret(
    caplog: pytest.LogCaptureFixture, secrets: Iterable[str], errors: Errors | None = None
) -> None:
    """No secret in any log record of the test (its setup, where the connector was built,
    included) nor in any error the connector raised, or what caused it: the gateway logs and
    journals error messages, and a traceback shows their causes. Failures name the secret by
    its place in `secrets`, never by its text."""
    records = [*caplog.get_records("setup"), *caplog.records]
    plain = logging.Formatter("%(message)s")
    for n, secret in enumerate(secrets, 1):
        if not secret:
            continue
        for record in records:
            text = f"{plain.format(record)} {record.args!r}"
            assert secret not in text, (
                f"secret #{n} of the `secrets` fixture is in a log record: logger "
                f"{record.name!r} at {record.levelname}, {record.pathname}:{record.lineno}; "
                "log what is needed to find the call, never an option marked Secret"
            )
        for what, exc in errors or ():
            for link in _chain(exc):
                assert secret not in f"{link} {link.args!r}", (
                    f"secret #{n} of the `secrets` fixture is in the message of the "
                    f"{type(link).__name__} {'raised' if link is exc else 'behind the error'} "
                    f"by {what}: the gateway logs and journals error messages; build them "
                    "from the status and the system's answer, never from the request"
                )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and what a traceback of it shows behind it."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def available_of(connector: PointsLedger, profile: Profile) -> Decimal:
    """The member's available points, who must have a balance."""
    balance = connector.balance(profile)
    assert isinstance(balance, Balance), "a funded member has a balance"
    return balance.available


def places(connector: PointsLedger) -> int:
    """The decimal places the kit's amounts have at most: the ledger's `decimals`."""
    return MAX_DECIMALS if connector.decimals is None else connector.decimals


def fit(connector: PointsLedger, amount: str) -> Decimal:
    """`amount` cut to the ledger's precision, and at least its smallest unit."""
    unit = Decimal(1).scaleb(-places(connector))
    return Decimal(amount).quantize(unit, ROUND_DOWN) or unit
