"""Answers to what isn't a well-formed command, and the screens that guide: free text, near
misses of /watch, /unwatch and /subscribe, unknown commands, /start's greeting and deep links,
and /settings (/impostazioni).

Mixed into `Commands` (it uses its plumbing). What the text means is decided by the pure
functions of `intents`; here we only pick the answer and its buttons. Buttons that follow
something carry the exact value ("wt|term|Christian Pulisic", "sl|list|juventus"), so a tap
does what it says without another question.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process
from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.match import describe_term
from bot.schedule import hhmm
from bot.telegram.intents import (
    Known,
    catalogue,
    exactly_known,
    intent,
    nearest,
    nearest_command,
    ordinary_word,
)
from bot.telegram.pauses import local_time, schedule_of, zone_note
from bot.telegram.render import callback_data, clip, resolve_value, to_plain
from bot.telegram.texts import t
from bot.telegram.timeparse import parse_quiet, parse_time_of_day
from bot.text import fold

if TYPE_CHECKING:
    from telegram import Update

    from bot.models import Watchlist
    from bot.telegram.commands import Commands, Context, Who

log = logging.getLogger("newsbot.telegram.commands")

FOLLOW_TERM = "wt"  # callback: follow this term as it is (a choice made: no more questions)
SETTINGS = "st"  # callback: change one setting from /settings and redraw it
POPULAR = ("milan", "inter", "juventus", "napoli", "roma")  # /start's first buttons
MAX_SUGGESTIONS = 3
# Every command the bot answers, aliases included (for "did you mean" on unknown ones).
COMMAND_NAMES = (
    "start", "help", "watch", "unwatch", "list", "lists", "subscribe", "unsubscribe", "mute",
    "unmute", "quiet", "digest", "stop", "segui", "follow", "settings", "impostazioni",
    "lingua", "language",
)  # fmt: skip
DEFAULT_QUIET = "23-7"
DEFAULT_DIGEST = "8:00"
SETTINGS_MUTE = timedelta(hours=8)


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(clip(to_plain(text), 60), callback_data=data)


def known_buttons(found: Sequence[Known], lang: str) -> list[list[InlineKeyboardButton]]:
    """One button per suggestion: follow the list, or follow the term."""
    rows = []
    for k in found[:MAX_SUGGESTIONS]:
        if k.kind == "list":
            label = t("suggest_list_button", lang, name=clip(k.label, 40))
            rows.append([_button(label, callback_data("sl", "list", k.value))])
        else:
            label = t("suggest_term_button", lang, name=clip(k.label, 40))
            rows.append([_button(label, callback_data(FOLLOW_TERM, "term", k.value))])
    return rows


def as_typed_button(term: str, lang: str) -> list[InlineKeyboardButton]:
    label = t("suggest_as_typed", lang, name=clip(term, 40))
    return [_button(label, callback_data(FOLLOW_TERM, "term", term))]


class HelpfulCommands:
    """Free text, near misses, unknown commands, /start and /settings of `Commands`."""

    # -- free text --------------------------------------------------------------------------
    async def free_text(self: Commands, update: Update, context: Context) -> None:
        who = await self._who(update)
        message = update.effective_message
        if who is None or message is None:
            return
        meant = intent(message.text or "")
        lang = who.lang
        if meant.kind == "help":
            await self.help(update, context)
        elif meant.kind == "thanks":
            await self._reply(update, context, t("you_are_welcome", lang))
        elif meant.kind == "greeting":
            text, keyboard = await self.start_view(who)
            await self._reply(update, context, text, keyboard)
        else:
            what = meant.what
            text, keyboard = self.follow_offer(what, lang, asked=meant.kind == "follow")
            await self._reply(update, context, text, keyboard)

    def follow_offer(
        self: Commands, what: str, lang: str, *, asked: bool
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """ "voglio seguire il Milan", or a bare name: the lists and terms it names, as
        buttons, and following it as written."""
        from bot.telegram.commands import term_problem

        watchlists = list(self.watchlists())
        found = nearest(what, watchlists) if what else []
        rows = known_buttons(found, lang)
        plausible = bool(what) and term_problem(what) is None and len(what.split()) <= 4
        if plausible and not any(k.kind == "term" and k.value == what for k in found):
            rows.append(as_typed_button(what, lang))
        if not rows:
            return t("free_text_unknown", lang), None
        key = "follow_found" if found else "follow_as_typed"
        if not asked and not found:
            key = "free_text_offer"
        return t(key, lang, name=what), InlineKeyboardMarkup(rows)

    # -- near misses ------------------------------------------------------------------------
    async def watch_hint(
        self: Commands, who: Who, term: str
    ) -> tuple[str, InlineKeyboardMarkup] | None:
        """Why not to follow `term` as typed yet: a list the chat follows already has it, it
        looks like a misspelt known name, or it is an ordinary word in lower case. None: go."""
        lang = who.lang
        watchlists = list(self.watchlists())
        exact = exactly_known(term, watchlists)
        if exact:
            subs = await self._db(self.store.subscriptions, who.subscriber.id)
            followed = {v for k, v in subs if k == "list"}
            titles = {wl.name: wl.display for wl in watchlists}
            for k in exact:
                covering = [n for n in k.lists if n in followed] if k.kind == "term" else []
                if covering:
                    name = titles.get(covering[0], covering[0])
                    text = t("watch_covered", lang, term=k.value, name=name)
                    return text, InlineKeyboardMarkup([as_typed_button(term, lang)])
        if ordinary_word(term):
            proper = term[:1].upper() + term[1:]
            rows = [as_typed_button(proper, lang), as_typed_button(term, lang)]
            text = t("watch_common_word", lang, term=term, proper=proper)
            return text, InlineKeyboardMarkup(rows)
        if exact:
            return None
        found = nearest(term, watchlists)
        if found:
            rows = [*known_buttons(found, lang), as_typed_button(term, lang)]
            return t("did_you_mean", lang, term=term), InlineKeyboardMarkup(rows)
        return None

    def list_for(self: Commands, term: str) -> Watchlist | None:
        """The curated list named by `term` ("Milan", "juve"), to offer next to the term."""
        for k in exactly_known(term, list(self.watchlists())):
            if k.kind == "list":
                return next((wl for wl in self.watchlists() if wl.name == k.value), None)
        return None

    def unwatch_hint(
        self: Commands, term: str, terms: Sequence[str], lang: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """/unwatch of something not followed: the closest followed term, with a button."""
        folded = {fold(v): v for v in terms}
        close = process.extractOne(fold(term), list(folded), scorer=fuzz.WRatio, score_cutoff=80)
        if close is None:
            return t("unwatch_unknown", lang, term=term), None
        value = folded[close[0]]
        label = t("unwatch_button", lang, term=clip(value, 40))
        keyboard = InlineKeyboardMarkup([[_button(label, callback_data("rm", "term", value))]])
        return t("unwatch_did_you_mean", lang, term=term, value=value), keyboard

    def subscribe_hint(
        self: Commands, name: str, lang: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        lists = [k for k in nearest(name, list(self.watchlists())) if k.kind == "list"]
        if not lists:
            return t("subscribe_unknown", lang, name=name), None
        rows = known_buttons(lists, lang)
        return t("subscribe_did_you_mean", lang, name=name), InlineKeyboardMarkup(rows)

    async def follow_term_button(self: Commands, query: Any, who: Who, token: str) -> None:
        """A suggestion's button: follow the term exactly as the button says."""
        from bot.telegram.commands import TERMS_PER_SUBSCRIBER, term_problem

        candidates = [k.value for keys in catalogue(list(self.watchlists())).values() for k in keys]
        value = token if not token.startswith("#") else resolve_value(token, candidates)
        if value is None or term_problem(value):
            await query.answer(t("gone", who.lang))
            return
        subs = await self._db(self.store.subscriptions, who.subscriber.id)
        terms = [v for k, v in subs if k == "term"]
        if value not in terms and len(terms) >= TERMS_PER_SUBSCRIBER:
            await query.answer(
                to_plain(t("watch_too_many", who.lang, limit=len(terms))), show_alert=True
            )
            return
        await self._db(self.store.subscribe, who.subscriber.id, "term", value)
        await self._db(self.store.set_active, who.subscriber.id, True)
        self.on_change()
        await query.answer(to_plain(t("subscribed_term", who.lang, term=value)))
        text = t("watch_added", who.lang, term=value, how=describe_term(value, who.lang))
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=None)
        except TelegramError as exc:
            log.info("could not update a suggestion's message: %s", exc)

    # -- unknown commands -------------------------------------------------------------------
    async def unknown_command(self: Commands, update: Update, context: Context) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != Chat.PRIVATE:
            return  # in groups, other bots' commands are not ours to answer
        who = await self._who(update)
        message = update.effective_message
        if who is None or message is None:
            return
        typed = (message.text or "").split()[0].lstrip("/").split("@")[0]
        meant = nearest_command(typed, COMMAND_NAMES)
        if meant is None:
            await self._reply(update, context, t("unknown_command", who.lang))
        else:
            await self._reply(
                update, context, t("unknown_command_near", who.lang, typed=typed, meant=meant)
            )

    # -- /start -----------------------------------------------------------------------------
    async def start_view(self: Commands, who: Who) -> tuple[str, InlineKeyboardMarkup]:
        """The greeting: what the bot does, and buttons for popular lists, following a player,
        help and the language."""
        lang = who.lang
        lists = {wl.name: wl for wl in self.watchlists()}
        popular = [lists[n] for n in POPULAR if n in lists] or list(lists.values())[:4]
        rows = [
            [
                _button(f"➕ {wl.display}", callback_data("sl", "list", wl.name))
                for wl in popular[i : i + 2]
            ]
            for i in range(0, min(len(popular), 4), 2)
        ]
        rows.append([_button(t("start_follow_player", lang), f"{SETTINGS}|player")])
        rows.append(
            [
                _button(t("start_all_lists", lang), f"{SETTINGS}|lists"),
                _button(t("start_help", lang), f"{SETTINGS}|help"),
            ]
        )
        rows.append([_button(t("start_language", lang), f"{SETTINGS}|language")])
        return t("start", lang), InlineKeyboardMarkup(rows)

    async def start_status(self: Commands, who: Who) -> str:
        """After /stop, what /start brings back: what is followed and what still holds alerts."""
        lang, sub, now = who.lang, who.subscriber, self.now()
        subs = await self._db(self.store.subscriptions, sub.id)
        terms = [v for k, v in subs if k == "term"]
        titles = {wl.name: wl.display for wl in self.watchlists()}
        lists = [titles.get(v, v) for k, v in subs if k == "list"]
        lines = [t("start_again", lang)]
        if terms or lists:
            names = ", ".join([*lists, *terms][:12])
            lines.append(t("start_again_follows", lang, names=names))
        else:
            lines.append(t("list_empty", lang))
        lines += self.pause_lines(who)
        if sub.muted_until is not None and sub.muted_until > now:
            lines.append(t("start_still_muted", lang, until=local_time(sub, sub.muted_until, lang)))
        return "\n".join(lines)

    def pause_lines(self: Commands, who: Who) -> list[str]:
        schedule = schedule_of(who.subscriber)
        zone = zone_note(who.subscriber, who.lang)
        lines = []
        if schedule.quiet is not None:
            start, end = (hhmm(x) for x in schedule.quiet)
            lines.append(t("quiet_status", who.lang, start=start, end=end, zone=zone))
        if schedule.digest is not None:
            lines.append(t("digest_status", who.lang, at=hhmm(schedule.digest), zone=zone))
        return lines

    # -- /settings --------------------------------------------------------------------------
    async def settings(self: Commands, update: Update, context: Context) -> None:
        who = await self._who(update)
        if who is None:
            return
        text, keyboard = await self.settings_view(who)
        if who.chat.type != Chat.PRIVATE and not await self._may_change(update, context, who):
            keyboard = None  # no buttons a member could not use
        await self._reply(update, context, text, keyboard)

    async def settings_view(self: Commands, who: Who) -> tuple[str, InlineKeyboardMarkup]:
        lang, sub, now = who.lang, who.subscriber, self.now()
        schedule = schedule_of(sub)
        zone = zone_note(sub, lang)
        subs = await self._db(self.store.subscriptions, sub.id)
        muted = sub.muted_until is not None and sub.muted_until > now
        pause = (
            t("settings_paused", lang, until=local_time(sub, sub.muted_until, lang), zone=zone)
            if muted and sub.muted_until is not None
            else t("settings_not_paused", lang)
        )
        quiet = (
            t("settings_quiet", lang, start=hhmm(schedule.quiet[0]), end=hhmm(schedule.quiet[1]))
            if schedule.quiet
            else t("settings_none", lang)
        )
        digest = (
            t("settings_digest", lang, at=hhmm(schedule.digest))
            if schedule.digest
            else t("settings_real_time", lang)
        )
        text = t(
            "settings",
            lang,
            language=t("language_name", lang),
            terms=sum(k == "term" for k, _ in subs),
            lists=sum(k == "list" for k, _ in subs),
            pause=pause,
            quiet=quiet,
            digest=digest,
            zone=sub.timezone or "Europe/Rome",
        )
        toggles = [
            ("unmute" if muted else "mute", "settings_unmute" if muted else "settings_mute"),
            (
                "quiet_off" if schedule.quiet else "quiet",
                "settings_quiet_off" if schedule.quiet else "settings_quiet_on",
            ),
            (
                "digest_off" if schedule.digest else "digest",
                "settings_digest_off" if schedule.digest else "settings_digest_on",
            ),
        ]
        rows = [[_button(t(label, lang), f"{SETTINGS}|{op}")] for op, label in toggles]
        rows.append([_button(t("settings_list", lang), f"{SETTINGS}|list")])
        return text, InlineKeyboardMarkup(rows)

    async def settings_button(self: Commands, query: Any, who: Who, op: str) -> None:
        """A /settings or /start button: change the setting, then redraw in place."""
        sub, now = who.subscriber, self.now()
        if op in ("list", "lists"):
            await query.answer()
            await self._redraw(query, who, op)
            return
        if op in ("help", "player", "language"):
            await query.answer()
            key = {
                "help": "help",
                "player": "start_player_howto",
                "language": "start_language_howto",
            }[op]
            await query.message.reply_text(t(key, who.lang), parse_mode=ParseMode.HTML)
            return
        if op == "mute":
            await self._db(self.store.mute, sub.id, now + SETTINGS_MUTE)
        elif op == "unmute":
            await self._db(self.store.mute, sub.id, now)
        elif op == "quiet":
            await self._db(self.store.set_quiet, sub.id, parse_quiet(DEFAULT_QUIET))
        elif op == "quiet_off":
            await self._db(self.store.set_quiet, sub.id, None)
            await self.pause_ended(sub)
        elif op == "digest":
            await self._db(self.store.set_digest, sub.id, parse_time_of_day(DEFAULT_DIGEST))
        elif op == "digest_off":
            await self._db(self.store.set_digest, sub.id, None)
            await self.pause_ended(sub)
        else:
            await query.answer(t("gone", who.lang))
            return
        self.on_change()
        await query.answer(to_plain(t("settings_saved", who.lang)))
        fresh = await self._db(self.store.subscriber, str(who.chat.id), create=False)
        if fresh is not None:
            who = type(who)(who.chat, fresh, who.lang)
        text, keyboard = await self.settings_view(who)
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        except TelegramError as exc:
            log.info("could not redraw the settings: %s", exc)
