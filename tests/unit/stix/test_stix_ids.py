"""Identifiers and deterministic SCO ids, cross-checked against the stix2 package."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import stix2

from accord.stix.ids import (
    ID_CONTRIBUTING_PROPERTIES,
    META_TYPES,
    SCO_TYPES,
    SDO_TYPES,
    SRO_TYPES,
    deterministic_sco_id,
    id_type,
    is_stix_id,
)

FILE_REF = "file--5a27d487-c542-5f97-a131-a8866b477b46"
DIR_REF = "directory--93c0a9b0-520d-545d-9094-1a08ddf46b05"
EMAIL_REF = "email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3"
IP_REF = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"

STIX2_CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (stix2.IPv4Address, {"value": "198.51.100.3"}),
    (stix2.IPv6Address, {"value": "2001:db8::1"}),
    (stix2.DomainName, {"value": "bücher.example"}),
    (stix2.URL, {"value": 'https://example.com/a?b="c"&d=\\e\n'}),
    (stix2.EmailAddress, {"value": "jdoe@example.com", "display_name": "John Doe"}),
    (stix2.MACAddress, {"value": "d2:fb:49:24:37:18"}),
    (stix2.Mutex, {"name": "__CLEANSWEEP__ ☃"}),
    (stix2.AutonomousSystem, {"number": 15139, "name": "Slime Industries"}),
    (stix2.Directory, {"path": "C:\\Windows\\System32"}),
    (stix2.File, {"name": "qwerty.dll"}),
    (stix2.File, {"hashes": {"SHA-256": "a" * 64, "MD5": "b" * 32}, "name": "x.exe"}),
    (stix2.File, {"hashes": {"SHA-512": "c" * 128, "SHA-256": "d" * 64}}),
    (stix2.File, {"hashes": {"SSDEEP": "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"}}),
    (stix2.File, {"name": "ä.txt", "parent_directory_ref": DIR_REF, "size": 5}),
    (
        stix2.File,
        {
            "name": "a.exe",
            "extensions": {"windows-pebinary-ext": {"pe_type": "exe", "number_of_sections": 4}},
        },
    ),
    (stix2.Artifact, {"hashes": {"SHA-1": "e" * 40}, "url": "https://example.com/a.bin"}),
    (stix2.Artifact, {"payload_bin": "aGVsbG8gd29ybGQ=", "mime_type": "image/png"}),
    (stix2.EmailMessage, {"is_multipart": False, "from_ref": EMAIL_REF, "subject": "Hi ✓", "body": "x"}),
    (stix2.EmailMessage, {"is_multipart": False, "subject": "only subject"}),
    (stix2.Software, {"name": "Word", "cpe": "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", "vendor": "MS"}),
    (stix2.UserAccount, {"user_id": "1001", "account_login": "jdoe", "account_type": "unix"}),
    (stix2.WindowsRegistryKey, {"key": "HKEY_LOCAL_MACHINE\\System\\Foo"}),
    (
        stix2.WindowsRegistryKey,
        {"key": "HKLM\\x", "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}]},
    ),
    (stix2.X509Certificate, {"serial_number": "36:f7:d4:32:f4:ab:70:ea", "issuer": "CN=x"}),
    (stix2.X509Certificate, {"hashes": {"SHA-256": "f" * 64}, "serial_number": "01"}),
    (stix2.NetworkTraffic, {"src_ref": IP_REF, "dst_port": 443, "protocols": ["ipv4", "tcp"]}),
    (
        stix2.NetworkTraffic,
        {"dst_ref": IP_REF, "src_port": 1, "protocols": ["udp"], "start": "2020-01-01T00:00:00.123Z"},
    ),
]


@pytest.mark.parametrize(("cls", "props"), STIX2_CASES)
def test_deterministic_id_matches_stix2(cls: type[Any], props: dict[str, Any]) -> None:
    made = cls(**props)
    as_dict = {"type": made["type"], **props}
    assert deterministic_sco_id(as_dict) == made["id"]


def test_stix2_cross_check_covers_at_least_twelve_sco_types() -> None:
    assert len({cls for cls, _ in STIX2_CASES}) >= 12


def test_deterministic_id_is_uuid5_in_the_spec_namespace() -> None:
    sco_id = deterministic_sco_id({"type": "ipv4-addr", "value": "10.0.0.1"})
    assert sco_id is not None
    assert uuid.UUID(sco_id.split("--")[1]).version == 5


def test_no_contributing_property_gives_none() -> None:
    assert deterministic_sco_id({"type": "process", "pid": 4}) is None
    assert deterministic_sco_id({"type": "email-message", "is_multipart": False}) is None
    assert deterministic_sco_id({"type": "x-custom", "value": "a"}) is None


def test_non_contributing_properties_do_not_change_the_id() -> None:
    base = {"type": "domain-name", "value": "example.com"}
    assert deterministic_sco_id(base) == deterministic_sco_id({**base, "resolves_to_refs": [IP_REF]})


def test_is_stix_id() -> None:
    assert is_stix_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    assert is_stix_id("x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    assert not is_stix_id("indicator--xyz")
    assert not is_stix_id("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")  # uppercase type
    assert not is_stix_id("indicator--8E2E2D2B-17d4-4cbf-938f-98ee46b3cd3f")  # uppercase hex
    assert not is_stix_id("indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f")  # not RFC 4122 variant
    assert not is_stix_id("ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")  # type shorter than 3
    assert not is_stix_id(None)
    assert not is_stix_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\n")


def test_id_type() -> None:
    assert id_type("attack-pattern--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") == "attack-pattern"


def test_type_families_are_disjoint_and_complete() -> None:
    assert len(SCO_TYPES) == 18
    assert len(SDO_TYPES) == 19
    assert {"relationship", "sighting"} == SRO_TYPES
    assert not (SCO_TYPES & SDO_TYPES)
    assert not (SDO_TYPES & SRO_TYPES)
    assert not (META_TYPES & SDO_TYPES)
    assert set(ID_CONTRIBUTING_PROPERTIES) == SCO_TYPES
