"""The subscriber and admin commands, as a user would type them, answered through the fake Bot
API, with the real store underneath. Updates are handed to the Application one at a time so
each test reads the bot's answers right after the command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.config import Settings
from bot.dedup import ingest
from bot.match import Matcher
from bot.models import Feed, FeedState, Item, Term, Watchlist
from bot.reload import ReloadOutcome
from bot.store import Store
from bot.telegram.app import TelegramService
from bot.yamlfile import Problem
from tests.fakebotapi import FakeBotApi, VirtualClock

ADMIN = 42
USER = 1001
MILAN = Watchlist("milan", (Term("Milan"), Term("Christian Pulisic", ("Pulisic",))), "AC Milan")
INTER = Watchlist("inter", (Term("Inter"),), "FC Internazionale")


class Harness:
    """The service's Application fed one update at a time, plus the fake to read answers."""

    def __init__(self, service: TelegramService, fake: FakeBotApi) -> None:
        self.service = service
        self.fake = fake
        self.reloads = 0

    async def send(self, update: dict[str, Any]) -> list[str]:
        """Process one update; return the texts the bot sent (or edited) because of it."""
        before = len(self.fake.calls)
        app = self.service.application
        await app.process_update(Update.de_json(update, app.bot))
        new = self.fake.calls[before:]
        return [
            str(c.params.get("text", ""))
            for c in new
            if c.method in ("sendMessage", "editMessageText")
        ]

    async def say(self, text: str, **kw: Any) -> list[str]:
        return await self.send(self.fake.user_message(text, **kw))


@pytest.fixture
async def bot(fake: FakeBotApi, store: Store) -> AsyncIterator[Harness]:
    settings = Settings(
        telegram_bot_token=fake.token, telegram_api_url=fake.url, newsbot_admins=str(ADMIN)
    )
    outcome = ReloadOutcome(
        False,
        [Problem("watchlists/milan.yaml", 7, "a term can't be empty")],
        "refused: 1 problem(s); the last good version stays",
    )
    registry = SimpleNamespace(watchlists=[MILAN, INTER], last=outcome)  # last load refused
    clock = VirtualClock()  # replies are paced (burst 3, then 1 a second) in virtual time
    service = TelegramService(
        settings, store, registry, reload=lambda: outcome, clock=clock, sleep=clock.sleep
    )
    helper = Harness(service, fake)
    await service.application.initialize()
    yield helper
    await service.application.shutdown()


def subscriptions(store: Store, chat_id: int) -> list[tuple[str, str]]:
    sub = store.subscriber(str(chat_id), create=False)
    assert sub is not None
    return store.subscriptions(sub.id)


def add_story(store: Store, title: str, minutes_ago: int, source: str = "Tuttomercatoweb") -> None:
    now = datetime.now(UTC)
    item = Item(
        keys=(f"k:{title}",),
        title=title,
        summary="",
        link=f"https://example.it/{abs(hash(title))}",
        source=source,
        feed_url=f"https://{source}.example/rss",
        published=now - timedelta(minutes=minutes_ago),
    )
    feed = Feed(source, item.feed_url)
    ingest(store, feed, [item], lambda it: [], now=now, backlog=False)


async def test_start_answers_in_italian_or_english(bot: Harness, store: Store) -> None:
    (italian,) = await bot.say("/start")
    assert italian.startswith("👋 Ciao!")
    (english,) = await bot.say("/start", user_id=2002, language="en-GB")
    assert english.startswith("👋 Hi!")
    sub = store.subscriber("2002", create=False)
    assert sub is not None and sub.active and sub.language == "en"


async def test_watch_says_how_the_term_matches_and_shows_recent_stories(
    bot: Harness, store: Store
) -> None:
    add_story(store, "Milan, assalto a Palestra dell’Atalanta", 30)
    add_story(store, "Allenarsi in palestra: i consigli", 20)
    add_story(store, "Palestra, il Milan ci prova", 60 * 30)  # older than a day

    (added,) = await bot.say("/watch   Palestra ")  # one message, the preview included

    assert added.startswith("✅ Ora segui <b>Palestra</b>.")
    recent = added.split("\n\n", 1)[1]
    assert "non «palestra»" in added  # proper noun: not the gym
    assert recent.startswith("Le ultime notizie su Palestra (24 ore):")
    assert "assalto a Palestra dell’Atalanta" in recent
    assert "palestra: i consigli" not in recent
    assert "il Milan ci prova" not in recent
    assert subscriptions(store, USER) == [("term", "Palestra")]
    assert store.pending_alerts(datetime.now(UTC) + timedelta(days=1)) == []  # no backlog alert

    (again,) = await bot.say("/watch Palestra")
    assert again.startswith("Segui già <b>Palestra</b>")


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/watch", "Scrivi il nome da seguire"),
        ("/watch " + "a" * 61, "Troppo lungo: al massimo 60 caratteri."),
        ("/watch !!! ...", "non contiene lettere o cifre"),
        ("/watch Pale\u200bstra", "caratteri non validi"),
    ],
)
async def test_watch_refuses_what_cannot_be_matched(
    bot: Harness, store: Store, text: str, answer: str
) -> None:
    (reply,) = await bot.say(text)
    assert answer in reply
    assert subscriptions(store, USER) == []


async def test_watch_escapes_html_wherever_it_echoes_the_term(bot: Harness, store: Store) -> None:
    replies = await bot.say("/watch <b>Leão</b> & co")
    assert "&lt;b&gt;Leão&lt;/b&gt; &amp; co" in replies[0]
    assert all("<b>Leão" not in r for r in replies)
    (listing,) = await bot.say("/list")
    assert "&lt;b&gt;Leão&lt;/b&gt;" in listing


async def test_at_most_50_terms(bot: Harness, store: Store) -> None:
    sub = store.subscriber(str(USER))
    assert sub is not None
    for n in range(50):
        store.subscribe(sub.id, "term", f"Giocatore{n}")
    (reply,) = await bot.say("/watch Palestra")
    assert "Segui già 50 nomi" in reply
    assert ("term", "Palestra") not in subscriptions(store, USER)


async def test_unwatch_and_list_buttons_remove_terms_with_undo(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    await bot.say("/watch Palestra")
    await bot.say("/watch Leão")
    (listing,) = await bot.say("/list")
    assert "• Palestra\n• Leão" in listing
    keyboard = fake.sent(USER)[-1].params["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["❌ Palestra", "❌ Leão"]]

    (redrawn,) = await bot.send(fake.callback(keyboard[0][1]["callback_data"]))
    assert "Leão" not in redrawn
    assert fake.calls_to("answerCallbackQuery")[-1].params["text"] == "Tolto: Leão"
    assert subscriptions(store, USER) == [("term", "Palestra")]
    keyboard = fake.calls_to("editMessageText")[-1].params["reply_markup"]["inline_keyboard"]
    assert keyboard[0] == [{"text": "↩️ Annulla: Leão", "callback_data": "ra.0|term|Leão"}]
    (restored,) = await bot.send(fake.callback("ra.0|term|Leão"))
    assert "• Palestra\n• Leão" in restored
    assert subscriptions(store, USER) == [("term", "Palestra"), ("term", "Leão")]

    (done,) = await bot.say("/unwatch palestra")
    assert done == "🔕 Non segui più <b>Palestra</b>."
    (unknown,) = await bot.say("/unwatch Palestra")
    assert "Non seguivi" in unknown


async def test_a_long_list_is_one_message_in_pages_of_ten(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    sub = store.subscriber(str(USER))
    assert sub is not None
    for n in range(50):
        store.subscribe(sub.id, "term", f"Giocatore{n}")
    store.subscribe(sub.id, "list", "milan")
    store.exclude(sub.id, "milan", "Christian Pulisic")

    (first,) = await bot.say("/list")
    assert first.count("• ") == 10 and "Pagina 1 di 6" in first
    keyboard = fake.sent(USER)[-1].params["reply_markup"]["inline_keyboard"]
    assert len(keyboard) == 6  # five rows of two ❌, then ▶️
    assert keyboard[-1] == [{"text": "▶️", "callback_data": "pg|list|1"}]

    (last,) = await bot.send(fake.callback("pg|list|5"))
    assert "• 📋 AC Milan" in last
    assert "• 🚫 Christian Pulisic (escluso da AC Milan)" in last
    keyboard = fake.calls_to("editMessageText")[-1].params["reply_markup"]["inline_keyboard"]
    assert keyboard[0][1]["callback_data"] == "rx.5|milan|Christian Pulisic"
    assert keyboard[-1] == [{"text": "◀️", "callback_data": "pg|list|4"}]

    (back,) = await bot.send(fake.callback(keyboard[0][1]["callback_data"]))
    assert store.exclusions(sub.id) == []
    assert "Pagina 6 di 6" in back and "Christian Pulisic" not in back.split("\n", 1)[1]
    undo = fake.calls_to("editMessageText")[-1].params["reply_markup"]["inline_keyboard"][0][0]
    assert undo == {
        "text": "↩️ Annulla: Christian Pulisic",
        "callback_data": "ra.5|x:milan|Christian Pulisic",
    }
    await bot.send(fake.callback(undo["callback_data"]))
    assert store.exclusions(sub.id) == [("milan", "Christian Pulisic")]


def alert_markup(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    """An alert's inline keyboard as Telegram hands it back with a button press."""
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


def pressed(fake: FakeBotApi) -> list[list[tuple[str, str]]]:
    """The alert's keyboard after the last press (the bot edits it in place)."""
    markup = fake.calls_to("editMessageReplyMarkup")[-1].params["reply_markup"]
    return [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]


async def test_an_alert_button_unfollows_the_term_and_annulla_brings_it_back(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    await bot.say("/subscribe milan")
    await bot.say("/watch Palestra")
    markup = alert_markup(
        [("🔕 Non seguire più Palestra", "uf|term|Palestra"), ("🔇 Silenzia", "ss|story|s1")]
    )
    await bot.send(fake.callback("uf|term|Palestra", message_id=77, reply_markup=markup))
    assert subscriptions(store, USER) == [("list", "milan")]  # the list stays
    edit = fake.calls_to("editMessageReplyMarkup")[-1]
    assert edit.params["message_id"] == "77"
    assert pressed(fake) == [
        [("↩️ Annulla: Palestra", "rs|term|Palestra"), ("🔇 Silenzia", "ss|story|s1")]
    ]
    await bot.send(fake.callback("rs|term|Palestra", message_id=77, reply_markup=markup))
    assert subscriptions(store, USER) == [("list", "milan"), ("term", "Palestra")]
    assert fake.calls_to("answerCallbackQuery")[-1].params["text"] == "Ripristinato: Palestra"
    assert pressed(fake)[0][0] == ("🔕 Non seguire più Palestra", "uf|term|Palestra")


async def test_not_this_player_leave_the_list_and_silence_each_have_an_undo(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    await bot.say("/subscribe milan")
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None
    markup = alert_markup(
        [
            ("🚫 Escludi Christian Pulisic", "xp|milan|Christian Pulisic"),
            ("🔕 Lascia AC Milan", "uf|list|milan"),
        ],
        [("🔇 Silenzia la notizia", "ss|story|s1")],
    )
    await bot.send(fake.callback("xp|milan|Christian Pulisic", reply_markup=markup))
    assert store.exclusions(sub.id) == [("milan", "Christian Pulisic")]
    assert subscriptions(store, USER) == [("list", "milan")]  # only the player, not the list
    toast = fake.calls_to("answerCallbackQuery")[-1].params["text"]
    assert toast == "Niente più avvisi su Christian Pulisic dalla lista AC Milan."
    assert pressed(fake)[0][0] == ("↩️ Annulla: Christian Pulisic", "ux|milan|Christian Pulisic")
    await bot.send(fake.callback("ux|milan|Christian Pulisic", reply_markup=markup))
    assert store.exclusions(sub.id) == []

    await bot.send(fake.callback("uf|list|milan", reply_markup=markup))
    assert subscriptions(store, USER) == []
    assert pressed(fake)[0][1] == ("↩️ Annulla: AC Milan", "rs|list|milan")
    await bot.send(fake.callback("rs|list|milan", reply_markup=markup))
    assert subscriptions(store, USER) == [("list", "milan")]

    add_story(store, "Milan, Leão rinnova", 5)
    (story,) = store.recent_stories(datetime.now(UTC) - timedelta(hours=1))
    with store.transaction() as conn:
        store.enqueue_in(conn, sub.id, story.id, [], now=datetime.now(UTC))
    markup["inline_keyboard"][1][0]["callback_data"] = f"ss|story|{story.id}"
    await bot.send(fake.callback(f"ss|story|{story.id}", reply_markup=markup))
    assert fake.calls_to("answerCallbackQuery")[-1].params["text"].startswith("Notizia silenziata")
    assert pressed(fake)[1] == [("↩️ Annulla: notizia silenziata", f"us|story|{story.id}")]
    await bot.send(fake.callback(f"us|story|{story.id}", reply_markup=markup))
    assert fake.calls_to("answerCallbackQuery")[-1].params["text"].startswith("Aggiornamenti")


async def test_lists_subscribe_and_unsubscribe(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    (listing,) = await bot.say("/lists")
    assert "<b>AC Milan</b> — /subscribe milan (2 nomi)" in listing
    keyboard = fake.sent(USER)[-1].params["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0] == {"text": "➕ AC Milan", "callback_data": "sl|list|milan"}

    (redrawn,) = await bot.send(fake.callback("sl|list|milan"))
    assert "✅ <b>AC Milan</b>" in redrawn
    assert subscriptions(store, USER) == [("list", "milan")]

    (done,) = await bot.say("/subscribe FC Internazionale")
    assert done == "✅ Ora segui la lista <b>FC Internazionale</b>."
    (unknown,) = await bot.say("/subscribe juve")
    assert "Non conosco la lista «juve»" in unknown
    (left,) = await bot.say("/unsubscribe milan")
    assert left == "🔕 Hai lasciato la lista <b>AC Milan</b>."
    assert subscriptions(store, USER) == [("list", "inter")]


async def test_mute_and_unmute(bot: Harness, store: Store) -> None:
    (reply,) = await bot.say("/mute 2h")
    assert reply.startswith("🔇 In pausa fino a")
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and sub.muted_until is not None
    assert abs(sub.muted_until - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    (bad,) = await bot.say("/mute domani forse")
    assert bad.startswith("Non ho capito per quanto.") and "al massimo 30 giorni" in bad
    (long,) = await bot.say("/mute 40 giorni")
    assert long.startswith("Una pausa dura al massimo 30 giorni.")
    (back,) = await bot.say("/unmute")
    assert back == "🔔 Avvisi di nuovo attivi."
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and sub.muted_until is not None
    assert sub.muted_until <= datetime.now(UTC)  # the pause's end is kept: held = before it
    (again,) = await bot.say("/unmute")
    assert again == "Non eri in pausa: gli avvisi sono già attivi."


@pytest.mark.parametrize(
    "phrase", ["stanotte", "fino alle 8", "fino a domani", "domani", "9 hours", "30 min"]
)
async def test_mute_takes_what_people_write(bot: Harness, store: Store, phrase: str) -> None:
    (reply,) = await bot.say(f"/mute {phrase}")
    assert reply.startswith("🔇 In pausa fino a")
    assert "(Rome time)" not in reply


async def test_english_mute_says_the_times_are_romes(bot: Harness) -> None:
    (reply,) = await bot.say("/mute until 7am", language="en")
    assert reply.startswith("🔇 Paused until ") and ", 07:00 (Rome time)." in reply


async def test_quiet_hours_and_daily_digest(bot: Harness, store: Store) -> None:
    (none,) = await bot.say("/quiet")
    assert none.startswith("Nessuna ora di silenzio.")
    (done,) = await bot.say("/quiet 23-7")
    assert done.startswith("🌙 Ogni giorno dalle 23:00 alle 07:00 gli avvisi aspettano")
    (status,) = await bot.say("/quiet", language="en")
    assert status.startswith("🌙 Quiet hours: every day from 23:00 to 07:00 (Rome time).")
    (bad,) = await bot.say("/quiet sempre")
    assert bad.startswith("Scrivi l'intervallo")
    (digest,) = await bot.say("/digest 8:00")
    assert digest.startswith("📰 D'ora in poi un solo riepilogo al giorno, alle 08:00")
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None
    assert (sub.quiet_start, sub.quiet_end, sub.digest_at) == ("23:00", "07:00", "08:00")
    (unmute,) = await bot.say("/unmute")
    assert unmute.startswith("Non eri in pausa")
    (off,) = await bot.say("/quiet off")
    assert off == "🔔 Ore di silenzio tolte."
    (real_time,) = await bot.say("/digest off")
    assert real_time == "🔔 Di nuovo avvisi in tempo reale."
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and (sub.quiet_start, sub.digest_at) == (None, None)


async def test_stop_deactivates_and_start_reactivates(bot: Harness, store: Store) -> None:
    await bot.say("/watch Palestra")
    (bye,) = await bot.say("/stop")
    assert bye.startswith("👋 Non ti invierò più nulla.")
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and not sub.active
    await bot.say("/start")
    sub = store.subscriber(str(USER), create=False)
    assert sub is not None and sub.active
    assert subscriptions(store, USER) == [("term", "Palestra")]


async def test_in_a_group_only_administrators_change_what_it_follows(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    group = -5005
    fake.set_admins(group, {ADMIN})
    (refused,) = await bot.say("/watch Palestra", user_id=USER, chat_id=group, chat_type="group")
    assert "solo gli amministratori" in refused
    assert fake.calls_to("getChatMember")[-1].params["user_id"] == str(USER)

    replies = await bot.say(
        "/watch@newsbot_test_bot Palestra", user_id=ADMIN, chat_id=group, chat_type="group"
    )
    assert replies[0].startswith("✅ Ora il gruppo segue <b>Palestra</b>.")
    assert subscriptions(store, group) == [("term", "Palestra")]
    assert (
        await bot.say("/watch@other_bot Leão", user_id=ADMIN, chat_id=group, chat_type="group")
        == []
    )
    (listing,) = await bot.say("/list", user_id=USER, chat_id=group, chat_type="group")
    assert "Palestra" in listing  # anyone may look


async def test_a_channel_admin_subscribes_the_channel(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    channel = -1009009
    replies = await bot.send(fake.channel_post("/watch Palestra", chat_id=channel))
    assert replies[0].startswith("✅ Ora segui <b>Palestra</b>.")
    sub = store.subscriber(str(channel), create=False)
    assert sub is not None and sub.kind == "channel"
    assert subscriptions(store, channel) == [("term", "Palestra")]


async def test_admin_commands(bot: Harness, store: Store) -> None:
    store.save_feed_state("https://ok.example/rss", FeedState("https://ok.example/rss"))
    broken = FeedState("https://down.example/rss", failures=3, last_error="HTTP 503")
    store.save_feed_state("https://down.example/rss", broken)
    (refused,) = await bot.say("/stats")
    assert refused == "Comando riservato agli amministratori del bot."
    await bot.say("/subscribe milan", user_id=2002)
    (stats,) = await bot.say("/stats", user_id=ADMIN)
    assert "Iscritti attivi: 1 / 1" in stats  # who only typed commands is no subscriber
    assert "In coda: 0" in stats
    assert "Feed: 1 ok, 1 in errore\n  ⚠️ https://down.example/rss" in stats
    assert "Configurazione</b>: refused: 1 problem(s); the last good version stays" in stats
    assert "watchlists/milan.yaml:7: a term can" in stats
    (reload,) = await bot.say("/reload", user_id=ADMIN)
    assert "watchlists/milan.yaml:7: a term can&#x27;t be empty" in reload or (
        "watchlists/milan.yaml:7: a term can't be empty" in reload
    )
    (help_text,) = await bot.say("/help", user_id=ADMIN)
    assert "/stats" in help_text
    (user_help,) = await bot.say("/help")
    assert "/stats" not in user_help


async def test_unknown_commands_and_free_text_get_a_helpful_answer(bot: Harness) -> None:
    (unknown,) = await bot.say("/foo")
    assert unknown == "Non conosco questo comando. /help per l'elenco."
    (text,) = await bot.say("Leão")
    assert text == "Vuoi seguire «Leão»? Tocca il pulsante (oppure /help per i comandi)."
    (english,) = await bot.say("hello!!", language="en")
    assert english.startswith("👋 Hi!")  # a greeting: the start screen


async def test_a_group_that_becomes_a_supergroup_keeps_what_it_follows(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    fake.set_admins(-7007, {ADMIN})
    await bot.say("/watch Palestra", user_id=ADMIN, chat_id=-7007, chat_type="group")
    update = fake.user_message("", user_id=ADMIN, chat_id=-7007, chat_type="group")
    del update["message"]["text"]
    update["message"]["migrate_to_chat_id"] = -1007007
    await bot.send(update)
    assert subscriptions(store, -1007007) == [("term", "Palestra")]


async def test_only_channel_admins_may_press_its_buttons(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    channel = -1008008
    await bot.send(fake.channel_post("/watch Palestra", chat_id=channel))
    fake.set_admins(channel, {ADMIN}, chat_type="channel")
    press = fake.callback("uf|term|Palestra", user_id=USER, chat_id=channel)
    press["callback_query"]["message"]["chat"]["type"] = "channel"
    await bot.send(press)
    assert subscriptions(store, channel) == [("term", "Palestra")]  # a reader can't
    press = fake.callback("uf|term|Palestra", user_id=ADMIN, chat_id=channel)
    press["callback_query"]["message"]["chat"]["type"] = "channel"
    await bot.send(press)
    assert subscriptions(store, channel) == []


async def test_not_this_player_from_an_alert_then_only_the_rest_of_the_list_alerts(
    bot: Harness, fake: FakeBotApi, store: Store
) -> None:
    """The whole chain: an alert about a list's player is delivered, its 🚫 button is pressed,
    and from then on that player's stories reach everyone but this subscriber, while the
    rest of the list still alerts it."""
    await bot.say("/subscribe milan")
    matcher = Matcher([MILAN])
    feed = Feed("Tuttomercatoweb", "https://tmw.example/rss")

    def story(title: str, n: int) -> None:
        now = datetime.now(UTC)
        item = Item(
            keys=(f"url:https://tmw.example/{n}",),
            title=title,
            summary="",
            link=f"https://tmw.example/{n}",
            source=feed.name,
            feed_url=feed.url,
            published=now,
        )
        ingest(store, feed, [item], lambda it: matcher.match(it.title), now=now, backlog=False)

    story("Pulisic, doppietta e assist a San Siro", 1)
    await bot.service.sender.deliver_pending()
    alert = fake.sent(USER)[-1]
    assert alert.params["text"].splitlines()[-1] == "Lista: AC Milan"
    keyboard = alert.params["reply_markup"]
    exclude = keyboard["inline_keyboard"][0][0]
    assert exclude["text"] == "🚫 Escludi Christian Pulisic"
    message_id = alert.result["message_id"]
    await bot.send(
        fake.callback(exclude["callback_data"], message_id=message_id, reply_markup=keyboard)
    )

    story("Pulisic rinnova fino al 2030, è ufficiale", 2)
    story("Gimenez in gol nel finale, il Milan vince", 3)
    await bot.service.sender.deliver_pending()
    titles = [c.params["text"].splitlines()[0] for c in fake.sent(USER)[-2:]]
    assert "Gimenez in gol" in titles[-1]
    assert not any("Pulisic rinnova" in c.params["text"] for c in fake.sent(USER))
