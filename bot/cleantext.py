"""Feed text made safe to show: real markup only, no invisible controls, bounded, web links only.

Outlets and whoever controls a feed can put anything in a title. Four things must not reach a
subscriber's screen, the console or its JSON:

- **Pseudo-markup taken for markup.** Italian titles quote with angle brackets
  (`Conte: <<Siamo pronti>>`, `<esclusiva>`, `3 < 4`). Only the names of real HTML elements
  (`p`, `b`, `a href=…`, `img`, `br`…) are markup; every other `<` is text.
- **Invisible and reordering characters.** Bidirectional controls (U+202E turns the rest of a line
  around, the isolates U+2066–U+2069), C0/C1 controls, zero-width and format characters are
  removed, except where they are part of an emoji: the zero-width joiner inside a sequence such
  as 👨‍👩‍👧 and the tag characters of a subdivision flag (🏴 England) stay, so emoji are not split.
- **Unbounded text.** A title is clipped (on a grapheme boundary, never inside an emoji).
- **Links that are not web pages.** `javascript:`, `data:`, `file:`, `ftp:`… links are dropped.
"""

from __future__ import annotations

import html.entities
import re

import regex

# Element names of HTML (the WHATWG list plus obsolete ones CMSs still emit). Anything else in
# angle brackets is the outlet's own words.
HTML_ELEMENTS = frozenset(
    """
    a abbr acronym address area article aside audio b base basefont bdi bdo big blink blockquote
    body br button canvas caption center cite code col colgroup data datalist dd del details dfn
    dialog dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2
    h3 h4 h5 h6 head header hgroup hr html i iframe img input ins kbd label legend li link main
    map mark marquee math menu meta meter nav nobr noembed noframes noscript object ol optgroup
    option output p param picture pre progress q rp rt ruby s samp script search section select
    small source span strike strong style sub summary sup svg table tbody td template textarea
    tfoot th thead time title tr track tt u ul var video wbr
    """.split()  # noqa: SIM905 (a word list reads better than 120 quoted strings)
)

# Elements that are never closed: `<BR>` in capitals is still markup.
VOID_ELEMENTS = frozenset(
    [
        "area",
        "base",
        "basefont",
        "br",
        "col",
        "embed",
        "frame",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)

# A comment, something shaped like a tag (name and optional attributes), or a lone "<".
_ANGLE_RE = re.compile(r"<!--.*?-->|<(/?)([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?/?>|<", re.DOTALL)
_NAMED_ENTITY_RE = re.compile(r"&([a-zA-Z][a-zA-Z0-9]{1,31});")

# Characters that need a closer look: controls, format characters (bidi, zero-width, tags),
# lone surrogates, and the Hangul fillers that render as nothing.
_SUSPECT_RE = regex.compile(r"[\p{Cc}\p{Cf}\p{Cs}\u115f\u1160\u3164\uffa0]")
_GRAPHEME_RE = regex.compile(r"\X")
_PICTOGRAPHIC_RE = regex.compile(r"\p{Extended_Pictographic}")
ZWJ = "\u200d"
BLACK_FLAG = "\U0001f3f4"
CANCEL_TAG = "\U000e007f"
_TAG_CHARS = range(0xE0020, 0xE0080)
_WHITESPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")


def has_markup(text: str) -> bool:
    """True when `text` contains a real HTML tag or comment (not `<<quote>>` or `<esclusiva>`)."""
    return "<" in text and any(_is_markup(m, text) for m in _ANGLE_RE.finditer(text))


def strip_markup_crudely(text: str) -> str:
    """Real tags and comments replaced by a space: the fallback when an HTML parser gives up."""
    return _ANGLE_RE.sub(lambda m: " " if _is_markup(m, text) else m.group(0), text)


def protect_pseudo_tags(text: str) -> str:
    """Escape every `<` that does not open real markup, so an HTML parser keeps it as text.

    `Conte: <<Siamo pronti>>` -> `Conte: &lt;&lt;Siamo pronti>>`; `<p>ok</p>` is unchanged.
    """
    if "<" not in text:
        return text
    return _ANGLE_RE.sub(
        lambda m: m.group(0) if _is_markup(m, text) else "&lt;" + m.group(0)[1:], text
    )


def _is_markup(match: re.Match[str], text: str) -> bool:
    """A comment or an HTML element, except a word in capitals that only looks like one.

    `<VIDEO>` or `<DATA>` in a headline, with no attributes and never closed, is the outlet
    shouting a word; `<video src=…>`, `<B>…</B>` and `<BR>` are markup.
    """
    found = match.group(0)
    if found.startswith("<!--"):
        return True
    closing, name, attributes = match.group(1), match.group(2), match.group(3)
    if name is None or name.lower() not in HTML_ELEMENTS:
        return False
    shouted = name.isupper() and len(name) >= 4 and not closing and not attributes
    if shouted and name.lower() not in VOID_ELEMENTS:
        return f"</{name.lower()}" in text.lower()
    return True


def drop_undefined_entities(text: str) -> str:
    """Remove named references HTML does not define (`&lol9;`): they are noise, not words."""
    if "&" not in text:
        return text
    return _NAMED_ENTITY_RE.sub(
        lambda m: m.group(0) if m.group(1) + ";" in html.entities.html5 else "", text
    )


def drop_invisible(text: str) -> str:
    """Remove controls, bidi and zero-width characters; keep those that build an emoji.

    Whitespace controls (tab, newline…) become spaces. A zero-width joiner stays only between
    two parts of one emoji (👨‍👩‍👧), tag characters only inside a 🏴 subdivision flag.
    """
    if not _SUSPECT_RE.search(text):
        return text
    return "".join(_clean_cluster(cluster) for cluster in _GRAPHEME_RE.findall(text))


def _clean_cluster(cluster: str) -> str:
    if len(cluster) == 1:
        return _clean_char(cluster)
    emoji = _PICTOGRAPHIC_RE.match(cluster) is not None
    flag = cluster[0] == BLACK_FLAG and cluster[-1] == CANCEL_TAG
    out: list[str] = []
    for i, ch in enumerate(cluster):
        if ch == ZWJ:
            joined = emoji and i + 1 < len(cluster) and _PICTOGRAPHIC_RE.match(cluster[i + 1])
            if joined:
                out.append(ch)
        elif ord(ch) in _TAG_CHARS:
            if flag:
                out.append(ch)
        else:
            out.append(_clean_char(ch))
    return "".join(out)


def _clean_char(ch: str) -> str:
    if ch in _WHITESPACE_CONTROLS or ch in "\u2028\u2029":
        return " "
    return "" if _SUSPECT_RE.match(ch) else ch


def clip(text: str, limit: int) -> str:
    """`text` at most `limit` characters: cut between graphemes (on a space when one is near),
    with an ellipsis. An emoji or an accented letter is never cut in half."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for cluster in _GRAPHEME_RE.finditer(text):
        piece = cluster.group(0)
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    cut = "".join(kept)
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def web_link(url: str) -> str:
    """`url` when it is an http(s) address, else "" (`javascript:`, `data:`, `file:`, `ftp:`…)."""
    stripped = drop_invisible(url or "").strip()
    scheme = stripped.split(":", 1)[0].lower() if ":" in stripped else ""
    return stripped if scheme in ("http", "https") and "//" in stripped[:8] else ""
