"""The ingest stage: parsed items + their matches -> known items, stories and outbox rows.

New items are stored in chunks of up to `CHUNK_ITEMS`, one transaction each (a commit per item
cost more than the rest of the item's writes); on PostgreSQL only a backlog is (see
`CHUNK_ITEMS`), other items commit one per transaction. An item row, all of its keys, its story
assignment and the outbox rows it causes commit together, with the rest of its chunk, so a crash
at any point leaves either whole items (with every alert they owe) or nothing of the chunk (and
the next poll sees those items as new again). The outbox's unique (subscriber, story) constraint
makes a replay harmless.

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
from functools import lru_cache, partial

from sqlalchemy import Connection

from bot import faults, lexicon, stories
from bot.models import Feed, Item, Match
from bot.store import KEY_REFRESH, MAX_EDITS, Store
from bot.store.base import Deadlock, loads
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
# Only the analysis (fixed at the story's creation) is kept: a story's outlets are read from the
# database with every lookup, so replicas sharing it never disagree.
MAX_CACHED_ANALYSES = 50_000
MAX_SPECIFIC_CANDIDATES = 300  # stories sharing a person with an item
MAX_WEAK_CANDIDATES = 60  # the stories nearest the item's time sharing only a club or place
# New items of one feed stored per transaction. SQLite's writers take turns (one write lock), so
# a transaction may hold many stories. PostgreSQL locks a story's row when an item joins it, and
# feeds are ingested at once: two chunks joining two stories in opposite orders would deadlock.
# So there a transaction waits for a story only while it holds nothing (its first item); a later
# item finding its story locked by another writer (`Store.lock_story_if_free_in`) ends the
# transaction instead, committing the items before it, and starts the next one. Only a backlog
# is chunked there: a new item's alerts and update flags touch the outbox rows the sender works
# on, one item per transaction as before.
CHUNK_ITEMS = 100
# Later items of a story compared with a new item besides its first (the earliest ones): a
# piece that tells the news the way the second outlet did belongs to the story too.
MAX_MEMBERS = 8


@dataclass(slots=True)
class _Cached:
    """A story as clustering sees it: its analysis, as a candidate with the outlets stored
    (`sources`, as read) when it was last looked up."""

    candidate: stories.StoryCandidate
    sources: str | None = None


_CACHES: weakref.WeakKeyDictionary[Store, OrderedDict[str, _Cached]] = weakref.WeakKeyDictionary()


def _analyses(store: Store) -> OrderedDict[str, _Cached]:
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = OrderedDict()
    return cache


def _remember(
    cache: OrderedDict[str, _Cached], story_id: str, key: stories.StoryKey, published: datetime
) -> _Cached:
    # compared as the story: its first item's time, no outlet
    key = key.at(published, "")
    cached = _Cached(stories.StoryCandidate(story_id, "", frozenset(), published, key=key))
    cache[story_id] = cached
    cache.move_to_end(story_id)
    while len(cache) > MAX_CACHED_ANALYSES:
        cache.popitem(last=False)
    return cached


def _member_key(title: str, summary: str, published: datetime, source: str) -> stories.StoryKey:
    """A later item of a story as clustering compares it: from its title and summary only
    (its matched terms are not stored), the same whether just joined or read back."""
    return stories.analyse(title, summary, (), (), published, source)


def _add_member(cached: _Cached, key: stories.StoryKey) -> None:
    """Keep a later item of a story, unless it reads like one kept already (a headline
    copied by another outlet compares like its first copy: comparing it again costs time)."""
    cand = cached.candidate
    if len(cand.members) >= MAX_MEMBERS:
        return
    if any(stories.reads_alike(key, k) for k in (cand.key, *cand.members) if k is not None):
        return
    cached.candidate = replace(cand, members=(*cand.members, key))


@lru_cache(maxsize=4096)
def _outlets(stored: str) -> frozenset[str]:
    return frozenset(loads(stored))


def _candidates(
    store: Store, conn: Connection, found: list[tuple[str, str]]
) -> list[stories.StoryCandidate]:
    """The stories `found` (id, stored outlets) as clustering compares them: cached analyses
    with the outlets just read; the stories not cached are read and analysed now."""
    cache = _analyses(store)
    missing = [story_id for story_id, _ in found if story_id not in cache]
    members = store.story_members_in(conn, missing, MAX_MEMBERS) if missing else {}
    for cand in store.story_details_in(conn, missing) if missing else ():
        cached = _remember(cache, cand.story_id, stories.candidate_key(cand), cand.published)
        for title, summary, published, source in members.get(cand.story_id, ()):
            _add_member(cached, _member_key(title, summary, published, source))
    out = []
    for story_id, sources in found:
        cached = cache.get(story_id)
        if cached is None:
            continue  # deleted since the lookup (pruned by another replica)
        if cached.sources != sources:
            cached.candidate = replace(cached.candidate, sources=_outlets(sources))
            cached.sources = sources
        out.append(cached.candidate)
    return out


def warm_up() -> None:
    """Load the word lists that telling names from words reads (wordfreq's, a few tenths of
    a second, once per process) at start-up, instead of in the first poll's first item."""
    lexicon.is_common_word("notizia")
    lexicon.word_frequency("notizia")


def story_id_for(item: Item, salt: str = "") -> str:
    """A stable story id: derived from the first item's best key, the same on every replica."""
    return hashlib.sha1(f"{item.key}{salt}".encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Batch:
    """One feed's items of a poll, how they are matched, and whether they are its backlog."""

    items: Sequence[Item]
    match: MatchFn
    backlog: bool


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
    """Store `items` of `feed`, assign stories and queue the alerts they owe (see module doc)."""
    (result,) = ingest_batches(
        store,
        [Batch(items, match, backlog)],
        now=now,
        window_hours=window_hours,
        stop=stop,
    )
    return result


def ingest_batches(
    store: Store,
    batches: Sequence[Batch],
    *,
    now: datetime,
    window_hours: int = stories.WINDOW_HOURS,
    stop: Callable[[], bool] | None = None,
) -> list[IngestResult]:
    """Store the items of several feeds' batches as one stream; one result per batch.

    Items are taken oldest first across every batch (ties: by outlet, then by batch and
    place in its feed), so the first outlet of a story is the one its alert shows, and the
    stories of a poll cycle do not depend on which feed's fetch ended first.
    New items are stored in chunks (see module doc), each chunk whole or not at all.
    `stop` is asked between items (a SIGTERM during a big feed): once it says True the items
    done so far are committed and the rest is left for the next poll.
    """
    totals = [IngestResult() for _ in batches]
    ordered = sorted(
        ((item, n) for n, batch in enumerate(batches) for item in batch.items),
        key=lambda entry: (entry[0].published or now, entry[0].source, entry[1]),
    )
    seen = store.known_keys(k for it, _ in ordered for k in it.keys)
    fresh_after = now - KEY_REFRESH
    todo = []
    for item, n in ordered:
        if not item.keys:
            continue
        if all(k in seen and seen[k] >= fresh_after for k in item.keys):
            totals[n].known_items += 1  # listed again, nothing new: no write at all
            continue
        todo.append((item, n))
    ingest_one = [
        partial(
            _ingest_one,
            store,
            match=batch.match,
            now=now,
            backlog=batch.backlog,
            window_hours=window_hours,
        )
        for batch in batches
    ]
    stopped = stop or (lambda: False)
    # Keys of this stream stored so far: an item sharing one is checked as known, as is one
    # whose keys were partly known before the stream.
    stored: set[str] = set()
    chunk_end = partial(_chunk_end, todo, [b.backlog for b in batches], store.is_postgres)
    if not todo:
        return totals
    with store.writer() as transaction:
        start = 0
        while start < len(todo) and not stopped():
            chunk = todo[start : chunk_end(start)]
            taken = len(chunk)  # the items of the chunk this transaction got to
            try:
                with transaction() as conn:
                    done = [IngestResult() for _ in batches]
                    added: set[str] = set()
                    for i, (item, n) in enumerate(chunk):
                        if i and stopped():
                            taken = i  # the items done so far are committed, each one whole
                            break
                        check = any(k in seen or k in stored or k in added for k in item.keys)
                        try:
                            done[n].add(ingest_one[n](conn, item, check_known=check, wait=i == 0))
                        except _Taken:
                            taken = i  # the items before it commit; it starts the next chunk
                            break
                        added.update(item.keys)
                    faults.checkpoint(faults.DEDUP_BEFORE_COMMIT)
            except (AlreadyKnown, Deadlock):
                # Another writer stored one of these items meanwhile (only if two pollers ever
                # ran at once), or PostgreSQL broke a deadlock with another writer by rolling
                # this one back: store the chunk again an item per transaction, retrying a
                # deadlock's victim.
                done = _one_by_one(store, chunk, ingest_one, stopped, len(batches))
            faults.checkpoint(faults.DEDUP_AFTER_COMMIT)
            stored |= added
            for total, part in zip(totals, done, strict=True):
                total.add(part)
            start += taken
    return totals


def _chunk_end(
    todo: Sequence[tuple[Item, int]], backlog: Sequence[bool], postgres: bool, start: int
) -> int:
    """Where the chunk starting at `start` ends: `CHUNK_ITEMS` items, but on PostgreSQL a new
    item (not a backlog's) is a chunk of its own (see `CHUNK_ITEMS`), and a backlog's items are
    chunked together only up to the next new item."""
    end = min(start + CHUNK_ITEMS, len(todo))
    if not postgres:
        return end
    if not backlog[todo[start][1]]:
        return start + 1
    return next((i for i in range(start, end) if not backlog[todo[i][1]]), end)


class _Taken(Exception):
    """The story an item joins is locked by another writer's transaction, and this one holds
    locks of its earlier items: waiting could close a circle (a deadlock), so it ends here."""


DEADLOCK_ATTEMPTS = 5  # tries of one item chosen as a deadlock's victim (PostgreSQL)


def _one_by_one(
    store: Store,
    chunk: Sequence[tuple[Item, int]],
    ingest_one: Sequence[Callable[..., IngestResult]],
    stopped: Callable[[], bool],
    batches: int,
) -> list[IngestResult]:
    """A chunk again, an item per transaction, each checked as possibly known."""
    totals = [IngestResult() for _ in range(batches)]
    for item, n in chunk:
        if stopped():
            break
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with store.transaction() as conn:
                    totals[n].add(ingest_one[n](conn, item, check_known=True))
            except AlreadyKnown:
                totals[n].known_items += 1  # rolled back: someone else stored it first
            except Deadlock:
                # The writer that won goes on and commits; this item, rolled back whole, is
                # tried again.
                if attempt == DEADLOCK_ATTEMPTS:
                    raise
                continue
            break
    return totals


def _ingest_one(
    store: Store,
    conn: Connection,
    item: Item,
    *,
    match: MatchFn,
    now: datetime,
    backlog: bool,
    window_hours: int,
    check_known: bool,
    wait: bool = True,
) -> IngestResult:
    """One item, in the caller's transaction. `check_known`: some key of the item may be
    stored already (else a key stored meanwhile raises AlreadyKnown). `wait`: for a story
    another writer holds; else `_Taken` is raised, before this item wrote anything."""
    if check_known and store.known_item_in(conn, item.keys, now) is not None:
        return IngestResult(known_items=1)
    matches = match(item)
    published = item.published or now
    terms = [m.term for m in matches]
    key = stories.analyse(
        item.title, item.summary, (), stories.who_groups(terms), published, item.source
    )
    lookup = stories.lookup_names(item.title, stories.name_tokens(terms))
    # a title that names no one ("Facile così") is about the clubs its summary names
    lookup |= stories.who_names(terms) | key.clubs
    window = timedelta(hours=window_hours)
    # Stories sharing a person with the item, then the ones nearest its time sharing only a club
    # (or a competition, a city): a club is in dozens of stories a day, and the ones that tell
    # the same news as the item (the same match) are published around the same time. The
    # names of the summary of a title that names no one are weaker evidence: looked up like a
    # club.
    specific = {n for n in lookup if n not in stories.WEAK_NAMES}
    weak = lookup - specific if key.names else (lookup - specific) | key.context
    found = store.story_lookup_in(
        conn,
        specific,
        weak,
        published - window,
        published + window,
        specific_limit=MAX_SPECIFIC_CANDIDATES,
        weak_limit=MAX_WEAK_CANDIDATES,
    )
    candidates = _candidates(store, conn, found)
    story_id = stories.find_story_for(key, candidates, window_hours=window_hours)
    result = IngestResult(backlog_items=1) if backlog else IngestResult(new_items=1)
    if story_id is None:
        story_id = story_id_for(item)
        stored = stories.title_names(item.title) | stories.who_names(terms)
        # the story, its names, the item and its keys: one statement on PostgreSQL
        new = partial(
            store.create_story_with_item_in, conn, item=item, names=stored,
            published=published, now=now, index=lookup, backlog=backlog,
        )  # fmt: skip
        item_id = new(story_id)
        if item_id is None:  # an old story of a forgotten key lives on
            story_id = story_id_for(item, salt=now.isoformat())
            item_id = new(story_id)
        _remember(_analyses(store), story_id, key, published)
        sources = [item.source]
        new_outlet = False
    else:
        # later items find the story by this item's names too (filed at the story's time),
        # and compare with it
        joined = _analyses(store).get(story_id)
        joined_as = store.join_story_with_item_in(
            conn,
            story_id,
            item,
            now,
            sources=dict(found)[story_id],
            wait=wait,
            index=lookup if joined is not None else (),
            filed=joined.candidate.published if joined is not None else published,
            backlog=backlog,
        )
        if joined_as is None:
            raise _Taken(story_id)
        sources, item_id = joined_as
        new_outlet = item.source not in sources
        if joined is not None:
            _add_member(joined, _member_key(item.title, item.summary, published, item.source))
    if item_id is None:  # even the salted story id was taken: the item joins that story
        item_id = store.add_item_in(conn, item, now=now, backlog=backlog, story_id=story_id)
    faults.checkpoint(faults.DEDUP_AFTER_ITEM_INSERT)
    if new_outlet and not backlog:
        result.updates = store.flag_update_in(
            conn, story_id, item.source, now=now, max_edits=MAX_EDITS
        )
    if backlog or not matches:
        return result
    # One statement owes the alert to every follower of what matched (bot/store/ingest.py).
    # The alert shows this item; every other outlet of the story is "also on" (the story's
    # first item may have alerted no one: a backlog, or news nobody followed then).
    also = [s for s in sources if s != item.source]
    result.alerts = store.fan_out_in(conn, story_id, matches, also=also, now=now, item_id=item_id)
    return result
