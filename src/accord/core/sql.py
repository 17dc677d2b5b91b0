"""SQL constructs the repositories share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join
from sqlalchemy.sql.visitors import InternalTraversal


class OrderedJoin(Join):
    """An inner join whose left side SQLite must loop over first (CROSS JOIN); a plain JOIN elsewhere.

    Without it SQLite may drive a batch from a policy index (is_latest, a kind) and probe the batch per row.
    """

    inherit_cache = True


def _sqlite_join(join: Join, compiler: Any, kw: dict[str, Any], *, between: str) -> str:
    """`left <between> right ON onclause`: SQLite's spelling of a join the constructs here steer."""
    kw["asfrom"] = True
    left, right = compiler.process(join.left, **kw), compiler.process(join.right, **kw)
    kw.pop("asfrom")
    return f"{left} {between} {right} ON {compiler.process(join.onclause, **kw)}"


@compiles(OrderedJoin, "sqlite")
def _ordered_sqlite(join: OrderedJoin, compiler: Any, **kw: Any) -> str:
    return _sqlite_join(join, compiler, kw, between="CROSS JOIN")


class IndexedJoin(Join):
    """An inner join whose left table SQLite reads through the named index (INDEXED BY); a plain JOIN elsewhere.

    For a partial index the planner passes over when the table's key also serves a term of the query (it
    prefers the key's prefix however much of the table that prefix covers).
    """

    inherit_cache = True
    _traverse_internals = [*Join._traverse_internals, ("index", InternalTraversal.dp_string)]  # noqa: RUF012

    def __init__(self, left: Any, right: Any, onclause: Any, *, index: str) -> None:
        super().__init__(left, right, onclause)
        self.index = index


@compiles(IndexedJoin, "sqlite")
def _indexed_sqlite(join: IndexedJoin, compiler: Any, **kw: Any) -> str:
    return _sqlite_join(join, compiler, kw, between=f"INDEXED BY {join.index} JOIN")
