"""create_app: configuration -> connectors -> service -> blueprints."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask

from connectors.base import ConnectorConfigError, GrantsSource, PointsLedger, ProfileSource
from connectors.cache import CachedProfiles
from connectors.registry import ConnectorFactory
from gateway import api, console, logs, network
from gateway.auth import TOKEN_SALT, ApiKeys, TokenAuthority
from gateway.config import ConfigError, ConnectorSettings, Settings, load_settings
from gateway.journal import Journal
from gateway.keys import require_strong_keys
from gateway.programs import Programs
from gateway.sealed import Sealer
from gateway.service import MoneyPolicy, PointsService
from gateway.service.ledger import LedgerPointsService
from gateway.service.ledger_ops import LedgerPolicy
from gateway.service.sso import SsoService
from gateway.xoxoday.client import XoxodayApi
from gateway.xoxoday.tokens import TokenPair, TokenStore

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Gateway:
    """Everything a request needs, built once per process from the settings."""

    settings: Settings
    service: PointsService
    tokens: TokenAuthority
    api_keys: ApiKeys
    journal: Journal
    connectors: ConnectorFactory
    #: the profile cache, when configured: its counts are shown by /readyz
    profile_cache: CachedProfiles | None = None
    sso: SsoService | None = None  # with [xoxoday] configured
    portal_keys: ApiKeys | None = None
    stop_worker: threading.Event | None = None  # set: the background ledger worker stops
    #: False: the journal is shared with the deployment's other programs, closed with them.
    owns_journal: bool = True
    allowed: tuple[Any, ...] = ()  # the addresses its allowlist lets in (none: anyone)
    #: On the gateway the app keeps first: every program, closed with it (and the journal).
    programs: Programs | None = None

    def start_ledger_worker(self) -> None:
        """The background worker, when the points live in a ledger and the config wants it."""
        from gateway.service.worker import Worker

        if (
            isinstance(self.service, LedgerPointsService)
            and self.settings.ledger["worker_in_serve"]
        ):
            ledger = self.settings.ledger
            worker = Worker(
                self.service, ledger["worker_interval_seconds"], ledger["worker_threads"]
            )
            self.stop_worker = worker.start_thread()

    def close(self) -> None:
        if self.stop_worker is not None:
            self.stop_worker.set()
        self.connectors.close()
        if self.sso is not None:
            self.sso.xoxoday.close()
        others = (
            [g for g in self.programs.by_name.values() if g is not self] if self.programs else []
        )
        for other in others:
            other.close()
        if self.owns_journal:
            self.journal.dispose()


def _role(
    factory: ConnectorFactory,
    role: str,
    conf: ConnectorSettings,
    kind: type[T] | tuple[type[Any], ...],
) -> T:
    try:
        connector = factory.build(conf.name, conf.options)
    except ConnectorConfigError as exc:
        if exc.option is None:
            raise
        raise ConfigError(f"{role}.options.{exc.option}: {exc}") from exc
    if not isinstance(connector, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ConfigError(f"{role}.connector: {conf.name!r} cannot serve as a {names}")
    return connector


def _precision(settings: Settings, ledger: PointsLedger) -> str | None:
    """Why the gateway would accept amounts the ledger cannot hold (its `decimals`), or None."""
    places = ledger.decimals
    if places is None or settings.max_decimals <= places:
        return None
    return (
        f"gateway.max_decimals: {settings.max_decimals}, but the points ledger "
        f"{settings.points.name!r} keeps {places} decimal places: an amount such as "
        f"{Decimal(1).scaleb(-settings.max_decimals)} would be accepted and then refused or "
        f"rounded by it; set max_decimals = {places}"
    )


def token_authority(settings: Settings) -> TokenAuthority:
    """Issues and verifies auth tokens; email identities match whatever their case. A token is
    its program's alone: each program signs with a salt of its own (the default program's is
    the one every release before programs used), so another program refuses it even for the
    same unique_id under the same secret text."""
    salt = TOKEN_SALT if settings.program == "default" else f"{TOKEN_SALT}/{settings.program}"
    return TokenAuthority(
        settings.secret_keys,
        settings.token_ttl_seconds,
        fold_case=settings.identity == "email",
        salt=salt,
    )


def journal_for(settings: Settings) -> Journal:
    """The configured journal, bound to `settings`' program."""
    return Journal(settings.database_url, settings.database_schema).for_program(settings.program)


def build_gateway(settings: Settings, journal: Journal | None = None) -> Gateway:
    """Connectors, journal and service for `settings` (also used by the CLI, without Flask);
    `journal`: a journal bound to this program, sharing another's engines (not closed here)."""
    factory = ConnectorFactory()
    owns_journal = journal is None
    journal = journal if journal is not None else journal_for(settings)
    profiles: ProfileSource = _role(factory, "profile", settings.profile, ProfileSource)
    cache = None
    if settings.profile_cache is not None:
        profiles = cache = CachedProfiles(profiles, **settings.profile_cache)
    money = MoneyPolicy(settings.max_decimals, settings.max_amount)
    identity = settings.identity
    points: GrantsSource | PointsLedger = _role(
        factory, "points", settings.points, (GrantsSource, PointsLedger)
    )
    window = settings.refund_replay_window_seconds
    service: PointsService
    if isinstance(points, PointsLedger) and (problem := _precision(settings, points)):
        factory.close()
        if owns_journal:
            journal.dispose()
        raise ConfigError(problem)
    if isinstance(points, PointsLedger):
        policy = LedgerPolicy(**{f.name: settings.ledger[f.name] for f in fields(LedgerPolicy)})
        service = LedgerPointsService(profiles, points, journal, identity, money, policy, window)
    else:
        service = PointsService(profiles, points, journal, identity, money, window)
    api_keys = ApiKeys(settings.profile_api_keys)
    tokens = token_authority(settings)
    gateway = Gateway(settings, service, tokens, api_keys, journal, factory, cache)
    gateway.owns_journal = owns_journal
    gateway.allowed = network.networks(settings.network["allowlist"])
    if settings.xoxoday is not None:
        gateway.sso = SsoService(
            profiles, tokens, xoxoday_api(settings, journal), settings.sso, identity
        )
        gateway.portal_keys = ApiKeys(settings.sso["portal_api_keys"])
    return gateway


def xoxoday_api(settings: Settings, journal: Journal) -> XoxodayApi:
    """Xoxoday's API, its tokens kept (and refreshed by one at a time) in the journal."""
    conf = settings.xoxoday
    assert conf is not None
    seed = TokenPair(conf["access_token"], conf["refresh_token"]) if conf["access_token"] else None
    return XoxodayApi(
        conf["base_url"],
        conf["client_id"],
        conf["client_secret"],
        TokenStore(journal, Sealer(settings.secret_keys)),
        seed,
        conf["refresh_margin_seconds"],
        conf["http"],
    )


def create_app(settings: Settings | str | Path | None = None) -> Flask:
    """The WSGI app. Without settings, reads the file GATEWAY_CONFIG names, and refuses one
    that would serve a guessable key (given Settings, the caller has checked them)."""
    if not isinstance(settings, Settings):
        settings = load_settings(settings, environ=os.environ)
        require_strong_keys(settings)
    logs.configure(settings.log_level, settings.secrets(), settings.log_format == "json")
    from gateway import metrics  # here, not at import: see gateway/metrics.py

    metrics.install()
    if settings.demo:
        log.warning("%s is a demo configuration: its keys are public", settings.source)
    shared = Journal(settings.database_url, settings.database_schema)
    shared.require_schema(settings.auto_migrate)
    programs = Programs(
        settings, lambda each: build_gateway(each, shared.for_program(each.program))
    )
    # The default program (the first one when there is none) is what the console and the
    # health pages read; a request finds its own program first (gateway/api/programs.py).
    gateway = programs.default or next(iter(programs.by_name.values()))
    gateway.owns_journal, gateway.programs = True, programs

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        BODY_TIMEOUT_SECONDS=settings.body_timeout_seconds,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers keep the seed's key order
    app.extensions["points_gateway"] = gateway
    app.extensions["points_gateway_programs"] = programs
    api.register(app)
    console.register(app, gateway)
    network.install(app, settings.network)
    return app
