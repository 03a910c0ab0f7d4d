"""The scheduler: one job per feed on its own interval, first poll at once, skipped runs logged."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bot import metrics
from bot.models import Feed
from bot.scheduler import Scheduler, feed_job_id, jitter_for

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
