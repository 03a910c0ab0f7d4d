"""Delivery from the outbox through the fake Bot API: limits kept, every error handled.

The sender runs at Telegram's real limits (30/s overall, 1/s per chat, 20/min per group) on a
`VirtualClock`: the limiter sleeps in virtual time, the fake server stamps each request with the
virtual time it arrived at, and the checks below read those stamps. The HTTP requests are real
(python-telegram-bot -> 127.0.0.1), only the waiting is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.models import Alert, Match
from bot.telegram.sender import Limits, Sender, backoff
from tests.fakebotapi import FakeBotApi, VirtualClock, max_in_window

BASE = datetime(2025, 10, 10, 9, 0, tzinfo=UTC)
# PTB's own RetryAfter constructor warns about its int -> timedelta migration; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


@dataclass
class Row:
    alert: Alert
    status: str = "pending"
    next_attempt: datetime = BASE
    attempts: int = 0
    claimed_until: datetime | None = None
    error: str = ""


class MemoryOutbox:
    """The outbox part of the Store, in memory, with the same semantics (due, active, leased)."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.active: dict[int, bool] = {}
        self.migrations: list[tuple[str, str]] = []

    def add(self, alert: Alert) -> Alert:
        self.rows[alert.id] = Row(alert)
        self.active.setdefault(alert.subscriber_id, True)
        return alert

    def status(self, alert_id: int) -> str:
        return self.rows[alert_id].status

    def pending_alerts(
        self,
        now: datetime,
        *,
        limit: int = 100,
        claim_for: float | None = None,
        channel: str | None = None,
    ) -> list[Alert]:
        assert channel == "telegram", "the sender must never take the console's alerts"
        due = [
            r
            for r in sorted(self.rows.values(), key=lambda r: r.alert.id)
            if r.status == "pending"
            and r.next_attempt <= now
            and self.active[r.alert.subscriber_id]
            and (r.claimed_until is None or r.claimed_until <= now)
        ][:limit]
        for r in due:
            if claim_for is not None:
                r.claimed_until = now + timedelta(seconds=claim_for)
        return [replace(r.alert, extra={"attempts": r.attempts}) for r in due]

    def mark_sent_many(
        self, alert_ids: Sequence[int], *, message_id: int | None, now: datetime
    ) -> None:
        for alert_id in alert_ids:
            row = self.rows[alert_id]
            row.status, row.claimed_until = "sent", None
            if message_id is not None:
                row.alert = replace(row.alert, message_id=message_id)

    def extend_lease(self, alert_ids: Sequence[int], *, until: datetime) -> None:
        for alert_id in alert_ids:
            self.rows[alert_id].claimed_until = until

    def mark_retry(self, alert_id: int, *, error: str, retry_at: datetime) -> None:
        row = self.rows[alert_id]
        row.attempts += 1
        row.next_attempt, row.error, row.claimed_until = retry_at, error, None

    def mark_dropped(self, alert_id: int, *, reason: str) -> None:
        row = self.rows[alert_id]
        row.status, row.error, row.claimed_until = "dropped", reason, None

    def set_active(self, subscriber_id: int, active: bool) -> None:
        self.active[subscriber_id] = active

    def migrate_chat(self, old_chat_id: str, new_chat_id: str) -> None:
        self.migrations.append((old_chat_id, new_chat_id))
        for row in self.rows.values():
            if row.alert.chat_id == old_chat_id:
                row.alert = replace(row.alert, chat_id=new_chat_id)


def alert(n: int, chat_id: str | None = None, **changes: object) -> Alert:
    values: dict[str, object] = {
        "id": n,
        "subscriber_id": n,
        "chat_id": chat_id or str(100000 + n),
        "kind": "alert",
        "story_id": "milan-breaks",
        "title": "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta",
        "url": "https://www.tuttomercatoweb.com/milan-palestra",
        "source": "Tuttomercatoweb",
        "published": BASE,
        "matches": (Match("watch:milan", "Milan", "Milan", 100.0),),
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock: VirtualClock) -> Iterator[FakeBotApi]:
    server = FakeBotApi(clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    request = HTTPXRequest(connection_pool_size=8)
    async with Bot(
        fake.token,
        base_url=f"{fake.url}/bot",
        base_file_url=f"{fake.url}/file/bot",
        request=request,
    ) as tg:
        yield tg


def make_sender(bot: Bot, outbox: MemoryOutbox, clock: VirtualClock, **options: object) -> Sender:
    sender = Sender(
        bot,
        outbox,
        clock=clock,
        sleep=clock.sleep,
        now=lambda: BASE + timedelta(seconds=clock() - 1000.0),
        **options,  # type: ignore[arg-type]
    )
    clock.settle = sender.wait_idle
    return sender


SUBSCRIBERS = 2000


async def test_story_for_2000_subscribers_keeps_limits_and_is_as_fast_as_they_allow(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    """2,000 subscribers follow "Milan" and one story breaks. Real limits, virtual time: every
    subscriber gets it exactly once, no 1-second window holds more than 30 messages, no chat
    gets more than one a second, and the whole broadcast takes 2,000/30 s (+10% at most).
    (2,000 over 66 virtual seconds: 5,000 said no more and cost the suite 8 s of real requests.)"""
    for n in range(1, SUBSCRIBERS + 1):
        outbox.add(alert(n))
    sender = make_sender(bot, outbox, clock)
    fake.clear_calls()

    report = await sender.deliver_pending()

    sent = fake.sent()
    assert report.sent == SUBSCRIBERS
    assert sorted(int(c.chat_id) for c in sent) == [100000 + n for n in range(1, SUBSCRIBERS + 1)]
    assert all(r.status == "sent" for r in outbox.rows.values())
    times = [c.at for c in sent]
    assert max_in_window(times, 1.0) <= 30
    duration = max(times) - min(times)
    allowed = SUBSCRIBERS / 30
    assert allowed * 0.9 <= duration <= allowed * 1.1
    assert not await sender.deliver_pending() or fake.sent() == sent  # nothing left to send


async def test_one_chat_gets_a_burst_of_three_then_one_message_a_second(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    for n in range(1, 6):
        outbox.add(alert(n, chat_id="555", subscriber_id=1, story_id=f"s{n}"))
    outbox.add(alert(9))
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    to_chat = [c.at for c in fake.sent("555")]
    assert len(to_chat) == 5  # five stories: five messages, no digest at the threshold
    assert max_in_window(to_chat, 1.0) == 3
    assert to_chat[3] - to_chat[0] >= 1.0 and to_chat[4] - to_chat[3] >= 1.0
    assert fake.sent(str(100009))[0].at == min(to_chat)  # other chats don't wait for it


async def test_group_gets_at_most_20_a_minute_and_the_rest_later(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    group = "-100777"
    for n in range(1, 26):
        outbox.add(alert(n, chat_id=group, subscriber_id=1, story_id=f"s{n}"))
    sender = make_sender(bot, outbox, clock, digest_threshold=1000, group_window=0)

    await sender.deliver_pending()
    assert len(fake.sent(group)) == 20
    assert sum(r.status == "pending" for r in outbox.rows.values()) == 5

    clock.advance(60)
    await sender.deliver_pending()
    times = [c.at for c in fake.sent(group)]
    assert len(times) == 25
    assert max_in_window(times, 60.0) <= 20
    assert max_in_window(times, 1.0) <= 3
    assert all(r.status == "sent" for r in outbox.rows.values())


async def test_stories_to_a_group_within_a_minute_arrive_as_one_message(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    """Nine stories in ten seconds used to be nine messages in a group. Now the first goes at
    once, the ones that follow within a minute wait for the minute to end and leave as one
    message (a private chat still gets each as it comes)."""
    group = "-100778"
    sender = make_sender(bot, outbox, clock)
    outbox.add(alert(1, chat_id=group, subscriber_id=1, story_id="s1"))
    await sender.deliver_pending()
    for n in range(2, 10):
        clock.advance(1)
        outbox.add(alert(n, chat_id=group, subscriber_id=1, story_id=f"s{n}", title=f"Notizia {n}"))
        outbox.add(alert(100 + n, subscriber_id=2, story_id=f"s{n}", chat_id="777"))
        await sender.deliver_pending()
    assert len(fake.sent(group)) == 1  # the rest wait for the group's minute
    assert len(fake.sent("777")) == 8  # a private chat is not held

    clock.advance(60)
    await sender.deliver_pending()
    first, batch = fake.sent(group)
    assert batch.at - first.at >= 60
    assert batch.params["text"].startswith("📰 <b>8 notizie per voi</b>")
    assert all(f"Notizia {n}" in batch.params["text"] for n in range(2, 10))
    assert all(r.status == "sent" for r in outbox.rows.values())


async def test_429_waits_retry_after_for_that_chat_only(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    outbox.add(alert(2))
    fake.too_many_requests(5, chat_id=100001)
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    refused, sent = fake.calls_to("sendMessage", 100001)
    assert refused.status == 429 and sent.status == 200
    assert sent.at - refused.at >= 5
    assert fake.sent(100002)[0].at < refused.at + 1
    assert outbox.status(1) == "sent"


async def test_429_of_an_hour_is_rescheduled_not_slept_and_never_dropped(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    fake.too_many_requests(3600, chat_id=100001)
    sender = make_sender(bot, outbox, clock)

    started = clock()
    await sender.deliver_pending()
    assert clock() - started < 1  # nobody sat waiting for an hour
    row = outbox.rows[1]
    assert row.status == "pending"
    assert row.next_attempt == BASE + timedelta(seconds=3600)

    clock.advance(3600)
    await sender.deliver_pending()
    assert outbox.status(1) == "sent"
    assert len(fake.sent(100001)) == 1


async def test_blocked_bot_deactivates_subscriber_and_keeps_its_alerts(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    outbox.add(alert(2, chat_id="100001", story_id="other"))
    outbox.add(alert(3))
    fake.block(100001)
    sender = make_sender(bot, outbox, clock)

    report = await sender.deliver_pending()

    assert report.deactivated == 1
    assert outbox.active[1] is False
    assert outbox.status(1) == "pending"  # kept: delivered if they /start again
    assert len(fake.calls_to("sendMessage", 100001)) == 1  # no second try at a blocked chat
    assert outbox.status(3) == "sent"


async def test_migrated_group_follows_its_new_id(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1, chat_id="-4001"))
    fake.migrate("-4001", -1004001)
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    assert outbox.migrations == [("-4001", "-1004001")]
    assert len(fake.sent("-1004001")) == 1
    assert fake.sent("-4001") == []
    assert outbox.status(1) == "sent"


async def test_unparseable_html_is_resent_as_plain_text(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1, title="Inter <3 Milan"))
    fake.fail(
        "sendMessage",
        status=400,
        description="Bad Request: can't parse entities: unsupported start tag",
    )
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    (call,) = fake.sent(100001)
    assert "parse_mode" not in call.params
    assert call.params["text"].startswith("⚽ Milan, Allegri") is False
    assert call.params["text"].startswith("⚽ Inter <3 Milan\n")
    assert outbox.status(1) == "sent"


async def test_too_long_is_resent_shortened(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1, title="Palestra " * 60))
    fake.fail("sendMessage", status=400, description="Bad Request: message is too long")
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    refused, sent = fake.calls_to("sendMessage", 100001)
    assert len(sent.params["text"]) < len(refused.params["text"])
    assert outbox.status(1) == "sent"


async def test_server_errors_retry_with_exponential_backoff(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    fake.fail("sendMessage", status=502, description="Bad Gateway", times=3)
    sender = make_sender(bot, outbox, clock)
    counted = {o: metric_value("newsbot_alerts_total", outcome=o) for o in ("failed", "retried")}
    attempts = metric_value("newsbot_delivery_seconds_count")
    delays = []
    for _ in range(3):
        await sender.deliver_pending()
        row = outbox.rows[1]
        assert row.status == "pending"
        delays.append((row.next_attempt - (BASE + timedelta(seconds=clock() - 1000))).seconds)
        clock.advance(delays[-1])
    assert delays == [backoff(0), backoff(1), backoff(2)] == [2, 4, 8]
    await sender.deliver_pending()
    assert outbox.status(1) == "sent"
    assert len(fake.sent(100001)) == 1
    for outcome in ("failed", "retried"):  # /metrics tells operators what happened
        assert metric_value("newsbot_alerts_total", outcome=outcome) == counted[outcome] + 3
    assert metric_value("newsbot_delivery_seconds_count") == attempts + 4


def metric_value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_slow_answer_is_delivered_once(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    fake.slow("sendMessage", 0.3)
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()
    await sender.deliver_pending()

    assert len(fake.sent(100001)) == 1
    assert outbox.status(1) == "sent"


async def test_update_edits_the_earlier_message_and_never_sends_another(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    outbox.add(alert(1))
    sender = make_sender(bot, outbox, clock)
    await sender.deliver_pending()
    message_id = outbox.rows[1].alert.message_id
    assert message_id is not None

    update = alert(
        2,
        chat_id="100001",
        subscriber_id=1,
        kind="update",
        message_id=message_id,
        also=("Calciomercato.com",),
    )
    outbox.add(update)
    lost = alert(
        3, chat_id="100001", subscriber_id=1, kind="update", message_id=999999, also=("Sky",)
    )
    outbox.add(lost)
    clock.advance(2)
    await sender.deliver_pending()

    assert len(fake.sent(100001)) == 1
    edits = fake.calls_to("editMessageText", 100001)
    assert [e.status for e in edits] == [200, 400]
    assert "anche su: Calciomercato.com" in (fake.message_text(100001, message_id) or "")
    assert outbox.status(2) == "sent"
    assert outbox.status(3) == "dropped"  # the message is gone: no new one instead


async def test_many_alerts_at_once_arrive_as_one_digest(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    for n in range(1, 9):
        outbox.add(alert(n, chat_id="42", subscriber_id=1, story_id=f"s{n}", title=f"Notizia {n}"))
    outbox.add(alert(20, chat_id="42", subscriber_id=1, story_id="s1", title="Notizia 1 bis"))
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    (digest,) = fake.sent(42)
    assert digest.params["text"].startswith("📰 <b>8 notizie per te</b>")
    assert all(f"Notizia {n}" in digest.params["text"] for n in range(1, 9))
    assert "bis" not in digest.params["text"]  # one story, one mention
    assert all(r.status == "sent" for r in outbox.rows.values())


async def test_alerts_held_by_a_mute_arrive_as_a_digest(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    for n in range(1, 3):
        outbox.add(alert(n, chat_id="42", subscriber_id=1, story_id=f"s{n}"))
    clock.advance(3 * 3600)  # the mute ended three hours after the stories
    sender = make_sender(bot, outbox, clock)

    await sender.deliver_pending()

    (digest,) = fake.sent(42)
    assert digest.params["text"].startswith("📰 <b>2 notizie per te</b>")


def test_real_limits_are_the_defaults() -> None:
    assert Limits() == Limits(30, 1.0, 1, 1.0, 20, 60.0, per_chat_burst=3)


async def test_stop_mid_broadcast_records_what_was_sent_and_releases_the_rest(
    bot: Bot, fake: FakeBotApi, outbox: MemoryOutbox, clock: VirtualClock
) -> None:
    for n in range(1, 101):
        outbox.add(alert(n))
    sender = make_sender(bot, outbox, clock, claim_for=120.0)
    stop = asyncio.Event()
    ticks = 0

    async def sleep_then_stop(seconds: float) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 2:
            stop.set()  # SIGTERM arrives during the broadcast
        await clock.sleep(seconds)

    sender.sleep = sleep_then_stop
    await asyncio.wait_for(sender.run(stop), timeout=10)

    sent = {int(c.chat_id) - 100000 for c in fake.sent()}
    assert 0 < len(sent) < 100
    for n, row in outbox.rows.items():
        assert row.status == ("sent" if n in sent else "pending")
        assert row.claimed_until is None  # nothing left leased: a restart sends it at once
