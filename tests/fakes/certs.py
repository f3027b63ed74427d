"""Self-signed certificates for tests: an OAuth client's key pair, a TLS server's."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID


def self_signed(
    key: Any, common_name: str, days: int, ip: str | None = None, dns: str | None = None
) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) for `key`, valid from yesterday for `days` days;
    `ip` or `dns` adds it as the certificate's subject alternative name, as TLS clients
    check."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    names: list[x509.GeneralName] = []
    if ip is not None:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    if dns is not None:
        names.append(x509.DNSName(dns))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)
