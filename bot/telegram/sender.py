"""Delivery from the outbox to Telegram: rate limits, retries and every Bot API error.

Why a limiter of our own rather than python-telegram-bot's AIORateLimiter: that one retries
nothing by default and a single RetryAfter pauses *every* request of the bot, including the
answers to commands. Here the limits are a schedule: each message gets the earliest moment at
which sending it keeps all three limits (30 a second overall, per chat a burst of 3 then 1 a
second, 20 a minute per group), a single dispatcher sleeps until then, and the clock and the
sleep are injectable so tests can check the real rates in virtual time. The same `RateLimiter`
also paces every other message of the process (command replies, edits: see `pacing.py`).

Error policy (decided here, documented in the README):
- 429 RetryAfter: that chat waits `parameters.retry_after`. Short waits (<= `max_wait`) are taken
  in the same batch; longer ones are rescheduled in the store with `mark_retry` (never dropped,
  never a task sleeping for hours).
- 403 Forbidden (blocked, kicked) and "chat not found": the subscriber is deactivated and its
  alerts stay *pending*: they are delivered (as a digest) if it comes back with /start. Nothing
  is lost; inactive subscribers are simply not due.
- ChatMigrated: the store moves the subscriber to the new chat id and the message is resent there.
- 400 "can't parse entities": resent as plain text. "message is too long": resent shortened.
- Network errors, timeouts, 5xx: `mark_retry` with exponential backoff (`backoff()`).
- Other 400s are permanent: the alert is dropped with the reason, and logged.
- Updates (kind "update") edit the earlier message; if the edit fails the update is dropped, a
  second message about the same story is never sent. A story that went out in a digest is the
  exception: its update is sent as its own message (the story with its outlets), in reply to
  the digest, and later outlets edit that message.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import warnings
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telegram import Bot, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from bot import faults, metrics
from bot.models import Alert
from bot.telegram.render import (
    MAX_MESSAGE,
    Rendered,
    is_group_chat,
    render_alert,
    render_digest,
)

log = logging.getLogger("newsbot.telegram.sender")

# Link previews are off for every alert, digest and edit: the title is already the link, a
# preview card would triple a message's height, and an edit ("anche su") must not make one
# appear or vanish. Documented in the README.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
EPSILON = 1e-6  # keeps float rounding on the safe side of every window edge
# True inside the sender's own Bot API calls: they were scheduled by the sender's dispatcher
# (and recorded in the limiter there), so the Application-wide limiter must not pace them again.
PACED: ContextVar[bool] = ContextVar("newsbot_paced", default=False)
# Waits between attempts to record a sent message while the store refuses writes: about half
# a minute in all, well inside the 120 s lease, so no other replica takes the rows meanwhile.
RECORD_BACKOFF_S = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True, slots=True)
class Limits:
    """Telegram's broadcast limits; the defaults are the real ones."""

    overall: int = 30
    overall_period: float = 1.0
    per_chat: int = 1
    per_chat_period: float = 1.0
    per_group: int = 20
    per_group_period: float = 60.0
    per_chat_burst: int = 3  # a chat may get this many at once, then `per_chat` a period


# NEWSBOT_PAID_BROADCAST: Telegram lifts the overall limit to 1,000 a second for messages sent
# with allow_paid_broadcast (charged per message above the free 30); per-chat limits stay.
PAID_BROADCAST = Limits(overall=1000)


class SlidingWindow:
    """At most `n` events in any window of `period` seconds (a log of the last `n` events)."""

    def __init__(self, n: int, period: float) -> None:
        self.n = n
        self.period = period
        self.events: deque[float] = deque(maxlen=n)

    def ready_at(self, now: float) -> float:
        if len(self.events) < self.n:
            return now
        return max(now, self.events[0] + self.period + EPSILON)

    def record(self, when: float) -> None:
        self.events.append(when)

    def idle(self, now: float) -> bool:
        return not self.events or self.events[-1] + self.period + EPSILON <= now


class TokenBucket:
    """`burst` events at once, then one every `interval` seconds: Telegram's per-chat rule
    ("about one message a second, short bursts allowed"). In any window of one interval
    there are at most `burst` events; over a long window T, at most burst + T / interval."""

    def __init__(self, burst: int, interval: float) -> None:
        self.burst = burst
        self.interval = interval
        self.level = float(burst)
        self.at: float | None = None

    def _level(self, now: float) -> float:
        if self.at is None:
            return float(self.burst)
        return min(float(self.burst), self.level + (now - self.at) / self.interval)

    def ready_at(self, now: float) -> float:
        level = self._level(now)
        if level >= 1.0 - EPSILON:
            return now
        return now + (1.0 - level) * self.interval + EPSILON

    def record(self, when: float) -> None:
        self.level = max(0.0, self._level(when) - 1.0)
        self.at = when

    def idle(self, now: float) -> bool:
        return self._level(now) >= self.burst - EPSILON


class RateLimiter:
    """The three limits plus per-chat penalties (a 429's retry_after), on an injectable clock.

    One instance per process, shared by the sender and by every command reply (see
    `pacing.SharedRateLimiter`): Telegram counts all messages, whoever sends them."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        lim = self.limits
        self.overall = SlidingWindow(lim.overall, lim.overall_period)
        self.chats: dict[str, TokenBucket] = {}
        self.groups: dict[str, SlidingWindow] = {}
        self.penalties: dict[str, float] = {}

    def _chat(self, chat_id: str) -> TokenBucket:
        if chat_id not in self.chats:
            lim = self.limits
            interval = lim.per_chat_period / lim.per_chat
            self.chats[chat_id] = TokenBucket(lim.per_chat_burst, interval)
        return self.chats[chat_id]

    def _group(self, chat_id: str) -> SlidingWindow:
        if chat_id not in self.groups:
            lim = self.limits
            self.groups[chat_id] = SlidingWindow(lim.per_group, lim.per_group_period)
        return self.groups[chat_id]

    def ready_at(self, chat_id: str, now: float) -> float:
        """The earliest moment a message to `chat_id` keeps every limit."""
        ready = max(self.overall.ready_at(now), self._chat(chat_id).ready_at(now))
        if is_group(chat_id):
            ready = max(ready, self._group(chat_id).ready_at(now))
        return max(ready, self.penalties.get(chat_id, now))

    def record(self, chat_id: str, when: float) -> None:
        self.overall.record(when)
        self._chat(chat_id).record(when)
        if is_group(chat_id):
            self._group(chat_id).record(when)

    def penalize(self, chat_id: str, until: float) -> None:
        self.penalties[chat_id] = max(until, self.penalties.get(chat_id, until))

    def forget_idle(self, now: float) -> None:
        """Drop the state of chats that can no longer constrain anything (bounded memory)."""
        for chat_id in [c for c, w in self.chats.items() if w.idle(now)]:
            del self.chats[chat_id]
        for chat_id in [c for c, w in self.groups.items() if w.idle(now)]:
            del self.groups[chat_id]
        for chat_id in [c for c, until in self.penalties.items() if until <= now]:
            del self.penalties[chat_id]


def is_group(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids (or @names, for channels)."""
    return chat_id.startswith(("-", "@"))


def backoff(attempts: int, *, base: float = 2.0, cap: float = 900.0) -> float:
    """Seconds before retry number `attempts + 1` after a transient error: 2, 4, 8 … 900."""
    return min(cap, base * 2 ** max(0, attempts))


def retry_after_seconds(exc: RetryAfter) -> float:
    """`parameters.retry_after` of a 429, as seconds (without PTB's int/timedelta warning)."""
    value: Any = getattr(exc, "_retry_after", None)
    if value is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Outbox(Protocol):
    """The part of bot.store.Store the sender uses (synchronous; called in a thread)."""

    def pending_alerts(
        self,
        now: datetime,
        *,
        limit: int = 100,
        claim_for: float | None = None,
        channel: str | None = None,
    ) -> list[Alert]: ...

    def mark_sent_many(
        self, alert_ids: Sequence[int], *, message_id: int | None, now: datetime
    ) -> None: ...

    def extend_lease(self, alert_ids: Sequence[int], *, until: datetime) -> None: ...

    def mark_retry(self, alert_id: int, *, error: str, retry_at: datetime) -> None: ...

    def mark_dropped(self, alert_id: int, *, reason: str) -> None: ...

    def set_active(self, subscriber_id: int, active: bool) -> None: ...

    def migrate_chat(self, old_chat_id: str, new_chat_id: str) -> None: ...


@dataclass(slots=True)
class Job:
    """One Bot API call to make: an alert, a digest of alerts, or an edit (update)."""

    action: str  # "send" | "digest" | "edit"
    alerts: list[Alert]
    chat_id: str
    mode: str = "html"  # "html" | "plain" | "short"
    twins: list[Alert] = field(default_factory=list)  # same story again: marked, not resent

    @property
    def subscriber_id(self) -> int:
        return self.alerts[0].subscriber_id


@dataclass(frozen=True, slots=True)
class Unrecorded:
    """A message Telegram accepted whose record the store refused: recorded before anything
    else is claimed, so its rows are never sent again by this process."""

    alert_ids: tuple[int, ...]
    message_id: int | None


@dataclass(slots=True)
class Report:
    """What one delivery pass did (for logs and tests)."""

    sent: int = 0
    edited: int = 0
    digests: int = 0
    retried: int = 0
    dropped: int = 0
    deactivated: int = 0
    migrated: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        for name in ("sent", "edited", "digests", "retried", "dropped", "deactivated", "migrated"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


@dataclass(slots=True)
class Batch:
    """The dispatcher's state for one batch: the schedule and what was learnt on the way."""

    heap: list[tuple[float, int, Job]] = field(default_factory=list)
    migrated: dict[str, str] = field(default_factory=dict)
    dead: set[str] = field(default_factory=set)
    report: Report = field(default_factory=Report)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    # One call in flight per chat: its messages keep their order, and a chat that turns out
    # blocked (403) or migrated is known before its next message is tried.
    busy: set[str] = field(default_factory=set)
    waiting: dict[str, list[Job]] = field(default_factory=dict)

    def push(self, job: Job, at: float) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), job))

    def release(self, chat_id: str, at: float) -> None:
        """The chat's call is over: its next messages may be scheduled."""
        self.busy.discard(chat_id)
        for job in self.waiting.pop(chat_id, []):
            self.push(job, at)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Drains the outbox through one Bot; one instance per process (it owns the limiter)."""

    def __init__(
        self,
        bot: Bot,
        store: Outbox,
        *,
        limits: Limits | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        now: Callable[[], datetime] = utcnow,
        list_titles: Callable[[], Mapping[str, str]] = dict,
        batch: int = 500,
        claim_for: float | None = 120.0,
        max_wait: float = 10.0,
        digest_threshold: int = 5,
        held_after: timedelta = timedelta(minutes=30),
        concurrency: int = 8,
        read_timeout: float = 20.0,
        record_backoff: Sequence[float] = RECORD_BACKOFF_S,
        group_window: float = 60.0,
        paid_broadcast: bool = False,
    ) -> None:
        self.bot = bot
        # None, not False, when off: the parameter is then left out of the request entirely.
        self.paid_broadcast: bool | None = True if paid_broadcast else None
        self.store = store
        self.limiter = limiter or RateLimiter(limits)
        self.clock = clock
        self.sleep = sleep
        self.now = now
        self.list_titles = list_titles
        self.batch = batch
        self.claim_for = claim_for
        self.max_wait = max_wait
        self.digest_threshold = digest_threshold
        self.held_after = held_after
        self.read_timeout = read_timeout
        self.record_backoff = tuple(record_backoff)
        self._unrecorded: list[Unrecorded] = []
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self.group_window = group_window
        self._group_last: dict[str, float] = {}  # group chat -> when its last alert left

    # -- public -----------------------------------------------------------------------------
    def wake(self) -> None:
        """New alerts are in the outbox: the running loop delivers them now."""
        self._wake.set()

    async def wait_idle(self) -> None:
        """Until no Bot API call is in flight (tests' virtual clocks advance only then)."""
        await self._idle.wait()

    async def deliver_pending(self) -> Report:
        """Deliver everything due now, batch after batch; returns what happened."""
        total = Report()
        seen: set[int] = set()
        async with self._lock:
            while True:
                if not await self._flush_unrecorded():
                    break  # the store still refuses writes: claim nothing, resend nothing
                alerts = await asyncio.to_thread(
                    self.store.pending_alerts,
                    self.now(),
                    limit=self.batch,
                    claim_for=self.claim_for,
                    channel="telegram",
                )
                if not alerts or seen.issuperset(a.id for a in alerts):
                    break  # nothing due, or only what this pass already tried (no lease)
                seen.update(a.id for a in alerts)
                report = await self._deliver_batch(alerts)
                total.add(report)
                if len(alerts) < self.batch or self._stopping.is_set():
                    break
            self.limiter.forget_idle(self.clock())
        return total

    async def run(self, stop: asyncio.Event, *, tick: float = 2.0) -> None:
        """Deliver until `stop` is set: on `wake()` and every `tick` seconds (for retries).

        When `stop` is set mid-pass, no new message is started; the ones in flight finish and
        are recorded, and the rest are released to the outbox at once (not left leased)."""
        self._stopping = stop
        while not stop.is_set():
            self._wake.clear()  # before the pass: a wake() during it triggers another pass
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("delivery pass failed; trying again in %.0f s", tick)
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            await asyncio.wait(waits, timeout=tick, return_when=asyncio.FIRST_COMPLETED)
            for task in waits:
                task.cancel()

    # -- planning ---------------------------------------------------------------------------
    def plan(self, alerts: Sequence[Alert]) -> list[Job]:
        """Alerts to Bot API calls: updates become edits; one message per story per subscriber;
        a subscriber with many alerts due (or alerts held by a mute) gets one digest."""
        jobs: list[Job] = []
        by_subscriber: dict[int, list[Alert]] = defaultdict(list)
        for alert in alerts:
            if alert.kind == "update":
                jobs.append(Job("edit", [alert], alert.chat_id))
            else:
                by_subscriber[alert.subscriber_id].append(alert)
        for group in by_subscriber.values():
            stories: dict[str, list[Alert]] = {}
            for alert in group:
                stories.setdefault(alert.story_id, []).append(alert)
            firsts = [same[0] for same in stories.values()]
            twins = [a for same in stories.values() for a in same[1:]]
            if self._wants_digest(firsts):
                jobs.append(Job("digest", firsts, firsts[0].chat_id, twins=twins))
            else:
                jobs += [
                    Job("send", [same[0]], same[0].chat_id, twins=same[1:])
                    for same in stories.values()
                ]
        return jobs

    def _wants_digest(self, alerts: Sequence[Alert]) -> bool:
        """Many at once, or what waited for the end of a pause (a mute, quiet hours, the daily
        digest time: the store marks those `held`): one message rather than a burst. In a
        group any two stories due together make one message."""
        if len(alerts) > self.digest_threshold:
            return True
        if len(alerts) < 2:
            return False
        if self.group_window and is_group_chat(alerts[0].chat_id):
            return True
        if any(a.extra.get("held") for a in alerts):
            return True
        oldest = min((a.published for a in alerts if a.published), default=None)
        return oldest is not None and self.now() - oldest > self.held_after

    def _group_hold(self, job: Job) -> float:
        """When a new message to a group may go: a story that comes within `group_window` of
        the group's last alert waits for the window to end, then leaves together with any
        other that came meanwhile (one message, not nine in ten seconds). Edits never wait."""
        if job.action == "edit" or not self.group_window or not is_group_chat(job.chat_id):
            return 0.0
        last = self._group_last.get(job.chat_id)
        return 0.0 if last is None else last + self.group_window

    # -- dispatching ------------------------------------------------------------------------
    async def _deliver_batch(self, alerts: Sequence[Alert]) -> Report:
        batch = Batch()
        for job in self.plan(alerts):
            batch.push(job, self.clock())
        while batch.heap or self._in_flight:
            if not batch.heap:
                await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                continue
            at, _, job = heapq.heappop(batch.heap)
            if self._stopping.is_set():
                await self._defer(job, 0.0, "not sent: shutting down", batch.report)
                continue
            job.chat_id = batch.migrated.get(job.chat_id, job.chat_id)
            if job.chat_id in batch.dead:  # deactivated meanwhile: its alerts stay pending
                await self._defer(job, 0.0, "subscriber deactivated", batch.report)
                continue
            if job.chat_id in batch.busy:
                batch.waiting.setdefault(job.chat_id, []).append(job)
                continue
            now = self.clock()
            ready = max(self.limiter.ready_at(job.chat_id, now), self._group_hold(job))
            floor = self.limiter.overall.ready_at(now)  # nothing at all can go before this
            if ready > max(at, floor) + EPSILON and batch.heap and batch.heap[0][0] < ready:
                batch.push(job, ready)  # held by its own chat's limit: another chat goes first
                continue
            if ready - now > self.max_wait:
                await self._defer(job, ready - now, "rate limit", batch.report)
                continue
            if ready > now:
                await self._pause(ready - now)
                batch.push(job, at)  # re-check: the chat may have migrated or blocked us
                continue
            if self._slots.locked():  # all connections busy: record the send when it starts
                await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
                batch.push(job, at)
                continue
            if job.action != "edit" and is_group_chat(job.chat_id):
                self._group_last[job.chat_id] = now
            await self._slots.acquire()
            self.limiter.record(job.chat_id, now)
            batch.busy.add(job.chat_id)
            self._start(self._attempt(job, batch))
        return batch.report

    async def _pause(self, seconds: float) -> None:
        """Sleep (on the injected clock) unless a stop comes first."""
        sleeper = asyncio.ensure_future(self.sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()

    def _start(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._in_flight.add(task)
        self._idle.clear()

        def done(t: asyncio.Task[None]) -> None:
            self._in_flight.discard(t)
            self._slots.release()
            if not self._in_flight:
                self._idle.set()

        task.add_done_callback(done)

    async def _attempt(self, job: Job, batch: Batch) -> None:
        """One Bot API call for `job` and what its outcome means for the outbox.

        Every attempt is timed (`newsbot_delivery_seconds`); every one that Telegram refused or
        that got no answer counts as `failed`, and then as `retried` or `dropped`.
        """
        PACED.set(True)  # this task's calls were scheduled here: the shared limiter lets them by
        chat_id = job.chat_id
        try:
            with metrics.DELIVERY_SECONDS.time():
                await self._call(job, batch)
        except Exception as exc:
            metrics.ALERTS.labels(outcome="failed").inc()
            await self._on_failure(job, batch, exc)
        finally:
            batch.release(chat_id, self.clock())

    async def _on_failure(self, job: Job, batch: Batch, exc: Exception) -> None:
        """Wait, follow the migrated group, deactivate, fall back, retry later or drop."""
        if isinstance(exc, RetryAfter):
            wait = retry_after_seconds(exc)
            self.limiter.penalize(job.chat_id, self.clock() + wait)
            log.warning("429 for chat %s: waiting %.0f s", job.chat_id, wait)
            if wait <= self.max_wait:
                batch.push(job, self.clock() + wait)
            else:
                await self._defer(job, wait, f"429 retry after {wait:.0f} s", batch.report)
        elif isinstance(exc, ChatMigrated):
            await self._migrate(job, str(exc.new_chat_id), batch)
        elif isinstance(exc, Forbidden):
            await self._deactivate(job, str(exc), batch)
        elif isinstance(exc, BadRequest):
            await self._bad_request(job, exc, batch)
        elif isinstance(exc, InvalidToken):
            log.error("the Telegram token was refused: %s", exc)
            await self._retry_later(job, exc, batch.report)
        elif isinstance(exc, TelegramError | OSError):  # NetworkError, TimedOut, 5xx
            await self._retry_later(job, exc, batch.report)
        else:
            log.error("unexpected error delivering to chat %s", job.chat_id, exc_info=exc)
            batch.report.errors.append("unexpected error")

    async def _call(self, job: Job, batch: Batch) -> None:
        if job.action == "edit":
            await self._edit(job, batch.report)
            return
        rendered = self._render(job, batch)
        faults.checkpoint(faults.DELIVER_BEFORE_SEND)
        message: Message = await self.bot.send_message(
            job.chat_id,
            rendered.plain if job.mode == "plain" else rendered.html,
            parse_mode=None if job.mode == "plain" else ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
            allow_paid_broadcast=self.paid_broadcast,
            read_timeout=self.read_timeout,
        )
        faults.checkpoint(faults.DELIVER_AFTER_SEND)  # the one window: sent, not yet recorded
        # A digest's rows keep minus its message id: its full list can be shown again from
        # them, and an update of one of its stories is dropped instead of editing the digest.
        message_id = message.message_id if job.action == "send" else -message.message_id
        rows = [*job.alerts, *job.twins]
        await self._record([a.id for a in rows], message_id)
        metrics.ALERTS.labels(outcome="sent").inc(len(rows))
        if job.action == "send":
            now = self.now()
            for alert in job.alerts:
                if alert.kind == "alert":
                    metrics.observe_alert_delay(alert.published, now)
        batch.report.sent += 1
        batch.report.digests += job.action == "digest"

    # -- recording --------------------------------------------------------------------------
    async def _record(self, alert_ids: Sequence[int], message_id: int | None) -> bool:
        """Record a message Telegram accepted: all its rows in one transaction.

        A store error (locked, disk full, connection lost) retries the record with backoff,
        never the send, and keeps the rows leased meanwhile. Past the last retry the record is
        kept in memory and written before this process claims anything again. False then.
        """
        ids = tuple(alert_ids)
        delays = iter(self.record_backoff)
        while True:
            try:
                await asyncio.to_thread(
                    self.store.mark_sent_many, ids, message_id=message_id, now=self.now()
                )
                return True
            except Exception as exc:  # whatever the store says, the message is already out
                delay = next(delays, None)
                if delay is None:
                    log.error(
                        "alerts %s were sent but cannot be recorded (%s); recording them "
                        "before any other delivery",
                        list(ids),
                        exc,
                    )
                    self._unrecorded.append(Unrecorded(ids, message_id))
                    return False
                log.warning(
                    "alerts %s were sent; recording them failed (%s), retrying in %.2f s",
                    list(ids),
                    exc,
                    delay,
                )
            await self.sleep(delay)
            await self._keep_leased(ids)

    async def _keep_leased(self, alert_ids: Sequence[int]) -> None:
        """Renew the lease of rows whose record is being retried (best effort)."""
        if self.claim_for is None:
            return
        until = self.now() + timedelta(seconds=self.claim_for)
        try:
            await asyncio.to_thread(self.store.extend_lease, alert_ids, until=until)
        except Exception as exc:
            log.debug("renewing the lease of alerts %s failed: %s", list(alert_ids), exc)

    async def _flush_unrecorded(self) -> bool:
        """Write the records the store refused earlier; False while it still refuses."""
        while self._unrecorded:
            record = self._unrecorded[0]
            try:
                await asyncio.to_thread(
                    self.store.mark_sent_many,
                    record.alert_ids,
                    message_id=record.message_id,
                    now=self.now(),
                )
            except Exception as exc:
                log.warning("the store still refuses to record sent alerts: %s", exc)
                return False
            self._unrecorded.pop(0)
            log.info("recorded alerts %s sent earlier", list(record.alert_ids))
        return True

    async def _edit(self, job: Job, report: Report) -> None:
        """An update: the earlier message gets the new outlets; never a second message, except
        for a story that went out in a digest (see `_update_digest_story`)."""
        alert = job.alerts[0]
        if alert.message_id is None or alert.message_id < 0:
            await self._update_digest_story(job, report)
            return
        rendered = render_alert(alert, self.list_titles(), short=job.mode == "short")
        await self.bot.edit_message_text(
            rendered.plain if job.mode == "plain" else rendered.html,
            chat_id=job.chat_id,
            message_id=alert.message_id,
            parse_mode=None if job.mode == "plain" else ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
            read_timeout=self.read_timeout,
        )
        await self._record([alert.id], None)
        metrics.ALERTS.labels(outcome="updated").inc()
        report.edited += 1

    async def _update_digest_story(self, job: Job, report: Report) -> None:
        """A later outlet of a story that went out in a digest: the digest lists many stories
        and shows no outlets, so editing it would hide the news. The story is sent on its own,
        with its outlets, as a reply to the digest; its row then keeps this message's id, so a
        further outlet edits this message (still at most MAX_EDITS per story)."""
        alert = job.alerts[0]
        rendered = render_alert(alert, self.list_titles(), short=job.mode == "short")
        digest = -alert.message_id if alert.message_id is not None else None
        faults.checkpoint(faults.DELIVER_BEFORE_SEND)
        message: Message = await self.bot.send_message(
            job.chat_id,
            rendered.plain if job.mode == "plain" else rendered.html,
            parse_mode=None if job.mode == "plain" else ParseMode.HTML,
            reply_markup=rendered.keyboard,
            link_preview_options=NO_PREVIEW,
            reply_parameters=(
                ReplyParameters(digest, allow_sending_without_reply=True) if digest else None
            ),
            allow_paid_broadcast=self.paid_broadcast,
            read_timeout=self.read_timeout,
        )
        faults.checkpoint(faults.DELIVER_AFTER_SEND)  # the one window: sent, not yet recorded
        await self._record([alert.id], message.message_id)
        metrics.ALERTS.labels(outcome="updated").inc()
        report.sent += 1

    def _render(self, job: Job, batch: Batch) -> Rendered:
        """The message for a send or digest job; a digest that does not fit whole is split,
        the rest queued as another digest (the per-chat limit spaces them)."""
        titles = self.list_titles()
        if job.action != "digest":
            return render_alert(job.alerts[0], titles, short=job.mode == "short")
        limit = MAX_MESSAGE // 2 if job.mode == "short" else MAX_MESSAGE - 96
        rendered, included = render_digest(job.alerts, titles, limit=limit)
        rest = job.alerts[len(included) :]
        if rest:
            batch.push(Job("digest", rest, job.chat_id, job.mode), self.clock())
            job.alerts = included
        return rendered

    # -- outcomes ---------------------------------------------------------------------------
    async def _bad_request(self, job: Job, exc: BadRequest, batch: Batch) -> None:
        text = exc.message.lower()
        report = batch.report
        if "not modified" in text and job.action == "edit":
            await self._record([job.alerts[0].id], None)
        elif "parse entities" in text and job.mode != "plain":
            log.warning("Telegram could not parse our HTML (%s); resending as plain text", exc)
            job.mode = "plain"
            batch.push(job, self.clock())
        elif "too long" in text and job.mode == "html":
            log.warning("message too long for chat %s; resending shortened", job.chat_id)
            job.mode = "short"
            batch.push(job, self.clock())
        elif "chat not found" in text and job.action != "edit":
            await self._deactivate(job, exc.message, batch)
        else:
            await self._drop(job, f"400: {exc.message}", report)

    async def _deactivate(self, job: Job, reason: str, batch: Batch) -> None:
        """Blocked or gone: deactivate; its alerts stay pending for a /start that may come."""
        log.info("chat %s refuses messages (%s): subscriber deactivated", job.chat_id, reason)
        batch.dead.add(job.chat_id)
        await asyncio.to_thread(self.store.set_active, job.subscriber_id, False)
        batch.report.deactivated += 1

    async def _migrate(self, job: Job, new_id: str, batch: Batch) -> None:
        """A group became a supergroup: follow it to its new id and resend there."""
        log.info("chat %s migrated to %s", job.chat_id, new_id)
        await asyncio.to_thread(self.store.migrate_chat, job.chat_id, new_id)
        batch.migrated[job.chat_id] = new_id
        job.alerts = [replace(a, chat_id=new_id) for a in job.alerts]
        job.chat_id = new_id
        batch.report.migrated += 1
        batch.push(job, self.clock())

    async def _drop(self, job: Job, reason: str, report: Report) -> None:
        log.warning(
            "dropping alerts %s for chat %s: %s", [a.id for a in job.alerts], job.chat_id, reason
        )
        for alert in job.alerts:
            await asyncio.to_thread(self.store.mark_dropped, alert.id, reason=reason)
            metrics.ALERTS.labels(outcome="dropped").inc()
        report.dropped += len(job.alerts)
        report.errors.append(reason)

    async def _retry_later(self, job: Job, exc: BaseException, report: Report) -> None:
        """Transient failure: exponential backoff, through the store (survives a restart)."""
        for alert in job.alerts:
            attempts = int(alert.extra.get("attempts", 0) or 0)
            delay = backoff(attempts)
            error = f"{type(exc).__name__}: {exc}"
            retry_at = self.now() + timedelta(seconds=delay)
            await asyncio.to_thread(self.store.mark_retry, alert.id, error=error, retry_at=retry_at)
            metrics.ALERTS.labels(outcome="retried").inc()
        log.warning("chat %s: %s; retrying later", job.chat_id, exc)
        report.retried += len(job.alerts)
        report.errors.append(str(exc))

    async def _defer(self, job: Job, wait: float, reason: str, report: Report) -> None:
        retry_at = self.now() + timedelta(seconds=wait)
        for alert in job.alerts:
            await asyncio.to_thread(
                self.store.mark_retry, alert.id, error=reason, retry_at=retry_at
            )
        report.retried += len(job.alerts)
