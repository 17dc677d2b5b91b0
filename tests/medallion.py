"""A real medallion 3.0.0 TAXII 2.1 server on loopback, in a subprocess, for interop tests.

    with running_medallion(tmp_path, objects=[make_indicator() for _ in range(5)], page_size=2) as taxii:
        with TaxiiClient(taxii.remote()) as client: ...

medallion is a Flask app configured from a JSON file (users for HTTP Basic, its page size, and a memory backend
loaded from a data file). It runs in its own process: its app is a module-level singleton (one configuration
per process), and its import-time warnings stay out of pytest's warnings-as-errors. The server listens on a port
the OS picks and prints it; the context manager ends the process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.remote.taxii import TAXII_MEDIA, RemoteServer

COLLECTION = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"  # readable and writable
READ_ONLY = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
USER, PASSWORD = "admin", "Password0"

_LAUNCH = """
import sys
from medallion import load_app
from werkzeug.serving import make_server
server = make_server("127.0.0.1", 0, load_app(sys.argv[1]), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


@dataclass(frozen=True)
class Medallion:
    """A running medallion: its URLs, its read/write collection and its credentials."""

    base: str  # http://127.0.0.1:PORT/
    discovery: str  # base + "taxii2/"
    api_root: str  # base + "api1/"
    collection: str = COLLECTION
    read_only: str = READ_ONLY
    username: str = USER
    password: str = PASSWORD

    def remote(self, url: str | None = None, **extra: Any) -> RemoteServer:
        """A RemoteServer for it (the discovery URL unless told), with its credentials and loopback allowed."""
        options: dict[str, Any] = {"username": self.username, "password": self.password, "allow_private": True}
        return RemoteServer(url=url or self.discovery, **{**options, **extra})


def date_added(i: int) -> str:
    """The date_added of the i-th preloaded object: one per second, in order."""
    return f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}.000000Z"


def _collection(cid: str, title: str, objects: Sequence[dict[str, Any]], *, can_write: bool) -> dict[str, Any]:
    manifest = [
        {
            "id": o["id"],
            "date_added": date_added(i),
            "version": o.get("modified", o.get("created", date_added(i))),
            "media_type": "application/stix+json;version=2.1",
        }
        for i, o in enumerate(objects)
    ]
    return {
        "id": cid,
        "title": title,
        "can_read": True,
        "can_write": can_write,
        "media_types": ["application/stix+json;version=2.1"],
        "objects": list(objects),
        "manifest": manifest,
    }


def medallion_data(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The memory backend's data: discovery naming /api1/ (relative) as default, one API root, two collections."""
    return {
        "/discovery": {
            "title": "medallion for Accord tests",
            "default": "/api1/",
            "api_roots": ["/api1/"],
        },
        "api1": {
            "information": {"title": "api1", "versions": [TAXII_MEDIA], "max_content_length": 10_485_760},
            "status": [],
            "collections": [
                _collection(COLLECTION, "read and write", objects, can_write=True),
                _collection(READ_ONLY, "read only", [], can_write=False),
            ],
        },
    }


@contextmanager
def running_medallion(
    directory: Path, objects: Sequence[dict[str, Any]] = (), *, page_size: int = 100
) -> Iterator[Medallion]:
    """medallion serving `objects` (date_added one second apart, in order) in COLLECTION, until the block ends."""
    data = directory / "medallion-data.json"
    data.write_text(json.dumps(medallion_data(objects)))
    config = directory / "medallion-config.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data),
                },
                "users": {USER: PASSWORD},
                "taxii": {"max_page_size": page_size},
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"medallion did not start (exit code {process.poll()})")
        base = f"http://127.0.0.1:{line}/"
        yield Medallion(base=base, discovery=base + "taxii2/", api_root=base + "api1/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
