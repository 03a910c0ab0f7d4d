"""The configuration in force: a bad edit is refused and the last good version keeps working."""

from __future__ import annotations

from pathlib import Path

from bot.registry import Registry

FEEDS = "feeds:\n  - name: TMW\n    url: https://www.tuttomercatoweb.com/rss/\n"


def setup(tmp_path: Path) -> tuple[Path, Path]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(FEEDS)
    lists = tmp_path / "watchlists"
    lists.mkdir()
    (lists / "milan.yaml").write_text("name: milan\nterms:\n  - Milan\n")
    return feeds, lists


def test_invalid_change_is_refused_and_last_good_stays(tmp_path: Path) -> None:
    feeds, lists = setup(tmp_path)
    registry = Registry(feeds, lists)
    assert registry.load().ok
    assert [m.term for m in registry.matcher().match("Il Milan vince")] == ["Milan"]

    (lists / "milan.yaml").write_text(
        "name: milan\nterms:\n  - Milan\n  - {term: Leao, colour: x}\n"
    )
    feeds.write_text("feeds:\n  - name: TMW\n    url: nope\n")
    outcome = registry.load()
    assert not outcome.ok
    assert {p.line for p in outcome.problems} == {3, 4}
    assert "last good" in outcome.summary
    assert [f.name for f in registry.feeds] == ["TMW"]
    assert [m.term for m in registry.matcher().match("Il Milan vince")] == ["Milan"]

    (lists / "milan.yaml").write_text(
        "name: milan\nterms:\n  - Milan\n  - {term: Rafael Leão, aliases: [Leão]}\n"
    )
    feeds.write_text(FEEDS)
    assert registry.load().ok
    assert {m.term for m in registry.matcher().match("Leao trascina il Milan")} == {
        "Milan",
        "Rafael Leão",
    }


def test_first_load_starts_with_the_valid_lists(tmp_path: Path) -> None:
    feeds, lists = setup(tmp_path)
    (lists / "broken.yaml").write_text("terms: 3\n")
    registry = Registry(feeds, lists)
    outcome = registry.load()
    assert not outcome.ok and outcome.problems[0].path.endswith("broken.yaml")
    assert [w.name for w in registry.watchlists] == ["milan"]
    assert registry.feeds


def test_personal_terms_join_without_rebuilding_the_lists(tmp_path: Path) -> None:
    feeds, lists = setup(tmp_path)
    watched: list[str] = []
    registry = Registry(feeds, lists, watched_terms=lambda: list(watched))
    registry.load()
    files_matcher = registry.matcher().parts[0]
    assert registry.matcher().match("Assalto a Palestra") == []
    watched.append("Palestra")
    combined = registry.matcher()
    assert combined.parts[0] is files_matcher
    (found,) = combined.match("Assalto a Palestra dell’Atalanta")
    assert (found.watchlist, found.term) == ("watch:palestra", "Palestra")
