"""Search objects: free text over names and descriptions and filters, newest first, keyset-paged.

The REST API (`GET /api/v1/search`) and the console's search page both call `search`: one service, one cursor
format, one policy (every row comes from accord.store.queries.list_latest, which reads through
visible_versions_clause). Values (raw or defanged) are searched by the lookup service instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection

from accord.accounts import repository as accounts_repo
from accord.core.errors import BadRequest
from accord.correlate.flags import object_flags
from accord.correlate.warninglists import active_matcher
from accord.correlate.words import query_words
from accord.sharing import cursors
from accord.sharing.policy import Principal
from accord.stix.markings import Tlp
from accord.store import queries

MAX_LIMIT = 1_000
# With the warninglist filter (decided per object, after the query), one request reads at most this many
# candidates; a page may then come back short, with a `next` that resumes where the scan stopped.
SCAN_BUDGET = 5_000
_CHUNK = 500
# A search with whole words reads its driving word's index rows newest first, WINDOW at a time, and at most
# WORD_BUDGET of them per request: a word most objects hold fills a page from its first rows, and filters that
# leave few of its objects cost a bounded scan (the page may then come back short, with a `next`).
WINDOW = 2_000
WORD_BUDGET = 20_000


@dataclass(frozen=True)
class SearchQuery:
    """What to search for; every given filter must hold (types, TLPs: any of those given)."""

    text: str = ""
    types: tuple[str, ...] = ()
    tlps: tuple[int | None, ...] = ()  # accord.stix.markings.Tlp levels; None: unmarked
    collection: str | None = None  # a collection alias
    owner: str | None = None  # an organisation name
    since: str | None = None  # normalised timestamps bounding `modified` (inclusive)
    until: str | None = None
    warninglisted: bool | None = None  # True: only objects with a value on an active warninglist; False: none


@dataclass
class SearchPage:
    """One page of results (seq, raw) and the cursor of the next, if there may be more."""

    rows: list[tuple[int, bytes]] = field(default_factory=list)
    next: str | None = None


def parse_tlp(text: str) -> int | None:
    """A TLP filter value ('red', 'TLP:AMBER+STRICT', 'unmarked'); BadRequest when unknown."""
    if text.strip().lower() == "unmarked":
        return None
    try:
        return int(Tlp.parse(text))
    except ValueError as exc:
        raise BadRequest(f"tlp: {exc}") from exc


def parse_time(text: str, *, param: str, end: bool) -> str:
    """A date (YYYY-MM-DD: the whole day) or ISO 8601 date-time, as a normalised STIX timestamp."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day.strftime("%Y-%m-%dT23:59:59.999999Z" if end else "%Y-%m-%dT00:00:00.000000Z")
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{param}: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _binding(principal: Principal, query: SearchQuery) -> bytes:
    return cursors.binding(
        principal,
        "search",
        [
            query.text,
            sorted(query.types),
            sorted(query.tlps, key=lambda t: -1 if t is None else t),
            query.collection,
            query.owner,
            query.since,
            query.until,
            query.warninglisted,
        ],
    )


def search(
    conn: Connection, principal: Principal, query: SearchQuery, *, before: str | None = None, limit: int = 50
) -> SearchPage:
    """The newest readable version of each matching object, newest first; `before` is a previous page's cursor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    bound = _binding(principal, query)
    position = None if before is None else cursors.read_cursor(before, bound, param="before")
    words = query_words(query.text)
    if query.text.strip() and not words:
        raise BadRequest("text: give words of at least two letters or digits")
    # A collection the caller may not read, and an owner that does not exist, match nothing (R7: the answer
    # is the same whether they exist or not).
    collection_ids: list[int] | None = None
    if query.collection is not None:
        found = accounts_repo.get_collection_by_alias(conn, query.collection)
        readable = found is not None and (principal.is_admin or found.id in principal.readable_collections)
        collection_ids = [found.id] if readable and found is not None else []
    owner_ids: list[int] | None = None
    if query.owner is not None:
        org = accounts_repo.get_org_by_name(conn, query.owner)
        owner_ids = [org.id] if org is not None else []
    if collection_ids == [] or owner_ids == []:
        return SearchPage()
    wl = active_matcher() if query.warninglisted is not None else None
    chunk = limit + 1 if wl is None else _CHUNK
    words = _driver_first(conn, words, before=position)
    driver = words[0][0] if words and not words[0][1] else None
    page = SearchPage()
    scanned = read = 0
    while True:
        floor = None if driver is None else queries.word_window(conn, driver, before_seq=position, size=WINDOW)
        rows = queries.list_latest(
            conn,
            principal,
            types=list(query.types) or None,
            tlps=list(query.tlps) or None,
            before_seq=position,
            from_seq=floor,
            limit=chunk,
            words=words or None,
            collection_ids=collection_ids,
            owner_org_ids=owner_ids,
            since=query.since,
            until=query.until,
        )
        for seq, raw in rows:
            position = seq
            if wl is None or bool(object_flags(orjson.loads(raw), wl)) == query.warninglisted:
                if len(page.rows) == limit:  # one more match exists: the page ends at its last row
                    page.next = cursors.make_cursor(page.rows[-1][0], bound)
                    return page
                page.rows.append((seq, raw))
        scanned += len(rows)
        if len(rows) < chunk:
            if floor is None:  # nothing older matches
                return page
            position = floor  # the window is read down to its end; the next one starts below it
            read += WINDOW
        if (scanned >= SCAN_BUDGET or read >= WORD_BUDGET) and position is not None:
            page.next = cursors.make_cursor(position, bound)
            return page


def _driver_first(conn: Connection, words: list[tuple[str, bool]], *, before: int | None) -> list[tuple[str, bool]]:
    """The query words with the whole word whose index rows are sparsest below `before` first (it drives)."""
    whole = [w for w, prefix in words if not prefix]
    if len(whole) < 2:
        return sorted(words, key=lambda w: w[1])

    def spread(word: str) -> int:  # the lower a window of its rows reaches, the sparser the word
        floor = queries.word_window(conn, word, before_seq=before, size=WINDOW)
        return -1 if floor is None else floor

    driver = min(whole, key=spread)
    return [(driver, False)] + [w for w in words if w != (driver, False)]
