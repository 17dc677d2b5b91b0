"""All tables, registered on one MetaData (the migrations' target)."""

from accord.models import accounts, audit, collections, correlate, federation, jobs, joint, objects, webhooks
from accord.models.base import metadata

__all__ = [
    "accounts",
    "audit",
    "collections",
    "correlate",
    "federation",
    "jobs",
    "joint",
    "metadata",
    "objects",
    "webhooks",
]
