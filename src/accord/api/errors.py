"""Render errors: TAXII error objects on TAXII routes, problem JSON elsewhere; never HTML."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from fastapi import Request
from fastapi.responses import Response

from accord.core.keys import SIGNATURE_HEADER, sign_body
from accord.core.settings import get_settings

TAXII_MEDIA = "application/taxii+json;version=2.1"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Payload Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def taxii_response(content: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A TAXII response, its body signed with the node key (X-Accord-Signature) unless sign_responses is off."""
    sent = dict(headers or {})
    if content and get_settings().sign_responses:
        sent[SIGNATURE_HEADER] = sign_body(content)
    return Response(content, status_code=status, media_type=TAXII_MEDIA, headers=sent)


def render_error(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """One error response in the format of the route family it answers."""
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Basic realm="accord", Bearer')
    title = TITLES.get(status, "Error")
    if request.url.path.startswith("/taxii2"):
        body = {"title": title, "description": message, "http_status": str(status)}
        return taxii_response(orjson.dumps(body), status, extra)
    problem = {"type": "about:blank", "title": title, "status": status, "detail": message}
    return Response(orjson.dumps(problem), status_code=status, media_type="application/problem+json", headers=extra)
