"""Story clustering: measured on labelled pairs of real Italian headlines, plus the rules.

`tests/corpus/story_pairs.tsv` holds pairs labelled "same" (one piece of news told by two
outlets) or "diff" (different news, often about the same people or clubs). A side is either
`file#index` into the real feed snapshots (../shared/feeds/real: the index-th <item> of a feed,
or the index-th row of a headlines .tsv) or a headline written here. Only pairs from different
outlets are labelled (same-outlet follow-ups are judged in tests/test_story_stream.py).
"""

from __future__ import annotations

import csv
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path

import pytest

from bot.stories import (
    StoryCandidate,
    StoryKey,
    event_kinds,
    find_story,
    same_story,
    scores,
    story_key,
    title_names,
)

CORPUS = Path(__file__).parent / "corpus" / "story_pairs.tsv"
REF = re.compile(r"^(?P<file>[\w.-]+\.(?:xml|tsv))#(?P<index>\d+)$")
T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Headline:
    title: str
    published: datetime | None
    source: str


def _clean(title: str) -> str:
    """The snapshots wrap some titles in escaped <p> tags: unescape, strip tags, trim."""
    return re.sub(r"<[^>]+>", "", html.unescape(title)).strip()


@cache
def _feed(path: Path) -> list[Headline]:
    if path.suffix == ".tsv":
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return [Headline(r["headline"], None, r["outlet"]) for r in rows]
    outlet = path.stem.split("-")[1]
    return [
        Headline(
            _clean(item.findtext("title") or ""),
            parsedate_to_datetime(item.findtext("pubDate") or ""),
            outlet,
        )
        for item in ET.parse(path).getroot().iter("item")
    ]


def _side(text: str, real: Path, written_source: str) -> Headline:
    ref = REF.match(text)
    if ref is None:
        return Headline(text, None, written_source)
    return _feed(real / ref["file"])[int(ref["index"])]


def _pairs(real: Path) -> list[tuple[bool, Headline, Headline, str]]:
    pairs = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, a, b, note = line.split("\t")
        assert label in ("same", "diff"), line
        pairs.append((label == "same", _side(a, real, "A"), _side(b, real, "B"), note))
    return pairs


def _decide(a: Headline, b: Headline) -> bool:
    return same_story(
        story_key(a.title, published=a.published, source=a.source),
        story_key(b.title, published=b.published, source=b.source),
    )


def test_labelled_pairs_precision_and_recall(real_feeds: Path) -> None:
    pairs = _pairs(real_feeds)
    assert len(pairs) >= 150
    assert all(a.source != b.source for _, a, b, _ in pairs), "only cross-outlet pairs"
    tp = fp = fn = 0
    mistakes = []
    for truth, a, b, note in pairs:
        said = _decide(a, b)
        tp += truth and said
        fp += said and not truth
        fn += truth and not said
        if said != truth:
            mistakes.append(
                f"{'FP' if said else 'FN'}: {a.title[:60]!r} ~ {b.title[:60]!r} ({note})"
            )
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    positives = sum(1 for p in pairs if p[0])
    print(
        f"\nstory pairs: {len(pairs)} ({positives} same, {len(pairs) - positives} diff); "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    print("\n".join(mistakes))
    assert precision >= 0.95, mistakes
    assert recall >= 0.85, mistakes  # 0.899 on 244 pairs with event kinds and Snowball stems


def test_real_cross_outlet_stories_merge_and_their_neighbours_do_not(real_feeds: Path) -> None:
    """The Dybala story of 2026-03-06 as three outlets told it, among that morning's news."""
    tmw = _feed(real_feeds / "prospect-tuttomercatoweb-2026-03-06.xml")
    cds = _feed(real_feeds / "prospect-corrieredellosport-2026-03-06.xml")
    cands = [
        StoryCandidate(f"tmw{i}", h.title, title_names(h.title), h.published, frozenset({"TMW"}))
        for i, h in enumerate(tmw)
    ]
    dybala = cds[8]
    assert find_story(dybala.title, frozenset(), dybala.published, cands, source="CdS") in {
        "tmw4",
        "tmw7",
    }
    tottenham = cds[1]
    assert find_story(tottenham.title, frozenset(), tottenham.published, cands) is None


def test_transfer_rumour_merges_but_a_match_report_on_the_same_clubs_stays_apart() -> None:
    rumour = story_key("Milan e Juventus su Alaba, derby di mercato per il difensore", source="A")
    other_take = story_key("Alaba, derby tra Juve e Milan per il difensore del Real", source="B")
    report = story_key("Milan-Juventus 1-1: Pulisic risponde a Vlahovic", source="C")
    assert same_story(rumour, other_take)
    assert not same_story(rumour, report)
    assert not same_story(other_take, report)


def test_matched_terms_count_as_names() -> None:
    """A watchlist term found in the text names the story even when written in lower case."""
    a = story_key("la joya si ferma ancora: ginocchio ko", {"dybala"}, source="A")
    b = story_key("Dybala, il ginocchio preoccupa la Roma", source="B")
    assert same_story(a, b)
    assert not same_story(story_key("la joya si ferma ancora: ginocchio ko", source="A"), b)


def test_different_scores_are_different_matches() -> None:
    assert scores("Atalanta-Napoli 2-1, pagelle") == {"2-1"}
    assert scores("gol dello 0-2″") == {"0-2"}
    assert scores("stagione 2025-26") == frozenset()
    a = story_key("Inter-Juventus 3-2, Bastoni e Zielinski decisivi", source="A")
    b = story_key("Juventus-Inter 1-1, Bastoni e Zielinski in gol", source="B")
    assert not same_story(a, b)


def test_window_limits_a_story() -> None:
    a = story_key("Dybala, lesione al ginocchio: si opera", published=T0, source="A")
    b_title = "Roma, Dybala si opera al ginocchio"
    assert same_story(a, story_key(b_title, published=T0 + timedelta(hours=47), source="B"))
    assert not same_story(a, story_key(b_title, published=T0 + timedelta(hours=49), source="B"))
    assert not same_story(
        a, story_key(b_title, published=T0 + timedelta(hours=13), source="B"), window_hours=12
    )


def test_same_outlet_joins_a_repost_or_its_own_follow_up_on_the_same_news() -> None:
    """A re-post is one story; so is the outlet's next article on the same news within hours
    (TMW's press review quoting three papers on Dybala's knee); other news is its own story."""
    first = story_key(
        "Roma, il ginocchio tormenta ancora Dybala: si va verso l'operazione",
        published=T0,
        source="TMW",
    )
    repost = story_key(
        "Roma, il ginocchio tormenta ancora Dybala: si va verso l’operazione ",
        published=T0 + timedelta(hours=30),
        source="TMW",
    )
    follow_up = story_key(
        "Roma ancora in ansia per il ginocchio di Dybala: operazione vicina",
        published=T0 + timedelta(minutes=13),
        source="TMW",
    )
    other_news = story_key(
        "Dybala e il rinnovo con la Roma: l'agente incontra Massara",
        published=T0 + timedelta(hours=2),
        source="TMW",
    )
    assert same_story(first, repost)
    assert same_story(first, follow_up)
    assert not same_story(first, other_news)
    assert not same_story(first, follow_up.at(T0 + timedelta(hours=13), "TMW"))


def test_a_matched_term_tells_who_never_what_happened() -> None:
    """The followed player scoring in a match report is not his transfer rumour."""
    who = (frozenset({"marco", "palestra"}),)
    rumour = story_key("Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta", who=who)
    report = story_key(
        "Atalanta-Napoli 2-1, la Dea ribalta il Napoli: Palestra tra i migliori",
        who=who,
        source="B",
    )
    other_rumour = story_key(
        "Palestra piace al Milan: l'Atalanta chiede 40 milioni per l'esterno", who=who, source="C"
    )
    assert not same_story(rumour.at(None, "A"), report)
    assert same_story(rumour.at(None, "A"), other_rumour)


def test_one_player_back_in_training_is_one_story_but_the_squad_list_is_another() -> None:
    who = (frozenset({"manu", "kone"}),)
    a = story_key("Roma, Koné torna in gruppo: sarà a disposizione per la Cremonese", who=who)
    b = story_key("Trigoria, Koné si allena con i compagni: recuperato", who=who, source="B")
    squad = story_key("Roma, i convocati di Gasperini per la Cremonese: c'è Koné", who=who)
    assert same_story(a.at(None, "A"), b)
    assert not same_story(squad.at(None, "C"), b)
    assert not same_story(squad.at(None, "C"), a.at(None, "A"))


def test_a_match_reported_with_and_without_the_score_is_one_story() -> None:
    a = story_key("Champions, il Bodø/Glimt batte l'Inter 3-1", published=T0, source="A")
    b = story_key("Inter ko, crolla in Norvegia: il Bodo vince", published=T0, source="B")
    assert same_story(a, b)


def test_a_quote_from_someone_else_is_another_story() -> None:
    a = story_key("Massimo Pavan: Partita durata fino all'espulsione di Kalulu", source="A")
    b = story_key(
        "L'espulsione di Kalulu e le parole di Chivu: il ginocchio non c'entra", source="B"
    )
    assert not same_story(a, b)


def test_names_skip_sentence_starters_but_keep_subjects_and_full_names() -> None:
    assert title_names("Altro stop della Joya. Leggo in prima pagina") == {"joya", "leggo"}
    assert "dybala" in title_names("Roma in ansia per Dybala")
    assert "dybala" in title_names("Dybala, oggi la verità")
    assert {"giacomo", "bonaventura"} <= title_names("Giacomo Bonaventura si ritira")
    assert title_names("FUGA INTER, FURIA JUVE") == frozenset()


@pytest.mark.parametrize("count", [0, 1])
def test_find_story_prefers_the_closest_candidate(count: int) -> None:
    cands = [
        StoryCandidate("roma", "Roma, vittoria a Genova", frozenset({"roma", "genova"}), T0),
        StoryCandidate(
            "dybala",
            "Dybala, lesione al ginocchio: si opera",
            frozenset({"dybala"}),
            T0,
            frozenset({"TMW"}),
        ),
    ][count:]
    got = find_story("Roma, Dybala si opera al ginocchio", frozenset(), T0, cands, source="CdS")
    assert got == "dybala"


def test_one_template_about_two_people_is_two_stories() -> None:
    a = story_key("Ufficiale: Pellegrini rinnova con la Roma fino al 2030", source="A")
    b = story_key("Ufficiale: Cristante rinnova con la Roma fino al 2030", source="B")
    assert not same_story(a, b)
    c = story_key("Ufficiale: la Roma rinnova fino al 2030 con Pellegrini", source="C")
    assert same_story(a, c)


def _same(a: str, b: str) -> bool:
    return same_story(story_key(a, source="A"), story_key(b, source="B"))


def test_one_word_in_another_form_is_shared() -> None:
    """si opera / operato, si dimette / dimissioni: one event told with other endings."""
    assert _same(
        "Dybala si opera al ginocchio: stagione finita",
        "Roma, Dybala operato al ginocchio: i tempi di recupero",
    )
    assert _same("Lazio, Sarri si dimette", "Sarri lascia la Lazio, dimissioni irrevocabili")
    assert _same("Maignan ha firmato con il Chelsea", "Chelsea, ecco Maignan: firma fino al 2031")
    assert not _same("Yildiz rinnova con la Juventus", "Yildiz, lesione al flessore: Juve in ansia")


def test_the_same_injury_of_two_teammates_is_two_stories() -> None:
    assert not _same(
        "Napoli, Anguissa si ferma: lesione al bicipite femorale",
        "Napoli, si ferma anche Lobotka: lesione al polpaccio",
    )
    assert not _same("Roma, Dybala operato al ginocchio", "Roma, Pellegrini operato al ginocchio")


def test_a_sentence_starter_no_dictionary_knows_is_a_name() -> None:
    assert "zaniolo" in title_names("Zaniolo passa all'Udinese")
    assert "altro" not in title_names("Altro stop della Joya")
    assert "moviola" not in title_names("Moviola Inter-Juve: episodi chiave")


def test_two_people_and_a_club_make_one_story_without_common_words() -> None:
    a = "Roma, Gasperini vuole Zirkzee: contatti con il Manchester United"
    b = "Zirkzee-Roma, Gasperini spinge: Massara tratta con lo United"
    assert _same(a, b)
    assert not _same("Zirkzee, la Roma offre 30 milioni", "Zirkzee, lo United lo blinda")


def test_one_person_quoted_twice_is_one_story_but_not_on_different_matters() -> None:
    a = 'Chiellini e Comolli durissimi: "Errore inaccettabile, il livello arbitrale non è adeguato"'
    b = (
        "Chiellini: “Oggi non si può parlare di calcio, è inaccettabile quello che è successo"
        " stasera. Rocchi non era neanche allo stadio”"
    )
    assert _same(a, b)
    assert not _same(
        'Fabregas: "Notte storica per Como, ma la felicità deve durare al massimo 5\'"',
        "Fabregas: “Se l'Inter avesse vinto 1-0, non avrei dormito”",
    )


def test_one_club_in_two_results_within_a_day_is_one_match() -> None:
    """A club plays once in a few days: two results about it within a day are one match,
    whether the score is written home-first or winner-first, in the title or the summary."""
    a = story_key(
        "Il Tottenham di Tudor cade ancora: quinta sconfitta consecutiva",
        published=T0,
        source="A",
        summary="Passa il Crystal Palace, che si impone a Londra con il punteggio di 3-1",
    )
    b = story_key(
        "Tudor accompagna il Tottenham in Serie B: 1-3 col Crystal Palace", published=T0, source="B"
    )
    assert same_story(a, b)
    c = story_key("Roma, ecco l’allungo Champions: Cremonese ko", published=T0, source="C")
    d = story_key("Roma-Cremonese, i giallorossi vincono e allungano", published=T0, source="D")
    assert same_story(c, d)
    # a front page naming only the club, with no word in common
    front = story_key("Svecchia Signora. Inter, tre schiaffi", published=T0, source="G")
    assert same_story(front, story_key("Inter ko a Bodø, i norvegesi vincono", published=T0))
    # the players' marks are a piece of their own
    marks = story_key("Pagelle Roma: Malen decisivo, Koné ovunque", published=T0, source="H")
    assert not same_story(marks, d)
    # two days later the same club plays another match
    e = story_key("La Roma travolge il Genoa", published=T0 + timedelta(hours=30), source="E")
    assert not same_story(c, e)
    # a result is not the transfer news of the same club on the same day
    f = story_key("Roma, offerta per Zirkzee: non basta", published=T0, source="F")
    assert not same_story(c, f)


def test_a_first_name_is_no_event_and_a_score_along_the_way_is_no_result() -> None:
    assert "result" not in event_kinds("Il Bari esonera Vincenzo Vivarini")
    final = story_key("L’Inter batte la Juventus 3-2", published=T0, source="A")
    review = story_key(
        "Fuga Inter, furia Juve",
        published=T0,
        source="B",
        summary="Finisce 3-2 per i nerazzurri, anche se sull'1-1 l'arbitro ha sbagliato",
    )
    assert same_story(final, review)


def test_an_outlets_second_piece_on_the_same_people_needs_more_than_names() -> None:
    a = "Noemi Bocchi a Ballando con le Stelle, Totti la gela: intanto Ilary Blasi sposa Bastian"
    b = "Salta l'udienza del divorzio Totti-Blasi, Totti con Noemi Bocchi in vacanza"
    assert not same_story(story_key(a, source="A"), story_key(b, source="A"))


def test_one_coach_quoted_after_a_match_is_one_story_whatever_the_angle() -> None:
    """Someone's words in the title make an interview, whatever the summary says around them."""
    cds = story_key(
        "Chivu difende Bastoni: \"Non simula. Kalulu? Il tocco c'è, l'espulsione è giusta\"",
        source="A",
    )
    sky = story_key(
        'Chivu: "Bastoni non ha simulato, il tocco di Kalulu c\'è"',
        source="B",
        summary="Le parole del tecnico nerazzurro dopo Inter-Juventus.",
    )
    assert same_story(cds, sky)
    tmw = story_key(
        'Roma, manca solo il gol a Koné. Gasperini scherza: "Problema di testa? No, di piedi"',
        source="C",
        summary="Gasperini ha commentato in conferenza stampa il successo per 3-0",
    )
    sky = story_key(
        'Gasperini scherza su Koné: "Gli manca solo il gol, ma è un problema di piedi"',
        source="D",
        summary="Il tecnico della Roma dopo la vittoria sulla Cremonese.",
    )
    assert same_story(tmw, sky)


def test_two_previews_of_one_fixture_are_one_story() -> None:
    assert _same(
        "È la notte di Cagliari-Lecce. L'Unione Sarda in apertura: \"C'è Mina\"",
        "Cagliari-Lecce: orario, diretta, probabili formazioni e dove vedere in tv",
    )


def test_a_draw_told_in_a_front_page_is_the_match_report() -> None:
    front = story_key(
        'Nico Paz gela San Siro, poi Leao. La Provincia di Como apre: "Pari show"',
        source="A",
        summary="La Provincia di Como dedica uno spazio alla formazione calcistica cittadina.",
    )
    assert same_story(front, story_key("Milan-Como 1-1: Nico Paz illude, Leao risponde"))


def test_a_clubs_short_name_is_the_club_but_not_inside_another_name() -> None:
    assert "juventus" in title_names("Inter-Juve, la moviola")
    assert "juventus" not in title_names("Il Bari perde con la Juve Stabia")


def test_the_nazionale_is_italy() -> None:
    assert _same(
        "Pre-convocati nazionale, Gattuso prepara gli spareggi: ci sono anche Chiesa e Verratti",
        "L’Italia torna “alle origini”? Gattuso sta pensando di richiamare Verratti",
    )


def test_a_red_card_named_in_a_summary_does_not_make_an_editorial_the_coachs_words() -> None:
    who = (frozenset({"alessandro", "bastoni"}), frozenset({"pierre", "kalulu"}))
    chivu = story_key(
        "Chivu difende Bastoni: \"Non simula. Kalulu? Il tocco c'è, l'espulsione è giusta\"",
        source="A",
        who=who,
    )
    editorial = story_key(
        "Arbitri, i segreti dello scandalo La Penna. Rocchi via, arriva Orsato. Il Var cambia,"
        " prova Tv contro i simulatori",
        source="B",
        summary="La simulazione di Bastoni e l'espulsione di Kalulu: squalifica in vista",
        who=who,
    )
    assert not same_story(chivu, editorial)
    interview = story_key(
        'Roma, manca solo il gol a Koné. Gasperini scherza: "Problema di piedi"',
        published=T0,
        source="C",
        summary="Gasperini in conferenza stampa dopo il successo per 3-0 contro la Cremonese",
        who=(frozenset({"gian", "piero", "gasperini"}), frozenset({"roma"})),
    )
    report = story_key(
        "Roma-Cremonese, i giallorossi vincono",
        published=T0,
        source="D",
        summary="Tre punti pesanti per Gasperini all'Olimpico.",
        who=(frozenset({"gian", "piero", "gasperini"}), frozenset({"roma"})),
    )
    assert not same_story(interview, report)


def test_a_ban_is_one_persons_event_but_a_red_card_is_every_post_match_piece() -> None:
    conte = (frozenset({"antonio", "conte"}),)
    assert same_story(
        story_key("Inchiesta e squalifica a Conte: cosa è successo in Napoli-Como", who=conte),
        story_key("Squalifica Conte, il giudice sportivo ferma il tecnico del Napoli", who=conte),
    )


def test_a_player_hurt_in_a_match_report_is_not_the_news_of_his_injury() -> None:
    who = (frozenset({"giacomo", "raspadori"}), frozenset({"atalanta"}))
    report = story_key(
        "La cura Palladino dà i suoi frutti: l’Atalanta batte la Lazio (si fa male Raspadori)",
        source="A",
        who=who,
    )
    injury = story_key("Atalanta, Raspadori: lesione al flessore, stop di un mese", who=who)
    assert not same_story(report, injury)


def test_a_teammate_named_in_a_summary_does_not_make_his_injury_another_players() -> None:
    who = (frozenset({"david", "neres"}), frozenset({"frank", "anguissa"}))
    anguissa = story_key(
        "Anguissa ancora alle prese con le terapie: non ci sarà contro la Juventus",
        source="A",
        summary="Assente anche Neres.",
        who=who,
    )
    neres = story_key("Napoli, Neres verso l'operazione alla caviglia", source="B", who=who[:1])
    assert not same_story(anguissa, neres)


def test_a_round_up_is_not_the_match_of_one_of_its_clubs() -> None:
    """A result read only in the summary says which match when the title names that club
    alone: not a round-up of several clubs."""
    report = story_key("Inter ko a Bodø, i norvegesi vincono in Champions", published=T0)
    roundup = story_key(
        "Inter, Milan, tennis e Olimpiadi Invernali: le ultimissime",
        published=T0,
        source="B",
        summary="I nerazzurri perdono in Norvegia. I rossoneri non vanno oltre il pari",
    )
    assert not same_story(report, roundup)
    front = story_key(
        "Inter infuriata",
        published=T0,
        source="C",
        summary="I nerazzurri perdono in Norvegia, notte amara in Champions",
    )
    assert same_story(report, front)


def test_what_may_happen_shares_no_word_with_what_happened() -> None:
    assert not _same(
        "L’Inter batte la Juventus 3-2 e può festeggiare lo scudetto della Marotta League",
        "Bastoni nel silenzio, l'Inter lo protegge: Marotta in arrivo e battere la Juve vuol dire"
        " Scudetto",
    )


def test_the_morning_front_pages_on_last_nights_match_are_its_story() -> None:
    """A front page's title may name nobody or tell only the referee's part: its summary
    says which match it is about."""
    report = story_key(
        "L’Inter batte la Juventus 3-2 e può festeggiare lo scudetto della Marotta League",
        published=T0,
    )
    fronts = {
        "Il danno": "Derby rovinato: Inter-Juve 3-2, polemiche furiose per il rosso a Kalulu.",
        "Furia Juve contro l’arbitro": "Finisce 3-2 per i nerazzurri, con polemiche accese.",
    }
    for title, summary in fronts.items():
        front = story_key(title, published=T0 + timedelta(hours=8), source="B", summary=summary)
        assert same_story(front, report), title
    # and one another, whichever came first
    danno, furia = (
        story_key(title, published=T0 + timedelta(hours=8), source="B", summary=summary)
        for title, summary in fronts.items()
    )
    infuriata = story_key(
        "Juventus infuriata",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="L’Inter batte la Juventus 3-2 al 90’, resta a +8 sul Milan",
    )
    assert same_story(infuriata, danno)
    assert same_story(furia, infuriata)
    moviola = story_key(
        "Moviola Inter-Juve: episodi chiave, rosso a Kalulu e rigore su McKennie nel mirino",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="A San Siro non si spengono le polemiche dopo Inter-Juventus.",
    )
    assert not same_story(moviola, report)
    roundup = story_key(
        "Le prime pagine dei quotidiani italiani e stranieri di oggi, sabato 24 gennaio",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="La vittoria dell'Inter per 3-2 contro la Juventus è il tema del giorno",
    )
    assert not same_story(roundup, report)


def test_a_coach_sacked_is_one_event_whatever_defeat_or_notice_goes_with_it() -> None:
    assert _same(
        "Tudor esonerato dal Tottenham dopo la quinta sconfitta",
        "Tottenham, via Tudor: esonero ufficiale",
    )
    assert not _same(
        "Tudor esonerato dal Tottenham dopo la quinta sconfitta",
        "Tottenham-Crystal Palace 1-3, Tudor sempre più in bilico",
    )


def test_a_player_passing_to_a_club_is_a_transfer_not_a_result() -> None:
    assert "result" not in event_kinds("Ufficiale: Zaniolo passa all'Udinese")
    assert "result" in event_kinds("Passa il Crystal Palace, che si impone a Londra")
    assert _same(
        "Ufficiale: Zaniolo passa all'Udinese",
        "Zaniolo è un nuovo giocatore dell'Udinese, arriva l'ufficialità",
    )


def test_not_only_the_coach_also_the_director_is_the_directors_news() -> None:
    """ "Non solo X, anche Y": the news is Y's; X is the story it follows (same outlet, nine
    minutes later, the same kind of event)."""
    coach = story_key(
        "Il Bari cambia ancora allenatore: è arrivato l'esonero di Vincenzo Vivarini",
        published=T0,
        source="TMW",
        summary="La notizia era nell'aria da dopo la sconfitta contro la Juve Stabia.",
        who=[frozenset({"vincenzo", "vivarini"})],
    )
    director = story_key(
        "Bari, non solo mister Vivarini. Anche il direttore sportivo Magalini è stato esonerato",
        published=T0 + timedelta(minutes=9),
        source="TMW",
        summary="Non solo il tecnico Vincenzo Vivarini.",
        who=[frozenset({"magalini"})],
    )
    assert not same_story(director, coach)
    again = story_key(
        "Bari, esonerato anche il ds Magalini dopo Vivarini",
        published=T0 + timedelta(hours=1),
        source="B",
        who=[frozenset({"magalini"})],
    )
    assert same_story(again, director)


def test_a_front_page_naming_the_two_clubs_of_last_nights_match_is_its_story() -> None:
    """A title telling no event but the two clubs of a match reported within the day ("Fuga
    Inter, furia Juve") is about that match, even when its summary tells only the referee's
    part; a title that tells an event of its own (the moviola) is not."""
    report = story_key(
        "L’Inter batte la Juventus 3-2 e può festeggiare lo scudetto della Marotta League",
        published=T0,
    )
    front = story_key(
        "Fuga Inter, furia Juve",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="È stato un Derby d'Italia con i fiocchi ieri sera a San Siro, anche se sull'1-1"
        " l'arbitro La Penna ha preso una decisione sbagliata",
    )
    assert same_story(front, report)
    # the morning's front pages come out together: a later one telling the score is the match
    danno = story_key(
        "Il danno",
        published=T0 + timedelta(hours=8, minutes=15),
        source="B",
        summary="Derby rovinato: Inter-Juve 3-2, polemiche furiose per il rosso a Kalulu.",
    )
    assert same_story(danno, front)
    # a title naming the two clubs hours before the match is not its result
    before = story_key(
        "Inter-Juve, San Siro esaurito",
        published=T0 - timedelta(hours=3),
        source="B",
        summary="Arbitra La Penna, al Var Mariani.",
    )
    assert not same_story(report, before)
    other_match = story_key(
        "Fuga Inter, furia Milan",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="L'arbitro ha preso una decisione sbagliata",
    )
    assert not same_story(other_match, report)
    transfer = story_key(
        "Inter e Juve, sfida a due",
        published=T0 + timedelta(hours=8),
        source="B",
        summary="Le due società sono pronte a un'offerta per il difensore",
    )
    assert not same_story(transfer, report)


def palladino_after_juve() -> StoryKey:
    """Tuttosport quoting Palladino after Atalanta knocked Juve out of the Coppa Italia."""
    return story_key(
        'Gioia Palladino: "La Juve mi ha impressionato, ancora più valore alla nostra vittoria"',
        published=datetime(2026, 2, 5, 22, 37, tzinfo=UTC),
        source="Tuttosport",
        summary="L'allenatore dell'Atalanta elogia la prestazione dei bianconeri ed esalta quella"
        " dei suoi ragazzi dopo il passaggio del turno in Coppa Italia",
    )


def istanbul_pieces(t0: datetime = T0) -> tuple[StoryKey, StoryKey]:
    """TuttoJuve's two pieces on Juve after Istanbul: "Spalletti, riflessioni sulla rosa" and,
    15 minutes later, "Devono rifare la Juve". No word and no title name in common: each
    summary names the other's people."""
    spalletti = story_key(
        "Spalletti, riflessioni sulla rosa",
        published=t0,
        source="TuttoJuve",
        summary="Ci sono notti che cambiano il destino di una squadra. E quella di Juventus a"
        " Istanbul, in casa del Galatasaray, rischia di segnare un prima e un dopo.",
    )
    juve = story_key(
        "Devono rifare la Juve",
        published=t0 + timedelta(minutes=15),
        source="TuttoJuve",
        summary="In occasione della prima pagina di oggi, Tuttosport ha scelto il seguente come"
        ' titolo principale: "Devono rifare la Juve". Spalletti ha convinto il club.',
    )
    return spalletti, juve


def test_two_pieces_whose_summaries_name_each_others_people_are_one_story() -> None:
    """An outlet's pieces on Juve after Istanbul: each title names one of them (Spalletti, the
    Juve), the other's summary names it too. The same names in both titles are not enough
    ("Ranieri si dimette" and "Ranieri: «…stadio»"), nor is one person in common."""
    spalletti, juve = istanbul_pieces()
    assert same_story(juve, spalletti)
    ranieri = story_key("Ranieri si dimette da consulente della Roma", published=T0)
    stadio = story_key('Ranieri: "La Roma ha bisogno di un nuovo stadio"', published=T0)
    assert not same_story(ranieri, stadio)
    lucio = story_key(
        "Lucio vuole personalità",
        published=T0 + timedelta(minutes=45),
        source="TuttoJuve",
        summary="Luciano Spalletti non è un allenatore tormentato dai dubbi.",
    )
    assert not same_story(lucio, spalletti)


def test_a_score_ending_a_sentence_pins_the_match() -> None:
    """ "la Juve vince 3-0. Il Mattino…": the score before a full stop is the match's, so a
    result with another score is another match, even when a third club is named in both."""
    assert scores('Disfatta a Torino, la Juve vince 3-0. Il Mattino: "Al tappeto"') == {"3-0"}
    assert scores("Quota 2-0.5 sul Napoli") == frozenset()
    juve = story_key(
        'Disfatta a Torino, la Juve vince 3-0. Il Mattino in apertura sul Napoli: "Al tappeto"',
        published=T0,
        source="A",
    )
    roma = story_key(
        '1-1 col Milan, agganciato il Napoli. Il Messaggero: "Roma pari al terzo posto"',
        published=T0,
        source="A",
    )
    assert not same_story(juve, roma)


def test_a_battle_of_fans_and_a_team_that_fought_are_no_result() -> None:
    assert "result" not in event_kinds(
        "Battaglia ultrà Napoli e Lazio in autostrada, si rischia il blocco delle trasferte"
    )
    assert "result" not in event_kinds(
        "Il Napoli dice addio alla lotta scudetto, a Torino si è battuto con dignità (Condò)"
    )
    assert "result" in event_kinds("Napoli battuto a Torino")
    assert "result" in event_kinds('Tris della Signora a Conte: "Juve da urlo, Napoli a terra"')


def test_a_city_two_clubs_share_named_as_where_is_not_the_club() -> None:
    """ "a Torino" is where Juventus played, not the Torino club; "a Lecce" is the opponent."""
    assert "torino" not in story_key("Disfatta a Torino, la Juve vince 3-0").clubs
    assert "torino" in story_key("Il Torino batte il Como").clubs
    assert "lecce" in story_key("Lazio a Lecce nel caos").clubs


def test_a_round_of_results_is_none_of_its_matches_and_a_third_club_is_the_tables() -> None:
    match = story_key(
        '1-1 col Milan, agganciato il Napoli. Il Messaggero: "Roma pari al terzo posto"',
        published=T0,
        source="A",
    )
    roundup = story_key(
        'Serie A show, Corriere della Sera: "Pari Roma, il Milan rallenta. Festa Juve, Napoli a'
        " -9 dall'Inter\"",
        published=T0,
        source="B",
    )
    assert not same_story(match, roundup)
    napoli = story_key(
        "Mago Spalletti fa sparire Conte, travolto il Napoli", published=T0, source="C"
    )
    assert not same_story(match, napoli)
    same_match = story_key(
        "Roma, evitato lo stesso copione dell’andata: col Milan il primo pareggio",
        published=T0,
        source="D",
    )
    assert same_story(match, same_match)


def test_someones_words_after_a_match_are_not_the_match_report() -> None:
    """A title quoting a coach after a match ("Sarri dopo il pari con il Cagliari: «…»",
    "… ancora più valore alla nostra vittoria") tells his words, not the result: apart from
    the reports of the match, and one story with his other words."""
    sarri = story_key(
        'Sarri dopo il pari con il Cagliari: "Lazio, è una stagione maledetta"',
        published=datetime(2026, 2, 21, 22, 31, tzinfo=UTC),
        source="CdS",
        summary="Il tecnico biancoceleste mastica amaro dopo lo 0-0 in Sardegna e comunica"
        " l’infortunio di Rovella",
    )
    report = story_key(
        "Cagliari, un pareggio di carattere contro la Lazio. L'Unione Sarda titola: \"È un buon"
        ' punto"',
        published=datetime(2026, 2, 22, 6, 58, tzinfo=UTC),
        source="TMW",
        summary="Seconda gara consecutiva in casa senza reti per il Cagliari, che contro la Lazio"
        " non va oltre lo 0-0 nel posticipo del sabato della 26ª giornata di Serie A.",
    )
    assert "result" not in sarri.kinds and "result" in report.kinds
    assert not same_story(sarri, report)
    palladino = palladino_after_juve()
    atalanta = story_key(
        "Atalanta, capolavoro Palladino: ancora una volta tabù della Juve",
        published=datetime(2026, 2, 6, 6, 39, tzinfo=UTC),
        source="CdS",
        summary="L'allenatore aveva già battuto i bianconeri con il Monza e la Fiorentina, si è"
        " ripetuto grazie al tris della Dea, ora in semifinale di Coppa Italia",
    )
    assert not same_story(palladino, atalanta)
    vanoli = story_key(
        'Le dure parole di Vanoli ai giocatori della Fiorentina: "Si facciano un esame di'
        ' coscienza". E De Gea parla di schiaffi',
        published=datetime(2026, 3, 3, 6, 45, tzinfo=UTC),
        source="CdS",
        summary="Dopo la sconfitta di Udine il tecnico della Viola non le manda a dire ai"
        " giocatori.",
    )
    udinese = story_key(
        "Kabasele-Davis-Buksa, l'Udinese travolge la Fiorentina: Vanoli resta in zona"
        " retrocessione",
        published=datetime(2026, 3, 2, 21, 40, tzinfo=UTC),
        source="Tuttosport",
        summary="I friulani si impongono 3-0 al Bluenergy Stadium e scavalcano Parma e Lazio",
    )
    assert not same_story(vanoli, udinese)


def test_a_moviola_with_the_score_is_not_the_match_report() -> None:
    """ "La moviola di Bologna-Milan 0-3": the score names the match the referee is judged in;
    the piece tells the referee's calls, not the result."""
    moviola = story_key(
        "La moviola di Bologna-Milan 0-3: Gabbia-Rowe, non c'è rigore. Heggem da giallo",
        published=datetime(2026, 2, 4, 6, 43, tzinfo=UTC),
        source="CdS",
        summary="Il giudizio alla prestazione dell'arbitro Manganiello e ai suoi assistenti nel"
        " match del 'Dall'Ara' tra i rossoblù di Italiano e i rossoneri di Allegri",
    )
    report = story_key(
        "Allegri versus Italiano è come Tyson contro Heidi: finisce molto male (proprio come a"
        " Bologna)",
        published=datetime(2026, 2, 3, 21, 39, tzinfo=UTC),
        source="Napolista",
        summary="Bologna-Milan 0-3. Il Milan si diverte come al luna park con la difesa rossoblù.",
    )
    assert "result" not in moviola.kinds
    assert not same_story(moviola, report)


def test_an_outlets_tv_previews_of_two_matches_are_two_stories() -> None:
    """One outlet's template ("orario, diretta, probabili formazioni e dove vedere in tv") on
    two matches of one evening: the template's words tell the kind, not the news."""
    bodo = story_key(
        "Bodø/Glimt-Inter: probabili formazioni, orario e dove vedere in tv e streaming la"
        " Champions League",
        published=datetime(2026, 2, 17, 6, 41, 51, tzinfo=UTC),
        source="Tuttosport",
    )
    dortmund = story_key(
        "Borussia Dortmund-Atalanta: orario, diretta, probabili formazioni e dove vedere in tv e"
        " streaming la Champions",
        published=datetime(2026, 2, 17, 6, 41, 57, tzinfo=UTC),
        source="Tuttosport",
    )
    assert not same_story(bodo, dortmund)


def test_one_coachs_words_after_a_match_quoted_by_two_outlets_are_one_story() -> None:
    """The same person quoted in both titles within hours: his words of one evening, however
    differently each outlet picks them; his words of another day are another story."""
    cds = story_key(
        'Palladino: "Sto ritrovando la vera Atalanta. Vittoria per i tifosi"',
        published=datetime(2026, 2, 5, 22, 32, tzinfo=UTC),
        source="CdS",
        summary='Il tecnico festeggia il bel successo sulla Juve e guarda avanti: "Ora servono'
        ' altri risultati positivi"',
    )
    tuttosport = palladino_after_juve()
    assert same_story(cds, tuttosport)
    assert not same_story(
        story_key(
            'Fabregas: "Notte storica per Como, ma la felicità deve durare al massimo 5\'"',
            published=datetime(2026, 9, 11, 8, 9, tzinfo=UTC),
            source="Gazzetta",
        ),
        story_key(
            "Fabregas: “Se l’Inter avesse vinto 1-0, non avrei dormito”",
            published=datetime(2026, 3, 5, 15, 57, tzinfo=UTC),
            source="Napolista",
        ),
    )


def test_a_club_that_wants_a_person_is_a_transfer_rumour() -> None:
    """ "Il Real Madrid vuole Allegri", "tenta di nuovo Allegri": a rumour about where he may
    go, whatever words each outlet picks; "Lucio vuole personalità" wants no one."""
    assert "transfer" in event_kinds(
        "Il Real Madrid (che di calcio ne capisce) vuole Allegri. In passato, Florentino ci ha"
        " già provato due volte"
    )
    assert "transfer" in event_kinds("Il Real Madrid tenta di nuovo Allegri: in corsa anche Klopp")
    assert "transfer" not in event_kinds("Lucio vuole personalità")
    allegri = [frozenset({"massimiliano", "allegri"})]
    cds = story_key(
        "Il Real Madrid tenta di nuovo Allegri: in corsa anche Klopp. Ma il Milan…",
        published=datetime(2026, 3, 4, 6, 42, tzinfo=UTC),
        source="CdS",
        who=allegri,
        summary="All’orizzonte un nuovo assalto madridista (anche Klopp nel mirino). Il tecnico"
        " livornese a Milano sta bene e il suo contratto scadrà nel 2027",
    )
    napolista = story_key(
        "Il Real Madrid (che di calcio ne capisce) vuole Allegri. In passato, Florentino ci ha"
        " già provato due volte",
        published=datetime(2026, 3, 4, 6, 49, tzinfo=UTC),
        source="Napolista",
        who=allegri,
        summary="Dopo i tentativi del 2019 e del 2021, il Madrid ci riprova. C'è anche Klopp in"
        " orbita Real.",
    )
    assert same_story(cds, napolista)


def test_one_players_injury_told_again_reads_as_his_injury() -> None:
    """ "sovraccarico muscolare" is an injury ("muscolare" is no infinitive), "si è fatto male"
    is getting hurt, and "Conte perde anche lui" loses a player, not a match."""
    kinds = event_kinds(
        "Lobotka si è fatto male a Verona: sovraccarico muscolare. Conte perde anche lui"
    )
    assert kinds == {"injury"}
    assert event_kinds("Si fa male pure Lobotka (again): fastidio muscolare") == {"injury"}
