"""Paging and the policy, for all inputs: random stores (every version created in one second), random
callers, filters and page sizes. Paging by `next` and by moving added_after must both return exactly the
unpaged answer, in date_added order, once each -- and the unpaged answer must be exactly what the policy
oracle (queries.readable_keys) allows, with first/last taken among the caller's readable versions."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accord.models.objects import collection_object, stix_object
from accord.stix.markings import Tlp
from accord.store import queries
from accord.store.service import WriteContext, ingest
from tests.builders import make_collection, make_indicator, make_malware

CALLERS = ["alice", "bob", "rita", "root"]
SECOND = "2026-02-01T00:00:00"

obj_spec = st.tuples(
    st.sampled_from(["indicator", "malware"]),
    st.integers(1, 3),  # versions
    st.sampled_from([None, *list(Tlp)]),
    st.sampled_from(["alpha", "beta"]),  # owner and writer
    st.booleans(),  # the other organisation writes versions of the same id too (its own copy where it cannot read)
)
OTHER = {"alpha": "beta", "beta": "alpha"}


def _build(conn: Any, community: Any, specs: list[tuple[str, int, Tlp | None, str, bool]], order: list[int]) -> Any:
    coll = make_collection(conn, f"p{uuid.uuid4().hex[:8]}", readers=["Alpha", "Beta"], writers=["Alpha", "Beta"])
    versions: list[tuple[str, dict[str, Any]]] = []
    for kind, n, tlp, owner, twice in specs:
        oid = f"{kind}--{uuid.uuid4()}"
        for v, who in [(v, owner) for v in range(n)] + [(v, OTHER[owner]) for v in range(n) if twice]:
            extra: dict[str, Any] = {"created": f"{SECOND}.000Z", "modified": f"{SECOND}.{v:03d}Z", "id": oid}
            if tlp is not None:
                extra["object_marking_refs"] = [make_indicator(tlp=tlp)["object_marking_refs"][0]]
            if kind == "indicator":
                body = make_indicator(oid=oid, created=extra["created"], modified=extra["modified"])
                body.update({k: extra[k] for k in extra if k == "object_marking_refs"})
            else:
                body = make_malware(**extra)
            versions.append((who, body))
    for i in order:
        if i < len(versions):
            who, body = versions[i]
            ingest(conn, [body], WriteContext(writer_org_id=community.orgs[who].id, collection_id=coll.id))
    return coll


def _oracle(conn: Any, principal: Any, coll_id: int, f: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(id, version, tick) the caller must get, in date_added order; first and last per id are taken among the
    readable versions here of the caller's own copy when it holds one, else of every copy."""
    readable = queries.readable_keys(conn, principal, latest_only=False)
    m, o = collection_object.c, stix_object.c
    rows = conn.execute(
        select(m.tick, o.id, o.version, o.type, o.seq, o.owner_org_id)
        .join_from(collection_object, stix_object, o.seq == m.object_seq)
        .where(m.collection_id == coll_id)
        .order_by(m.tick)
    ).all()
    visible = [r for r in rows if (r.id, r.version, r.seq) in readable]
    per_id: dict[str, list[tuple[bool, str, int]]] = {}
    for r in visible:
        per_id.setdefault(r.id, []).append((r.owner_org_id == principal.org_id, r.version, r.seq))

    def rank(r: Any) -> tuple[bool, str, int]:
        return (r.owner_org_id == principal.org_id, r.version, r.seq)

    def earliest(r: Any) -> tuple[bool, str, int]:
        own = [c for c in per_id[r.id] if c[0]]
        return min(own or per_id[r.id], key=lambda c: (c[1], c[2]))

    wanted = f["versions"]
    out = []
    for r in visible:
        if f["types"] and r.type not in f["types"]:
            continue
        if f["ids"] is not None and r.id not in f["ids"]:
            continue
        if f["after"] is not None and r.tick <= f["after"]:
            continue
        ok = (
            "all" in wanted
            or ("last" in wanted and rank(r) == max(per_id[r.id]))
            or ("first" in wanted and rank(r) == earliest(r))
            or r.version in wanted
        )
        if ok:
            out.append((r.id, r.version, r.tick))
    return out


def _params(f: dict[str, Any], micros_to_ts: Any) -> dict[str, str]:
    p: dict[str, str] = {"match[version]": ",".join(sorted(f["versions"]))}
    if f["types"]:
        p["match[type]"] = ",".join(f["types"])
    if f["ids"] is not None:
        p["match[id]"] = ",".join(sorted(f["ids"]))
    if f["after"] is not None:
        p["added_after"] = micros_to_ts(f["after"])
    return p


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_paging_returns_the_unpaged_policy_answer(client, community, engine, data):
    from accord.stix.timestamps import micros_to_timestamp, normalize_timestamp

    specs = data.draw(st.lists(obj_spec, min_size=1, max_size=8), label="store")
    total = sum(s[1] for s in specs)
    order = data.draw(st.permutations(range(total)), label="order")
    with engine.begin() as conn:
        coll = _build(conn, community, specs, order)
    caller = data.draw(st.sampled_from(CALLERS), label="caller")
    principal = community.principal(caller)
    with engine.connect() as conn:
        everything = _oracle(conn, principal, coll.id, {"versions": {"all"}, "types": [], "ids": None, "after": None})
    all_ids = sorted({r[0] for r in everything})
    all_versions = sorted({r[1] for r in everything})
    keywords = data.draw(st.sets(st.sampled_from(["first", "last", "all"]), max_size=2), label="keywords")
    stamps = data.draw(st.sets(st.sampled_from(all_versions), max_size=2), label="stamps") if all_versions else set()
    f = {
        "versions": (keywords | stamps) or {"last"},
        "types": data.draw(st.lists(st.sampled_from(["indicator", "malware"]), max_size=1, unique=True)),
        "ids": set(data.draw(st.lists(st.sampled_from(all_ids), max_size=3))) or None if all_ids else None,
        "after": data.draw(st.sampled_from([None] + [r[2] for r in everything]), label="after"),
    }
    with engine.connect() as conn:
        expected = _oracle(conn, principal, coll.id, f)
    params = _params(f, micros_to_timestamp)
    headers = community.auth[caller]
    url = community.url(coll, "manifest/")

    def entries(body: dict[str, Any]) -> list[tuple[str, str, str]]:
        return [(e["id"], e["version"], e["date_added"]) for e in body.get("objects", [])]

    want = [(i, normalize_timestamp(v), micros_to_timestamp(t)) for i, v, t in expected]
    unpaged = client.get(url, params=params, headers=headers)
    assert unpaged.status_code == 200
    assert entries(unpaged.json()) == want
    objects = client.get(community.url(coll, "objects/"), params=params, headers=headers).json()
    assert [(o["id"], normalize_timestamp(o["modified"])) for o in objects.get("objects", [])] == [w[:2] for w in want]

    size = data.draw(st.integers(1, 4), label="page size")
    # 1. by next
    got: list[tuple[str, str, str]] = []
    r = client.get(url, params={**params, "limit": str(size)}, headers=headers)
    while True:
        assert r.status_code == 200
        body = r.json()
        assert len(body.get("objects", [])) <= size
        got += entries(body)
        if not body.get("more"):
            break
        other = "bob" if caller != "bob" else "alice"
        foreign = client.get(url, params={**params, "next": body["next"]}, headers=community.auth[other])
        assert foreign.status_code == 400
        r = client.get(url, params={**params, "limit": str(size), "next": body["next"]}, headers=headers)
    assert got == want
    # 2. by moving added_after to the last date_added header
    got = []
    moving = dict(params)
    while True:
        r = client.get(url, params={**moving, "limit": str(size)}, headers=headers)
        assert r.status_code == 200
        body = r.json()
        got += entries(body)
        if not body.get("objects"):
            break
        assert r.headers["x-taxii-date-added-first"] == body["objects"][0]["date_added"]
        moving["added_after"] = r.headers["x-taxii-date-added-last"]
    assert got == want
    # by-id and versions of one object agree with the oracle too
    if all_ids:
        oid = data.draw(st.sampled_from(all_ids), label="object")
        with engine.connect() as conn:
            allv = _oracle(conn, principal, coll.id, {"versions": {"all"}, "types": [], "ids": {oid}, "after": None})
        r = client.get(community.url(coll, f"objects/{oid}/versions/"), headers=headers)
        assert r.json()["versions"] == [normalize_timestamp(v) for _, v, _ in allv]
    # objects in the collection the caller may not read do not exist for it (R7)
    admin_view = client.get(url, params={"match[version]": "all"}, headers=community.auth["root"]).json()
    hidden = {e[0] for e in entries(admin_view)} - set(all_ids)
    for oid in sorted(hidden)[:2]:
        assert client.get(community.url(coll, f"objects/{oid}/"), headers=headers).status_code == 404
        assert client.get(community.url(coll, f"objects/{oid}/versions/"), headers=headers).status_code == 404
