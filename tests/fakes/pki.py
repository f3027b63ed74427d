"""A small PKI for tests of mutual TLS: a CA, a server certificate for 127.0.0.1 it signed,
client certificates it signed, and certificates nobody trusts, each written as PEM files the way
an operator keeps them (a key readable by its owner only, mode 0600)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_ONLY = 0o600


@dataclass(frozen=True)
class Issued:
    """One certificate's files: the certificate, its key, and both in one file."""

    cert: Path
    key: Path
    both: Path
    name: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_private(path: Path, data: bytes, mode: int = KEY_ONLY) -> Path:
    """`data` in a file created with `mode` (never readable by others on its way there)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.chmod(path, mode)
    return path


class Pki:
    """A CA in `folder`, and what it issues there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca_key, self.ca_cert = self._make("points-gateway test CA", None, ca=True)
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    def server(self, ip: str = "127.0.0.1") -> Issued:
        return self._files(
            "server", *self._make(ip, self, ip=ip, usage=ExtendedKeyUsageOID.SERVER_AUTH)
        )

    def client(self, name: str = "points-gateway-client") -> Issued:
        made = self._make(name, self, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        return self._files(name, *made)

    def stranger(self, name: str = "nobody-signed-this") -> Issued:
        """A client certificate the CA never signed (self-signed)."""
        return self._files(name, *self._make(name, None, usage=ExtendedKeyUsageOID.CLIENT_AUTH))

    def server_context(self, require_client_cert: bool = True) -> ssl.SSLContext:
        """A TLS server's context with the server certificate, asking clients for one this CA
        signed (ssl.CERT_REQUIRED)."""
        issued = self.server()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert, issued.key)
        context.load_verify_locations(self.ca_file)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_NONE
        return context

    def encrypted_key(self, issued: Issued, password: bytes) -> Path:
        key = serialization.load_pem_private_key(issued.key.read_bytes(), None)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        return write_private(self.folder / f"{issued.name}.encrypted.key", pem)

    def _make(
        self,
        common_name: str,
        issuer: Pki | None,
        ca: bool = False,
        ip: str | None = None,
        usage: Any = None,
    ) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        signer, issuer_name = (issuer.ca_key, issuer.ca_cert.subject) if issuer else (key, None)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(issuer_name or _name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage_bits = {"key_cert_sign": True, "crl_sign": True, "digital_signature": True}
            builder = builder.add_extension(
                x509.KeyUsage(
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                    **usage_bits,
                ),
                critical=True,
            )
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        elif issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.ca_key.public_key()),
                critical=False,
            )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if ip is not None:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))])
            builder = builder.add_extension(san, critical=False)
        return key, builder.sign(signer, hashes.SHA256())

    def _files(self, name: str, key: Any, cert: x509.Certificate) -> Issued:
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_path = self.folder / f"{name}.pem"
        cert_path.write_bytes(cert_pem)
        return Issued(
            cert=cert_path,
            key=write_private(self.folder / f"{name}.key", key_pem),
            both=write_private(self.folder / f"{name}.both.pem", cert_pem + key_pem),
            name=name,
        )
