"""Alembic environment: runs the shipped migrations against the configured database."""

from __future__ import annotations

from alembic import context

from accord.core.db import get_engine
from accord.models import metadata

config = context.config


def run_migrations() -> None:
    """Apply migrations on the connection handed in by accord.core.migrate, or on a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or None
    with get_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
