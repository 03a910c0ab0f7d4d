"""APScheduler wiring for `run`: one job per feed, a delivery job, a daily prune.

APScheduler's defaults silently skip runs (max_instances=1 with a 1 s misfire grace), so every
option is set on purpose here and every skipped or missed run is logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import metrics
from bot.freshness import Bounds, merge_times, next_interval
from bot.models import Feed

log = logging.getLogger("newsbot.scheduler")

PollJob = Callable[[Feed], Awaitable[object]]


def feed_job_id(feed: Feed) -> str:
    return f"feed:{feed.url}"


def jitter_for(interval: int) -> int:
    """Spread polls of feeds sharing an interval, without ever delaying one by more than 10%."""
    return max(1, min(30, interval // 10))


class Scheduler:
    """Keeps one interval job per feed in step with the current feeds file."""

    def __init__(self, poll: PollJob) -> None:
        self.poll = poll
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )
        self.aps.add_listener(
            self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
        )
        self._feeds: dict[str, Feed] = {}
        self._published: dict[str, list[datetime]] = {}  # feed url -> recent publishing times

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    def start(self) -> None:
        self.aps.start()

    def pause(self) -> None:
        """Start no more runs; the ones in progress go on (shutdown() would cancel them)."""
        if self.aps.running:
            self.aps.pause()

    def shutdown(self) -> None:
        """Stop for good. APScheduler's asyncio executor cancels runs still in progress, so
        callers that want them to finish pause() first and wait for them."""
        if self.aps.running:
            self.aps.shutdown(wait=False)

    def set_feeds(self, feeds: Sequence[Feed], now: datetime | None = None) -> None:
        """Add new feeds (first poll right away), drop removed ones, retime changed intervals."""
        wanted = {feed_job_id(f): f for f in feeds}
        for job_id in set(self._feeds) - set(wanted):
            self.aps.remove_job(job_id)
        for job_id, feed in wanted.items():
            old = self._feeds.get(job_id)
            if old == feed:
                continue
            if old is not None:
                self.aps.remove_job(job_id)
            self.aps.add_job(
                self._poll_and_retime,
                IntervalTrigger(seconds=feed.interval, jitter=jitter_for(feed.interval)),
                args=[feed],
                id=job_id,
                name=f"poll {feed.name}",
                next_run_time=now or datetime.now(UTC),
                misfire_grace_time=feed.interval,
            )
        self._feeds = dict(wanted)
        for url in set(self._published) - {f.url for f in feeds}:
            del self._published[url]

    async def _poll_and_retime(self, feed: Feed) -> object:
        """Poll, then (adaptive feeds) set the next poll from the feed's publishing rhythm."""
        outcome = await self.poll(feed)
        if feed.adaptive and outcome is not None and self._feeds.get(feed_job_id(feed)) == feed:
            self.retime(
                feed,
                getattr(outcome, "published", ()),
                getattr(outcome, "outlet_floor", None),
            )
        return outcome

    def retime(
        self,
        feed: Feed,
        published: Sequence[datetime],
        outlet_floor: float | None,
        now: datetime | None = None,
    ) -> float:
        """Record when the feed's items were published; move its next poll accordingly.

        Returns the wait in seconds (also exported as newsbot_feed_interval_seconds)."""
        now = now or datetime.now(UTC)
        history = merge_times(self._published.get(feed.url, ()), published, now)
        self._published[feed.url] = history
        bounds = Bounds(feed.interval, feed.min_interval or 30, feed.max_interval or 900)
        wait = next_interval(history, now, bounds, outlet_floor=outlet_floor)
        metrics.FEED_INTERVAL.labels(feed=feed.name).set(wait)
        job = self.aps.get_job(feed_job_id(feed))
        if job is not None:
            job.modify(next_run_time=now + timedelta(seconds=wait))
        return wait

    def add_periodic(
        self, func: Callable[[], Awaitable[object]], seconds: float, job_id: str
    ) -> None:
        self.aps.add_job(
            func,
            IntervalTrigger(seconds=seconds),
            id=job_id,
            name=job_id,
            next_run_time=datetime.now(UTC),
            replace_existing=True,
        )

    def _on_event(self, event: JobEvent) -> None:
        job = event.job_id
        if event.code == EVENT_JOB_ERROR:
            exc = getattr(event, "exception", None)
            if isinstance(exc, asyncio.CancelledError):
                log.debug("job %s cancelled at shutdown", job)
            else:
                log.error("job %s crashed: %r", job, exc)
            return
        reason = "missed" if event.code == EVENT_JOB_MISSED else "still running"
        metrics.SKIPPED_RUNS.labels(job=job).inc()
        log.warning("job %s skipped a run (%s)", job, reason)
