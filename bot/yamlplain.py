"""The plain layout of a watchlist file, read without YAML's node machinery.

Even with libyaml, composing a 100,000-term list builds a Python node and two marks per value,
then our walk turns the nodes into data and lines: about a second of `newsbot match`'s
start-up. Nearly every watchlist is written in one plain layout: block mappings with simple
keys, block sequences, one-line plain words (names: letters, digits, spaces, `.`, `-`,
apostrophes) and one-line flow lists of such words (`aliases: [Leao, Leão]`), comments
aside. `parse_plain`
reads exactly that, line by line, into the same data and the same line table that
`bot.yamlfile` builds from libyaml's nodes (tests compare the two on generated files).

Anything else (quotes, anchors, tags, tabs, a trailing comment, a value on the next line, a
duplicate key, a word YAML would read as a number, a date or null...) makes it answer None, and
the file goes through YAML as before: errors are always reported by the YAML path, so their
messages and lines do not depend on this one.
"""

from __future__ import annotations

import re
from typing import Any

from yaml.constructor import SafeConstructor

_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"

# A plain word: starts with a letter or digit, then letters, digits, spaces and . - ' ’ , never
# ends with a space. None of these characters means anything to YAML inside a plain scalar.
_WORD = r"[^\W_](?:[\w .'’-]*[\w.'’-])?"
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_LINE = re.compile(
    rf"( *)(- )?(?:({_KEY}):(?: +({_WORD}|\[[^\]\[#]*\]))?|({_WORD}|\[[^\]\[#]*\]))"
    r"(?: +#.*)?"  # a comment after the value
)
_FLOW_ITEMS = re.compile(rf" *({_WORD}) *(?:,|$)")
_SPECIAL = re.compile("[\t\r\x85\u2028\u2029\ufeff]")


class _NotPlain(Exception):
    """The text leaves the plain layout: read it with YAML."""


class _Line:
    """One significant line: its number, indent, whether it is a `- ` item, and its content
    (a key with its inline value, or a value alone)."""

    __slots__ = ("indent", "item", "key", "number", "value")

    def __init__(self, number: int, indent: int, item: bool, key: str | None, value: str | None):
        self.number = number
        self.indent = indent
        self.item = item
        self.key = key
        self.value = value


def parse_plain(
    text: str, resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]]
) -> tuple[Any, dict[tuple[Any, ...], int]] | None:
    """The data and the line of each location, as `bot.yamlfile` would build them from YAML
    with these implicit `resolvers`; None when the text is not in the plain layout."""
    if _SPECIAL.search(text) or None in resolvers:
        return None
    try:
        lines = _significant_lines(text)
        if not lines or lines[0].indent != 0:
            return None
        reader = _Reader(lines, resolvers)
        table: dict[tuple[Any, ...], int] = {}
        data = reader.block(0, (), table)
        if reader.at != len(lines):
            return None
    except _NotPlain:
        return None
    return data, table


def _significant_lines(text: str) -> list[_Line]:
    out = []
    match = _LINE.fullmatch
    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.lstrip(" ")
        if not stripped or stripped[0] == "#":
            continue  # blank or comment line
        found = match(raw)
        if found is None:
            raise _NotPlain
        indent, dash, key, key_value, value = found.groups()
        out.append(_Line(number, len(indent), dash is not None, key, key_value or value))
    return out


class _Reader:
    def __init__(self, lines: list[_Line], resolvers: dict[Any, Any]) -> None:
        self.lines = lines
        self.at = 0
        self.resolvers = resolvers

    def block(self, indent: int, loc: tuple[Any, ...], table: dict[tuple[Any, ...], int]) -> Any:
        """The block node starting at the current line, which has exactly `indent`."""
        line = self.lines[self.at]
        table[loc] = line.number
        if line.item:
            return self.sequence(indent, loc, table)
        if line.key is None:
            raise _NotPlain  # a lone word where a mapping or a sequence was due
        return self.mapping(indent, loc, table)

    def mapping(
        self, indent: int, loc: tuple[Any, ...], table: dict[tuple[Any, ...], int]
    ) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        lines = self.lines
        while self.at < len(lines):
            line = lines[self.at]
            if line.indent < indent:
                break
            if line.indent > indent or line.item or line.key is None:
                raise _NotPlain
            key = self.scalar(line.key)
            if not isinstance(key, str) or key in out:
                raise _NotPlain
            self.at += 1
            here = (*loc, key)
            if line.value is not None:
                out[key] = self.inline(line.value, line.number, here, table)
            else:
                out[key] = self.nested(indent, here, table)
            table[here] = line.number
        return out

    def nested(self, indent: int, loc: tuple[Any, ...], table: dict[tuple[Any, ...], int]) -> Any:
        """The block value of a key written alone on its line: deeper, or a sequence at the
        key's own indent (`terms:` then `- Milan` at column 0 is valid YAML)."""
        if self.at >= len(self.lines):
            raise _NotPlain  # `key:` with nothing after: null
        line = self.lines[self.at]
        if line.indent > indent or (line.indent == indent and line.item):
            return self.block(line.indent, loc, table)
        raise _NotPlain

    def sequence(
        self, indent: int, loc: tuple[Any, ...], table: dict[tuple[Any, ...], int]
    ) -> list[Any]:
        out: list[Any] = []
        lines = self.lines
        while self.at < len(lines):
            line = lines[self.at]
            if line.indent < indent or (line.indent == indent and not line.item):
                break
            if line.indent > indent:
                raise _NotPlain
            here = (*loc, len(out))
            if line.key is None:
                self.at += 1
                out.append(self.inline(line.value or "", line.number, here, table))
                table[here] = line.number
                continue
            # `- key: value`: a mapping whose first key sits two columns right of the dash.
            lines[self.at] = _Line(line.number, indent + 2, False, line.key, line.value)
            table[here] = line.number
            out.append(self.mapping(indent + 2, here, table))
        return out

    def inline(
        self, value: str, number: int, loc: tuple[Any, ...], table: dict[tuple[Any, ...], int]
    ) -> Any:
        table[loc] = number
        if value[0] != "[":
            return self.scalar(value)
        inner = value[1:-1]
        if not inner.strip():
            return []
        items = []
        end = 0
        for found in _FLOW_ITEMS.finditer(inner):
            if found.start() != end:
                raise _NotPlain
            end = found.end()
            table[(*loc, len(items))] = number
            items.append(self.scalar(found.group(1)))
        if end != len(inner) or inner.rstrip().endswith(","):
            raise _NotPlain
        return items

    def scalar(self, word: str) -> Any:
        """A plain word as YAML resolves it: a string, or a boolean (`fuzzy: false`); any
        other type (a number, a date, null) is left to YAML."""
        for tag, pattern in self.resolvers.get(word[0], ()):
            if pattern.match(word):
                if tag == _BOOL_TAG:
                    return SafeConstructor.bool_values[word.lower()]
                raise _NotPlain
        return word
