"""How a configured REST connector reads a whole list, page after page.

Styles, as the systems this market runs page their lists:
- `none`: one answer holds everything;
- `page`: a page number parameter (`start` first);
- `offset`: an offset parameter advanced by the records received;
  both until a page comes back empty, or the answer's `total_pages_path` / `total_path` says
  that was the last (a short page is not the end: a system may cap the page size below ours);
- `cursor`: the answer's `cursor_path` value is sent as the `param` of the next call, until
  it is absent or empty;
- `next_url`: the answer's `next_path` holds the next page's whole URL (OData's
  `@odata.nextLink` or `__next`, Keka's `nextPage`), until it is absent;
- `link`: the next page's URL is the `rel="next"` of the Link header (RFC 8288).
A next URL must stay on the base URL's host: a page cannot send our credentials elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from marshmallow import Schema, fields, validate

from connectors.base import UpstreamError
from connectors.rest_mapping import dig

STYLES = ["none", "page", "offset", "cursor", "next_url", "link"]
#: However a system answers, a list read stops here: a loop of next links must end.
MOST_PAGES = 100_000


class PagingOptions(Schema):
    style = fields.String(load_default="none", validate=validate.OneOf(STYLES))
    param = fields.String(load_default="page")  # the page number, offset or cursor parameter
    # The first page number (page style, default 1) or offset (offset style, default 0).
    start = fields.Integer(load_default=None)
    size_param = fields.String(load_default=None)  # the page size parameter, when sent
    size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=10_000))
    cursor_path = fields.String(load_default="next_cursor")
    next_path = fields.String(load_default="@odata.nextLink")
    total_pages_path = fields.String(load_default=None)  # e.g. Keka's "totalPages"
    total_path = fields.String(load_default=None)  # how many records in all
    # Where the cursor goes: "query" (the default) or "body" (a search sent by POST).
    cursor_in = fields.String(load_default="query", validate=validate.OneOf(["query", "body"]))


#: One call: (a URL, or None for the list's own; query parameters; body values) -> answer.
Fetch = Callable[[str | None, dict[str, Any], dict[str, Any]], tuple[requests.Response, Any]]


def pages(paging: dict[str, Any], fetch: Fetch, results: str, base_url: str) -> Iterator[list[Any]]:
    """Each page's records (the list at `results` in each answer)."""
    style = paging["style"]
    sized = {paging["size_param"]: paging["size"]} if paging["size_param"] else {}
    url: str | None = None
    query: dict[str, Any] = dict(sized)
    body: dict[str, Any] = {}
    first = paging["start"] if paging["start"] is not None else (1 if style == "page" else 0)
    if style in ("page", "offset"):
        query[paging["param"]] = first
    pages_read = records_read = 0
    for _ in range(MOST_PAGES):
        response, answer = fetch(url, query, body)
        records = records_at(answer, results)
        yield records
        if style == "none":
            return
        if style in ("page", "offset"):
            pages_read, records_read = pages_read + 1, records_read + len(records)
            if not records or _past(answer, paging, pages_read, records_read):
                return
            at = first + (pages_read if style == "page" else records_read)
            query = {**sized, paging["param"]: at}
        elif style == "cursor":
            cursor = dig(answer, paging["cursor_path"])
            if cursor in (None, "") or not records:
                return
            if paging["cursor_in"] == "body":
                body = {paging["param"]: cursor}
            else:
                query = {**sized, paging["param"]: cursor}
        else:
            link = (
                dig(answer, paging["next_path"])
                if style == "next_url"
                else response.links.get("next", {}).get("url")
            )
            if not link or not isinstance(link, str):
                return
            url, query, body = same_host(base_url, urljoin(response.url or base_url, link)), {}, {}
    raise UpstreamError(f"a list did not end after {MOST_PAGES} pages")


def _past(answer: Any, paging: dict[str, Any], pages_read: int, records_read: int) -> bool:
    """Whether the answer's totals say the page just read was the last."""
    if paging["total_pages_path"]:
        pages_in_all = dig(answer, paging["total_pages_path"])
        if isinstance(pages_in_all, int) and pages_read >= pages_in_all:
            return True
    if paging["total_path"]:
        total = dig(answer, paging["total_path"])
        if isinstance(total, int) and records_read >= total:
            return True
    return False


def records_at(answer: Any, results: str) -> list[Any]:
    """The records at a dotted path; `*` steps into every item of a list or every value of an
    object (Zoho People's `response.result.*.*`: a list of objects keyed by record id, each
    holding a list of one record). An answer that is one record is a list of it."""
    found = _expand(answer, results.split(".") if results else [])
    records: list[Any] = []
    for item in found:
        if isinstance(item, list):
            records += [r for r in item if isinstance(r, dict)]
        elif isinstance(item, dict):
            records.append(item)
        elif item is not None:
            raise UpstreamError(f"the answer's {results or 'body'} is not a list of records")
    return records


def _expand(node: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return [node]
    if parts[0] == "*":
        items = (
            node
            if isinstance(node, list)
            else list(node.values())
            if isinstance(node, dict)
            else []
        )
        return [found for item in items for found in _expand(item, parts[1:])]
    star = parts.index("*") if "*" in parts else len(parts)
    return _expand(dig(node, ".".join(parts[:star])), parts[star:])


def same_host(base_url: str, url: str) -> str:
    base, there = urlsplit(base_url), urlsplit(url)
    if (there.scheme, there.netloc) != (base.scheme, base.netloc):
        raise UpstreamError(f"a next page on another host ({there.netloc}) was not followed")
    return url
