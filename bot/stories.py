"""Story clustering: is this item the same news as one seen in the last two days?

Pure functions over plain data (no database, no clock). An item joins an earlier story when it
tells the same news; otherwise it starts a new story. Subscribers get one alert per story, and
later outlets become "anche su: …" updates. `docs/stories.md` states the rules with real
examples and the measured precision and recall.

Precision matters more than recall: a wrong merge hides a piece of news from the subscriber
(it becomes one more outlet in an old message), while a missed merge only costs one extra alert.
What decides is what happened, not only who is named:

- **who**: proper nouns of the title (and, more weakly, of the summary), plus the watchlist
  terms the item matched. A matched term is one person or club however many words its
  canonical name has ("Marco Palestra" is one name, not two), and it is evidence of who only:
  sharing the followed player never makes two items one story by itself;
- **what kind of event**: transfer rumour, official signing, match result, player ratings, a
  sacking, injury and recovery, training, squad list, press conference or interview (a title
  quoting someone's words), disciplinary, refereeing, preview, business, round-up
  (`event_kinds`). Two items whose kinds are known and differ are different news,
  whatever else they share ("Palestra, assalto del Milan" vs "Atalanta-Napoli 2-1: Palestra
  tra i migliori");
- **numbers and clubs**: different scores are different matches; the same score pins one match;
  a club plays once in a few days, so two results about one club within a day are one match;
- **content words**: compared through Italian Snowball stems (PyStemmer), with families of
  event words (si dimette / dimissioni) counted as one word.

The same outlet twice is one story for a re-post, or for its own follow-up on the same news
within `SAME_OUTLET_HOURS` (the morning press review quoting three papers on one player); a
different piece of news from the same outlet stays a story of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from functools import lru_cache

import Stemmer
from rapidfuzz import fuzz

from bot.lexicon import word_frequency
from bot.text import Token, fold, tokenize

WINDOW_HOURS = 48
SAME_OUTLET_HOURS = 12  # an outlet's own follow-up on the same news within this is one story
RESULT_PAIR_HOURS = 24  # two reports of one match between the same two clubs
FRONT_PAGES_HOURS = 1  # the morning's front pages on one match come out within this
WHO_PREFIX = "who:"  # a stored story name that is a whole matched term ("who:marco palestra")


def _words(text: str) -> frozenset[str]:
    """A word list written as text, folded like headlines are."""
    return frozenset(fold(w) for w in text.split())


REPOST_RATIO = 90  # rapidfuzz ratio of two headlines of one outlet that make one story
SAME_WORDS = 0.3  # share of content words that, with one specific name, makes one story
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
    vs v de van von der dos el fino sta stanno vanno ero siamo sara sarà viene così cosi
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
    rassegna stampa foto orario probabili formazioni formazione vedere tv streaming
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

# Weak names that are not clubs: competitions, cities, stadiums, newspapers and broadcasters.
NOT_CLUBS = _words(
    """
    Serie A B C Champions League Europa Conference Coppa Supercoppa Liga Premier Bundesliga
    Ligue Mondiale Mondiali Mondial Europei Euro Scudetto Var Uefa Fifa Figc Lega Milano Firenze
    Bergamo Genova San Siro Meazza Olimpico Maradona Stadium Stadio Allianz Arena Dall Ara
    Franchi Gazzetta Corriere Sport Tuttosport Repubblica Messaggero Mattino Stampa Leggo QS
    Secolo XIX Eco Romanista Giornale Libero Tempo Dazn Sky Rai Mediaset Tmw Tuttomercatoweb
    Calciomercato Football Napolista CM Italia Italy Azzurri Nazionale
    """
)

# Short and other names of one club (or team) that a headline uses in turn: compared as one.
CLUB_ALIASES = {
    "juve": "juventus",
    "dea": "atalanta",
    "toro": "torino",
    "samp": "sampdoria",
    "hellas": "verona",
    "internazionale": "inter",
    "barcelona": "barcellona",
    "nazionale": "italia",
}
# A derby's name tells its two clubs ("il derby d'Italia" is Inter-Juventus): read as if the
# text named them.
_DERBIES = re.compile(
    r"\b(derby)\s+(?:d['’]\s*|della\s+|del\s+)(italia|madonnina|capitale|mole|lanterna|sole)\b",
    re.IGNORECASE,
)
DERBY_CLUBS = {
    "italia": "Inter-Juventus",
    "madonnina": "Inter-Milan",
    "capitale": "Roma-Lazio",
    "mole": "Juventus-Torino",
    "lanterna": "Genoa-Sampdoria",
    "sole": "Napoli-Roma",
}


def name_derbies(text: str) -> str:
    """`text` with a derby's name read as its two clubs ("il derby d'Italia" -> "il derby
    Inter-Juventus"): the clubs a reader hears in it (and no national team)."""
    if "erby" not in text:
        return text
    return _DERBIES.sub(lambda m: f"{m[1]} {DERBY_CLUBS[m[2].lower()]}", text)


# Club names too ambiguous to tell one club on their own (Manchester City or United?).
AMBIGUOUS_CLUBS = _words("real manchester city united utd west ham aston villa borussia atletico")
CLUBS = (WEAK_NAMES - NOT_CLUBS - AMBIGUOUS_CLUBS) | {"italia"}
# Words that make a club's other team: its volleyball side, its women, its youth team.
TEAM_QUALIFIERS = _words(
    "volley pallavolo basket femminile women primavera under u17 u19 u21 u23 futsal next gen"
)
# A headline quoting a newspaper's front page ("La Gazzetta dello Sport: «…»") is a press
# review, not somebody's words.
PRESS = _words(
    """
    gazzetta gazzettino corriere tuttosport repubblica messaggero mattino stampa leggo qs
    romanista giornale libero tempo unione provincia nazione carlino secolo eco tirreno
    apertura apre pagina titola titolo edicola scrive taglio quotidiano
    """
)
_QUOTE_OPENS = re.compile(r"[:,]\s*[\"“«]")
_SENTENCE_BREAK = re.compile(r"[.!?]\s")

# Words that tell one kind of event in different forms a stem cannot join (si dimette /
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

# The kinds of event a headline tells, each recognised by word beginnings (folded words) or
# phrases. Infinitives ("battere la Juve vuol dire…") say what may happen, not what happened,
# so they never mark a result.
KIND_PREFIXES: dict[str, tuple[str, ...]] = {
    "result": (
        "batt",
        "vinc",
        "vint",
        "vittori",
        "sconfitt",
        "pareggi",
        "travolg",
        "rimont",
        "ribalt",
        "espugn",
        "crolla",
        "crollo",
        "sbanc",
        "tabellin",
        "beffa",
        "impresa",
        "schiaff",
        "cade",
        "perde",
        "perdon",
        "passa",
    ),
    "transfer": (
        "mercat",
        "calciomercat",
        "trattativ",
        "offert",
        "obiettiv",
        "sondagg",
        "assalt",
        "contatt",
        "prestit",
        "cession",
        "riscatt",
        "clausol",
        "acquist",
        "scambi",
        "mirino",
        "piace",
        "stipendi",
        "ingaggi",
        "visite",
        "destinazion",
        "corteggi",
        "rilanci",
    ),
    "signing": ("ufficial", "firm", "rinnov", "prolung", "annunci"),
    "injury": (
        "stop",
        "infortun",
        "lesion",
        "artroscop",
        "operaz",
        "operat",
        "chirurg",
        "risentiment",
        "fastidi",
        "distors",
        "stiram",
        "frattur",
        "ginocch",
        "caviglia",
        "flessor",
        "polpacci",
        "adduttor",
        "muscolar",
        "tendin",
        "crociat",
        "menisc",
        "terapi",
        "recuperat",
        "rientr",
    ),
    "training": ("allenament", "sedut", "rifinitur", "differenziat"),
    "squad": ("convocat", "convocaz", "preconvoc", "elenco", "formazion", "titolar"),
    "interview": ("intervist", "conferenz", "dichiaraz", "microfon", "sfogo", "tuona"),
    # a ruling on someone; a red card is the referee's, told by every post-match piece
    "disciplinary": ("squalific", "multa", "multat", "ammend", "deferi", "sanzion"),
    "refereeing": ("moviola", "arbitr", "var", "rigor", "espuls"),
    "sacking": ("esoner", "autoesoner", "silurat", "sollevat"),  # a coach or director out
    "ratings": ("pagell",),  # the players' marks: a piece of its own beside the report
    "preview": ("pronostic", "quote", "streaming", "vigilia", "orario"),
    "business": ("bilanci", "ricav", "fatturat", "sponsor", "partnership", "azionist", "debit"),
}
# Whole words that tell a kind (too short to be word beginnings): "Pari show".
KIND_WORDS: dict[str, frozenset[str]] = {"result": _words("pari tris poker manita goleada")}
KIND_PHRASES: dict[str, re.Pattern[str]] = {
    "result": re.compile(r"\bnon bast(a|ano)\b"),
    "training": re.compile(r"\b(si allena\w*|in gruppo|a parte|con i compagni)\b"),
    "injury": re.compile(
        r"\b(si opera|si ferma|si fa male|si e fatto male|tempi di recupero"
        r"|torna a disposizione|in dubbio)\b"
    ),
    # the day's front pages or news in brief: many pieces of news, none of them told
    "roundup": re.compile(r"\b(le prime pagine|ultimissime)\b"),
    "preview": re.compile(
        r"\b(dove vedere|dove si vede|in tv|probabili formazioni"
        r"|e (la notte|la sera|il giorno|la vigilia) d\w*)\b"
    ),
    "interview": re.compile(r"\b(ha detto|ha parlato|le parole)\b"),
    "disciplinary": re.compile(r"\b(giudice sportivo)\b"),
    "refereeing": re.compile(r"\b(cartellino rosso|var)\b"),
}
# Events that happen to one person once in a few days: the same person and kind is one story
# (not a red card: every post-match piece mentions it).
PERSONAL_KINDS = frozenset({"injury", "training", "signing", "squad", "sacking"})
# "Troilo firma l'impresa", "firma il gol": a scorer's deed, not a contract.
_SCORER_SIGNS = re.compile(
    r"\bfirma (l |il |la |un |una )?(impresa|gol|rete|rimonta|vittoria|pari)"
)
_INFINITIVE = ("are", "ere", "ire")
NOT_INFINITIVES = _words("muscolare muscolari particolare spettacolare regolare titolare")
_LOSES_SOMEONE = re.compile(r"\bperde anche lui\b")
# "Il Real Madrid vuole Allegri", "tenta di nuovo Allegri": wanting someone (a name) is a rumour
_WANTS = re.compile(r"\b(?:vuole|vogliono|tenta|tentano) (?:di nuovo |ancora )?(\w+)")
_FOUGHT = re.compile(r"\bsi (?:e |sono |era |erano )?batt\w*")
_MOVES_TO = re.compile(r"\bpass(?:a|ano|era) (?:a|al|all|alla|allo|ai) (\w+)")
KIND_EXCLUDE = _words(
    "allenatore allenatori passato passaggio perdere var varese battaglia battaglie"
)

# Football words that no dictionary knows but that name a kind of article, not a person.
JARGON = _words("moviola pagelle pagella fantacalcio tris manita goleada")

# a score ends a sentence too ("la Juve vince 3-0. Il Mattino…"), but "2-0.5" is no score
_SCORE = re.compile(r"(?<![\w.])(\d{1,2})\s*[-–—:]\s*(\d{1,2})(?!\w|[.,]\d)")
# Words before a score that make it a score along the way, not the final one.
_ALONG_THE_WAY = re.compile(
    r"(\bsull['’]|\bsul\s|\bdallo\s|\bdal\s|\bsotto\s|\bavanti\s|\bdopo (lo|l['’]|il)\s*)$",
    re.IGNORECASE,
)
_QUOTES = '"“”«»'
_SENTENCE_END = frozenset('.:!?;«»"“”')
_STEMMER = Stemmer.Stemmer("italian")


@dataclass(frozen=True, slots=True)
class StoryKey:
    """What clustering compares for one item (its analysis, cached per story).

    `words`: stems of the content words of the title (no names, stop words or generic football
    words); `names`: folded proper nouns of the title; `maybe`: capitalised sentence starters,
    which count as names only when the other item has them as names ("Chivu difende…" vs
    "…Padre Chivu"); `groups`: names that belong together ("Sal Da Vinci") so one full name
    counts once; `who`: the matched watchlist terms, one group each; `context`: proper nouns of
    the summary; `kinds`: the kinds of event told (`kinds_from_summary` when the title told
    none); `scores`: match scores of the title and the summary; `clubs`: the clubs the title
    names (its summary's when the title names no one); `teams`: which of a club's teams
    (volley, women, youth); plus the time and the outlet.
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
    kinds: frozenset[str] = frozenset()
    who: tuple[frozenset[str], ...] = ()
    context: frozenset[str] = frozenset()
    summary_scores: frozenset[str] = frozenset()
    clubs: frozenset[str] = frozenset()  # clubs the title names, one name each
    teams: frozenset[str] = frozenset()  # which of a club's teams: volley, women, youth
    kinds_from_summary: bool = False  # the title tells no kind; the summary's are weaker
    episodes: frozenset[str] = frozenset()  # the referee's calls the title names (a goal, …)
    # Derived once, not per comparison (an item is compared with dozens of stories): the
    # tokens of the matched terms, and every name the title mentions or the item matched.
    who_tokens: frozenset[str] = field(init=False, repr=False, compare=False)
    mentioned: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        who = frozenset().union(*self.who) if self.who else frozenset()
        object.__setattr__(self, "who_tokens", who)
        object.__setattr__(self, "mentioned", self.names | self.maybe | who)

    def at(self, published: datetime | None, source: str) -> StoryKey:
        """The same analysis seen at another time or from another outlet."""
        return _replace(self, published=published, source=source)


_KEY_FIELDS = tuple(f.name for f in fields(StoryKey) if f.init)


def _replace(key: StoryKey, **changes: object) -> StoryKey:
    values = {name: getattr(key, name) for name in _KEY_FIELDS}
    values.update(changes)
    return StoryKey(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StoryCandidate:
    """A recent story an item may join: its first item, names, time and outlets so far.

    `key` is the story's cached analysis when the caller has it (see `dedup`); without it the
    analysis is computed from `title`, `summary` and `names`.
    """

    story_id: str
    title: str
    names: frozenset[str]
    published: datetime
    sources: frozenset[str] = frozenset()
    summary: str = ""
    key: StoryKey | None = field(default=None, compare=False)
    # later items of the story (each at its own time and outlet): an item that tells the same
    # news as any of them belongs to the story too
    members: tuple[StoryKey, ...] = field(default=(), compare=False)
    # what its compared items have together, worked out at the first comparison (`_reach`)
    reach: StoryReach | None = field(default=None, init=False, repr=False, compare=False)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Italian inflection changes the ending: voleva/volevo, ginocchio/ginocchi (Snowball)."""
    return _STEMMER.stemWord(word)


@lru_cache(maxsize=65536)
def _word_key(word: str) -> str:
    """What a content word compares as: its event family ("#injury") or its stem."""
    for family, prefixes in EVENT_FAMILIES.items():
        if word.startswith(prefixes):
            return family
    if len(word) > 5 and word.endswith(_INFINITIVE) and word not in NOT_INFINITIVES:
        return "to " + _stem(word)  # "battere la Juve vuol dire…" is not "batte la Juve"
    return _stem(word)


def common_words(a: frozenset[str], b: frozenset[str]) -> int:
    """How many content words two headlines share (the same word in another form counts)."""
    return len(a & b)


def scores(title: str) -> frozenset[str]:
    """Match scores written in the text ("3-2", "0-1"), which pin down one match.

    A score along the way ("sull'1-1 l'arbitro…", "va sotto 0-2", "dopo lo 0-2") is not the
    match's score and is left out."""
    text = title.replace("″", "")
    return frozenset(
        f"{m[1]}-{m[2]}"
        for m in _SCORE.finditer(text)
        if not _ALONG_THE_WAY.search(text, 0, m.start())
    )


def same_score(a: str, b: str) -> bool:
    """One score written home-first or winner-first ("1-3" col Crystal Palace, "3-1")."""
    return a == b or a == "-".join(reversed(b.split("-")))


def scores_agree(a: frozenset[str], b: frozenset[str]) -> bool:
    """No score of one item is a score of the other: two different matches."""
    return not a or not b or any(same_score(x, y) for x in a for y in b)


@lru_cache(maxsize=16384)
def event_kinds(text: str) -> frozenset[str]:
    """The kinds of event a text tells ("result", "transfer", "injury", …); empty if none."""
    folded = folded_text(text)
    found = {kind for kind, phrase in KIND_PHRASES.items() if phrase.search(folded)}
    folded = _FOUGHT.sub(" ", folded)  # "si è battuto con dignità": fought, not beaten
    folded = _LOSES_SOMEONE.sub(" ", folded)  # "Conte perde anche lui": a player, no match
    if _SCORER_SIGNS.search(folded):
        found.add("result")
        folded = _SCORER_SIGNS.sub(" ", folded)
    for moved in _MOVES_TO.finditer(folded):  # "Zaniolo passa all'Udinese": a transfer
        if CLUB_ALIASES.get(moved[1], moved[1]) in CLUBS:
            found.add("transfer")
            folded = folded[: moved.start()] + " " + folded[moved.start(1) :]
    names = _analyse(text).inner  # "Vincenzo" Vivarini has not won anything
    if any(m[1] in names for m in _WANTS.finditer(folded)):  # "il Real vuole Allegri"
        found.add("transfer")
    previous = ""
    for word in folded.split():
        previous, before = word, previous
        if word == "ko":  # "Cremonese ko" lost; "ginocchio ko", "ko Gaetano" are hurt
            found.add("result" if CLUB_ALIASES.get(before, before) in CLUBS else "injury")
        if word in KIND_EXCLUDE or word in names:
            continue
        found.update(kind for kind, words in KIND_WORDS.items() if word in words)
        if len(word) > 5 and word.endswith(_INFINITIVE) and word not in NOT_INFINITIVES:
            continue
        found.update(kind for kind, prefixes in KIND_PREFIXES.items() if word.startswith(prefixes))
    if scores(text):
        found.add("result")
    if "sacking" in found:  # "esonerato dopo la quinta sconfitta", "esonero ufficiale"
        found -= {"result", "signing"}
    if "moviola" in folded.split():  # "La moviola di Bologna-Milan 0-3": the calls, no result
        found.discard("result")
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class _Analysis:
    names: frozenset[str]
    maybe: frozenset[str]
    groups: tuple[frozenset[str], ...]
    words: frozenset[str]
    speaker: frozenset[str]
    quoted: frozenset[str]
    inner: frozenset[str]  # names as written inside a sentence (not capitalised as starters)
    aside: frozenset[str] = frozenset()  # named only as the story this one follows


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


@lru_cache(maxsize=16384)
def _analyse(title: str) -> _Analysis:
    title = name_derbies(title)
    tokens = tokenize(title)
    all_caps = all(t.upper for t in tokens if t.text.isalpha())
    names: set[str] = set()
    maybe: set[str] = set()
    groups: list[set[str]] = []
    speaker: frozenset[str] = frozenset()
    raw: set[str] = set()  # the names as written, before aliases
    inner: set[str] = set()
    run_open = opens_title = False
    for i, tok in enumerate(tokens):
        cls = None if all_caps else _name_class(title, tokens, i)
        name = tok.text
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        longer = nxt is not None and nxt.capitalised and not title[tok.end : nxt.start].strip()
        if not longer:  # "Juve" and "Juventus" are one club; "Juve Stabia" is another
            name = CLUB_ALIASES.get(name, name)
        if cls == "name":
            names.add(name)
            raw.add(tok.text)
            if not _starts_sentence(title, tokens, i):
                inner.add(tok.text)
        elif cls == "maybe":
            maybe.add(name)
        gap = title[tokens[i - 1].end : tok.start] if i else ""
        joined = run_open and gap.strip() == "" and tok.capitalised
        if cls is not None:
            if joined and groups:
                groups[-1].add(name)
            else:
                groups.append({name})
                opens_title = opens_title or i == 0
            run_open = True
        else:
            run_open = joined  # a capitalised particle ("Da", "De") keeps a name going
        if len(groups) == 1 and opens_title and run_open and not speaker:
            nxt = tokens[i + 1].start if i + 1 < len(tokens) else len(title)
            if title[tok.end : nxt].lstrip().startswith(":") and not groups[0] & WEAK_NAMES:
                speaker = frozenset(groups[0])
    name_stems = {_stem(n) for n in names | raw}
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
    return _Analysis(
        frozenset(names), frozenset(maybe), groups_, words, speaker, quoted, frozenset(inner)
    )


def _quoted_person(title: str, groups: tuple[frozenset[str], ...], opens: bool) -> frozenset[str]:
    """The name opening a headline that carries a quotation: the person whose words these are
    ("Giuffredi tuona: “…”", "Chiellini e Comolli durissimi: "…""), unless it is a club."""
    if not opens or not groups or not any(q in title for q in _QUOTES):
        return frozenset()
    return groups[0] - WEAK_NAMES


def quoted_words(title: str) -> frozenset[str]:
    """{"interview"} when the title quotes someone's words ("Chivu: «…»", "Gasperini scherza:
    «…»"), whatever else it tells; a newspaper's front page quoted ("La Gazzetta: «…»") is a
    press review, not an interview."""
    found = _QUOTE_OPENS.search(title)
    if found is None:
        return frozenset()
    before = _SENTENCE_BREAK.split(title[: found.start()])[-1]
    if any(w in PRESS for w in folded_text(before).split()):
        return frozenset()
    return frozenset({"interview"})


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


@lru_cache(maxsize=16384)
def _term_words(term: str) -> frozenset[str]:
    """A matched term's folded name tokens (the same terms match item after item)."""
    return frozenset(t.text for t in tokenize(term) if t.text not in STOPWORDS)


def name_tokens(terms: Iterable[str]) -> frozenset[str]:
    """Matched canonical terms as folded name tokens ("Paulo Dybala" -> paulo, dybala)."""
    return frozenset().union(*map(_term_words, terms))


def who_groups(terms: Iterable[str]) -> tuple[frozenset[str], ...]:
    """Matched canonical terms, one group of folded tokens each ("Paulo Dybala" is one name)."""
    return _who_groups(tuple(terms))


@lru_cache(maxsize=16384)
def _who_groups(terms: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    found = set(map(_term_words, terms))
    return tuple(sorted((g for g in found if g), key=sorted))


def who_names(terms: Iterable[str]) -> frozenset[str]:
    """Matched terms as stored story names ("who:paulo dybala"), kept apart from title names."""
    return frozenset(WHO_PREFIX + " ".join(sorted(g)) for g in who_groups(terms))


def split_stored_names(stored: Iterable[str]) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
    """A story's stored names as (title names, matched-term groups)."""
    names, who = set(), set()
    for name in stored:
        if name.startswith(WHO_PREFIX):
            who.add(frozenset(name[len(WHO_PREFIX) :].split()))
        else:
            names.add(name)
    return frozenset(names), tuple(sorted(who, key=sorted))


@lru_cache(maxsize=16384)
def _summary_context(summary: str) -> frozenset[str]:
    """Proper nouns of the summary that are not sentence starters (weaker evidence of who)."""
    return _analyse(summary[:400]).names if summary else frozenset()


def analyse(
    title: str,
    summary: str = "",
    names: Iterable[str] = (),
    who: Iterable[frozenset[str]] = (),
    published: datetime | None = None,
    source: str = "",
) -> StoryKey:
    """The comparison key of an item: what happened (kinds, words, numbers) and who."""
    found = _where(_set_aside(_analyse(title), title), title)
    text = folded_text(title)
    if " nazionale " in f" {text} ":  # "Pre-convocati nazionale": Italy's team
        names = (*names, "italia")
    extra = frozenset(names) - found.names - found.maybe
    who_ = tuple(who)
    quoted = quoted_words(title)
    # someone's words after a match ("Sarri dopo il pari con il Cagliari: «…»") are his words,
    # not the match report, whatever result they mention
    kinds = quoted | (event_kinds(title) - {"result"} if quoted else event_kinds(title))
    told = event_kinds(summary[:400]) if summary else frozenset()
    from_summary = bool(told) and (not kinds or (kinds <= REFEREE_KINDS and "result" in told))
    if from_summary:  # "Furia Juve contro l'arbitro": the summary says the match ended 3-2
        kinds |= told if not kinds else {"result"}
    all_names = found.names | extra
    # a title naming no one ("Il danno", "Facile così": its capitalised first word may be a
    # name, never a club) is about the clubs its summary names
    named = all_names or _summary_context(summary)
    return StoryKey(
        clubs=frozenset(n for n in named if n in CLUBS),
        teams=frozenset(
            w for w in f"{text} {folded_text(summary[:400])}".split() if w in TEAM_QUALIFIERS
        ),
        words=found.words,
        names=all_names,
        scores=scores(title),
        summary_scores=scores(summary[:400]) if summary else frozenset(),
        published=published,
        source=source,
        maybe=found.maybe - extra,
        groups=found.groups + tuple(frozenset({n}) for n in extra),
        speaker=found.speaker,
        text=text,
        quoted=found.quoted,
        kinds=kinds,
        kinds_from_summary=from_summary,
        who=who_,
        context=_summary_context(summary) | found.aside,
        episodes=_episodes(text),
    )


_NOT_ONLY = re.compile(r"\bnon solo\b(.*?)\banche\b")


def _set_aside(found: _Analysis, title: str) -> _Analysis:
    """ "Bari, non solo mister Vivarini. Anche il ds Magalini è stato esonerato": the news is
    the director's; the coach named after "non solo" is the story it follows, so he counts as
    context (like a name of the summary), not as who the title is about."""
    span = _NOT_ONLY.search(folded_text(title))
    if span is None:
        return found
    aside = frozenset(span[1].split()) & (found.names | found.maybe)
    return replace(
        found,
        names=found.names - aside,
        maybe=found.maybe - aside,
        groups=tuple(g for g in found.groups if not g <= aside),
        aside=aside,
    )


# Cities where two clubs play: "a Torino" is where (Juventus's home too), not the Torino club;
# elsewhere "a X" is at X's ground, so X is the opponent ("Lazio a Lecce").
SHARED_CITIES = _words("torino roma")


def _where(found: _Analysis, title: str) -> _Analysis:
    """ "Disfatta a Torino, la Juve vince 3-0": a city two clubs share, named only as where
    ("a Torino"), is not who the title is about; it counts as context, like a summary's name."""
    cities = SHARED_CITIES & (found.names | found.maybe)
    if not cities:
        return found
    words = folded_text(title).split()
    where = frozenset(
        c
        for c in cities
        if all(i > 0 and words[i - 1] == "a" for i, w in enumerate(words) if w == c) and c in words
    )
    if not where:
        return found
    return replace(
        found,
        names=found.names - where,
        maybe=found.maybe - where,
        groups=tuple(g for g in found.groups if not g <= where),
        aside=found.aside | where,
    )


def story_key(
    title: str,
    names: Iterable[str] = (),
    published: datetime | None = None,
    source: str = "",
    *,
    summary: str = "",
    who: Iterable[frozenset[str]] = (),
) -> StoryKey:
    """The comparison key of a headline; `names` are extra folded names, `who` matched terms.

    Folded names passed in `names` (an older caller's matched terms) are taken as one term each.
    """
    extra = frozenset(names)
    return analyse(title, summary, (), tuple(who) + tuple(frozenset({n}) for n in extra)).at(
        published, source
    )


def reads_alike(a: StoryKey, b: StoryKey) -> bool:
    """Two analyses that every rule judges alike (only their time or outlet differ)."""
    return (
        a.words == b.words
        and a.names == b.names
        and a.maybe == b.maybe
        and a.kinds == b.kinds
        and a.context == b.context
        and a.scores == b.scores
        and a.summary_scores == b.summary_scores
        and a.clubs == b.clubs
        and a.teams == b.teams
        and a.speaker == b.speaker
        and a.quoted == b.quoted
    )


def candidate_key(cand: StoryCandidate) -> StoryKey:
    """A candidate story's analysis: its cached key, or one computed from its first item."""
    if cand.key is not None:
        return cand.key  # cached as the story: the first item's time, no outlet
    names, who = split_stored_names(cand.names)
    found = _analyse(cand.title)
    own = names - found.names - found.maybe
    # Before matched terms were stored apart, they were stored as plain names: one term each.
    who = who + tuple(frozenset({n}) for n in own)
    return analyse(cand.title, cand.summary, (), who, cand.published)


def _within(a: datetime | None, b: datetime | None, window_hours: float) -> bool:
    if a is None or b is None:
        return True
    return abs(a - b) <= _hours(window_hours)


@lru_cache(maxsize=64)
def _hours(hours: float) -> timedelta:
    return timedelta(hours=hours)


def similarity(a: StoryKey, b: StoryKey) -> float:
    """Share of the shorter headline's content words found in the other (0..1)."""
    if not a.words or not b.words:
        return 0.0
    return common_words(a.words, b.words) / min(len(a.words), len(b.words))


def _who_tokens(key: StoryKey) -> frozenset[str]:
    return key.who_tokens


def shared_names(a: StoryKey, b: StoryKey) -> frozenset[str]:
    """Names both headlines mention (a sentence starter counts if the other calls it a name)."""
    return (a.names & b.names) | (a.names & b.maybe) | (a.maybe & b.names)


def _distinct(groups: Iterable[frozenset[str]], names: frozenset[str]) -> int:
    return sum(1 for g in groups if g & names)


def _strong_count(a: StoryKey, b: StoryKey, strong: frozenset[str]) -> int:
    """How many different specific names two headlines share (a full name counts once)."""
    if not a.groups or not b.groups:
        return len(strong)
    return min(_distinct(a.groups, strong), _distinct(b.groups, strong))


def _shared_who(a: StoryKey, b: StoryKey) -> int:
    """Specific people both items are about: a matched term both items have (in the title or
    among their matched terms), named in at least one title. Clubs do not count."""
    a_title, b_title = a.names | a.maybe, b.names | b.maybe
    a_all, b_all = a_title | _who_tokens(a), b_title | _who_tokens(b)
    people = {
        g
        for g in {*a.who, *b.who}
        if (g - WEAK_NAMES)
        and g & (a_title | b_title)
        and g & a_all
        and g & b_all
        and (g & a_title or _about_no_one_else(a, g))
        and (g & b_title or _about_no_one_else(b, g))
    }
    return len(people)


def _about_no_one_else(key: StoryKey, person: frozenset[str]) -> bool:
    """The title names nobody but `person`: then its summary may tell who it is about
    ("Assente anche Neres" under Anguissa's title is not Neres's news)."""
    return not (key.names - WEAK_NAMES - person)


@lru_cache(maxsize=16384)
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
    mentioned = b.names | b.maybe | b.words | b.context | _who_tokens(b)
    return not any(n in mentioned or _stem(n) in mentioned for n in a.speaker)


def kinds_differ(a: StoryKey, b: StoryKey) -> bool:
    """Both items tell a known kind of event and the kinds have nothing in common."""
    return bool(a.kinds) and bool(b.kinds) and not (a.kinds & b.kinds)


def same_story(
    a: StoryKey, b: StoryKey, *, window_hours: float = WINDOW_HOURS, same_outlet: bool = False
) -> bool:
    """Whether two items tell the same news (see the module docstring for the rules).

    `same_outlet` says `b` already has `a`'s outlet (as when `b` is a story it contributed to).
    """
    same_outlet = same_outlet or (bool(a.source) and a.source == b.source)
    if not _within(a.published, b.published, window_hours):
        return False
    if _nothing_in_common(a, b) and not _named_in_each_other(a, b):
        return False
    if same_outlet and is_repost(a.text, b.text):
        return True
    if same_outlet and not _within(a.published, b.published, SAME_OUTLET_HOURS):
        return False
    if not scores_agree(a.scores or a.summary_scores, b.scores or b.summary_scores):
        return False
    if _front_page_of_the_match(a, b) or _front_page_of_the_match(b, a):
        return True
    if kinds_differ(a, b) or _other_speaker(a, b) or _other_speaker(b, a):
        return False
    if _named_in_each_other(a, b) and "result" not in a.kinds ^ b.kinds:
        return True
    if same_outlet and a.words.isdisjoint(b.words) and not a.kinds & b.kinds:
        return False  # an outlet's next piece on the same people (the Totti saga, day by day)
    return _evidence_agrees(a, b)


SUMMARY_NAMES_HOURS = 12  # two items whose summaries name each other's people


def _named_in_each_other(a: StoryKey, b: StoryKey) -> bool:
    """Each title's names are named by the other item too (in its title or its summary), and
    the two titles name at least two different ones between them, one of them not a club
    ("Spalletti, riflessioni sulla rosa", whose summary tells Juventus's night in Istanbul,
    and "Devono rifare la Juve", whose summary quotes Spalletti): the summaries say that the
    two pieces are about the same people, which their titles tell only in part."""
    a_own, b_own = a.names - NOT_CLUBS, b.names - NOT_CLUBS
    if a_own == b_own or not a_own or not b_own:
        return False
    a_title, b_title = a.names | a.maybe, b.names | b.maybe
    if not a_own <= b_title | b.context or not b_own <= a_title | a.context:
        return False
    if a_own <= b_title and b_own <= a_title:
        return False  # the titles name the same people: the other rules judge them
    both = a_own | b_own
    return (
        len(both) >= 2
        and bool(both - WEAK_NAMES)
        and _within(a.published, b.published, SUMMARY_NAMES_HOURS)
    )


def _front_page_of_the_match(front: StoryKey, report: StoryKey) -> bool:
    """A title that names the two clubs of a match reported within the day and nothing else,
    and tells no event of its own ("Fuga Inter, furia Juve" the morning after Inter-Juve 3-2,
    whatever part of the match its summary tells), is about that match. Only after the
    report, or within the hour before it (the morning's front pages come out together): a
    title naming the two clubs before the match is not its result."""
    if len(front.clubs) < 2 or front.names - front.clubs - NOT_CLUBS:
        return False
    if not front.kinds <= MATCH_KINDS or (front.kinds and not front.kinds_from_summary):
        return False
    if not report.kinds & MATCH_REPORTS or not front.clubs <= _match_clubs(report):
        return False
    if front.teams != report.teams or not _within(
        front.published, report.published, RESULT_PAIR_HOURS
    ):
        return False
    if front.published is None or report.published is None:
        return True
    return front.published >= report.published - timedelta(hours=FRONT_PAGES_HOURS)


def _nothing_in_common(a: StoryKey, b: StoryKey) -> bool:
    """No content word, no specific name and at most one club in common: the quick answer
    for most candidates (every rule below needs more)."""
    return _apart(a, b, _match_clubs(b))


def _apart(a: StoryKey, b: StoryKey | StoryReach, b_match_clubs: frozenset[str]) -> bool:
    """`_nothing_in_common` of `a` and `b`, an item or what a story's items have together.

    Each test finds something in common in a set of `b`'s: when `b` is the union of several
    items' sets, nothing in common with it means nothing in common with any of them.
    """
    if not a.words.isdisjoint(b.words):
        return False
    shared = a.mentioned & b.mentioned
    if a.clubs & b.clubs and a.kinds & b.kinds & MATCH_REPORTS:
        return False  # one club's match told twice (see `_one_clubs_result_twice`)
    if len(_match_clubs(a) & b_match_clubs) >= 2 and (a.kinds | b.kinds) & MATCH_REPORTS:
        return False  # a front page on the two clubs' match (see `_front_page_of_the_match`)
    if a.episodes & b.episodes and a.clubs & b.clubs:
        return False  # one call of the referee in a club's match (see `_one_referees_call`)
    return len(shared) < 2 and not (shared - WEAK_NAMES)


@dataclass(frozen=True, slots=True)
class StoryReach:
    """What a story's compared items (its first and later ones) have together: an item
    `_apart` from it, and whose own names are not all among its names, tells the same news
    as none of them, so `find_story_for` skips the story without comparing each item."""

    words: frozenset[str]
    mentioned: frozenset[str]
    clubs: frozenset[str]
    kinds: frozenset[str]
    episodes: frozenset[str]
    match_clubs: frozenset[str]
    named: frozenset[str]  # names, sentence starters and summary names of any of them

    @classmethod
    def of(cls, keys: Sequence[StoryKey]) -> StoryReach:
        def union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
            return frozenset().union(*sets)

        return cls(
            words=union(k.words for k in keys),
            mentioned=union(k.mentioned for k in keys),
            clubs=union(k.clubs for k in keys),
            kinds=union(k.kinds for k in keys),
            episodes=union(k.episodes for k in keys),
            match_clubs=union(_match_clubs(k) for k in keys),
            named=union(k.names | k.maybe | k.context for k in keys),
        )


def _out_of_reach(a: StoryKey, reach: StoryReach) -> bool:
    """No item under `reach` can tell the same news as `a`: `same_story` of each would stop
    at its quick answer (nothing in common, and not named in each other: that needs every
    own name of `a`'s title among the other item's names)."""
    own = a.names - NOT_CLUBS
    if own and own <= reach.named:
        return False
    return _apart(a, reach, reach.match_clubs)


def _reach(cand: StoryCandidate, keys: Sequence[StoryKey]) -> StoryReach:
    """`cand`'s reach, worked out once per candidate (a new member or outlet makes a new
    candidate, whose reach is worked out again)."""
    if cand.reach is None:
        object.__setattr__(cand, "reach", StoryReach.of(keys))
    return cand.reach  # type: ignore[return-value]


def _evidence_agrees(a: StoryKey, b: StoryKey) -> bool:
    """Names, kinds and words of two items point at one piece of news."""
    shared = shared_names(a, b)
    strong = _strong_count(a, b, shared - WEAK_NAMES)
    common = common_words(a.words, b.words)
    kinds = a.kinds & b.kinds
    if strong >= 3 or (strong >= 2 and shared & WEAK_NAMES):
        return True  # three people, or two people and a club (Zirkzee, Gasperini, Roma)
    if strong >= 1 and common >= 1 and similarity(a, b) >= SAME_WORDS:
        return True
    if a.quoted & b.quoted and (common >= 1 or strong >= 2 or _same_days_words(a, b)):
        return True  # one person's outburst quoted twice: words are picked differently
    if len(shared) >= 2 and a.scores and b.scores and scores_agree(a.scores, b.scores):
        return True
    if _one_match_reported_twice(a, b, kinds) or _one_clubs_result_twice(a, b):
        return True
    if _one_referees_call(a, b):
        return True
    who = _shared_who(a, b)
    clubs = shared & WEAK_NAMES - NOT_CLUBS
    personal = kinds & PERSONAL_KINDS and "result" not in a.kinds | b.kinds
    if personal and (who or (strong and clubs)):
        return True  # one person's injury, training, contract, call-up or ban (at one club)
    if "result" in a.kinds ^ b.kinds:
        return False  # a match report naming a player is not his own news
    if who and kinds - {"interview", "refereeing"} and (common >= 1 or clubs):
        return True  # one person, one kind of event, and a club or a word in common
    return bool(shared) and not strong and _same_words_around_a_club(a, b, shared, common)


QUOTED_HOURS = 12  # one person's words quoted by two outlets: the same evening's


def _same_days_words(a: StoryKey, b: StoryKey) -> bool:
    """Two titles quoting the same person within hours (both times known): his words of one
    evening (Palladino after Atalanta-Juventus, as CdS and Tuttosport picked them)."""
    if a.published is None or b.published is None:
        return False
    return _within(a.published, b.published, QUOTED_HOURS)


def _one_match_reported_twice(a: StoryKey, b: StoryKey, kinds: frozenset[str]) -> bool:
    """Two results naming the same two teams (one a known club) within a day, no score
    contradicting the other: one match (not every outlet puts the score in the title)."""
    if not kinds & {"result", "preview"} or a.teams != b.teams or _round_up(a) or _round_up(b):
        return False
    if not _within(a.published, b.published, RESULT_PAIR_HOURS):
        return False
    sides = a.names & b.names - NOT_CLUBS  # the two teams, known clubs or not (Bodø)
    return len(sides) >= 2 and bool(sides & WEAK_NAMES)


MATCH_REPORTS = frozenset({"result", "ratings"})  # what one match's reports tell


def _match_clubs(key: StoryKey) -> frozenset[str]:
    """The clubs of the match an item reports: its title's, and its summary's when the result
    is read only there ("Juventus infuriata", whose summary says "l'Inter batte la Juventus
    3-2", reports Inter-Juventus)."""
    if key.kinds_from_summary and key.kinds & MATCH_REPORTS:
        return key.clubs | (key.context & CLUBS)
    return key.clubs


REFEREE_KINDS = frozenset({"refereeing", "disciplinary"})
MATCH_KINDS = MATCH_REPORTS | REFEREE_KINDS


# The referee's calls a title may be about, one at a time: the goal (allowed or not), a
# penalty, a sending-off. A review of them all ("Moviola Inter-Juve: episodi chiave, rosso a
# Kalulu e rigore su McKennie") is about none of them alone.
REFEREES_CALLS = {
    "goal": _words("gol goal rete"),
    "penalty": _words("rigore penalty"),
    "sending-off": _words("rosso espulsione espulso"),
}
CALLS_REVIEWED = _words("moviola episodi")
REFEREES_CALL_HOURS = 12  # the pieces on one call come out the night and morning after


def _episodes(text: str) -> frozenset[str]:
    """The referee's calls a folded title names, unless it reviews them all."""
    words = set(text.split())
    if words & CALLS_REVIEWED:
        return frozenset()
    return frozenset(call for call, names in REFEREES_CALLS.items() if words & names)


def _one_referees_call(a: StoryKey, b: StoryKey) -> bool:
    """Two pieces on one call of the referee in one club's match: both tell the referee's
    part and nothing else (no result, no interview), name one club in common and the same call
    (the goal, a penalty, a red card) within hours, and no one else apart: "Inter, dubbio sul
    gol, c'è la mano" (its summary tells the Var's check), "Gol Inter da annullare" and "Quanti
    dubbi sulla rete di Pio Esposito in Bodo-Inter: un errore assurdo dell'arbitro". A club
    plays once in a few days, so it is one match."""
    if a.kinds != REFEREEING or b.kinds != REFEREEING or a.teams != b.teams:
        return False
    if not a.episodes & b.episodes or not a.clubs & b.clubs:
        return False
    if not _within(a.published, b.published, REFEREES_CALL_HOURS):
        return False
    shared = shared_names(a, b)
    own_a = (a.names | a.maybe) - WEAK_NAMES - shared
    own_b = (b.names | b.maybe) - WEAK_NAMES - shared
    return not (own_a and own_b)


REFEREEING = frozenset({"refereeing"})


def _one_clubs_result_twice(a: StoryKey, b: StoryKey) -> bool:
    """Two results about one club within a day: a club plays once in a few days, so it is one
    match even when the two titles name no other team in common ("Roma, ecco l'allungo:
    Cremonese ko" and "Roma-Cremonese, i giallorossi vincono"). Only for items that tell the
    match and nothing else (no transfer, injury or interview beside it)."""
    if not a.kinds & b.kinds & MATCH_REPORTS:
        return False
    if not (a.kinds | b.kinds) <= MATCH_KINDS or a.teams != b.teams:
        return False
    shared = a.clubs & b.clubs
    if not shared or not _within(a.published, b.published, RESULT_PAIR_HOURS):
        return False
    if _round_up(a) or _round_up(b):
        return False
    if len(shared) < 2 and max(len(a.clubs), len(b.clubs)) > 2:
        return False  # "1-1 col Milan, agganciato il Napoli": a third club is the table's
    # a result read only in the summary counts when the title is about that club alone (not
    # a round-up of "Inter, Milan, tennis", not the next match of another team of the club)
    return not any(k.kinds_from_summary and k.names & CLUBS - shared for k in (a, b))


ROUND_UP_CLUBS = 4  # a result naming this many clubs tells the round, not one match


def _round_up(key: StoryKey) -> bool:
    """ "Serie A show: Pari Roma, il Milan rallenta. Festa Juve, Napoli a -9 dall'Inter": the
    day's results, none of its matches alone."""
    return len(key.clubs) >= ROUND_UP_CLUBS


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
    return 2.0 * len(shared - WEAK_NAMES) + len(shared) + similarity(a, b) + len(a.kinds & b.kinds)


def find_story_for(
    key: StoryKey,
    candidates: Sequence[StoryCandidate],
    *,
    window_hours: float = WINDOW_HOURS,
) -> str | None:
    """The id of the candidate story `key` belongs to, or None for a new story.

    A candidate counts as the item's own outlet when that outlet is among its sources: then
    only a re-post or the outlet's own follow-up on the same news joins it (see `same_story`).
    An item joins a story when it tells the same news as its first item or as one of its later
    items (`members`): the first item does not always tell the news the way the others do.
    """
    best: tuple[float, str] | None = None
    for cand in candidates:
        own = bool(key.source) and key.source in cand.sources
        others = (candidate_key(cand), *cand.members)
        if len(others) > 1 and _out_of_reach(key, _reach(cand, others)):
            continue
        for other in others:
            if not same_story(key, other, window_hours=window_hours, same_outlet=own):
                continue
            score = _score(key, other)
            if best is None or score > best[0]:
                best = (score, cand.story_id)
    return best[1] if best else None


def find_story(
    item_title: str,
    names: frozenset[str],
    published: datetime | None,
    candidates: Sequence[StoryCandidate],
    *,
    source: str = "",
    window_hours: float = WINDOW_HOURS,
    summary: str = "",
) -> str | None:
    """`find_story_for` a headline; `names` are folded extra names (matched terms)."""
    key = story_key(item_title, names, published, source, summary=summary)
    return find_story_for(key, candidates, window_hours=window_hours)
