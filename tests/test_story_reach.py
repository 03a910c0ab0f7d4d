"""A story is skipped whole when an item has nothing in common with all its items together:
the skip must never hide a story that comparing the item with one of its items would join.
Judged on the labelled stream's real headlines, each of its news groups a story."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from test_stories import istanbul_pieces
from test_story_stream import load_stream

from bot.stories import (
    StoryCandidate,
    StoryKey,
    StoryReach,
    _out_of_reach,
    analyse,
    find_story_for,
    same_story,
    story_key,
)


def _stories(real: Path) -> tuple[list[StoryKey], list[list[StoryKey]]]:
    """Every item of the stream, and its news groups of two items or more as stories."""
    groups: dict[str, list[StoryKey]] = defaultdict(list)
    keys = []
    for row in load_stream(real):
        key = analyse(row.title, row.summary, (), (), row.published, row.outlet)
        groups[row.group].append(key)
        keys.append(key)
    return keys, [g for g in groups.values() if len(g) > 1]


def test_an_item_out_of_a_storys_reach_tells_the_news_of_none_of_its_items(
    real_feeds: Path,
) -> None:
    keys, stories = _stories(real_feeds)
    skipped = joined = 0
    for story in stories:
        reach = StoryReach.of(story)
        for key in keys:
            if _out_of_reach(key, reach):
                skipped += 1
                assert not any(same_story(key, other) for other in story), key.text
            elif any(same_story(key, other) for other in story if other is not key):
                joined += 1
    assert joined > 50  # items tell the news of their own group (and of a few others)
    assert skipped > 10 * joined  # and most stories are skipped whole, which is the point


def test_find_story_for_picks_a_story_that_comparing_every_item_would_join(
    real_feeds: Path,
) -> None:
    keys, stories = _stories(real_feeds)
    cands = [
        StoryCandidate(f"s{n}", "", frozenset(), s[0].published, key=s[0], members=tuple(s[1:]))
        for n, s in enumerate(stories)
    ]
    for key in keys:
        joinable = [
            cand.story_id
            for cand, story in zip(cands, stories, strict=True)
            if any(same_story(key, other) for other in story)
        ]
        got = find_story_for(key, cands)
        assert got in joinable if joinable else got is None, key.text


def test_a_story_is_not_skipped_when_its_summaries_name_the_items_people() -> None:
    """ "Devono rifare la Juve" and "Spalletti, riflessioni sulla rosa" share no word and no
    title name: only each summary naming the other's people makes them one story, and a story
    of that piece and another is not skipped for it."""
    t0 = datetime(2026, 2, 19, 6, 0, tzinfo=UTC)
    spalletti, juve = istanbul_pieces(t0)
    other = story_key("Galatasaray, la festa dei tifosi turchi", published=t0, source="TMW")
    assert same_story(juve, spalletti)
    story = StoryCandidate("s", "", frozenset(), t0, key=other, members=(spalletti,))
    assert find_story_for(juve, [story]) == "s"
