"""One poll of one feed, end to end: fetch -> parse -> match -> dedup/story -> outbox.

The scheduler (in `run`) and `poll --once` both call `Pipeline.poll_feed`, so there is a single
code path. Expected faults (timeouts, HTTP errors, bad XML) become one warning line each and a
backoff in the feed's state; they never stop the other feeds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

import httpx

from bot import metrics
from bot.dedup import Batch, IngestResult, ingest_batches
from bot.fetch import FetchResult, confirm_move, fetch, is_due, next_state
from bot.models import Feed, FeedState, Item, ItemContext, Match
from bot.parse import ParseResult, parse
from bot.store import Store
from bot.websub import Discovery, advertised

log = logging.getLogger("newsbot.poll")

Clock = Callable[[], datetime]


class MatchesText(Protocol):
    """What the pipeline needs of a matcher (a Matcher, or several combined)."""

    def match(
        self, title: str, summary: str = "", context: ItemContext | None = None
    ) -> list[Match]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class FeedOutcome:
    """What one poll of one feed did, for the cycle's log line and for tests."""

    feed: Feed
    status: str
    items: int = 0
    ingest: IngestResult | None = None
    error: str | None = None
    warning: str | None = None
    # For the adaptive interval (bot/freshness.py): when the listed items were published, and
    # the shortest wait the outlet asks for (<ttl>, sy:updatePeriod, Cache-Control, Expires).
    published: tuple[datetime, ...] = ()
    outlet_floor: float | None = None
    hub: Discovery | None = None  # the WebSub hub the feed advertised (status "ok" only)


@dataclass(slots=True)
class CycleReport:
    """Counts of one poll cycle over every feed (the structured log line of `poll --once`)."""

    outcomes: list[FeedOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def total(self, attr: str) -> int:
        return sum(getattr(o.ingest, attr) for o in self.outcomes if o.ingest)

    def summary(self) -> dict[str, int]:
        return {
            "feeds": len(self.outcomes),
            "ok": self.count("ok"),
            "not_modified": self.count("not_modified"),
            "failed": self.count("error"),
            "skipped": self.count("skipped"),
            "new_items": self.total("new_items"),
            "backlog_items": self.total("backlog_items"),
            "alerts": self.total("alerts"),
            "updates": self.total("updates"),
        }


@dataclass(slots=True)
class _Fetched:
    """A feed fetched and parsed, its items not ingested yet (a cycle ingests every feed's
    items together, once all of its fetches are in)."""

    feed: Feed
    parsed: ParseResult
    result: FetchResult | None  # None: a document pushed by the feed's hub
    new_state: FeedState | None  # None: a push, which leaves the poll state alone
    backlog: bool
    now: datetime

    def outcome(self, ingested: IngestResult) -> FeedOutcome:
        """What the poll did, once its items are ingested."""
        items = self.parsed.items
        if self.result is None:
            return FeedOutcome(
                self.feed, "pushed", len(items), ingested, warning=self.parsed.warning
            )
        floors = [f for f in (self.result.cache_floor, self.parsed.ttl_floor) if f]
        return FeedOutcome(
            self.feed,
            "ok",
            len(items),
            ingested,
            warning=self.parsed.warning,
            published=tuple(i.published for i in items if i.published and i.published <= self.now),
            outlet_floor=max(floors) if floors else None,
            hub=advertised(
                self.result.link_hub, self.result.link_self, self.parsed.hub, self.feed.url
            ),
        )


class Pipeline:
    """Polls feeds into the store; `matcher()` is asked anew each poll so reloads take effect.

    At most `concurrency` feeds are fetched and parsed at once, whether the polls come from one
    `poll --once` cycle or from the scheduler's independent per-feed jobs.
    """

    def __init__(
        self,
        store: Store,
        client: httpx.AsyncClient,
        matcher: Callable[[], MatchesText],
        *,
        clock: Clock = utcnow,
        max_bytes: int = 5_000_000,
        concurrency: int = 8,
        max_age: timedelta | None = timedelta(hours=48),
    ) -> None:
        self.store = store
        self.client = client
        self.matcher = matcher
        self.clock = clock
        self.max_bytes = max_bytes
        self._gate = asyncio.Semaphore(concurrency)
        self.max_age = max_age
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask polls in flight to end between items (their worker threads see it at once).

        What was stored stays stored; the feed's validators are not saved for a partial
        ingest, so the next poll reads the whole feed again and stores the rest.
        """
        self._stopping.set()

    async def poll_feed(self, feed: Feed, *, respect_backoff: bool = True) -> FeedOutcome:
        """Poll one feed; a feed in backoff after failures is skipped unless told otherwise.

        Never raises: a fault nobody foresaw (a parser bug, a store outage) is logged with its
        traceback and reported as this feed's error, and the other feeds carry on.
        """
        try:
            return await self._poll_feed(feed, respect_backoff)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.POLLS.labels(feed=feed.name, outcome="error").inc()
            return _unexpected(feed, exc)

    async def _poll_feed(self, feed: Feed, respect_backoff: bool) -> FeedOutcome:
        started = time.perf_counter()
        state = await asyncio.to_thread(self.store.feed_state, feed.url)
        if respect_backoff and not is_due(state, self.clock()):
            return FeedOutcome(feed, "skipped")
        async with self._gate:
            got = await self._fetch_and_parse(feed, state)
            if isinstance(got, _Fetched):
                (ingested,) = await asyncio.to_thread(self._ingest, [got])
                got = got.outcome(ingested)
        metrics.POLLS.labels(feed=feed.name, outcome=got.status).inc()
        metrics.POLL_SECONDS.observe(time.perf_counter() - started)
        return got

    async def poll_all(self, feeds: Sequence[Feed], *, respect_backoff: bool = True) -> CycleReport:
        """Every feed once (under the pipeline's bound); one line of counts at the end.

        The feeds are fetched and parsed at once, and their new items are ingested together,
        oldest first, once every fetch of the cycle is in: which outlet starts a story (and is
        the one its alert shows) then does not depend on which fetch ended first. A slow feed
        holds the others back at most until its fetch gives up (the fetch timeout, and the
        fetch's overall deadline). `poll --once` is an explicit request to poll everything,
        so it ignores backoff.
        """
        started = time.perf_counter()
        got = list(await asyncio.gather(*(self._fetch_one(f, respect_backoff) for f in feeds)))
        fetched = [g for g in got if isinstance(g, _Fetched)]
        if fetched:
            done = iter(await self._ingest_cycle(fetched))
            got = [next(done) if isinstance(g, _Fetched) else g for g in got]
        outcomes: list[FeedOutcome] = got  # type: ignore[assignment]
        for outcome in outcomes:
            metrics.POLLS.labels(feed=outcome.feed.name, outcome=outcome.status).inc()
            metrics.POLL_SECONDS.observe(time.perf_counter() - started)
        report = CycleReport(outcomes)
        log.info("poll cycle %s", " ".join(f"{k}={v}" for k, v in report.summary().items()))
        return report

    async def _fetch_one(self, feed: Feed, respect_backoff: bool) -> FeedOutcome | _Fetched:
        """One feed of a cycle, fetched and parsed (or why not); never raises, like poll_feed."""
        try:
            state = await asyncio.to_thread(self.store.feed_state, feed.url)
            if respect_backoff and not is_due(state, self.clock()):
                return FeedOutcome(feed, "skipped")
            async with self._gate:
                return await self._fetch_and_parse(feed, state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return _unexpected(feed, exc)

    async def _ingest_cycle(self, fetched: list[_Fetched]) -> list[FeedOutcome]:
        """The cycle's items in one stream; should that fail unexpectedly (a bug one item
        triggers), each feed again on its own, so that the fault costs only its feed."""
        try:
            ingested = await asyncio.to_thread(self._ingest, fetched)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("poll cycle: ingest failed, feed by feed now: %r", exc, exc_info=exc)
            return [await self._ingest_alone(f) for f in fetched]
        return [f.outcome(result) for f, result in zip(fetched, ingested, strict=True)]

    async def _ingest_alone(self, fetched: _Fetched) -> FeedOutcome:
        try:
            (ingested,) = await asyncio.to_thread(self._ingest, [fetched])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return _unexpected(fetched.feed, exc)
        return fetched.outcome(ingested)

    async def _fetch_and_parse(self, feed: Feed, state: FeedState | None) -> FeedOutcome | _Fetched:
        """Fetch and parse; a failed or unchanged fetch ends here (its state saved)."""
        result = await fetch(self.client, feed, state, max_bytes=self.max_bytes)
        now = self.clock()
        new_state = next_state(state, result, now, feed.interval)
        if result.status == "error":
            metrics.FETCH_ERRORS.labels(feed=feed.name).inc()
            log.warning(
                "feed %r failed: %s (retry after %s)",
                feed.name,
                result.error,
                new_state.retry_at.isoformat() if new_state.retry_at else "next interval",
            )
            await asyncio.to_thread(self.store.save_feed_state, feed.url, new_state)
            return FeedOutcome(feed, "error", error=result.error)
        if result.status == "not_modified":
            await asyncio.to_thread(self.store.save_feed_state, feed.url, new_state)
            return FeedOutcome(feed, "not_modified", outlet_floor=result.cache_floor)
        parsed = await parse(result.body, feed, content_type=result.content_type, fetched_at=now)
        if parsed.warning:
            log.warning("feed %r: %s", feed.name, parsed.warning)
        new_state = self._follow_move(feed, new_state, result, bool(parsed.items))
        backlog = state is None or state.polled_at is None
        if backlog and not parsed.items and parsed.warning:
            # A login wall or error page served with 200 is not the feed's first listing: had it
            # counted as the backlog, the real items of the next poll would all alert at once.
            new_state = replace(new_state, polled_at=None)
        return _Fetched(feed, parsed, result, new_state, backlog, now)

    async def ingest_push(
        self, feed: Feed, body: bytes, content_type: str | None = None
    ) -> FeedOutcome:
        """A feed document pushed by the feed's WebSub hub, through the same stages as a poll
        (parse, match, dedup, outbox), so an item pushed and later polled alerts once.

        The feed's poll state (validators, backoff) is left alone: a push says nothing about
        what a GET of the feed would answer. Before the feed's first poll, what is pushed is
        its backlog, as it would be for a poll.
        """
        now = self.clock()
        state = await asyncio.to_thread(self.store.feed_state, feed.url)
        async with self._gate:
            parsed = await parse(body, feed, content_type=content_type, fetched_at=now)
        if parsed.warning:
            log.warning("feed %r (pushed): %s", feed.name, parsed.warning)
        backlog = state is None or state.polled_at is None
        pushed = _Fetched(feed, parsed, None, None, backlog, now)
        (ingested,) = await asyncio.to_thread(self._ingest, [pushed])
        return pushed.outcome(ingested)

    @staticmethod
    def _follow_move(
        feed: Feed, state: FeedState, result: FetchResult, readable: bool
    ) -> FeedState:
        """Count a good poll through a permanent redirect; adopt the new address when confirmed."""
        if not readable:
            return replace(state, moved_to=None, moved_hits=0)
        moved = confirm_move(state, result.moved_to)
        if moved.url != state.url:
            log.info("feed %r moved permanently to %s (confirmed)", feed.name, moved.url)
        elif moved.moved_to:
            log.info(
                "feed %r redirects permanently to %s (%d good polls so far)",
                feed.name,
                moved.moved_to,
                moved.moved_hits,
            )
        return moved

    def _ingest(self, fetched: list[_Fetched]) -> list[IngestResult]:
        """Every item of `fetched` in one stream, then each feed's validators: a crash between
        them re-reads, never loses.

        Runs in a worker thread: asking for the matcher reads subscribers' terms from the store
        (and may rebuild their small index), which must not block the event loop.
        """
        matcher = self.matcher()
        now = max(f.now for f in fetched)
        batches = []
        for f in fetched:
            stale, fresh = split_stale(f.parsed.items, now, self.max_age)
            match = partial(_match, matcher, f.feed)
            batches += [Batch(stale, match, True), Batch(fresh, match, f.backlog)]
        stop = self._stopping.is_set
        parts = ingest_batches(self.store, batches, now=now, stop=stop)
        results = parts[0::2]  # each feed's stale items, then its fresh ones
        for result, fresh in zip(results, parts[1::2], strict=True):
            result.add(fresh)
        if stop():
            # Perhaps only part of the feeds was stored: keep their old state (validators,
            # first poll or not), so the next poll reads them again, as they were, and stores
            # the rest.
            for f, result in zip(fetched, results, strict=True):
                log.info(
                    "feed %r: stopped after %d new items; the rest next time",
                    f.feed.name,
                    result.new_items + result.backlog_items,
                )
            return results
        for f, result in zip(fetched, results, strict=True):
            self._done(f, result)
        return results

    def _done(self, fetched: _Fetched, result: IngestResult) -> None:
        """A feed's items are stored: its validators now, and its counts."""
        feed = fetched.feed
        if fetched.new_state is not None:
            self.store.save_feed_state(feed.url, fetched.new_state)
        for kind, n in (
            ("new", result.new_items),
            ("known", result.known_items),
            ("backlog", result.backlog_items),
        ):
            if n:
                metrics.ITEMS.labels(feed=feed.name, kind=kind).inc(n)
        if fetched.backlog and result.backlog_items:
            log.info(
                "feed %r first poll: %d items taken as seen (a new feed's backlog alerts no one)",
                feed.name,
                result.backlog_items,
            )


def _match(matcher: MatchesText, feed: Feed, item: Item) -> list[Match]:
    """An item's matches, counted per watchlist."""
    context = ItemContext(link=item.link, categories=item.categories, sport=feed.sport)
    found = matcher.match(item.title, item.summary, context)
    for m in found:
        name = "personal" if m.watchlist.startswith("watch:") else m.watchlist
        metrics.MATCHES.labels(watchlist=name).inc()
    return found


def _unexpected(feed: Feed, exc: Exception) -> FeedOutcome:
    """A fault nobody foresaw (a parser bug, a store outage): logged with its traceback and
    reported as this feed's error; the other feeds carry on."""
    log.error("feed %r: unexpected failure: %r", feed.name, exc, exc_info=exc)
    return FeedOutcome(feed, "error", error=f"unexpected {type(exc).__name__}: {exc}")


def split_stale(
    items: list[Item], now: datetime, max_age: timedelta | None
) -> tuple[list[Item], list[Item]]:
    """Items published more than `max_age` ago (None: no limit), and the rest.

    Stale items are recorded as seen but alert no one: an outlet that re-publishes an old
    article under a new address, or a feed back after days away, must not send old news.
    """
    if max_age is None:
        return [], items
    cutoff = now - max_age
    stale = [i for i in items if i.published is not None and i.published < cutoff]
    fresh = [i for i in items if i.published is None or i.published >= cutoff]
    return stale, fresh
