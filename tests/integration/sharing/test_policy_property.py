"""The one policy, held to itself: for random communities, the SQL face equals the predicate face, and every
read path returns exactly what the rules allow -- no more, no fewer."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from dataclasses import dataclass, replace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from accord.core.errors import Forbidden, NotFound
from accord.core.settings import get_settings
from accord.correlate.indexer import PendingRows, index_entries, index_rows
from accord.correlate.lookup import lookup
from accord.correlate.service import object_correlations, report_correlations
from accord.correlate.values import values_of
from accord.correlate.words import word_entries
from accord.federation import repository as federation_repo
from accord.models.accounts import org, sharing_group, sharing_group_member
from accord.models.collections import collection, collection_grant, peer
from accord.models.objects import collection_object, collection_removal, stix_object
from accord.search.service import SearchQuery, search
from accord.sharing.policy import ObjectFacts, Principal, Role, can_read, readable_clause
from accord.sharing.repository import principal_for
from accord.stix.ids import id_key
from accord.stix.markings import Tlp
from accord.store import daily, queries
from accord.store.export import iter_raw, write_bundle
from accord.stream import repository as stream_repo
from accord.taxii import repository as taxii_repo
from accord.taxii import service as taxii_service
from accord.taxii import writes as taxii_writes
from accord.taxii.filters import Endpoint, parse_filters

TYPES = ["indicator", "malware", "report", "identity", "marking-definition", "ipv4-addr"]
# Indicators and addresses carry one of these values (chosen per version): the /30 holds both addresses.
VALUES = ["45.137.21.1", "45.137.21.2", "45.137.21.0/30"]


def _value_of(ob: dict) -> str | None:
    if ob["type"] not in ("indicator", "ipv4-addr"):
        return None
    number = int(ob["id"].rpartition("--")[2].replace("-", ""), 16)  # generated ids are UUID(int=i)
    return VALUES[(number + ob["version"].count("1")) % len(VALUES)]  # versions may change the value


def _related(a: str, b: str) -> bool:
    return a == b or "/" in a or "/" in b


TLPS = [None, *list(Tlp)]


@dataclass
class World:
    n_orgs: int
    groups: list[frozenset[int]]
    grants: list[tuple[int, str, int | None, int | None]]  # collection, mode, org, group
    n_collections: int
    peers: list[int]  # local org of each peer
    objects: list[dict]
    remote: list[bool]  # the org is a remote record (a feed's source): its identity is not readable to all (R6)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n_orgs = draw(st.integers(2, 4))
    orgs = st.integers(0, n_orgs - 1)
    groups = draw(st.lists(st.frozensets(orgs, min_size=1, max_size=n_orgs), max_size=3))
    n_collections = draw(st.integers(1, 4))
    grants = []
    for c in range(n_collections):
        for mode in ("read", "write"):
            for o in draw(st.frozensets(orgs, max_size=n_orgs)):
                grants.append((c, mode, o, None))
            if groups:
                for g in draw(st.frozensets(st.integers(0, len(groups) - 1), max_size=len(groups))):
                    grants.append((c, mode, None, g))
    peers = draw(st.lists(orgs, max_size=2))
    peer_ids = st.none() | st.integers(0, len(peers) - 1) if peers else st.none()
    objects = []
    for i in range(draw(st.integers(1, 14))):
        otype = draw(st.sampled_from(TYPES))
        org_identity = otype == "identity" and draw(st.booleans())
        # An id may be held in several copies: another owner's, or the same owner's over another link (W3).
        holders = draw(st.lists(st.tuples(orgs, peer_ids), min_size=1, max_size=1 if org_identity else 3, unique=True))
        for owner, peer_id in holders:
            n_versions = 1 if otype == "ipv4-addr" else draw(st.integers(1, 3))
            for v in range(n_versions):
                memberships = draw(
                    st.lists(
                        st.tuples(st.integers(0, n_collections - 1), st.sampled_from([owner, *range(n_orgs)])),
                        max_size=3,
                        unique_by=lambda m: m[0],
                    )
                )
                # memberships removed earlier (TAXII DELETE); a version may have been removed and put back
                removals = draw(
                    st.lists(
                        st.tuples(st.integers(0, n_collections - 1), st.sampled_from([owner, *range(n_orgs)])),
                        max_size=2,
                    )
                )
                objects.append(
                    {
                        "id": f"{otype}--{uuid.UUID(int=i + 1)}",
                        "type": otype,
                        "owner": owner,
                        "version": "" if otype == "ipv4-addr" else f"2026-01-01T00:00:0{v}.000000Z",
                        "tlp": draw(st.sampled_from(TLPS)),
                        "peer": peer_id,
                        "memberships": memberships,
                        "removals": removals,
                        "revoked": v == n_versions - 1 and draw(st.booleans()),
                        "org_identity": org_identity,
                    }
                )
    draw(st.randoms()).shuffle(objects)  # copies and versions are stored in any order
    remote = draw(st.lists(st.booleans(), min_size=n_orgs, max_size=n_orgs))
    return World(n_orgs, groups, grants, n_collections, peers, objects, remote)


def _load(conn, w: World) -> tuple[list[int], list[int], list[int], list[int]]:
    org_ids = []
    for o in range(w.n_orgs):
        org_ids.append(
            conn.execute(
                insert(org).values(
                    name=f"o{o}",
                    name_key=f"o{o}",
                    stix_id=f"identity--{uuid.uuid4()}",
                    is_host=False,
                    is_remote=w.remote[o],
                    created_us=0,
                )
            ).inserted_primary_key[0]
        )
    group_ids = []
    for g, members in enumerate(w.groups):
        gid = conn.execute(
            insert(sharing_group).values(name=f"g{g}", name_key=f"g{g}", description="", created_us=0)
        ).inserted_primary_key[0]
        group_ids.append(gid)
        for m in members:
            conn.execute(insert(sharing_group_member).values(group_id=gid, org_id=org_ids[m]))
    col_ids = [
        conn.execute(
            insert(collection).values(uuid=str(uuid.uuid4()), alias=f"c{c}", title="c", description="", created_us=0)
        ).inserted_primary_key[0]
        for c in range(w.n_collections)
    ]
    for c, mode, o, g in set(w.grants):
        conn.execute(
            insert(collection_grant).values(
                collection_id=col_ids[c],
                mode=mode,
                org_id=None if o is None else org_ids[o],
                group_id=None if g is None else group_ids[g],
            )
        )
    peer_ids = [
        conn.execute(
            insert(peer).values(name=f"p{i}", url="", local_org_id=org_ids[lo], created_us=0)
        ).inserted_primary_key[0]
        for i, lo in enumerate(w.peers)
    ]
    org_stix = {o: conn.execute(org.select().where(org.c.id == org_ids[o])).one().stix_id for o in range(w.n_orgs)}
    taken: dict[str, str] = {}  # org identity id -> generated id that took it
    for ob in w.objects:
        if ob["org_identity"]:
            target = org_stix[ob["owner"]]
            if taken.setdefault(target, ob["id"]) == ob["id"]:
                ob["id"] = target
            else:
                ob["org_identity"] = False
    latest: dict[tuple[str, int, int | None], str] = {}
    copies: dict[str, set[tuple[int, int | None]]] = {}
    for ob in w.objects:
        copy = (ob["id"], ob["owner"], ob["peer"])
        latest[copy] = max(latest.get(copy, ""), ob["version"])
        copies.setdefault(ob["id"], set()).add(copy[1:])
    seq = tick = 0
    for ob in w.objects:
        seq += 1
        ob["seq"] = seq
        body = {"type": ob["type"], "id": ob["id"], "modified": ob["version"], "seq": seq}
        body["description"] = "zeta even" if seq % 2 == 0 else "zeta"  # search words (the even seqs have two)
        value = _value_of(ob)
        if value is not None:  # what ingest would have indexed, from a body that says the same
            body |= {"value": value} if ob["type"] == "ipv4-addr" else {"pattern": f"[ipv4-addr:value = '{value}']"}
        if ob["type"] == "report":
            body["object_refs"] = _report_refs(w)
        raw = orjson.dumps(body)
        conn.execute(
            insert(stix_object).values(
                seq=seq,
                id=ob["id"],
                id_key=id_key(ob["id"]),
                type=ob["type"],
                version=ob["version"],
                created=None,
                spec_version="2.1",
                revoked=ob["revoked"],
                is_latest=ob["version"] == latest[(ob["id"], ob["owner"], ob["peer"])],
                sole_copy=len(copies[ob["id"]]) == 1,
                owner_org_id=org_ids[ob["owner"]],
                tlp=None if ob["tlp"] is None else int(ob["tlp"]),
                peer_id=None if ob["peer"] is None else peer_ids[ob["peer"]],
                body_hash=b"0" * 16,
                raw=raw,
            )
        )
        pending = PendingRows()
        pending.add(seq, index_entries(values_of(body)) + word_entries(body))
        index_rows(conn, pending)
        for c, by in ob["memberships"]:
            tick += 1
            conn.execute(
                insert(collection_object).values(
                    tick=10_000 + tick, collection_id=col_ids[c], object_seq=seq, added_by_org_id=org_ids[by]
                )
            )
        ob["removal_ticks"] = []
        for c, by in ob["removals"]:
            tick += 1
            ob["removal_ticks"].append(10_000 + tick)
            conn.execute(
                insert(collection_removal).values(
                    tick=10_000 + tick,
                    collection_id=col_ids[c],
                    object_seq=seq,
                    added_by_org_id=org_ids[by],
                    removed_us=0,
                )
            )
    return org_ids, group_ids, col_ids, peer_ids


def _report_refs(w: World) -> list[str]:
    """What every report of the world names: about half of the value-carrying objects (the others may correlate)."""
    carriers = sorted({ob["id"] for ob in w.objects if _value_of(ob) is not None})
    return carriers[::2]


def _expected_collections(
    w: World,
    o: int,
    mode: str,
    col_ids,
) -> frozenset[int]:
    out = set()
    for c, m, go, gg in w.grants:
        if m == mode and (go == o or (gg is not None and o in w.groups[gg])):
            out.add(col_ids[c])
    return frozenset(out)


def _facts(ob: dict, org_ids, col_ids, peer_ids, remote: list[bool]) -> ObjectFacts:
    return ObjectFacts(
        stix_id=ob["id"],
        type=ob["type"],
        owner_org_id=org_ids[ob["owner"]],
        tlp=ob["tlp"],
        peer_id=None if ob["peer"] is None else peer_ids[ob["peer"]],
        memberships=tuple((col_ids[c], org_ids[by]) for c, by in ob["memberships"]),
        is_org_identity=ob["org_identity"] and not remote[ob["owner"]],
    )


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=worlds())
def test_sql_filter_predicate_and_read_paths_agree(engine, w: World):
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _check_world(conn, w)
        finally:
            trans.rollback()


def _check_world(conn, w: World) -> None:
    org_ids, _group_ids, col_ids, peer_ids = _load(conn, w)
    daily.rebuild(conn)  # _load writes rows directly: count them as the store's write path would have
    facts = [(ob, _facts(ob, org_ids, col_ids, peer_ids, w.remote)) for ob in w.objects]
    removals = _removal_facts(w, facts, org_ids, col_ids)
    statuses = {_status(conn, org_id, col_ids[0]): org_id for org_id in org_ids}
    refs = _report_refs(w)
    for o in range(w.n_orgs):
        for role in Role:
            p = principal_for(conn, org_id=org_ids[o], role=role.value)
            assert p.readable_collections == _expected_collections(w, o, "read", col_ids)
            assert p.writable_collections == _expected_collections(w, o, "write", col_ids)
            assert p.amber_peers == frozenset(pid for pid, lo in zip(peer_ids, w.peers, strict=True) if lo == o)
            _check_principal(conn, p, facts, col_ids, peer_ids, refs, org_ids)
            _check_removals(conn, p, removals)
            _check_statuses(conn, p, statuses)


def _preferred(p: Principal, readable: list[tuple[dict, ObjectFacts]]) -> dict[str, dict]:
    """Per id, the version a reader sees: the newest of its own organisation's copy, else of any copy."""
    chosen: dict[str, dict] = {}
    for ob, f in readable:
        own = f.owner_org_id == p.org_id or f.peer_id in p.amber_peers  # its own, or over a link of its own
        rank = (own, ob["version"], ob["seq"])
        best = chosen.get(ob["id"])
        if best is None or rank > best["rank"]:
            chosen[ob["id"]] = {**ob, "rank": rank, "owner_id": f.owner_org_id}
    return chosen


def _key(body: bytes | dict) -> tuple[str, str, int]:
    ob = orjson.loads(body) if isinstance(body, bytes) else body
    return (ob["id"], ob["modified"], ob["seq"])


def _check_principal(conn, p: Principal, facts, col_ids, peer_ids, refs: list[str], org_ids: list[int]) -> None:
    readable = [(ob, f) for ob, f in facts if can_read(p, f)]
    allowed = {(ob["id"], ob["version"], ob["seq"]) for ob, _ in readable}
    chosen = _preferred(p, readable)
    allowed_latest = {(ob["id"], ob["version"], ob["seq"]) for ob in chosen.values()}
    # the SQL face equals the predicate face
    assert queries.readable_keys(conn, p, latest_only=False) == allowed
    assert queries.readable_keys(conn, p, latest_only=True) == allowed_latest
    # REST list (every page) and by-id, versions
    assert {_key(raw) for _, raw in queries.list_latest(conn, p, limit=10_000)} == allowed_latest
    # the console's TLP filter: the levels (and unmarked) partition the readable latest versions
    by_tlp = [
        {_key(raw) for _, raw in queries.list_latest(conn, p, tlps=[level], limit=10_000)}
        for level in (None, *range(5))
    ]
    assert set().union(*by_tlp) == allowed_latest
    assert sum(map(len, by_tlp)) == len(allowed_latest)
    # search (REST and console, one service): words find exactly the newest readable version of each object
    # whose words match; a filter by a collection the reader may not read finds nothing
    found = search(conn, p, SearchQuery(text="zeta"), limit=1000)
    assert found.next is None
    assert {_key(raw) for _, raw in found.rows} == allowed_latest
    evens = {_key(raw) for _, raw in search(conn, p, SearchQuery(text="EVEN"), limit=1000).rows}
    assert evens == {k for k in allowed_latest if k[2] % 2 == 0}
    for two in ("zeta even", "even zeta"):  # either word may drive, the other is checked per row
        assert {_key(raw) for _, raw in search(conn, p, SearchQuery(text=two), limit=1000).rows} == evens
    for otype in sorted({ob["type"] for ob in chosen.values()}):  # words with a type filter: a query shape of its own
        got = {_key(raw) for _, raw in search(conn, p, SearchQuery(text="zeta", types=(otype,)), limit=1000).rows}
        assert got == {(ob["id"], ob["version"], ob["seq"]) for ob in chosen.values() if ob["type"] == otype}
    for c, cid in enumerate(col_ids):
        in_col = {
            (ob["id"], ob["version"], ob["seq"])
            for ob in chosen.values()
            if any(col_ids[m] == cid for m, _ in ob["memberships"])
        }
        may = p.is_admin or cid in p.readable_collections
        got = {_key(raw) for _, raw in search(conn, p, SearchQuery(text="zet*", collection=f"c{c}"), limit=1000).rows}
        assert got == (in_col if may else set())
    for o, oid in enumerate(org_ids):
        got = {_key(raw) for _, raw in search(conn, p, SearchQuery(owner=f"o{o}"), limit=1000).rows}
        assert got == {(ob["id"], ob["version"], ob["seq"]) for ob in chosen.values() if ob["owner_id"] == oid}
    # the console's charts count exactly the readable versions, per day, owner and sighting or not: from the
    # per-day counts (accord.store.daily) as from a scan through the SQL face
    expected: Counter[tuple[int, int, bool]] = Counter(
        (ob["seq"] // queries.DAY_US, f.owner_org_id, ob["type"] == "sighting") for ob, f in readable
    )
    assert queries.daily_counts(conn, p, since_us=0) == dict(expected)
    assert queries.daily_counts_scan(conn, p, since_us=0) == dict(expected)
    # and per collection the reader may read, each readable version in every such collection that holds it
    shown = set(col_ids) if p.is_admin else p.readable_collections
    per_collection = Counter(cid for _, f in readable for cid, _by in f.memberships if cid in shown)
    assert queries.collection_counts(conn, p, since_us=0) == dict(per_collection)
    for oid in {ob["id"] for ob, _ in facts}:
        got = queries.get_latest(conn, p, oid)
        if oid in chosen:
            assert got is not None
            assert _key(got) == _key(chosen[oid] | {"modified": chosen[oid]["version"]})
            assert queries.list_versions(conn, p, oid) == sorted(v for i, v, _ in allowed if i == oid)
            bodies = queries.version_bodies(conn, p, oid)  # the console's version history
            assert [v for v, _ in bodies] == queries.list_versions(conn, p, oid)
            assert {_key(raw) for _, raw in bodies} <= allowed
        else:
            assert got is None  # R7: indistinguishable from missing
            assert queries.list_versions(conn, p, oid) == []
            assert queries.version_bodies(conn, p, oid) == []
    # export, all versions and latest, whole store and per collection
    for all_versions in (False, True):
        buf = io.BytesIO()
        write_bundle(iter_raw(conn, p, collection_id=None, all_versions=all_versions), buf)
        exported = {_key(x) for x in orjson.loads(buf.getvalue())["objects"]}
        assert exported == (allowed if all_versions else allowed_latest)
    for cid in col_ids:
        in_col = {
            (ob["id"], ob["version"], ob["seq"])
            for ob, f in readable
            if any(col_ids[c] == cid for c, _ in ob["memberships"])
        }
        exported = {_key(r) for r in iter_raw(conn, p, collection_id=cid, all_versions=True)}
        assert exported == in_col
        # the live stream of the collection: the same versions, each added event visible exactly when readable
        events = stream_repo.events_after(conn, p, cid, 0, 100_000)
        assert {_key(e.raw) for e in events if e.kind == stream_repo.ADDED and e.visible} == in_col
        # a push of the collection to a peer reading as this principal (F1), never what came over that peer (F2)
        for pid in peer_ids:
            pushed = {_key(r.raw) for r in federation_repo.pending_push(conn, p, cid, 0, 100_000, pid)}
            assert pushed == {
                (ob["id"], ob["version"], ob["seq"])
                for ob, f in readable
                if f.peer_id != pid and any(col_ids[c] == cid for c, _ in ob["memberships"])
            }

    ids = {ob["id"] for ob, _ in facts}
    _check_taxii(conn, p, readable, col_ids, ids)
    _check_correlation_paths(conn, p, readable, chosen, ids)
    _check_report_correlations(conn, p, chosen, {ob["id"] for ob, _ in facts if ob["type"] == "report"}, refs)


def _check_taxii(conn, p: Principal, readable, col_ids: list[int], ids: set[str]) -> None:
    """TAXII objects, manifest and versions of each collection hold exactly the readable versions in it; a
    collection the reader may not read answers no page (404, or 403 when it may only write)."""
    everything = [("match[version]", "all"), ("limit", "5000")]
    for c, cid in enumerate(col_ids):
        alias = f"c{c}"
        if not taxii_service.may_read(p, cid):
            for endpoint in (Endpoint.OBJECTS, Endpoint.MANIFEST):
                with pytest.raises((NotFound, Forbidden)):
                    taxii_service.read_page(conn, p, alias, parse_filters(everything, endpoint), endpoint)
            continue
        in_col = {
            (ob["id"], ob["version"], ob["seq"])
            for ob, _ in readable
            if any(col_ids[m] == cid for m, _ in ob["memberships"])
        }
        page = taxii_service.read_page(conn, p, alias, parse_filters(everything, Endpoint.OBJECTS), Endpoint.OBJECTS)
        assert {_key(o) for o in orjson.loads(page.body).get("objects", [])} == in_col
        manifest = taxii_service.read_page(
            conn, p, alias, parse_filters(everything, Endpoint.MANIFEST), Endpoint.MANIFEST
        )
        entries = orjson.loads(manifest.body).get("objects", [])
        assert sorted(e["id"] for e in entries) == sorted(i for i, _, _ in in_col)
        for oid in ids:
            wanted = sorted(v for i, v, _ in in_col if i == oid)
            filters = parse_filters([("limit", "5000")], Endpoint.VERSIONS)
            if not wanted:
                with pytest.raises(NotFound):  # R7: as if it did not exist
                    taxii_service.read_page(conn, p, alias, filters, Endpoint.VERSIONS, oid)
                continue
            got = taxii_service.read_page(conn, p, alias, filters, Endpoint.VERSIONS, oid)
            versions = orjson.loads(got.body)["versions"]
            assert len(versions) == len(wanted)
            assert sorted(v for v in versions if v in wanted) == [v for v in wanted if v]


def _status(conn, org_id: int, collection_id: int) -> str:
    """A TAXII status resource of one organisation's POST."""
    status_id = str(uuid.uuid4())
    taxii_repo.insert_status(
        conn,
        {
            "id": status_id,
            "collection_id": collection_id,
            "org_id": org_id,
            "status": "complete",
            "request_us": 1,
            "total_count": 0,
            "detail": orjson.dumps({"successes": [], "failures": [], "pendings": []}),
        },
    )
    return status_id


def _check_statuses(conn, p: Principal, statuses: dict[str, int]) -> None:
    """A status resource is the writer organisation's (and an admin's) to read; to others it does not exist."""
    for status_id, org_id in statuses.items():
        if p.is_admin or org_id == p.org_id:
            assert taxii_writes.get_status(conn, p, status_id)["id"] == status_id
        else:
            with pytest.raises(NotFound):
                taxii_writes.get_status(conn, p, status_id)


def _check_report_correlations(conn, p: Principal, chosen: dict[str, dict], reports: set[str], refs) -> None:
    """A report's correlations: the readable objects outside it related to its readable members' values; an
    unreadable report does not exist."""
    readable_value = {oid: v for oid, ob in chosen.items() if (v := _value_of(ob)) is not None}
    members = [readable_value[m] for m in refs if m in readable_value]
    for rid in reports:
        if rid not in chosen:
            with pytest.raises(NotFound):
                report_correlations(conn, p, rid)
            continue
        got = report_correlations(conn, p, rid)
        expected = {o for o, v in readable_value.items() if o not in refs and any(_related(m, v) for m in members)}
        assert {e["id"] for e in got["correlated_objects"]} == expected


def _removal_facts(w: World, facts, org_ids, col_ids) -> list[tuple[int, ObjectFacts]]:
    """Each removal's tick, with the facts of its version as if the removed membership were its only one."""
    out = []
    for ob, f in facts:
        for (c, by), tick in zip(ob["removals"], ob["removal_ticks"], strict=True):
            out.append((tick, replace(f, memberships=((col_ids[c], org_ids[by]),))))
    return out


def _check_removals(conn, p: Principal, removals: list[tuple[int, ObjectFacts]]) -> None:
    """A removal is visible exactly when its membership, were it the version's only one, would let the reader
    read the version: the SQL face probing collection_removal equals can_read with that membership."""
    gone = collection_removal.alias("gone")
    visible = readable_clause(p, stix_object, collection_removal, member_tick=gone.c.tick)
    stmt = select(gone.c.tick).select_from(gone.join(stix_object, stix_object.c.seq == gone.c.object_seq))
    got = set(conn.execute(stmt.where(visible)).scalars())
    assert got == {tick for tick, f in removals if can_read(p, f)}


def _check_correlation_paths(conn, p: Principal, readable, chosen: dict[str, dict], ids: set[str]) -> None:
    """Lookups and correlations name exactly the readable ids whose preferred readable version matches, with the
    holders of the copies the reader may read."""
    readable_value = {oid: v for oid, ob in chosen.items() if (v := _value_of(ob)) is not None}
    holders: dict[str, dict[int, int]] = {}  # id -> readable owner -> its first seq
    for ob, f in readable:
        got = holders.setdefault(ob["id"], {})
        got[f.owner_org_id] = min(got.get(f.owner_org_id, ob["seq"]), ob["seq"])
    names = {r.id: r.name for r in conn.execute(org.select())}
    held_by = {oid: [names[o] for o, _ in sorted(got.items(), key=lambda kv: kv[1])] for oid, got in holders.items()}
    settings = get_settings()
    for value in VALUES:
        expected = {oid for oid, v in readable_value.items() if _related(value, v)}
        [item] = lookup(conn, p, [value])[0]["values"]
        assert {m["id"] for m in item["matches"]} == expected
        for m in item["matches"]:
            assert m["owner"] == names[chosen[m["id"]]["owner_id"]]
            assert m["held_by"] == held_by[m["id"]]
        limit, cap = settings.correlation_widespread, settings.correlation_count_cap
        settings.correlation_widespread = 0  # every answer becomes a bare count: of readable objects only
        try:
            [counted] = lookup(conn, p, [value])[0]["values"]
            settings.correlation_count_cap = 1  # a count cut short is a lower bound: never of unreadable objects
            [capped] = lookup(conn, p, [value])[0]["values"]
        finally:
            settings.correlation_widespread, settings.correlation_count_cap = limit, cap
        assert counted.get("count", 0) == len(expected)
        assert not counted.get("count_capped")
        if capped.get("count_capped"):
            assert 1 < capped["count"] <= len(expected)
        else:
            assert capped.get("count", 0) == len(expected)
    for oid in ids:
        if oid not in chosen:
            try:
                object_correlations(conn, p, oid)
            except NotFound:
                continue
            raise AssertionError(f"correlations revealed unreadable {oid}")
        got = object_correlations(conn, p, oid)
        assert got["held_by"] == held_by[oid]
        mine = readable_value.get(oid)
        expected = set() if mine is None else {o for o, v in readable_value.items() if o != oid and _related(mine, v)}
        assert {c["id"] for c in got["correlations"]} == expected
