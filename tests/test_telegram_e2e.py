"""End to end over HTTP: python-telegram-bot long-polls the fake Bot API (TELEGRAM_API_URL), a
user follows "Palestra", a story about him goes through the real dedup ingest into the real
store's outbox, and exactly one alert arrives, still exactly one after the bot restarts and the
feed lists the story again. A later outlet edits that message instead of sending another.

Waiting here is for real I/O (updates fetched by long polling, messages sent over HTTP): each
wait polls a condition with a short timeout and never sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from telegram.error import Conflict

from bot.config import Settings
from bot.dedup import ingest
from bot.match import Matcher, personal_watchlist
from bot.models import Feed, Item, Term, Watchlist
from bot.store import Store
from bot.telegram.app import TelegramService, deliver_once
from tests.fakebotapi import FakeBotApi

USER = 1001
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TITLE = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"
LINK = "https://www.tuttomercatoweb.com/serie-a/milan-allegri-indica-il-nome-palestra-1"
TMW = Feed("Tuttomercatoweb", "https://www.tuttomercatoweb.com/rss")
CM = Feed("Calciomercato.com", "https://www.calciomercato.com/feed")


@pytest.fixture(autouse=True)
def bot_api_env(fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot finds the fake Bot API through the environment, as a deployment configures it."""
    monkeypatch.setenv("TELEGRAM_API_URL", fake.url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for something the bot does over the network; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out waiting for the bot"
        await asyncio.sleep(0.02)


def item(title: str, link: str, feed: Feed, published: datetime) -> Item:
    return Item(
        keys=(link,),
        title=title,
        summary="",
        link=link,
        source=feed.name,
        feed_url=feed.url,
        published=published,
    )


def poll(store: Store, feed: Feed, items: list[Item]) -> None:
    """What the pipeline does after parsing: match against every /watch term, ingest."""
    matcher = Matcher([personal_watchlist(t) for t in store.watched_terms()])
    ingest(
        store,
        feed,
        items,
        lambda it: matcher.match(it.title, it.summary),
        now=datetime.now(UTC),
        backlog=False,
    )


def alerts_to(fake: FakeBotApi) -> list[str]:
    return [c.params["text"] for c in fake.sent(USER) if str(c.params["text"]).startswith("⚽")]


async def test_follow_alert_restart_still_one(
    fake: FakeBotApi, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings()  # TELEGRAM_API_URL and the token come from the environment
    assert settings.telegram_api_url == fake.url
    fake.fail(
        "getUpdates",
        status=409,
        description="Conflict: terminated by other getUpdates request",
    )
    service = TelegramService(settings, store, watchlists=list, tick=0.2)
    await service.start()
    try:
        menus = fake.calls_to("setMyCommands")
        assert [c.params.get("language_code") for c in menus] == [None, "it", "en"]
        assert menus[2].params["commands"][0]["description"].startswith("Follow a name")

        fake.user_message("/start")
        fake.user_message("/watch Palestra")
        await until(lambda: len(fake.sent(USER)) >= 2)
        assert fake.sent(USER)[1].params["text"].startswith("✅ Ora segui <b>Palestra</b>.")
        assert len(fake.sent(USER)) == 2  # one answer to /watch, preview included

        now = datetime.now(UTC)
        poll(store, TMW, [item(TITLE, LINK, TMW, now - timedelta(minutes=2))])
        poll(store, TMW, [item("Allenarsi in palestra", "https://x.it/gym", TMW, now)])
        service.wake()
        await until(lambda: len(alerts_to(fake)) == 1)
        (call,) = [c for c in fake.sent(USER) if str(c.params["text"]).startswith("⚽")]
        lines = call.params["text"].splitlines()
        assert lines[0] == f'⚽ <a href="{LINK}"><b>{TITLE}</b></a>'
        assert lines[1].startswith("Tuttomercatoweb · ")
        assert lines[2:] == ["Segui: Palestra"]
        assert call.params["link_preview_options"] == {"is_disabled": True}
        buttons = call.params["reply_markup"]["inline_keyboard"][0]
        assert [b["text"] for b in buttons] == [
            "🔕 Non seguire più Palestra",
            "🔇 Silenzia la notizia",
        ]
    finally:
        await service.stop()
    assert any("409 Conflict: another process" in r.message for r in caplog.records)

    restarted = TelegramService(settings, store, watchlists=list, tick=0.2)
    await restarted.start()
    try:
        poll(store, TMW, [item(TITLE, LINK + "?utm_source=rss", TMW, now)])  # listed again
        await restarted.sender.deliver_pending()
        assert len(alerts_to(fake)) == 1  # not after a restart, not when listed again

        before = len(fake.calls_to("editMessageText"))
        title = "Milan, Allegri indica il nome: assalto a Palestra dell'Atalanta"
        poll(store, CM, [item(title, "https://www.calciomercato.com/palestra", CM, now)])
        await restarted.sender.deliver_pending()
        edits = fake.calls_to("editMessageText")[before:]
        assert len(alerts_to(fake)) == 1  # the same story from another outlet: no new message
        (edit,) = edits
        assert edit.params["message_id"] == str(call.result["message_id"])
        assert "Tuttomercatoweb · " in edit.params["text"]
        cm_link = '<a href="https://www.calciomercato.com/palestra">Calciomercato.com</a>'
        assert f"· anche su: {cm_link}" in edit.params["text"]
        assert edit.params["link_preview_options"] == {"is_disabled": True}
    finally:
        await restarted.stop()
    assert store.outbox_depth() == 0


async def test_conflict_is_logged_clearly_once_a_minute(
    fake: FakeBotApi, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service = TelegramService(Settings(), store, watchlists=list, tick=0.2)
    for _ in range(5):
        service._polling_error(Conflict("Conflict: terminated by other getUpdates request"))
    conflicts = [r for r in caplog.records if "409 Conflict" in r.message]
    assert len(conflicts) == 1
    await service.application.shutdown()


def webhook_service(store: Store, port: int) -> tuple[str, TelegramService]:
    """A service taking updates by webhook on a loopback port, and the webhook's URL."""
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = Settings(newsbot_webhook_url=url, newsbot_webhook_listen=f"127.0.0.1:{port}")
    return url, TelegramService(settings, store, watchlists=list, tick=0.2)


async def test_webhook_mode_registers_the_url_and_answers_updates_posted_to_it(
    fake: FakeBotApi, store: Store, unused_tcp_port: int
) -> None:
    """NEWSBOT_WEBHOOK_URL switches from long polling to a webhook listener: Telegram is told
    the URL with a secret, and an update POSTed there (with that secret) is answered."""
    url, service = webhook_service(store, unused_tcp_port)
    await service.start()
    try:
        (registered,) = fake.calls_to("setWebhook")
        assert registered.params["url"] == url
        secret = registered.params["secret_token"]
        assert fake.calls_to("getUpdates") == []
        update = fake.user_message("/start")
        async with httpx.AsyncClient() as client:
            wrong = await client.post(url, json=update, headers={SECRET_HEADER: "nope"})
            assert wrong.status_code == 403
            right = await client.post(url, json=update, headers={SECRET_HEADER: secret})
            assert right.status_code == 200
        await until(lambda: len(fake.sent(USER)) == 1)
        assert fake.sent(USER)[0].params["text"].startswith("👋 Ciao!")
    finally:
        await service.stop()


async def test_webhook_skips_a_malformed_update_once_and_serves_the_next(
    fake: FakeBotApi, store: Store, unused_tcp_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An update the library cannot parse is answered 200 and logged once, so Telegram does not
    re-send it and hold every later update behind it (as a 400 made it do)."""
    url, service = webhook_service(store, unused_tcp_port)
    await service.start()
    try:
        (registered,) = fake.calls_to("setWebhook")
        secret = {SECRET_HEADER: registered.params["secret_token"]}
        malformed = {"update_id": 900_001, "message": {"message_id": 7}}
        async with httpx.AsyncClient() as client:
            wrong = await client.post(url, json=malformed, headers={SECRET_HEADER: "nope"})
            assert wrong.status_code == 403  # the secret is still checked first
            bad = await client.post(url, json=malformed, headers=secret)
            assert bad.status_code == 200
            good = await client.post(url, json=fake.user_message("/start"), headers=secret)
            assert good.status_code == 200
        await until(lambda: len(fake.sent(USER)) == 1)
        assert fake.sent(USER)[0].params["text"].startswith("👋 Ciao!")
    finally:
        await service.stop()
    skipped = [r for r in caplog.records if "900001" in r.getMessage()]
    assert len(skipped) == 1 and skipped[0].levelname == "WARNING"
    assert not [r for r in caplog.records if r.levelname == "CRITICAL"]


async def test_poll_once_delivers_without_receiving_updates(fake: FakeBotApi, store: Store) -> None:
    """`newsbot poll --once` with a token: what is due goes out, no getUpdates, no webhook."""
    sub = store.subscriber(str(USER))
    assert sub is not None
    store.subscribe(sub.id, "list", "milan")
    milan = Watchlist("milan", (Term("Palestra"),), "AC Milan")
    matcher = Matcher([milan])
    now = datetime.now(UTC)
    items = [item(TITLE, LINK, TMW, now)]
    ingest(store, TMW, items, lambda it: matcher.match(it.title), now=now, backlog=False)

    await deliver_once(Settings(), store, SimpleNamespace(watchlists=[milan]))
    await deliver_once(Settings(), store, SimpleNamespace(watchlists=[milan]))

    (call,) = fake.sent(USER)
    assert call.params["text"].splitlines()[-1] == "Lista: AC Milan"
    assert [b["text"] for b in call.params["reply_markup"]["inline_keyboard"][0]] == [
        "🚫 Escludi Palestra",
        "🔕 Lascia AC Milan",
    ]
    assert fake.calls_to("getUpdates") == []


@pytest.mark.parametrize("paid", [False, True])
async def test_paid_broadcast_is_opt_in(fake: FakeBotApi, store: Store, paid: bool) -> None:
    """NEWSBOT_PAID_BROADCAST: alerts are sent with allow_paid_broadcast (Telegram then allows
    1,000 a second, for a fee) and the overall limit rises to match; off, nothing changes."""
    sub = store.subscriber(str(USER))
    assert sub is not None
    store.subscribe(sub.id, "list", "milan")
    milan = Watchlist("milan", (Term("Palestra"),), "AC Milan")
    matcher = Matcher([milan])
    now = datetime.now(UTC)
    items = [item(TITLE, LINK, TMW, now)]
    ingest(store, TMW, items, lambda it: matcher.match(it.title), now=now, backlog=False)

    settings = Settings(newsbot_paid_broadcast=paid)
    await deliver_once(settings, store, SimpleNamespace(watchlists=[milan]))

    (call,) = fake.sent(USER)
    assert call.params.get("allow_paid_broadcast") == ("true" if paid else None)
    service = TelegramService(settings, store, watchlists=list)
    assert service.limiter.limits.overall == (1000 if paid else 30)
    assert service.limiter.limits.per_chat == 1  # per-chat limits are not for sale
