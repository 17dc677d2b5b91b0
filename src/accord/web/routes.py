"""The UI's landing page: what this node is and where to go (a static page; data comes from the API)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accord</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#1d2733}
 h1{margin-bottom:.2rem} code{background:#eef2f6;padding:.1rem .3rem;border-radius:4px}
 li{margin:.3rem 0} .muted{color:#5a6978}
</style></head><body>
<h1>Accord</h1>
<p class="muted">Federated threat-intelligence sharing over STIX 2.1 and TAXII 2.1.</p>
<ul>
 <li><a href="/api/v1/docs">REST API</a> (OpenAPI: <code>/api/v1/openapi.json</code>)</li>
 <li>TAXII 2.1 discovery: <code>/taxii2/</code></li>
 <li>Health: <a href="/healthz"><code>/healthz</code></a></li>
</ul>
<p>Authenticate with <code>Authorization: Bearer &lt;token&gt;</code> (create one with
<code>accord token create EMAIL</code>) or HTTP Basic with your e-mail and password.</p>
<pre><code>curl -u alice@alpha.example:accord-demo http://127.0.0.1:8400/api/v1/objects?limit=5</code></pre>
</body></html>
"""


def register(app: FastAPI) -> None:
    """Mount the landing page at /."""

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(PAGE)
