"""The compiled index kept between `newsbot match` runs: reused only for unchanged files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot import indexcache
from bot.indexcache import cache_dir, compiled_watchlists

MILAN = "name: milan\nterms:\n  - Milan\n  - Palestra\n"


@pytest.fixture
def lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small folder, cached as if it were large; the cache in a folder of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(indexcache, "MIN_CACHED_BYTES", 0)
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "milan.yaml").write_text(MILAN, encoding="utf-8")
    (folder / "broken.yaml").write_text("terms: [Inter\n", encoding="utf-8")
    return folder


def terms_found(compiled: indexcache.CompiledLists, text: str) -> set[str]:
    return {m.term for m in compiled.matcher.match(text)}


def index_file() -> Path:
    (stored,) = cache_dir().glob("index-*")
    return stored


def test_a_second_run_reuses_the_index_with_the_same_answers(lists: Path) -> None:
    first = compiled_watchlists(lists)
    assert not first.from_cache
    first.save()
    for stored in cache_dir().iterdir():
        assert stored.stat().st_mode & 0o077 == 0, "private to the user"
    second = compiled_watchlists(lists)
    assert second.from_cache
    assert second.watchlists == first.watchlists and second.problems == first.problems
    assert [p.path for p in second.problems] == [str(lists / "broken.yaml")]
    assert terms_found(second, "Milan, assalto a Palestra") == {"Milan", "Palestra"}


def test_an_edit_or_a_new_file_is_never_answered_from_a_stale_index(lists: Path) -> None:
    compiled_watchlists(lists).save()
    (lists / "milan.yaml").write_text(MILAN + "  - Leão\n", encoding="utf-8")
    edited = compiled_watchlists(lists)
    assert not edited.from_cache and "Leão" in terms_found(edited, "Leao segna")
    edited.save()
    (lists / "inter.yaml").write_text("terms: [Inter]\n", encoding="utf-8")
    added = compiled_watchlists(lists)
    assert not added.from_cache and "Inter" in terms_found(added, "Inter avanti")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "shared"])
def test_a_damaged_or_foreign_cache_file_is_ignored(lists: Path, damage: str) -> None:
    compiled_watchlists(lists).save()
    stored = index_file()
    data = stored.read_bytes()
    if damage == "truncate":
        stored.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        stored.write_bytes(data.split(b"\n")[0] + b"\n" + data.split(b"\n")[1] + b"\nnot a pickle")
    else:
        os.chmod(stored, 0o666)  # anyone could have written it: never unpickled
    again = compiled_watchlists(lists)
    assert not again.from_cache
    assert terms_found(again, "Milan, assalto a Palestra") == {"Milan", "Palestra"}


def test_small_folders_are_not_cached(lists: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indexcache, "MIN_CACHED_BYTES", 1_000_000)
    compiled_watchlists(lists).save()
    assert not cache_dir().exists()


def test_no_usable_cache_folder_only_costs_the_cache(
    lists: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    first = compiled_watchlists(lists)
    first.save()  # cannot write: no error
    again = compiled_watchlists(lists)
    assert not again.from_cache
    assert terms_found(again, "Milan, assalto a Palestra") == {"Milan", "Palestra"}


def test_an_edit_reads_only_the_edited_file_again(lists: Path) -> None:
    (lists / "inter.yaml").write_text("terms: [Inter, Lautaro]\n", encoding="utf-8")
    compiled_watchlists(lists).save()
    (lists / "milan.yaml").write_text(MILAN + "  - Leão\n", encoding="utf-8")
    edited = compiled_watchlists(lists)
    assert not edited.from_cache and edited.reused_files == 2  # inter.yaml and broken.yaml
    assert [p.path for p in edited.problems] == [str(lists / "broken.yaml")]
    assert terms_found(edited, "Leao e Lautaro") == {"Leão", "Lautaro"}
    edited.save()
    assert len(list(cache_dir().glob("list-*"))) == 3, "the entry of the old milan.yaml is gone"
    (lists / "inter.yaml").unlink()
    removed = compiled_watchlists(lists)
    assert removed.reused_files == 2 and terms_found(removed, "Leao e Lautaro") == {"Leão"}


@pytest.mark.parametrize("damage", ["truncate", "shared"])
def test_a_damaged_list_entry_is_read_again_from_its_file(lists: Path, damage: str) -> None:
    compiled_watchlists(lists).save()
    for stored in cache_dir().glob("list-*"):
        if damage == "truncate":
            stored.write_bytes(stored.read_bytes()[:-20])
        else:
            os.chmod(stored, 0o666)
    (lists / "inter.yaml").write_text("terms: [Inter]\n", encoding="utf-8")
    again = compiled_watchlists(lists)
    assert again.reused_files == 0
    assert terms_found(again, "Milan, assalto a Palestra, Inter") == {"Milan", "Palestra", "Inter"}
