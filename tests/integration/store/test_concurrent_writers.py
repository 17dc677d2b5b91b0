"""Two writers storing the same new objects at once: the second sees the first's versions, never an error."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from accord.core.db import transaction
from accord.models.objects import stix_object
from accord.store.service import IngestReport, WriteContext, ingest
from tests.builders import make_indicator, make_org


def test_a_writer_waiting_on_another_sees_its_versions(engine):
    with transaction(engine) as c:
        org_id = make_org(c).id
    ctx = WriteContext(writer_org_id=org_id)
    objects = [make_indicator() for _ in range(20)]
    changed = [{**objects[0], "name": "same version, another body"}]
    first_open, reports, errors = threading.Event(), {}, []

    def second(name: str, batch: list) -> None:
        try:
            first_open.wait(10)
            with transaction(engine) as c:  # begins while the first writer's transaction is open
                reports[name] = ingest(c, batch, ctx)
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [
        threading.Thread(target=second, args=("dup", objects)),
        threading.Thread(target=second, args=("conflict", changed)),
    ]
    with transaction(engine) as c:
        reports["first"] = ingest(c, objects, ctx)
        for t in threads:
            t.start()
        first_open.set()
        threading.Event().wait(0.5)  # the others are now waiting for this transaction
    for t in threads:
        t.join(30)
    assert errors == []
    assert isinstance(reports["first"], IngestReport)
    assert reports["first"].stored == 20
    assert (reports["dup"].stored, reports["dup"].duplicates) == (0, 20)
    assert reports["conflict"].refused == 1
    assert "different body is already stored" in reports["conflict"].reasons[0]
    with engine.connect() as c:
        assert (
            c.execute(
                select(func.count()).select_from(stix_object).where(stix_object.c.id.in_([o["id"] for o in objects]))
            ).scalar_one()
            == 20
        )
