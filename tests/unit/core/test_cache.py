"""Cached structures: loaded when intact, rebuilt (and written again) when missing, stale or damaged."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.core import settings as core_settings
from accord.core.cache import STALE_AFTER_S, cache_path, load_or_build, load_or_build_sections


@pytest.fixture
def var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("ACCORD_VAR_DIR", str(tmp_path / "var"))
    core_settings.get_settings.cache_clear()
    yield tmp_path / "var"
    core_settings.get_settings.cache_clear()


class Builder:
    def __init__(self, value: bytes) -> None:
        self.value = value
        self.builds = 0

    def __call__(self) -> bytes:
        self.builds += 1
        return self.value


def _same(data: bytes) -> bytes:
    return data


def test_a_built_structure_is_written_once_then_loaded(var_dir: Path) -> None:
    path = cache_path("thing", b"v1")
    build = Builder(b"payload")
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert path.parent == var_dir / "cache"
    assert path.exists()
    assert not list(path.parent.glob("*.part"))
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert build.builds == 1


def test_the_name_follows_every_part(var_dir: Path) -> None:
    assert cache_path("thing", b"v1") == cache_path("thing", b"v1")
    assert cache_path("thing", b"v1") != cache_path("thing", b"v2")
    assert cache_path("thing", b"ab", b"c") != cache_path("thing", b"a", b"bc")


def test_a_new_build_removes_the_stale_files_built_from_other_inputs(var_dir: Path) -> None:
    old, recent = cache_path("thing", b"v1"), cache_path("thing", b"v0")
    other = cache_path("thing-else", b"v1")
    for path in (old, recent, other):
        load_or_build(path, Builder(b"x"), _same, _same)
    a_day_ago = time.time() - STALE_AFTER_S - 60
    for path in (old, other):
        os.utime(path, (a_day_ago, a_day_ago))
    unrelated = old.parent / "thing-notes.txt"
    unrelated.write_text("kept")
    new = cache_path("thing", b"v2")  # an upgrade: the inputs changed
    assert load_or_build(new, Builder(b"new"), _same, _same) == b"new"
    assert new.exists()
    assert not old.exists()  # stale: removed
    assert recent.exists()  # written today: maybe another configuration's, kept
    assert other.exists()  # another structure
    assert unrelated.exists()  # not a cache file
    os.utime(new, (a_day_ago, a_day_ago))
    sections = cache_path("thing", b"v3")
    assert load_or_build_sections(sections, lambda: {"a": b"1"}).get("a") == b"1"
    assert sections.exists()
    assert not new.exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-1],  # truncated
        lambda blob: blob[:-1] + bytes([blob[-1] ^ 1]),  # one bit flipped
        lambda blob: b"",
        lambda blob: blob[:5],
    ],
)
def test_a_damaged_file_is_never_trusted_but_rebuilt(var_dir: Path, damage) -> None:
    path = cache_path("thing", b"v1")
    load_or_build(path, Builder(b"payload"), _same, _same)
    path.write_bytes(damage(path.read_bytes()))
    build = Builder(b"payload")
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert build.builds == 1
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert build.builds == 1  # written again, whole


def test_a_payload_that_does_not_load_is_rebuilt(var_dir: Path) -> None:
    path = cache_path("thing", b"v1")
    load_or_build(path, Builder(b"old format"), _same, _same)

    def strict(data: bytes) -> bytes:
        if data != b"new format":
            raise ValueError(data)
        return data

    build = Builder(b"new format")
    assert load_or_build(path, build, _same, strict) == b"new format"
    assert build.builds == 1


def test_an_unwritable_cache_folder_only_costs_a_build(var_dir: Path) -> None:
    var_dir.mkdir(parents=True)
    (var_dir / "cache").write_text("a file where the folder would be")
    path = cache_path("thing", b"v1")
    build = Builder(b"payload")
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert load_or_build(path, build, _same, _same) == b"payload"
    assert build.builds == 2


class SectionsBuilder:
    def __init__(self, sections: dict[str, bytes]) -> None:
        self.sections = sections
        self.builds = 0

    def __call__(self) -> dict[str, bytes]:
        self.builds += 1
        return dict(self.sections)


PARTS = {"meta": b"names", "small": b"s" * 10, "large": b"L" * 100_000, "empty": b""}


def test_sections_are_written_once_then_each_read_from_the_file(var_dir: Path) -> None:
    path = cache_path("parts", b"v1")
    build = SectionsBuilder(PARTS)
    first = load_or_build_sections(path, build)
    assert {name: first.get(name) for name in PARTS} == PARTS
    assert build.builds == 1
    again = load_or_build_sections(path, build)
    assert again.names() == set(PARTS)
    assert {name: again.get(name) for name in PARTS} == PARTS
    assert again.get("absent") is None
    assert build.builds == 1
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-1],  # the last section cut short
        lambda blob: blob[:-50] + bytes([blob[-50] ^ 1]) + blob[-49:],  # a bit flipped in the last section
        lambda blob: blob[:15] + bytes([blob[15] ^ 1]) + blob[16:],  # a bit flipped in the table
        lambda blob: blob[:5],
        lambda blob: b"",
    ],
)
def test_a_damaged_section_is_never_trusted_but_the_whole_rebuilt(var_dir: Path, damage) -> None:
    path = cache_path("parts", b"v1")
    load_or_build_sections(path, SectionsBuilder(PARTS))
    path.write_bytes(damage(path.read_bytes()))
    build = SectionsBuilder(PARTS)
    got = load_or_build_sections(path, build)
    assert {name: got.get(name) for name in PARTS} == PARTS
    assert build.builds == 1
    again = load_or_build_sections(path, build)  # written again, whole
    assert {name: again.get(name) for name in PARTS} == PARTS
    assert build.builds == 1


def test_a_file_damaged_after_its_table_was_read_is_rebuilt_on_the_next_read(var_dir: Path) -> None:
    path = cache_path("parts", b"v1")
    load_or_build_sections(path, SectionsBuilder(PARTS))
    build = SectionsBuilder(PARTS)
    opened = load_or_build_sections(path, build)
    assert opened.get("meta") == b"names"
    path.write_bytes(path.read_bytes()[:-10])
    assert opened.get("large") == PARTS["large"]
    assert build.builds == 1
    assert opened.get("small") == PARTS["small"]  # from memory now
    assert build.builds == 1


def test_unwritable_sections_only_cost_a_build(var_dir: Path) -> None:
    var_dir.mkdir(parents=True)
    (var_dir / "cache").write_text("a file where the folder would be")
    path = cache_path("parts", b"v1")
    build = SectionsBuilder(PARTS)
    assert load_or_build_sections(path, build).get("large") == PARTS["large"]
    assert load_or_build_sections(path, build).get("small") == PARTS["small"]
    assert build.builds == 2
