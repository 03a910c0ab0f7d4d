"""Club or place: whether a club named like its city or region means the club in a sentence.

Roma, Torino, Napoli, Genoa, Bologna, Monza, Como, Lazio, Verona, Parma, Lecce, Venezia… are
clubs and places. Italian grammar tells them apart, and headlines follow it closely:

- a club takes the article, a city does not: "il Torino", "al Torino", "del Napoli",
  "la Roma", "dalla Lazio" are clubs; a region takes its own article ("nel Lazio", "in
  Lombardia"), so for Lazio the masculine article is the region and the feminine the club;
- a bare preposition before the name makes it a place: "a Torino", "in Lombardia", "da Roma",
  "allo stadio di Monza", "giocherà a Bergamo", "verso Torino" (not "per" and "tra", which
  headlines use for clubs too: "notte storica per Como", "tra Roma e Lazio");
- a fixture joins two clubs with a dash: "Inter-Torino", "Torino-Lazio" are clubs;
- with no cue the name is the club: a headline that opens "Roma, …" or "Torino: …", "Juventus
  e Torino", "Lazio, Roma, Fiorentina e Genoa: le ultimissime".

Real headlines behind the rule (tests/corpus/context.tsv has them with their sources):
"Clamoroso a Verona, presidente-allenatore si autoesonera" (Serie C, not Hellas Verona: place),
"Margaglio: … A Torino 2006 il senso della vita" (the Olympics: place), "Il calendario di
Roma, Como, Juve e Atalanta" (a preposition before a list that names a club no place names,
Juve, governs a list of clubs: Roma is the club).

`role()` is pure: it looks at the words just before the mention and at the dash after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.text import Token, fold, tokenize

MASCULINE, FEMININE = "m", "f"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True, slots=True)
class PlaceName:
    """A place that names a club: the article the club takes, and the place's own article
    (None for a city, which takes none; "m" for il Lazio, "f" for la Lombardia)."""

    club: str
    place: str | None = None


def _cities(club_gender: str, names: str) -> dict[str, PlaceName]:
    return {fold(n): PlaceName(club_gender) for n in names.split()}


# Italian places (and the English names outlets write in English) that name a football club.
# A term made of one of these words is checked with `role()` unless its entry says
# `place: false`.
PLACES: dict[str, PlaceName] = {
    **_cities(
        MASCULINE,
        "Torino Napoli Genoa Bologna Monza Como Verona Parma Lecce Venezia Cagliari Empoli "
        "Pisa Sassuolo Frosinone Bari Palermo Catania Brescia Modena Cesena Padova Vicenza "
        "Pescara Avellino Catanzaro Cosenza Crotone Benevento Perugia Ascoli Mantova Carrara "
        "Spezia",
    ),
    **_cities(FEMININE, "Roma"),
    "lazio": PlaceName(FEMININE, MASCULINE),
    "lombardia": PlaceName(FEMININE, FEMININE),
    "sardegna": PlaceName(FEMININE, FEMININE),
    "sicilia": PlaceName(FEMININE, FEMININE),
    "toscana": PlaceName(FEMININE, FEMININE),
    "campania": PlaceName(FEMININE, FEMININE),
    "piemonte": PlaceName(MASCULINE, MASCULINE),
    "veneto": PlaceName(MASCULINE, MASCULINE),
    "trentino": PlaceName(MASCULINE, MASCULINE),
}

# Articles and articulated prepositions, by gender ("l'" elides both).
ARTICLES: dict[str, frozenset[str]] = {
    MASCULINE: _words("il lo al allo del dello dal dallo nel nello col sul sullo pel"),
    FEMININE: _words("la alla della dalla nella colla sulla"),
}
ELIDED = frozenset({"l", "all", "dell", "dall", "nell", "sull"})
# Bare prepositions (and English "in") that make the next name a place.
PLACE_PREPOSITIONS = _words("a ad in da di verso")
# Words that may stand between the article and the club: "il mio Napoli", "la nuova Roma".
BETWEEN = _words(
    "mio mia tuo tua suo sua nostro nostra vostro vostra loro nuovo nuova vero vera "
    "grande gran solito solita primo prima questo questa quel quella stesso stessa"
)
# Clubs that are no place: a list that holds one is a list of clubs ("di Roma, Como e Juve").
CLUB_WORDS = _words(
    "juventus juve inter milan atalanta fiorentina udinese sampdoria samp salernitana "
    "cremonese sudtirol entella reggiana feralpisalo arsenal chelsea liverpool tottenham "
    "barcellona bayern psg"
)
# "La Lazio vince a Como", "Il Torino va a Como": a club that goes, wins or loses "a X" plays
# X's club away, so X is the club; not when X is its own city ("la Juve vince a Torino").
MATCH_VERBS = _words(
    "va vanno vince vincono perde perdono pareggia pareggiano cade cadono crolla crollano "
    "passa frena frenano stecca affonda naufraga inciampa sbanca impatta"
)
HOME_CLUBS: dict[str, frozenset[str]] = {
    "torino": _words("juventus juve"),
    "roma": _words("lazio"),
    "genoa": _words("sampdoria samp"),
    "verona": _words("chievo"),
}
LIST_JOINERS = frozenset({",", "e", "ed", "o"})
# "derby di Roma", "derby di Torino": the city's derby is its clubs' match.
CLUB_BEFORE_DI = frozenset({"derby", "stracittadina"})

CLUB, PLACE = "club", "place"


def place_name(word: str) -> PlaceName | None:
    """The gazetteer entry of a folded single word, if it is a place that names a club."""
    return PLACES.get(word)


def _in_fixture(text: str, tokens: Sequence[Token], i: int) -> bool:
    """The name is joined by a dash to a capitalised neighbour: "Inter-Torino", "Roma-Lazio"."""
    before = i > 0 and fold(text[tokens[i - 1].end : tokens[i].start]).strip() == "-"
    after = i + 1 < len(tokens) and fold(text[tokens[i].end : tokens[i + 1].start]).strip() == "-"
    return (before and tokens[i - 1].capitalised) or (after and tokens[i + 1].capitalised)


def _same_phrase(text: str, left: Token, right: Token) -> bool:
    """No punctuation but spaces and apostrophes between two words (they are read together)."""
    gap = fold(text[left.end : right.start])
    return all(c in " '" for c in gap)


def role(text: str, start: int, end: int, entry: PlaceName) -> tuple[str, str]:
    """(`CLUB` or `PLACE`, the cue) for the mention at [start, end) of `text`."""
    tokens = tokenize(text)
    i = next((k for k, t in enumerate(tokens) if t.start == start), None)
    if i is None:
        return CLUB, ""
    if _in_fixture(text, tokens, i):
        return CLUB, "fixture"
    j = i - 1
    if j >= 0 and tokens[j].text in BETWEEN and _same_phrase(text, tokens[j], tokens[i]):
        j -= 1
    if j < 0 or not _same_phrase(text, tokens[j], tokens[j + 1]):
        return CLUB, "no article"
    word = tokens[j].text
    if word in ARTICLES[entry.club] or (word in ELIDED and entry.place is None):
        return CLUB, f"article '{tokens[j].raw}'"
    if entry.place and word in ARTICLES[entry.place]:
        return PLACE, f"'{tokens[j].raw} {tokens[i].raw}'"
    if word in PLACE_PREPOSITIONS:
        if word == "di" and j > 0 and tokens[j - 1].text in CLUB_BEFORE_DI:
            return CLUB, f"'{tokens[j - 1].raw} di'"
        if _heads_list_of_clubs(text, tokens, i):
            return CLUB, "list of clubs"
        if word in ("a", "ad") and _away_match(tokens, j, tokens[i].text):
            return CLUB, "away match"
        return PLACE, f"'{tokens[j].raw} {tokens[i].raw}'"
    return CLUB, ""


def _away_match(tokens: Sequence[Token], j: int, place: str) -> bool:
    """ "<club> <verb> a X": a club from another city plays at X (see `MATCH_VERBS`)."""
    if j < 2 or tokens[j - 1].text not in MATCH_VERBS:
        return False
    home = HOME_CLUBS.get(place, frozenset())
    for k in range(j - 1):
        word = tokens[k].text
        if word in home:
            return False
        club_with_article = (
            word in PLACES and k > 0 and tokens[k - 1].text in ARTICLES[PLACES[word].club]
        )
        if (word in CLUB_WORDS or club_with_article) and word != place:
            return True
    return False


def _heads_list_of_clubs(text: str, tokens: Sequence[Token], i: int) -> bool:
    """The name opens a list ("Roma, Como, Juve e Atalanta") that names a club no place
    names: the preposition governs the whole list, so the list is of clubs."""
    k = i
    while k + 1 < len(tokens) and k - i < 8:
        gap = fold(text[tokens[k].end : tokens[k + 1].start]).strip()
        nxt = tokens[k + 1]
        if gap == "," and nxt.capitalised:
            k += 1
        elif not gap and nxt.text in LIST_JOINERS and k + 2 < len(tokens):
            k += 2
            if not tokens[k].capitalised:
                return False
        else:
            return False
        if tokens[k].text in CLUB_WORDS:
            return True
    return False
