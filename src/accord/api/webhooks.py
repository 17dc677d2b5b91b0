"""REST routes of outgoing webhooks (admins): register a URL for an organisation's notifications, list, remove,
and see the deliveries; a secret is shown once, when it is registered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from accord.api.deps import WRITE_CONN, admin_principal, admin_writer, read_conn
from accord.api.schemas import Body
from accord.joint import webhooks
from accord.sharing.policy import Principal

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


class WebhookCreate(Body):
    url: str = Field(description="http(s) URL that receives each notification as a signed JSON POST")
    org: str | None = Field(default=None, description="the organisation whose users' notifications go there")
    secret: str | None = Field(
        default=None, min_length=webhooks.MIN_SECRET, max_length=500, description="HMAC key (default: generated)"
    )


class WebhookRead(BaseModel):
    id: str
    org: str
    url: str
    created: str
    created_by: str
    deliveries: dict[str, int]
    last_error: str | None = None
    secret: str | None = Field(default=None, description="only in the answer that registered it")


class DeliveryRead(BaseModel):
    id: str
    kind: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    updated: str


def _org_of(conn: Connection, p: Principal, org: str | None) -> str:
    if org is not None:
        return org
    from accord.accounts import service as accounts

    return str(accounts.get_org(conn, p.org_id).name)


@router.get("/webhooks", response_model=list[WebhookRead])
def list_webhooks(
    org: str | None = Query(default=None, description="one organisation's"),
    _: Principal = Depends(admin_principal),
    conn: Connection = Depends(read_conn),
) -> Any:
    """The registered webhooks with counts of their deliveries by status (never their secrets)."""
    return webhooks.list_webhooks(conn, org)


@router.post("/webhooks", response_model=WebhookRead, status_code=201)
def add_webhook(body: WebhookCreate, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Any:
    """Register a URL; the answer holds the signing secret, which is never shown again."""
    return webhooks.add_webhook(conn, _org_of(conn, p, body.org), body.url, secret=body.secret, actor=p.email)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    webhook_id: str, _: Principal = Depends(admin_principal), conn: Connection = Depends(read_conn)
) -> Any:
    """A webhook's 50 newest deliveries."""
    return webhooks.deliveries(conn, webhook_id)


@router.delete("/webhooks/{webhook_id}", status_code=204)
def remove_webhook(webhook_id: str, p: Principal = Depends(admin_writer), conn: Connection = WRITE_CONN) -> Response:
    """Stop sending to a webhook (its pending deliveries are dropped)."""
    webhooks.remove_webhook(conn, webhook_id, actor=p.email)
    return Response(status_code=204)


def register(app: FastAPI) -> None:
    """Mount the webhook routes."""
    app.include_router(router)
