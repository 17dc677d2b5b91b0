"""Traffic Light Protocol markings: TLP 1.0 (STIX 2.1 §7.2.1.4) and TLP 2.0 marking definitions."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

__all__ = [
    "TLP2_EXTENSION_ID",
    "TLP_MARKING_IDS",
    "Tlp",
    "tlp_marking_definition",
    "tlp_of",
]


class Tlp(IntEnum):
    """TLP levels ordered from least to most restrictive."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        """The TLP 2.0 label, e.g. 'TLP:AMBER+STRICT'."""
        return "TLP:" + self.name.replace("_", "+")

    @classmethod
    def parse(cls, text: str) -> Tlp:
        """Parse 'TLP:AMBER+STRICT', 'amber+strict', 'white', ... (case-insensitive); raise ValueError."""
        key = text.strip().upper().removeprefix("TLP:").strip().replace(" ", "").replace("_", "+")
        level = _NAMES.get(key)
        if level is None:
            raise ValueError(f"unknown TLP level {text!r}")
        return level


_NAMES: dict[str, Tlp] = {
    "CLEAR": Tlp.CLEAR,
    "WHITE": Tlp.CLEAR,
    "GREEN": Tlp.GREEN,
    "AMBER": Tlp.AMBER,
    "AMBER+STRICT": Tlp.AMBER_STRICT,
    "RED": Tlp.RED,
}

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_TLP2_CREATED = "2022-10-01T00:00:00.000Z"

# TLP 2.0 marking definitions as published by OASIS (cti-stix-common-objects, tlp-2.0).
_TLP2_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

TLP_MARKING_IDS: dict[str, Tlp] = {
    # TLP 1.0, predefined by STIX 2.1 §7.2.1.4 (white, green, amber, red).
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
    **{marking_id: level for level, marking_id in _TLP2_IDS.items()},
}


def _level(ref: object, extra: Mapping[str, Tlp] | None) -> Tlp | None:
    if not isinstance(ref, str):
        return None
    level = TLP_MARKING_IDS.get(ref)
    if level is None and extra:
        level = extra.get(ref)
    return level


def tlp_of(obj: Mapping[str, Any], extra_markings: Mapping[str, Tlp] | None = None) -> Tlp | None:
    """The most restrictive TLP among an object's object and granular markings, or None if unmarked."""
    best: Tlp | None = None
    refs = obj.get("object_marking_refs")
    if isinstance(refs, list):
        for ref in refs:
            level = _level(ref, extra_markings)
            if level is not None and (best is None or level > best):
                best = level
    granular = obj.get("granular_markings")
    if isinstance(granular, list):
        for marking in granular:
            if isinstance(marking, Mapping):
                level = _level(marking.get("marking_ref"), extra_markings)
                if level is not None and (best is None or level > best):
                    best = level
    return best


def tlp_marking_definition(tlp: Tlp) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object for a level, exactly as OASIS publishes it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": _TLP2_IDS[tlp],
        "created": _TLP2_CREATED,
        "name": tlp.label,
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.name.lower().replace("_", "+"),
            }
        },
    }
