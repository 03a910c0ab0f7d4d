"""The ingest stage: parsed items + their matches -> known items, stories and outbox rows.

One transaction per item. The item row, all of its keys, its story assignment and the outbox
rows it causes commit together, so a crash at any point leaves either the whole item (with every
alert it owes) or nothing (and the next poll sees it as new again). The outbox's unique
(subscriber, story) constraint makes a replay harmless.

- An item is known when ANY of its keys is known (guid, canonical link, title fingerprint):
  an edited headline, a dropped guid or a link with tracking parameters is not a new item.
- Backlog (a feed's first successful poll): items are stored as known and join stories, but owe
  no one an alert and flag no update.
- A new item either starts a story (alerts for the subscribers it matches) or joins a story from
  another outlet: subscribers already owed that story get the outlet in `also` (an update of a
  delivered message, at most `MAX_EDITS` times), subscribers it newly matches get an alert.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from bot import faults, stories
from bot.models import Feed, Item, Match
from bot.store import KEY_REFRESH, MAX_EDITS, Store
from bot.store.ingest import AlreadyKnown

MatchFn = Callable[[Item], list[Match]]


@dataclass(slots=True)
class IngestResult:
    """Counts of one feed's items after one poll."""

    new_items: int = 0
    known_items: int = 0
    backlog_items: int = 0
    alerts: int = 0
    updates: int = 0

    def add(self, other: IngestResult) -> None:
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Each story's analysis, computed once (when the story is created or first read back) instead
# of once per candidate per item: story lookup stays linear in the number of items. One bounded
# cache per store; a forgotten story is analysed again from its stored title, summary and names.
MAX_CACHED_ANALYSES = 50_000
MAX_SPECIFIC_CANDIDATES = 300  # stories sharing a person with an item
MAX_WEAK_CANDIDATES = 60  # the most recent stories sharing only a club, competition or place


@dataclass(slots=True)
class _Cached:
    """A story as clustering sees it: its analysis and the outlets that told it so far."""

    key: stories.StoryKey
    sources: set[str]


_CACHES: weakref.WeakKeyDictionary[Store, OrderedDict[str, _Cached]] = weakref.WeakKeyDictionary()


def _analyses(store: Store) -> OrderedDict[str, _Cached]:
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = OrderedDict()
    return cache


def _remember(
    cache: OrderedDict[str, _Cached], story_id: str, key: stories.StoryKey, sources: set[str]
) -> None:
    # compared as the story: its first item's time, no outlet
    cache[story_id] = _Cached(key.at(key.published, ""), sources)
    cache.move_to_end(story_id)
    while len(cache) > MAX_CACHED_ANALYSES:
        cache.popitem(last=False)


def _with_analysis(
    cache: OrderedDict[str, _Cached], cand: stories.StoryCandidate
) -> stories.StoryCandidate:
    """The candidate with its cached analysis and outlets (analysed now if not cached)."""
    cached = cache.get(cand.story_id)
    if cached is None:
        _remember(cache, cand.story_id, stories.candidate_key(cand), set(cand.sources))
        cached = cache[cand.story_id]
    return replace(cand, key=cached.key, sources=frozenset(cached.sources))


def story_id_for(item: Item, salt: str = "") -> str:
    """A stable story id: derived from the first item's best key, the same on every replica."""
    return hashlib.sha1(f"{item.key}{salt}".encode()).hexdigest()[:20]


def ingest(
    store: Store,
    feed: Feed,
    items: Sequence[Item],
    match: MatchFn,
    *,
    now: datetime,
    backlog: bool,
    window_hours: int = stories.WINDOW_HOURS,
    stop: Callable[[], bool] | None = None,
) -> IngestResult:
    """Store `items` of `feed`, assign stories and queue the alerts they owe (see module doc).

    Items are taken oldest first, so the first outlet of a story is the one its alert shows.
    `stop` is asked between items (a SIGTERM during a big feed): once it says True the rest is
    left for the next poll; what was stored stays stored, each item whole.
    """
    total = IngestResult()
    ordered = sorted(items, key=lambda it: it.published or now)
    seen = store.known_keys(k for it in ordered for k in it.keys)
    fresh_after = now - KEY_REFRESH
    for item in ordered:
        if stop is not None and stop():
            break
        if not item.keys:
            continue
        if all(k in seen and seen[k] >= fresh_after for k in item.keys):
            total.known_items += 1  # listed again, nothing new: no write at all
            continue
        try:
            with store.transaction() as conn:
                one = _ingest_one(store, conn, item, match, now, backlog, window_hours)
                faults.checkpoint(faults.DEDUP_BEFORE_COMMIT)
        except AlreadyKnown:
            one = IngestResult(known_items=1)  # rolled back: someone else stored it first
        faults.checkpoint(faults.DEDUP_AFTER_COMMIT)
        total.add(one)
    return total


def _ingest_one(
    store: Store,
    conn: Connection,
    item: Item,
    match: MatchFn,
    now: datetime,
    backlog: bool,
    window_hours: int,
) -> IngestResult:
    if store.known_item_in(conn, item.keys, now) is not None:
        return IngestResult(known_items=1)
    item_id = store.add_item_in(conn, item, now=now, backlog=backlog)
    faults.checkpoint(faults.DEDUP_AFTER_ITEM_INSERT)
    matches = match(item)
    published = item.published or now
    terms = [m.term for m in matches]
    key = stories.analyse(
        item.title, item.summary, (), stories.who_groups(terms), published, item.source
    )
    lookup = stories.lookup_names(item.title, stories.name_tokens(terms))
    lookup |= stories.who_names(terms)
    window = timedelta(hours=window_hours)
    cache = _analyses(store)
    start, end = published - window, published + window
    # Stories sharing a person with the item, then the most recent ones sharing only a club
    # (or a competition, a city): a club is in dozens of stories a day, and the ones that tell
    # the same news as the item (the same match) are published around the same time.
    specific = {n for n in lookup if n not in stories.WEAK_NAMES}
    candidates = store.story_candidates_in(
        conn, specific, start, end, known=cache, limit=MAX_SPECIFIC_CANDIDATES
    )
    seen = {c.story_id for c in candidates}
    candidates += [
        c
        for c in store.story_candidates_in(
            conn, lookup - specific, start, end, known=cache, limit=MAX_WEAK_CANDIDATES
        )
        if c.story_id not in seen
    ]
    story_id = stories.find_story_for(
        key, [_with_analysis(cache, c) for c in candidates], window_hours=window_hours
    )
    result = IngestResult(backlog_items=1) if backlog else IngestResult(new_items=1)
    if story_id is None:
        story_id = story_id_for(item)
        if store.story_exists_in(conn, story_id):  # an old story of a forgotten key lives on
            story_id = story_id_for(item, salt=now.isoformat())
        stored = stories.title_names(item.title) | stories.who_names(terms)
        store.create_story_in(
            conn, story_id, item, item_id, stored, published=published, now=now, index=lookup
        )
        _remember(cache, story_id, key, {item.source})
    else:
        new_outlet = store.join_story_in(conn, story_id, item_id, item.source, now)
        if story_id in cache:
            cache[story_id].sources.add(item.source)
        if new_outlet and not backlog:
            result.updates = store.flag_update_in(
                conn, story_id, item.source, now=now, max_edits=MAX_EDITS
            )
    if backlog or not matches:
        return result
    # One statement owes the alert to every follower of what matched (bot/store/ingest.py).
    # The alert shows this item; every other outlet of the story is "also on" (the story's
    # first item may have alerted no one: a backlog, or news nobody followed then).
    also = [s for s in store.story_sources_in(conn, story_id) if s != item.source]
    result.alerts = store.fan_out_in(conn, story_id, matches, also=also, now=now, item_id=item_id)
    return result
