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
from dataclasses import dataclass
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
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.match import Matcher, describe_term, personal_watchlist
from bot.models import Subscriber, Watchlist
from bot.telegram.pauses import PauseCommands
from bot.telegram.render import (
    DIGEST,
    callback_data,
    clip,
    esc,
    render_digest,
    render_digest_page,
    resolve_value,
    to_plain,
)
from bot.telegram.texts import Markup, language_of, t
from bot.text import fold
from bot.timefmt import short_local_time

log = logging.getLogger("newsbot.telegram.commands")

TERM_MAX = 60
TERMS_PER_SUBSCRIBER = 50
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
    lang: str


View = Callable[[Who], Awaitable[tuple[str, InlineKeyboardMarkup | None]]]


class Commands(PauseCommands):
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

    # -- plumbing ---------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _who(self, update: Update) -> Who | None:
        chat = update.effective_chat
        if chat is None:
            return None
        user = update.effective_user
        code = user.language_code if user else None
        kind = "private" if chat.type == Chat.PRIVATE else chat.type
        sub = await self._db(
            self.store.subscriber, str(chat.id), kind=kind, language=language_of(code)
        )
        lang = language_of(code) if code else sub.language
        if chat.type == Chat.PRIVATE and code and sub.language != lang:
            await self._db(self.store.set_language, sub.id, lang)
        now = self.now()
        if update.callback_query is None and (
            sub.last_seen is None or now - sub.last_seen > TOUCH_EVERY
        ):
            await self._db(self.store.touch, sub.id, now)  # for /stats' "active"
        return Who(chat, sub, lang)

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
    ) -> Message | None:
        chat = update.effective_chat
        if chat is None:
            return None
        return await context.bot.send_message(
            chat.id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            link_preview_options=NO_PREVIEW,
        )

    async def _guarded(self, update: Update, context: Context) -> Who | None:
        """The chat's subscriber if the sender may change what it follows; else says why."""
        who = await self._who(update)
        if who is None:
            return None
        if not await self._may_change(update, context, who):
            await self._reply(update, context, t("group_admins_only", who.lang))
            return None
        return who

    async def _admin(self, update: Update, context: Context) -> Who | None:
        """The chat's subscriber if the sender is a bot administrator; else says why."""
        who = await self._who(update)
        if who is None:
            return None
        if not self.is_admin(update):
            await self._reply(update, context, t("admins_only", who.lang))
            return None
        return who

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
        who = await self._guarded(update, context)
        if who is None:
            return
        await self._db(self.store.set_active, who.subscriber.id, True)
        await self._db(self.store.set_language, who.subscriber.id, who.lang)
        self.on_change()
        await self._reply(update, context, t("start", who.lang))

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
        added = await self._db(self.store.subscribe, who.subscriber.id, "term", term)
        if not who.subscriber.active:
            await self._db(self.store.set_active, who.subscriber.id, True)
        self.on_change()
        how = describe_term(term, who.lang)
        key = "watch_added" if added else "watch_already"
        await self._reply(update, context, t(key, who.lang, term=term, how=how))
        await self._reply(update, context, await self.preview(term, who.lang))

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
        value = resolve_value(term, [v for k, v in subs if k == "term"])
        if value is None:
            await self._reply(update, context, t("unwatch_unknown", who.lang, term=term))
            return
        await self._db(self.store.unsubscribe, who.subscriber.id, "term", value)
        self.on_change()
        await self._reply(update, context, t("unwatch_done", who.lang, term=value))

    async def list(self, update: Update, context: Context) -> None:
        await self._show(update, context, self.list_view)

    async def list_view(self, who: Who) -> tuple[str, InlineKeyboardMarkup | None]:
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        shown = [(k, v) for k, v in subs if k in ("term", "list")]
        lines: list[str] = []
        muted = who.subscriber.muted_until
        if muted is not None and muted > self.now():
            lines.append(t("list_muted", who.lang, until=short_local_time(muted, who.lang)))
        if not shown:
            lines.append(t("list_empty", who.lang))
            return "\n".join(lines), None
        lines.append(t("list_head", who.lang))
        titles = {wl.name: wl.display for wl in self.watchlists()}
        rows = []
        for kind, value in shown:
            label = value if kind == "term" else f"📋 {titles.get(value, value)}"
            lines.append(f"• {escape(label, quote=False)}")
            data = _data("rm", kind, value)
            rows.append([InlineKeyboardButton(f"❌ {clip(label, 40)}", callback_data=data)])
        return "\n".join(lines), InlineKeyboardMarkup(rows)

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
        wl = find_list(watchlists, name)
        if follow and wl is None:
            await self._reply(update, context, t("subscribe_unknown", who.lang, name=name))
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
        await self._reply(update, context, text)

    def _config_problems(self, lang: str) -> str:
        """The last refused reload, with its path:line problems, so admins see why edits
        did not take effect (the last good version is still in force)."""
        outcome = self.config_status()
        if outcome is None or getattr(outcome, "ok", True):
            return ""
        listed = "\n".join(str(p) for p in outcome.problems)
        return "\n\n" + t(
            "config_refused", lang, summary=outcome.summary, problems=clip_lines(listed, 2500)
        )

    async def reload(self, update: Update, context: Context) -> None:
        who = await self._admin(update, context)
        if who is None:
            return
        if self.reload_callback is None:
            await self._reply(update, context, t("reload_unavailable", who.lang))
            return
        outcome = self.reload_callback()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        summary = getattr(outcome, "summary", "") or ""
        problems = [str(p) for p in getattr(outcome, "problems", [])]
        if getattr(outcome, "ok", False) and not problems:
            await self._reply(update, context, t("reload_ok", who.lang, summary=summary))
            return
        listed = "\n".join(problems[:30]) + (
            f"\n… +{len(problems) - 30}" if len(problems) > 30 else ""
        )
        text = t("reload_problems", who.lang, summary=summary, problems=clip_lines(listed, 3500))
        await self._reply(update, context, text)

    async def migrated(self, update: Update, context: Context) -> None:
        """A group became a supergroup: what it follows moves to the new chat id."""
        message = update.effective_message
        if message is not None and message.migrate_to_chat_id:
            old, new = str(message.chat.id), str(message.migrate_to_chat_id)
            log.info("group %s migrated to supergroup %s", old, new)
            await self._db(self.store.migrate_chat, old, new)

    # -- everything else --------------------------------------------------------------------
    async def unknown_command(self, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != Chat.PRIVATE:
            return  # in groups, other bots' commands are not ours to answer
        who = await self._who(update)
        if who is not None:
            await self._reply(update, context, t("unknown_command", who.lang))

    async def free_text(self, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        text = clean_term(update.effective_message.text or "") if update.effective_message else ""
        example = text if text and term_problem(text) is None else "Palestra"
        await self._reply(update, context, t("free_text", who.lang, example=example))

    async def button(self, update: Update, context: Context) -> None:
        """Inline buttons: unfollow from an alert, remove from /list, (un)subscribe in /lists."""
        query = update.callback_query
        if query is None or not query.data:
            return
        action, _, rest = query.data.partition("|")
        kind, _, token = rest.partition("|")
        who = await self._who(update)
        if who is None:
            await query.answer()
            return
        if action == DIGEST:  # turning a digest's pages changes nothing: anyone may
            await self._digest_page(query, who, rest)
            return
        if not await self._may_change(update, context, who):
            await query.answer(t("group_admins_only", who.lang), show_alert=True)
            return
        note = await self._apply_button(who, action, kind, token)
        self.on_change()
        await query.answer(note)
        await self._refresh(query, who, action)

    async def _apply_button(self, who: Who, action: str, kind: str, token: str) -> str:
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        if action == "sl":
            wl = find_list(list(self.watchlists()), token)
            if wl is None:
                return t("gone", who.lang)
            await self._db(self.store.subscribe, who.subscriber.id, "list", wl.name)
            return to_text(t("subscribed_list", who.lang, name=wl.display))
        value = resolve_value(token, [v for k, v in subs if k == kind])
        if value is None:
            return t("gone", who.lang)
        await self._db(self.store.unsubscribe, who.subscriber.id, kind, value)
        if kind == "list":
            titles = {wl.name: wl.display for wl in self.watchlists()}
            return to_text(t("unsubscribed_list", who.lang, name=titles.get(value, value)))
        return to_text(t("removed_term", who.lang, term=value))

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

    async def _refresh(self, query: Any, who: Who, action: str) -> None:
        """Keep the message's buttons true: /list and /lists are redrawn, an alert loses its
        unfollow button."""
        try:
            if action == "uf":
                await query.edit_message_reply_markup(reply_markup=None)
                return
            view = self.lists_view if action in ("sl", "ul") else self.list_view
            text, keyboard = await view(who)
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        except TelegramError as exc:  # too old, deleted, not modified: the answer was enough
            log.info("could not refresh a button's message: %s", exc)


def _data(action: str, kind: str, value: str) -> str:
    return callback_data(action, kind, value)


def to_text(html: str) -> str:
    """Callback answers are plain text."""
    return to_plain(html)


def clip_lines(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
