"""All tables, registered on one MetaData (the migrations' target)."""

from accord.models import accounts, audit, collections, correlate, jobs, objects
from accord.models.base import metadata

__all__ = ["accounts", "audit", "collections", "correlate", "jobs", "metadata", "objects"]
