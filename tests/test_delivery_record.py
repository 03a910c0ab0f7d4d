"""A sent message is recorded once, whatever the store does: a digest's rows are recorded in one
transaction right after its single send, and a store error while recording retries the record,
never the send. The database is really locked (another SQLite connection holds a write
transaction); the Bot API is the fake one on a loopback port; time is virtual."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.dedup import ingest
from bot.models import Feed, Item, Match
from bot.store import Store
from bot.telegram.sender import Sender
from tests.fakebotapi import FakeBotApi, VirtualClock

T0 = datetime(2026, 3, 6, 8, 0, tzinfo=UTC)
CHAT = "1001"
FEED = Feed("Tuttomercatoweb", "https://tmw.example/rss")
TITLES = [f"Milan, notizia numero {n}" for n in range(1, 31)]  # 30 stories: one digest
TITLES[3] = "Milan, Leao salta il derby: lesione al flessore della coscia destra"


class Locker:
    """Another connection to the same SQLite file that holds a write transaction on demand."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.held = False

    def lock(self) -> None:
        if not self.held:
            self.conn.execute("BEGIN IMMEDIATE")
            self.held = True

    def unlock(self) -> None:
        if self.held:
            self.conn.execute("ROLLBACK")
            self.held = False


class LockedOnRecord:
    """The real store, except that the database gets locked the moment a send is recorded."""

    def __init__(self, store: Store, locker: Locker) -> None:
        self.store = store
        self.locker = locker
        self.records = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def mark_sent_many(self, alert_ids: Sequence[int], **kw: Any) -> None:
        self.records += 1
        if self.records == 1:
            self.locker.lock()
        self.store.mark_sent_many(alert_ids, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store.open(f"sqlite:///{tmp_path / 'state.db'}", busy_timeout=0.05)
    yield db
    db.close()


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=f"{fake.url}/bot") as tg:
        yield tg


def milan(item: Item) -> list[Match]:
    return [Match("milan", "Milan", "Milan", 100.0)]


def owe_thirty_alerts(store: Store) -> None:
    subscriber = store.subscriber(CHAT)
    assert subscriber is not None
    store.subscribe(subscriber.id, "list", "milan")
    items = [
        Item((f"guid:{n}",), title, "", f"https://tmw.example/{n}", FEED.name, FEED.url, T0)
        for n, title in enumerate(TITLES)
    ]

    ingest(store, FEED, items, milan, now=T0, backlog=False)
    assert store.outbox_depth() == 30


def sender_for(bot: Bot, store: Any, clock: VirtualClock, on_sleep: Any = None) -> Sender:
    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if on_sleep is not None:
            on_sleep()

    return Sender(
        bot,
        store,
        clock=clock,
        sleep=sleep,
        now=lambda: T0 + timedelta(seconds=clock() - 1000.0),
        claim_for=120.0,
    )


async def test_a_locked_database_while_recording_retries_the_record_not_the_send(
    tmp_path: Path, store: Store, bot: Bot, fake: FakeBotApi
) -> None:
    owe_thirty_alerts(store)
    locker = Locker(tmp_path / "state.db")
    clock = VirtualClock()
    sleeps = 0

    def unlock_after_three_retries() -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 3:
            locker.unlock()

    sender = sender_for(bot, LockedOnRecord(store, locker), clock, unlock_after_three_retries)
    await sender.deliver_pending()
    clock.advance(600)  # well past the lease: nothing is due again
    await sender.deliver_pending()

    (digest,) = fake.sent(CHAT)
    assert digest.params["text"].startswith("📰")
    assert store.outbox_depth() == 0, "every row of the digest is recorded as sent"


async def test_a_database_locked_past_every_retry_is_recorded_before_anything_is_resent(
    tmp_path: Path, store: Store, bot: Bot, fake: FakeBotApi
) -> None:
    owe_thirty_alerts(store)
    locker = Locker(tmp_path / "state.db")
    clock = VirtualClock()
    sender = sender_for(bot, LockedOnRecord(store, locker), clock)

    await sender.deliver_pending()  # sent; every retry of the record meets the lock
    assert store.outbox_depth() == 30
    clock.advance(600)  # the lease ran out while the database stayed locked
    await sender.deliver_pending()  # still locked: nothing is claimed, nothing resent
    locker.unlock()
    await sender.deliver_pending()  # the record is written first; nothing is sent again

    assert len(fake.sent(CHAT)) == 1
    assert store.outbox_depth() == 0


async def test_a_later_outlet_of_a_story_delivered_in_a_digest_is_not_lost(
    store: Store, bot: Bot, fake: FakeBotApi
) -> None:
    owe_thirty_alerts(store)
    clock = VirtualClock()
    sender = sender_for(bot, store, clock)
    await sender.deliver_pending()
    (digest,) = fake.sent(CHAT)
    assert digest.params["text"].startswith("📰")

    def brings(source: str, n: int) -> None:
        later = Item(
            (f"guid:{source}:{n}",),
            TITLES[3],  # the same news, from another outlet
            "",
            f"https://{source.lower()}.example/{n}",
            source,
            f"https://{source.lower()}.example/rss",
            T0 + timedelta(hours=1),
        )
        feed = Feed(source, later.feed_url)
        result = ingest(store, feed, [later], milan, now=T0 + timedelta(hours=1), backlog=False)
        assert result.updates == 1

    brings("Sportmediaset", 1)
    clock.advance(3600)
    await sender.deliver_pending()
    digest_message, update = fake.sent(CHAT)
    text = str(update.params["text"])
    assert TITLES[3] in text and "Sportmediaset" in text
    reply = update.params["reply_parameters"]
    reply = json.loads(reply) if isinstance(reply, str) else reply
    assert reply["message_id"] == digest_message.result["message_id"]
    assert store.outbox_depth() == 0

    brings("Calciomercato.com", 2)  # a further outlet edits that message: no third message
    clock.advance(60)
    await sender.deliver_pending()
    assert len(fake.sent(CHAT)) == 2
    (edit,) = fake.calls_to("editMessageText", CHAT)
    assert int(edit.params["message_id"]) == update.result["message_id"]
    assert "Calciomercato.com" in str(edit.params["text"])
