"""Matching in context: the club, not the city; football, not tennis; the headline, not the
outlet's name. Headlines here are real unless marked "(written)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match import Matcher
from bot.models import ItemContext, Term, Watchlist
from bot.outlets import strip_outlet
from bot.place import PLACE, PLACES, role
from bot.sport import SPORTS, recognise_sport, sport_of_link
from bot.watchlists import load_watchlists

ROOT = Path(__file__).resolve().parents[1]


def calcio(name: str, *terms: str | Term) -> Watchlist:
    return Watchlist(
        name=name,
        terms=tuple(t if isinstance(t, Term) else Term(t) for t in terms),
        sport="calcio",
    )


@pytest.fixture(scope="module")
def clubs() -> Matcher:
    return Matcher(
        [
            calcio("roma", "Roma", Term("Paulo Dybala", aliases=("Dybala",))),
            calcio("torino", "Torino"),
            calcio("monza", "Monza"),
            calcio("napoli", "Napoli", Term("Antonio Conte", aliases=("Conte",))),
            calcio("lazio", "Lazio"),
            calcio("como", "Como"),
            calcio("juventus", "Juventus", Term("Juve")),
        ]
    )


def lists_of(matcher: Matcher, title: str, link: str = "") -> set[str]:
    return {m.watchlist for m in matcher.match(title, "", ItemContext(link=link))}


# --- sport -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "link", "sport"),
    [
        # real, Corriere dello Sport 2026-03-06: the section in the link decides
        (
            'Bublik esalta Sinner: "In campo è glaciale, ma fuori…"',
            "https://www.corrieredellosport.it/news/tennis/2026/03/05-147067345/bublik/",
            "tennis",
        ),
        # real, Tuttosport 2026-03-03
        (
            "Milano-Torino 2026: tutte le tappe dell'edizione dei 150 anni",
            "https://www.tuttosport.com/news/altri-sport/ciclismo/2026/03/03-147004736/x/",
            "ciclismo",
        ),
        # real, Tuttosport 2026-02-05: volley in Champions League
        (
            "Champions League: Netto successo per Novara contro il Benfica",
            "https://www.tuttosport.com/news/pallavolo/coppe/2026/02/04-146343748/x/",
            "volley",
        ),
        # words only (written): the tournament, the event, the terms of the game
        ("Internazionali d'Italia, Sinner batte Ruud a Roma", "", "tennis"),
        ("Giro d'Italia, la cronometro di Torino a Ganna", "", "ciclismo"),
        ("MotoGP, Bagnaia in pole al Mugello", "", "motori"),
        ("Eurolega, l'Olimpia Milano travolge il Real", "", "basket"),
        ("Serie A1 volley, Scandicci espugna Bergamo", "", "volley"),
        ("Roma, Gasperini: il rigore e il gol di Dybala", "", "calcio"),
        # one tennis name in a football headline is not enough (written)
        ("Lautaro come Sinner: l'Inter vola", "", "calcio"),
        ("Lautaro come Sinner", "", None),
    ],
)
def test_the_sport_is_recognised(title: str, link: str, sport: str | None) -> None:
    assert recognise_sport(title, link=link).sport == sport


def test_feed_and_categories_come_before_words() -> None:
    title = "Sinner e Alcaraz a Wimbledon"  # (written) tennis by its words
    assert recognise_sport(title, feed_sport="calcio").sport == "calcio"
    assert recognise_sport(title, categories=["Calcio/Serie A/Fiorentina"]).sport == "calcio"
    assert recognise_sport("Nessun indizio", categories=["Tennis"]).sport == "tennis"
    assert sport_of_link("https://www.gazzetta.it/Tennis/12-05-2025/sinner.shtml") == "tennis"
    assert sport_of_link("https://www.corrieredellosport.it/news/scommesse/2026/x/") is None


def test_another_sport_does_not_alert_a_football_list(clubs: Matcher) -> None:
    # The tennis in Rome alerted Roma fans six times in one week (written in their style).
    tennis = "Internazionali di Roma, Sinner in finale: battuto Ruud"
    found, rejected = clubs.explain(tennis)
    assert found == []
    assert [(r.match.term, r.reason) for r in rejected] == [("Roma", "another sport: tennis")]
    # A Giro time trial in Turin alerted Torino fans (written).
    assert lists_of(clubs, "Giro d'Italia, la cronometro di Torino a Ganna") == set()


def test_an_unknown_sport_still_matches(clubs: Matcher) -> None:
    assert lists_of(clubs, "Torino, Belghali va veloce e Abate è già convinto") == {"torino"}


def test_a_list_without_sport_takes_every_sport() -> None:
    anything = Matcher([Watchlist(name="tennis-fan", terms=(Term("Sinner"),))])
    assert [m.term for m in anything.match("Bublik esalta Sinner, ATP di Miami")] == ["Sinner"]


# --- place or club ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "term", "club"),
    [
        ("Torino, Belghali va veloce e Abate è già convinto", "Torino", True),  # real, Tuttosport
        ("Il calendario di Roma, Como, Juve e Atalanta: chi è messo meglio", "Roma", True),  # real
        ("Lazio, Roma, Fiorentina e Genoa: le ultimissime", "Roma", True),  # real, CdS
        ("Fenerbahçe-Roma, le pagelle: Greenwood 7", "Roma", True),  # real, Gazzetta
        ("Il Torino va a Como con 12 giocatori in meno", "Como", True),  # away match
        ("al Torino piace Belghali", "Torino", True),
        ("La Lazio vince il derby", "Lazio", True),
        ("Il derby di Roma finisce pari", "Roma", True),
        ("Clamoroso a Verona, presidente-allenatore si autoesonera", "Verona", False),  # real
        ("Margaglio: A Torino 2006 il senso della vita", "Torino", False),  # real, Tuttosport
        ("La Juve vince a Torino, Vlahovic decide", "Torino", False),  # home win, in Turin
        ("Kalulu arriva a Torino: visite mediche con la Juve", "Torino", False),
        ("Coppa Italia, Cremonese-Pisa allo stadio di Monza", "Monza", False),
        ("Maltempo nel Lazio, rinviata la partita", "Lazio", False),  # the region
    ],
)
def test_grammar_tells_club_from_place(title: str, term: str, club: bool) -> None:
    start = title.index(term)
    verdict, _ = role(title, start, start + len(term), PLACES[term.lower()])
    assert (verdict != PLACE) == club


def test_a_place_does_not_alert_the_club_named_after_it(clubs: Matcher) -> None:
    found, rejected = clubs.explain("La Juve vince a Torino, Vlahovic decide")
    assert {m.watchlist for m in found} == {"juventus"}
    assert [(r.match.term, r.reason) for r in rejected] == [("Torino", "place ('a Torino')")]


def test_another_mention_of_the_club_still_counts(clubs: Matcher) -> None:
    assert lists_of(clubs, "Il Torino torna a Torino dopo la trasferta (written)") == {"torino"}


def test_an_entry_opts_out_of_the_place_rule() -> None:
    never = Matcher([calcio("torino", Term("Torino", place=False))])
    assert [m.term for m in never.match("Kalulu arriva a Torino")] == ["Torino"]
    always = Matcher([calcio("x", Term("Sinigaglia", place=True))])
    assert always.match("Festa a Sinigaglia") == []


# --- outlet names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("Osimhen, la verità sul rinnovo - Tutto Napoli", "Osimhen, la verità sul rinnovo"),
        ("Leao: ci siamo - Milan News", "Leao: ci siamo"),
        ("La Juventus blinda Thuram | CM", "La Juventus blinda Thuram"),
        ("Inter - Napoli 2-1", "Inter - Napoli 2-1"),  # a fixture, not an outlet
        ("Inter - Napoli", "Inter - Napoli"),
    ],
)
def test_outlet_names_are_cut_from_titles(title: str, clean: str) -> None:
    assert strip_outlet(title) == clean


def test_the_feeds_own_channel_title_is_an_outlet() -> None:
    assert strip_outlet("Vlahovic, ultime - Giallorossi Oggi", ["Giallorossi Oggi"]) == (
        "Vlahovic, ultime"
    )
    assert (
        strip_outlet("Vlahovic, ultime - Giallorossi Oggi") == "Vlahovic, ultime - Giallorossi Oggi"
    )


def test_an_outlet_name_does_not_match(clubs: Matcher) -> None:
    found, rejected = clubs.explain("Conte: «Siamo pronti» - Tutto Napoli")
    assert [m.term for m in found] == ["Antonio Conte"]
    assert [(r.match.term, r.reason) for r in rejected] == [("Napoli", "outlet name")]


# --- the shipped lists and the files ---------------------------------------------------------


def test_every_shipped_watchlist_declares_its_sport() -> None:
    lists, problems = load_watchlists(ROOT / "watchlists")
    assert not problems
    assert all(wl.sport in SPORTS for wl in lists), [wl.name for wl in lists if not wl.sport]


def test_a_bad_sport_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("name: x\nsport: football\nterms: [Roma]\n")
    (tmp_path / "y.yaml").write_text("terms:\n  - term: Roma\n    place: maybe\n")
    _, problems = load_watchlists(tmp_path)
    assert [(Path(p.path).name, p.line) for p in problems] == [("x.yaml", 2), ("y.yaml", 3)]
    assert "calcio" in problems[0].message and "tennis" in problems[0].message


def test_a_feed_declares_its_sport_and_check_names_a_bad_one(tmp_path: Path) -> None:
    from bot.feeds import check_feeds, load_feeds

    good = tmp_path / "good.yaml"
    good.write_text(
        "feeds:\n  - name: G\n    url: https://g.example/tennis.xml\n    sport: tennis\n"
    )
    assert [f.sport for f in load_feeds(good)] == ["tennis"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - name: G\n    url: https://g.example/rss\n    sport: padel\n")
    (problem,) = check_feeds(bad)
    assert problem.line == 4 and "'calcio', 'tennis'" in problem.message


def test_a_parsed_item_loses_its_outlet_name_and_keeps_its_categories() -> None:
    from datetime import UTC, datetime

    from bot.models import Feed
    from bot.parse import parse_bytes

    doc = (
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        b"<title>Giallorossi Oggi</title><link>https://g.example/</link>"
        b"<item><title>Dybala torna in gruppo - Giallorossi Oggi</title>"
        b"<link>https://g.example/dybala</link><category>Calcio/Serie A/Roma</category>"
        b"<description>Dybala torna in gruppo - Giallorossi Oggi</description></item>"
        b"</channel></rss>"
    )
    feed = Feed(name="GO", url="https://g.example/rss")
    (item,) = parse_bytes(doc, feed, fetched_at=datetime(2026, 3, 1, tzinfo=UTC)).items
    assert item.title == "Dybala torna in gruppo"
    assert item.summary == ""  # it only repeated the title
    assert item.categories == ("Calcio/Serie A/Roma",)


@pytest.mark.parametrize(
    "title",
    [
        "Volata Champions, la tappa decisiva per la Roma: a metà stagione è nella mischia",
        "Juve in pole per Martin, la Ferrari dei terzini",
    ],
)
def test_football_idioms_borrowed_from_other_sports_stay_football(title: str) -> None:
    """(written) Football headlines speak of a "volata", a "pole", a "mischia"."""
    assert recognise_sport(title).sport in (None, "calcio")


def test_shipped_football_feeds_declare_calcio_and_general_ones_none() -> None:
    from bot.feeds import load_feeds

    sports = {f.name: f.sport for f in load_feeds(ROOT / "bot" / "feeds.yaml")}
    assert sports["Sky Sport - Calcio"] == "calcio" and sports["Tuttosport"] == "calcio"
    assert sports["ANSA Sport"] is None and sports["Corriere dello Sport"] is None
