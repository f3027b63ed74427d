"""SuccessFactors credentials: OAuth 2.0 SAML bearer (signed here), or Basic for old tenants.

The SAML bearer flow: build a SAML 2.0 assertion (Issuer = client id, NameID = the API user,
Audience www.successfactors.com, Recipient = the token URL), sign it with the private key of
the X.509 certificate registered for the OAuth client, and exchange it at `/oauth/token`. SAP
removed the server-side `/oauth/idp` helper, so the assertion is signed locally (signxml).
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lxml import etree
from signxml import XMLSigner, methods

from connectors.base import UpstreamAuthFailed, UpstreamError
from connectors.http import HttpClient

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
AUDIENCE = "www.successfactors.com"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:saml2-bearer"
ASSERTION_LIFETIME = timedelta(minutes=10)
#: Refresh a token this long before SuccessFactors says it expires (tokens live 24 h).
EXPIRY_MARGIN_SECONDS = 300
#: After a refused token exchange the next waits 1 s, then twice as long each time, up to this.
MAX_REFUSAL_WAIT = 300.0


def saml_assertion(
    client_id: str,
    user_id: str,
    token_url: str,
    private_key_pem: bytes,
    certificate_pem: bytes,
    now: datetime | None = None,
) -> bytes:
    """The signed assertion, as XML bytes."""
    now = now or datetime.now(UTC)
    stamp = _xml_time(now)
    until = _xml_time(now + ASSERTION_LIFETIME)
    assertion_id = "_" + uuid.uuid4().hex
    root = etree.Element(
        f"{{{SAML}}}Assertion",
        nsmap={"saml2": SAML, "ds": DSIG},
        ID=assertion_id,
        IssueInstant=stamp,
        Version="2.0",
    )
    _el(root, "Issuer", client_id)
    # signxml puts the enveloped signature where this placeholder is: after Issuer, as SAML asks.
    etree.SubElement(root, f"{{{DSIG}}}Signature", Id="placeholder")
    subject = _el(root, "Subject")
    _el(subject, "NameID", user_id, Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
    confirmation = _el(
        subject, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"
    )
    _el(confirmation, "SubjectConfirmationData", NotOnOrAfter=until, Recipient=token_url)
    conditions = _el(root, "Conditions", NotBefore=stamp, NotOnOrAfter=until)
    _el(_el(conditions, "AudienceRestriction"), "Audience", AUDIENCE)
    statement = _el(root, "AuthnStatement", AuthnInstant=stamp, SessionIndex=assertion_id)
    _el(
        _el(statement, "AuthnContext"),
        "AuthnContextClassRef",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    )
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(
        root, key=private_key_pem, cert=certificate_pem.decode("ascii"), reference_uri=assertion_id
    )
    return etree.tostring(signed)


class SamlBearerTokens:
    """Access tokens for the API user, fetched when missing or nearly expired, one at a time."""

    def __init__(
        self,
        client: HttpClient,
        token_url: str,
        company_id: str,
        client_id: str,
        user_id: str,
        private_key_pem: bytes,
        certificate_pem: bytes,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.token_url = token_url
        self.company_id = company_id
        self.client_id = client_id
        self.user_id = user_id
        self._key = private_key_pem
        self._cert = certificate_pem
        self._timer = timer
        self._lock = threading.Lock()
        self._token: str | None = None
        self._good_until = 0.0
        # After a refused exchange: no other one before this time, and the next wait doubles.
        self._refused_until = 0.0
        self._refusal_wait = 0.0
        self._refusal = ""

    def header(self) -> str:
        with self._lock:  # concurrent callers wait for one exchange, not one each
            if self._token is None or self._timer() >= self._good_until:
                if self._timer() < self._refused_until:
                    # A refused key or user stays refused: one exchange per wait, not per call.
                    left = self._refused_until - self._timer()
                    raise UpstreamAuthFailed(f"{self._refusal}; not asking again for {left:.0f} s")
                try:
                    self._token, lifetime = self._exchange()
                except UpstreamAuthFailed as exc:
                    self._refusal_wait = min(max(self._refusal_wait * 2, 1.0), MAX_REFUSAL_WAIT)
                    self._refused_until = self._timer() + self._refusal_wait
                    self._refusal = str(exc)
                    raise
                self._refusal_wait = 0.0
                self._good_until = self._timer() + max(lifetime - EXPIRY_MARGIN_SECONDS, 0)
            return f"Bearer {self._token}"

    def rejected(self, header: str) -> None:
        """The system refused `header`: fetch a new token next time (unless one already was)."""
        with self._lock:
            if header == f"Bearer {self._token}":
                self._token = None

    def _exchange(self) -> tuple[str, float]:
        assertion = saml_assertion(
            self.client_id, self.user_id, self.token_url, self._key, self._cert
        )
        form = {
            "company_id": self.company_id,
            "client_id": self.client_id,
            "grant_type": GRANT_TYPE,
            "assertion": base64.b64encode(assertion).decode(),
        }
        # A refusal (400 invalid_grant, 401, 403) raises CredentialsRefused, which the client's
        # breaker counts: the key or user is wrong, and stays wrong until someone fixes it.
        response = self.client.request(
            "POST",
            self.token_url,
            idempotent=True,
            data=form,
            refused=lambda answer: answer.status_code in (400, 401, 403),
        )
        try:
            answer = response.json()
            return str(answer["access_token"]), float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise UpstreamError(
                f"successfactors: no access_token in the token answer (HTTP {response.status_code})"
            ) from None


class BasicCredentials:
    """HTTP Basic (`username@company_id`): only for tenants that still allow it."""

    def __init__(self, username: str, company_id: str, password: str) -> None:
        user = username if "@" in username else f"{username}@{company_id}"
        self._header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def header(self) -> str:
        return self._header

    def rejected(self, header: str) -> None:
        """Nothing to refresh: refused Basic credentials stay refused."""


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{SAML}}}{tag}", **attrs)
    if text is not None:
        element.text = text
    return element


def _xml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
