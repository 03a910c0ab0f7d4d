"""A pause as a subscriber lives it, through the fake Bot API and the real store: what arrives
during a mute or quiet hours comes afterwards as ONE digest (linked titles, outlet, time) whose
button opens the full list page by page in the same message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.config import Settings
from bot.dedup import ingest
from bot.match import Matcher, personal_watchlist
from bot.models import Feed, Item
from bot.store import Store
from bot.telegram.app import TelegramService
from bot.timefmt import ROME
from tests.fakebotapi import FakeBotApi, VirtualClock

USER = 1001
TMW = Feed("Tuttomercatoweb", "https://www.tuttomercatoweb.com/rss")
# Eight different stories about one player (written for this test).
HEADLINES = (
    "Milan, Allegri indica il nome: assalto a Palestra",
    "Palestra convocato in Under 21 da Baldini",
    "Infortunio in allenamento, Palestra salta il Como",
    "Palestra rinnova fino al 2030: firma a Bergamo",
    "Inter su Palestra: Marotta prepara l'offerta",
    "Palestra migliore in campo contro la Lazio",
    "Juventus, sondaggio di Giuntoli per Palestra",
    "Napoli, Conte chiede Palestra a De Laurentiis",
)


@pytest.fixture
async def service(fake: FakeBotApi, store: Store) -> AsyncIterator[TelegramService]:
    settings = Settings(telegram_bot_token=fake.token, telegram_api_url=fake.url)
    clock = VirtualClock()  # every message is paced: in virtual time here
    watchlists = SimpleNamespace(watchlists=[])
    service = TelegramService(settings, store, watchlists, clock=clock, sleep=clock.sleep)
    await service.application.initialize()
    yield service
    await service.application.shutdown()


async def say(service: TelegramService, fake: FakeBotApi, text: str, **kw: Any) -> None:
    app = service.application
    await app.process_update(Update.de_json(fake.user_message(text, **kw), app.bot))


async def press(service: TelegramService, fake: FakeBotApi, data: str, message_id: int) -> None:
    app = service.application
    await app.process_update(Update.de_json(fake.callback(data, message_id=message_id), app.bot))


def news(store: Store, count: int) -> None:
    """`count` stories about Palestra, matched and owed as the pipeline does."""
    now = datetime.now(UTC)
    matcher = Matcher([personal_watchlist(t) for t in store.watched_terms()])
    items = [
        Item(
            keys=(f"https://www.tuttomercatoweb.com/palestra-{n}",),
            title=HEADLINES[n],
            summary="",
            link=f"https://www.tuttomercatoweb.com/palestra-{n}",
            source=TMW.name,
            feed_url=TMW.url,
            published=now - timedelta(minutes=1),
        )
        for n in range(count)
    ]
    ingest(
        store, TMW, items, lambda it: matcher.match(it.title, it.summary), now=now, backlog=False
    )


def stories_sent(fake: FakeBotApi) -> list[Any]:
    """Messages about news (alerts and digests), not command replies."""
    return [c for c in fake.sent(USER) if str(c.params["text"]).startswith(("⚽", "📰"))]


@pytest.mark.parametrize("count", [2, 5, 8])
async def test_what_a_mute_held_arrives_as_one_digest(
    service: TelegramService, fake: FakeBotApi, store: Store, count: int
) -> None:
    await say(service, fake, "/watch Palestra")
    await say(service, fake, "/mute 2h")
    news(store, count)
    await service.sender.deliver_pending()
    assert stories_sent(fake) == []  # muted: nothing yet

    await say(service, fake, "/unmute")
    reply = fake.sent(USER)[-1].params["text"]
    assert reply == (
        "🔔 Avvisi di nuovo attivi.\n"
        f"Le notizie arrivate durante la pausa ({count}) ti arrivano ora in un riepilogo."
    )
    await service.sender.deliver_pending()

    (digest,) = stories_sent(fake)
    text = digest.params["text"]
    assert text.startswith(f"📰 <b>{count} notizie per te</b>")
    first = f'• <a href="https://www.tuttomercatoweb.com/palestra-0">{HEADLINES[0]}</a>'
    assert first in text
    assert "\n   Tuttomercatoweb · " in text
    assert all(title in text for title in HEADLINES[:count])
    (button,) = digest.params["reply_markup"]["inline_keyboard"][0]
    assert button == {"text": f"📋 Elenco completo ({count})", "callback_data": "dg|1"}
    assert store.outbox_depth() == 0

    message_id = digest.result["message_id"]
    await press(service, fake, "dg|1", message_id)
    page = fake.calls_to("editMessageText")[-1]
    assert page.params["message_id"] == str(message_id)
    pages = -(-count // 5)
    assert page.params["text"].startswith(f"📰 <b>{count} notizie per te</b> · pagina 1/{pages}")
    assert "Segui: Palestra" in page.params["text"]
    nav = [b["callback_data"] for b in page.params["reply_markup"]["inline_keyboard"][0]]
    assert nav == (["dg|0", "dg|2"] if pages > 1 else ["dg|0"])
    await press(service, fake, "dg|0", message_id)
    assert fake.calls_to("editMessageText")[-1].params["text"] == text


async def test_unmute_when_nothing_is_paused_says_so(
    service: TelegramService, fake: FakeBotApi, store: Store
) -> None:
    await say(service, fake, "/unmute", language="en")
    assert fake.sent(USER)[-1].params["text"] == "You were not paused: alerts are already on."


async def test_quiet_hours_hold_news_until_they_end_then_one_digest(
    service: TelegramService, fake: FakeBotApi, store: Store
) -> None:
    hour = datetime.now(ROME).hour
    await say(service, fake, "/watch Palestra")
    await say(service, fake, f"/quiet {hour}-{(hour + 2) % 24}")  # quiet right now
    news(store, 3)
    await service.sender.deliver_pending()
    assert stories_sent(fake) == []
    await say(service, fake, "/unmute")
    assert "Ma ora sei nelle ore di silenzio" in fake.sent(USER)[-1].params["text"]

    await say(service, fake, "/quiet off")
    await service.sender.deliver_pending()
    (digest,) = stories_sent(fake)
    assert digest.params["text"].startswith("📰 <b>3 notizie per te</b>")


async def test_one_fresh_story_is_still_an_alert(
    service: TelegramService, fake: FakeBotApi, store: Store
) -> None:
    await say(service, fake, "/watch Palestra")
    news(store, 1)
    await service.sender.deliver_pending()
    (alert,) = stories_sent(fake)
    assert alert.params["text"].startswith("⚽")
