"""Alerts and digests as Telegram HTML messages, always under Telegram's 4096-character limit.

Why the caps: a title, URL or list of outlets comes from a feed we don't control. Each part is
cut to a fixed size (`TITLE_MAX`, `URL_MAX`, …) so that the worst case, measured in UTF-16 code
units as Telegram counts, stays well below `MAX_MESSAGE` (see tests/test_render.py); the sender
still has a `short=True` form to fall back on if Telegram ever says "message is too long".
Every piece of feed text is HTML-escaped, and a plain-text twin of every message exists for
when Telegram "can't parse entities".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape, unescape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.models import Alert, Match
from bot.telegram.texts import Markup, Voice, t
from bot.text import fold
from bot.timefmt import short_local_time
from bot.urls import clean_link

MAX_MESSAGE = 4096
TITLE_MAX = 300
URL_MAX = 1000  # the title's link; longer addresses are not linked
ALSO_URL_MAX = 200  # each "anche su" outlet's link
SOURCE_MAX = 60
TERMS_MAX = 6
ALSO_MAX = 5
CALLBACK_MAX = 64
PERSONAL_PREFIX = "watch:"
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message ready to send: HTML, its plain-text twin and its buttons."""

    html: str
    plain: str
    keyboard: InlineKeyboardMarkup | None = None


def tg_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units): an emoji can count two."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters on a word boundary when possible, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut + "…"


def esc(text: str, limit: int) -> str:
    """`text` clipped and HTML-escaped, the *escaped* form at most `limit` characters long
    (a title of "&"s would otherwise grow five-fold)."""
    raw = clip(text, limit)
    out = escape(raw, quote=False)
    while tg_len(out) > limit and len(raw) > 1:
        raw = clip(raw, max(1, len(raw) * limit // tg_len(out) - 1))
        out = escape(raw, quote=False)
    return out


def to_plain(html: str) -> str:
    """The text a reader sees of our HTML: tags dropped, entities decoded."""
    return unescape(_TAG.sub("", html))


def callback_data(action: str, kind: str, value: str) -> str:
    """Button payload `action|kind|value`; values too long for Telegram's 64 bytes are hashed
    (`#` + digest) and resolved against the subscriber's own subscriptions by `resolve_value`."""
    data = f"{action}|{kind}|{value}"
    if len(data.encode()) <= CALLBACK_MAX:
        return data
    return f"{action}|{kind}|#{value_digest(value)}"


def value_digest(value: str) -> str:
    return hashlib.sha1(fold(value).encode()).hexdigest()[:16]


def resolve_value(token: str, candidates: Sequence[str]) -> str | None:
    """The candidate a button's value token stands for (exact, folded, or hashed form)."""
    for value in candidates:
        if token == value:
            return value
    for value in candidates:
        if token.startswith("#") and token[1:] == value_digest(value):
            return value
        if fold(token) == fold(value):
            return value
    return None


# -- what an alert says ----------------------------------------------------------------------
_OUTLET_SUFFIX = re.compile(r"\s+(?:\||-|–|—)\s+([^|–—-]{2,40})$")
_BOILERPLATE = re.compile(
    r"^(?:L['’]articolo\b.*\b(?:proviene da|sembra essere il primo su)\b|Leggi (?:anche|tutto)\b"
    r"|Continua a leggere\b|The post\b.*\bappeared first on\b)",
    re.IGNORECASE,
)
SUMMARY_MAX = 220


def display_title(title: str, source: str) -> str:
    """The headline without the outlet's name appended to it (" | CM", " - Tutto Napoli"):
    the outlet is named on the next line anyway. A " | X" tail is always an outlet's tag; a
    " - X" tail only when X resembles the outlet (a dash often joins two parts of a headline)."""
    match = _OUTLET_SUFFIX.search(title)
    if match is None or len(title) - len(match.group(0)) < 15:
        return title
    tail = fold(match.group(1))
    bar = match.group(0).lstrip()[0] == "|"
    outlet = fold(source)
    tail_words = set(tail.split())
    looks_like_outlet = bool(outlet) and (
        tail in outlet or outlet in tail or bool(tail_words & set(outlet.split()))
    )
    if (bar and len(tail) <= 25) or looks_like_outlet:
        return title[: match.start()].rstrip()
    return title


def summary_line(summary: str, title: str) -> str:
    """The summary's first line when it adds something to the title: not empty, not the title
    again (or its start), not a CMS's "L'articolo … proviene da …" boilerplate."""
    for raw in summary.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        if _BOILERPLATE.search(line):
            return ""
        folded, folded_title = fold(line), fold(title)
        if len(folded) < 12 or folded in folded_title or folded_title.startswith(folded):
            return ""
        if folded.startswith(folded_title):
            line = line[len(title) :].lstrip(" .:-–—")
            if len(line) < 12:
                return ""
        return clip(line, SUMMARY_MAX)
    return ""


def link(url: str, label_html: str, limit: int = URL_MAX) -> str:
    """`label_html` as a link to `url` (tracking parameters removed); just the label when the
    URL is not a web address or is longer than `limit` (a cut address would be a broken one,
    and the message must stay under 4096 characters)."""
    href = clean_link(url)
    if not href or len(escape(href, quote=True)) > limit:
        return label_html
    return f'<a href="{escape(href, quote=True)}">{label_html}</a>'


def why_line(matches: Sequence[Match], list_titles: Mapping[str, str], lang: str) -> str:
    """Why this alert, in the subscriber's words: the names it follows itself ("Segui:
    Palestra") and the lists it follows ("Lista: AC Milan"), never scores or spellings."""
    terms = list(dict.fromkeys(m.term for m in matches if is_personal(m)))
    lists = list(
        dict.fromkeys(list_titles.get(m.watchlist, m.watchlist) for m in matches if is_list(m))
    )
    parts = []
    if terms:
        names = ", ".join(esc(x, 40) for x in terms[:TERMS_MAX])
        parts.append(t("why_terms", lang, names=Markup(names)))
    if lists:
        names = ", ".join(esc(x, 40) for x in lists[:TERMS_MAX])
        parts.append(t("why_lists", lang, names=Markup(names)))
    return " · ".join(parts)


def is_personal(m: Match) -> bool:
    return m.watchlist.startswith(PERSONAL_PREFIX)


def is_list(m: Match) -> bool:
    """A curated list's match (not a /watch term)."""
    return not is_personal(m)


def is_group_chat(chat_id: str) -> bool:
    """Groups, supergroups and channels have negative ids on Telegram."""
    return str(chat_id).startswith("-")


def _meta(alert: Alert, lang: str) -> str:
    meta = [esc(alert.source, SOURCE_MAX)]
    if alert.published is not None:
        meta.append(short_local_time(alert.published, lang))
    if alert.also:
        urls = dict(alert.links)
        outlets = [
            link(urls.get(o, ""), esc(o, SOURCE_MAX), ALSO_URL_MAX)
            for o in dict.fromkeys(alert.also)
        ]
        shown = outlets[:ALSO_MAX] + (
            [f"+{len(outlets) - ALSO_MAX}"] if len(outlets) > ALSO_MAX else []
        )
        meta.append(t("also_on", lang, outlets=Markup(", ".join(shown))))
    return " · ".join(meta)


def render_alert(
    alert: Alert, list_titles: Mapping[str, str] | None = None, *, short: bool = False
) -> Rendered:
    """The alert as a subscriber reads it: the linked title, the summary's first line when it
    adds something, outlet · Rome time · other outlets (linked), and why in its own words;
    in a private chat, buttons to unfollow exactly what matched or to silence the story (in
    groups and channels none: members could not use them). `short` is the fallback for
    Telegram's "message is too long"."""
    titles = list_titles or {}
    lang = alert.language
    title = display_title(alert.title, alert.source)
    bold = f"<b>{esc(title, 120 if short else TITLE_MAX)}</b>"
    lines = [f"⚽ {link(alert.url, bold, 300 if short else URL_MAX)}"]
    summary = "" if short else summary_line(alert.summary, title)
    if summary:
        lines.append(f"<i>{esc(summary, SUMMARY_MAX)}</i>")
    lines.append(_meta(alert, lang))
    why = why_line(alert.matches, titles, lang)
    if why:
        lines.append(why)
    html = "\n".join(lines)
    return Rendered(html, to_plain(html), alert_keyboard(alert, titles))


# -- the alert's buttons ---------------------------------------------------------------------
UNFOLLOW_TERM = "uf"  # uf|term|<term>         undo: rs|term|<term>
LEAVE_LIST = "uf"  # uf|list|<list>            undo: rs|list|<list>
EXCLUDE = "xp"  # xp|<list>|<term>             undo: ux|<list>|<term>
SILENCE = "ss"  # ss|story|<story id>          undo: us|story|<story id>
UNDO = {"uf": "rs", "xp": "ux", "ss": "us"}
REDO = {undo: action for action, undo in UNDO.items()}


def alert_buttons(alert: Alert, list_titles: Mapping[str, str]) -> list[list[tuple[str, str]]]:
    """(label, callback data) rows for what matched THIS subscriber: a personal term to
    unfollow; else, for a list, "not this player" and "leave the list"; always "silence this
    story". Empty in groups and channels."""
    if is_group_chat(alert.chat_id) or not alert.matches:
        return []
    lang = alert.language
    silence = (t("silence_button", lang), callback_data(SILENCE, "story", alert.story_id))
    personal = [m for m in alert.matches if is_personal(m)]
    if personal:
        term = personal[0].term
        return [[button_for(UNFOLLOW_TERM, "term", term, list_titles, lang), silence]]
    listed = [m for m in alert.matches if is_list(m)]
    if not listed:
        return [[silence]]
    first = listed[0]
    return [
        [
            button_for(EXCLUDE, first.watchlist, first.term, list_titles, lang),
            button_for(LEAVE_LIST, "list", first.watchlist, list_titles, lang),
        ],
        [silence],
    ]


def button_for(
    action: str, kind: str, value: str, list_titles: Mapping[str, str], lang: str
) -> tuple[str, str]:
    """One alert button (or its undo twin) as (label, callback data)."""
    name = list_titles.get(value, value) if kind == "list" else value
    if action in REDO:
        label = t("undo_silence" if kind == "story" else "undo_button", lang, name=clip(name, 30))
    elif action == SILENCE:
        label = t("silence_button", lang)
    elif action == EXCLUDE:
        label = t("exclude_button", lang, name=clip(name, 30))
    elif kind == "list":
        label = t("leave_button", lang, name=clip(name, 30))
    else:
        label = t("unfollow_button", lang, name=clip(name, 40))
    return to_plain(label), callback_data(action, kind, value)


def alert_keyboard(alert: Alert, list_titles: Mapping[str, str]) -> InlineKeyboardMarkup | None:
    rows = alert_buttons(alert, list_titles)
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


DIGEST_PAGE = 5
DIGEST = "dg"  # callback action: a digest's full list, page by page, in place


def linked_title(alert: Alert, limit: int = 200) -> str:
    """The title as a link to the story (bold text when there is no link)."""
    title = esc(alert.title, limit)
    if not alert.url:
        return f"<b>{title}</b>"
    return f'<a href="{escape(clip(alert.url, URL_MAX), quote=True)}">{title}</a>'


def digest_entry(alert: Alert, list_titles: Mapping[str, str]) -> str:
    """One line per story: the linked title, then outlet and time."""
    meta = [esc(alert.source, SOURCE_MAX)]
    if alert.published is not None:
        meta.append(short_local_time(alert.published, alert.language))
    return f"• {linked_title(alert)}\n   {' · '.join(meta)}"


def digest_keyboard(lang: str, count: int) -> InlineKeyboardMarkup:
    label = to_plain(t("digest_open", lang, count=count))
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"{DIGEST}|1")]])


def render_digest(
    alerts: Sequence[Alert],
    list_titles: Mapping[str, str] | None = None,
    *,
    limit: int = MAX_MESSAGE - 96,
) -> tuple[Rendered, list[Alert]]:
    """One message for many alerts to one subscriber, oldest first, as many as fit in `limit`
    (the rest go in a next message); returns it and the alerts it contains. Its button opens
    the full list (what matched, other outlets) page by page in place."""
    titles = list_titles or {}
    lang = Voice(alerts[0].language, plural=is_group_chat(alerts[0].chat_id))
    included: list[Alert] = []
    entries: list[str] = []
    size = tg_len(t("digest_head", lang, count=len(alerts))) + tg_len(
        t("digest_more", lang, count=len(alerts))
    )
    for alert in alerts:
        entry = digest_entry(alert, titles)
        if included and size + tg_len(entry) + 1 > limit:
            break
        entries.append(entry)
        included.append(alert)
        size += tg_len(entry) + 1
    parts = [t("digest_head", lang, count=len(included)) + "\n", *entries]
    if len(included) < len(alerts):
        parts.append("\n" + t("digest_more", lang, count=len(alerts) - len(included)))
    html = "\n".join(parts)
    return Rendered(html, to_plain(html), digest_keyboard(lang, len(included))), included


def render_digest_page(
    alerts: Sequence[Alert], page: int, list_titles: Mapping[str, str] | None = None
) -> Rendered:
    """Page `page` (from 1) of a digest's full list: each story with its outlets and what
    matched; ◀ ▶ to turn pages and ↩ back to the digest, all in the same message."""
    titles = list_titles or {}
    lang = Voice(alerts[0].language, plural=is_group_chat(alerts[0].chat_id))
    pages = max(1, -(-len(alerts) // DIGEST_PAGE))
    page = min(max(page, 1), pages)
    lines = [t("digest_page_head", lang, count=len(alerts), page=page, pages=pages)]
    for alert in alerts[(page - 1) * DIGEST_PAGE : page * DIGEST_PAGE]:
        entry = [f"\n{linked_title(alert, TITLE_MAX)}", _meta(alert, lang)]
        why = why_line(alert.matches, titles, lang)
        if why:
            entry.append(why)
        lines.append("\n".join(entry))
    nav = []
    if page > 1:
        nav.append(InlineKeyboardButton("◀", callback_data=f"{DIGEST}|{page - 1}"))
    nav.append(InlineKeyboardButton(to_plain(t("digest_back", lang)), callback_data=f"{DIGEST}|0"))
    if page < pages:
        nav.append(InlineKeyboardButton("▶", callback_data=f"{DIGEST}|{page + 1}"))
    html = "\n".join(lines)
    return Rendered(html, to_plain(html), InlineKeyboardMarkup([nav]))
