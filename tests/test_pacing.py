"""Every message the bot sends goes through ONE limiter: command replies as well as alerts.

In virtual time (see `VirtualClock`), through the fake Bot API: one chat types 60 /watch while
a story fans out to 300 subscribers and a group receives 30 stories. Counted at the fake, per
sliding second: never more than 30 messages overall, a burst of at most 3 and then one a second
per chat, at most 20 a minute per group; and every reply still arrives, in order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from telegram import Update

from bot.config import Settings
from bot.dedup import ingest
from bot.models import Feed, Item, Match
from bot.store import Store
from bot.subscribers import SubscriberRecord
from bot.telegram.app import TelegramService
from tests.fakebotapi import Call, FakeBotApi, VirtualClock, max_in_window

SPAMMER = 1001
GROUP = -100500
TMW = Feed("Tuttomercatoweb", "https://www.tuttomercatoweb.com/rss")


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(clock: VirtualClock) -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi(clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
async def service(
    fake: FakeBotApi, store: Store, clock: VirtualClock
) -> AsyncIterator[TelegramService]:
    settings = Settings(telegram_bot_token=fake.token, telegram_api_url=fake.url)
    service = TelegramService(
        settings, store, SimpleNamespace(watchlists=[]), clock=clock, sleep=clock.sleep
    )

    async def settle() -> None:
        await service.sender.wait_idle()
        await service.pacer.wait_idle()

    clock.settle = settle
    clock.busy = lambda: bool(service.sender._in_flight) or service.pacer.in_flight > 0
    await service.application.initialize()
    yield service
    await service.application.shutdown()


def owe_stories(store: Store, chat_ids: list[int], watchlist: str, stories: int = 1) -> None:
    """`stories` stories owed to each chat (following `watchlist`), as matching leaves them."""
    now = datetime.now(UTC)
    store.import_subscribers(
        [
            SubscriberRecord(chat_id=c, type="group" if c < 0 else "private", lists=(watchlist,))
            for c in chat_ids
        ]
    )
    match = Match(watchlist, "Milan", "Milan", 100.0)
    items = [
        Item(
            keys=(f"https://tmw.example/{watchlist}/{n}",),
            title=f"Notizia {n}: il Milan e un mercato che cambia ogni giorno {n * 7919}",
            summary="",
            link=f"https://tmw.example/{watchlist}/{n}",
            source=TMW.name,
            feed_url=TMW.url,
            published=now,
        )
        for n in range(stories)
    ]
    ingest(store, TMW, items, lambda it: [match], now=now, backlog=False)


def by_chat(calls: list[Call]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        times[call.chat_id].append(call.at)
    return times


async def test_one_limiter_for_replies_and_alerts(
    service: TelegramService, fake: FakeBotApi, store: Store
) -> None:
    app = service.application
    owe_stories(store, list(range(5001, 5301)), "milan")  # 300 subscribers, one story
    owe_stories(store, [GROUP], "gruppo", stories=30)  # a group with thirty stories
    service.sender.digest_threshold = 1000  # thirty separate messages, to test the group limit

    updates = [
        Update.de_json(fake.user_message(f"/watch Giocatore{n}", user_id=SPAMMER), app.bot)
        for n in range(60)
    ]
    handled = [
        asyncio.ensure_future(app.update_processor.process_update(u, app.process_update(u)))
        for u in updates
    ]
    await asyncio.gather(service.sender.deliver_pending(), *handled)

    sent = [c for c in fake.sent() if c.method == "sendMessage"]
    times = [c.at for c in sent]
    assert max_in_window(times, 1.0) <= 30  # overall, replies and alerts together
    chats = by_chat(sent)
    replies = chats[str(SPAMMER)]
    assert len(replies) == 60  # one reply per /watch: 50 accepted, then "at most 50"
    assert max_in_window(replies, 1.0) <= 3
    assert max_in_window(replies, 10.0) <= 3 + 10
    texts = [str(c.params["text"]) for c in sent if c.chat_id == str(SPAMMER)]
    assert texts[0].startswith("✅ Ora segui <b>Giocatore0</b>")  # in order
    assert texts[-1].startswith("Segui già 50 nomi")
    assert max_in_window(chats[str(GROUP)], 60.0) <= 20
    assert all(len(chats[str(c)]) == 1 for c in range(5001, 5301))
    assert all(max_in_window(t, 1.0) <= 3 for t in chats.values())
