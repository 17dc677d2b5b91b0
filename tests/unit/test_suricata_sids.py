"""Suricata's used-sid table answers as a Python set would, across growth and at both ends of the sid range; content
strings and MISP attribute uuids are what their definitions say."""

from __future__ import annotations

import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from accord.exports.misp import EXPORT_NAMESPACE, event_uuid
from accord.exports.suricata import SID_BASE, SID_SPAN, SidSet, content

_PLAIN_BYTES = {*range(0x21, 0x7F)} - {0x22, 0x2C, 0x3A, 0x3B, 0x5C, 0x7C}  # printable but " , : ; \ |


def test_sid_set_answers_like_a_set():
    rng = random.Random(3)
    table, reference = SidSet(), set()
    ends = [SID_BASE, SID_BASE + SID_SPAN - 1]
    for n in range(60_000):
        if n % 10_000 == 0:
            sid = ends[n // 10_000 % 2]
        elif rng.random() < 0.3:
            sid = SID_BASE + rng.randrange(3_000)  # many repeats
        else:
            sid = SID_BASE + rng.randrange(SID_SPAN)
        assert table.add(sid) == (sid not in reference)
        reference.add(sid)
    assert all(not table.add(sid) for sid in reference)


@given(st.text(alphabet=st.sampled_from('abc.-/_:;|" é\x00\x7f~,\\'), max_size=30) | st.text(max_size=30))
def test_content_writes_everything_but_plain_printable_characters_as_hex(text: str):
    pieces = [chr(b) if b in _PLAIN_BYTES else f"|{b:02X}|" for b in text.encode()]
    assert content(text) == "".join(pieces).replace("||", " ")


@given(st.text(max_size=80))
def test_event_uuid_is_uuid5_in_the_export_namespace(key: str):
    assert event_uuid(key) == str(uuid.uuid5(EXPORT_NAMESPACE, key))
