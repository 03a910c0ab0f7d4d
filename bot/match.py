"""Finding watchlist terms in headlines, the way an Italian football fan would judge it.

A term matches a window of whole words of the text, word by word (see `token_edits`):
- words are compared folded (case, accents, ø/ł/ı/ß…), so Nicolò = Nicolo;
- a long word tolerates typos (one edit from 6 letters, two from 11), a short one must be exact;
- a capitalised term word is a proper noun: it needs a capitalised word in the text (an all-caps
  headline is capitalised throughout), so "Palestra" is not "in palestra";
- a fuzzy match that lands on an ordinary word ("allegro" for Allegri) is a different word, not a
  typo, unless it is the Italian inflection of a lower-case nickname (nerazzurri/nerazzurro).

The `Matcher` indexes the first word of every spelling once (its folded text and, for fuzzy
words, SymSpell-style deletion keys), so a headline costs a few dictionary lookups per word
whatever the number of terms; candidates are then verified with rapidfuzz. `scan_reference` does
the same job by trying every term at every position; tests check that both agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from bot.context import judge
from bot.lexicon import is_common_word
from bot.models import FIELDS, ItemContext, Match, Rejection, Term, Watchlist
from bot.text import Token, fold, tokenize

MIN_FUZZY_LENGTH = 6  # shorter words must match exactly: Inter, Roma, Milan, Leao
TWO_EDITS_LENGTH = 11  # from this length two edits are tolerated
MAX_EDITS = 2
MAX_FUZZY_LENGTH = 32  # longer "words" (codes, URLs run together) are matched exactly only
INFLECTION_VOWELS = frozenset("aeio")


def tolerance(word: str, fuzzy: bool = True) -> int:
    """Edits tolerated in a term word: none for short words or numbers, more for long ones."""
    if not fuzzy or not MIN_FUZZY_LENGTH <= len(word) <= MAX_FUZZY_LENGTH or not word.isalpha():
        return 0
    return 1 if len(word) < TWO_EDITS_LENGTH else 2


class TermWord(NamedTuple):
    """One word of a term as written by the admin, with the rules that apply to it."""

    text: str
    capitalised: bool
    edits: int
    inflects: bool
    after_dash: bool = False


Pattern = tuple[TermWord, ...]


class Owner(NamedTuple):
    """Who asked for a pattern: a watchlist entry (canonical term, excludes, fields)."""

    watchlist: str
    term: str
    excludes: tuple[Pattern, ...]
    fields: tuple[str, ...]


def dashes_before(text: str, tokens: Sequence[Token]) -> list[bool]:
    """For each token, whether a dash separates it from the previous one.

    "Inter-Milan" is a fixture, "Inter Milan" is a club: words that a term writes apart must
    not be joined by a dash in the text (a dash in the term accepts either).
    """
    dashes = [False] * len(tokens)
    for i in range(1, len(tokens)):
        gap = text[tokens[i - 1].end : tokens[i].start]
        # Folding turns every dash-like character into "-"; in ASCII the only one is "-".
        dashes[i] = gap != " " and "-" in (gap if gap.isascii() else fold(gap))
    return dashes


def term_words(phrase: str, fuzzy: bool, proper_nouns: bool = True) -> Pattern:
    """Compile one spelling (the term or an alias) into the words a text window must match."""
    parts = phrase.split(" ")
    if phrase.isascii() and phrase.replace(" ", "").isalnum() and "" not in parts:
        # Nearly every spelling: ASCII words apart by single spaces (no dash, no accent). The
        # same words recur across 100,000 terms, so each is compiled once (start-up cost).
        return tuple([_plain_word(part, fuzzy, proper_nouns) for part in parts])
    return tokenized_term_words(phrase, fuzzy, proper_nouns)


def tokenized_term_words(phrase: str, fuzzy: bool, proper_nouns: bool = True) -> Pattern:
    """`term_words` by the general route: any spelling, tokenized as headlines are."""
    tokens = tokenize(phrase)
    return tuple(
        TermWord(
            text=tok.text,
            capitalised=proper_nouns and tok.capitalised,
            edits=tolerance(tok.text, fuzzy),
            inflects=fuzzy and not tok.capitalised,
            after_dash=dash,
        )
        for tok, dash in zip(tokens, dashes_before(phrase, tokens), strict=True)
    )


@lru_cache(maxsize=1 << 18)
def _plain_word(raw: str, fuzzy: bool, proper_nouns: bool) -> TermWord:
    """`term_words` of one ASCII alphanumeric word, as `tokenize` would read it."""
    capitalised = raw.lstrip("0123456789")[:1].isupper()
    text = raw.lower()
    return TermWord(
        text=text,
        capitalised=proper_nouns and capitalised,
        edits=tolerance(text, fuzzy),
        inflects=fuzzy and not capitalised,
    )


def _excludes(phrases: Sequence[str]) -> tuple[Pattern, ...]:
    """The exclude phrases of an entry, compiled exactly (no typo, any case)."""
    compiled = (term_words(x, fuzzy=False, proper_nouns=False) for x in phrases)
    return tuple(words for words in compiled if words)


def is_inflection(a: str, b: str) -> bool:
    """Same word with a different Italian final vowel: nerazzurri / nerazzurro / nerazzurra."""
    return (
        len(a) == len(b)
        and a[:-1] == b[:-1]
        and a[-1] in INFLECTION_VOWELS
        and b[-1] in INFLECTION_VOWELS
    )


def token_edits(word: TermWord, token: Token) -> int | None:
    """Edits needed for `token` to count as `word`, or None when it does not count at all."""
    if word.capitalised and not token.capitalised:
        return None
    if token.text == word.text:
        return 0
    if word.edits == 0:
        return None
    distance = OSA.distance(word.text, token.text, score_cutoff=word.edits)
    if distance > word.edits:
        return None
    if is_common_word(token.text) and not (word.inflects and is_inflection(word.text, token.text)):
        return None
    return distance


def window_score(pattern: Pattern, window: Sequence[Token], edits: int) -> float:
    """100 for an exact match, else the similarity of the folded words (rapidfuzz ratio)."""
    if edits == 0:
        return 100.0
    return fuzz.ratio(" ".join(w.text for w in pattern), " ".join(t.text for t in window))


class Hit(NamedTuple):
    """A pattern found at token position `index` in a text, before owners are applied."""

    pattern: Pattern
    index: int
    score: float


@dataclass(frozen=True, slots=True)
class Words:
    """A text split into tokens, with what separates each token from the previous one."""

    text: str
    tokens: list[Token]
    dashes: list[bool]

    @classmethod
    def of(cls, text: str) -> Words:
        tokens = tokenize(text)
        return cls(text, tokens, dashes_before(text, tokens))


@lru_cache(maxsize=256)
def _words_of(text: str) -> Words:
    """`Words.of`, kept for the next Matcher asked about the same text (the subscribers' own
    terms are a second Matcher beside the lists'). Shared: read only."""
    return Words.of(text)


def _is_excluded(owner: Owner, words: Words, start: int, end: int) -> bool:
    """True when [start, end) lies inside one of the owner's exclude phrases in this text."""
    for phrase in owner.excludes:
        for i in range(len(words.tokens)):
            hit = window_hit(phrase, words, i)
            if hit is None:
                continue
            ex_start, ex_end = words.tokens[i].start, words.tokens[i + len(phrase) - 1].end
            if ex_start <= start and end <= ex_end:
                return True
    return False


def _keep_widest(matches: Iterable[Match]) -> list[Match]:
    """At most one Match per (watchlist, term, field, span); a span inside a wider one of the
    same term (alias "Pulisic" inside "Christian Pulisic") is the same mention, so it goes."""
    best: dict[tuple[str, str, str, int, int], Match] = {}
    for m in matches:
        key = (m.watchlist, m.term, m.field, m.start, m.end)
        if key not in best or m.score > best[key].score:
            best[key] = m
    groups: dict[tuple[str, str, str], list[Match]] = defaultdict(list)
    for m in sorted(best.values(), key=lambda m: (m.start - m.end, m.start)):
        group = groups[(m.watchlist, m.term, m.field)]
        if not any(k.start <= m.start and m.end <= k.end for k in group):
            group.append(m)
    return sorted((m for group in groups.values() for m in group), key=_match_order)


def _match_order(m: Match) -> tuple[int, int, int, str, str]:
    field_rank = FIELDS.index(m.field) if m.field in FIELDS else len(FIELDS)
    return (field_rank, m.start, m.end, m.watchlist, m.term)


def hits_to_matches(
    words: Words,
    field: str,
    hits: Iterable[Hit],
    owners: dict[Pattern, list[Owner]],
) -> list[Match]:
    """Turn pattern hits into Matches for every owner that looks in `field` and does not
    exclude the span."""
    out: list[Match] = []
    for hit in hits:
        first, last = words.tokens[hit.index], words.tokens[hit.index + len(hit.pattern) - 1]
        for owner in owners[hit.pattern]:
            if field not in owner.fields or _is_excluded(owner, words, first.start, last.end):
                continue
            out.append(
                Match(
                    watchlist=owner.watchlist,
                    term=owner.term,
                    matched=words.text[first.start : last.end],
                    score=hit.score,
                    field=field,
                    start=first.start,
                    end=last.end,
                )
            )
    return out


def window_hit(pattern: Pattern, words: Words, index: int) -> Hit | None:
    """The hit of `pattern` at `index`, if every word of the window counts as its term word."""
    tokens = words.tokens
    if index + len(pattern) > len(tokens):
        return None
    total = 0
    for j, word in enumerate(pattern):
        if j and words.dashes[index + j] and not word.after_dash:
            return None
        edits = token_edits(word, tokens[index + j])
        if edits is None:
            return None
        total += edits
    window = tokens[index : index + len(pattern)]
    return Hit(pattern, index, window_score(pattern, window, total))


def collect_owners(watchlists: Sequence[Watchlist]) -> dict[Pattern, list[Owner]]:
    """Every distinct pattern (each spelling of each entry: the term and its aliases) and the
    watchlist entries that own it (owners kept unique)."""
    owners: dict[Pattern, list[Owner]] = {}
    for watchlist in watchlists:
        fields = tuple(watchlist.fields)
        for term in watchlist.terms:
            excludes = _excludes(term.exclude) if term.exclude else ()
            owner = Owner(watchlist.name, term.term, excludes, fields)
            for spelling in (term.term, *term.aliases):
                pattern = term_words(spelling, term.fuzzy)
                if not pattern:
                    continue
                known = owners.get(pattern)
                if known is None:
                    owners[pattern] = [owner]
                elif owner not in known:
                    known.append(owner)
    return owners


def merge_owners(parts: Iterable[dict[Pattern, list[Owner]]]) -> dict[Pattern, list[Owner]]:
    """`collect_owners` of several groups of lists from each group's own result (a list's
    patterns compiled once, reused while its file is unchanged: see bot.indexcache)."""
    owners: dict[Pattern, list[Owner]] = {}
    for part in parts:
        for pattern, more in part.items():
            known = owners.get(pattern)
            if known is None:
                owners[pattern] = list(more)
            else:
                known.extend(o for o in more if o not in known)
    return owners


def _fields_of(title: str, summary: str) -> tuple[tuple[str, str], ...]:
    return (("title", title), ("summary", summary))


def scan_reference(watchlists: Sequence[Watchlist], title: str, summary: str = "") -> list[Match]:
    """The obviously-correct matcher: every pattern tried at every word position.

    Its cost grows with the number of terms; it exists to check the index against.
    """
    owners = collect_owners(watchlists)
    out: list[Match] = []
    for field, text in _fields_of(title, summary):
        words = Words.of(text)
        hits = [
            hit
            for pattern in owners
            for i in range(len(words.tokens))
            if (hit := window_hit(pattern, words, i)) is not None
        ]
        out.extend(hits_to_matches(words, field, hits, owners))
    return _keep_widest(out)


def deletion_keys(word: str, depth: int) -> set[str]:
    """`word` and every string made by deleting up to `depth` of its characters (SymSpell).

    Two words within `depth` edits (insert, delete, substitute, transpose) share a key when
    each side deletes up to `depth` characters, so these keys find every fuzzy candidate.
    """
    keys = {word}
    layer = {word}
    for _ in range(depth):
        layer = {w[:i] + w[i + 1 :] for w in layer if len(w) > 1 for i in range(len(w))}
        keys |= layer
    return keys


@lru_cache(maxsize=65536)
def _text_keys(word: str) -> frozenset[str]:
    """Deletion keys of a headline word, cached: the same words recur in every headline."""
    return frozenset(deletion_keys(word, _text_depth(word)))


def _text_depth(word: str) -> int:
    """Deletions needed on a text word to meet any term word it could be a typo of.

    Bounded by the longest fuzzy term word, so a huge token costs one lookup, not millions.
    """
    if len(word) > MAX_FUZZY_LENGTH + MAX_EDITS:
        return 0
    if len(word) >= TWO_EDITS_LENGTH - MAX_EDITS:
        return MAX_EDITS
    return 1 if len(word) >= MIN_FUZZY_LENGTH - 1 else 0


MAX_SEEN_WORDS = 50_000  # headline words whose candidate term words a Matcher remembers


class Matcher:
    """All watchlists compiled into one index; build once per watchlist change, reuse per item."""

    def __init__(
        self,
        watchlists: Sequence[Watchlist],
        owners: dict[Pattern, list[Owner]] | None = None,
    ) -> None:
        """`owners`: `collect_owners(watchlists)` when the caller has it already."""
        self._owners = collect_owners(watchlists) if owners is None else owners
        # Context rules (bot.context): each list's declared sport, each entry's place option.
        self._list_sports = {w.name: w.sport for w in watchlists if w.sport}
        self._term_places = {
            (w.name, t.term): t.place for w in watchlists for t in w.terms if t.place is not None
        }
        self._size: int | None = None  # counted when asked: folding 100k terms takes a while
        self._seen_words: dict[str, set[int]] = {}  # see _first_word_candidates
        words: dict[TermWord, int] = {}
        self._by_first: dict[int, list[Pattern]] = defaultdict(list)
        for pattern in self._owners:
            first = words.setdefault(pattern[0], len(words))
            self._by_first[first].append(pattern)
        self._words: list[TermWord] = list(words)
        # key -> first word id; further ids sharing a key (rare) go to _more. One int per key
        # instead of one list per key makes the build several times faster at 100k terms.
        self._keys: dict[str, int] = {}
        self._more: dict[str, list[int]] = {}
        for word, wid in words.items():
            self._add_keys(deletion_keys(word.text, word.edits), wid)
        self._fuzzy = any(word.edits for word in words)

    def _add_keys(self, keys: set[str], wid: int) -> None:
        """Index `keys` for word `wid`: set and dict operations run in C, and a key already
        taken by another word (rare) gets `wid` in `_more` (the build's hot loop)."""
        new = dict.fromkeys(keys, wid)
        taken = new.keys() & self._keys.keys()
        for key in taken:
            del new[key]
            self._more.setdefault(key, []).append(wid)
        self._keys.update(new)

    @property
    def size(self) -> int:
        """Distinct terms indexed: one per (watchlist, canonical term), aliases not counted."""
        if self._size is None:
            owners = (o for os in self._owners.values() for o in os)
            self._size = len({(o.watchlist, fold(o.term)) for o in owners})
        return self._size

    def _first_word_candidates(self, token: Token) -> set[int]:
        """Term words that `token` may count as: same folded text, or a shared deletion key.

        Remembered per word (the index never changes once built, and the same words recur in
        every headline): a word's dozens of deletion keys are looked up once, not per item.
        The set handed out is shared: callers only read it."""
        seen = self._seen_words
        found = seen.get(token.text)
        if found is not None:
            return found
        keys = _text_keys(token.text) if self._fuzzy else (token.text,)
        found = set()
        for key in keys:
            wid = self._keys.get(key)
            if wid is not None:
                found.add(wid)
                found.update(self._more.get(key, ()))
        if len(seen) >= MAX_SEEN_WORDS:
            seen.clear()  # a service reads new words forever: start over now and then
        seen[token.text] = found
        return found

    def __getstate__(self) -> dict[str, object]:
        """Pickled (bot/indexcache.py) without the words seen so far."""
        state = dict(self.__dict__)
        del state["_seen_words"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._seen_words = {}

    def _hits(self, words: Words) -> Iterator[Hit]:
        for i, token in enumerate(words.tokens):
            for wid in self._first_word_candidates(token):
                if token_edits(self._words[wid], token) is None:
                    continue
                for pattern in self._by_first[wid]:
                    hit = window_hit(pattern, words, i)
                    if hit is not None:
                        yield hit

    def match(
        self, title: str, summary: str = "", context: ItemContext | None = None
    ) -> list[Match]:
        """Every mention of every term in the fields each watchlist looks at that stands in
        the item's context (`bot.context`), sorted by field then position; at most one Match
        per (watchlist, term, field, span)."""
        return self.explain(title, summary, context)[0]

    def explain(
        self, title: str, summary: str = "", context: ItemContext | None = None
    ) -> tuple[list[Match], list[Rejection]]:
        """The matches, and the mentions the context ruled out with the reason why."""
        return judge(
            self.mentions(title, summary),
            title,
            summary,
            context,
            list_sports=self._list_sports,
            term_places=self._term_places,
        )

    def mentions(self, title: str, summary: str = "") -> list[Match]:
        """Every mention of every term, whatever the context: the words alone."""
        out: list[Match] = []
        for field, text in _fields_of(title, summary):
            if not text:
                continue
            words = _words_of(text)
            out.extend(hits_to_matches(words, field, self._hits(words), self._owners))
        return _keep_widest(out)

    def match_text(self, text: str) -> list[Match]:
        """Match one free text as a title (for `newsbot match`)."""
        return self.match(text)


def personal_watchlist(term: str) -> Watchlist:
    """A subscriber's `/watch X`: a one-term watchlist named "watch:" + the folded term."""
    clean = " ".join(term.split())
    return Watchlist(name="watch:" + fold(clean), terms=(Term(term=clean),), title=clean)


def describe_term(term: str, lang: str = "it") -> str:
    """How `/watch term` will behave, in the subscriber's language: proper noun or not, how
    many typos are tolerated, whether every word is needed."""
    words = term_words(" ".join(term.split()), fuzzy=True)
    if not words:
        return "Nessuna parola da cercare." if lang != "en" else "There is no word to look for."
    shown = " ".join(term.split())
    proper = any(w.capitalised for w in words)
    edits = max(w.edits for w in words)
    texts = _DESCRIBE["en" if lang == "en" else "it"]
    parts = [
        texts["proper" if proper else "common"].format(
            term=shown, upper=shown.upper(), lower=shown.lower()
        ),
        texts[f"edits{edits}"],
    ]
    if len(words) > 1:
        parts.append(texts["words"])
    return " ".join(parts)


_DESCRIBE: dict[str, dict[str, str]] = {
    "it": {
        "proper": "«{term}» è un nome proprio: troverò «{term}» e «{upper}», non «{lower}» "
        "scritto in minuscolo dentro una frase.",
        "common": "«{term}» è scritto in minuscolo: troverò la parola in qualunque forma, "
        "anche «{upper}» (scrivilo con l'iniziale maiuscola se è un nome proprio).",
        "edits0": "È corto: cerco solo la parola esatta, accenti a parte.",
        "edits1": "Tollero un errore di battitura.",
        "edits2": "Tollero fino a due errori di battitura.",
        "words": "Servono tutte le parole, nell'ordine.",
    },
    "en": {
        "proper": "“{term}” is a proper noun: I will find “{term}” and “{upper}”, not “{lower}” "
        "written in lower case inside a sentence.",
        "common": "“{term}” is written in lower case: I will find the word in any form, "
        "“{upper}” too (capitalise it if it is a name).",
        "edits0": "It is short: only the exact word counts, accents aside.",
        "edits1": "I tolerate one typo.",
        "edits2": "I tolerate up to two typos.",
        "words": "All its words are needed, in order.",
    },
}
