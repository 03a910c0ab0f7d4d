"""What clustering works out once and keeps (a headline's analysis, a key's derived name sets)
must decide exactly as working it out afresh: a headline retold by another outlet, or compared
again as a story's later item, is judged like the first copy. Checked on the labelled stream's
real headlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_story_stream import load_stream

from bot import stories
from bot.stories import NOT_CLUBS, StoryKey, analyse

WHEN = datetime(2026, 3, 6, 9, tzinfo=UTC)


def _fields(key: StoryKey) -> dict[str, object]:
    """Everything a rule may read of a key, derived name sets included."""
    names = (*stories._KEY_FIELDS, "who_tokens", "mentioned", "titled", "own", "match_clubs")
    return {name: getattr(key, name) for name in names}


def test_a_retold_headline_is_analysed_as_if_told_first(real_feeds: Path) -> None:
    rows = load_stream(real_feeds)
    who = (frozenset({"paulo", "dybala"}),)
    retold = []
    for row in rows:  # told once by one outlet (the analysis is kept), then by another
        analyse(row.title, row.summary, (), (), row.published, row.outlet)
        retold.append(analyse(row.title, row.summary, (), who, WHEN, "Altro"))
    stories._told.cache_clear()
    for row, key in zip(rows, retold, strict=True):
        fresh = analyse(row.title, row.summary, (), who, WHEN, "Altro")
        assert _fields(key) == _fields(fresh), row.title


def test_a_keys_derived_name_sets_are_what_the_rules_define(real_feeds: Path) -> None:
    for row in load_stream(real_feeds):
        key = analyse(row.title, row.summary, (), (), row.published, row.outlet)
        for seen in (key, key.at(WHEN + timedelta(hours=1), "Altro")):
            assert seen.titled == seen.names | seen.maybe
            assert seen.own == seen.names - NOT_CLUBS
            assert seen.mentioned == seen.names | seen.maybe | seen.who_tokens
            assert seen.match_clubs == stories._clubs_of_the_match(seen)
