"""Which sport a news item is about: a pure function over what the item carries.

General Italian sports feeds mix football with tennis, cycling, volley, motor racing, basket and
rugby, and those sports share words with football clubs: the tennis tournament in Rome is
"Internazionali di Roma", a Giro d'Italia time trial ends in Turin. A watchlist that declares
`sport: calcio` must not alert on them, so every item gets a sport, or none when the evidence
is too thin (an unknown sport never blocks a match). The evidence, strongest first:

1. the feed's own `sport:` (a Gazzetta "Tennis" feed is about tennis, whatever its words say);
2. the item's RSS categories ("Tennis", "Calcio/Serie A/Fiorentina");
3. a section in its link's path: `/news/tennis/`, `/altri-sport/ciclismo/`, `/pallavolo/`;
4. the words of its title and summary, weighed below.

Words: every phrase of `VOCABULARY` found in the title or summary (folded, whole words, in order)
adds its weight to its sport. `STRONG` phrases name the sport, a competition or an event
("tennis", "ATP", "Giro d'Italia", "MotoGP", "Eurolega", "Serie A1"); `WEAK` ones are athletes,
teams and terms of the game ("Sinner", "cronometro", "canestro") that other news may borrow
("Lautaro come Sinner"). A sport is recognised when its total reaches `MIN_SCORE` and beats
every other sport's; football has its own vocabulary, so a football headline that quotes a tennis
player stays football (or unknown), never tennis. Words that football headlines borrow as idioms
are left out: "volata" (volata scudetto), "pole" (Juve in pole per…), "mischia", "metà".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args
from urllib.parse import unquote, urlsplit

from bot.text import fold, tokenize, word_texts

Sport = Literal["calcio", "tennis", "basket", "volley", "ciclismo", "motori", "rugby", "altro"]
SPORTS: tuple[str, ...] = get_args(Sport)

STRONG = 2
WEAK = 1
MIN_SCORE = 2

# Section names as outlets write them in link paths and RSS categories (folded, '-' and '_'
# kept as written in a path segment). A segment that names no sport ("news", "serie-a",
# "altri-sport") is skipped; the first one that names a sport decides.
SECTIONS: dict[str, str] = {
    section: sport
    for sport, sections in {
        "calcio": "calcio calciomercato serie-a serie-b serie-c calcio-estero champions-league "
        "europa-league conference-league coppa-italia calcio-femminile mondiali-calcio "
        "fantacalcio football soccer",
        "tennis": "tennis atp wta coppa-davis internazionali-bnl",
        "basket": "basket pallacanestro nba eurolega lba",
        "volley": "volley pallavolo superlega volley-femminile",
        "ciclismo": "ciclismo giro-d-italia giro-ditalia tour-de-france",
        "motori": "motori formula-1 formula1 f1 motogp moto-gp motomondiale superbike sbk rally "
        "automobilismo motociclismo",
        "rugby": "rugby sei-nazioni six-nations",
        "altro": "olimpiadi-invernali olimpiadi sport-invernali sci curling atletica nuoto "
        "scherma golf boxe pugilato vela pallanuoto equitazione sci-alpino biathlon pattinaggio "
        "tuffi ippica paralimpiadi "
        # General news is no sport at all: for a list of a declared sport it is another one.
        "politica cronaca cronache economia mondo esteri cultura salute sanita "
        "canale-saluteebenessere topnews",
    }.items()
    for section in sections.split()
}

# Title and summary words, per sport: STRONG names the sport, a competition or an event; WEAK
# an athlete, a team or a term of the game. Written as a reader types them; folded when used.
VOCABULARY: dict[str, dict[int, tuple[str, ...]]] = {
    "calcio": {
        STRONG: (
            "calcio",
            "calciomercato",
            "Serie A",
            "Serie B",
            "Serie C",
            "Europa League",
            "Conference League",
            "Premier League",
            "Bundesliga",
            "Ligue 1",
            "La Liga",
            "Liga",
            "fuorigioco",
            "calciatore",
            "calciatori",
            "calciatrice",
            "centrocampista",
            "attaccante",
            "difensore centrale",
            "probabili formazioni",
            "fantacalcio",
            "Pallone d'Oro",
            "Mondiale per club",
            "autogol",
            "UEFA",
            "FIFA",
            "FIGC",
            "Juventus",
            "Inter",
            "Milan",
            "Atalanta",
            "Fiorentina",
            "Udinese",
            "Sampdoria",
            "Salernitana",
            "Cremonese",
            "Sassuolo",
            "Real Madrid",
            "Barcellona",
            "Bayern",
            "Psg",
            "Chelsea",
            "Arsenal",
            "Liverpool",
            "Manchester United",
            "Manchester City",
            "Tottenham",
        ),
        WEAK: (
            "gol",
            "golazo",
            "rigore",
            "rigori",
            "portiere",
            "difensore",
            "bomber",
            "VAR",
            "Champions League",
            "Champions",
            "Coppa Italia",
            "Supercoppa",
            "mister",
            "San Siro",
            "Allianz Stadium",
            "Maradona",
            "doppietta",
            "tripletta",
            "assist",
            "corner",
            "calcio d'angolo",
            "punizione",
            "traversa",
            "palo",
            "Juve",
            "Nazionale",
            "ct",
        ),
    },
    "tennis": {
        STRONG: (
            "tennis",
            "tennista",
            "tenniste",
            "ATP",
            "WTA",
            "Wimbledon",
            "Roland Garros",
            "US Open",
            "Australian Open",
            "Internazionali d'Italia",
            "Internazionali di Roma",
            "Internazionali BNL",
            "Foro Italico",
            "ATP Finals",
            "Coppa Davis",
            "Davis Cup",
            "Billie Jean King Cup",
            "Masters 1000",
            "Indian Wells",
            "Miami Open",
            "Slam",
            "Grande Slam",
            "terra rossa",
        ),
        WEAK: (
            "Sinner",
            "Alcaraz",
            "Djokovic",
            "Musetti",
            "Berrettini",
            "Paolini",
            "Medvedev",
            "Zverev",
            "Bublik",
            "Cobolli",
            "Darderi",
            "Sonego",
            "Arnaldi",
            "Errani",
            "Bronzetti",
            "Fritz",
            "Draper",
            "Ruud",
            "Sabalenka",
            "Swiatek",
            "Gauff",
            "Nadal",
            "Federer",
            "Tsitsipas",
            "de Minaur",
            "Shelton",
            "Rublev",
            "Fognini",
            "racchetta",
            "ace",
            "break",
            "tie-break",
            "set",
        ),
    },
    "basket": {
        STRONG: (
            "basket",
            "pallacanestro",
            "NBA",
            "Eurolega",
            "Euroleague",
            "Eurocup",
            "LBA",
            "Olimpia Milano",
            "Virtus Bologna",
            "Napoli Basket",
            "Reyer Venezia",
            "Dinamo Sassari",
        ),
        WEAK: (
            "canestro",
            "canestri",
            "cestista",
            "triple",
            "tripla",
            "rimbalzi",
            "Virtus",
            "Olimpia",
            "LeBron",
            "Curry",
            "Banchero",
            "Fontecchio",
            "Doncic",
            "Messina",
            "Pozzecco",
            "parquet",
        ),
    },
    "volley": {
        STRONG: (
            "volley",
            "pallavolo",
            "pallavolista",
            "Superlega",
            "Serie A1",
            "Serie A2",
            "A1 femminile",
            "A2 maschile",
            "A2 femminile",
            "A1 maschile",
            "Trentino Volley",
            "Modena Volley",
            "Imoco",
            "Conegliano",
            "Lube",
            "Vero Volley",
        ),
        WEAK: (
            "Egonu",
            "Velasco",
            "De Giorgi",
            "schiacciatore",
            "schiacciatrice",
            "palleggiatore",
            "palleggiatrice",
            "opposto",
            "Scandicci",
            "Civitanova",
            "Busto Arsizio",
            "Vallefoglia",
            "tie break",
            "tie-break",
            "set",
            "Challenge Cup",
            "CEV",
        ),
    },
    "ciclismo": {
        STRONG: (
            "ciclismo",
            "ciclista",
            "ciclisti",
            "Giro d'Italia",
            "Tour de France",
            "Vuelta",
            "maglia rosa",
            "maglia gialla",
            "Milano-Sanremo",
            "Milano-Torino",
            "Il Lombardia",
            "Giro di Lombardia",
            "Strade Bianche",
            "Tirreno-Adriatico",
            "Parigi-Roubaix",
            "cronometro",
            "cronosquadre",
            "UCI",
        ),
        WEAK: (
            "tappa",
            "tappe",
            "velocista",
            "scalatore",
            "gruppetto",
            "peloton",
            "Pogacar",
            "Vingegaard",
            "Ganna",
            "Ciccone",
            "Evenepoel",
            "van der Poel",
            "van Aert",
            "Roglic",
            "Pellizzari",
            "Milan Jonathan",
            "Jonathan Milan",
        ),
    },
    "motori": {
        STRONG: (
            "Formula 1",
            "Formula Uno",
            "F1",
            "MotoGP",
            "Moto GP",
            "Superbike",
            "SBK",
            "Moto2",
            "Moto3",
            "motomondiale",
            "Gran Premio",
            "GP",
            "pole position",
            "pit stop",
            "Rally",
            "Nascar",
            "IndyCar",
            "Le Mans",
            "autodromo",
            "GP di Monza",
            "Gran Premio di Monza",
            "Gran Premio d'Italia",
        ),
        WEAK: (
            "Ferrari",
            "Leclerc",
            "Hamilton",
            "Verstappen",
            "Norris",
            "Piastri",
            "Antonelli",
            "Kimi Antonelli",
            "McLaren",
            "Red Bull",
            "Mercedes",
            "Bagnaia",
            "Pecco",
            "Marquez",
            "Bezzecchi",
            "Ducati",
            "Aprilia",
            "Valentino Rossi",
            "qualifiche",
            "paddock",
            "circuito",
            "pilota",
            "piloti",
            "Mugello",
        ),
    },
    "rugby": {
        STRONG: (
            "rugby",
            "Sei Nazioni",
            "Six Nations",
            "All Blacks",
            "URC",
            "Benetton Rugby",
            "Zebre",
            "Top10",
        ),
        WEAK: ("mete", "Quesada", "Garbisi", "Capuozzo", "Brex", "Lamaro"),
    },
    "altro": {
        STRONG: (
            "Olimpiadi invernali",
            "Milano-Cortina",
            "Milano Cortina",
            "curling",
            "sci alpino",
            "slalom",
            "discesa libera",
            "biathlon",
            "pattinaggio",
            "atletica",
            "nuoto",
            "scherma",
            "golf",
            "boxe",
            "pugilato",
            "pallanuoto",
            "America's Cup",
            "Paralimpiadi",
            "salto triplo",
            "salto in alto",
            "tuffi",
            "judo",
            "ippica",
            "Coppa del Mondo di sci",
        ),
        WEAK: (
            "Olimpiadi",
            "Tamberi",
            "Jacobs",
            "Brignone",
            "Goggia",
            "Paltrinieri",
            "Ceccon",
            "Furlani",
            "Pellacani",
            "sci",
            "sciatore",
            "sciatrice",
        ),
    },
}


@dataclass(frozen=True, slots=True)
class SportVerdict:
    """The recognised sport (None: unknown) and the evidence that decided it, for admins."""

    sport: str | None
    reason: str = ""


Phrase = tuple[str, ...]


@lru_cache(maxsize=1)
def _phrase_index() -> dict[str, list[tuple[Phrase, str, int]]]:
    """First folded word -> (phrase words, sport, weight) for every vocabulary phrase."""
    index: dict[str, list[tuple[Phrase, str, int]]] = defaultdict(list)
    for sport, by_weight in VOCABULARY.items():
        for weight, phrases in by_weight.items():
            for phrase in phrases:
                words = tuple(t.text for t in tokenize(phrase))
                if words:
                    index[words[0]].append((words, sport, weight))
    return dict(index)


def _section_sport(segment: str) -> str | None:
    key = fold(unquote(segment)).strip().replace(" ", "-").replace("_", "-")
    return SECTIONS.get(key)


def sport_of_link(link: str) -> str | None:
    """The sport a link's path names (`/news/tennis/2026/...` -> tennis), if any."""
    try:
        path = urlsplit(link).path
    except ValueError:
        return None
    for segment in path.split("/")[1:]:
        sport = _section_sport(segment)
        if sport:
            return sport
    return None


def sport_of_categories(categories: Iterable[str]) -> str | None:
    """The sport RSS categories name ("Tennis", "Calcio/Serie A/Fiorentina"), if any."""
    for category in categories:
        for part in category.split("/"):
            sport = _section_sport(part)
            if sport:
                return sport
    return None


def word_scores(*texts: str) -> dict[str, int]:
    """Each sport's weight of evidence in `texts` (see `VOCABULARY`); a phrase counts once."""
    index = _phrase_index()
    seen: set[tuple[Phrase, str]] = set()
    scores: dict[str, int] = defaultdict(int)
    for text in texts:
        words = word_texts(text)
        for i, word in enumerate(words):
            for phrase, sport, weight in index.get(word, ()):
                if tuple(words[i : i + len(phrase)]) == phrase and (phrase, sport) not in seen:
                    seen.add((phrase, sport))
                    scores[sport] += weight
    return dict(scores)


@lru_cache(maxsize=4096)
def sport_of_words(title: str, summary: str = "") -> SportVerdict:
    """The sport the words point to: enough evidence, and more than any other sport's.

    Kept per text: the lists' matcher and the subscribers' each judge the same item."""
    scores = word_scores(title, summary)
    if not scores:
        return SportVerdict(None)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if score < MIN_SCORE or score <= runner_up:
        return SportVerdict(None)
    return SportVerdict(best, "words")


def recognise_sport(
    title: str,
    summary: str = "",
    *,
    link: str = "",
    categories: Sequence[str] = (),
    feed_sport: str | None = None,
) -> SportVerdict:
    """The item's sport from its feed, categories, link section and words, in that order."""
    if feed_sport:
        return SportVerdict(feed_sport, "feed")
    sport = sport_of_categories(categories)
    if sport:
        return SportVerdict(sport, "category")
    sport = sport_of_link(link) if link else None
    if sport:
        return SportVerdict(sport, "link")
    return sport_of_words(title, summary)
