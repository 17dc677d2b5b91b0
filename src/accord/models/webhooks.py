"""Outgoing webhooks (accord.joint.webhooks): URLs an organisation registered to receive its users' notifications,
and each delivery's state (retried with backoff by the job queue, dead after the last attempt)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text

from accord.models.base import metadata

webhook = Table(
    "webhook",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("org_id", Integer, ForeignKey("org.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("secret", Text, nullable=False),  # encrypted with the node key (accord.core.keys.encrypt_secret)
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", String(320), nullable=False),
    Index("ix_webhook_org", "org_id"),
)

# One row per (webhook, notification entry). status: pending | delivered | dead | withheld (the user may no
# longer read what the entry is about, so nothing is sent).
webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(36), nullable=False, unique=True),
    Column("webhook_id", Integer, ForeignKey("webhook.id", ondelete="CASCADE"), nullable=False),
    Column("notification_id", Integer, ForeignKey("joint_notification.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", SmallInteger, nullable=False),
    Column("last_status", SmallInteger, nullable=True),  # the receiver's last HTTP status
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_webhook_delivery_webhook", "webhook_id", "id"),
)
