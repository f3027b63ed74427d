"""A real OpenLDAP server for the tests: Debian's slapd, in a temporary folder, on a free port,
seeded with tests/fixtures/ldap/people.ldif (slapadd, before it starts), with TLS on `ldaps://`
and StartTLS from a self-signed certificate; always stopped and its folder removed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.certs import self_signed
from tests.servers import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ldap"
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")
BASE_DN = "dc=example,dc=com"
BIND_DN = "cn=points-gateway,ou=services,dc=example,dc=com"
BIND_PASSWORD = "ldap-bind-secret-7q9w"


def missing() -> str | None:
    """Why slapd cannot run here, or None."""
    if not Path(SLAPD).exists() or not Path(SLAPADD).exists():
        return "no slapd: apt-get install slapd (.ci/run does)"
    if not (SCHEMAS / "inetorgperson.schema").exists() or not (MODULES / "back_mdb.so").exists():
        return "slapd's schemas or back_mdb module are not where Debian puts them"
    return None


@dataclass
class Slapd:
    url: str  # ldap:// (StartTLS offered)
    ldaps_url: str
    ca_file: Path
    folder: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        _stop(self.proc)


CONFIG = """\
include {schemas}/core.schema
include {schemas}/cosine.schema
include {schemas}/inetorgperson.schema
include {fixtures}/ad.schema
pidfile {folder}/slapd.pid
modulepath {modules}
moduleload back_mdb
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
# Only bound users read, and nobody reads a password: the gateway must bind.
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
sizelimit 1000
database mdb
suffix "{base}"
rootdn "cn=admin,{base}"
directory {folder}/db
maxsize 104857600
"""


@contextmanager
def running(extra_ldif: str = "") -> Iterator[Slapd]:
    folder = Path(tempfile.mkdtemp(prefix="slapd-", dir="/tmp"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        (folder / "db").mkdir()
        key, cert = self_signed(rsa.generate_private_key(65537, 2048), "127.0.0.1", 2, "127.0.0.1")
        (folder / "server.key").write_bytes(key)
        (folder / "server.pem").write_bytes(cert)
        conf = folder / "slapd.conf"
        conf.write_text(
            CONFIG.format(
                schemas=SCHEMAS, fixtures=FIXTURES, folder=folder, modules=MODULES, base=BASE_DN
            )
        )
        ldif = folder / "seed.ldif"
        ldif.write_text((FIXTURES / "people.ldif").read_text() + "\n" + extra_ldif)
        subprocess.run([SLAPADD, "-f", str(conf), "-l", str(ldif)], check=True, capture_output=True)
        port, tls_port = free_port(), free_port()
        urls = f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
        log = (folder / "slapd.log").open("wb")
        # -d: stay in the foreground (and so in this process group's reach); level 0 logs little.
        proc = subprocess.Popen(
            [SLAPD, "-f", str(conf), "-h", urls, "-d", "0"],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        _wait_for(port, proc, folder)
        yield Slapd(
            f"ldap://127.0.0.1:{port}",
            f"ldaps://127.0.0.1:{tls_port}",
            folder / "server.pem",
            folder,
            proc,
        )
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def _wait_for(port: int, proc: subprocess.Popen[bytes], folder: Path) -> None:
    import socket

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"slapd exited: {(folder / 'slapd.log').read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("slapd did not listen in 15 s")
