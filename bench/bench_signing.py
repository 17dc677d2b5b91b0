"""Cost of signing TAXII responses (X-Accord-Signature, Ed25519) on a page of 1,000 indicators.

Serves one 1,000-object page of a SQLite store through the ASGI app (in process, no network) with
sign_responses on and off in alternating rounds, and times sign_body / verify_body alone on the same body.
Run: python bench/bench_signing.py [ROUNDS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datagen import indicator

PAGE = 1_000


def _setup(var: Path) -> tuple[str, dict[str, str]]:
    os.environ["ACCORD_DATABASE_URL"] = f"sqlite:///{var / 'accord.db'}"
    os.environ["ACCORD_VAR_DIR"] = str(var)
    os.environ["ACCORD_RUN_JOBS"] = "0"
    from accord.accounts import service as accounts
    from accord.core.db import get_engine, transaction
    from accord.core.migrate import upgrade
    from accord.demo.service import ensure_host_org
    from accord.store.service import WriteContext, ingest

    upgrade(get_engine())
    with transaction() as conn:
        host = ensure_host_org(conn)
        name = accounts.get_org(conn, host).name
        coll = accounts.create_collection(conn, "Bench", "bench", readers=[name], writers=[name], actor="bench")
        accounts.create_user(conn, "bench@example.org", name, "analyst", None, actor="bench")
        token = accounts.create_token(conn, "bench@example.org", actor="bench")
        objects = [indicator(i, "sig") for i in range(PAGE)]
        ingest(conn, objects, WriteContext(writer_org_id=host, collection_id=coll.id))
    url = f"/taxii2/api/collections/{coll.uuid}/objects/?limit={PAGE}"
    return url, {"Authorization": f"Bearer {token}", "Accept": "application/taxii+json;version=2.1"}


def _median_ms(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    """Measure and print the table."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        url, headers = _setup(Path(tmp))
        from fastapi.testclient import TestClient

        from accord.api.app import create_app
        from accord.core import keys
        from accord.core.settings import get_settings

        with TestClient(create_app()) as client:
            body = client.get(url, headers=headers).content
            assert body.count(b'"type":"indicator"') == PAGE, "the page is not full"
            pages: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(rounds):
                for sign in (True, False):
                    os.environ["ACCORD_SIGN_RESPONSES"] = "1" if sign else "0"
                    get_settings.cache_clear()
                    t0 = time.perf_counter()
                    response = client.get(url, headers=headers)
                    pages[sign].append((time.perf_counter() - t0) * 1000)
                    assert (keys.SIGNATURE_HEADER in response.headers) is sign
        header = keys.sign_body(body)
        public = keys.public_key_text()
        sign_ms = _median_ms(lambda: keys.sign_body(body), rounds * 4)
        verify_ms = _median_ms(lambda: keys.verify_body(public, body, header), rounds * 4)
    on, off = statistics.median(pages[True]), statistics.median(pages[False])
    print(f"one page of {PAGE:,} indicators, {len(body):,} bytes; medians of {rounds} alternating rounds (ms)")
    print(f"{'GET page, signed':<28}{on:>9.2f}")
    print(f"{'GET page, unsigned':<28}{off:>9.2f}")
    print(f"{'sign_body alone':<28}{sign_ms:>9.2f}")
    print(f"{'verify_body alone':<28}{verify_ms:>9.2f}")


if __name__ == "__main__":
    main()
