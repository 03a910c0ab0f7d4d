"""Text normalisation for matching, keeping offsets back into the original text.

Headlines arrive with typographic apostrophes (dell’Atalanta), en dashes (Juve–Milan), accents
(Nicolò, Koné) and letters that Unicode decomposition leaves alone (Ø, ł, ı, ß, æ, đ). Matching
compares folded words, but a match must still point at the exact characters the reader saw, so
folding is done character by character and every token remembers its span in the original.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Letters NFKD does not decompose into base letter + combining mark. Folded to what an Italian
# reader would type on a plain keyboard.
_SPECIAL_LETTERS = {
    "ø": "o",
    "Ø": "o",
    "ł": "l",
    "Ł": "l",
    "ı": "i",
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "đ": "d",
    "Đ": "d",
    "ð": "d",
    "Ð": "d",
    "þ": "th",
    "Þ": "th",
    "ħ": "h",
    "Ħ": "h",
    "ŧ": "t",
    "Ŧ": "t",
    "ŀ": "l",
    "Ŀ": "l",
    "ĸ": "k",
    "ŉ": "n",
}

# Every apostrophe-like and dash-like character, unified so that folded text is predictable.
_APOSTROPHES = "'’‘‛`´ʼʹʻʽ′＇"
_DASHES = "-‐‑‒–—―−﹘﹣－"
_UNIFIED = {**dict.fromkeys(_APOSTROPHES, "'"), **dict.fromkeys(_DASHES, "-")}


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """Fold one character: NFKC, special letters, accents stripped, casefolded.

    Apostrophes and dashes are unified after NFKC too: "ŉ" becomes "ʼn", whose modifier
    apostrophe would otherwise be folded only by a second pass (fold must be idempotent:
    folded keys are folded again when compared)."""
    if ch in _UNIFIED:  # before NFKC too: it makes "´" a space and an accent
        return _UNIFIED[ch]
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c in _UNIFIED:
            out.append(_UNIFIED[c])
            continue
        c = _SPECIAL_LETTERS.get(c, c)
        for d in unicodedata.normalize("NFKD", c.casefold()):
            if unicodedata.combining(d) or unicodedata.category(d) == "Cf":
                continue
            out.append(_SPECIAL_LETTERS.get(d, d))
    return "".join(out)


def fold(s: str) -> str:
    """Casefold, strip accents (also ø ł ı ß æ đ) and unify apostrophes and dashes.

    Used for keys and comparisons (watchlist names, /watch terms); it keeps punctuation, so
    `fold("Dell’Atalanta")` is `"dell'atalanta"`.
    """
    return "".join(_fold_char(ch) for ch in s)


def _is_word(folded: str) -> bool:
    return folded != "" and all(c.isalnum() for c in folded)


BOUNDARY, WORD, JOINER = 0, 1, 2
_CHAR_INFO: dict[str, tuple[str, int]] = {}
_CHAR_INFO_LIMIT = 200_000
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def _char_info(ch: str) -> tuple[str, int]:
    """Folded form of `ch` and whether it is part of a word, a joiner (accent) or a boundary."""
    info = _CHAR_INFO.get(ch)
    if info is None:
        folded = _fold_char(ch)
        kind = WORD if _is_word(folded) else JOINER if folded == "" else BOUNDARY
        info = (folded, kind)
        if len(_CHAR_INFO) < _CHAR_INFO_LIMIT:
            _CHAR_INFO[ch] = info
    return info


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: folded `text`, its span [start, end) and `raw` form in the original."""

    text: str
    start: int
    end: int
    raw: str
    capitalised: bool
    upper: bool


def _make_token(original: str, start: int, end: int, folded: list[str]) -> Token:
    raw = original[start:end]
    first_letter = next((c for c in raw if c.isalpha()), "")
    return Token(
        text="".join(folded),
        start=start,
        end=end,
        raw=raw,
        capitalised=first_letter.isupper() or first_letter.istitle(),
        upper=raw.isupper(),
    )


def tokenize(s: str) -> list[Token]:
    """Split `s` into words; anything that folds to a non-alphanumeric character is a boundary.

    So apostrophes (all'Inter), dashes (Juve-Milan), possessives (Milan's) and punctuation all
    separate words. Combining marks (an accent typed as a separate code point) fold to nothing
    and stay inside the word they decorate.
    """
    if s.isascii():
        return _tokenize_ascii(s)
    return _tokenize_unicode(s)


def word_texts(s: str) -> list[str]:
    """The folded words of `s`: `[t.text for t in tokenize(s)]`, without building tokens."""
    if s.isascii():
        return [w.lower() for w in _ASCII_WORD.findall(s)]
    return [t.text for t in _tokenize_unicode(s)]


def _tokenize_ascii(s: str) -> list[Token]:
    """Fast path, same result: in ASCII, folding is lower-casing and words are [A-Za-z0-9]+."""
    out = []
    for m in _ASCII_WORD.finditer(s):
        raw = m.group()
        capitalised = raw.lstrip("0123456789")[:1].isupper()
        out.append(Token(raw.lower(), m.start(), m.end(), raw, capitalised, raw.isupper()))
    return out


def _tokenize_unicode(s: str) -> list[Token]:
    tokens: list[Token] = []
    start = -1
    folded: list[str] = []
    for i, ch in enumerate(s):
        f, kind = _char_info(ch)
        if kind == WORD or (kind == JOINER and start >= 0):
            if start < 0:
                start = i
            folded.append(f)
            continue
        if start >= 0:
            tokens.append(_make_token(s, start, i, folded))
            start, folded = -1, []
    if start >= 0:
        tokens.append(_make_token(s, start, len(s), folded))
    return [t for t in tokens if t.text]
