"""Programs: several storefronts or client companies in one deployment (`[programs.<name>]`
tables, or one file per program in `[gateway] programs_dir`).

A program holds everything that is per company: its identity, profile and points connectors,
keys and token TTL, allowlist, Xoxoday and SSO settings, ledger policy, dialects and limits. It
inherits nothing of another program's, the top-level one's included: only what the deployment
shares (the journal's database, the server, the console, logging, body limits) comes from the
top. The top-level configuration, when it names a [profile], is the program "default".
"""

from __future__ import annotations

import copy
import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from gateway import environment
from gateway.config_errors import first_problem

#: A program's name: in URLs (/p/<name>/v1/...), metrics labels and the journal's rows.
PROGRAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DEFAULT = "default"
#: The keys of [gateway] that are each program's own.
PER_PROGRAM = (
    "secret_key",
    "old_secret_keys",
    "token_ttl_seconds",
    "profile_api_keys",
    "identity",
    "max_decimals",
    "max_amount",
    "refund_replay_window_seconds",
    "dialect",
    "dialects",
)
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9-]{1,63}$")


def program_schema() -> Schema:
    """A program's table: [gateway]'s per-company keys at its top, and its own sections."""
    from gateway.config import (
        ConnectorSection,
        GatewaySection,
        LedgerSection,
        NetworkSection,
        ProfileSection,
        SsoSection,
        XoxodaySection,
    )

    gateway = GatewaySection._declared_fields  # the same fields, validations and defaults
    own: dict[str, fields.Field] = {key: copy.deepcopy(gateway[key]) for key in PER_PROGRAM}
    own.update(
        # Host names it is also served on, without the /p/<name> prefix.
        hosts=fields.List(
            fields.String(validate=validate.Regexp(HOST_NAME, error="not a host name")),
            load_default=list,
        ),
        # Requests of this program served at once by one worker (0: no bound); beyond it, 503
        # `program_busy`, so one program's slow HR system or ledger cannot take every thread.
        max_concurrent_requests=fields.Integer(load_default=0, validate=validate.Range(min=0)),
        profile=fields.Nested(ProfileSection, required=True),
        points=fields.Nested(ConnectorSection, required=True),
        ledger=fields.Nested(LedgerSection, load_default=lambda: LedgerSection().load({})),
        xoxoday=fields.Nested(XoxodaySection, load_default=None),
        sso=fields.Nested(SsoSection, load_default=lambda: SsoSection().load({})),
        # Its callers; the proxies in front are the deployment's ([network] proxy_fix).
        network=fields.Nested(
            Schema.from_dict(
                {"allowlist": copy.deepcopy(NetworkSection._declared_fields["allowlist"])},
                name="ProgramNetwork",
            ),
            load_default=lambda: {"allowlist": []},
        ),
    )
    return Schema.from_dict(own, name="ProgramSchema")()


def env_name(program: str, key: str) -> str:
    """GATEWAY_PROGRAM_<NAME>_<KEY>: a program's secret from the environment."""
    return f"GATEWAY_PROGRAM_{program.upper().replace('-', '_')}_{key}"


def own_values(
    section: Mapping[str, Any], secret: str, api_keys: list[str] | None
) -> dict[str, Any]:
    """The Settings a program has of its own, read alike from its table and, for the default
    program, from [gateway]: its keys (`secret` and `api_keys` as the environment may give
    them), identity, money rules, dialects and request bound."""
    from gateway.config import ENDPOINTS

    return {
        "secret_keys": (*section["old_secret_keys"], secret),
        "token_ttl_seconds": section["token_ttl_seconds"],
        "profile_api_keys": tuple(section["profile_api_keys"] if api_keys is None else api_keys),
        "identity": section["identity"],
        "max_decimals": section["max_decimals"],
        "max_amount": section["max_amount"],
        "refund_replay_window_seconds": section["refund_replay_window_seconds"],
        "max_concurrent_requests": section["max_concurrent_requests"],
        "dialects": {e: section["dialects"].get(e, section["dialect"]) for e in ENDPOINTS},
    }


def program_settings(
    name: str, raw: Any, top: Any, base: Path, environ: Mapping[str, str], where: str
) -> Any:
    """The Settings of program `name` from its table `raw` (read from `where`: "programs.<name>"
    or a file's path), the deployment's shared settings taken from `top`."""
    from gateway.config import ConfigError, _connector, _profile_cache, _xoxoday

    if not PROGRAM_NAME.fullmatch(name) or name == DEFAULT:
        raise ConfigError(
            f"{where}: a program's name is 1-32 lowercase letters, digits, - and _, and not "
            f"{DEFAULT!r} (the top-level configuration's)"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a program is a table")
    schema = program_schema()
    try:
        data = schema.load(raw)
    except ValidationError as exc:
        raise ConfigError(first_problem(exc.normalized_messages(), where, schema)) from None
    try:
        secret = environment.secret(environ, env_name(name, "SECRET_KEY")) or data["secret_key"]
        keys = environment.secret_list(environ, env_name(name, "PROFILE_API_KEYS"))
    except environment.SecretUnavailable as exc:
        raise ConfigError(str(exc)) from None
    profile = _connector(f"{where}.profile", data["profile"], base)
    return dataclasses.replace(
        top,
        program=name,
        hosts=tuple(h.lower() for h in data["hosts"]),
        **own_values(data, secret, keys),
        profile=profile,
        points=_connector(f"{where}.points", data["points"], base),
        profile_cache=_profile_cache(data["profile"], profile),
        ledger=data["ledger"],
        xoxoday=_xoxoday(data["xoxoday"]),
        sso=data["sso"],
        network={**top.network, "allowlist": data["network"]["allowlist"]},
        programs={},
        serves_default=False,
    )


def programs_of(
    tables: dict[str, Any], folder: Path | None, top: Any, base: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Every program: the [programs.<name>] tables, then one per `<name>.toml` in `folder`."""
    from gateway.config import ConfigError

    found = {
        name: program_settings(name, raw, top, base, environ, f"programs.{name}")
        for name, raw in tables.items()
    }
    for path, name in program_files(folder):
        if name in found:
            raise ConfigError(f"{path}: program {name!r} is also a [programs.{name}] table")
        found[name] = read_program_file(path, name, top, environ)
    refuse_shared_hosts(found)
    return found


def refuse_shared_hosts(programs: Mapping[str, Any]) -> None:
    """A host name is one program's: ConfigError naming the second program that lists it."""
    from gateway.config import ConfigError

    hosts: dict[str, str] = {}
    for name, settings in programs.items():
        for host in settings.hosts:
            if host in hosts:
                raise ConfigError(
                    f"programs.{name}.hosts: {host} is program {hosts[host]!r}'s already"
                )
            hosts[host] = name


def program_files(folder: Path | None) -> list[tuple[Path, str]]:
    """(path, program name) of each `<name>.toml` in `folder`, by name."""
    if folder is None:
        return []
    return [(path, path.stem) for path in sorted(folder.glob("*.toml")) if path.is_file()]


def read_program_file(path: Path, name: str, top: Any, environ: Mapping[str, str]) -> Any:
    from gateway.config import ConfigError

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return program_settings(name, raw, top, path.parent, environ, str(path))
