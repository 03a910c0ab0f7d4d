"""The parse stage: feed bytes -> Items, with feedparser, never letting it touch the network.

feedparser only ever receives bytes (given a string that looks like a URL it would fetch it, with
no timeout). The bytes are decoded here first, because outlets declare charsets they do not use:
UTF-8 is recognised whatever the declaration says, ISO-8859-1 is read as its superset
Windows-1252 (curly quotes 0x93/0x94 and € 0x80), and the text reaches feedparser re-encoded as
UTF-8 with a matching XML declaration. A malformed feed yields the items that could be read and a
one-line warning. No module-level caches: a long-running service parses the same feeds forever.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.freshness import outlet_floor
from bot.items import item_from_entry, unsafe_link
from bot.models import Feed, Item
from bot.urls import site_host
from bot.websub import Discovery, discover

# Charsets that, as served, are really Windows-1252 (what browsers do too).
_LATIN1_ALIASES = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii"})
_LATIN1_ALIASES |= {"ascii", "iso_8859-1", "iso-ir-100", "cp819", "ibm819", "windows-1252"}
_XML_DECL_RE = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.IGNORECASE)
_XML_ENCODING_RE = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']""", re.IGNORECASE)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.IGNORECASE)
# feedparser's notes that are not faults in the document.
_HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType", "CharacterEncodingUnknown")


@dataclass(frozen=True)
class ParseResult:
    """The items read from one feed document and, when something was wrong, why (one line)."""

    items: list[Item]
    warning: str | None = None
    ttl_floor: float | None = None  # seconds the feed says to wait (<ttl>, sy:updatePeriod)
    hub: Discovery | None = None  # the WebSub hub the feed advertises, and its topic


@dataclass(frozen=True)
class Decoded:
    """Feed text re-encoded as UTF-8, and a note when the declared charset was not the real one."""

    body: bytes
    note: str | None = None


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset the server or the XML declaration claims (the header wins, as in HTTP)."""
    if content_type:
        match = _CHARSET_RE.search(content_type)
        if match:
            return match.group(1).lower()
    decl = _XML_DECL_RE.match(body[:512])
    if decl:
        match = _XML_ENCODING_RE.search(decl.group(0))
        if match:
            return match.group(1).decode("ascii").lower()
    return None


def _codec_name(charset: str) -> str | None:
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def decode_feed(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode `body` by what it is, not only by what it says, and return it as UTF-8.

    Valid UTF-8 is UTF-8 (Latin-1 text with accents is practically never valid UTF-8);
    otherwise the declared single-byte charset is used, with ISO-8859-1 read as Windows-1252,
    and Windows-1252 when nothing usable is declared.
    """
    body = body.removeprefix(codecs.BOM_UTF8)
    declared = declared_charset(body, content_type)
    text, used = _decode(body, declared)
    note = None
    declared_codec = _codec_name(declared) if declared else None
    if used == "utf-16":
        pass  # announced by its byte-order mark, which outranks any declaration
    elif declared and declared_codec != _codec_name(used):
        if not (declared in _LATIN1_ALIASES and used == "windows-1252"):
            note = f"declared charset {declared} but the bytes are {used}"
    elif not declared and used != "utf-8":
        note = f"no charset declared; read as {used}"
    text = text.removeprefix("\ufeff")
    utf8 = text.encode("utf-8")
    decl = _XML_DECL_RE.match(utf8)
    if decl:
        fixed = _XML_ENCODING_RE.sub(b'encoding="utf-8"', decl.group(0), count=1)
        utf8 = fixed + utf8[decl.end() :]
    return Decoded(utf8, note)


def _decode(body: bytes, declared: str | None) -> tuple[str, str]:
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace"), "utf-16"
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    codec = _codec_name(declared) if declared else None
    if codec and declared not in _LATIN1_ALIASES and codec not in ("utf-8", "cp1252"):
        try:
            return body.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            pass
    return body.decode("cp1252", errors="replace"), "windows-1252"


def _bozo_warning(parsed: Any) -> str | None:
    """One line about a fault feedparser noticed, or None for its harmless notes."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    name = type(exc).__name__
    if name in _HARMLESS_BOZO:
        return None
    line = getattr(exc, "getLineNumber", lambda: None)()
    message = str(exc).splitlines()[0] if str(exc) else name
    where = f" at line {line}" if line else ""
    return f"malformed feed{where}: {message}"


def parse_bytes(
    body: bytes,
    feed: Feed,
    *,
    content_type: str | None = None,
    fetched_at: datetime | None = None,
) -> ParseResult:
    """Items of one feed document; pure and synchronous, never raises.

    The warning, when present, is one line: the document was malformed (items are what
    could still be read), was not a feed at all, or had a charset other than the declared one.
    """
    fetched_at = fetched_at or datetime.now(UTC)
    try:
        return _parse(body, feed, content_type, fetched_at)
    except Exception as exc:  # a parser bug must cost one feed one cycle, not the service
        return ParseResult([], f"could not parse: {type(exc).__name__}: {exc}".splitlines()[0])


def _parse(body: bytes, feed: Feed, content_type: str | None, fetched_at: datetime) -> ParseResult:
    if not body.strip():
        return ParseResult([], "empty document")
    decoded = decode_feed(body, content_type)
    # No content-location: feedparser would resolve opaque guids ("2026-0002") against it.
    # Relative links are resolved against the feed's address in bot.items instead.
    headers = {"content-type": "application/xml; charset=utf-8"}
    # No sanitising: nothing is shown as HTML, and the sanitiser would drop `<esclusiva>`.
    parsed = feedparser.parse(decoded.body, response_headers=headers, sanitize_html=False)
    site = site_host(feed.url)
    channel = str(parsed.get("feed", {}).get("title") or "")
    entries = parsed.get("entries", [])
    items = [
        item
        for entry in entries
        if (item := item_from_entry(entry, feed, site=site, fetched_at=fetched_at, channel=channel))
        is not None
    ]
    warning = _bozo_warning(parsed)
    unsafe = sum(1 for entry in entries if unsafe_link(entry, feed.url))
    if unsafe:
        note = f"{unsafe} item link{'s' if unsafe > 1 else ''} not http(s), dropped"
        warning = f"{warning}; {note}" if warning else note
    if not items and (warning or not parsed.get("version")):
        warning = f"{warning or 'not an RSS or Atom feed'}; no items read"
    elif warning:
        warning = f"{warning}; {len(items)} items read"
    if decoded.note:
        warning = f"{warning}; {decoded.note}" if warning else decoded.note
    meta = parsed.get("feed", {})
    floor = outlet_floor(
        ttl_minutes=meta.get("ttl"),
        update_period=meta.get("sy_updateperiod"),
        update_frequency=meta.get("sy_updatefrequency"),
    )
    return ParseResult(items, warning, ttl_floor=floor, hub=discover(meta, feed.url))


async def parse(body: bytes, feed: Feed, **kw: Any) -> ParseResult:
    """`parse_bytes` in a worker thread, so a big feed does not stall the event loop."""
    return await asyncio.to_thread(parse_bytes, body, feed, **kw)
