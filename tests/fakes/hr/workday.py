"""Workday's REST API (Common v1 workers)."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.hr import Answer, HrApi, Person
from tests.fakes.hr.registry import ID, REFRESH, SECRET, System


class WorkdayApi(HrApi):
    """Workday REST, as Workday's REST API documentation describes it: an API client's
    refresh-token grant at https://<host>/ccx/oauth2/<tenant>/token with the client id and
    secret as HTTP Basic, and GET https://<host>/ccx/api/v1/<tenant>/workers with `search`,
    `limit` (at most 100) and `offset`; the answer's `total` and `data`. Current workers only.

    `search` matches names and worker ids, never emails: Workato's "Search workers" action
    (https://docs.workato.com/connectors/workday-rest/search-worker-action.html: workers whose
    names start with the text, any case) and UiPath's "Search Workers by Name or ID" activity
    over the same API (name or ID; space-delimited words are an OR). Here, loosely: any worker
    whose name or worker id contains one of the words, in any case."""

    host = "wd2-impl-services1.workday.com"
    tenant = "acme_dpt1"
    base = f"https://{host}/ccx/api/v1/{tenant}"
    token_url = f"https://{host}/ccx/oauth2/{tenant}/token"

    def __init__(self, staff: list[Person], client_id: str, secret: str, refresh: str) -> None:
        super().__init__(staff, client_id, secret)
        self.refresh = refresh

    def credentials_ok(self, sent: dict[str, str], headers: Any) -> bool:
        return (
            self.basic_ok(headers, self.client_id, self.client_secret)
            and sent.get("grant_type") == "refresh_token"
            and sent.get("refresh_token") == self.refresh
        )

    def worker(self, i: int, p: Person) -> dict[str, Any]:
        return {
            "id": f"3aa5550b7fe348b98d7b5741afc6{i:04d}",
            "descriptor": f"{p.first} {p.last}",
            "href": f"{self.base}/workers/3aa5550b7fe348b98d7b5741afc6{i:04d}",
            "workerId": p.number,
            "primaryWorkEmail": p.email,
            "primaryWorkPhone": p.mobile,
            "businessTitle": p.title,
            "isManager": False,
            "primarySupervisoryOrganization": {"descriptor": p.department},
            **p.extra,
        }

    @staticmethod
    def named(worker: dict[str, Any], word: str) -> bool:
        """Whether `search` finds `worker` by `word`: by its name or worker id only."""
        return word in worker["descriptor"].lower() or word in worker["workerId"].lower()

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        if method != "GET" or path != "/workers":
            return 404, {}, ""
        limit = min(int(query.get("limit", "20")), 100)
        offset = int(query.get("offset", "0"))
        found = [self.worker(i, p) for i, p in enumerate(self.people) if p.active]
        if "search" in query:
            words = query["search"].lower().split()
            found = [w for w in found if any(self.named(w, word) for word in words)]
        return 200, {}, json.dumps({"total": len(found), "data": found[offset : offset + limit]})


SYSTEM = System(
    "workday",
    lambda staff: WorkdayApi(staff, ID, SECRET, REFRESH),
    {
        "base_url": WorkdayApi.base,
        "auth": {
            "token_url": WorkdayApi.token_url,
            "client_id": ID,
            "client_secret": SECRET,
            "refresh_token": REFRESH,
        },
    },
    [SECRET, REFRESH],
    keeps_leavers=False,
)
