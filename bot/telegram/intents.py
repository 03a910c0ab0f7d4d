"""What a subscriber means when it isn't a well-formed command: free text and near misses.

Pure functions over the text and the current watchlists, so each can be pinned by a table
test. `intent()` recognises help ("aiuto", "help", "?"), thanks, greetings and "follow X"
("voglio seguire il Milan", "segui Palestra", "follow Juventus"). `nearest()` finds the known
list or term someone probably meant ("Pulsic" → Christian Pulisic, "juve" → Juventus), with
rapidfuzz over every list name, title, term and alias, accents and case aside.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.lexicon import is_common_word
from bot.models import Watchlist
from bot.text import fold

FUZZY_CUTOFF = 85.0
MIN_FUZZY_LENGTH = 3

_HELP = {
    "aiuto", "help", "?", "??", "aiutami", "come funziona", "come funziona?", "info", "comandi",
    "commands", "menu", "istruzioni", "non capisco", "che cosa fai", "cosa fai", "what can you do",
}  # fmt: skip
_THANKS = {
    "grazie", "grazie mille", "thanks", "thank you", "thx", "ty", "ok grazie", "perfetto",
    "ottimo", "great", "👍", "mille grazie", "grazie tante", "thanks a lot",
}  # fmt: skip
_GREETINGS = {
    "ciao", "salve", "buongiorno", "buonasera", "hello", "hi", "hey", "hola", "ehi", "ciao bot",
    "good morning", "good evening",
}  # fmt: skip
_FOLLOW = re.compile(
    r"^(?:(?:io )?(?:voglio|vorrei|fammi|puoi|posso|devo|come (?:faccio a|posso)) )?"
    r"(?:seguire|segui|seguo|follow|watch|track|avvisami (?:su|di|per)|aggiungi|add|"
    r"notizie (?:su|di|del|della|dello|dei|degli|sul|sulla)|news (?:about|on|of)|"
    r"i want to follow|i'd like to follow|follow me)\s+(?P<what>.+)$"
)
_ARTICLE = re.compile(r"^(?:il|lo|la|i|gli|le|l'|l’|the|un|una|uno)\s*")


@dataclass(frozen=True, slots=True)
class Intent:
    """What a free text asks for: "help", "thanks", "greeting", "follow" (with `what`), or
    "unknown"."""

    kind: str
    what: str = ""


def _plain(text: str) -> str:
    return " ".join(text.lower().strip().rstrip("!.").split())


def intent(text: str) -> Intent:
    """The intent of a free text; "follow" keeps the name as written (articles dropped)."""
    plain = _plain(text)
    if plain in _HELP or plain.rstrip("?") in _HELP:
        return Intent("help")
    if plain in _THANKS or plain.rstrip("!") in _THANKS:
        return Intent("thanks")
    if plain in _GREETINGS:
        return Intent("greeting")
    m = _FOLLOW.match(plain)
    if m is not None:
        start = len(plain) - len(m.group("what"))
        written = " ".join(text.strip().rstrip("!.?").split())[start:]
        what = _ARTICLE.sub("", written, count=1) if _ARTICLE.match(written.lower()) else written
        return Intent("follow", what.strip())
    return Intent("unknown", " ".join(text.split()))


@dataclass(frozen=True, slots=True)
class Known:
    """A list or a term of a list that someone may have meant."""

    kind: str  # "list" | "term"
    value: str  # the list's name, or the term as written in its file
    label: str  # what to show: the list's title, or the term
    lists: tuple[str, ...] = ()  # for a term: the lists that have it


def _list_keys(wl: Watchlist) -> set[str]:
    """A list is known by its name, its title, and the spellings of its own club term
    (the term named like the list: "juve" for Juventus, "Milan" for AC Milan)."""
    keys = {fold(wl.name), fold(wl.display)}
    for term in wl.terms:
        spellings = {fold(term.term), *(fold(a) for a in term.aliases)}
        if spellings & {fold(wl.name), fold(wl.display)} or fold(term.term) in fold(wl.display):
            keys |= spellings
    return keys


def catalogue(watchlists: Sequence[Watchlist]) -> dict[str, list[Known]]:
    """Every folded spelling → what it names (lists first, then terms)."""
    found: dict[str, list[Known]] = {}
    for wl in watchlists:
        for key in _list_keys(wl):
            found.setdefault(key, []).append(Known("list", wl.name, wl.display))
    terms: dict[str, tuple[str, list[str]]] = {}
    for wl in watchlists:
        for term in wl.terms:
            entry = terms.setdefault(fold(term.term), (term.term, []))
            entry[1].append(wl.name)
            for alias in term.aliases:
                terms.setdefault(fold(alias), entry)
    for key, (term, lists) in terms.items():
        found.setdefault(key, []).append(Known("term", term, term, tuple(dict.fromkeys(lists))))
    return found


def nearest(query: str, watchlists: Sequence[Watchlist], *, limit: int = 3) -> list[Known]:
    """What `query` names exactly, else the closest spellings (at least 85/100 similar)."""
    names = catalogue(watchlists)
    key = fold(" ".join(query.split()))
    if key in names:
        return _unique(names[key])[:limit]
    if len(key) < MIN_FUZZY_LENGTH:
        return []
    close = process.extract(
        key, list(names), scorer=fuzz.WRatio, limit=limit * 2, score_cutoff=FUZZY_CUTOFF
    )
    return _unique([k for spelling, _, _ in close for k in names[spelling]])[:limit]


def exactly_known(query: str, watchlists: Sequence[Watchlist]) -> list[Known]:
    """What `query` names exactly (accents and case aside)."""
    return _unique(catalogue(watchlists).get(fold(" ".join(query.split())), []))


def _unique(found: Sequence[Known]) -> list[Known]:
    seen: set[tuple[str, str]] = set()
    out: list[Known] = []
    for k in found:
        if (k.kind, k.value) not in seen:
            seen.add((k.kind, k.value))
            out.append(k)
    return out


def ordinary_word(term: str) -> bool:
    """A lower-case single word of everyday language ("palestra", "mercato"): as a /watch term
    it also matches the ordinary word (the gym), not only the person."""
    return " " not in term and term.islower() and is_common_word(fold(term))


def nearest_command(name: str, commands: Sequence[str]) -> str | None:
    """The command someone probably meant ("/wacth" → "watch")."""
    found = process.extractOne(fold(name), list(commands), scorer=fuzz.ratio, score_cutoff=70)
    return found[0] if found else None
