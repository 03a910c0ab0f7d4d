"""Shared polling for replicas on PostgreSQL: each tick, lease a fair share of the due feeds,
poll them, book their next poll.

Why a loop of claims instead of one timer per feed: several replicas hold the same feeds file,
and which one polls a feed is decided in the database at the moment it is due (the SQL is in
`bot/store/leases.py`, with the guarantees). This module is the wiring: when to claim, how
many, keeping the leases of slow polls alive, and when each feed is due next (its interval, or
the adaptive wait that `Scheduler.retime` computes from what the poll saw).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from bot import metrics
from bot.models import Feed
from bot.store import Store

log = logging.getLogger("newsbot.leasing")

CLAIM_EVERY_S = 1.0  # a due feed waits at most this long for a replica to claim it
LEASE_MAX_S = 30.0  # a lease runs for the shortest interval, at most this; renewed while polling
BOOKING_GRACE_S = 1.0  # at a stop, how long finished polls may take to book their next poll
KEEP_ROWS_EVERY = timedelta(minutes=1)  # how often a replica checks its feeds all have a row

PollFeed = Callable[[Feed], Awaitable[object]]
NextWait = Callable[[Feed, object], float]


def replica_name() -> str:
    """This replica in leases and logs: host and pid (which process polls what), plus a few
    random characters so a restarted container reusing both is still someone else."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class FeedLeases:
    """One replica's part in shared polling."""

    def __init__(
        self,
        store: Store,
        poll: PollFeed,
        next_wait: NextWait,
        clock: Callable[[], datetime],
        *,
        concurrency: int,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.poll = poll
        self.next_wait = next_wait
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.owner = owner or replica_name()
        self._feeds: dict[str, Feed] = {}
        self._polling: dict[str, asyncio.Task[None]] = {}
        self._planned = False  # the feeds' rows are in the store (else: at the next tick)
        self._rows_checked: datetime | None = None  # when `keep_feed_rows` last ran
        self._failing = False  # the store failed at the last tick (one warning per outage)

    @property
    def lease_for(self) -> float:
        """A dead replica's feeds must be taken over within one interval of each."""
        shortest = min((f.interval for f in self._feeds.values()), default=LEASE_MAX_S)
        return min(float(shortest), LEASE_MAX_S)

    async def set_feeds(self, feeds: Sequence[Feed]) -> None:
        """Poll these feeds from now on (the feeds file was loaded or reloaded)."""
        self._feeds = {f.url: f for f in feeds}
        self._planned = False
        try:
            await self._plan()
        except Exception as exc:  # the store is down: the next tick plans them
            log.warning("feed leases: cannot plan the feeds now (%s); retrying", exc)

    async def _plan(self) -> None:
        longest = {f.url: float(f.max_interval or f.interval) for f in self._feeds.values()}
        now = self.clock()
        gone = await asyncio.to_thread(self.store.plan_feeds, longest, now)
        if gone:
            log.info("feed leases: forgot %d feed(s) no longer in the feeds file", gone)
        self._planned = True
        self._rows_checked = now

    async def tick(self) -> list[asyncio.Task[None]]:
        """Renew the leases of running polls, claim due feeds up to free poll slots, start
        polling them. Returns the polls started (tests wait for them).

        A store outage is one warning, not an error a second: nothing is claimed meanwhile,
        and polls already running finish and book (or their leases run out)."""
        try:
            started = await self._tick()
        except Exception as exc:
            if not self._failing:
                log.warning("feed leases: store unavailable (%s); no claims until it answers", exc)
            self._failing = True
            return []
        if self._failing:
            log.info("feed leases: store answers again; claiming")
            self._failing = False
        return started

    async def _tick(self) -> list[asyncio.Task[None]]:
        if not self._planned:
            await self._plan()
        now = self.clock()
        if self._rows_checked is None or now - self._rows_checked >= KEEP_ROWS_EVERY:
            # Another replica, planning with an older feeds file, may have deleted the rows
            # of feeds only this one's file has: without a row a feed is never claimed.
            await asyncio.to_thread(self.store.keep_feed_rows, [*self._feeds], now)
            self._rows_checked = now
        if self._polling:
            until = now + timedelta(seconds=self.lease_for)
            running = [*self._polling]
            await asyncio.to_thread(self.store.renew_feed_leases, self.owner, running, until)
        urls = [u for u in self._feeds if u not in self._polling]
        claimed = await asyncio.to_thread(
            self.store.claim_feeds,
            self.owner,
            urls,
            now,
            lease_for=self.lease_for,
            limit=self.concurrency - len(self._polling),
        )
        started = []
        for url in claimed:
            feed = self._feeds.get(url)
            if feed is None:  # a reload removed it meanwhile: its lease simply runs out
                continue
            task = asyncio.create_task(self._poll_and_book(feed), name=f"poll {feed.name}")
            self._polling[url] = task
            started.append(task)
        if claimed:
            log.debug("%s claimed %s", self.owner, ", ".join(self._name(u) for u in claimed))
        return started

    async def _poll_and_book(self, feed: Feed) -> None:
        try:
            outcome = await self.poll(feed)
            wait = self.next_wait(feed, outcome)
            booked = self.clock() + timedelta(seconds=wait)
            kept = await asyncio.to_thread(
                self.store.finish_feed_lease, self.owner, feed.url, booked
            )
            if not kept:
                log.warning(
                    "feed %r: the lease ran out during the poll; another replica has it", feed.name
                )
        except asyncio.CancelledError:
            raise  # a stop: the lease is freed by leave(), the feed stays due for the others
        except Exception:
            log.exception("feed %r: booking its next poll failed; its lease runs out", feed.name)
        finally:
            self._polling.pop(feed.url, None)

    async def leased(self) -> int:
        """The feeds this replica polls now or polled last (its share); sets the gauge."""
        count = await asyncio.to_thread(self.store.feeds_leased, self.owner, [*self._feeds])
        metrics.FEEDS_LEASED.set(count)
        return count

    async def leave(self) -> None:
        """Stop taking part: free this replica's leases so the others take its feeds at once."""
        running = list(self._polling.values())
        if running:  # the runner already let the polls finish: what is left is booking
            _, pending = await asyncio.wait(running, timeout=BOOKING_GRACE_S)
            for task in pending:
                task.cancel()
            with suppress(asyncio.CancelledError):
                await asyncio.gather(*pending, return_exceptions=True)
        try:
            await asyncio.to_thread(self.store.leave_polling, self.owner, self.clock())
        except Exception:
            log.warning("could not free this replica's feed leases; they run out", exc_info=True)
        metrics.FEEDS_LEASED.set(0)

    def _name(self, url: str) -> str:
        feed = self._feeds.get(url)
        return feed.name if feed else url
