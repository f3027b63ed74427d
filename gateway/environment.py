"""Secrets from the environment: `GATEWAY_<NAME>`, or `GATEWAY_<NAME>_FILE` naming a file that
holds it (the Docker and Kubernetes secrets convention: /run/secrets/...). A configuration file
need hold no secret at all; a value given here wins over the file's."""

from __future__ import annotations

from collections.abc import Mapping


class SecretUnavailable(Exception):
    """A variable that cannot be used; str() is one line that never quotes a secret."""


def secret(environ: Mapping[str, str], name: str) -> str | None:
    """The value of `name` or of the file `name`_FILE names (its trailing newline dropped);
    None when neither is set."""
    given, path = environ.get(name), environ.get(f"{name}_FILE")
    if given is not None and path is not None:
        raise SecretUnavailable(f"{name} and {name}_FILE are both set: set one of them")
    if path is None:
        return given
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().rstrip("\r\n")
    except OSError as exc:
        raise SecretUnavailable(f"{name}_FILE: cannot read {path} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{name}_FILE: {path} is not UTF-8 text") from None


def secret_list(environ: Mapping[str, str], name: str) -> list[str] | None:
    """A list of keys: one per line, or separated by commas."""
    text = secret(environ, name)
    if text is None:
        return None
    return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]
