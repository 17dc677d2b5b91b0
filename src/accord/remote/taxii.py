"""The TAXII 2.1 client: discovery, collections, paged objects and manifests, and writes with their status.

Paging follows what interop testing found: every follow-up request repeats the original query (`limit`,
`added_after`, `match[...]`) beside `next` (TAXII 2.1 §3.4; medallion answers 500 or 400 otherwise). A server
that pages without `next` is followed by moving `added_after` to the page's X-TAXII-Date-Added-Last; a page that
shares one date_added throughout is asked for again with a larger limit, since moving past it would skip objects
and staying would loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode, urljoin

import orjson

from accord.remote.http import RemoteError, Response, SafeClient, basic_auth

TAXII_MEDIA = "application/taxii+json;version=2.1"
_ACCEPTED_MEDIA = ("application/taxii+json;version=2.1", "application/taxii+json", "application/json")
MAX_GROWN_LIMIT = 10_000  # how far a page limit is doubled to get past one date_added
POLL_FIRST, POLL_MAX = 0.5, 30.0  # status polling backoff, seconds


@dataclass(frozen=True)
class RemoteServer:
    """A TAXII 2.1 server to talk to, with its credentials and limits."""

    url: str  # an API root URL or a discovery URL (…/taxii2/): discovery resolves the default API root
    token: str | None = None  # sent as Authorization: Bearer
    username: str | None = None  # HTTP Basic when given (password below)
    password: str | None = None
    allow_private: bool = False
    timeout: float = 120.0  # per request read timeout (medallion takes 40–50 s for an unpaged 2,000-object page)
    max_bytes: int = 104_857_600  # per response
    # Called with (body, headers) of every response before it is parsed; raises to refuse (signature checks).
    verify: Callable[[bytes, Mapping[str, str]], None] | None = None
    sign: Callable[[bytes], Mapping[str, str]] | None = None  # extra headers for a POST body (signature)
    user_agent: str = "accord/0.1"


@dataclass
class Page:
    """One page of a collection's objects."""

    objects: list[dict[str, Any]]
    more: bool
    next: str | None
    date_added_first: str | None  # X-TAXII-Date-Added-First
    date_added_last: str | None  # X-TAXII-Date-Added-Last
    nbytes: int


class TaxiiClient:
    """A TAXII 2.1 client for one server: one HTTP client, connections reused; use it as a context manager."""

    def __init__(self, server: RemoteServer) -> None:
        self.server = server
        self._http = SafeClient(
            allow_private=server.allow_private, timeout=server.timeout, user_agent=server.user_agent
        )
        self._root: str | None = None
        self._auth: dict[str, str] = {}
        if server.token:
            self._auth["Authorization"] = f"Bearer {server.token}"
        elif server.username is not None:
            self._auth["Authorization"] = basic_auth(server.username, server.password or "")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # -- resources ---------------------------------------------------------------------------------------------

    def api_root(self) -> str:
        """The API root URL (ending in '/'): the server URL itself, or the default root its discovery names."""
        if self._root is None:
            url = _slash(self.server.url)
            resource, _ = self._get(url)
            if isinstance(resource.get("versions"), list):
                if TAXII_MEDIA not in resource["versions"]:
                    raise RemoteError(f"{url}: the API root does not offer TAXII 2.1 ({resource['versions']})")
                self._root = url
            elif "api_roots" in resource or "default" in resource:
                roots = resource.get("api_roots") or []
                chosen = resource.get("default") or (roots[0] if isinstance(roots, list) and roots else None)
                if not isinstance(chosen, str) or not chosen:
                    raise RemoteError(f"{url}: the TAXII discovery resource names no API root")
                self._root = _slash(urljoin(url, chosen))
            else:
                raise RemoteError(f"{url}: neither a TAXII discovery nor an API root resource")
        return self._root

    def collections(self) -> list[dict[str, Any]]:
        """The collections of the API root this caller may see."""
        url = f"{self.api_root()}collections/"
        resource, _ = self._get(url)
        found = resource.get("collections", [])
        if not isinstance(found, list) or not all(isinstance(c, dict) and "id" in c for c in found):
            raise RemoteError(f"{url}: invalid TAXII collections resource")
        return found

    def objects_pages(
        self,
        collection_id: str,
        *,
        added_after: str | None = None,
        limit: int | None = None,
        all_versions: bool = True,
        match: Mapping[str, str] | None = None,
    ) -> Iterator[Page]:
        """Every page of the collection's objects added after `added_after` (all versions unless told otherwise)."""
        url = self._collection_url(collection_id) + "objects/"
        query = _match_query(all_versions, match)
        for resource, response in self._pages(url, query, added_after, limit, "objects"):
            yield Page(
                objects=resource.get("objects", []),
                more=bool(resource.get("more")),
                next=_next(resource),
                date_added_first=response.headers.get("x-taxii-date-added-first"),
                date_added_last=response.headers.get("x-taxii-date-added-last"),
                nbytes=len(response.body),
            )

    def manifest(
        self, collection_id: str, *, limit: int | None = None, all_versions: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Every manifest record of the collection (each version's unless all_versions is false), paged."""
        url = self._collection_url(collection_id) + "manifest/"
        for resource, _ in self._pages(url, _match_query(all_versions, None), None, limit, "objects"):
            yield from resource.get("objects", [])

    def add_objects(self, collection_id: str, objects: list[dict[str, Any]], *, wait: float = 300.0) -> dict[str, Any]:
        """POST an envelope, then poll its status until complete or `wait` seconds pass; the last status resource."""
        url = self._collection_url(collection_id) + "objects/"
        body = orjson.dumps({"objects": objects})
        headers = {"Content-Type": TAXII_MEDIA, **(self.server.sign(body) if self.server.sign else {})}
        status, _ = self._call("POST", url, headers=headers, content=body)
        _check_status(status, url)
        end = time.monotonic() + wait
        delay = POLL_FIRST
        while status.get("status") != "complete":
            left = end - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(delay, left))
            delay = min(delay * 2, POLL_MAX)
            status = self.get_status(str(status["id"]))
        return status

    def get_status(self, status_id: str) -> dict[str, Any]:
        """A status resource of the API root."""
        url = f"{self.api_root()}status/{quote(status_id, safe='')}/"
        status, _ = self._get(url)
        _check_status(status, url)
        return status

    # -- paging ------------------------------------------------------------------------------------------------

    def _pages(
        self, url: str, query: dict[str, str], added_after: str | None, limit: int | None, key: str
    ) -> Iterator[tuple[dict[str, Any], Response]]:
        """Each page of a paged endpoint, following `next`, else `added_after` by X-TAXII-Date-Added-Last."""
        token: str | None = None
        while True:
            params = dict(query)
            if limit is not None:
                params["limit"] = str(limit)
            if added_after:
                params["added_after"] = added_after
            if token:
                params["next"] = token
            resource, response = self._get(url, params)
            items = resource.get(key, [])
            if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
                raise RemoteError(f"{url}: invalid TAXII envelope: {key!r} is not a list of objects")
            more = resource.get("more", False)
            if not isinstance(more, bool):
                raise RemoteError(f"{url}: invalid TAXII envelope: 'more' is not true or false")
            if not more or not items:
                yield resource, response
                return
            token = _next(resource)
            if token:
                if limit is None:  # follow-ups name the page size the server chose (medallion answers 500 without)
                    limit = len(items)
                yield resource, response
                continue
            # No `next`: the server pages by date_added only.
            first = response.headers.get("x-taxii-date-added-first")
            last = response.headers.get("x-taxii-date-added-last")
            if not last:
                raise RemoteError(f"{url}: more pages, but neither 'next' nor X-TAXII-Date-Added-Last to reach them")
            if last in (first, added_after):
                limit = self._grown(url, limit, len(items), last)
                continue  # the same page again, larger; nothing of this one was yielded
            yield resource, response
            added_after = last

    def _grown(self, url: str, limit: int | None, got: int, date_added: str) -> int:
        """The limit doubled past a page whose objects all share one date_added; RemoteError past the cap."""
        grown = 2 * max(limit or 0, got)
        if (limit is not None and got < limit) or grown > MAX_GROWN_LIMIT:
            raise RemoteError(
                f"{url}: cannot page past date_added {date_added}: more than {got} objects share it and the server "
                "gives no 'next'"
            )
        return grown

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _collection_url(self, collection_id: str) -> str:
        return f"{self.api_root()}collections/{quote(collection_id, safe='')}/"

    def _get(self, url: str, params: Mapping[str, str] | None = None) -> tuple[dict[str, Any], Response]:
        return self._call("GET", url + (f"?{urlencode(params)}" if params else ""))

    def _call(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, content: bytes | None = None
    ) -> tuple[dict[str, Any], Response]:
        """The JSON object a TAXII endpoint answers; RemoteError (with .http_status) for anything else."""
        sent = {"Accept": TAXII_MEDIA, **self._auth, **(headers or {})}
        response = self._http.request(method, url, headers=sent, content=content, max_bytes=self.server.max_bytes)
        verified = self._verify(response)
        if not 200 <= response.status < 300:
            detail = _error_detail(response) if verified else ""
            raise RemoteError(
                f"{url}: HTTP {response.status} {response.reason}{detail}".rstrip(), http_status=response.status
            )
        if not response.body.strip():
            return {}, response
        if response.media_type.split(";charset=")[0] not in _ACCEPTED_MEDIA:
            shown = response.media_type or "no content type"
            raise RemoteError(f"{url}: not a TAXII 2.1 answer ({shown})", http_status=response.status)
        try:
            resource = orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            raise RemoteError(f"{url}: invalid JSON in the TAXII answer ({exc})", http_status=response.status) from None
        if not isinstance(resource, dict):
            raise RemoteError(f"{url}: invalid TAXII answer: not a JSON object", http_status=response.status)
        return resource, response

    def _verify(self, response: Response) -> bool:
        """Run the server's verify hook on a response; a 2xx it refuses raises, an error answer is only unverified."""
        if self.server.verify is None:
            return True
        try:
            self.server.verify(response.body, response.headers)
        except Exception as exc:
            if not 200 <= response.status < 300:
                return False  # the status line still says what happened; its unverified text is not shown
            if isinstance(exc, RemoteError):
                raise
            raise RemoteError(f"{response.url}: response refused: {exc}", http_status=response.status) from None
        return True


def _slash(url: str) -> str:
    return url.strip() if url.strip().endswith("/") else url.strip() + "/"


def _match_query(all_versions: bool, match: Mapping[str, str] | None) -> dict[str, str]:
    query = {"match[version]": "all"} if all_versions else {}
    query.update({f"match[{field}]": value for field, value in (match or {}).items()})
    return query


def _next(resource: Mapping[str, Any]) -> str | None:
    token = resource.get("next")
    return str(token) if token not in (None, "") else None


def _check_status(status: dict[str, Any], url: str) -> None:
    if not isinstance(status.get("id"), str) or status.get("status") not in ("complete", "pending"):
        raise RemoteError(f"{url}: invalid TAXII status resource")


def _error_detail(response: Response) -> str:
    """': title (description)' of a TAXII error object, ' (HTML error page)' for HTML, else ''."""
    if "html" in response.media_type:
        return " (an HTML error page)"
    try:
        error = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(error, dict) or not isinstance(error.get("title"), str):
        return ""
    text = error["title"]
    if isinstance(error.get("description"), str):
        text += f" ({error['description']})"
    return ": " + " ".join(text.split())[:300]
