"""The long-running service: wires scheduler, pipeline, delivery, health and reload together.

Nothing here decides anything a stage module could: the Runner starts components, routes events
between them (a poll that produced alerts wakes the delivery), and stops them in order so that
SIGTERM loses nothing: in-flight polls finish, or stop between items with the items done so far
committed (each whole, with its alerts), and an alert is marked sent in the step that sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from contextlib import suppress
from typing import Any

from bot import metrics
from bot.config import Settings
from bot.console import ConsoleDelivery
from bot.health import parse_listen, serve
from bot.leasing import CLAIM_EVERY_S, FeedLeases
from bot.logs import redact
from bot.models import Feed
from bot.pipeline import FeedOutcome, utcnow
from bot.pushes import TICK_S, WebSub
from bot.registry import Registry
from bot.reload import Reloader, ReloadOutcome
from bot.scheduler import Scheduler
from bot.service import enable_console, make_fetch_client, make_pipeline
from bot.store import Store

log = logging.getLogger("newsbot.run")

STOP_GRACE_S = 7.0
FINISH_POLLS_S = 3.0  # of the grace, how long polls may run on before ingests stop between items
LEADER_CHECK_S = 5.0  # a follower takes over within this, well inside one poll interval
DELIVERY_TICK_S = 2.0
PRUNE_EVERY_S = 6 * 3600
GAUGES_EVERY_S = 15.0
TELEGRAM_RETRY_FIRST_S = 1.0
TELEGRAM_RETRY_MAX_S = 300.0
PUSHED_FLOOR_S = 86_400.0  # a pushed feed's polls: capped at its max_interval (bot/freshness.py)


class StartupError(Exception):
    """A configuration the service cannot run with; reported in one line, exit code 2."""


class Runner:
    """One replica of the service."""

    def __init__(
        self, settings: Settings, args: argparse.Namespace, store: Store, registry: Registry
    ) -> None:
        self.settings = settings
        self.args = args
        self.store = store
        self.registry = registry
        self.console = settings.console(args.console)
        self.client = make_fetch_client(settings)
        self.pipeline = make_pipeline(settings, store, self.client, registry)
        self.scheduler = Scheduler(self._poll)
        self.reloader = Reloader([registry.feeds_path, registry.watchlists_dir], self._reload)
        self.leader = False
        self.leader_checks = 0
        # PostgreSQL: every replica polls its share of the feeds by lease (bot/leasing.py);
        # SQLite: the leader alone polls, on one timer per feed (bot/scheduler.py).
        self.leases: FeedLeases | None = None
        if store.is_postgres:
            self.leases = FeedLeases(
                store,
                self._poll,
                self._next_wait,
                utcnow,
                concurrency=settings.newsbot_poll_concurrency,
            )
        self.telegram: Any = None
        self._console_delivery = ConsoleDelivery(store, utcnow, as_json=args.json)
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._http: asyncio.Server | None = None
        self._telegram_retry: asyncio.Task[None] | None = None
        self.websub = self._make_websub()

    def _make_websub(self) -> WebSub | None:
        """WebSub when NEWSBOT_WEBSUB_URL is set: its callbacks need the NEWSBOT_HTTP server."""
        url = self.settings.newsbot_websub_url
        if not url:
            return None
        if parse_listen(self.settings.newsbot_http) is None:
            log.warning("NEWSBOT_WEBSUB_URL is set but NEWSBOT_HTTP is off: WebSub disabled")
            return None
        return WebSub(
            url,
            self.store,
            self.client,
            self.pipeline,
            lambda: self.registry.feeds,
            self._deliver_now,
        )

    async def start(self) -> None:
        await asyncio.to_thread(enable_console, self.store, self.console)
        listen = parse_listen(self.settings.newsbot_http)
        if listen:
            routes = {self.websub.prefix: self.websub.handle} if self.websub else {}
            try:
                self._http = await serve(
                    *listen,
                    self.health,
                    routes=routes,
                    max_body=self.settings.newsbot_max_feed_bytes,
                )
            except OSError as exc:  # e.g. the port is taken: alerts matter more than probes
                log.error("cannot serve /healthz on %s:%d (%s); health endpoint off", *listen, exc)
                self.websub = None  # nobody could answer a hub: polling only
        self.scheduler.start()
        await self._check_leadership()
        self.scheduler.add_periodic(self._check_leadership, LEADER_CHECK_S, "leader")
        if self.websub is not None:
            self.scheduler.add_periodic(self._websub_tick, TICK_S, "websub")
        self.scheduler.add_periodic(self._prune, PRUNE_EVERY_S, "prune")
        self.scheduler.add_periodic(self._refresh_outbox_depth, GAUGES_EVERY_S, "gauges")
        if self.leases is not None:
            await self.leases.set_feeds(self.registry.feeds)
            self.scheduler.add_periodic(self.leases.tick, CLAIM_EVERY_S, "claim")
            log.info("feeds are shared by lease; this replica is %s", self.leases.owner)
        if self.console:
            self.scheduler.add_periodic(self._deliver_console, DELIVERY_TICK_S, "deliver")
        elif not await self._try_start_telegram():
            self._telegram_retry = asyncio.create_task(self._retry_telegram())
        await self.reloader.start()
        log.info(
            "newsbot running: %d feeds, delivery to %s",
            len(self.registry.feeds),
            "console" if self.console else "Telegram",
        )

    async def stop(self) -> None:
        """Stop taking work, end in-flight polls between items, then close everything.

        The polls (at most STOP_GRACE_S) and the Telegram side (at most its own 5 s) wind down
        side by side, so the whole stop stays within the 10 s the service promises.
        """
        await self.reloader.stop()
        self.scheduler.pause()
        await asyncio.gather(self._finish_polls(), self._stop_telegram(), self._stop_websub())
        if self.leases is not None:
            await self.leases.leave()
        self.scheduler.shutdown()
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
        await self.client.aclose()

    async def _finish_polls(self) -> None:
        """Let in-flight polls finish for FINISH_POLLS_S (a small feed's poll completes, its
        backlog recorded); then a big ingest is told to end at its next item (its worker
        thread cannot be cancelled); what still fetches at STOP_GRACE_S is cancelled."""
        if not self._in_flight:
            return
        _, pending = await asyncio.wait(self._in_flight, timeout=FINISH_POLLS_S)
        if pending:
            self.pipeline.stop()
            _, pending = await asyncio.wait(pending, timeout=STOP_GRACE_S - FINISH_POLLS_S)
        for task in pending:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)

    async def _stop_websub(self) -> None:
        if self.websub is not None:
            await self.websub.stop()

    async def _websub_tick(self) -> None:
        """Subscriptions are the leader's job; on PostgreSQL the other replicas, which poll
        their share of the feeds, still learn which feeds are pushed."""
        if self.websub is None:
            return
        self.websub.subscribes = self.leader
        if self.leader:
            await self.websub.tick()
        elif self.leases is not None:
            await self.websub.refresh()

    async def _stop_telegram(self) -> None:
        if self._telegram_retry is not None:
            self._telegram_retry.cancel()
            with suppress(asyncio.CancelledError):
                await self._telegram_retry
        if self.telegram is not None:
            await self.telegram.stop()

    async def _try_start_telegram(self) -> bool:
        """Start the Telegram side; False when Telegram cannot be reached right now.

        A refused token is a configuration error (StartupError); an outage is not: feeds are
        still polled and alerts wait in the outbox until Telegram answers.
        """
        from telegram.error import InvalidToken, TelegramError

        from bot.telegram.app import TelegramService, token_refused

        service = TelegramService(
            self.settings,
            self.store,
            self.registry,
            self.reload,
            poll_updates=bool(self.settings.newsbot_webhook_url) or self.leader,
        )
        try:
            await service.start()
        except InvalidToken as exc:
            raise StartupError(token_refused(exc)) from None
        except (TelegramError, OSError) as exc:
            log.warning("Telegram unreachable (%s); alerts wait in the outbox", exc)
            with suppress(Exception):
                await service.stop()
            return False
        self.telegram = service
        self._log_updates_role(first=True)
        await self._follow_leader_with_updates()  # the leadership may have moved meanwhile
        return True

    async def _follow_leader_with_updates(self) -> None:
        """Long polling is the leader's: Telegram gives a token's updates to one getUpdates
        caller and answers any other 409 Conflict. By webhook every replica serves them."""
        telegram = self.telegram
        if telegram is None or telegram.by_webhook or telegram.receiving == self.leader:
            return
        from telegram.error import TelegramError

        try:
            await telegram.receive_updates(self.leader)
        except (TelegramError, OSError) as exc:  # tried again at the next leader check
            log.warning("cannot start receiving Telegram updates now (%s); retrying", exc)
            return
        self._log_updates_role()

    def _log_updates_role(self, *, first: bool = False) -> None:
        """Say which replica receives Telegram's updates (an operator looks for it)."""
        telegram = self.telegram
        if telegram is None or telegram.by_webhook:
            return
        if telegram.receiving:
            log.info("this replica receives the Telegram updates (long polling, as the leader)")
        elif first or not self.leader:
            holder = self.store.leader_holder() or "the leader replica"
            log.info(
                "Telegram updates are received by %s (long polling is the leader's); this "
                "replica delivers alerts and takes the updates over when it leads",
                holder,
            )

    async def _retry_telegram(self) -> None:
        """Try again with exponential backoff until Telegram answers (or the token is refused)."""
        delay = TELEGRAM_RETRY_FIRST_S
        while True:
            log.info("retrying Telegram in %.0f s", delay)
            await asyncio.sleep(delay)
            try:
                if await self._try_start_telegram():
                    return
            except StartupError as exc:
                log.error("%s", exc)
                return
            delay = min(delay * 2, TELEGRAM_RETRY_MAX_S)

    async def reload(self) -> ReloadOutcome:
        """Forced reload (the admin's /reload)."""
        return await self.reloader.trigger("admin")

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the scheduler runs, the store answers and its last write succeeded.

        A store that still answers reads but refuses writes (a locked or full SQLite file, a
        read-only replica) loses alerts' records: that is unhealthy, with the error (redacted).
        """
        details: dict[str, Any] = {"scheduler": self.scheduler.running, "leader": self.leader}
        if self.telegram is not None:
            details["updates"] = (
                "webhook"
                if self.telegram.by_webhook
                else "long polling"
                if self.telegram.receiving
                else "off"
            )
        try:
            depth = await asyncio.to_thread(self.store.outbox_depth)
            if self.leases is not None:
                details["replica"] = self.leases.owner
                details["feeds_leased"] = await self.leases.leased()
            states = await asyncio.to_thread(self.store.feed_states)
            store_ok = True
        except Exception as exc:  # the probe must say 503, whatever broke
            log.warning("health check: store unavailable: %s", exc)
            depth, states, store_ok = None, {}, False
        failure = self.store.write_failure
        if failure is not None:
            store_ok = False
            details["store_error"] = redact(failure.error)
            details["store_error_at"] = failure.at.isoformat()
        details["store"] = store_ok
        details["outbox_depth"] = depth
        details["feeds"] = {
            feed.name: {
                "last_poll": st.polled_at.isoformat()
                if (st := states.get(feed.url)) and st.polled_at
                else None,
                "failures": st.failures if st else 0,
                "last_error": st.last_error if st else None,
            }
            for feed in self.registry.feeds
        }
        if depth is not None:
            metrics.OUTBOX_DEPTH.set(depth)
        return self.scheduler.running and store_ok, details

    async def _poll(self, feed: Feed) -> FeedOutcome | None:
        if not self.leader and self.leases is None:
            return None
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        started = time.perf_counter()
        try:
            outcome = await self.pipeline.poll_feed(feed)
        finally:
            if task is not None:
                self._in_flight.discard(task)
        # A failed poll already logged its one warning line; a skipped one (backoff) is routine.
        level = logging.INFO if outcome.status in ("ok", "not_modified") else logging.DEBUG
        fields = poll_fields(outcome, time.perf_counter() - started)
        if self.leases is not None:
            fields["replica"] = self.leases.owner
        log.log(level, "poll", extra=fields)
        if self.websub is not None:
            await self._websub_after_poll(outcome)
        if outcome.ingest and (outcome.ingest.alerts or outcome.ingest.updates):
            await self._deliver_now()
        return outcome

    async def _websub_after_poll(self, outcome: FeedOutcome) -> None:
        """Note the hub the feed advertises; while it pushes, the poll is only the safety net
        and an adaptive feed waits its `max_interval` (the outlet "asks" for that floor)."""
        assert self.websub is not None
        # A page without items (a login wall served with 200) says nothing about the hub.
        if outcome.status == "ok" and (outcome.hub is not None or outcome.items):
            await self.websub.discovered(outcome.feed, outcome.hub)
        if self.websub.active(outcome.feed.url):
            outcome.outlet_floor = max(outcome.outlet_floor or 0.0, PUSHED_FLOOR_S)

    async def _deliver_now(self) -> None:
        if self.console:
            await self._deliver_console()
        elif self.telegram is not None:
            self.telegram.wake()

    async def _deliver_console(self) -> None:
        """Print what is due; a stop waits for it (a thread cannot be cancelled mid-print)."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await asyncio.to_thread(self._console_delivery.deliver_pending)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _next_wait(self, feed: Feed, outcome: object) -> float:
        """Seconds until a leased feed's next poll: adaptive feeds follow their news."""
        if feed.adaptive and isinstance(outcome, FeedOutcome):
            return self.scheduler.retime(feed, outcome.published, outcome.outlet_floor)
        return float(feed.interval)

    async def _refresh_outbox_depth(self) -> None:
        """Keep the gauges current even when nothing scrapes /healthz."""
        metrics.OUTBOX_DEPTH.set(await asyncio.to_thread(self.store.outbox_depth))
        if self.leases is not None:
            await self.leases.leased()

    async def _reload(self) -> ReloadOutcome:
        before_feeds = {f.name for f in self.registry.feeds}
        before_lists = {w.name for w in self.registry.watchlists}
        # Valid files apply even when others are refused (those keep their last good version).
        outcome = await asyncio.to_thread(self.registry.load)
        for name in before_feeds - {f.name for f in self.registry.feeds}:
            metrics.forget_feed(name)
        for name in before_lists - {w.name for w in self.registry.watchlists}:
            metrics.forget_watchlist(name)
        if self.leases is not None:
            await self.leases.set_feeds(self.registry.feeds)
        elif self.leader:
            self.scheduler.set_feeds(self.registry.feeds)
        return outcome

    async def _check_leadership(self) -> None:
        """SQLite: one process polls; another takes over when its lock is released (it died).

        PostgreSQL: the replicas share the polling by lease; the leader lock is still taken
        (and shown in /healthz and newsbot_leader) for duties that need one owner."""
        leader = await asyncio.to_thread(self.store.try_leader)
        if self.leases is not None:
            if leader != self.leader:
                log.info("leader lock %s", "taken" if leader else "lost")
        elif leader and not self.leader:
            log.info("this replica is the poll leader")
            self.scheduler.set_feeds(self.registry.feeds)
        elif self.leader and not leader:
            log.warning("lost the poll leadership")
            self.scheduler.set_feeds([])
        elif not leader and self.leader_checks == 0:
            holder = self.store.leader_holder() or "another replica"
            log.warning(
                "not the poll leader: %s polls the feeds; this one does not poll (it delivers "
                "alerts%s) and takes over when that one stops",
                holder,
                " and answers the webhook" if self.settings.newsbot_webhook_url else "",
            )
        self.leader = leader
        self.leader_checks += 1
        if self.websub is not None:
            self.websub.subscribes = leader
        metrics.LEADER.set(1 if leader else 0)
        await self._follow_leader_with_updates()

    async def _prune(self) -> None:
        removed = await asyncio.to_thread(self.store.prune, utcnow())
        if removed:
            log.info("pruned %d old rows", removed)


def poll_fields(outcome: FeedOutcome, seconds: float) -> dict[str, object]:
    """The structured fields of one feed poll's log line."""
    fields: dict[str, object] = {
        "feed": outcome.feed.name,
        "status": outcome.status,
        "items": outcome.items,
        "ms": round(seconds * 1000),
    }
    if outcome.ingest:
        fields.update(
            new=outcome.ingest.new_items,
            backlog=outcome.ingest.backlog_items,
            alerts=outcome.ingest.alerts,
            updates=outcome.ingest.updates,
        )
    if outcome.error:
        fields["error"] = outcome.error
    return fields
