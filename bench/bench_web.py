"""Web console speed: server time of its pages beside the REST calls that fetch the same data, and page loads.

A node (SQLite) with the demo community plus N mixed objects (default 100,000; datagen.mixed) imported through
`accord import`, and a hub indicator with 50 relationships. Server time is measured in-process through the ASGI
app (median and p95 of RUNS requests): the dashboard beside GET /api/v1/objects?limit=15, a search of 100
values beside POST /api/v1/lookup of the same values, the hub's object page beside its REST object +
correlations, a report page beside its REST report correlations, the cases board and a case page (made through
the REST API) beside the REST calls that fetch the same. Then a real `accord serve` on loopback and
Debian's Chromium: DOMContentLoaded of each page (p95), beside the sign-in page (no data).

Run: python bench/bench_web.py [N]
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import bundle, mixed

ROOT = Path(__file__).resolve().parent.parent
ACCORD = str(ROOT / ".venv" / "bin" / "accord")
RUNS = 30
PASSWORD = "accord-demo"
EMAIL = "alice@alpha.example"
CHROMIUM = Path("/usr/bin/chromium")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([ACCORD, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"accord {' '.join(args)}: {done.stderr}")
    return done.stdout


def _star(arms: int) -> tuple[list[dict[str, Any]], str]:
    t = "2026-11-01T00:00:00.000Z"
    hub = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}", "created": t,
        "modified": t, "name": "Hub", "pattern": "[ipv4-addr:value = '203.0.113.77']", "pattern_type": "stix",
        "valid_from": t,
    }  # fmt: skip
    objects = [hub]
    for n in range(arms):
        mw = {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}", "created": t,
              "modified": t, "name": f"Family {n}", "is_family": True}  # fmt: skip
        rel = {"type": "relationship", "spec_version": "2.1", "id": f"relationship--{uuid.uuid4()}", "created": t,
               "modified": t, "relationship_type": "indicates", "source_ref": hub["id"],
               "target_ref": mw["id"]}  # fmt: skip
        objects += [mw, rel]
    return objects, hub["id"]


def _pcts(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def _timed(call: Any) -> tuple[float, float]:
    call()  # warm
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.text[:300]
    return _pcts(samples)


CASES, TASKS, COMMENTS = 200, 30, 60


def _joint_content(client: Any, api: dict[str, str], refs: list[str]) -> str:
    """CASES cases of CERT Alpha with SOC Bravo; the newest links `refs` and has TASKS tasks and COMMENTS comments."""
    for n in range(CASES - 1):
        body = {"title": f"Case {n}", "participants": ["SOC Bravo"]}
        assert client.post("/api/v1/cases", json=body, headers=api).status_code == 201
    body = {"title": "Benchmarked case", "participants": ["SOC Bravo"], "object_ids": refs}
    answer = client.post("/api/v1/cases", json=body, headers=api)
    assert answer.status_code == 201, answer.text[:300]
    case = str(answer.json()["id"])
    for n in range(TASKS):
        client.post(f"/api/v1/cases/{case}/tasks", json={"title": f"Task {n}", "assignee": EMAIL}, headers=api)
    for n in range(COMMENTS):
        client.post(f"/api/v1/cases/{case}/comments", json={"content": f"Comment {n} " * 20}, headers=api)
    return case


def _signed_in(env: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """An in-process client of the node signed in as EMAIL, and REST headers with a fresh token."""
    os.environ.update(env)
    from fastapi.testclient import TestClient

    from accord.api.app import create_app

    client = TestClient(create_app())
    page = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client.post("/signin", data={"csrf": csrf, "email": EMAIL, "password": PASSWORD, "next": "/"})
    token = _cli(env, "token", "create", EMAIL).strip().splitlines()[-1]
    return client, {"authorization": f"Bearer {token}"}


def server_times(
    env: dict[str, str], hub: str, report: str, values: list[str], case: str, links: int
) -> list[tuple[str, float, float]]:
    client, api = _signed_in(env)
    query = "\n".join(values)

    def rest_case() -> Any:
        subs = ("", "/tasks", "/timeline", "/links")
        return [client.get(f"/api/v1/cases/{case}{sub}", headers=api) for sub in subs][-1]

    calls = [
        ("dashboard page", (lambda: client.get("/"))),
        ("  REST: newest 15 objects", (lambda: client.get("/api/v1/objects?limit=15", headers=api))),
        ("search page, 100 values", (lambda: client.get("/search", params={"q": query}))),
        ("  REST: lookup of the 100 values", (lambda: client.post("/api/v1/lookup", json={"values": values}, headers=api))),  # noqa: E501
        ("object page, 50 relationships", (lambda: client.get(f"/objects/{hub}"))),
        ("  + its graph.json (fetched by the page)", (lambda: client.get(f"/objects/{hub}/graph.json"))),
        ("  REST: object + correlations", (lambda: (client.get(f"/api/v1/objects/{hub}", headers=api),
                                                          client.get(f"/api/v1/objects/{hub}/correlations", headers=api))[1])),  # noqa: E501
        ("report page", (lambda: client.get(f"/reports/{report}"))),
        ("  REST: report correlations", (lambda: client.get(f"/api/v1/reports/{report}/correlations", headers=api))),
        (f"cases board ({CASES} cases)", (lambda: client.get("/cases"))),
        ("  REST: newest 50 cases", (lambda: client.get("/api/v1/cases?limit=50", headers=api))),
        (f"case page ({links} links, {TASKS} tasks, {COMMENTS} comments)", (lambda: client.get(f"/cases/{case}"))),
        ("  REST: case + tasks + timeline + links", rest_case),
    ]  # fmt: skip
    rows = []
    for name, call in calls:
        med, p95 = _timed(call)
        print(f"  {name.strip()}: median {med:.1f} ms, p95 {p95:.1f} ms", file=sys.stderr, flush=True)
        rows.append((name, med, p95))
    return rows


def page_loads(env: dict[str, str], paths: list[tuple[str, str]]) -> list[tuple[str, float, float]]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from tests.e2e.nodes import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([ACCORD, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    out = []
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page()
            for name, path in [("sign-in page (no data)", "/signin"), *paths]:
                if path != "/signin" and "accord_session" not in {c["name"] for c in page.context.cookies()}:
                    page.goto(f"{url}/signin")
                    page.fill("#email", EMAIL)
                    page.fill("#password", PASSWORD)
                    page.click("form[action='/signin'] button[type=submit]")
                    page.wait_for_load_state()
                samples = []
                for _ in range(12):
                    page.goto(url + path, wait_until="domcontentloaded")
                    timing = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
                    samples.append(timing["domContentLoadedEventEnd"] - timing["startTime"])
                out.append((name, *_pcts(samples[2:])))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return out


CHUNK = 100_000  # objects per `accord import` while building a store


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}
    env.update(ACCORD_DATABASE_URL=f"sqlite:///{home / 'accord.db'}", ACCORD_VAR_DIR=str(home / "var"),
               ACCORD_FEED_SCHEDULE_SECONDS="0")  # fmt: skip
    return env


def build_store(home: Path, n: int) -> dict[str, Any]:
    """A node with the demo community, n mixed objects, a 50-arm hub and CASES cases; returns what the runs need."""
    env = _env(home)
    _cli(env, "init")
    _cli(env, "demo")
    t0 = time.perf_counter()
    objects = mixed(n)
    star, hub = _star(50)
    objects += star
    for start in range(0, len(objects), CHUNK):
        (home / "chunk.json").write_bytes(orjson.dumps(bundle(objects[start : start + CHUNK])))
        _cli(env, "import", str(home / "chunk.json"), "--collection", "shared", "--as", EMAIL)
        print(f"  imported {min(start + CHUNK, len(objects)):,} objects", file=sys.stderr, flush=True)
    (home / "chunk.json").unlink()
    print(f"imported {n:,} objects (+101) in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    reports = [o for o in objects if o.get("type") == "report" and o.get("object_refs")]
    report = max(reports, key=lambda o: len(o["object_refs"]))
    values = []
    for o in objects:
        found = re.search(r"value = '([^']+)'", o.get("pattern", ""))
        if found:
            values.append(found.group(1))
        if len(values) == 100:
            break
    client, api = _signed_in(env)
    case = _joint_content(client, api, report["object_refs"])
    return {"hub": hub, "report": report["id"], "report_size": len(report["object_refs"]), "values": values,
            "case": case}  # fmt: skip


def store(n: int) -> tuple[Path, dict[str, Any]]:
    """The cached store of n objects under var/bench-web/ (or $ACCORD_BENCH_WEB_DIR), built on first use.

    A later run reuses it after `accord init` (which applies new migrations); delete the folder to rebuild.
    """
    base = Path(os.environ.get("ACCORD_BENCH_WEB_DIR") or ROOT / "var" / "bench-web")
    home = base / str(n)
    meta = home / "meta.json"
    if meta.exists():
        _cli(_env(home), "init")
        print(f"reusing the store of {n:,} objects in {home}", file=sys.stderr)
        return home, orjson.loads(meta.read_bytes())
    building = base / f"{n}.building"
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    info = build_store(building, n)
    (building / "meta.json").write_bytes(orjson.dumps(info))
    building.rename(home)
    return home, info


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    home, info = store(n)
    env = _env(home)
    hub, report, values = info["hub"], info["report"], info["values"]
    if os.environ.get("ACCORD_BENCH_WEB_BUILD_ONLY"):
        return
    server = server_times(env, hub, report, values, info["case"], info["report_size"])
    loads = []
    if CHROMIUM.exists():
        loads = page_loads(env, [("dashboard", "/"), ("search, 100 values", "/search?q=" + "%0A".join(values)),
                                 ("object page, 50 relationships", f"/objects/{hub}"),
                                 ("report page", f"/reports/{report}"),
                                 ("cases board", "/cases"), ("my tasks", "/tasks")])  # fmt: skip
    print(f"\nWeb console on {n:,} imported objects (SQLite; report of {info['report_size']} objects)")
    print(f"{'server time (in-process ASGI)':44} {'median ms':>10} {'p95 ms':>8}")
    for name, med, p95 in server:
        print(f"{name:44} {med:10.1f} {p95:8.1f}")
    if loads:
        print(f"\n{'Chromium DOMContentLoaded (loopback)':44} {'median ms':>10} {'p95 ms':>8}")
        for name, med, p95 in loads:
            print(f"{name:44} {med:10.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
