"""WebSub at work: subscribing at feeds' hubs, answering their callbacks, taking their pushes.

Enabled by NEWSBOT_WEBSUB_URL, the public address (behind your HTTPS reverse proxy) of the
NEWSBOT_HTTP server's path for callbacks. The rules are in `bot/websub.py`, the rows in
`bot/store/websub.py`; this module does the talking:

- after a poll, `discovered` records the hub the feed advertises (a new one is asked at once);
- `tick` (every minute, on the replica holding the leader lock: on PostgreSQL every replica polls
  its share of the feeds and records the hubs it finds, one asks them) subscribes, renews before
  the lease ends, retries after failures, and unsubscribes feeds that left the feeds file;
- `handle` answers the callback URL on any replica: the hub's verification GET, and pushes
  (POST), whose signature is checked before a 202; the pushed document then goes through
  `Pipeline.ingest_push`, the same stages as a poll, in the background (a hub wants a fast
  answer; if the process dies meanwhile, the next poll brings the same items).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import httpx

from bot import metrics
from bot.health import Request, Response
from bot.models import Feed
from bot.pipeline import Clock, FeedOutcome, Pipeline, utcnow
from bot.store import Store
from bot.websub import (
    Discovery,
    Subscription,
    callback_path,
    check_signature,
    next_action,
    request_form,
    safe_error,
    secure_hub,
    verify_intent,
)

log = logging.getLogger("newsbot.websub")

TICK_S = 60.0
STOP_WAIT_S = 3.0


class WebSub:
    """One replica's side of WebSub; `tick` only on the one holding the leader lock, `refresh`
    on the others."""

    def __init__(
        self,
        base_url: str,
        store: Store,
        client: httpx.AsyncClient,
        pipeline: Pipeline,
        feeds: Callable[[], Sequence[Feed]],
        on_alerts: Callable[[], Awaitable[None]],
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.base_url = base_url
        self.prefix = callback_path(base_url) + "/"
        self.store = store
        self.client = client
        self.pipeline = pipeline
        self.feeds = feeds
        self.on_alerts = on_alerts
        self.clock = clock
        self._active: set[str] = set()  # feed urls with a subscription in force (last tick)
        self._known: dict[str, Discovery | None] = {}  # what each feed last advertised
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._ticking = asyncio.Lock()  # one pass at a time: a request is never sent twice
        # Whether this replica asks hubs (it holds the leader lock). On PostgreSQL every replica
        # polls its share of the feeds and records the hubs they advertise; only one asks.
        self.subscribes = True

    # ------------------------------------------------------------------ the poller's side

    def active(self, feed_url: str) -> bool:
        """Whether pushes come for this feed (its polls may then relax to `max_interval`)."""
        return feed_url in self._active

    async def discovered(self, feed: Feed, found: Discovery | None) -> None:
        """Record what a poll of `feed` advertised; ask a new hub at once."""
        if feed.url in self._known and self._known[feed.url] == found:
            return
        self._known[feed.url] = found
        changed = await asyncio.to_thread(self.store.websub_discovered, feed.url, found)
        if not changed:
            return
        self._active.discard(feed.url)
        if found is None:
            log.info("feed %r no longer advertises a WebSub hub", feed.name)
            return
        log.info("feed %r advertises the WebSub hub %s", feed.name, found.hub)
        if self.subscribes:
            self._spawn(self.tick())  # the poll goes on; the hub is asked beside it

    async def refresh(self) -> None:
        """A replica that asks no hub still learns which feeds are pushed (their polls relax)."""
        now = self.clock()
        wanted = {f.url for f in self.feeds()}
        subs = await asyncio.to_thread(self.store.websub_subscriptions)
        self._active = {s.feed_url for s in subs if s.active(now) and s.feed_url in wanted}

    async def tick(self) -> None:
        """Bring every subscription where it should be: requested, renewed, or undone."""
        async with self._ticking:
            await self._tick()

    async def _tick(self) -> None:
        now = self.clock()
        wanted = {f.url for f in self.feeds()}
        subs = await asyncio.to_thread(self.store.websub_subscriptions)
        # A row ended (unsubscribed, perhaps on another replica): the feed's next poll records
        # its hub again instead of taking it for known.
        rows = {s.feed_url for s in subs}
        for url in [u for u, found in self._known.items() if found and u not in rows]:
            del self._known[url]
        self._active = {s.feed_url for s in subs if s.active(now) and s.feed_url in wanted}
        for sub in subs:
            in_feeds = sub.feed_url in wanted
            if not in_feeds and not sub.active(now) and sub.pending != "subscribe":
                await asyncio.to_thread(self.store.websub_forget, sub.feed_url)
                continue
            action = next_action(sub, in_feeds, now)
            if action == "subscribe" and not secure_hub(sub.hub):
                if sub.last_error is None:
                    error = "hub is not https: not subscribing (the secret would travel in clear)"
                    log.warning("feed %s: %s", sub.feed_url, error)
                    await asyncio.to_thread(
                        self.store.websub_request_failed, sub.feed_url, error, now
                    )
                continue
            if action is not None:
                await self._request(sub, action, now)
        metrics.WEBSUB_ACTIVE.set(len(self._active))

    async def _request(self, sub: Subscription, mode: str, now: datetime) -> None:
        """POST a subscribe or unsubscribe to the hub; the hub confirms later by GET."""
        await asyncio.to_thread(self.store.websub_requested, sub.feed_url, mode, now)
        try:
            response = await self.client.post(sub.hub, data=request_form(sub, mode, self.base_url))
            error = None if response.is_success else f"hub answered {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"hub unreachable: {type(exc).__name__}: {exc}"
        metrics.WEBSUB_REQUESTS.labels(mode=mode, outcome="error" if error else "ok").inc()
        if error is None:
            log.info("asked %s to %s to %s", sub.hub, mode, sub.topic)
            return
        failures = await asyncio.to_thread(
            self.store.websub_request_failed, sub.feed_url, safe_error(error), self.clock()
        )
        log.warning("WebSub %s of %s failed (%s); attempt %d", mode, sub.topic, error, failures)

    # ------------------------------------------------------------------ the callback URL

    async def handle(self, request: Request) -> Response:
        """The callback URL: the hub's verification (GET) and its pushes (POST).

        A store that fails answers 503, which a hub takes as "try again later"."""
        try:
            return await self._handle(request)
        except Exception as exc:
            log.error("WebSub callback failed: %r", exc, exc_info=exc)
            return Response(HTTPStatus.SERVICE_UNAVAILABLE, b"try again later\n")

    async def _handle(self, request: Request) -> Response:
        token = request.path[len(self.prefix) :]
        if not token or "/" in token:
            return Response(HTTPStatus.NOT_FOUND, b"not found\n")
        sub = await asyncio.to_thread(self.store.websub_by_callback, token)
        if request.method == "GET":
            return await self._verify(sub, dict(parse_qsl(request.query)))
        if request.method == "POST":
            return await self._push(sub, request)
        return Response(HTTPStatus.METHOD_NOT_ALLOWED, b"GET or POST\n")

    async def _verify(self, sub: Subscription | None, params: dict[str, str]) -> Response:
        verdict = verify_intent(sub, params)
        if verdict.change is None or sub is None:
            log.info(
                "refused a WebSub verification (%s of %s): not a request of ours",
                params.get("hub.mode", "?")[:20],
                params.get("hub.topic", "?")[:200],
            )
        elif verdict.change == "activate":
            lease = verdict.lease_seconds or 0
            await asyncio.to_thread(self.store.websub_activated, sub.feed_url, lease, self.clock())
            self._active.add(sub.feed_url)
            log.info("WebSub subscription to %s confirmed for %d s", sub.topic, lease)
        elif params.get("hub.mode") == "denied":
            reason = safe_error(verdict.reason or "denied")
            await asyncio.to_thread(self.store.websub_denied, sub.feed_url, reason, self.clock())
            self._active.discard(sub.feed_url)
            log.warning("WebSub hub denied the subscription to %s: %s", sub.topic, reason)
        else:
            await asyncio.to_thread(self.store.websub_forget, sub.feed_url)
            self._active.discard(sub.feed_url)
            log.info("WebSub unsubscribe from %s confirmed", sub.topic)
        return Response(HTTPStatus(verdict.status), verdict.body.encode())

    async def _push(self, sub: Subscription | None, request: Request) -> Response:
        feed = None if sub is None else self._feed(sub.feed_url)
        if sub is None or feed is None:
            metrics.WEBSUB_PUSHES.labels(outcome="unknown").inc()
            return Response(HTTPStatus.NOT_FOUND, b"no such subscription\n")
        reason = check_signature(sub.secret, request.body, request.headers.get("x-hub-signature"))
        if reason is not None:
            metrics.WEBSUB_PUSHES.labels(outcome="rejected").inc()
            log.warning("rejected a WebSub push for feed %r: %s", feed.name, reason)
            return Response(HTTPStatus.FORBIDDEN, b"bad signature\n")
        if self._stopping:
            return Response(HTTPStatus.SERVICE_UNAVAILABLE, b"stopping\n")
        metrics.WEBSUB_PUSHES.labels(outcome="accepted").inc()
        self._spawn(self._ingest(feed, request))
        return Response(HTTPStatus.ACCEPTED, b"")

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _feed(self, feed_url: str) -> Feed | None:
        return next((f for f in self.feeds() if f.url == feed_url), None)

    async def _ingest(self, feed: Feed, request: Request) -> FeedOutcome | None:
        content_type = request.headers.get("content-type")
        try:
            outcome = await self.pipeline.ingest_push(feed, request.body, content_type)
        except Exception as exc:  # the next poll brings the same items
            log.error("feed %r: pushed document not stored: %r", feed.name, exc, exc_info=exc)
            return None
        fields: dict[str, object] = {"feed": feed.name, "items": outcome.items}
        if outcome.ingest:
            fields.update(new=outcome.ingest.new_items, alerts=outcome.ingest.alerts)
        log.info("push", extra=fields)
        if outcome.ingest and (outcome.ingest.alerts or outcome.ingest.updates):
            await self.on_alerts()
        return outcome

    async def stop(self) -> None:
        """Take no more pushes (503: the hub retries later); let those being stored finish."""
        self._stopping = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_WAIT_S)
        for task in pending:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until the pushes taken so far are stored (for tests and `stop`)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)
