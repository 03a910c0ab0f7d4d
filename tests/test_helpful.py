"""Free text, near misses, onboarding, /settings and /stats as users meet them: updates fed to
the service's Application, answers read at the fake Bot API, the real store and the shipped
watchlists underneath."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.config import Settings
from bot.store import Store
from bot.telegram.app import TelegramService, publish_commands
from bot.watchlists import load_watchlists
from tests.fakebotapi import Call, FakeBotApi, VirtualClock

ROOT = Path(__file__).resolve().parents[1]
USER = 1001
ADMIN = 42


class Bot:
    """The Application fed one update at a time; what it sent because of each."""

    def __init__(self, service: TelegramService, fake: FakeBotApi) -> None:
        self.service = service
        self.fake = fake

    async def send(self, update: dict[str, Any]) -> list[Call]:
        before = len(self.fake.calls)
        app = self.service.application
        await app.process_update(Update.de_json(update, app.bot))
        wanted = ("sendMessage", "editMessageText", "answerCallbackQuery")
        return [c for c in self.fake.calls[before:] if c.method in wanted]

    async def say(self, text: str, **kw: Any) -> list[Call]:
        return [c for c in await self.send(self.fake.user_message(text, **kw))]

    async def text(self, text: str, **kw: Any) -> str:
        (call,) = [c for c in await self.say(text, **kw) if c.method == "sendMessage"]
        return str(call.params["text"])

    async def press(self, data: str, message_id: int = 1, **kw: Any) -> list[Call]:
        return await self.send(self.fake.callback(data, message_id=message_id, **kw))


def buttons(call: Call) -> list[tuple[str, str]]:
    rows = call.params.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


@pytest.fixture
async def bot(fake: FakeBotApi, store: Store) -> AsyncIterator[Bot]:
    watchlists, problems = load_watchlists(ROOT / "watchlists")
    assert problems == []
    settings = Settings(
        telegram_bot_token=fake.token, telegram_api_url=fake.url, newsbot_admins=str(ADMIN)
    )
    clock = VirtualClock()
    registry = SimpleNamespace(watchlists=watchlists)
    service = TelegramService(settings, store, registry, clock=clock, sleep=clock.sleep)
    await service.application.initialize()
    yield Bot(service, fake)
    await service.application.shutdown()


def followed(store: Store, chat_id: int = USER) -> list[tuple[str, str]]:
    sub = store.subscriber(str(chat_id), create=False)
    assert sub is not None
    return store.subscriptions(sub.id)


# -- free text ---------------------------------------------------------------------------------
async def test_help_thanks_and_greetings_in_free_text(bot: Bot) -> None:
    assert (await bot.text("aiuto")).startswith("<b>Comandi</b>")
    assert (await bot.text("?")).startswith("<b>Comandi</b>")
    assert (await bot.text("help", language="en")).startswith("<b>Commands</b>")
    assert (await bot.text("grazie!")).startswith("Prego! 😊")
    (hello,) = [c for c in await bot.say("ciao") if c.method == "sendMessage"]
    assert hello.params["text"].startswith("👋 Ciao!")
    assert ("➕ AC Milan", "sl|list|milan") in buttons(hello)


async def test_follow_intents_answer_with_buttons_for_lists_and_terms(
    bot: Bot, store: Store
) -> None:
    (milan,) = [c for c in await bot.say("voglio seguire il Milan") if c.method == "sendMessage"]
    assert milan.params["text"].startswith("Ecco cosa ho trovato per «Milan»")
    assert ("📋 Lista AC Milan", "sl|list|milan") in buttons(milan)
    (juve,) = [c for c in await bot.say("follow Juventus", language="en")]
    assert ("📋 List Juventus", "sl|list|juventus") in buttons(juve)
    (palestra,) = [c for c in await bot.say("segui Palestra") if c.method == "sendMessage"]
    assert ("➕ Marco Palestra", "wt|term|Marco Palestra") in buttons(palestra) or any(
        data.startswith("wt|term|") and "Palestra" in data for _, data in buttons(palestra)
    )
    assert followed(store) == []  # nothing followed until a button is pressed

    pressed = await bot.press("sl|list|milan")
    assert followed(store) == [("list", "milan")]
    assert pressed[0].params["text"] == "Segui: AC Milan"


async def test_a_name_alone_offers_to_follow_it(bot: Bot, store: Store) -> None:
    (offer,) = [c for c in await bot.say("Leão") if c.method == "sendMessage"]
    assert "/watch Leão" not in offer.params["text"]
    assert any("Leão" in data for _, data in buttons(offer))
    (toast, edit) = await bot.press("wt|term|Leão", message_id=9)
    assert toast.params["text"] == "Segui: Leão"
    assert edit.params["text"].startswith("✅ Ora segui <b>Leão</b>.")
    assert followed(store) == [("term", "Leão")]


# -- near misses -------------------------------------------------------------------------------
async def test_watch_a_misspelt_name_suggests_the_known_one(bot: Bot, store: Store) -> None:
    (reply,) = [c for c in await bot.say("/watch Pulsic") if c.method == "sendMessage"]
    assert reply.params["text"].startswith("Non conosco «Pulsic». Forse cercavi")
    assert buttons(reply)[0] == ("➕ Christian Pulisic", "wt|term|Christian Pulisic")
    assert ("➕ «Pulsic» così", "wt|term|Pulsic") in buttons(reply)
    assert followed(store) == []
    await bot.press("wt|term|Christian Pulisic")
    assert followed(store) == [("term", "Christian Pulisic")]


async def test_watch_an_ordinary_word_in_lower_case_warns(bot: Bot, store: Store) -> None:
    (reply,) = [c for c in await bot.say("/watch palestra") if c.method == "sendMessage"]
    assert reply.params["text"].startswith("⚠️ «palestra» in minuscolo è anche una parola comune")
    assert buttons(reply) == [
        ("➕ «Palestra» così", "wt|term|Palestra"),
        ("➕ «palestra» così", "wt|term|palestra"),
    ]
    assert followed(store) == []


async def test_watch_says_when_a_followed_list_already_has_the_name(bot: Bot, store: Store) -> None:
    await bot.say("/subscribe milan")
    reply = await bot.text("/watch Pulisic")
    assert reply.startswith("Segui già <b>Christian Pulisic</b>: è nella lista <b>AC Milan</b>")
    assert followed(store) == [("list", "milan")]


async def test_subscribe_and_unwatch_near_misses(bot: Bot, store: Store) -> None:
    assert (await bot.text("/subscribe juve")).startswith("✅ Ora segui la lista <b>Juventus</b>")
    (unknown,) = [c for c in await bot.say("/subscribe interr") if c.method == "sendMessage"]
    assert unknown.params["text"].startswith("Non conosco la lista «interr». Forse cercavi:")
    assert buttons(unknown)[0][1] == "sl|list|inter"
    await bot.press("wt|term|Pulisic")
    (miss,) = [c for c in await bot.say("/unwatch Pulsic") if c.method == "sendMessage"]
    assert miss.params["text"] == "Non seguivi «Pulsic». Forse intendevi <b>Pulisic</b>?"
    assert buttons(miss) == [("🔕 Non seguire più Pulisic", "rm|term|Pulisic")]


async def test_unknown_commands_and_aliases(bot: Bot, store: Store) -> None:
    assert (await bot.text("/wacth Leão")).startswith("Non conosco /wacth. Forse intendevi /watch?")
    assert (await bot.text("/xyzzy")).startswith("Non conosco questo comando.")
    assert (await bot.text("/segui Leão")).startswith("✅ Ora segui <b>Leão</b>.")
    assert (await bot.text("/follow Gila", language="en")).startswith("✅ You now follow")
    assert followed(store) == [("term", "Leão"), ("term", "Gila")]


async def test_settings_show_and_change_with_buttons(bot: Bot, store: Store) -> None:
    (settings,) = [c for c in await bot.say("/impostazioni") if c.method == "sendMessage"]
    assert settings.params["text"].startswith("⚙️ <b>Impostazioni</b>\nLingua: italiano")
    assert "Ore di silenzio: nessuna" in settings.params["text"]
    assert ("🌙 Silenzio 23–7", "st|quiet") in buttons(settings)
    calls = await bot.press("st|quiet", message_id=5)
    redrawn = next(c for c in calls if c.method == "editMessageText")
    assert "Ore di silenzio: dalle 23:00 alle 07:00" in redrawn.params["text"]
    assert ("🌙 Togli il silenzio", "st|quiet_off") in buttons(redrawn)
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and (sub.quiet_start, sub.quiet_end) == ("23:00", "07:00")
    assert (await bot.text("/settings", language="en")).startswith("⚙️ <b>Settings</b>")


# -- onboarding --------------------------------------------------------------------------------
async def test_start_greets_with_buttons(bot: Bot) -> None:
    (start,) = [c for c in await bot.say("/start") if c.method == "sendMessage"]
    assert start.params["text"].startswith("👋 Ciao!")
    labels = [label for label, _ in buttons(start)]
    assert labels[:4] == [
        "➕ AC Milan",
        "➕ FC Internazionale",
        "➕ Juventus",
        "➕ SSC Napoli",
    ] or (len([label for label in labels if label.startswith("➕ ")]) == 4)
    assert {
        "⚽ Segui un giocatore",
        "📋 Tutte le liste",
        "❓ Aiuto",
        "🌐 Lingua / Language",
    } <= set(labels)
    calls = await bot.press("st|player")
    assert "Scrivimi il nome del giocatore" in calls[-1].params["text"]


async def test_deep_link_subscribes_to_the_list(bot: Bot, store: Store) -> None:
    reply = await bot.text("/start milan")
    assert reply.startswith("✅ Ora segui la lista <b>AC Milan</b>.\n\n👋 Ciao!")
    assert followed(store) == [("list", "milan")]
    unknown = await bot.text("/start sassuolo", user_id=2002)
    assert unknown.startswith("Il link chiedeva la lista «sassuolo», che non conosco.")


async def test_start_after_stop_says_what_is_still_active(bot: Bot, store: Store) -> None:
    await bot.say("/subscribe milan")
    await bot.say("/quiet 23-7")
    await bot.say("/mute 2h")
    await bot.say("/stop")
    reply = await bot.text("/start")
    assert reply.startswith("👋 Bentornato! Gli avvisi sono di nuovo attivi.\nSegui: AC Milan.")
    assert "🌙 Ore di silenzio: ogni giorno dalle 23:00 alle 07:00" in reply
    assert "🔇 Ma sei ancora in pausa fino a" in reply


async def test_descriptions_are_set_in_italian_and_english(bot: Bot, fake: FakeBotApi) -> None:
    await publish_commands(bot.service.application)
    assert fake.description(
        "description",
        "it",
    ).startswith("Ti avviso quando")  # type: ignore[union-attr]
    assert fake.description("description").startswith("Ti avviso quando")  # type: ignore[union-attr]
    assert fake.description("description", "en").startswith("I alert you")  # type: ignore[union-attr]
    assert fake.description("short_description", "en").startswith("Italian sports news")  # type: ignore[union-attr]


# -- /stats ------------------------------------------------------------------------------------
async def test_stats_count_real_subscribers_only(bot: Bot, store: Store) -> None:
    store.console_subscriber()
    await bot.say("/help", user_id=3003)  # only asked for help: no subscriber
    await bot.say("/subscribe milan", user_id=4004)  # follows and wrote: active
    sleeper = store.subscriber("5005")
    assert sleeper is not None
    store.subscribe(sleeper.id, "list", "inter")  # follows, silent for 40 days: not active
    store.touch(sleeper.id, datetime.now(UTC) - timedelta(days=40))
    stats = await bot.text("/stats", user_id=ADMIN)
    assert "Iscritti attivi: 1 / 2" in stats


async def test_in_a_group_members_see_no_settings_buttons(bot: Bot, fake: FakeBotApi) -> None:
    group = -6006
    fake.set_admins(group, {ADMIN})
    (member,) = await bot.say("/settings", user_id=USER, chat_id=group, chat_type="group")
    assert member.params["text"].startswith("⚙️ <b>Impostazioni</b>")
    assert buttons(member) == []
    (admin,) = await bot.say("/settings", user_id=ADMIN, chat_id=group, chat_type="group")
    assert ("🔇 Pausa 8 ore", "st|mute") in buttons(admin)


async def test_english_list_says_the_pause_ends_on_romes_clock(bot: Bot) -> None:
    await bot.say("/subscribe milan", language="en")
    await bot.say("/mute until 7am", language="en")
    listing = await bot.text("/list", language="en")
    assert "🔇 Paused until " in listing and ", 07:00 (Rome time)." in listing
