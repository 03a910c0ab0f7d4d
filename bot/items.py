"""The normalise stage: one feedparser entry -> one `Item` with plain text, UTC time and keys.

Italian outlets publish titles with markup escaped twice (`&amp;lt;p&amp;gt;Vanoli…`), summaries
that are escaped HTML with an `<img>` inside, WordPress footers that repeat the title, mojibake
("32Â°") and typographic slips ("0-2″"). Matching and alerts need the plain words, so every text
goes through `plain_text`, and the summary also loses the footers and repetitions.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import html
import re
import time
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urljoin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ftfy

from bot.cleantext import (
    clip,
    drop_invisible,
    drop_undefined_entities,
    has_markup,
    protect_pseudo_tags,
    strip_markup_crudely,
    web_link,
)
from bot.models import Feed, Item
from bot.outlets import strip_outlet
from bot.urls import canonical_url

# A feed that gives a time without a zone is an Italian outlet writing its local time.
NAIVE_TIME_ZONE = "Europe/Rome"
# Clocks drift and outlets schedule posts; only times further ahead than this are clamped.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Older than this is a broken date (epoch 0, year 1), not an old article.
EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=UTC)
MAX_SUMMARY_CHARS = 2000
# A title longer than this is not a headline; it is clipped here, so that every output (Telegram,
# console, JSON, the store) shows the same bounded text.
MAX_TITLE_CHARS = 300
_MAX_UNESCAPE_ROUNDS = 3

_ENTITY_RE = re.compile(r"&(#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_SPACE_RE = re.compile(r"\s+")
_FOOTER_RES = (
    # WordPress "Yoast"-style footers: "L'articolo <title> sembra essere il primo su <site>."
    re.compile(r"\s*L['’]articolo\s.+?\ssembra essere il primo su\s.+?\.?\s*$", re.DOTALL),
    re.compile(r"\s*L['’]articolo\s.+?\sproviene da\s.+?\.?\s*$", re.DOTALL),
    re.compile(r"\s*The post\s.+?\sappeared first on\s.+?\.?\s*$", re.DOTALL),
)
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th"}
    | {"blockquote", "figure", "figcaption", "section", "article", "hr", "table"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment; block elements become spaces, scripts vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _strip_markup_once(text: str) -> str:
    """One round of HTML decoding: real tags removed, entities resolved.

    Only HTML elements are markup: `<<Siamo pronti>>`, `<esclusiva>` and `3 < 4` are the
    outlet's words, so their `<` are escaped before the parser sees them and come back as text.
    """
    if "<" not in text and "&" not in text:
        return text
    if not has_markup(text):
        return html.unescape(text)
    extractor = _TextExtractor()
    try:
        extractor.feed(protect_pseudo_tags(text))
        extractor.close()
    except Exception:  # HTMLParser is lenient, but never let a fragment break an item
        return html.unescape(strip_markup_crudely(text))
    return "".join(extractor.parts)


def _fix_double_prime(text: str) -> str:
    """WordPress writes a closing quote after a digit as ″ (U+2033): put the quote back.

    Only when a “ is still open, so a real double prime (45″ seconds) stays.
    """
    if "″" not in text:
        return text
    out: list[str] = []
    open_quotes = 0
    for char in text:
        if char == "“":
            open_quotes += 1
        elif char == "”":
            open_quotes = max(0, open_quotes - 1)
        elif char == "″" and open_quotes:
            open_quotes -= 1
            char = "”"
        out.append(char)
    return "".join(out)


def plain_text(html_or_text: str) -> str:
    """Readable text from a feed field, whatever the outlet did to it.

    Unescapes and strips real tags repeatedly while markup or entities remain (titles escaped
    twice), drops references HTML does not define (`&lol9;`), repairs mojibake with ftfy
    (keeping typographic quotes), fixes WordPress's digit-then-″, removes controls, bidi and
    zero-width characters (not those inside an emoji) and collapses whitespace.
    """
    text = html_or_text or ""
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        text = _strip_markup_once(text)
        if not (has_markup(text) or _ENTITY_RE.search(text)):
            break
    text = drop_undefined_entities(text)
    if not (text.isascii() and text.isprintable()):  # ftfy changes nothing in plain ASCII
        text = ftfy.fix_text(text, uncurl_quotes=False, unescape_html=False)
    text = _fix_double_prime(text)
    text = drop_invisible(text)
    return _SPACE_RE.sub(" ", text).strip()


def clean_summary(summary_html: str, title: str) -> str:
    """The summary as plain text without what only repeats the title.

    Drops WordPress footers ("L'articolo <title> sembra essere il primo su …", "… proviene da
    CalcioMercato.it."), a paragraph a CMS repeated several times, and a summary that is just
    the title again, so matching on title+summary does not count a mention twice.
    """
    text = plain_text(summary_html)
    for footer in _FOOTER_RES:
        text = footer.sub("", text)
    text = _collapse_repeats(text.strip())
    if _fold(text) == _fold(title):
        return ""
    return clip(text, MAX_SUMMARY_CHARS)


def _collapse_repeats(text: str) -> str:
    """ "ABCABCABC" -> "ABC" for a paragraph of 20+ characters pasted 2-4 times in a row."""
    for copies in (4, 3, 2):
        size, rest = divmod(len(text), copies)
        if rest == 0 and size >= 20 and text == text[:size] * copies:
            return text[:size].strip()
    return text


class _DropCombining(dict[int, int | None]):
    """A str.translate table dropping combining marks, filled one code point at a time."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_DROP_COMBINING = _DropCombining()
_WORD_RE = re.compile(r"\w+")


def _fold(text: str) -> str:
    """Lower-case, accents and punctuation removed: what a title fingerprint compares."""
    folded = text.casefold()
    if not folded.isascii():
        folded = unicodedata.normalize("NFKD", folded).translate(_DROP_COMBINING)
    return " ".join(_WORD_RE.findall(folded))


def title_fingerprint(title: str) -> str:
    """SHA-1 of the folded title: the identity of an item that has neither guid nor link."""
    return hashlib.sha1(_fold(title).encode("utf-8")).hexdigest()


def _naive_zone() -> tzinfo:
    try:
        return ZoneInfo(NAIVE_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_time(raw: str | None, parsed: time.struct_time | None = None) -> datetime | None:
    """An aware UTC datetime from a feed's date text, or None when there is none to trust.

    RFC 822 (`+0100`, `+0200`, `GMT`, none) and ISO 8601 are read directly so that a missing
    zone means Italian local time; feedparser's own UTC struct is the fallback for the rest.
    """
    moment: datetime | None = None
    text = (raw or "").strip()
    if text:
        moment = _parse_rfc822(text) or _parse_iso(text)
    if moment is None and parsed is not None:
        try:
            moment = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        except (OverflowError, ValueError, OSError, TypeError):
            moment = None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_naive_zone())
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 shifted past the calendar's edge
        return None


def _parse_rfc822(text: str) -> datetime | None:
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is not None and moment.tzinfo is None and text.endswith("-0000"):
        moment = moment.replace(tzinfo=UTC)  # UTC, where Python leaves the time naive
    return moment


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def published_time(entry: Mapping, fetched_at: datetime) -> datetime | None:
    """The entry's publication time in UTC; a time in the future is clamped to the fetch time."""
    moment = None
    for name in ("published", "updated", "created"):
        parsed = _field(entry, f"{name}_parsed")
        moment = parse_time(_text(_field(entry, name)), parsed)  # type: ignore[arg-type]
        if moment is not None:
            break
    if moment is None or moment < EARLIEST_PLAUSIBLE:
        return None
    if moment > fetched_at + FUTURE_TOLERANCE:
        return fetched_at
    return moment


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _field(entry: Mapping, name: str) -> object:
    """entry[name] without feedparser's deprecated updated->published aliasing (and warning)."""
    return dict.get(entry, name) if isinstance(entry, dict) else entry.get(name)


def _is_web_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://", "//"))


def _link_of(entry: Mapping, base: str) -> str:
    """The article address (`link`, else a permalink guid), absolute against the feed's URL.

    Only http(s) addresses are links: a `javascript:`, `data:` or `ftp:` link is dropped and the
    item is kept without one (its title still alerts; `unsafe_link` lets the parser report it).
    """
    link = _text(entry.get("link")).strip()
    if not link:
        guid = _text(entry.get("id")).strip()
        link = guid if guid and _is_web_url(guid) else ""
    if link and not link.lower().startswith(("http://", "https://")):
        with contextlib.suppress(ValueError):
            link = urljoin(base, link)
    return web_link(link)


def unsafe_link(entry: Mapping, base: str) -> bool:
    """True when the entry names a link that is not a web address (and was dropped)."""
    return bool(_text(entry.get("link")).strip()) and not _link_of(entry, base)


def identity_keys(entry: Mapping, link: str, title: str, feed: Feed, site: str) -> tuple[str, ...]:
    """All keys the item can be recognised by, best first: guid, canonical url, fingerprint."""
    keys: list[str] = []
    canonical_link = canonical_url(link) if link else ""
    guid = _text(entry.get("id")).strip()
    permalink = guid == link or (_is_web_url(guid) and canonical_url(guid) == canonical_link)
    if guid and not permalink:
        keys.append(f"guid:{site}:{guid}")
    if canonical_link:
        keys.append(f"url:{canonical_link}")
    if not keys:
        keys.append(f"fp:{canonical_url(feed.url)}:{title_fingerprint(title)}")
    return tuple(keys)


def _summary_html(entry: Mapping) -> str:
    summary = _text(entry.get("summary"))
    if summary:
        return summary
    for content in entry.get("content") or ():
        value = _text(content.get("value")) if isinstance(content, Mapping) else ""
        if value:
            return value
    return ""


def _categories(entry: Mapping) -> tuple[str, ...]:
    """The entry's RSS categories / Atom terms ("Tennis", "Calcio/Serie A/Fiorentina")."""
    terms = (_text(tag.get("term")) for tag in entry.get("tags") or () if isinstance(tag, Mapping))
    return tuple(dict.fromkeys(plain_text(t) for t in terms if t.strip()))


def item_from_entry(
    entry: Mapping, feed: Feed, *, site: str, fetched_at: datetime, channel: str = ""
) -> Item | None:
    """Normalise one feedparser entry; None when it has neither a title nor a link.

    `site` is the outlet's host (guids are unique only within one outlet), `fetched_at` the
    aware UTC time of the fetch (future publication times are clamped to it), `channel` the
    feed's own title: an outlet name appended to the item's title is cut (`bot.outlets`).
    """
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    published_title = plain_text(_text(entry.get("title")))
    outlets = (channel, feed.name)
    title = clip(strip_outlet(published_title, outlets), MAX_TITLE_CHARS)
    link = _link_of(entry, feed.url)
    if not title and not link:
        return None
    summary = strip_outlet(clean_summary(_summary_html(entry), published_title), outlets)
    return Item(
        # The fingerprint of an item without guid or link is the title as published, so
        # items seen before outlet names were cut keep their identity.
        keys=identity_keys(entry, link, clip(published_title, MAX_TITLE_CHARS), feed, site),
        title=title,
        summary="" if _fold(summary) == _fold(title) else summary,
        link=link,
        source=feed.name,
        feed_url=feed.url,
        published=published_time(entry, fetched_at),
        categories=_categories(entry),
    )
