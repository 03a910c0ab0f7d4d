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
from bot.telegram.texts import Markup, t
from bot.text import fold
from bot.timefmt import short_local_time

MAX_MESSAGE = 4096
TITLE_MAX = 300
URL_MAX = 800
SOURCE_MAX = 60
TERMS_MAX = 6
ALSO_MAX = 6
CALLBACK_MAX = 64
PERSONAL_PREFIX = "watch:"
UNFOLLOW = "uf"
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


def unfollow_target(alert: Alert, list_titles: Mapping[str, str]) -> tuple[str, str, str] | None:
    """(kind, value, label) of what made this alert: a /watch term or a subscribed list."""
    if not alert.matches:
        return None
    first = alert.matches[0]
    if first.watchlist.startswith(PERSONAL_PREFIX):
        return "term", first.term, first.term
    return "list", first.watchlist, list_titles.get(first.watchlist, first.watchlist)


def describe_matches(matches: Sequence[Match], list_titles: Mapping[str, str]) -> str:
    """What matched, escaped: terms (the matched spelling in brackets when it differs) and,
    for file watchlists, the list they belong to."""
    parts: list[str] = []
    seen: set[str] = set()
    for m in matches:
        label = m.term
        if fold(m.matched) != fold(m.term) and m.matched:
            label = f"{m.term} ({m.matched})"
        if not m.watchlist.startswith(PERSONAL_PREFIX):
            label += f" · {list_titles.get(m.watchlist, m.watchlist)}"
        if label not in seen:
            seen.add(label)
            parts.append(esc(label, 80))
    shown = parts[:TERMS_MAX]
    if len(parts) > TERMS_MAX:
        shown.append(f"+{len(parts) - TERMS_MAX}")
    return ", ".join(shown)


def _meta(alert: Alert, lang: str) -> str:
    meta = [esc(alert.source, SOURCE_MAX)]
    if alert.published is not None:
        meta.append(short_local_time(alert.published, lang))
    if alert.also:
        outlets = [esc(o, SOURCE_MAX) for o in dict.fromkeys(alert.also)]
        shown = outlets[:ALSO_MAX] + (
            [f"+{len(outlets) - ALSO_MAX}"] if len(outlets) > ALSO_MAX else []
        )
        meta.append(t("also_on", lang, outlets=Markup(", ".join(shown))))
    return " · ".join(meta)


def render_alert(
    alert: Alert, list_titles: Mapping[str, str] | None = None, *, short: bool = False
) -> Rendered:
    """The alert message: bold title, source · time · other outlets, what matched, link, and a
    button to stop following what triggered it. `short` is the fallback for "too long"."""
    titles = list_titles or {}
    lang = alert.language
    title_max, url_max = (120, 300) if short else (TITLE_MAX, URL_MAX)
    lines = [
        f"⚽ <b>{esc(alert.title, title_max)}</b>",
        _meta(alert, lang),
    ]
    if alert.matches:
        lines.append(
            f"🔎 {describe_matches(alert.matches[:3] if short else alert.matches, titles)}"
        )
    if alert.url:
        lines.append(esc(alert.url, url_max))
    html = "\n".join(lines)
    return Rendered(html, to_plain(html), unfollow_keyboard(alert, titles))


def unfollow_keyboard(alert: Alert, list_titles: Mapping[str, str]) -> InlineKeyboardMarkup | None:
    target = unfollow_target(alert, list_titles)
    if target is None:
        return None
    kind, value, label = target
    text = t("unfollow_button", alert.language, name=clip(label, 40))
    button = InlineKeyboardButton(
        to_plain(text), callback_data=callback_data(UNFOLLOW, kind, value)
    )
    return InlineKeyboardMarkup([[button]])


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
    lang = alerts[0].language
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
    lang = alerts[0].language
    pages = max(1, -(-len(alerts) // DIGEST_PAGE))
    page = min(max(page, 1), pages)
    lines = [t("digest_page_head", lang, count=len(alerts), page=page, pages=pages)]
    for alert in alerts[(page - 1) * DIGEST_PAGE : page * DIGEST_PAGE]:
        entry = [f"\n{linked_title(alert, TITLE_MAX)}", _meta(alert, lang)]
        if alert.matches:
            entry.append(f"🔎 {describe_matches(alert.matches[:3], titles)}")
        lines.append("\n".join(entry))
    nav = []
    if page > 1:
        nav.append(InlineKeyboardButton("◀", callback_data=f"{DIGEST}|{page - 1}"))
    nav.append(InlineKeyboardButton(to_plain(t("digest_back", lang)), callback_data=f"{DIGEST}|0"))
    if page < pages:
        nav.append(InlineKeyboardButton("▶", callback_data=f"{DIGEST}|{page + 1}"))
    html = "\n".join(lines)
    return Rendered(html, to_plain(html), InlineKeyboardMarkup([nav]))
