"""Groups and languages, as members, admins and speakers of other languages meet them through
the fake Bot API: a greeting when the bot is added, the plural voice, replies threaded to the
command, refusals said once, admin answers in private, /lingua for every chat, and every text
(admin ones included) in the chat's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Update

from bot.config import Settings
from bot.models import Term, Watchlist
from bot.reload import ReloadOutcome
from bot.store import Store
from bot.telegram.app import ALLOWED_UPDATES, TelegramService
from tests.fakebotapi import FakeBotApi

ADMIN = 42  # a bot administrator (NEWSBOT_ADMINS) and the group's administrator
MEMBER = 1001
GROUP = -5005
MILAN = Watchlist("milan", (Term("Milan"), Term("Christian Pulisic", ("Pulisic",))), "AC Milan")


class Bot:
    """The service's Application fed one update at a time; what it sent because of each."""

    def __init__(self, service: TelegramService, fake: FakeBotApi) -> None:
        self.service = service
        self.fake = fake

    async def send(self, update: dict[str, Any]) -> list[Any]:
        before = len(self.fake.calls)
        app = self.service.application
        await app.process_update(Update.de_json(update, app.bot))
        return [c for c in self.fake.calls[before:] if c.method == "sendMessage"]

    async def say(self, text: str, **kw: Any) -> list[Any]:
        return await self.send(self.fake.user_message(text, **kw))

    async def in_group(self, text: str, user: int = ADMIN, language: str = "it") -> list[Any]:
        return await self.say(
            text, user_id=user, chat_id=GROUP, chat_type="group", language=language
        )

    async def membership(self, old: str, new: str, language: str = "it") -> list[Any]:
        bot_user = {"id": 123456, "is_bot": True, "first_name": "Newsbot"}
        adder = {"id": ADMIN, "is_bot": False, "first_name": "Admin", "language_code": language}
        change = {
            "chat": {"id": GROUP, "type": "group", "title": "Tifosi"},
            "from": adder,
            "date": 1760000000,
            "old_chat_member": member_status(old, bot_user),
            "new_chat_member": member_status(new, bot_user),
        }
        return await self.send(self.fake.add_update({"my_chat_member": change}))


def member_status(status: str, user: dict[str, Any]) -> dict[str, Any]:
    if status == "kicked":
        return {"status": status, "user": user, "until_date": 0}
    if status != "administrator":
        return {"status": status, "user": user}
    rights = [
        "can_be_edited",
        "can_manage_chat",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
        "is_anonymous",
    ]
    return {"status": status, "user": user, **dict.fromkeys(rights, False)}


@pytest.fixture
async def bot(fake: FakeBotApi, store: Store) -> AsyncIterator[Bot]:
    settings = Settings(
        telegram_bot_token=fake.token, telegram_api_url=fake.url, newsbot_admins=str(ADMIN)
    )
    outcome = ReloadOutcome(True, [], "3 feeds, 5 watchlists", feeds=3, watchlists=5)
    registry = SimpleNamespace(watchlists=[MILAN], last=outcome)
    service = TelegramService(settings, store, registry, reload=lambda: outcome)
    fake.set_admins(GROUP, {ADMIN})
    await service.application.initialize()
    yield Bot(service, fake)
    await service.application.shutdown()


def text(calls: list[Any]) -> list[str]:
    return [str(c.params["text"]) for c in calls]


async def test_a_group_is_greeted_once_when_the_bot_is_added(bot: Bot, store: Store) -> None:
    assert "my_chat_member" in ALLOWED_UPDATES
    (hello,) = text(await bot.membership("left", "member"))
    assert hello.startswith("👋 Ciao a tutti! Vi avviso")
    assert await bot.membership("member", "administrator") == []  # promoted: no second hello
    sub = store.subscriber(str(GROUP), create=False)
    assert sub is not None and sub.active and sub.kind == "group"

    assert await bot.membership("administrator", "kicked") == []
    sub = store.subscriber(str(GROUP), create=False)
    assert sub is not None and not sub.active  # removed: nothing more is sent there
    (again,) = text(await bot.membership("kicked", "member", language="en"))
    assert again.startswith("👋 Ciao a tutti!")  # the group kept its language


async def test_a_group_is_spoken_to_in_the_plural_and_answers_thread_to_the_command(
    bot: Bot, fake: FakeBotApi
) -> None:
    (added,) = await bot.in_group("/watch Palestra")
    assert added.params["text"].startswith("✅ Ora il gruppo segue <b>Palestra</b>.")
    assert "vi avviso alla prossima" in added.params["text"]
    assert added.params["reply_parameters"]["message_id"] > 0  # threaded to the command
    assert added.params["reply_parameters"]["allow_sending_without_reply"] is True
    (listing,) = await bot.in_group("/list", user=MEMBER)
    assert "Cosa segue il gruppo" in listing.params["text"]
    assert "reply_markup" not in listing.params  # no ❌ a member could not use
    (lists,) = await bot.in_group("/lists", user=MEMBER)
    assert "reply_markup" not in lists.params
    (private,) = await bot.say("/watch Leão")
    assert private.params["text"].startswith("✅ Ora segui <b>Leão</b>.")
    assert "reply_parameters" not in private.params  # a private chat needs no threads


async def test_group_help_speaks_to_the_group_and_promises_no_buttons(bot: Bot) -> None:
    """In a group /list has no remove buttons and only admins change what it follows: the help
    says so, in the plural, instead of the private chat's text."""
    (italian,) = text(await bot.in_group("/help", user=MEMBER))
    assert "pulsanti" not in italian and "gli amministratori" in italian
    assert "/list — cosa segue il gruppo" in italian
    (private,) = text(await bot.say("/help"))
    assert "/list — cosa segui (con i pulsanti per togliere)" in private


async def test_a_member_is_refused_once_as_a_reply_never_on_every_attempt(bot: Bot) -> None:
    (refused,) = await bot.in_group("/watch Palestra", user=MEMBER)
    assert "solo gli amministratori" in refused.params["text"]
    assert "reply_parameters" in refused.params
    assert await bot.in_group("/watch Leão", user=MEMBER) == []
    assert await bot.in_group("/unsubscribe milan", user=MEMBER) == []
    assert await bot.in_group("/stats", user=MEMBER) == []
    (other,) = await bot.in_group("/watch Palestra", user=MEMBER + 1)  # someone else: once too
    assert "solo gli amministratori" in other.params["text"]


async def test_admin_commands_are_answered_in_private_only(bot: Bot, fake: FakeBotApi) -> None:
    (stats,) = await bot.in_group("/stats")
    assert stats.chat_id == str(ADMIN) and "Iscritti attivi" in stats.params["text"]
    (reload,) = await bot.in_group("/reload")
    assert reload.chat_id == str(ADMIN)
    fake.block(ADMIN)  # an admin who never opened a private chat with the bot
    calls = await bot.in_group("/stats")
    told = [c for c in calls if c.status == 200]
    assert [c.chat_id for c in told] == [str(GROUP)]
    assert "Ti rispondo in privato" in told[0].params["text"]


async def test_the_group_language_is_the_admins_choice_not_whoever_writes(
    bot: Bot, fake: FakeBotApi, store: Store
) -> None:
    await bot.membership("left", "member")  # added by an Italian admin
    (listing,) = await bot.in_group("/list", user=MEMBER, language="en")
    assert "Il gruppo non segue ancora niente" in listing.params["text"]
    assert await bot.in_group("/lingua", user=MEMBER, language="en") != []  # refused once
    (ask,) = await bot.in_group("/lingua")
    buttons = ask.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["lg|it", "lg|en"]
    press = fake.callback("lg|en", user_id=ADMIN, chat_id=GROUP, chat_type="group")
    await bot.send(press)
    assert (
        fake.calls_to("editMessageText")[-1]
        .params["text"]
        .startswith("✅ From now on I write to this group in English.")
    )
    sub = store.subscriber(str(GROUP), create=False)
    assert sub is not None and sub.language == "en" and sub.language_origin == "chosen"
    (listing,) = await bot.in_group("/list", user=MEMBER, language="it")
    assert "This group follows nothing yet" in listing.params["text"]


async def test_lingua_for_everyone_and_every_text_in_the_chosen_language(
    bot: Bot, fake: FakeBotApi, store: Store
) -> None:
    (ask,) = await bot.say("/language")
    assert ask.params["text"].startswith("🌐 Scrivo in italiano.")
    await bot.send(fake.callback("lg|en"))
    (help_text,) = await bot.say("/help")  # Telegram still says Italian: the choice wins
    assert help_text.params["text"].startswith("<b>Commands</b>")
    (done,) = await bot.say("/lingua it")
    assert done.params["text"] == "✅ D'ora in poi ti scrivo in italiano."

    (reload,) = await bot.say("/reload", user_id=ADMIN)
    assert reload.params["text"] == "✅ Ricaricato: 3 feed, 5 liste"  # no "feeds" in Italian
    (reload,) = await bot.say("/reload", user_id=ADMIN, language="en")
    assert reload.params["text"] == "✅ Reloaded: 3 feeds, 5 lists"


async def test_other_languages_fall_back_to_english_saying_so_once(bot: Bot, store: Store) -> None:
    notice, started = text(await bot.say("/start", user_id=3003, language="es"))
    assert notice.startswith("ℹ️ I don't speak your language yet, so I'll write in English.")
    assert started.startswith("👋 Hi!")
    (again,) = text(await bot.say("/help", user_id=3003, language="es"))
    assert again.startswith("<b>Commands</b>")  # told once, not on every message
    sub = store.subscriber("3003", create=False)
    assert sub is not None and sub.language == "en" and sub.language_origin == "fallback"
