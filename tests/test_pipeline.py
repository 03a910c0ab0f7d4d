"""One poll of one feed through every stage: bounds, 304s that cost no parsing, backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedserver import FeedServer, rss

from bot import pipeline as pipeline_module
from bot.fetch import make_client
from bot.match import Matcher
from bot.models import Feed, Term, Watchlist
from bot.pipeline import Pipeline
from bot.registry import CombinedMatcher
from bot.store import Store

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Milan, vittoria</title>'
    b"<link>https://tmw.example/1</link></item></channel></rss>"
)
MATCHER = CombinedMatcher((Matcher([Watchlist("milan", (Term("Milan"),))]),))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


async def test_polls_stay_under_the_bound_even_from_independent_jobs(
    store: Store, feed_server: FeedServer
) -> None:
    feeds = []
    for i in range(12):
        feed_server.set(f"/f{i}.xml", RSS, delay=0.1)
        feeds.append(Feed(f"F{i}", feed_server.url(f"/f{i}.xml")))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER, concurrency=3)
        # As the scheduler does it: one independent job per feed, all due at once.
        outcomes = await asyncio.gather(*(pipe.poll_feed(f) for f in feeds))
    assert [o.status for o in outcomes] == ["ok"] * 12
    assert feed_server.max_in_flight == 3


async def test_not_modified_costs_no_parsing(
    store: Store, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.set("/tmw.xml", RSS, etag='"v1"')
    feed = Feed("TMW", feed_server.url("/tmw.xml"))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER)
        first = await pipe.poll_feed(feed)
        assert (first.status, first.items) == ("ok", 1)

        async def no_parsing(*args: object, **kwargs: object) -> None:
            raise AssertionError("a 304 must not be parsed")

        monkeypatch.setattr(pipeline_module, "parse", no_parsing)
        second = await pipe.poll_feed(feed)
    assert second.status == "not_modified"
    assert feed_server.requests("/tmw.xml")[-1]["if-none-match"] == '"v1"'


async def test_a_failing_feed_backs_off_and_poll_once_can_ignore_it(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.set("/down.xml", b"down", status=503)
    feed = Feed("Down", feed_server.url("/down.xml"), interval=60)
    now = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER, clock=lambda: now)
        failed = await pipe.poll_feed(feed)
        assert failed.status == "error" and "503" in str(failed.error)
        assert (await pipe.poll_feed(feed)).status == "skipped"  # in backoff
        forced = await pipe.poll_feed(feed, respect_backoff=False)
    assert forced.status == "error"
    state = store.feed_state(feed.url)
    assert state is not None and state.failures == 2 and state.retry_at is not None
    assert state.retry_at > now


async def test_an_unforeseen_failure_costs_only_its_own_feed(
    store: Store, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_server.set("/good.xml", RSS)
    feed_server.set("/bad.xml", RSS.replace(b"Milan", b"BOOM"))
    real_parse = pipeline_module.parse

    async def flaky_parse(body: bytes, feed: Feed, **kw: object) -> object:
        if b"BOOM" in body:
            raise RuntimeError("parser bug")
        return await real_parse(body, feed, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "parse", flaky_parse)
    feeds = [Feed("Bad", feed_server.url("/bad.xml")), Feed("Good", feed_server.url("/good.xml"))]
    async with make_client() as client:
        report = await Pipeline(store, client, lambda: MATCHER).poll_all(feeds)
    bad, good = report.outcomes
    assert (bad.status, bad.error) == ("error", "unexpected RuntimeError: parser bug")
    assert (good.status, good.items) == ("ok", 1)


async def test_a_page_that_is_not_a_feed_does_not_count_as_the_backlog(
    store: Store, feed_server: FeedServer
) -> None:
    """A first poll that gets a login wall (HTML, 200) must not let the real feed flood later."""
    feed_server.set(
        "/wall",
        b"<html><body>Accetta i cookie</body></html>",
        headers={"Content-Type": "text/html"},
    )
    feed = Feed("Outlet", feed_server.url("/wall"))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER)
        wall = await pipe.poll_feed(feed)
        assert wall.status == "ok" and wall.items == 0 and "not an RSS" in str(wall.warning)
        feed_server.set("/wall", RSS)
        first_real = await pipe.poll_feed(feed)
    assert first_real.ingest is not None
    assert (first_real.ingest.backlog_items, first_real.ingest.alerts) == (1, 0)


async def test_old_news_newly_listed_alerts_no_one(store: Store, feed_server: FeedServer) -> None:
    """An item first seen days after it was published (a re-post under a new address, a feed
    back after days away) is recorded, not alerted; a fresh one beside it alerts."""
    now = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    fan = store.subscriber("42")
    assert fan is not None
    store.subscribe(fan.id, "list", "milan")

    def rss_item(slug: str, published: str) -> bytes:
        return (
            f"<item><title>Milan, notizia {slug}</title><link>https://tmw.example/{slug}</link>"
            f"<pubDate>{published}</pubDate></item>"
        ).encode()

    head, tail = b'<?xml version="1.0"?><rss version="2.0"><channel>', b"</channel></rss>"
    feed_server.set("/tmw.xml", head + tail)
    feed = Feed("TMW", feed_server.url("/tmw.xml"))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER, clock=lambda: now)
        await pipe.poll_feed(feed)  # the (empty) backlog
        feed_server.set(
            "/tmw.xml",
            head
            + rss_item("vecchia", "Mon, 02 Mar 2026 10:00:00 +0100")
            + rss_item("fresca", "Fri, 06 Mar 2026 07:30:00 +0100")
            + tail,
        )
        outcome = await pipe.poll_feed(feed)
    assert outcome.ingest is not None
    assert (outcome.ingest.backlog_items, outcome.ingest.new_items) == (1, 1)
    (alert,) = store.pending_alerts(now)
    assert alert.title == "Milan, notizia fresca"


INTER_WIN = "Tue, 25 Nov 2025 22:50:00 +0100"
INTER_WIN_LATER = "Tue, 25 Nov 2025 23:20:00 +0100"


async def _cycle_alerts(
    store: Store, feed_server: FeedServer, slow: str, now: datetime
) -> list[tuple[str, str, tuple[str, ...]]]:
    """One `poll --once` cycle over two outlets' reports of one match, the `slow` outlet's
    answer arriving last; the alerts it owes (title shown, outlet, "anche su")."""
    fan = store.subscriber("7")
    assert fan is not None
    store.subscribe(fan.id, "list", "inter")
    head, tail = b'<?xml version="1.0"?><rss version="2.0"><channel>', b"</channel></rss>"
    feeds = [Feed("CdS", feed_server.url("/cds.xml")), Feed("TMW", feed_server.url("/tmw.xml"))]
    matcher = CombinedMatcher((Matcher([Watchlist("inter", (Term("Inter"),))]),))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: matcher, clock=lambda: now)
        for path in ("/cds.xml", "/tmw.xml"):
            feed_server.set(path, head + tail)
        await pipe.poll_all(feeds)  # the (empty) backlogs
        feed_server.set(
            "/cds.xml",
            rss(("Champions, l'Inter batte l'Atletico 2-1", "https://cds.example/1", INTER_WIN)),
            delay=0.3 if slow == "CdS" else 0.0,
        )
        feed_server.set(
            "/tmw.xml",
            rss(("Inter-Atletico 2-1, Chivu vince", "https://tmw.example/1", INTER_WIN_LATER)),
            delay=0.3 if slow == "TMW" else 0.0,
        )
        await pipe.poll_all(feeds)
    return [(a.title, a.source, tuple(a.also)) for a in store.pending_alerts(now)]


async def test_a_cycles_stories_do_not_depend_on_which_fetch_ends_first(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Within one cycle the items of every feed are taken in publication order, whichever
    outlet answered first: the earlier report starts the story and is the one alerted."""
    now = datetime(2025, 11, 25, 23, 30, tzinfo=UTC)
    seen = []
    for slow in ("CdS", "TMW"):
        store = Store.open(f"sqlite:///{tmp_path / f'{slow}.db'}")
        try:
            seen.append(await _cycle_alerts(store, feed_server, slow, now))
        finally:
            store.close()
    assert seen[0] == seen[1] == [("Champions, l'Inter batte l'Atletico 2-1", "CdS", ("TMW",))]
