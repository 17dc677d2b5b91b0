"""GET /api/v1/search: words of names and descriptions, filters, keyset pages, all through the one policy."""

from __future__ import annotations

from accord.accounts import service as accounts
from accord.core.db import get_engine
from accord.correlate.words import query_words, words_of
from accord.stix.markings import Tlp
from accord.store.service import WriteContext, ingest
from tests.builders import make_indicator, make_malware, ts


def _publish(org_name: str, alias: str, *objects):
    with get_engine().begin() as conn:
        org = accounts.get_org_by_name_or_raise(conn, org_name)
        col = accounts.get_collection_by_alias_or_raise(conn, alias)
        report = ingest(conn, objects, WriteContext(writer_org_id=org.id, collection_id=col.id))
        assert report.stored == len(objects)


def _setup():
    with get_engine().begin() as conn:
        accounts.create_group(conn, "Everyone", ["Alpha", "Bravo"])
        accounts.create_collection(conn, "Shared", "shared", readers=["Everyone"], writers=["Everyone"])
        accounts.create_collection(conn, "Alpha only", "alpha-only", readers=["Alpha"], writers=["Alpha"])


def _ids(node, who: str, query: str) -> list[str]:
    r = node.client.get(f"/api/v1/search?{query}", headers=node.bearer(who))
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()["objects"]]


def test_words_come_from_names_and_descriptions():
    obj = {"name": "Émotet Loader-v2", "description": "Spread by phishing; loader.", "pattern": "[x:y = 'zz']"}
    assert words_of(obj) == ("émotet", "loader", "v2", "spread", "by", "phishing")
    assert query_words("LOADER phish* a") == [("loader", False), ("phish", True)]


def test_search_matches_every_word_and_prefixes(node):
    _setup()
    a = make_malware("Dridex loader", description="Banking trojan spread by phishing")
    b = make_malware("Emotet", description="A loader, also by phishing mail")
    c = make_indicator(description="Nothing to see")
    _publish("Alpha", "shared", a, b, c)
    assert set(_ids(node, "bob", "q=loader")) == {a["id"], b["id"]}
    assert _ids(node, "bob", "q=phishing+banking") == [a["id"]]
    assert _ids(node, "bob", "q=LOADER+Emotet") == [b["id"]]
    assert set(_ids(node, "bob", "q=phish*")) == {a["id"], b["id"]}
    assert _ids(node, "bob", "q=phish") == []  # whole words unless a prefix is asked for
    assert _ids(node, "bob", "q=loader&type=indicator") == []


def test_red_of_another_org_never_matches(node):
    _setup()
    red = make_indicator(tlp=Tlp.RED, name="Secretworm beacon")
    green = make_indicator(tlp=Tlp.GREEN, name="Secretworm public")
    _publish("Alpha", "shared", red, green)
    assert _ids(node, "bob", "q=secretworm") == [green["id"]]
    assert _ids(node, "bob", "q=beacon") == []
    assert _ids(node, "bob", "q=secretworm&tlp=red") == []
    assert set(_ids(node, "alice", "q=secretworm")) == {red["id"], green["id"]}
    assert _ids(node, "admin", "q=beacon") == [red["id"]]


def test_filters_collection_owner_tlp_and_time(node):
    _setup()
    old = make_indicator(tlp=Tlp.GREEN, name="Kestrel old", created=ts(10, day=2))
    new = make_indicator(tlp=Tlp.AMBER, name="Kestrel new", created=ts(10, day=20))
    private = make_indicator(tlp=Tlp.GREEN, name="Kestrel private", created=ts(10, day=20))
    bravo = make_indicator(tlp=Tlp.GREEN, name="Kestrel bravo", created=ts(10, day=20))
    _publish("Alpha", "shared", old, new)
    _publish("Alpha", "alpha-only", private)
    _publish("Bravo", "shared", bravo)
    assert set(_ids(node, "alice", "q=kestrel&collection=alpha-only")) == {private["id"]}
    # a collection Bob may not read matches nothing, exactly like one that does not exist
    assert _ids(node, "bob", "q=kestrel&collection=alpha-only") == []
    assert _ids(node, "bob", "q=kestrel&collection=no-such") == []
    assert _ids(node, "alice", "q=kestrel&owner=Bravo") == [bravo["id"]]
    assert _ids(node, "alice", "q=kestrel&owner=Nobody") == []
    assert set(_ids(node, "alice", "q=kestrel&tlp=amber&tlp=clear")) == {new["id"]}
    assert set(_ids(node, "alice", "q=kestrel&until=2026-01-02")) == {old["id"]}
    assert set(_ids(node, "alice", "q=kestrel&since=2026-01-03")) == {new["id"], private["id"], bravo["id"]}
    assert set(_ids(node, "alice", "q=kestrel&since=2026-01-20T00:00:10Z&until=2026-01-20T00:00:10Z")) == {
        new["id"],
        private["id"],
        bravo["id"],
    }


def test_warninglisted_filter(node):
    _setup()
    listed = make_indicator(tlp=Tlp.GREEN, name="Osprey resolver", value="8.8.8.8")
    clean = make_indicator(tlp=Tlp.GREEN, name="Osprey c2", value="45.137.21.9")
    _publish("Alpha", "shared", listed, clean)
    assert _ids(node, "bob", "q=osprey&warninglisted=true") == [listed["id"]]
    assert _ids(node, "bob", "q=osprey&warninglisted=false") == [clean["id"]]


def test_pages_by_keyset_and_cursors_are_bound(node):
    _setup()
    objs = [make_indicator(tlp=Tlp.GREEN, name=f"Heron {i}") for i in range(7)]
    _publish("Alpha", "shared", *objs)
    seen: list[str] = []
    url = "/api/v1/search?q=heron&limit=3"
    while True:
        body = node.client.get(url, headers=node.bearer("bob")).json()
        seen += [o["id"] for o in body["objects"]]
        if "next" not in body:
            break
        url = f"/api/v1/search?q=heron&limit=3&before={body['next']}"
    assert sorted(seen) == sorted(o["id"] for o in objs)
    assert len(seen) == 7
    first = node.client.get("/api/v1/search?q=heron&limit=3", headers=node.bearer("bob")).json()["next"]
    # the cursor is for this caller and this query only
    assert (
        node.client.get(f"/api/v1/search?q=heron&limit=3&before={first}", headers=node.bearer("alice")).status_code
        == 400
    )
    assert (
        node.client.get(f"/api/v1/search?q=other&limit=3&before={first}", headers=node.bearer("bob")).status_code == 400
    )


def test_bad_input_is_a_precise_400(node):
    for query, word in (
        ("tlp=purple", "tlp"),
        ("since=yesterday", "since"),
        ("q=%21%21", "text"),
        ("before=garbage", "before"),
    ):
        r = node.client.get(f"/api/v1/search?{query}", headers=node.bearer("bob"))
        assert r.status_code == 400, query
        assert r.headers["content-type"] == "application/problem+json"
        assert word in r.json()["detail"]
    assert node.client.get("/api/v1/search?limit=0", headers=node.bearer("bob")).status_code == 422
    assert node.client.get("/api/v1/search").status_code == 401


def _all_pages(node, who: str, query: str) -> tuple[list[str], list[int]]:
    """The ids of every page of a search, following `next`, and the size of each page."""
    seen: list[str] = []
    sizes: list[int] = []
    url = f"/api/v1/search?{query}"
    while True:
        r = node.client.get(url, headers=node.bearer(who))
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [o["id"] for o in body["objects"]]
        sizes.append(len(body["objects"]))
        if "next" not in body:
            return seen, sizes
        url = f"/api/v1/search?{query}&before={body['next']}"


def test_a_bounded_word_scan_still_pages_every_match_once(node, monkeypatch):
    # A word most objects hold drives the query; a filter leaving few of them makes each request read at most
    # WORD_BUDGET of the word's index rows, so a page may come back short, with a `next` that goes on.
    from accord.search import service

    monkeypatch.setattr(service, "WINDOW", 3)
    monkeypatch.setattr(service, "WORD_BUDGET", 6)
    _setup()
    objs = []
    for i in range(24):
        if i % 8 == 0:
            objs.append(make_indicator(tlp=Tlp.GREEN, name=f"Common lapwing {i}"))
        else:
            objs.append(make_malware(f"Common {i}", description="lapwing" if i % 2 else "plover"))
    _publish("Alpha", "shared", *objs)
    newest_first = list(reversed(objs))
    wanted = [o["id"] for o in newest_first if o["type"] == "indicator"]
    for query in ("q=common&type=indicator", "q=lapwing+common&type=indicator", "q=common+lapwing&type=indicator"):
        seen, sizes = _all_pages(node, "bob", query + "&limit=2")
        assert seen == wanted, query  # newest first, each once
        assert len(sizes) > 2, sizes  # the bound cut pages short: three matches took more than two pages of 2
    # two whole words: whichever drives, the answer is the objects holding both, each once
    both = [o["id"] for o in newest_first if "lapwing" in (o["name"] + o.get("description", "")).lower()]
    assert _all_pages(node, "bob", "q=common+lapwing&limit=100")[0] == both
    assert _all_pages(node, "bob", "q=lapwing+common&limit=100")[0] == both
    assert _all_pages(node, "bob", "q=lapwing+comm*&limit=100")[0] == both
