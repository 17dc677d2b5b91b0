"""The STIX 2.1 shapes of joint work: new SDOs for cases and tasks (described by extension-definitions the node
ships), `note` for comments and task logs, `grouping` for objects a participant links to a case."""

from __future__ import annotations

import uuid
from typing import Any

from accord.stix.markings import Tlp, tlp_marking_definition, tlp_of
from accord.stix.timestamps import micros_to_timestamp

CASE_TYPE = "x-accord-case"
TASK_TYPE = "x-accord-task"
RFI_TYPE = "x-accord-rfi"
PIR_TYPE = "x-accord-pir"
# The identity that publishes Accord's extension definitions (the same on every node, so definitions converge).
ACCORD_IDENTITY = "identity--22a7ec5e-84a2-4209-b5ce-d758f797154b"
CASE_EXT = "extension-definition--ce60ad32-7041-4194-ba51-388c44e39d00"
TASK_EXT = "extension-definition--5489588f-98d7-4f97-9b88-6f191a71b89a"
TASK_UPDATE_EXT = "extension-definition--c924b244-1f73-4419-97f7-c95362b6648c"  # on a task-log note
CASE_LINK_EXT = "extension-definition--ebad5ae9-e115-463b-ba6d-4bba55aec4ba"  # on a participant's link grouping
RFI_EXT = "extension-definition--9f2dd628-fbd9-4e57-90b8-b96cc14e13cb"
PIR_EXT = "extension-definition--0067c66f-4762-42a0-8baa-74db77d701a3"
_SHIPPED = "2026-12-07T00:00:00.000Z"

CASE_STATUSES = ("open", "in_progress", "resolved", "closed")
# Allowed moves; resolving, closing and reopening need a reason.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "resolved"),
    "in_progress": ("resolved",),
    "resolved": ("closed", "in_progress"),
    "closed": ("in_progress",),
}
TASK_STATUSES = ("todo", "doing", "blocked", "done")
SEVERITIES = ("low", "medium", "high", "critical")
CASE_TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)  # participants must be able to read it (R2 keeps RED to the owner)


def _definition(ext_id: str, name: str, description: str, ext_type: str) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ext_id,
        "created_by_ref": ACCORD_IDENTITY,
        "created": _SHIPPED,
        "modified": _SHIPPED,
        "name": name,
        "description": description,
        "schema": "https://github.com/accord/accord/blob/main/docs/joint.md",
        "version": "1.0.0",
        "extension_types": [ext_type],
    }


def shipped_definitions() -> list[dict[str, Any]]:
    """The identity and extension-definitions that describe joint-work objects (every node ships the same)."""
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": ACCORD_IDENTITY,
        "created": _SHIPPED,
        "modified": _SHIPPED,
        "name": "Accord",
        "identity_class": "organization",
    }
    defs = [
        _definition(CASE_EXT, "Accord case", "A joint case of several organisations.", "new-sdo"),
        _definition(TASK_EXT, "Accord task", "A task of an Accord case.", "new-sdo"),
        _definition(RFI_EXT, "Accord request for information", "A question to partner organisations.", "new-sdo"),
        _definition(PIR_EXT, "Accord intelligence requirement", "What partner organisations want to know.", "new-sdo"),
        _definition(
            TASK_UPDATE_EXT, "Accord task update", "A task log entry that changes a task.", "property-extension"
        ),
        _definition(CASE_LINK_EXT, "Accord case link", "Objects a participant links to a case.", "property-extension"),
    ]
    return [identity, *defs]


def marking_refs(tlp: Tlp) -> list[str]:
    """object_marking_refs for a TLP level (TLP 2.0 definitions)."""
    return [tlp_marking_definition(tlp)["id"]]


def new_id(stix_type: str) -> str:
    """A fresh random identifier of this type."""
    return f"{stix_type}--{uuid.uuid4()}"


def timestamp(us: int) -> str:
    """A STIX timestamp (microsecond precision)."""
    return micros_to_timestamp(us)


def case_object(
    *,
    stix_id: str,
    owner_ref: str,
    created: str,
    modified: str,
    fields: dict[str, Any],
    based_on: str | None = None,
) -> dict[str, Any]:
    """One version of a case; `fields` holds name, description, severity, priority, status, status_reason,
    participant_refs, participant_groups (names of sharing groups whose members take part), assignees, labels,
    object_refs and tlp. `based_on` names the version an edit was made on (a node that holds a newer one shows the
    edit as a conflict)."""
    obj: dict[str, Any] = {
        "type": CASE_TYPE,
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": owner_ref,
        "created": created,
        "modified": modified,
        "name": fields["name"],
        "case_severity": fields["severity"],  # `severity` is a reserved STIX property name
        "priority": fields["priority"],
        "status": fields["status"],
        "participant_refs": fields["participant_refs"],
        "object_marking_refs": marking_refs(Tlp(fields["tlp"])),
        "extensions": {CASE_EXT: {"extension_type": "new-sdo"}},
    }
    for optional in ("description", "status_reason"):
        if fields.get(optional):
            obj[optional] = fields[optional]
    for listed in ("participant_groups", "assignees", "labels", "object_refs"):  # present only when not empty
        if fields.get(listed):
            obj[listed] = fields[listed]
    if based_on:
        obj["based_on"] = based_on
    return obj


def case_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of a stored case version (the inverse of case_object)."""
    return {
        "name": obj["name"],
        "description": obj.get("description", ""),
        "severity": obj["case_severity"],
        "priority": obj["priority"],
        "status": obj["status"],
        "status_reason": obj.get("status_reason", ""),
        "participant_refs": list(obj.get("participant_refs", [])),
        "participant_groups": list(obj.get("participant_groups", [])),
        "assignees": list(obj.get("assignees", [])),
        "labels": list(obj.get("labels", [])),
        "object_refs": list(obj.get("object_refs", [])),
        "tlp": int(tlp_of(obj) or Tlp.AMBER),
    }


def task_object(
    *,
    stix_id: str,
    owner_ref: str,
    created: str,
    modified: str,
    case_ref: str,
    fields: dict[str, Any],
    tlp: Tlp,
    based_on: str | None = None,
) -> dict[str, Any]:
    """One version of a task; `fields` holds name, description, status, assignee and due. `based_on` names the
    state (the time of the task's last change) an edit was made on, as for cases."""
    obj: dict[str, Any] = {
        "type": TASK_TYPE,
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": owner_ref,
        "created": created,
        "modified": modified,
        "name": fields["name"],
        "case_ref": case_ref,
        "status": fields["status"],
        "object_marking_refs": marking_refs(tlp),
        "extensions": {TASK_EXT: {"extension_type": "new-sdo"}},
    }
    for optional in ("description", "assignee", "due"):
        if fields.get(optional):
            obj[optional] = fields[optional]
    if based_on:
        obj["based_on"] = based_on
    return obj


def note_object(
    *,
    owner_ref: str,
    at: str,
    author: str,
    content: str,
    refs: list[str],
    tlp: Tlp,
    update: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A comment (refs: the case) or a task log entry (refs: the task, then evidence), optionally changing the
    task's status or assignee."""
    obj: dict[str, Any] = {
        "type": "note",
        "spec_version": "2.1",
        "id": new_id("note"),
        "created_by_ref": owner_ref,
        "created": at,
        "modified": at,
        "authors": [author],
        "content": content,
        "object_refs": refs,
        "object_marking_refs": marking_refs(tlp),
    }
    if update:
        obj["extensions"] = {TASK_UPDATE_EXT: {"extension_type": "property-extension", **update}}
    return obj


def link_grouping(*, owner_ref: str, at: str, case_ref: str, refs: list[str], tlp: Tlp) -> dict[str, Any]:
    """Objects a participant (not the case's owner, who versions the case) links to a case."""
    return {
        "type": "grouping",
        "spec_version": "2.1",
        "id": new_id("grouping"),
        "created_by_ref": owner_ref,
        "created": at,
        "modified": at,
        "name": "Objects linked to a case",
        "context": "unspecified",
        "object_refs": [case_ref, *refs],
        "object_marking_refs": marking_refs(tlp),
        "extensions": {CASE_LINK_EXT: {"extension_type": "property-extension", "case_ref": case_ref}},
    }


def rfi_object(*, stix_id: str, owner_ref: str, created: str, modified: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One version of a request for information; `fields` holds name, question, addressee_refs, values,
    object_refs, due, status, status_reason and tlp."""
    obj: dict[str, Any] = {
        "type": RFI_TYPE,
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": owner_ref,
        "created": created,
        "modified": modified,
        "name": fields["name"],
        "question": fields["question"],
        "status": fields["status"],
        "object_marking_refs": marking_refs(Tlp(fields["tlp"])),
        "extensions": {RFI_EXT: {"extension_type": "new-sdo"}},
    }
    # addressee_refs may be empty when the request is addressed to sharing groups only
    for optional in ("addressee_refs", "addressee_groups", "values", "object_refs", "due", "status_reason"):
        if fields.get(optional):
            obj[optional] = fields[optional]
    return obj


# The criteria a requirement may hold (each a list of strings), in the order they are shown.
PIR_CRITERIA = ("names", "techniques", "sectors", "countries", "keywords", "domains", "cidrs")


def pir_object(*, stix_id: str, owner_ref: str, created: str, modified: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One version of a joint intelligence requirement; `fields` holds name, description, participant_refs,
    status, tlp and the criteria lists (names are threat actor, intrusion set or malware names; `aliases` the
    aliases they were expanded to when the requirement was written)."""
    obj: dict[str, Any] = {
        "type": PIR_TYPE,
        "spec_version": "2.1",
        "id": stix_id,
        "created_by_ref": owner_ref,
        "created": created,
        "modified": modified,
        "name": fields["name"],
        "participant_refs": fields["participant_refs"],
        "status": fields["status"],
        "object_marking_refs": marking_refs(Tlp(fields["tlp"])),
        "extensions": {PIR_EXT: {"extension_type": "new-sdo"}},
    }
    for optional in ("description", "participant_groups", *PIR_CRITERIA, "aliases"):  # only when not empty
        if fields.get(optional):
            obj[optional] = fields[optional]
    return obj
