"""Joint work (accord.joint): relational views of cases and tasks derived from their STIX versions.

The STIX objects in stix_object are the truth; these rows make lists, queues and timelines fast. Every row
names the object version it comes from (`seq`), and every read joins that version and filters it through the
sharing policy (accord.sharing.policy.readable_clause): there is no second read path.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, SmallInteger, String, Table, Text

from accord.models.base import metadata
from accord.models.correlate import CText

joint_case = Table(
    "joint_case",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(100), nullable=False, unique=True),
    # The case's own collection: its readers and writers are the participating organisations.
    Column("collection_id", Integer, ForeignKey("collection.id"), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the newest version of the case
    Column("version", String(27), nullable=False),
    Column("status", String(16), nullable=False),
    Column("title", String(300), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("tlp", SmallInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("opened_by", String(320), nullable=False, default=""),  # who opened it (notified of comments)
)

joint_task = Table(
    "joint_task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(100), nullable=False, unique=True),
    Column("case_id", Integer, ForeignKey("joint_case.id", ondelete="CASCADE"), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the newest version of the task
    Column("title", String(300), nullable=False),
    Column("status", String(16), nullable=False),
    Column("assignee", String(320), nullable=True),  # e-mail of a user of a participating organisation
    Column("due", String(27), nullable=True),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_joint_task_case", "case_id", "id"),
    Index("ix_joint_task_assignee", "assignee", "id"),
)

# Objects linked to a case, each by the version (of the case, or of a participant's link grouping) that linked it.
joint_link = Table(
    "joint_link",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("joint_case.id", ondelete="CASCADE"), nullable=False),
    Column("object_id", String(300), nullable=False),
    Column("object_key", BigInteger, nullable=False),  # accord.stix.ids.id_key of object_id: joins stix_object
    Column("seq", BigInteger, nullable=False),
    Index("uq_joint_link_case_object", "case_id", "object_id", unique=True),
    Index("ix_joint_link_case_seq", "case_id", "seq"),  # covers the count of links by readable version
    Index("ix_joint_link_object", "object_key"),  # linked objects find their cases (projection, watch)
)

# The correlating values of a case's linked objects (accord.correlate.values), filled when objects are linked and
# when a linked object gets a new version: the correlation summary joins them to the value index (an index seek
# each) instead of reading and parsing every linked object. Values a version no longer holds stay; every read
# checks the value against the version the caller may read, and every match through the policy.
joint_case_value = Table(
    "joint_case_value",
    metadata,
    Column("case_id", Integer, ForeignKey("joint_case.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("key", CText, primary_key=True),
    Column("object_id", String(300), primary_key=True),
)

# The timeline: one row per change, each naming the object version that made it (read through the policy).
joint_event = Table(
    "joint_event",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("joint_case.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("task_id", Integer, nullable=True),  # the task an entry concerns (task logs)
    Column("at_us", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("summary", Text, nullable=False),
    Index("ix_joint_event_case", "case_id", "id"),
    Index("ix_joint_event_task", "task_id", "id"),
)

# Requests for information: one organisation asks others; answers are notes (and the objects they share).
joint_rfi = Table(
    "joint_rfi",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(100), nullable=False, unique=True),
    Column("collection_id", Integer, ForeignKey("collection.id"), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the newest version of the request
    Column("status", String(16), nullable=False),  # open | answered | closed
    Column("title", String(300), nullable=False),
    Column("due", String(27), nullable=True),
    Column("tlp", SmallInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("asked_by", String(320), nullable=False, default=""),  # who asked (notified of answers)
)

joint_rfi_answer = Table(
    "joint_rfi_answer",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rfi_id", Integer, ForeignKey("joint_rfi.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", Integer, ForeignKey("org.id"), nullable=False),  # the answering organisation
    Column("seq", BigInteger, nullable=False),  # the answer note
    Column("at_us", BigInteger, nullable=False),
    Index("ix_joint_rfi_answer_rfi", "rfi_id", "id"),
)

# A user's notification feed. Each entry names the version that caused it and is shown only while the user may
# read that version (a user whose organisation left a case no longer sees what it was told about it).
joint_notification = Table(
    "joint_notification",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(36), nullable=False, unique=True),  # what callers see (ids show no counts)
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),  # task.assigned | case.comment | rfi.answer
    Column("subject", String(100), nullable=False),  # the case, task or request concerned
    Column("summary", Text, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("read_us", BigInteger, nullable=True),
    Index("ix_joint_notification_user", "user_id", "id"),
)

# Joint intelligence requirements (PIRs): what a group of organisations wants to know. The row holds the
# compiled criteria of the newest version (JSON) so that the ingest matcher reads them without parsing STIX.
joint_pir = Table(
    "joint_pir",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("stix_id", String(100), nullable=False, unique=True),
    Column("collection_id", Integer, ForeignKey("collection.id"), nullable=False),
    Column("owner_org_id", Integer, ForeignKey("org.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),  # the newest version of the requirement
    Column("status", String(16), nullable=False),  # active | inactive
    Column("title", String(300), nullable=False),
    Column("criteria", Text, nullable=False),  # JSON: terms (names, aliases, techniques, ...) and value patterns
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("created_by", String(320), nullable=False, default=""),
    Index("ix_joint_pir_status", "status", "id"),
)

# What matched a requirement: one row per (requirement, object version), read through the policy on `seq`.
joint_pir_match = Table(
    "joint_pir_match",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("pir_id", Integer, ForeignKey("joint_pir.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("matched", String(300), nullable=False),  # the criterion that matched (e.g. an alias)
    Index("uq_joint_pir_match", "pir_id", "seq", unique=True),
)
