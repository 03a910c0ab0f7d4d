"""The scheduler: one job per feed on its own interval, first poll at once, skipped runs logged;
and shared polling by lease (bot/leasing.py), driven here with a virtual clock."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bot import metrics
from bot.leasing import FeedLeases
from bot.models import Feed
from bot.scheduler import Scheduler, feed_job_id, jitter_for
from bot.store import Store

TMW = Feed("Tuttomercatoweb", "https://www.tuttomercatoweb.com/rss/", interval=10)
GAZZETTA = Feed("Gazzetta", "https://www.gazzetta.it/rss/home.xml", interval=300)


async def test_every_feed_polls_at_once_then_on_its_interval() -> None:
    polled: list[str] = []
    both = asyncio.Event()

    async def poll(feed: Feed) -> None:
        polled.append(feed.name)
        if len(polled) == 2:
            both.set()

    scheduler = Scheduler(poll)
    scheduler.start()
    try:
        scheduler.set_feeds([TMW, GAZZETTA])
        await asyncio.wait_for(both.wait(), 5)
        assert sorted(polled) == ["Gazzetta", "Tuttomercatoweb"]
        for feed in (TMW, GAZZETTA):
            job = scheduler.aps.get_job(feed_job_id(feed))
            assert isinstance(job.trigger, IntervalTrigger)
            assert job.trigger.interval.total_seconds() == feed.interval
            assert job.trigger.jitter == jitter_for(feed.interval) <= feed.interval / 10
            assert job.coalesce and job.max_instances == 1
            assert job.misfire_grace_time == feed.interval
    finally:
        scheduler.shutdown()


async def test_feeds_file_changes_add_remove_and_retime_jobs() -> None:
    async def poll(feed: Feed) -> None:
        return None

    scheduler = Scheduler(poll)
    scheduler.start()
    try:
        later = datetime(2099, 1, 1, tzinfo=UTC)
        scheduler.set_feeds([TMW, GAZZETTA], now=later)
        faster = Feed(GAZZETTA.name, GAZZETTA.url, interval=60)
        scheduler.set_feeds([faster], now=later)
        assert scheduler.aps.get_job(feed_job_id(TMW)) is None
        job = scheduler.aps.get_job(feed_job_id(faster))
        assert job.trigger.interval.total_seconds() == 60
    finally:
        scheduler.shutdown()


async def test_a_run_skipped_because_the_last_is_still_running_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow_poll(feed: Feed) -> None:
        started.set()
        await release.wait()

    scheduler = Scheduler(slow_poll)
    scheduler.start()
    before = metrics.SKIPPED_RUNS.labels(job=feed_job_id(TMW))._value.get()
    try:
        with caplog.at_level(logging.WARNING, logger="newsbot.scheduler"):
            scheduler.set_feeds([TMW])
            await asyncio.wait_for(started.wait(), 5)
            scheduler.aps.get_job(feed_job_id(TMW)).modify(next_run_time=datetime.now(UTC))
            for _ in range(100):
                if "skipped a run" in caplog.text:
                    break
                await asyncio.sleep(0.02)
        assert f"job {feed_job_id(TMW)} skipped a run (still running)" in caplog.text
        after = metrics.SKIPPED_RUNS.labels(job=feed_job_id(TMW))._value.get()
        assert after == before + 1
    finally:
        release.set()
        scheduler.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_leased_feeds_are_polled_once_per_interval_and_freed_when_a_replica_leaves(
    store: Store,
) -> None:
    clock = Clock()
    polled: list[tuple[str, str]] = []
    slow_done = asyncio.Event()

    def replica(name: str) -> FeedLeases:
        async def poll(feed: Feed) -> None:
            polled.append((name, feed.name))
            if feed is GAZZETTA and name == "a":
                await slow_done.wait()  # an outlet that takes its time to answer

        return FeedLeases(
            store, poll, lambda feed, _: float(feed.interval), clock, concurrency=4, owner=name
        )

    a, b = replica("a"), replica("b")
    try:
        await a.set_feeds([TMW, GAZZETTA])
        await b.set_feeds([TMW, GAZZETTA])
        first = await a.tick()
        await asyncio.wait(first, timeout=5, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.sleep(0.05)  # TMW polled and booked; Gazzetta still fetching
        assert sorted(polled) == [("a", "Gazzetta"), ("a", "Tuttomercatoweb")]
        clock.advance(5)
        assert await b.tick() == [], "TMW is not due yet, Gazzetta is leased to a"
        clock.advance(4)
        assert await a.tick() == []  # nothing due; a renews its lease on the slow poll
        clock.advance(2)  # TMW is due; Gazzetta's first lease (10 s) would have run out
        await asyncio.gather(*await b.tick())
        assert polled[2:] == [("b", "Tuttomercatoweb")], "b polls TMW; a's renewed lease holds"
        await a.leave()  # a stops mid-poll: its lease is freed at once
        await asyncio.gather(*await b.tick())
        assert polled[3:] == [("b", "Gazzetta")]
        assert store.feeds_leased("b", [TMW.url, GAZZETTA.url]) == 2
    finally:
        slow_done.set()


async def test_a_store_outage_stops_claims_with_one_warning_and_they_resume(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import OperationalError

    clock = Clock()
    polled: list[str] = []

    async def poll(feed: Feed) -> None:
        polled.append(feed.name)

    leases = FeedLeases(store, poll, lambda f, _: 10.0, clock, concurrency=4, owner="a")

    def down(*args: object, **kw: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(store, "plan_feeds", down)
    monkeypatch.setattr(store, "claim_feeds", down)
    with caplog.at_level(logging.WARNING, logger="newsbot.leasing"):
        await leases.set_feeds([TMW])  # a reload while the database is down
        for _ in range(3):
            assert await leases.tick() == []
    warnings = [r for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(warnings) == 1, "one warning per outage, not one a second"
    monkeypatch.undo()
    await asyncio.gather(*await leases.tick())
    assert polled == ["Tuttomercatoweb"], "the store answers: planned, polled"


async def test_a_replica_whose_feeds_file_is_ahead_gets_back_the_rows_another_deleted(
    store: Store,
) -> None:
    clock = Clock()
    polled: list[str] = []

    async def poll(feed: Feed) -> None:
        polled.append(feed.name)

    a, b = (
        FeedLeases(store, poll, lambda f, _: 600.0, clock, concurrency=4, owner=name)
        for name in ("a", "b")
    )
    await a.set_feeds([TMW, GAZZETTA])  # a has loaded the feeds file with Gazzetta added
    await b.set_feeds([TMW])  # b restarts with the old one: Gazzetta's row is deleted
    assert set(store.feed_lease_rows()) == {TMW.url}
    await asyncio.gather(*await a.tick())
    assert polled == ["Tuttomercatoweb"]
    clock.advance(60)  # a checks its feeds' rows once a minute
    await asyncio.gather(*await a.tick())
    assert polled == ["Tuttomercatoweb", "Gazzetta"]
