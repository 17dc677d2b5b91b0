"""Running subscriptions: pulls that commit page by page behind a watermark, pushes that advance only on an
acknowledged status, removals between Accord nodes, reconciliation against other servers, and backoff.

Every step is idempotent (a version already stored is a duplicate, a version already sent is one on the other
side), so a process killed at any point resumes where its last commit left it: nothing lost, nothing twice.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
from sqlalchemy import Engine

from accord.audit.service import record
from accord.core.clock import now_us
from accord.core.db import read_transaction, transaction
from accord.core.errors import AccordError, NotFound, failure_line
from accord.core.keys import SIGNATURE_HEADER, decrypt_secret, sign_body, verify_body
from accord.core.settings import get_settings
from accord.federation import repository as repo
from accord.federation.links import store_received
from accord.remote.http import RemoteError, guarded_client
from accord.remote.sse import Event, EventSource, StreamStalled, signed_part
from accord.remote.taxii import Page, RemoteServer, TaxiiClient
from accord.sharing.repository import principal_for
from accord.stix.timestamps import micros_to_timestamp, timestamp_to_micros
from accord.store.repository import delete_memberships
from accord.store.service import IngestReport

log = logging.getLogger("accord.federation")
PUSH_BATCH = (
    5_000  # objects per pushed envelope (an Accord peer stores up to 5,000 inline, ACCORD_TAXII_INLINE_MAX_OBJECTS)
)
ENVELOPE_BYTES = 8 * 1024 * 1024  # and at most this much JSON: below the usual TAXII max_content_length
MAX_BACKOFF_S = 3_600
MAX_REASONS = 20


@dataclass(slots=True)
class SyncResult:
    """What one run of one subscription did."""

    peer: str
    direction: str
    remote_collection: str
    collection: str
    status: str = "ok"  # ok | error
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    removed: int = 0
    sent: int = 0
    error: str | None = None
    reasons: list[str] = field(default_factory=list)

    def add(self, report: IngestReport) -> None:
        """Count a stored page."""
        self.received += report.total
        self.stored += report.stored
        self.duplicates += report.duplicates
        self.refused += report.refused
        self.reasons.extend(report.reasons[: max(0, MAX_REASONS - len(self.reasons))])

    def totals(self) -> dict[str, int]:
        """The counters, by subscription column."""
        names = ("received", "stored", "duplicates", "refused", "removed", "sent")
        return {n: getattr(self, n) for n in names}


def remote_server(peer: Any) -> RemoteServer:
    """How to reach a peer: its token decrypted, its signature checked when it has a key, our envelopes signed."""
    verify: Callable[[bytes, Mapping[str, str]], None] | None = None
    if peer.public_key:
        key = peer.public_key

        def verify(body: bytes, headers: Mapping[str, str]) -> None:
            verify_body(key, body, headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower()))

    secret = decrypt_secret(peer.secret) if peer.secret else None
    return RemoteServer(
        url=peer.url,
        token=secret if secret and not peer.username else None,
        username=peer.username or None,
        password=secret if peer.username else None,
        allow_private=bool(peer.allow_private),
        timeout=float(peer.timeout_seconds),
        verify=verify,
        sign=lambda body: {SIGNATURE_HEADER: sign_body(body)},
    )


# --- pull ----------------------------------------------------------------------------------------------------


def _resume_from(sub: Any) -> str | None:
    """The added_after of the next pull: the watermark, or just before it when the last pull stopped mid-way."""
    if not sub.watermark:
        return None
    if not sub.watermark_partial:
        return str(sub.watermark)
    try:
        return micros_to_timestamp(timestamp_to_micros(sub.watermark) - 1)
    except ValueError:
        return str(sub.watermark)


def pull(engine: Engine, client: TaxiiClient, peer: Any, sub: Any, result: SyncResult, actor: str) -> None:
    """Pull what is new in the remote collection, committing each page with the watermark after it."""
    limit = get_settings().sync_page_limit
    pages = client.objects_pages(sub.remote_collection, added_after=_resume_from(sub), limit=limit, all_versions=True)
    for page in prefetched(pages):
        with transaction(engine) as conn:
            report = store_received(
                conn,
                peer,
                sub.collection_id,
                page.objects,
                sub_id=sub.id,
                remote_collection=sub.remote_collection,
                actor=actor,
            )
            state: dict[str, Any] = {"watermark_partial": page.more}
            if page.date_added_last:
                state["watermark"] = page.date_added_last
            repo.update_subscription(conn, sub.id, state)
            part = SyncResult(result.peer, "pull", sub.remote_collection, result.collection)
            part.add(report)
            repo.add_totals(conn, sub.id, part.totals())
        result.add(report)


def stream_url(api_root: str, remote_collection: str, **params: str) -> str:
    """The live stream of an Accord peer's collection (its REST API sits beside its TAXII API root)."""
    parts = urlsplit(api_root)
    return f"{parts.scheme}://{parts.netloc}/api/v1/stream?{urlencode({'collection': remote_collection, **params})}"


def stream_headers(server: RemoteServer) -> dict[str, str]:
    """How a peer's stream is asked for: with the bearer token its TAXII API takes."""
    return {"Authorization": f"Bearer {server.token}"} if server.token else {}


def check_event(peer: Any, event: Event) -> None:
    """Refuse a stream event a peer that must sign did not sign (SignatureError)."""
    if peer.public_key:
        verify_body(peer.public_key, signed_part(event.event, event.data), event.sig)


def apply_removals(engine: Engine, client: TaxiiClient, peer: Any, sub: Any, result: SyncResult, actor: str) -> None:
    """Between Accord nodes: take out of the local collection what the peer removed from its collection since the
    last run (its stream's removals, after the subscription's stream cursor). Other servers have no such stream:
    `--reconcile` compares manifests instead."""
    server = client.server
    if not server.token:
        return  # Accord peers take bearer tokens; a Basic-auth server is not one
    url = stream_url(client.api_root(), sub.remote_collection, events="removed", wait="0")
    gone: list[tuple[str, str | None]] = []
    try:
        with guarded_client(allow_private=server.allow_private, timeout=server.timeout) as http:
            source = EventSource(http, url, stream_headers(server), sub.stream_cursor, read_timeout=server.timeout)
            for event in source:
                if event.event != "removed":
                    continue
                check_event(peer, event)
                data = orjson.loads(event.data)
                gone.append((str(data["id"]), data.get("version")))
            cursor = source.last_event_id
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code in (404, 405, 406):
            return  # not an Accord node: nothing to follow
        raise RemoteError(f"{url}: HTTP {exc.response.status_code}", http_status=exc.response.status_code) from None
    except httpx.DecodingError:
        return  # an answer that is no event stream: not an Accord node
    except (httpx.HTTPError, StreamStalled) as exc:
        raise RemoteError(f"{url}: the removals stream failed ({type(exc).__name__})") from None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise RemoteError(f"{url}: a removal event is not what Accord sends") from None
    with transaction(engine) as conn:
        if gone:
            held = repo.received_memberships(conn, sub.collection_id, peer.id, [oid for oid, _ in gone])
            wanted = set(gone)
            ticks = [tick for (oid, version), tick in held.items() if (oid, version) in wanted or (oid, None) in wanted]
            removed = delete_memberships(conn, ticks)
            result.removed += removed
            repo.add_totals(conn, sub.id, {"removed": removed})
        if cursor and cursor != sub.stream_cursor:
            repo.update_subscription(conn, sub.id, {"stream_cursor": cursor})


def prefetched(pages: Iterator[Page]) -> Iterator[Page]:
    """The pages, the next one fetched by a thread while the caller stores this one (at most one ahead)."""
    ahead: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        ahead.put(("page", page), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it where it was expected
            ahead.put(("error", exc))

    worker = threading.Thread(target=fetch, name="accord-pull-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = ahead.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def reconcile(engine: Engine, client: TaxiiClient, peer: Any, sub: Any, result: SyncResult, actor: str) -> None:
    """Remove from the local collection what arrived from the remote collection and it no longer holds."""
    remote = {_key(e.get("id"), e.get("version")) for e in client.manifest(sub.remote_collection)}
    with transaction(engine) as conn:
        local = repo.received_memberships(conn, sub.collection_id, peer.id)
        gone = [tick for (oid, version), tick in local.items() if _key(oid, version) not in remote]
        result.removed += delete_memberships(conn, gone)
        repo.add_totals(conn, sub.id, {"removed": len(gone)})
        if gone:
            record(conn, actor, "peer.reconcile", peer.name, collection=result.collection, removed=len(gone))


def _key(oid: object, version: object) -> tuple[str, int | str]:
    """(id, version) comparable across servers that print timestamps differently."""
    try:
        return str(oid), timestamp_to_micros(str(version))
    except (ValueError, TypeError):
        return str(oid), str(version)


# --- push ----------------------------------------------------------------------------------------------------


def push(engine: Engine, client: TaxiiClient, peer: Any, sub: Any, result: SyncResult, actor: str) -> None:
    """Send the local collection's new versions the peer's organisation may read, batch by batch, advancing only
    past what the remote status resource acknowledged (success or a final per-object failure)."""
    with read_transaction(engine) as conn:
        reader = principal_for(conn, org_id=peer.source_org_id, role="sync")
    position = int(sub.position)
    while True:
        with read_transaction(engine) as conn:
            rows = repo.pending_push(conn, reader, sub.collection_id, position, PUSH_BATCH, peer.id)
        if not rows:
            return
        rows = _within(rows, ENVELOPE_BYTES)
        objects = [orjson.loads(r.raw) for r in rows]
        status = client.add_objects(sub.remote_collection, objects)
        if status.get("status") != "complete":
            raise AccordError(f"the peer did not finish processing a pushed envelope (status {status.get('id')})")
        failures = status.get("failures") or []
        sent = int(status.get("success_count", len(objects) - len(failures)))
        for f in failures[: max(0, MAX_REASONS - len(result.reasons))]:
            result.reasons.append(f"{f.get('id')} {f.get('version', '')}: {f.get('message', 'refused')}".strip())
        position = int(rows[-1].tick)
        with transaction(engine) as conn:
            repo.update_subscription(conn, sub.id, {"position": position})
            repo.add_totals(conn, sub.id, {"sent": sent, "refused": len(failures)})
        result.sent += sent
        result.refused += len(failures)


def _within(rows: list[Any], max_bytes: int) -> list[Any]:
    """The first rows whose bodies fit an envelope of `max_bytes` (at least one row)."""
    total = 0
    for i, row in enumerate(rows):
        total += len(row.raw) + 1
        if total > max_bytes and i:
            return rows[:i]
    return rows


# --- running subscriptions ----------------------------------------------------------------------------------


def run_subscription(
    engine: Engine, sub_id: int, *, reconcile_removed: bool = False, actor: str = "sync"
) -> SyncResult:
    """Run one subscription once; a failure is recorded (with backoff), never raised."""
    with read_transaction(engine) as conn:
        sub = repo.get_subscription(conn, sub_id)
        if sub is None:
            raise NotFound(f"no subscription {sub_id}")
        peer = repo.get_peer_by_id(conn, sub.peer_id)
    assert peer is not None
    result = SyncResult(peer.name, sub.direction, sub.remote_collection, sub.collection_alias)
    started = now_us()
    try:
        with TaxiiClient(remote_server(peer)) as client:
            if sub.direction == "pull":
                # Removals first: a version removed and then added again is pulled again below.
                apply_removals(engine, client, peer, sub, result, actor)
                pull(engine, client, peer, sub, result, actor)
                if reconcile_removed:
                    reconcile(engine, client, peer, sub, result, actor)
            else:
                push(engine, client, peer, sub, result, actor)
    except AccordError as exc:
        result.status, result.error = "error", exc.message
    except Exception as exc:  # a bug or a database failure must still leave a readable status
        log.exception("peer %s: %s failed", peer.name, sub.direction)
        result.status, result.error = "error", failure_line(exc)
    _finish(engine, sub, result, started, actor)
    return result


def backoff_seconds(failures: int) -> float:
    """Seconds to wait after this many consecutive failures: 5, 10, 20, ... up to an hour."""
    return float(min(MAX_BACKOFF_S, 5 * 2 ** max(0, failures - 1)))


def _finish(engine: Engine, sub: Any, result: SyncResult, started: int, actor: str) -> None:
    with transaction(engine) as conn:
        current = repo.get_subscription(conn, sub.id)
        if current is None:  # removed meanwhile
            return
        if result.status == "ok":
            values: dict[str, Any] = {"last_ok_us": now_us(), "last_error": None, "failures": 0, "next_run_us": None}
        else:
            failures = int(current.failures) + 1
            delay = int(backoff_seconds(failures) * 1_000_000)
            values = {"last_error": result.error, "failures": failures, "next_run_us": now_us() + delay}
        repo.update_subscription(conn, sub.id, {"last_run_us": started, **values})
        record(
            conn,
            actor,
            f"peer.{result.direction}.run",
            result.peer,
            status=result.status,
            collection=result.collection,
            stored=result.stored,
            duplicates=result.duplicates,
            refused=result.refused,
            removed=result.removed,
            sent=result.sent,
            error=result.error,
        )


def planned(engine: Engine, names: list[str] | None = None) -> list[int]:
    """The subscriptions a sync of these peers (or of every enabled peer) runs: pulls first, so that what a push
    relays is as fresh as it can be."""
    from accord.federation.service import get_peer_or_raise

    with read_transaction(engine) as conn:
        wanted = {get_peer_or_raise(conn, n).id for n in names} if names else None
        enabled = {p.id for p in repo.list_peers(conn) if p.enabled}
        subs = [
            s
            for s in repo.list_subscriptions(conn)
            if s.enabled and (s.peer_id in wanted if wanted is not None else s.peer_id in enabled)
        ]
    subs.sort(key=lambda s: (s.direction != "pull", s.peer_name, s.id))
    return [s.id for s in subs]
