"""Configuration: one TOML file plus a few environment overrides, validated once.

Everything below reads `Settings`; no other module looks at files or environment variables.
A problem is reported as one `ConfigError` line naming the key, e.g.
`gateway.token_ttl_seconds: Not a valid integer.`
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from connectors.base import IDENTITY_FIELDS, IdentityField
from connectors.cache import CacheOptions
from connectors.registry import (
    BadOptions,
    UnknownConnector,
    connector_class,
    secret_values,
    secrets_in,
    validate_options,
)
from gateway import environment
from gateway.config_errors import first_problem
from gateway.network import NetworkSection
from gateway.programs_config import own_values, programs_of
from gateway.service.ledger_ops import LedgerPolicy
from gateway.xoxoday.settings import BASE_URLS, SsoSection, XoxodaySection

#: Where the packaged demo lives: `make run` serves it; nothing falls back to it unasked.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO_ROOT / "config" / "demo.toml"
MAX_SUPPORTED_DECIMALS = 4  # the journal keeps amounts in ten-thousandths of a point
DIALECTS = ("legacy", "current")
ENDPOINTS = ("balance", "profile", "redeem", "refund")


class ConfigError(Exception):
    """A configuration that cannot run; str() is the one line shown to the operator."""


class GatewaySection(Schema):
    # A public demo: its keys are known to everyone, and it may serve them (see gateway/keys.py).
    demo = fields.Boolean(load_default=False)
    # Better given by GATEWAY_SECRET_KEY or GATEWAY_SECRET_KEY_FILE than kept in the file.
    secret_key = fields.String(load_default="")
    # Keys that still verify tokens but no longer sign them: rotate without logging users out.
    old_secret_keys = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    token_ttl_seconds = fields.Integer(load_default=86400, validate=validate.Range(min=1))
    profile_api_keys = fields.List(
        fields.String(validate=validate.Length(min=8)), load_default=list
    )
    database_url = fields.String(load_default="sqlite:///var/journal.db")
    # PostgreSQL only: the schema of the journal's tables, so they need not share `public` with
    # other applications' tables ("": the search path's first, normally public).
    database_schema = fields.String(
        load_default="", validate=validate.Regexp(r"^([a-z_][a-z0-9_]{0,62})?$")
    )
    # PostgreSQL only: `serve` upgrades the journal's schema itself. Off by default: several
    # hosts must not race a migration; run `points-gateway db upgrade` once instead.
    auto_migrate = fields.Boolean(load_default=False)
    identity = fields.String(load_default="employee_id", validate=validate.OneOf(IDENTITY_FIELDS))
    max_decimals = fields.Integer(
        load_default=2, validate=validate.Range(min=0, max=MAX_SUPPORTED_DECIMALS)
    )
    # At most 10^12: amounts then fit the journal's integers, and every sum of them stays exact.
    max_amount = fields.Decimal(
        load_default=Decimal("10000000"),
        validate=validate.Range(min=Decimal(1), max=Decimal(10) ** 12),
    )
    # A refund identical in order, amount and comments to one accepted this many seconds ago
    # is answered as a replay (0: only a refund that would pass the order's amount is).
    refund_replay_window_seconds = fields.Float(load_default=0.0, validate=validate.Range(min=0))
    max_body_bytes = fields.Integer(load_default=64 * 1024, validate=validate.Range(min=1024))
    log_level = fields.String(
        load_default="INFO", validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"])
    )
    # json: one object per line (request lines carry request_id, endpoint, outcome, duration)
    log_format = fields.String(load_default="json", validate=validate.OneOf(["json", "text"]))
    # Which shapes the StoreFront endpoints read and answer: the seed documents' ("legacy") or
    # Xoxoday's newer ones ("current"); `dialects` sets one endpoint apart.
    dialect = fields.String(load_default="legacy", validate=validate.OneOf(DIALECTS))
    dialects = fields.Dict(
        keys=fields.String(validate=validate.OneOf(ENDPOINTS)),
        values=fields.String(validate=validate.OneOf(DIALECTS)),
        load_default=dict,
    )
    # A folder of programs, one `<name>.toml` each (see [programs.<name>]), read again when a
    # file in it changes, without a restart.
    programs_dir = fields.String(load_default=None)
    # Requests of the default program served at once by one worker (0: no bound); beyond it,
    # 503 program_busy, so one program cannot take every thread of a shared deployment.
    max_concurrent_requests = fields.Integer(load_default=0, validate=validate.Range(min=0))


class ConnectorSection(Schema):
    connector = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), load_default=dict)


class ProfileSection(ConnectorSection):
    # Profiles (never points) may be cached; on by default for remote connectors.
    cache = fields.Nested(CacheOptions, load_default=lambda: CacheOptions().load({}))


class ServerSection(Schema):
    bind = fields.String(load_default="127.0.0.1:8000")
    workers = fields.Integer(load_default=2, validate=validate.Range(min=1, max=64))
    # Threads per worker process (gunicorn's gthread workers when above 1): a request waiting
    # on a remote ledger or HR system, or a client sending slowly, then does not hold a whole
    # process. 1 gives sync workers, which a few slow clients can stall.
    threads = fields.Integer(load_default=16, validate=validate.Range(min=1, max=256))
    timeout = fields.Integer(load_default=30, validate=validate.Range(min=1))
    # A request body that has not fully arrived this long after the view began reading it is
    # answered 408, and its thread freed.
    body_timeout_seconds = fields.Float(load_default=10.0, validate=validate.Range(min=0.1))
    # TLS in gunicorn itself, when both are given (else terminate TLS in a proxy).
    certfile = fields.String(load_default=None)
    keyfile = fields.String(load_default=None)


class LedgerSection(Schema):
    """How the gateway works with a points ledger; the defaults are LedgerPolicy's."""

    wait_seconds = fields.Float(
        load_default=LedgerPolicy.wait_seconds, validate=validate.Range(min=0, max=60)
    )
    settle_seconds = fields.Float(
        load_default=LedgerPolicy.settle_seconds, validate=validate.Range(min=0)
    )
    lease_seconds = fields.Float(
        load_default=LedgerPolicy.lease_seconds, validate=validate.Range(min=1)
    )
    retry_base_seconds = fields.Float(
        load_default=LedgerPolicy.retry_base_seconds, validate=validate.Range(min=0.01)
    )
    retry_max_seconds = fields.Float(
        load_default=LedgerPolicy.retry_max_seconds, validate=validate.Range(min=0.01)
    )
    orphan_grace_seconds = fields.Float(
        load_default=LedgerPolicy.orphan_grace_seconds, validate=validate.Range(min=0)
    )
    orphan_policy = fields.String(
        load_default=LedgerPolicy.orphan_policy, validate=validate.OneOf(["refund", "report"])
    )
    reference_prefix = fields.String(
        load_default=LedgerPolicy.reference_prefix,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._:-]{0,32}$",
            error="letters, digits and . _ : - only, at most 32 of them",
        ),
    )
    # `serve` runs the worker (owed refunds, unsettled debits) in the background too
    worker_in_serve = fields.Boolean(load_default=True)
    worker_interval_seconds = fields.Float(load_default=2.0, validate=validate.Range(min=0.05))
    worker_threads = fields.Integer(load_default=4, validate=validate.Range(min=1, max=64))


class ConsoleSection(Schema):
    # The operator console at /console/ (gateway/console): off unless enabled.
    enabled = fields.Boolean(load_default=False)
    # A session ends this long after login, however busy.
    session_minutes = fields.Integer(load_default=30, validate=validate.Range(min=1, max=1440))
    # ...and this long after its last request.
    idle_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=1440))
    # Behind an authenticating proxy: the header naming the operator (an existing one).
    trusted_user_header = fields.String(load_default="")
    # Failed logins per account and per address before they wait lockout_seconds.
    max_failures = fields.Integer(load_default=5, validate=validate.Range(min=1))
    lockout_seconds = fields.Integer(load_default=300, validate=validate.Range(min=1))
    # Session cookies only over HTTPS; false only to try the console over plain HTTP locally.
    secure_cookies = fields.Boolean(load_default=True)


class ConfigSchema(Schema):
    gateway = fields.Nested(GatewaySection, required=True)
    # The default program's connectors: required unless the deployment has programs.
    profile = fields.Nested(ProfileSection, load_default=None)
    points = fields.Nested(ConnectorSection, load_default=None)
    # One table per program: gateway/programs_config.py reads each.
    programs = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    server = fields.Nested(ServerSection, load_default=lambda: ServerSection().load({}))
    ledger = fields.Nested(LedgerSection, load_default=lambda: LedgerSection().load({}))
    xoxoday = fields.Nested(XoxodaySection, load_default=None)  # for the SSO launch
    sso = fields.Nested(SsoSection, load_default=lambda: SsoSection().load({}))
    network = fields.Nested(NetworkSection, load_default=lambda: NetworkSection().load({}))
    console = fields.Nested(ConsoleSection, load_default=lambda: ConsoleSection().load({}))


@dataclass(frozen=True)
class ConnectorSettings:
    name: str
    options: dict[str, Any]
    secrets: tuple[str, ...] = ()  # option values to redact from logs
    remote: bool = False  # the connector class calls another system (its `remote`)


@dataclass(frozen=True)
class Settings:
    source: Path
    secret_keys: tuple[str, ...]  # oldest first, the signing key last (itsdangerous' order)
    token_ttl_seconds: int
    profile_api_keys: tuple[str, ...]
    database_url: str
    identity: IdentityField
    max_decimals: int
    max_amount: Decimal
    max_body_bytes: int
    log_level: str
    log_format: str
    dialects: dict[str, str]  # endpoint -> "legacy" | "current"
    profile: ConnectorSettings
    points: ConnectorSettings
    profile_cache: dict[str, Any] | None  # CachedProfiles options, or None for no cache
    bind: str
    workers: int
    threads: int
    timeout: int
    ledger: dict[str, Any]
    xoxoday: dict[str, Any] | None  # with `base_url` resolved; None: no SSO launch
    sso: dict[str, Any]
    network: dict[str, Any]
    tls: tuple[str, str] | None  # (certfile, keyfile) for gunicorn
    demo: bool = False  # the configuration says it is a public demo
    body_timeout_seconds: float = 10.0
    refund_replay_window_seconds: float = 0.0
    database_schema: str | None = None  # PostgreSQL: the journal's schema
    console: dict[str, Any] = field(default_factory=lambda: ConsoleSection().load({}))
    auto_migrate: bool = False
    #: Which program these are (the top-level configuration is "default").
    program: str = "default"
    hosts: tuple[str, ...] = ()  # host names it is served on without the /p/<name> prefix
    max_concurrent_requests: int = 0
    #: The deployment's other programs, by name (on the top-level settings only).
    programs: dict[str, Settings] = field(default_factory=dict)
    programs_dir: Path | None = None
    #: False: the top level names no connectors, so no default program (the unprefixed paths
    #: answer 404); its own connector settings are then placeholders nothing builds.
    serves_default: bool = True

    def dialect_for(self, endpoint: str) -> str:
        return self.dialects.get(endpoint, "legacy")

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never reach a log line (every program's)."""
        return (
            *self.secret_keys,
            *self.profile_api_keys,
            *self.profile.secrets,
            *self.points.secrets,
            *(secrets_in(XoxodaySection(), self.xoxoday) if self.xoxoday else ()),
            *secrets_in(SsoSection(), self.sso),
            *(value for program in self.programs.values() for value in program.secrets()),
        )

    def every_program(self) -> dict[str, Settings]:
        """Each program this deployment serves, the default one first when it has one."""
        own = {self.program: self} if self.serves_default else {}
        return {**own, **self.programs}


def resolve_database_url(url: str, base: Path) -> str:
    """Make a relative SQLite path relative to `base`; give bare postgresql:// our driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"gateway.database_url: not a database URL ({exc})") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername.startswith("sqlite"):
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:") and not Path(db).is_absolute():
            parsed = parsed.set(database=str((base / db).resolve()))
    elif not parsed.drivername.startswith("postgresql"):
        raise ConfigError(
            f"gateway.database_url: {parsed.drivername!r} is not SQLite or PostgreSQL"
        )
    return parsed.render_as_string(hide_password=False)


def _connector(section: str, raw: dict[str, Any], base: Path) -> ConnectorSettings:
    try:
        cls = connector_class(raw["connector"])
        options = validate_options(cls, raw["options"], base)
    except UnknownConnector as exc:
        raise ConfigError(f"{section}.connector: {exc}") from None
    except BadOptions as exc:
        schema = cls.options_schema()
        raise ConfigError(first_problem(exc.messages, f"{section}.options", schema)) from None
    return ConnectorSettings(raw["connector"], options, secret_values(cls, options), cls.remote)


def _profile_cache(raw: dict[str, Any], profile: ConnectorSettings) -> dict[str, Any] | None:
    options = dict(raw["cache"])
    enabled = options.pop("enabled")
    return options if (profile.remote if enabled is None else enabled) else None


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read, validate and resolve the configuration; raise ConfigError with one clear line."""
    environ = environ if environ is not None else {}
    given = path or environ.get("GATEWAY_CONFIG")
    if not given:
        raise ConfigError(
            "no configuration: give --config FILE or set GATEWAY_CONFIG "
            f"(the demo is {DEMO_CONFIG}; `make run` serves it)"
        )
    path = Path(given)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        data = ConfigSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(first_problem(exc.normalized_messages(), "", ConfigSchema())) from None
    base = path.resolve().parent
    gw = data["gateway"]
    folder = (base / gw["programs_dir"]).resolve() if gw["programs_dir"] else None
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"gateway.programs_dir: {folder} is not a folder")
    serves_default = data["profile"] is not None or data["points"] is not None
    if not serves_default and not (data["programs"] or folder):
        raise ConfigError("profile: Missing data for required field.")
    for section in ("profile", "points"):
        if serves_default and data[section] is None:
            raise ConfigError(f"{section}: Missing data for required field.")
    placeholder = {"connector": "csv", "options": {}, "cache": {"enabled": False}}
    profile = (
        _connector("profile", data["profile"], base)
        if serves_default
        else ConnectorSettings("none", {})
    )
    try:
        secret = environment.secret(environ, "GATEWAY_SECRET_KEY") or gw["secret_key"]
        profile_keys = environment.secret_list(environ, "GATEWAY_PROFILE_API_KEYS")
        given_url = environment.secret(environ, "GATEWAY_DATABASE_URL")
    except environment.SecretUnavailable as exc:
        raise ConfigError(str(exc)) from None
    if given_url is not None:
        database_url = resolve_database_url(given_url, Path.cwd())
    else:
        database_url = resolve_database_url(gw["database_url"], base)
    if gw["database_schema"] and make_url(database_url).get_backend_name() != "postgresql":
        raise ConfigError("gateway.database_schema: only a PostgreSQL journal has schemas")
    top = Settings(
        source=path,
        **own_values(gw, secret, profile_keys),
        database_url=database_url,
        max_body_bytes=gw["max_body_bytes"],
        log_level=gw["log_level"],
        log_format=gw["log_format"],
        profile=profile,
        points=(
            _connector("points", data["points"], base)
            if serves_default
            else ConnectorSettings("none", {})
        ),
        profile_cache=_profile_cache(data["profile"] or placeholder, profile),
        bind=data["server"]["bind"],
        workers=data["server"]["workers"],
        threads=data["server"]["threads"],
        timeout=data["server"]["timeout"],
        ledger=data["ledger"],
        xoxoday=_xoxoday(data["xoxoday"]),
        sso=data["sso"],
        network=data["network"],
        tls=_tls(data["server"], base),
        database_schema=gw["database_schema"] or None,
        auto_migrate=gw["auto_migrate"],
        console=data["console"],
        demo=gw["demo"],
        body_timeout_seconds=data["server"]["body_timeout_seconds"],
        programs_dir=folder,
        serves_default=serves_default,
    )
    programs = programs_of(data["programs"], folder, top, base, environ)
    return dataclasses.replace(top, programs=programs) if programs else top


def _tls(server: dict[str, Any], base: Path) -> tuple[str, str] | None:
    cert, key = server["certfile"], server["keyfile"]
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError("server: give both certfile and keyfile for TLS, or neither")
    paths = tuple(str((base / p).resolve()) for p in (cert, key))
    for option, path in zip(("certfile", "keyfile"), paths, strict=True):
        if not Path(path).is_file():
            raise ConfigError(f"server.{option}: {path} is not a file")
    return paths  # type: ignore[return-value]


def _xoxoday(section: dict[str, Any] | None) -> dict[str, Any] | None:
    if section is None:
        return None
    return {**section, "base_url": section["base_url"] or BASE_URLS[section["environment"]]}
