"""Ids Accord derives from values (an organisation's indicator for a value it sighted or extracted).

Derived ids make repeated work land on the same object. They are keyed with a secret of the node as well as the
organisation, so that no other writer can compute an organisation's derived ids: one that could would post an
object under such an id first, readable to its owner, and the owner's own write would then be refused (W2), or
would learn from a refusal that the owner holds the value.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Connection

from accord.core.errors import AccordError
from accord.store import repository as repo

SETTING = "derived_id_secret"  # the node_setting row holding the secret (its name, not the secret)


def id_seed(conn: Connection, org_id: int) -> str:
    """The secret part of the ids derived for one organisation (never shown: it only goes into UUIDv5 names)."""
    secret = repo.node_setting(conn, SETTING)
    if secret is None:
        raise AccordError("the store has no derived-id secret: run `accord db upgrade`", status=500)
    identity = repo.org_identity(conn, org_id)
    return hmac.new(secret.encode(), identity.encode(), hashlib.sha256).hexdigest()[:32]
