"""What subscribers and admins type: /start /help /watch /unwatch /list /lists /subscribe
/unsubscribe /mute /unmute /stop, admins' /stats /reload, and the inline buttons.

Why a class with injected dependencies: the handlers need the store, the current file
watchlists, the admins and a reload callback, and tests drive them through the fake Bot API
with a real store. The store is synchronous, so every call goes through `asyncio.to_thread`.

Who may change what a chat follows: anyone in a private chat; in a group only its
administrators (asked with getChatMember, anonymous admins included); in a channel whoever can
post (only admins can). Read-only commands (/help, /list, /lists) answer everyone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from html import escape
from typing import Any, Protocol

from telegram import (
    Chat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.match import Matcher, describe_term, personal_watchlist
from bot.models import Subscriber, Watchlist
from bot.telegram.helpful import FOLLOW_TERM, SETTINGS, HelpfulCommands
from bot.telegram.pauses import PauseCommands, local_time, zone_note
from bot.telegram.render import (
    DIGEST,
    REDO,
    UNDO,
    button_for,
    callback_data,
    clip,
    esc,
    render_digest,
    render_digest_page,
    resolve_value,
    to_plain,
    value_digest,
)
from bot.telegram.texts import Markup, Voice, language_of, speaks, t
from bot.text import fold
from bot.timefmt import short_local_time

log = logging.getLogger("newsbot.telegram.commands")

TERM_MAX = 60
TERMS_PER_SUBSCRIBER = 50
LIST_PAGE = 10  # rows of /list a page
REFUSAL_EVERY = timedelta(days=1)  # a group member is told "admins only" at most this often
GROUPS = (Chat.GROUP, Chat.SUPERGROUP)
ALERT_ACTIONS = frozenset({"uf", "xp", "ss", "rs", "ux", "us"})
PREVIEW_MAX = 3
PREVIEW_WINDOW = timedelta(hours=24)
TOUCH_EVERY = timedelta(hours=1)  # "wrote in the last 30 days" needs no finer clock
ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
Context = ContextTypes.DEFAULT_TYPE
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class CommandStore(Protocol):
    """The part of bot.store.Store the commands use."""

    def subscriber(
        self, chat_id: str, *, kind: str = "private", language: str = "it", create: bool = True
    ) -> Subscriber | None: ...
    def set_active(self, subscriber_id: int, active: bool) -> None: ...
    def set_language(self, subscriber_id: int, language: str) -> None: ...
    def mute(self, subscriber_id: int, until: datetime | None) -> None: ...
    def subscribe(self, subscriber_id: int, kind: str, value: str) -> bool: ...
    def unsubscribe(self, subscriber_id: int, kind: str, value: str) -> bool: ...
    def subscriptions(self, subscriber_id: int) -> list[tuple[str, str]]: ...
    def recent_stories(self, since: datetime, *, limit: int = 200) -> list[Any]: ...
    def stats(self, now: datetime) -> dict[str, int]: ...
    def feed_states(self) -> dict[str, Any]: ...
    def migrate_chat(self, old_chat_id: str, new_chat_id: str) -> None: ...
    def touch(self, subscriber_id: int, now: datetime) -> None: ...
    def owed(self, subscriber_id: int) -> int: ...
    def digest_alerts(self, subscriber_id: int, message_id: int) -> list[Any]: ...
    def set_quiet(self, subscriber_id: int, window: tuple[time, time] | None) -> None: ...
    def set_digest(self, subscriber_id: int, at: time | None) -> None: ...


ReloadCallback = Callable[[], Any]


# -- pure helpers ----------------------------------------------------------------------------
def clean_term(raw: str) -> str:
    return " ".join(raw.split())


def term_problem(term: str) -> str | None:
    """Why `term` can't be watched (a text key), or None when it is fine."""
    if not term:
        return "watch_usage"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in term):
        return "watch_control"
    if len(term) > TERM_MAX:
        return "watch_too_long"
    if not any(c.isalnum() for c in term):
        return "watch_no_words"
    return None


def find_list(watchlists: Sequence[Watchlist], name: str) -> Watchlist | None:
    """A file watchlist by its name or its title, accents and case aside."""
    wanted = fold(clean_term(name))
    for wl in watchlists:
        if wanted in (fold(wl.name), fold(wl.display)):
            return wl
    return None


@dataclass(frozen=True, slots=True)
class Who:
    """The chat a command is about, its subscriber and the language to answer in."""

    chat: Chat
    subscriber: Subscriber
    lang: str  # a Voice: plural in groups
    reply_chat: int | None = None  # answer there instead (admin commands asked in a group)

    @property
    def plural(self) -> bool:
        """A group is spoken to in the plural; a channel's posts come from its admin."""
        return self.chat.type in GROUPS


View = Callable[[Who], Awaitable[tuple[str, InlineKeyboardMarkup | None]]]


class Commands(PauseCommands, HelpfulCommands):
    """The handlers; `app.register(application, commands)` wires them."""

    def __init__(
        self,
        store: CommandStore,
        watchlists: Callable[[], Sequence[Watchlist]],
        *,
        admins: frozenset[int] = frozenset(),
        reload: ReloadCallback | None = None,
        on_change: Callable[[], None] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        config_status: Callable[[], Any] = lambda: None,
    ) -> None:
        self.store = store
        self.watchlists = watchlists
        self.admins = admins
        self.reload_callback = reload
        self.config_status = config_status
        self.on_change = on_change
        self.now = now
        # digest -> value of what buttons removed lately, for an "Annulla" whose value was too
        # long for the button's 64 bytes (see _undo_value)
        self._removed: dict[str, str] = {}
        self._refused: dict[tuple[int, int], datetime] = {}  # (chat, user) -> last refusal

    # -- plumbing ---------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _who(self, update: Update) -> Who | None:
        """The chat, its subscriber and the language (and voice) to answer in.

        A private chat speaks its user's Telegram language (Italian or English; any other
        falls back to English, and the user is told so once) unless /lingua chose one. A group
        or channel keeps the language it was given when the bot met it, or chose with /lingua:
        never that of whoever writes."""
        chat = update.effective_chat
        if chat is None:
            return None
        user = update.effective_user
        code = user.language_code if user else None
        private = chat.type == Chat.PRIVATE
        kind = "private" if private else chat.type
        sub = await self._db(
            self.store.subscriber, str(chat.id), kind=kind, language=language_of(code)
        )
        lang = sub.language
        if private and code and sub.language_origin != "chosen":
            lang = language_of(code)
            origin = None if speaks(code) else "fallback"
            if (lang, origin) != (sub.language, sub.language_origin):
                await self._db(self.store.set_language, sub.id, lang, origin)
                if origin == "fallback":
                    await update.get_bot().send_message(
                        chat.id, t("language_fallback", lang), parse_mode=ParseMode.HTML
                    )
        now = self.now()
        if update.callback_query is None and (
            sub.last_seen is None or now - sub.last_seen > TOUCH_EVERY
        ):
            await self._db(self.store.touch, sub.id, now)  # for /stats' "active"
        return Who(chat, sub, Voice(lang, plural=chat.type in GROUPS))

    async def _may_change(self, update: Update, context: Context, who: Who) -> bool:
        """Private chats: yes. A channel post: yes (only admins post). Otherwise (groups, and
        buttons pressed under a channel's messages, which any reader can do) only the chat's
        administrators."""
        if who.chat.type == Chat.PRIVATE or update.channel_post is not None:
            return True
        message = update.message
        if message is not None and message.sender_chat and message.sender_chat.id == who.chat.id:
            return True  # an anonymous group administrator
        user = update.effective_user
        if user is None:
            return False
        try:
            member = await context.bot.get_chat_member(who.chat.id, user.id)
        except TelegramError as exc:
            log.warning("getChatMember failed for chat %s: %s", who.chat.id, exc)
            return False
        return member.status in ADMIN_STATUSES

    async def _reply(
        self,
        update: Update,
        context: Context,
        text: str,
        keyboard: InlineKeyboardMarkup | None = None,
        *,
        to: int | None = None,
    ) -> Message | None:
        """Answer in the chat of the update (or in the private chat `to`). In a group the
        answer is a reply to the command it answers, so the thread stays readable."""
        chat = update.effective_chat
        if chat is None:
            return None
        reply = None
        message = update.message
        if to is None and chat.type in GROUPS and message is not None:
            reply = ReplyParameters(message.message_id, allow_sending_without_reply=True)
        return await context.bot.send_message(
            chat.id if to is None else to,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=NO_PREVIEW,
            reply_parameters=reply,
        )

    async def _guarded(self, update: Update, context: Context) -> Who | None:
        """The chat's subscriber if the sender may change what it follows; else says why
        (in a group once a day per member, as a reply: never a broadcast per attempt)."""
        who = await self._who(update)
        if who is None:
            return None
        if not await self._may_change(update, context, who):
            await self._refuse_once(update, context, t("group_admins_only", who.lang))
            return None
        return who

    async def _refuse_once(self, update: Update, context: Context, text: str) -> None:
        """A refusal, said to a member of a group once a day at most (they read it the first
        time; repeating it to the whole group on every attempt is noise)."""
        chat, user = update.effective_chat, update.effective_user
        if chat is not None and chat.type != Chat.PRIVATE:
            key = (chat.id, user.id if user else 0)
            last = self._refused.get(key)
            now = self.now()
            if last is not None and now - last < REFUSAL_EVERY:
                return
            self._refused[key] = now
        await self._reply(update, context, text)

    async def _admin(self, update: Update, context: Context) -> Who | None:
        """The chat's subscriber if the sender is a bot administrator; else says why. In a
        group the answer goes to the administrator's private chat (`Who.reply_chat`)."""
        who = await self._who(update)
        if who is None:
            return None
        if not self.is_admin(update):
            await self._refuse_once(update, context, t("admins_only", who.lang))
            return None
        user = update.effective_user
        if who.chat.type != Chat.PRIVATE and user is not None:
            return replace(who, reply_chat=user.id)
        return who

    async def _answer_admin(self, update: Update, context: Context, who: Who, text: str) -> None:
        """An admin command's answer: in private, even when asked in a group; if the admin
        never wrote to the bot in private, Telegram refuses, and the group is told once."""
        try:
            await self._reply(update, context, text, to=who.reply_chat)
        except Forbidden:
            await self._refuse_once(update, context, t("admin_private", who.lang))

    async def _show(self, update: Update, context: Context, view: View) -> None:
        """Answer with a view (/list, /lists): the same text and buttons a press redraws."""
        who = await self._who(update)
        if who is None:
            return
        text, keyboard = await view(who)
        await self._reply(update, context, text, keyboard)

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.admins

    @staticmethod
    def argument(update: Update) -> str:
        """The text after the command (and after "@botname"), as typed."""
        message = update.effective_message
        text = (message.text or "") if message else ""
        parts = text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""

    # -- subscriber commands ----------------------------------------------------------------
    async def start(self, update: Update, context: Context) -> None:
        """The greeting with its buttons; `/start milan` (a t.me/<bot>?start=milan deep link)
        also follows that list; after /stop, says what is followed and what still holds."""
        who = await self._guarded(update, context)
        if who is None:
            return
        was_stopped = not who.subscriber.active
        await self._db(self.store.set_active, who.subscriber.id, True)
        self.on_change()
        text, keyboard = await self.start_view(who)
        if who.plural:  # a group: its greeting's buttons would be for admins only
            keyboard = None
        if was_stopped:
            text = await self.start_status(who)
        payload = self.argument(update)
        if payload:
            text = await self.deep_link(who, payload) + "\n\n" + text
        await self._reply(update, context, text, keyboard)

    async def deep_link(self, who: Who, payload: str) -> str:
        """`/start <list>`: follow the list the link names (by name, title or club alias)."""
        watchlists = list(self.watchlists())
        wl = find_list(watchlists, payload.replace("_", " ")) or self.list_for(payload)
        if wl is None:
            return t("start_deep_link_unknown", who.lang, name=clip(payload, 64))
        await self._db(self.store.subscribe, who.subscriber.id, "list", wl.name)
        return t("start_deep_link", who.lang, name=wl.display)

    async def help(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        text = t("help", who.lang)
        if self.is_admin(update):
            text += t("admin_help", who.lang)
        await self._reply(update, context, text)

    async def watch(self, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        raw = self.argument(update)
        problem = term_problem(raw.strip()) or term_problem(clean_term(raw))
        term = clean_term(raw)
        if problem:
            await self._reply(update, context, t(problem, who.lang, limit=TERM_MAX, term=term))
            return
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        terms = [v for k, v in subs if k == "term"]
        if term not in terms and len(terms) >= TERMS_PER_SUBSCRIBER:
            await self._reply(update, context, t("watch_too_many", who.lang, limit=len(terms)))
            return
        hint = None if term in terms else await self.watch_hint(who, term)
        if hint is not None:  # a near miss, a list that has it, an ordinary word: ask first
            await self._reply(update, context, *hint)
            return
        added = await self._db(self.store.subscribe, who.subscriber.id, "term", term)
        if not who.subscriber.active:
            await self._db(self.store.set_active, who.subscriber.id, True)
        self.on_change()
        how = describe_term(term, who.lang)
        key = "watch_added" if added else "watch_already"
        answer = t(key, who.lang, term=term, how=how)
        text = f"{answer}\n\n{await self.preview(term, who.lang)}"
        keyboard = None
        club = self.list_for(term)
        if club is not None and ("list", club.name) not in subs:
            text += "\n\n" + t("watch_list_too", who.lang, name=club.display)
            label = to_text(t("suggest_list_button", who.lang, name=clip(club.display, 40)))
            button = InlineKeyboardButton(label, callback_data=_data("sl", "list", club.name))
            keyboard = InlineKeyboardMarkup([[button]])
        await self._reply(update, context, text, keyboard)

    async def preview(self, term: str, lang: str) -> str:
        """The last stories (24 h) the new term matches, newest first: a one-off look back,
        not alerts (nothing enters the outbox)."""
        since = self.now() - PREVIEW_WINDOW
        stories = await self._db(self.store.recent_stories, since, limit=300)
        matcher = Matcher([personal_watchlist(term)])
        found = [s for s in stories if matcher.match(s.title, s.summary)][:PREVIEW_MAX]
        if not found:
            return t("watch_no_recent", lang, term=term)
        lines = [t("watch_recent", lang, term=term)]
        for story in found:
            when = short_local_time(story.published, lang)
            lines.append(
                f"\n• <b>{esc(story.title, 200)}</b>\n{esc(story.source, 60)} · {when}\n"
                f"{esc(story.url, 300)}"
            )
        return "\n".join(lines)

    async def unwatch(self, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        term = clean_term(self.argument(update))
        if not term:
            await self._reply(update, context, t("unwatch_usage", who.lang))
            return
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        followed = [v for k, v in subs if k == "term"]
        value = resolve_value(term, followed)
        if value is None:
            await self._reply(update, context, *self.unwatch_hint(term, followed, who.lang))
            return
        await self._db(self.store.unsubscribe, who.subscriber.id, "term", value)
        self.on_change()
        await self._reply(update, context, t("unwatch_done", who.lang, term=value))

    async def list(self, update: Update, context: Context) -> None:
        await self._show(update, context, self.list_view)

    async def list_view(
        self, who: Who, page: int = 0, undo: tuple[str, str, str] | None = None
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """What the chat follows: its own names, its lists and the players it excluded from
        them, `LIST_PAGE` a page with ◀️ ▶️ to turn; in a private chat each with a button to
        remove it (and, right after a removal, an "Annulla" for it). In groups no removal
        buttons: members could not use them; admins remove with /unwatch and /unsubscribe."""
        entries = await self._followed(who)
        lines: list[str] = []
        muted = who.subscriber.muted_until
        if muted is not None and muted > self.now():
            sub = who.subscriber
            until = local_time(sub, muted, who.lang) + zone_note(sub, who.lang)
            lines.append(t("list_muted", who.lang, until=until))
        if not entries and undo is None:
            lines.append(t("list_empty", who.lang))
            return "\n".join(lines), None
        pages = max(1, -(-len(entries) // LIST_PAGE))
        page = min(max(page, 0), pages - 1)
        private = who.chat.type == Chat.PRIVATE
        lines.append(t("list_head" if private else "list_head_group", who.lang))
        rows: list[list[InlineKeyboardButton]] = []
        if undo is not None:
            kind, value, label = undo
            text = to_plain(t("undo_button", who.lang, name=clip(label, 30)))
            rows.append(
                [InlineKeyboardButton(text, callback_data=_data(f"ra.{page}", kind, value))]
            )
        buttons: list[InlineKeyboardButton] = []
        for entry in entries[page * LIST_PAGE : (page + 1) * LIST_PAGE]:
            lines.append(f"• {escape(entry.label, quote=False)}")
            action = "rx" if entry.kind not in ("term", "list") else "rm"
            data = _data(f"{action}.{page}", entry.kind, entry.value)
            icon = "♻️" if action == "rx" else "❌"
            buttons.append(
                InlineKeyboardButton(f"{icon} {clip(entry.short, 28)}", callback_data=data)
            )
        if private:
            rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        if pages > 1:
            lines.append(t("list_page", who.lang, page=page + 1, pages=pages))
            nav = []
            if page > 0:
                nav.append(InlineKeyboardButton("◀️", callback_data=f"pg|list|{page - 1}"))
            if page < pages - 1:
                nav.append(InlineKeyboardButton("▶️", callback_data=f"pg|list|{page + 1}"))
            rows.append(nav)
        return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None

    async def _followed(self, who: Who) -> list[Followed]:
        """Personal names, then lists, then exclusions inside lists, in the order added."""
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        excluded = await self._db(self.store.exclusions, who.subscriber.id)
        titles = {wl.name: wl.display for wl in self.watchlists()}
        entries = [Followed("term", v, v, v) for k, v in subs if k == "term"]
        for kind, value in subs:
            if kind == "list":
                title = titles.get(value, value)
                entries.append(Followed("list", value, f"📋 {title}", title))
        for watchlist, term in excluded:
            title = titles.get(watchlist, watchlist)
            label = to_plain(t("list_excluded", who.lang, term=term, name=title))
            entries.append(Followed(watchlist, term, label, term))
        return entries

    async def lists(self, update: Update, context: Context) -> None:
        await self._show(update, context, self.lists_view)

    async def lists_view(self, who: Who) -> tuple[str, InlineKeyboardMarkup | None]:
        watchlists = list(self.watchlists())
        if not watchlists:
            return t("lists_empty", who.lang), None
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        followed = {v for k, v in subs if k == "list"}
        lines = [t("lists_head", who.lang)]
        rows = []
        for wl in watchlists:
            on = wl.name in followed
            lines.append(
                f"{'✅' if on else '▫️'} <b>{esc(wl.display, 60)}</b> — /subscribe "
                f"{escape(wl.name, quote=False)} ({t('list_size', who.lang, count=len(wl.terms))})"
            )
            action = "ul" if on else "sl"
            label = f"{'✅' if on else '➕'} {clip(wl.display, 40)}"
            rows.append([InlineKeyboardButton(label, callback_data=_data(action, "list", wl.name))])
        if who.chat.type != Chat.PRIVATE:  # members could not use them: admins type /subscribe
            return "\n".join(lines), None
        return "\n".join(lines), InlineKeyboardMarkup(rows)

    async def subscribe(self, update: Update, context: Context) -> None:
        await self._subscription(update, context, follow=True)

    async def unsubscribe(self, update: Update, context: Context) -> None:
        await self._subscription(update, context, follow=False)

    async def _subscription(self, update: Update, context: Context, *, follow: bool) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        name = clean_term(self.argument(update))
        watchlists = list(self.watchlists())
        example = watchlists[0].name if watchlists else "milan"
        if not name:
            await self._reply(update, context, t("subscribe_usage", who.lang, example=example))
            return
        wl = find_list(watchlists, name) or self.list_for(name)
        if follow and wl is None:
            await self._reply(update, context, *self.subscribe_hint(name, who.lang))
            return
        value = wl.name if wl else name
        display = wl.display if wl else name
        if follow:
            done = await self._db(self.store.subscribe, who.subscriber.id, "list", value)
            key = "subscribe_done" if done else "subscribe_already"
        else:
            done = await self._db(self.store.unsubscribe, who.subscriber.id, "list", value)
            key = "unsubscribe_done" if done else "unsubscribe_unknown"
        self.on_change()
        await self._reply(update, context, t(key, who.lang, name=display))

    async def stop(self, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        await self._db(self.store.set_active, who.subscriber.id, False)
        await self._reply(update, context, t("stop_done", who.lang))

    async def membership(self, update: Update, context: Context) -> None:
        """The bot was added to a group (greet it once, in the adder's language) or removed
        from a chat (stop delivering there). Only the change from outside to inside greets:
        a promotion to administrator, or Telegram's own "new member" message, does not."""
        change = update.my_chat_member
        if change is None:
            return
        chat = change.chat
        was = change.old_chat_member.status
        now = change.new_chat_member.status
        inside = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
        outside = (ChatMember.LEFT, ChatMember.BANNED)
        kind = "private" if chat.type == Chat.PRIVATE else chat.type
        if now in outside:
            sub = await self._db(self.store.subscriber, str(chat.id), create=False)
            if sub is not None:
                await self._db(self.store.set_active, sub.id, False)
            return
        if chat.type not in GROUPS or was not in outside or now not in inside:
            return
        code = change.from_user.language_code if change.from_user else None
        sub = await self._db(
            self.store.subscriber, str(chat.id), kind=kind, language=language_of(code)
        )
        if not sub.active:
            await self._db(self.store.set_active, sub.id, True)
        await context.bot.send_message(
            chat.id,
            t("group_welcome", Voice(sub.language, plural=True)),
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
        )

    async def language(self, update: Update, context: Context) -> None:
        """/lingua (/language): the chat's language, with buttons to choose; `/lingua en`
        chooses at once. In a group only its administrators choose."""
        who = await self._guarded(update, context)
        if who is None:
            return
        wanted = language_of(self.argument(update)) if self.argument(update) else None
        if wanted is not None:
            await self._choose_language(who, wanted)
            await self._reply(update, context, t("language_set", Voice(wanted, who.plural)))
            return
        await self._reply(update, context, t("language_ask", who.lang), language_keyboard())

    async def _choose_language(self, who: Who, lang: str) -> None:
        await self._db(self.store.set_language, who.subscriber.id, lang, "chosen")

    # -- admin commands ---------------------------------------------------------------------
    async def stats(self, update: Update, context: Context) -> None:
        who = await self._admin(update, context)
        if who is None:
            return
        numbers = await self._db(self.store.stats, self.now())
        states = await self._db(self.store.feed_states)
        failing = sorted(url for url, st in states.items() if getattr(st, "failures", 0))
        feeds = t("feeds_health", who.lang, ok=len(states) - len(failing), failing=len(failing))
        if failing:
            feeds += "".join(f"\n  ⚠️ {esc(url, 120)}" for url in failing[:10])
        text = t(
            "stats",
            who.lang,
            subscribers=f"{numbers.get('active', 0)} / {numbers.get('subscribers', 0)}",
            feeds=Markup(feeds),
            alerts_today=numbers.get("alerts_sent_today", 0),
            outbox=numbers.get("outbox_depth", 0),
        )
        text += self._config_problems(who.lang)
        await self._answer_admin(update, context, who, text)

    def _config_problems(self, lang: str) -> str:
        """The last refused reload, with its path:line problems, so admins see why edits
        did not take effect (the last good version is still in force)."""
        outcome = self.config_status()
        if outcome is None or getattr(outcome, "ok", True):
            return ""
        listed = "\n".join(str(p) for p in outcome.problems)
        summary = reload_summary(outcome, lang)
        return "\n\n" + t(
            "config_refused", lang, summary=summary, problems=clip_lines(listed, 2500)
        )

    async def reload(self, update: Update, context: Context) -> None:
        who = await self._admin(update, context)
        if who is None:
            return
        if self.reload_callback is None:
            await self._answer_admin(update, context, who, t("reload_unavailable", who.lang))
            return
        outcome = self.reload_callback()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        summary = reload_summary(outcome, who.lang)
        problems = [str(p) for p in getattr(outcome, "problems", [])]
        if getattr(outcome, "ok", False) and not problems:
            await self._answer_admin(
                update, context, who, t("reload_ok", who.lang, summary=summary)
            )
            return
        listed = "\n".join(problems[:30]) + (
            f"\n… +{len(problems) - 30}" if len(problems) > 30 else ""
        )
        text = t("reload_problems", who.lang, summary=summary, problems=clip_lines(listed, 3500))
        await self._answer_admin(update, context, who, text)

    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup: what it follows moves to the new chat id."""
        message = update.effective_message
        if message is not None and message.migrate_to_chat_id:
            old, new = str(message.chat.id), str(message.migrate_to_chat_id)
            log.info("group %s migrated to supergroup %s", old, new)
            await self._db(self.store.migrate_chat, old, new)

    # -- everything else --------------------------------------------------------------------
    async def button(self, update: Update, context: Context) -> None:
        """Inline buttons: an alert's unfollow / not-this-player / leave / silence and their
        undo twins, /list's removals, undo and pages, /lists' (un)subscribe."""
        query = update.callback_query
        if query is None or not query.data:
            return
        action, _, rest = query.data.partition("|")
        kind, _, token = rest.partition("|")
        action, _, page_text = action.partition(".")
        page = int(page_text) if page_text.isdigit() else 0
        who = await self._who(update)
        if who is None:
            await query.answer()
            return
        if action == "pg":  # turning /list's pages changes nothing: anyone may
            await query.answer()
            await self._redraw(query, who, "list", int(token) if token.isdigit() else 0)
            return
        if action == DIGEST:  # turning a digest's pages changes nothing: anyone may
            await self._digest_page(query, who, rest)
            return
        if not await self._may_change(update, context, who):
            await query.answer(t("group_admins_only", who.lang), show_alert=True)
            return
        if action == FOLLOW_TERM:
            await self.follow_term_button(query, who, token)
            return
        if action == SETTINGS:
            await self.settings_button(query, who, rest)
            return
        if action == "lg":
            lang = language_of(kind)
            await self._choose_language(who, lang)
            done = t("language_set", Voice(lang, who.plural))
            await query.answer(to_text(done))
            with suppress(TelegramError):
                await query.edit_message_text(done, parse_mode=ParseMode.HTML)
            return
        outcome = await self._apply_button(who, action, kind, token)
        self.on_change()
        await query.answer(outcome.note)
        if outcome.value is None:
            return
        if action in ALERT_ACTIONS:
            await self._swap_alert_button(query, who, action, kind, outcome.value)
        elif action in ("sl", "ul"):
            await self._redraw(query, who, "lists")
        else:
            undo = None
            if action in ("rm", "rx"):
                undo = (kind if action == "rm" else f"x:{kind}", outcome.value, outcome.label)
            await self._redraw(query, who, "list", page, undo)

    async def _apply_button(self, who: Who, action: str, kind: str, token: str) -> Outcome:
        """Do what the button says; the note is the toast, `value` None when nothing was
        there to change (the message is then left as it is)."""
        sub_id, lang = who.subscriber.id, who.lang
        gone = Outcome(t("gone", lang))
        lists = list(self.watchlists())
        titles = {wl.name: wl.display for wl in lists}
        if kind.startswith("x:"):  # /list's undo of re-including an excluded player
            action, kind = "xp", kind[2:]
        if action == "sl":
            wl = find_list(lists, token)
            if wl is None:
                return gone
            await self._db(self.store.subscribe, sub_id, "list", wl.name)
            return Outcome(to_text(t("subscribed_list", lang, name=wl.display)), wl.name)
        if action in ("ss", "us"):
            silenced = action == "ss"
            if not await self._db(self.store.silence_story, sub_id, token, silenced):
                return gone
            return Outcome(t("silenced" if silenced else "unsilenced", lang), token)
        if action in ("xp", "ux", "rx"):
            return await self._exclusion(who, action, kind, token, lists)
        if action in ("rs", "ra"):
            value = await self._undo_value(kind, token, lists)
            if value is None:
                return gone
            await self._db(self.store.subscribe, sub_id, kind, value)
            if kind == "term":
                await self._db(self.store.set_active, sub_id, True)
            name = titles.get(value, value) if kind == "list" else value
            return Outcome(to_text(t("restored", lang, name=name)), value, name)
        subs = await self._db(self.store.subscriptions, sub_id)
        value = resolve_value(token, [v for k, v in subs if k == kind])
        if value is None:
            return gone
        await self._db(self.store.unsubscribe, sub_id, kind, value)
        self._removed[value_digest(value)] = value
        if kind == "list":
            name = titles.get(value, value)
            return Outcome(to_text(t("unsubscribed_list", lang, name=name)), value, name)
        return Outcome(to_text(t("removed_term", lang, term=value)), value, value)

    async def _digest_page(self, query: Any, who: Who, page: str) -> None:
        """A digest's full list, page by page, in the digest's own message (page 0: the
        digest again)."""
        message = query.message
        alerts = await self._db(self.store.digest_alerts, who.subscriber.id, message.message_id)
        await query.answer()
        if not alerts:
            return
        titles = {wl.name: wl.display for wl in self.watchlists()}
        number = int(page) if page.isdigit() else 1
        if number == 0:
            rendered, _ = render_digest(alerts, titles)
        else:
            rendered = render_digest_page(alerts, number, titles)
        try:
            await query.edit_message_text(
                rendered.html,
                parse_mode=ParseMode.HTML,
                reply_markup=rendered.keyboard,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramError as exc:  # not modified, too old: the list stays as it was
            log.info("could not turn a digest's page: %s", exc)

    async def _exclusion(
        self, who: Who, action: str, watchlist: str, token: str, lists: Sequence[Watchlist]
    ) -> Outcome:
        """ "Not this player" (xp) inside a list, and its undo (ux, or rx from /list)."""
        sub_id, lang = who.subscriber.id, who.lang
        wl = next((w for w in lists if w.name == watchlist), None)
        if action == "xp":
            candidates = [term.term for term in wl.terms] if wl is not None else []
            term = resolve_value(token, candidates) or self._removed.get(token.lstrip("#"))
            if term is None:
                return Outcome(t("gone", lang))
            await self._db(self.store.exclude, sub_id, watchlist, term)
            name = wl.display if wl is not None else watchlist
            return Outcome(to_text(t("excluded", lang, term=term, name=name)), term, term)
        excluded = await self._db(self.store.exclusions, sub_id)
        term = resolve_value(token, [t_ for w, t_ in excluded if w == watchlist])
        if term is None:
            return Outcome(t("gone", lang))
        await self._db(self.store.unexclude, sub_id, watchlist, term)
        self._removed[value_digest(term)] = term
        return Outcome(to_text(t("included", lang, term=term)), term, term)

    async def _undo_value(self, kind: str, token: str, lists: Sequence[Watchlist]) -> str | None:
        """What an "Annulla" button restores. Values too long for a button's 64 bytes travel
        as a digest, resolved against what this process removed lately or the known lists."""
        if not token.startswith("#"):
            return token
        if kind == "list":
            return resolve_value(token, [wl.name for wl in lists])
        return self._removed.get(token[1:])

    async def _swap_alert_button(
        self, query: Any, who: Who, action: str, kind: str, value: str
    ) -> None:
        """The pressed button of an alert becomes its twin: a removal becomes "↩️ Annulla",
        an undo becomes the removal again; the other buttons stay."""
        twin = UNDO.get(action) or REDO[action]
        label, data = button_for(twin, kind, value, self.list_titles(), who.lang)
        pressed = query.data
        old = query.message.reply_markup if query.message is not None else None
        rows = [list(row) for row in old.inline_keyboard] if old is not None else []
        swapped = False
        for row in rows:
            for i, button in enumerate(row):
                if button.callback_data == pressed:
                    row[i] = InlineKeyboardButton(label, callback_data=data)
                    swapped = True
        if not swapped:
            rows = [[InlineKeyboardButton(label, callback_data=data)]]
        try:
            await query.edit_message_reply_markup(reply_markup=InlineKeyboardMarkup(rows))
        except TelegramError as exc:  # too old, deleted, not modified: the toast was enough
            log.info("could not refresh an alert's buttons: %s", exc)

    async def _redraw(
        self,
        query: Any,
        who: Who,
        view: str,
        page: int = 0,
        undo: tuple[str, str, str] | None = None,
    ) -> None:
        """Redraw /list (at `page`, with an undo row) or /lists after a press."""
        try:
            if view == "lists":
                text, keyboard = await self.lists_view(who)
            else:
                text, keyboard = await self.list_view(who, page, undo)
            await query.edit_message_text(
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramError as exc:  # too old, deleted, not modified: the answer was enough
            log.info("could not refresh a button's message: %s", exc)

    def list_titles(self) -> dict[str, str]:
        return {wl.name: wl.display for wl in self.watchlists()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a button press did: the toast, and the value it acted on (None: nothing)."""

    note: str
    value: str | None = None
    label: str = ""


@dataclass(frozen=True, slots=True)
class Followed:
    """One row of /list: a name ("term"), a list ("list") or an exclusion (kind = its list)."""

    kind: str
    value: str
    label: str
    short: str


def _data(action: str, kind: str, value: str) -> str:
    return callback_data(action, kind, value)


def to_text(html: str) -> str:
    """Callback answers are plain text."""
    return to_plain(html)


def clip_lines(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🇮🇹 Italiano", callback_data="lg|it"),
                InlineKeyboardButton("🇬🇧 English", callback_data="lg|en"),
            ]
        ]
    )


def reload_summary(outcome: Any, lang: str) -> str:
    """A reload's outcome in the admin's language: how many feeds and lists are in force,
    how many problems, what stays at its last good version."""
    feeds, lists = getattr(outcome, "feeds", None), getattr(outcome, "watchlists", None)
    if feeds is None or lists is None:
        return str(getattr(outcome, "summary", "") or "")
    text = t("reload_counts", lang, feeds=feeds, lists=lists)
    problems = len(getattr(outcome, "problems", []) or [])
    if problems:
        text += t("reload_problem_count", lang, count=problems)
    kept = getattr(outcome, "kept", ())
    if kept:
        text += t("reload_kept", lang, names=", ".join(kept))
    return text
