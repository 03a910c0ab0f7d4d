"""The feeds file: the shipped list is valid, and every mistake is reported at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.feeds import check_feeds, load_feeds
from bot.yamlfile import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "bot" / "feeds.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_feeds_are_valid_real_italian_outlets() -> None:
    feeds = load_feeds(SHIPPED)
    names = {f.name for f in feeds}
    for outlet in ("Tuttomercatoweb", "Calciomercato.com", "Corriere dello Sport", "Tuttosport"):
        assert outlet in names
    assert any("gazzetta.it" in f.url for f in feeds)
    assert any("sport.sky.it" in f.url for f in feeds)
    assert any("ansa.it" in f.url for f in feeds)
    assert all(f.url.startswith("https://") and f.interval >= 10 for f in feeds)


def test_defaults_and_per_feed_interval(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "defaults:\n  interval: 45\nfeeds:\n"
        "  - name: TMW\n    url: https://www.tuttomercatoweb.com/rss/\n"
        "  - name: Gazzetta\n    url: https://www.gazzetta.it/rss/calcio.xml\n    interval: 300\n",
    )
    tmw, gazzetta = load_feeds(path)
    assert (tmw.interval, gazzetta.interval) == (45, 300)
    assert (tmw.line, gazzetta.line) == (4, 6)


def test_default_interval_is_two_minutes(tmp_path: Path) -> None:
    (feed,) = load_feeds(write(tmp_path, "feeds:\n  - name: A\n    url: https://a.example/rss\n"))
    assert feed.interval == 120


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "feeds:\n  - name: A\n    url: https://a/\n    interval: 5\n",
            4,
            "greater than or equal to 10",
        ),
        ("feeds:\n  - name: A\n    url: ftp://a/\n", 3, "not an http(s) URL"),
        ("feeds:\n  - name: A\n    url: https://a/\n    colour: red\n", 4, "unknown key 'colour'"),
        ("feeds:\n  - name: A\n", 2, "missing key 'url'"),
        (
            "feeds:\n  - name: A\n    url: https://a/\n  - name: a\n    url: https://b/\n",
            4,
            "duplicate feed name (first at line 2)",
        ),
        (
            "feeds:\n  - name: A\n    url: https://a/\n  - name: B\n    url: https://a\n",
            5,
            "duplicate feed url",
        ),
        ("feeds: [\n", 2, "invalid YAML"),
        (
            "feeds:\n  - name: A\n    url: https://a/\n    url: https://b/\n",
            4,
            "duplicate key 'url'",
        ),
        ("feeds: []\n", 1, "at least 1"),
        ("", 1, "empty"),
        ("feeds:\n  - name: A\n    url: https://a/\n    interval: '60'\n", 4, "valid integer"),
    ],
)
def test_problems_are_reported_at_their_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    path = write(tmp_path, text)
    problems = check_feeds(path)
    assert problems, "expected a problem"
    rendered = [str(p) for p in problems]
    assert any(r.startswith(f"{path}:{line}: ") and fragment in r for r in rendered), rendered


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_feeds(missing)
    assert str(info.value).startswith(f"{missing}:1: cannot read file")
