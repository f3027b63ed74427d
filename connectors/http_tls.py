"""Mutual TLS for the shared HTTP client: a client certificate presented on every connection a
connector makes (its OAuth2 token requests too: they go through the same client), and a CA
bundle to trust for a system whose certificate a private CA signed.

Three options of the `http` table: `client_cert` (a PEM file with the certificate, and with its
private key too when `client_key` is not given), `client_key` (the key's PEM file) and `ca_file`
(PEM CA certificates; without it, the public CAs requests trusts). The schema takes absolute
paths only: a relative one would be read from whatever folder the process runs in. Building the
client checks the files, so a mistake is one line at start naming its option, never a failed
handshake later: each file is there and readable; the certificate and key are PEM and belong
together; the key is not encrypted (OpenSSL would ask for its passphrase on the terminal); and a
file holding a private key is its owner's alone: one its group or others may read or write is
refused, as ssh refuses such a key. Messages name a file by its path and mode, never by what it
holds; the key is read by OpenSSL only.
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path
from typing import Any

import requests
from marshmallow import ValidationError, fields

from connectors.base import ConnectorConfigError

#: Permission bits a file holding a private key must not have (ssh's rule): group and others.
SHARED = stat.S_IRWXG | stat.S_IRWXO
KEY_MARK = b"PRIVATE KEY-----"  # BEGIN PRIVATE KEY, RSA/EC PRIVATE KEY, ENCRYPTED PRIVATE KEY


def tls_fields() -> tuple[fields.String, fields.String, fields.String]:
    """The `http` table's client_cert, client_key and ca_file options."""
    return (
        fields.String(load_default=None, validate=_absolute),
        fields.String(load_default=None, validate=_absolute),
        fields.String(load_default=None, validate=_absolute),
    )


def check_tls_options(_schema: Any, data: dict[str, Any], **_: Any) -> None:
    """A schema hook (validates_schema): a key file is given only with its certificate."""
    if data.get("client_key") and not data.get("client_cert"):
        raise ValidationError("give client_cert too", "client_key")


def _absolute(path: str) -> None:
    if not Path(path).is_absolute():
        raise ValidationError("give an absolute path")


def use_tls(
    session: requests.Session, cert: str | None, key: str | None, ca_file: str | None
) -> dict[str, Any]:
    """requests' `cert` and `verify` for these files, checked (ConnectorConfigError, naming the
    option at fault), and set on `session` too (a redirect followed within the origin keeps
    them). Every call passes them as well: an explicit `verify` is not overridden by the
    REQUESTS_CA_BUNDLE environment variable, as the session's own would be."""
    given: dict[str, Any] = {}
    if ca_file:
        _readable(ca_file, "ca_file")
        try:
            ssl.create_default_context(cafile=ca_file)
        except (ssl.SSLError, ValueError):
            raise _refused("ca_file", ca_file, "no CA certificate in PEM form in it") from None
        given["verify"] = session.verify = ca_file
    if cert:
        held = _readable(cert, "client_cert")
        if key:
            _readable(key, "client_key")
            _private(key, "client_key")
        if KEY_MARK in held:
            _private(cert, "client_cert")
        _pair(cert, key)
        given["cert"] = session.cert = (cert, key) if key else cert
    return given


def _readable(path: str, option: str) -> bytes:
    try:
        if Path(path).exists() and not Path(path).is_file():
            raise _refused(option, path, "not a file")
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise _refused(option, path, "no such file") from None
    except OSError as exc:
        raise _refused(option, path, f"cannot read it ({exc.strerror})") from None


def _private(path: str, option: str) -> None:
    """A file holding a private key is its owner's alone."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode & SHARED:
        raise _refused(
            option,
            path,
            f"holds a private key its group or others may read or write (mode {mode:04o}): "
            f"chmod 600 {path}",
        )


def _pair(cert: str, key: str | None) -> None:
    """The certificate and key load as OpenSSL will load them on connecting, which tells a
    mismatched, missing or encrypted key apart."""
    asked: list[bool] = []

    def no_passphrase() -> bytes:
        asked.append(True)
        return b""

    option, path = ("client_key", key) if key else ("client_cert", cert)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(cert, key, password=no_passphrase)
    except ssl.SSLError as exc:
        if asked:
            raise _refused(option, path, "the key is encrypted: give it decrypted") from None
        why = (exc.reason or "").upper()
        if "KEY_VALUES_MISMATCH" in why:
            raise _refused(option, path, "not the key of client_cert's certificate") from None
        if key is None and _has_cert(cert):
            raise _refused(option, path, "no private key in it: give client_key") from None
        raise _refused(option, path, "no certificate and key in PEM form in it") from None


def _has_cert(path: str) -> bool:
    return b"-----BEGIN CERTIFICATE-----" in Path(path).read_bytes()


def _refused(option: str, path: str | None, why: str) -> ConnectorConfigError:
    return ConnectorConfigError(f"{path}: {why}", option=f"http.{option}")


def why_not(exc: BaseException, client_cert: str | None) -> str:
    """Why a call could not reach its system, in a few words: a TLS failure said as such (no
    client certificate, one refused, a server certificate not trusted), else the error's name."""
    failure = _ssl_error(exc)
    if failure is None:
        return type(exc).__name__
    if isinstance(failure, ssl.SSLCertVerificationError):
        said = failure.verify_message or "certificate verify failed"
        return f"its TLS certificate is not trusted: {said}; http.ca_file names a CA to trust"
    said = _said(failure)
    if client_cert:
        return f"TLS handshake refused: {said}; is http.client_cert the one it expects?"
    return f"TLS handshake refused: {said}; no client certificate is set (http.client_cert)"


def _said(failure: ssl.SSLError) -> str:
    """OpenSSL's reason ("TLSV13_ALERT_CERTIFICATE_REQUIRED": "tlsv13 alert certificate
    required"), or the error's own words without their source line."""
    if failure.reason:
        return " ".join(failure.reason.lower().split("_"))
    words = str(failure.args[1] if len(failure.args) > 1 else failure)
    return words.split(" (_ssl.c")[0].strip() or type(failure).__name__


def _ssl_error(exc: BaseException | None, depth: int = 0) -> ssl.SSLError | None:
    """The ssl.SSLError beneath requests' and urllib3's wrappers, if any."""
    if exc is None or depth > 8:
        return None
    if isinstance(exc, ssl.SSLError):
        return exc
    inner = [getattr(exc, "reason", None), exc.__cause__, exc.__context__]
    inner += [arg for arg in exc.args if isinstance(arg, BaseException)]
    for found in (_ssl_error(e, depth + 1) for e in inner if isinstance(e, BaseException)):
        if found is not None:
            return found
    return None
