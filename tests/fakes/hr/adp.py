"""ADP Workforce Now's Workers API (HR v2), over mutual TLS."""

from __future__ import annotations

import atexit
import base64
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import responses

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, SECRET, System
from tests.fakes.pki import Pki

SAMPLES = "https://github.com/adpllc/marketplace-sample-payloads"

#: The client certificate ADP signed for this API client, and its key: real PEM files (the
#: gateway checks them on start), made once per test run.
_FOLDER = Path(tempfile.mkdtemp(prefix="adp-fake-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)
CLIENT = Pki(_FOLDER).client("acme_auth")
CERT = (str(CLIENT.cert), str(CLIENT.key))


class AdpApi(HrApi):
    """ADP Workforce Now as ADP's developer articles and sample payloads (SAMPLES, wfn/hr/
    workers-v2) describe it: every call, the token request included, presents the client
    certificate ADP signed, else it is answered 401 ("proper client SSL certificate was not
    presented", developers.adp.com/articles/general/api-common-exceptions-and-tips-for-handling);
    the client-credentials grant at https://accounts.adp.com/auth/oauth/v2/token, client_id and
    client_secret in the form or as HTTP Basic (ADP's articles show both), refused with 401
    invalid_client; GET https://api.adp.com/hr/v2/workers paged by $top (at most 100, as
    integrators report) and $skip, `workers` holding everyone, people who left (workerStatus
    Terminated) and people on leave (Inactive) too, and 204 with no body past the last worker.

    `responses` sees no TLS: what requests would present in the handshake is the `cert` it
    hands its transport (`request.req_kwargs`), which must be the configured files
    (tests/test_mtls.py proves the same over a real TLS server). Assumed where ADP says nothing:
    throttling answers 429 with Retry-After."""

    base = "https://api.adp.com/hr/v2"
    token_url = "https://accounts.adp.com/auth/oauth/v2/token"
    NO_CERT = json.dumps(
        {
            "error": "invalid_request",
            "error_description": "Proper client ssl certificate was not presented",
        }
    )

    def __init__(self, staff: list[Person], client_id: str, secret: str, cert: Any) -> None:
        super().__init__(staff, client_id, secret)
        self.cert = cert
        self.without_cert = 0  # calls refused for want of the certificate

    def mount(self, mock: responses.RequestsMock) -> None:
        def route(request: Any) -> Answer:
            if request.req_kwargs.get("cert") != self.cert:
                with self.lock:
                    self.without_cert += 1
                return 401, {}, self.NO_CERT
            if request.url.split("?")[0] == self.token_url:
                body = request.body or ""
                text = body.decode() if isinstance(body, bytes) else body
                return self._token(parse_qs(text), request.headers)
            return self._guarded(request)

        for pattern in (re.escape(self.base) + r"(/.*)?$", re.escape(self.token_url) + r"$"):
            for method in ("GET", "POST"):
                mock.add_callback(method, re.compile(pattern), callback=route)

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        if sent.get("grant_type") != "client_credentials":
            return False
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("Authorization") == f"Basic {basic}":
            return True
        return (
            sent.get("client_id") == self.client_id
            and sent.get("client_secret") == self.client_secret
        )

    def _token(self, form: dict[str, list[str]], headers: Any) -> Answer:
        status, more, body = super()._token(form, headers)
        if status != 200:  # ADP: 401, "The given client credentials were not valid"
            return (
                401,
                more,
                json.dumps(
                    {
                        "error": "invalid_client",
                        "error_description": "The given client credentials were not valid",
                    }
                ),
            )
        return status, more, body

    def worker(self, i: int, p: Person) -> dict[str, Any]:
        status = "Active" if p.active else "Terminated"
        emails = [
            {"itemID": "Business", "nameCode": {"codeValue": "Work E-mail"}, "emailUri": p.email}
        ]
        mobiles = [
            {
                "itemID": f"CC1_{i}",
                "nameCode": {"codeValue": "Work Cell", "shortName": "Work Cell"},
                "formattedNumber": p.mobile,
            }
        ]
        return {
            "associateOID": f"G3CHQPRW{i:08d}",
            "workerID": {"idValue": p.number},
            "workerDates": {"originalHireDate": "2019-01-11"}
            | ({} if p.active else {"terminationDate": "2024-06-30"}),
            "workerStatus": {"statusCode": {"codeValue": status}},
            "person": {
                "legalName": {
                    "givenName": p.first,
                    "familyName1": p.last,
                    "formattedName": f"{p.last}, {p.first}",
                }
            },
            "businessCommunication": {"emails": emails}
            | ({"mobiles": mobiles} if p.mobile else {}),
            "workAssignments": [
                {
                    "itemID": f"{i}N",
                    "primaryIndicator": True,
                    "jobTitle": p.title,
                    "assignmentStatus": {"statusCode": {"codeValue": "A" if p.active else "T"}},
                    "homeOrganizationalUnits": [
                        {
                            "nameCode": {"codeValue": "100", "shortName": "Head office"},
                            "typeCode": {"codeValue": "Business Unit"},
                        },
                        {
                            "nameCode": {"codeValue": "200", "shortName": p.department},
                            "typeCode": {"codeValue": "Department"},
                        },
                    ],
                }
            ],
            **p.extra,
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/workers":
            return 404, {}, ""
        top = min(int(query.get("$top", "100")), 100)
        skip = int(query.get("$skip", "0"))
        page = [self.worker(i, p) for i, p in enumerate(self.people)][skip : skip + top]
        if not page:
            return 204, {}, ""
        return 200, {}, json.dumps({"workers": page, "meta": None})


SYSTEM = System(
    "adp_workforce_now",
    lambda staff: AdpApi(staff, ID, SECRET, CERT),
    {
        "auth": {"client_id": ID, "client_secret": SECRET},
        "http": {"attempts": 3, "budget_seconds": 2, "client_cert": CERT[0], "client_key": CERT[1]},
    },
    [SECRET],
)
