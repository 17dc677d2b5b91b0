"""REST routes of correlation: lookups, object and report correlations, sightings (all through the policy)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import Field
from sqlalchemy import Connection

from accord.api.deps import WRITE_CONN, current_principal, read_conn, writer_principal
from accord.api.lifespan import run_during_lifespan
from accord.api.schemas import Body
from accord.correlate import lookup as lookup_service
from accord.correlate import service
from accord.sharing.policy import Principal
from accord.sightings.service import record_sighting

router = APIRouter(prefix="/api/v1", tags=["correlation"])


class LookupRequest(Body):
    values: list[str] = Field(description=f"raw or defanged values, at most {lookup_service.MAX_VALUES:,}")


class SightingCreate(Body):
    value: str | None = Field(default=None, description="a raw or defanged value (an indicator is made for it)")
    object_id: str | None = Field(default=None, description="or the id of a readable object")
    collection: str = Field(description="alias of a collection you may write into")
    count: int = Field(default=1, ge=1, le=999_999_999)
    seen: str | None = Field(default=None, description="when it was seen (STIX timestamp; default now)")
    tlp: str | None = Field(default=None, description="TLP of the sighting (default: unmarked, the node default)")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/lookup")
def lookup(
    body: LookupRequest, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """What you may know about each value: normalised forms, warninglist hits, readable contexts, scores."""
    results = lookup_service.lookup_json(conn, principal, body.values)
    return Response(b'{"results":' + results + b"}", media_type="application/json")


@router.get("/objects/{stix_id}/correlations")
def object_correlations(
    stix_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """Other readable objects sharing a value with this one; 404 when it is missing or unreadable."""
    return _json(service.object_correlations(conn, principal, stix_id))


@router.get("/reports/{stix_id}/correlations")
def report_correlations(
    stix_id: str, principal: Principal = Depends(current_principal), conn: Connection = Depends(read_conn)
) -> Response:
    """Correlations of a report's readable objects with readable objects outside it, per other object."""
    return _json(service.report_correlations(conn, principal, stix_id))


@router.post("/sightings", status_code=201)
def create_sighting(
    body: SightingCreate, principal: Principal = Depends(writer_principal), conn: Connection = WRITE_CONN
) -> Response:
    """Record a sighting by your organisation of a value or of a readable object."""
    created = record_sighting(
        conn,
        principal,
        collection=body.collection,
        value=body.value,
        object_id=body.object_id,
        count=body.count,
        seen=body.seen,
        tlp=body.tlp,
    )
    return _json(created, 201)


def register(app: FastAPI) -> None:
    """Mount the correlation routes; load the lookup tables when the server starts."""
    app.include_router(router)

    # The first lookup would otherwise pay for loading the warninglists and the public suffix list.
    run_during_lifespan(app, lookup_service.start_up)
