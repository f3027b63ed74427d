"""Which keys may serve: none that is a known placeholder, and none short or plain enough to guess.

Anyone who knows `secret_key` can sign an auth_token for any user offline and credit themselves;
anyone who knows a GetProfile api key reads every employee's profile. So `serve`, `token`, the
worker and `check` refuse such keys, unless the configuration says it is a demo
(`[gateway] demo = true`, as the bundled config/demo.toml does).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

from gateway.config import ConfigError, Settings

#: Keys we mint (the token secret, GetProfile and portal api keys) are at least this long.
MIN_KEY_LENGTH = 32
#: ...and made of at least this many different characters ("aaaa..." is not a key).
MIN_DISTINCT_CHARACTERS = 8
#: Values that ship in documents or examples: public, whatever their length.
PLACEHOLDERS = frozenset(
    {
        "",
        "change-me",
        "changeme",
        "change_me",
        "secret",
        "password",
        "replace-me",
        "replace-with-a-long-random-key",
        "demo-profile-key-1",
        "...",
        # The api_key of Xoxoday's own GetProfile sample (../shared/seeds): published.
        "5c720ad8bae86480c01abc0b3734dcfc9sndbjasbdjhabsjdbae",
    }
)
#: What to do about a refused key, said wherever one is refused.
FRESH_KEY = "`points-gateway secret` prints a fresh one"
#: A value starting with one of these reads like an instruction copied from an example and
#: never carried out ("set-GATEWAY_SECRET_KEY-in-the-environment", "your-key-here")...
PLACEHOLDER_PREFIXES = (
    "change-me",
    "change_me",
    "changeme",
    "replace",
    "your-",
    "your_",
    "set-",
    "set_",
    "put-",
    "put_",
    "insert-",
    "insert_",
    "fill-",
    "fill_",
    "todo",
    "<",
)
#: ...and one holding these anywhere does too (a random key holds none of them by chance).
PLACEHOLDER_WORDS = ("example", "placeholder", "changeme", "change-me", "-here", "_here")


def is_placeholder(value: str) -> bool:
    folded = value.strip().lower()
    return (
        folded in PLACEHOLDERS
        or folded.startswith(PLACEHOLDER_PREFIXES)
        or any(word in folded for word in PLACEHOLDER_WORDS)
    )


def key_problem(value: str, minted: bool = True) -> str | None:
    """Why `value` must not serve, or None. `minted`: a key we choose (length rules apply);
    otherwise one another system issued (only placeholders are refused)."""
    if not value.strip():
        return "is not set"
    if is_placeholder(value):
        return "is a placeholder from an example"
    if minted and len(value) < MIN_KEY_LENGTH:
        return f"is shorter than {MIN_KEY_LENGTH} characters"
    if minted and len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def weak_keys(settings: Settings) -> Iterator[str]:
    """`section.key: why` for every key of every program of `settings` that must not serve."""
    for program in settings.every_program().values():
        yield from _weak_keys_of(program)


def _weak_keys_of(settings: Settings) -> Iterator[str]:
    top = settings.program == "default"
    own, sections = ("gateway.", "") if top else (f"programs.{settings.program}.",) * 2
    *old, signing = settings.secret_keys
    named: list[tuple[str, str, bool]] = [(f"{own}secret_key", signing, True)]
    named += [(f"{own}old_secret_keys[{i}]", key, True) for i, key in enumerate(old)]
    named += [
        (f"{own}profile_api_keys[{i}]", key, True)
        for i, key in enumerate(settings.profile_api_keys)
    ]
    named += [
        (f"{sections}sso.portal_api_keys[{i}]", key, True)
        for i, key in enumerate(settings.sso["portal_api_keys"])
    ]
    if settings.xoxoday is not None:
        for name in ("client_secret", "access_token", "refresh_token"):
            if settings.xoxoday.get(name) is not None:
                named.append((f"{sections}xoxoday.{name}", settings.xoxoday[name], False))
    for name, value, minted in named:
        problem = key_problem(value, minted)
        if problem:
            yield f"{name} {problem}"


def require_strong_keys(settings: Settings) -> None:
    """Refuse, with one line naming the key, a configuration that would serve a guessable key."""
    if settings.demo:
        return
    for problem in weak_keys(settings):
        hint = FRESH_KEY
        if problem.startswith("gateway.secret_key"):
            hint += "; give it in GATEWAY_SECRET_KEY or a file GATEWAY_SECRET_KEY_FILE names"
        elif problem.startswith("gateway.profile_api_keys"):
            hint += "; GATEWAY_PROFILE_API_KEYS or GATEWAY_PROFILE_API_KEYS_FILE replace the list"
        if problem.endswith("is not set"):
            raise ConfigError(f"{problem}: nothing may serve without it ({hint})")
        raise ConfigError(f"{problem}: it would let anyone in ({hint})")


def new_key() -> str:
    """A fresh key: 48 random bytes, URL-safe (64 characters)."""
    return secrets.token_urlsafe(48)
