"""Story clustering: is this headline the same news as one seen in the last two days?

Pure functions over plain data (no database, no clock). An item joins an earlier story when a
different outlet tells the same news within the window (48 h by default); otherwise it starts a
new story. Subscribers get one alert per story, and later outlets become "Anche su: …" updates.

Precision matters more than recall: a wrong merge hides a piece of news from the subscriber
(it becomes one more outlet in an old message), while a missed merge only costs one extra alert.
So the decision asks for evidence beyond a shared club:

- names are the matched canonical terms plus capitalised words of the title (proper nouns);
  clubs, national teams, competitions, cities and newspapers are *weak* names, because a club
  appears in dozens of unrelated headlines a day;
- a capitalised sentence starter that no dictionary knows ("Zaniolo passa…") is a name too;
- content words compare in any form: a stem that starts another (opera/operato, firma/firmato)
  and one family of event words (si dimette/dimissioni/lascia; intervento/stop/lesione) count
  as one word;
- three specific names in common, two and a club (Zirkzee + Gasperini + Roma), or one specific
  name and shared content words (Dybala + ginocchio, 30% of the shorter title) make the same
  story; two names and one word are not enough (Chivu + Kalulu + "espulsione" is both Chivu's
  post-match words and an editorial written during the match);
- a headline quoting the person it opens with ("Giuffredi tuona: “…”") joins another quoting
  the same person when they share a word or a second name;
- two clubs in common make the same story only with the same score (one match report), never
  a transfer rumour vs a match report naming the same two clubs;
- different scores (2-1 vs 0-1) are always different stories;
- the same outlet twice is the same story only when the headline is nearly identical with the
  same numbers (a re-post); an outlet's second article on a topic is news of its own.

`tests/test_stories.py` measures precision and recall on labelled real headline pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz

from bot.lexicon import word_frequency
from bot.text import Token, fold, tokenize

WINDOW_HOURS = 48


def _words(text: str) -> frozenset[str]:
    """A word list written as text, folded like headlines are."""
    return frozenset(fold(w) for w in text.split())


STEM = 6  # words compare by their first letters: espulsione/espulso, ginocchio/ginocchi
REPOST_RATIO = 90  # rapidfuzz ratio of two headlines of one outlet that make one story
SAME_WORDS = 0.3  # share of content words that, with one specific name, makes one story
PREFIX_MIN = 4  # a stem this long that starts another stem is the same word: oper/operat
NAME_ZIPF = 3.35  # a sentence starter rarer than this is a name (Zaniolo 2.2), not a word

STOPWORDS = _words(
    """
    il lo la i gli le l un uno una di d a da in con su per tra fra e ed o od ma che chi cui
    non si ci ne del dello della dei degli delle dell al allo alla ai agli alle all dal dallo
    dalla dai dagli dalle dall nel nello nella nei negli nelle nell sul sullo sulla sui sugli
    sulle sull col coi e' è sono era ha hanno ho hai abbiamo avere essere stato stata come
    piu più poi gia già ancora anche solo sempre mai ora oggi ieri domani dopo prima contro
    verso senza sotto sopra dove quando perche perché cosa questo questa questi queste quello
    quella quelli quelle suo sua suoi sue loro mio mia tuo tua nostro nostra tutto tutti tutte
    molto poco tanto altro altra altri ecco c se no si sì va fa fare può puo deve ci vi mi ti
    io tu lui lei noi voi essi the a an of to in for and on with is at by from as its it be
    vs v de van von der dos el fino sta stanno vanno ero siamo sara sarà viene
    """
)

# Words every sports headline uses: sharing them says nothing about the news.
GENERIC = _words(
    """
    calcio partita partite gara gare gol goal squadra squadre mercato calciomercato serie
    ufficiale ufficialita news notizia notizie ultime ultimissime ultim prima pagina pagine
    apertura intervista video diretta live tifosi tifoso giocatore giocatori allenatore mister
    club societa società presidente campionato stagione giornata match vittoria sconfitta
    pareggio punti punto oggi stasera domani settimana anni anno minuti minuto tempo casa
    trasferta quotidiano quotidiani titolo titola scrive dice parla parole annuncio
    clamoroso clamorosa svolta retroscena ecco cosa dove come quando grande grandi nuovo nuova
    primo secondo terzo contro pronostico quote esclusiva esclusivo breaking ufficialmente
    rassegna stampa foto
    """
)

# Proper nouns too common to identify a story on their own: clubs and their short names,
# national teams, competitions, cities, stadiums, newspapers and broadcasters.
WEAK_NAMES = _words(
    """
    Inter Internazionale Milan Juventus Juve Napoli Roma Lazio Atalanta Dea Fiorentina Viola
    Bologna Torino Toro Genoa Sampdoria Samp Udinese Lecce Cagliari Verona Hellas Parma Como
    Empoli Monza Sassuolo Cremonese Pisa Venezia Salernitana Frosinone Spezia Bari Palermo
    Cesena Pescara Catanzaro Modena Reggiana Brescia Cittadella Sudtirol Mantova Ternana
    Entella Avellino Benevento Carrarese Real Madrid Barcellona Barcelona Atletico Bayern
    Borussia Dortmund Psg Paris Liverpool Chelsea Arsenal Tottenham Manchester City United Utd
    Newcastle West Ham Aston Villa Benfica Porto Sporting Ajax Galatasaray Marsiglia Lione Lens
    Monaco Leverkusen Celtic Rangers Italia Italy Azzurri Nazionale Francia Spagna Germania
    Inghilterra Argentina Brasile Portogallo Olanda Belgio Croazia Serie A B C Champions League
    Europa Conference Coppa Supercoppa Liga Premier Bundesliga Ligue Mondiale Mondiali Mondial
    Europei Euro Scudetto Var Uefa Fifa Figc Lega Milano Firenze Bergamo Genova San Siro Meazza
    Olimpico Maradona Stadium Stadio Allianz Arena Dall Ara Franchi Gazzetta Corriere Sport
    Tuttosport Repubblica Messaggero Mattino Stampa Leggo QS Secolo XIX Eco Romanista Giornale
    Libero Tempo Dazn Sky Rai Mediaset Tmw Tuttomercatoweb Calciomercato Football Napolista CM
    """
)

# Words that tell one kind of event in different forms a prefix cannot join (si dimette /
# dimissioni, si opera / intervento / stop): each family compares as one word. Kept to events
# that make news of their own, so two headlines sharing a family and a player are one story.
EVENT_FAMILIES = {
    "#leaves": ("dimett", "dimiss", "dimess", "lascia", "lascera", "addio"),
    "#injury": (
        "infortun",
        "lesion",
        "stop",
        "artroscop",
        "opera",
        "intervent",
        "chirurg",
        "risentiment",
        "fastidi",
        "distors",
        "stiram",
        "frattur",
    ),
}

# Football words that no dictionary knows but that name a kind of article, not a person.
JARGON = _words("moviola pagelle pagella fantacalcio")

_SCORE = re.compile(r"(?<![\w.])(\d{1,2})\s*[-–—:]\s*(\d{1,2})(?![\w.])")
_QUOTES = '"“”«»'
_SENTENCE_END = frozenset('.:!?;«»"“”')


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What clustering compares for one headline.

    `words`: stems of the content words (no names, stop words or generic football words);
    `names`: folded proper nouns; `maybe`: capitalised sentence starters, which count as names
    only when the other headline has them as names ("Chivu difende…" vs "…Padre Chivu");
    `groups`: names that belong together ("Sal Da Vinci", "Paulo Dybala") so one full name
    counts once; `scores`: match scores; plus the time and the outlet.
    """

    words: frozenset[str]
    names: frozenset[str]
    scores: frozenset[str] = frozenset()
    published: datetime | None = None
    source: str = ""
    maybe: frozenset[str] = frozenset()
    groups: tuple[frozenset[str], ...] = ()
    speaker: frozenset[str] = frozenset()
    text: str = ""  # the folded headline, word by word (to recognise a re-post)
    quoted: frozenset[str] = frozenset()  # who is quoted, when the headline opens with them


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A recent story an item may join: its first headline, names, time and outlets so far."""

    story_id: str
    title: str
    names: frozenset[str]
    published: datetime
    sources: frozenset[str] = frozenset()


def _stem(word: str) -> str:
    """Italian inflection changes the ending: voleva/volevo, espulso/espulsione, ginocchio/i."""
    return (word.rstrip("aeiou") or word)[:STEM]


@lru_cache(maxsize=8192)
def _word_key(word: str) -> str:
    """What a content word compares as: its event family ("#injury") or its stem."""
    for family, prefixes in EVENT_FAMILIES.items():
        if word.startswith(prefixes):
            return family
    return _stem(word)


def _same_word(x: str, y: str) -> bool:
    """Equal keys, or one stem starting the other: a 6-letter cut keeps "operat" but the
    shorter form keeps only "oper", and they are still one word."""
    if x == y:
        return True
    short, long_ = sorted((x, y), key=len)
    return len(short) >= PREFIX_MIN and not short.startswith("#") and long_.startswith(short)


def common_words(a: frozenset[str], b: frozenset[str]) -> int:
    """How many content words two headlines share (same word in another form counts)."""
    in_a = sum(1 for x in a if any(_same_word(x, y) for y in b))
    in_b = sum(1 for y in b if any(_same_word(x, y) for x in a))
    return min(in_a, in_b)


def scores(title: str) -> frozenset[str]:
    """Match scores written in the title ("3-2", "0-1"), which pin down one match."""
    return frozenset(f"{a}-{b}" for a, b in _SCORE.findall(title.replace("″", "")))


@dataclass(frozen=True, slots=True)
class _Analysis:
    names: frozenset[str]
    maybe: frozenset[str]
    groups: tuple[frozenset[str], ...]
    words: frozenset[str]
    speaker: frozenset[str]
    quoted: frozenset[str]


def _starts_sentence(title: str, tokens: list[Token], i: int) -> bool:
    gap = title[tokens[i - 1].end : tokens[i].start] if i else ""
    return i == 0 or any(c in _SENTENCE_END for c in gap)


def _name_class(title: str, tokens: list[Token], i: int) -> str | None:
    """ "name", "maybe" (a capitalised sentence starter) or None for one token."""
    tok = tokens[i]
    word = tok.text
    if not tok.capitalised or len(word) < 2 or word.isdigit():
        return None
    if word in STOPWORDS or word in GENERIC:  # "Ufficiale:", "Clamoroso:" name no one
        return None
    if not _starts_sentence(title, tokens, i) or word in WEAK_NAMES:
        return "name"
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    after = title[tok.end : nxt.start] if nxt else ""
    opens_name = (
        nxt is not None
        and nxt.capitalised
        and nxt.text not in WEAK_NAMES
        and nxt.text not in STOPWORDS
        and after.strip() == ""
    )
    if after.strip()[:1] in (",", ":") or opens_name or _not_a_word(word):
        return "name"
    return "maybe"


def _not_a_word(word: str) -> bool:
    """A capitalised sentence starter that no dictionary knows ("Zaniolo passa…") is a name;
    "Altro", "Sentite", "Furia" are ordinary words that only start the sentence."""
    return word not in JARGON and word_frequency(word) < NAME_ZIPF


@lru_cache(maxsize=4096)
def _analyse(title: str) -> _Analysis:
    tokens = tokenize(title)
    all_caps = all(t.upper for t in tokens if t.text.isalpha())
    names: set[str] = set()
    maybe: set[str] = set()
    groups: list[set[str]] = []
    speaker: frozenset[str] = frozenset()
    run_open = opens_title = False
    for i, tok in enumerate(tokens):
        cls = None if all_caps else _name_class(title, tokens, i)
        if cls == "name":
            names.add(tok.text)
        elif cls == "maybe":
            maybe.add(tok.text)
        gap = title[tokens[i - 1].end : tok.start] if i else ""
        joined = run_open and gap.strip() == "" and tok.capitalised
        if cls is not None:
            if joined and groups:
                groups[-1].add(tok.text)
            else:
                groups.append({tok.text})
                opens_title = opens_title or i == 0
            run_open = True
        else:
            run_open = joined  # a capitalised particle ("Da", "De") keeps a name going
        if len(groups) == 1 and opens_title and run_open and not speaker:
            nxt = tokens[i + 1].start if i + 1 < len(tokens) else len(title)
            if title[tok.end : nxt].lstrip().startswith(":") and not groups[0] & WEAK_NAMES:
                speaker = frozenset(groups[0])
    name_stems = {_stem(n) for n in names}
    words = frozenset(
        _word_key(t.text)
        for t in tokens
        if len(t.text) >= 3
        and not t.text.isdigit()
        and t.text not in STOPWORDS
        and t.text not in GENERIC
        and _stem(t.text) not in name_stems
    )
    groups_ = tuple(frozenset(g) for g in groups)
    quoted = _quoted_person(title, groups_, opens_title)
    return _Analysis(frozenset(names), frozenset(maybe), groups_, words, speaker, quoted)


def _quoted_person(title: str, groups: tuple[frozenset[str], ...], opens: bool) -> frozenset[str]:
    """The name opening a headline that carries a quotation: the person whose words these are
    ("Giuffredi tuona: “…”", "Chiellini e Comolli durissimi: "…""), unless it is a club."""
    if not opens or not groups or not any(q in title for q in _QUOTES):
        return frozenset()
    return groups[0] - WEAK_NAMES


def title_names(title: str) -> frozenset[str]:
    """Folded proper nouns of a headline: capitalised words that are not sentence starters.

    The first word of a sentence is capitalised anyway, so it counts only when it looks like
    a subject ("Dybala, oggi la verità", "Chiellini: …"), is a known club, or opens a full name
    ("Giacomo Bonaventura"). An all-caps headline carries no capitalisation signal.
    """
    return _analyse(title).names


def lookup_names(title: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Every name a story may be found by: names, capitalised sentence starters, extra names.

    Wider than `title_names` on purpose: "Chivu difende Bastoni" must be found by a later
    "…Padre Chivu…" although its own "Chivu" is only a sentence starter.
    """
    found = _analyse(title)
    return found.names | found.maybe | frozenset(extra)


def name_tokens(terms: Iterable[str]) -> frozenset[str]:
    """Matched canonical terms as folded name tokens ("Paulo Dybala" -> paulo, dybala)."""
    return frozenset(t.text for term in terms for t in tokenize(term) if t.text not in STOPWORDS)


def story_key(
    title: str,
    names: Iterable[str] = (),
    published: datetime | None = None,
    source: str = "",
) -> StoryKey:
    """The comparison key of a headline; `names` are extra folded names (matched terms)."""
    found = _analyse(title)
    extra = frozenset(names)
    groups = found.groups + tuple(frozenset({n}) for n in extra - found.names - found.maybe)
    return StoryKey(
        words=found.words,
        names=found.names | extra,
        scores=scores(title),
        published=published,
        source=source,
        maybe=found.maybe - extra,
        groups=groups,
        speaker=found.speaker,
        text=folded_text(title),
        quoted=found.quoted,
    )


def _within(a: datetime | None, b: datetime | None, window_hours: float) -> bool:
    if a is None or b is None:
        return True
    return abs(a - b) <= timedelta(hours=window_hours)


def similarity(a: StoryKey, b: StoryKey) -> float:
    """Share of the shorter headline's content words found in the other (0..1)."""
    if not a.words or not b.words:
        return 0.0
    return common_words(a.words, b.words) / min(len(a.words), len(b.words))


def shared_names(a: StoryKey, b: StoryKey) -> frozenset[str]:
    """Names both headlines mention (a sentence starter counts if the other calls it a name)."""
    return (a.names & b.names) | (a.names & b.maybe) | (a.maybe & b.names)


def _distinct(groups: tuple[frozenset[str], ...], names: frozenset[str]) -> int:
    return sum(1 for g in groups if g & names)


def _strong_count(a: StoryKey, b: StoryKey, strong: frozenset[str]) -> int:
    """How many different specific names two headlines share (a full name counts once)."""
    if not a.groups or not b.groups:
        return len(strong)
    return min(_distinct(a.groups, strong), _distinct(b.groups, strong))


@lru_cache(maxsize=4096)
def folded_text(title: str) -> str:
    """The headline as folded words separated by single spaces (punctuation dropped)."""
    return " ".join(t.text for t in tokenize(title))


def is_repost(a: str, b: str) -> bool:
    """Two folded headlines of one outlet that differ only by a small edit (same numbers)."""
    if not a or not b:
        return False
    digits_a = [w for w in a.split() if w.isdigit()]
    digits_b = [w for w in b.split() if w.isdigit()]
    return digits_a == digits_b and fuzz.ratio(a, b) >= REPOST_RATIO


def _other_speaker(a: StoryKey, b: StoryKey) -> bool:
    """`a` quotes someone ("Pavan: …") whom `b` does not mention: two people's words."""
    if not a.speaker:
        return False
    mentioned = b.names | b.maybe | b.words
    return not any(n in mentioned or _stem(n) in mentioned for n in a.speaker)


def same_story(a: StoryKey, b: StoryKey, *, window_hours: float = WINDOW_HOURS) -> bool:
    """Whether two headlines tell the same news (see the module docstring for the rules)."""
    if not _within(a.published, b.published, window_hours):
        return False
    if a.scores and b.scores and not (a.scores & b.scores):
        return False
    if _other_speaker(a, b) or _other_speaker(b, a):
        return False
    if a.source and a.source == b.source:
        return is_repost(a.text, b.text)
    return _evidence_agrees(a, b)


def _evidence_agrees(a: StoryKey, b: StoryKey) -> bool:
    """Names and words of two headlines from different outlets point at one piece of news."""
    shared = shared_names(a, b)
    strong = _strong_count(a, b, shared - WEAK_NAMES)
    common = common_words(a.words, b.words)
    if strong >= 3 or (strong >= 2 and shared & WEAK_NAMES):
        return True  # three people, or two people and a club (Zirkzee, Gasperini, Roma)
    if strong >= 1 and common >= 1 and similarity(a, b) >= SAME_WORDS:
        return True
    if a.quoted & b.quoted and (common >= 1 or strong >= 2):
        return True  # one person's outburst quoted twice: words are picked differently
    if len(shared) >= 2 and a.scores & b.scores:
        return True
    return bool(shared) and not strong and _same_words_around_a_club(a, b, shared, common)


def _same_words_around_a_club(
    a: StoryKey, b: StoryKey, shared: frozenset[str], common: int
) -> bool:
    """Nearly the same words around a shared club, unless each names someone else:
    "X rinnova con la Roma fino al 2030" and "Y rinnova con la Roma…" are two stories."""
    own_a = (a.names | a.maybe) - WEAK_NAMES - shared
    own_b = (b.names | b.maybe) - WEAK_NAMES - shared
    named_apart = bool(own_a) and bool(own_b)
    return similarity(a, b) >= 0.6 and common >= 2 and not named_apart


def _score(a: StoryKey, b: StoryKey) -> float:
    """How strongly two keys agree, to pick the best of several matching stories."""
    shared = shared_names(a, b)
    return 2.0 * len(shared - WEAK_NAMES) + len(shared) + similarity(a, b)


def find_story(
    item_title: str,
    names: frozenset[str],
    published: datetime | None,
    candidates: Sequence[StoryCandidate],
    *,
    source: str = "",
    window_hours: float = WINDOW_HOURS,
) -> str | None:
    """The id of the candidate story this headline belongs to, or None for a new story.

    `names` are folded extra names (matched terms); a candidate's `names` are the names
    stored with its first headline. An outlet already in a candidate story joins it only with
    a nearly identical headline (see `same_story`).
    """
    key = story_key(item_title, names, published, source)
    best: tuple[float, str] | None = None
    for cand in candidates:
        found = _analyse(cand.title)
        other = StoryKey(
            words=found.words,
            names=cand.names,
            scores=scores(cand.title),
            published=cand.published,
            source=source if source and source in cand.sources else "",
            maybe=found.maybe - cand.names,
            groups=found.groups
            + tuple(frozenset({n}) for n in cand.names - found.names - found.maybe),
            speaker=found.speaker,
            text=folded_text(cand.title),
            quoted=found.quoted,
        )
        if not same_story(key, other, window_hours=window_hours):
            continue
        score = _score(key, other)
        if best is None or score > best[0]:
            best = (score, cand.story_id)
    return best[1] if best else None
