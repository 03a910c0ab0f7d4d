"""The matching engine: what a fan expects it to find, and that the index finds exactly what a
plain scan of every term at every position finds."""

from __future__ import annotations

import random
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match import (
    Matcher,
    collect_owners,
    describe_term,
    merge_owners,
    personal_watchlist,
    scan_reference,
    term_words,
    tokenized_term_words,
    tolerance,
)
from bot.models import Match, Term, Watchlist


def wl(name: str, *terms: str | Term, fields: tuple[str, ...] = ("title", "summary")) -> Watchlist:
    return Watchlist(
        name=name,
        terms=tuple(t if isinstance(t, Term) else Term(t) for t in terms),
        fields=fields,
    )


def found(matcher: Matcher, text: str) -> list[tuple[str, str]]:
    return [(m.term, m.matched) for m in matcher.match_text(text)]


SEED_LISTS = [
    wl("mercato", Term("Marco Palestra", aliases=("Palestra",))),
    wl("milan", "Milan", Term("Massimiliano Allegri", aliases=("Allegri",)), "rossoneri"),
    wl("atalanta", "Atalanta"),
    wl("inter", "Inter", "nerazzurri"),
]


@pytest.fixture(scope="module")
def seed() -> Matcher:
    return Matcher(SEED_LISTS)


def test_seed_headline_matches_player_and_both_clubs(seed: Matcher) -> None:
    text = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"
    got = seed.match_text(text)
    assert [(m.watchlist, m.term, m.matched) for m in got] == [
        ("milan", "Milan", "Milan"),
        ("milan", "Massimiliano Allegri", "Allegri"),
        ("mercato", "Marco Palestra", "Palestra"),
        ("atalanta", "Atalanta", "Atalanta"),
    ]
    for m in got:
        assert text[m.start : m.end] == m.matched
        assert m.field == "title" and m.score == 100.0


def test_the_gym_is_not_the_player(seed: Matcher) -> None:
    assert found(seed, "Oggi in palestra per il recupero") == []


def test_all_caps_headline_still_matches(seed: Matcher) -> None:
    assert found(seed, "OGGI IN PALESTRA CON IL MILAN") == [
        ("Marco Palestra", "PALESTRA"),
        ("Milan", "Milan".upper()),
    ]


@pytest.mark.parametrize(
    "text",
    ["La Romania in finale", "Il Napoli interessa", "Milano da bere", "Milanello", "interista"],
)
def test_whole_words_only(text: str) -> None:
    matcher = Matcher([wl("clubs", "Roma", "Inter", "Milan")])
    assert found(matcher, text) == []


@pytest.mark.parametrize(
    "text",
    ["dell’Atalanta", "dell'Atalanta", "Juve-Atalanta", "Atalanta's", "Juve–Atalanta 1-1"],
)
def test_elision_dashes_and_possessives_are_boundaries(text: str) -> None:
    matcher = Matcher([wl("atalanta", "Atalanta")])
    assert [m.term for m in matcher.match_text(text)] == ["Atalanta"]


def test_accents_and_special_letters_do_not_matter() -> None:
    matcher = Matcher([wl("x", "Nicolò Barella", "Ødegaard", "Yıldız")])
    got = found(matcher, "Nicolo Barella, Odegaard e YILDIZ")
    assert got == [("Nicolò Barella", "Nicolo Barella"), ("Ødegaard", "Odegaard"),
                   ("Yıldız", "YILDIZ")]  # fmt: skip


def test_long_names_tolerate_a_typo_short_names_do_not() -> None:
    matcher = Matcher([wl("x", "Dovbyk", "Inter", "Koopmeiners")])
    assert found(matcher, "Dovbik") == [("Dovbyk", "Dovbik")]
    assert found(matcher, "Imter") == []
    assert found(matcher, "Kopmeinres") == [("Koopmeiners", "Kopmeinres")]  # two edits at 11
    assert found(matcher, "Dovbikk") == []  # two edits at 6 letters is too many


def test_tolerance_grows_with_length() -> None:
    assert [tolerance("x" * n) for n in (3, 5, 6, 10, 11, 15)] == [0, 0, 1, 1, 2, 2]
    assert tolerance("dovbyk", fuzzy=False) == 0


def test_fuzzy_score_is_below_exact() -> None:
    matcher = Matcher([wl("x", "Dovbyk")])
    (exact,) = matcher.match_text("Dovbyk")
    (typo,) = matcher.match_text("Dovbik")
    assert exact.score == 100.0 and 0 < typo.score < 100.0


def test_nickname_inflection_is_one_word(seed: Matcher) -> None:
    assert [m.term for m in seed.match_text("Il nerazzurro, i rossonero, la nerazzurra")] == [
        "nerazzurri", "rossoneri", "nerazzurri",
    ]  # fmt: skip


def test_a_common_word_is_not_a_typo_of_a_name(seed: Matcher) -> None:
    assert found(seed, "Allegro ma non troppo") == []
    assert found(Matcher([wl("x", "Chiesa", "Bastoni")]), "Chiese e Bastone") == []


def test_fuzzy_false_means_exact_words_only() -> None:
    matcher = Matcher([wl("x", Term("rossoneri", fuzzy=False), Term("Dovbyk", fuzzy=False))])
    assert found(matcher, "rossonero Dovbik") == []
    assert found(matcher, "ROSSONERI Dovbyk") == [("rossoneri", "ROSSONERI"), ("Dovbyk", "Dovbyk")]


def test_multi_word_terms_need_every_word_in_order() -> None:
    matcher = Matcher([wl("x", "Christian Pulisic")])
    assert found(matcher, "Christian Pulisic segna") == [("Christian Pulisic", "Christian Pulisic")]
    assert found(matcher, "Pulisic Christian") == []
    assert found(matcher, "Christian e Pulisic") == []


def test_alias_reports_the_canonical_term_once_per_mention() -> None:
    matcher = Matcher([wl("milan", Term("Christian Pulisic", aliases=("Pulisic",)))])
    got = matcher.match_text("Christian Pulisic, poi ancora Pulisic")
    assert [(m.term, m.matched) for m in got] == [
        ("Christian Pulisic", "Christian Pulisic"),
        ("Christian Pulisic", "Pulisic"),
    ]


def test_exclude_removes_only_the_excluded_mention() -> None:
    matcher = Matcher([wl("como", Term("Como", exclude=("Lago di Como",)))])
    assert found(matcher, "Vacanze sul lago di Como") == []
    got = matcher.match_text("Dal Lago di Como al Sinigaglia: il Como vola")
    assert [(m.matched, m.start) for m in got] == [("Como", 35)]


def test_words_written_apart_are_not_joined_by_a_dash() -> None:
    matcher = Matcher([wl("inter", "Inter Milan"), wl("x", "Loftus-Cheek")])
    assert found(matcher, "Inter-Milan 2-1") == []
    assert found(matcher, "Inter Milan win") == [("Inter Milan", "Inter Milan")]
    assert found(matcher, "Loftus Cheek e Loftus-Cheek") == [
        ("Loftus-Cheek", "Loftus Cheek"),
        ("Loftus-Cheek", "Loftus-Cheek"),
    ]


def test_fields_of_the_watchlist_are_honoured_and_offsets_are_per_field() -> None:
    titles_only = wl("t", "Dybala", fields=("title",))
    both = wl("b", "Roma")
    matcher = Matcher([titles_only, both])
    got = matcher.match("Roma in ansia", "Dybala e la Roma")
    assert [(m.watchlist, m.field, m.start, m.end) for m in got] == [
        ("b", "title", 0, 4),
        ("b", "summary", 12, 16),
    ]


def test_one_match_per_watchlist_term_field_and_span() -> None:
    lists = [wl("a", Term("Juventus", aliases=("Juve", "JUVE"))), wl("b", "Juve")]
    got = Matcher(lists).match_text("Juve")
    assert [(m.watchlist, m.term) for m in got] == [("a", "Juventus"), ("b", "Juve")]


def test_size_counts_distinct_terms_not_aliases() -> None:
    matcher = Matcher([wl("a", Term("Juventus", aliases=("Juve",)), "Inter"), wl("b", "Inter")])
    assert matcher.size == 3


def test_personal_watchlist_is_one_term() -> None:
    personal = personal_watchlist("  Nicolò  Barella ")
    assert personal.name == "watch:nicolò barella".replace("ò", "o")
    assert [t.term for t in personal.terms] == ["Nicolò Barella"]
    assert found(Matcher([personal]), "BARELLA e Nicolo Barella") == [
        ("Nicolò Barella", "Nicolo Barella")
    ]


def test_lower_case_watch_term_also_finds_the_common_word() -> None:
    matcher = Matcher([personal_watchlist("palestra")])
    assert found(matcher, "in palestra") == [("palestra", "palestra")]


def test_describe_term_explains_the_rules() -> None:
    it = describe_term("Palestra")
    assert "nome proprio" in it and "«PALESTRA»" in it and "un errore" in it
    assert "esatta" in describe_term("Inter")
    en = describe_term("Lautaro Martinez", lang="en")
    assert "proper noun" in en and "in order" in en
    assert "lower case" in describe_term("nerazzurri", lang="en")


# --- properties -------------------------------------------------------------------------------

NAME = st.text(alphabet="bcdfglmnprstvz", min_size=1, max_size=3).flatmap(
    lambda consonants: st.lists(st.sampled_from("aeiou"), min_size=len(consonants),
                                max_size=len(consonants)).map(
        lambda vowels: "".join(c + v for c, v in zip(consonants, vowels, strict=True))
    )
)  # fmt: skip
FILLER = ["e", "il", "con", "per", "tra", "gol", "oggi", "poi", "che"]
ACCENTS = {"a": "àá", "e": "èé", "i": "ìí", "o": "òóø", "u": "ùü"}


def _accent(word: str, rnd: random.Random) -> str:
    return "".join(rnd.choice(ACCENTS[c]) if c in ACCENTS and rnd.random() < 0.5 else c
                   for c in word)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(NAME, min_size=1, max_size=3),
    proper=st.booleans(),
    shout=st.booleans(),
    before=st.lists(st.sampled_from(FILLER), max_size=4),
    after=st.lists(st.sampled_from(FILLER), max_size=4),
    seed=st.integers(0, 10_000),
)
def test_term_inserted_as_whole_word_is_found(
    words: list[str], proper: bool, shout: bool, before: list[str], after: list[str], seed: int
) -> None:
    rnd = random.Random(seed)
    term = " ".join(_accent(w.capitalize() if proper else w, rnd) for w in words)
    written = " ".join(_accent(w, rnd) for w in words)
    written = " ".join(w.capitalize() for w in written.split()) if proper else written
    written = written.upper() if shout else (written if proper else written.capitalize())
    punct = rnd.choice([" ", ", ", " «", " (", " dell'"])
    text = (
        " ".join(before) + punct + written + rnd.choice([" ", "! ", "» ", "’s "]) + " ".join(after)
    )
    matcher = Matcher([wl("x", term)])
    spans = [(m.term, m.matched) for m in matcher.match_text(text)]
    assert (term, written) in spans, text


@settings(max_examples=200, deadline=None)
@given(title=st.text(), summary=st.text())
def test_matching_never_raises_on_arbitrary_unicode(title: str, summary: str) -> None:
    matcher = Matcher([*SEED_LISTS, wl("odd", "ǅemal", "İstanbul", "ﬁnale", "'", "--")])
    for m in matcher.match(title, summary):
        text = title if m.field == "title" else summary
        assert text[m.start : m.end] == m.matched


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_results_do_not_depend_on_term_order(rnd: random.Random) -> None:
    lists = [wl(w.name, *rnd.sample(w.terms, len(w.terms))) for w in SEED_LISTS]
    rnd.shuffle(lists)
    text = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta, rossonero e Inter"
    assert Matcher(lists).match_text(text) == Matcher(SEED_LISTS).match_text(text)


# --- the index finds exactly what the reference scan finds ---------------------------------------


def _pseudo_name(rnd: random.Random) -> str:
    syllables = rnd.randint(2, 6)
    return "".join(rnd.choice("bcdfgklmnprstvz") + rnd.choice("aeiou") for _ in range(syllables))


def _mutate(word: str, rnd: random.Random) -> str:
    """A typo: insert, delete, substitute or transpose one letter (sometimes two typos)."""
    for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
        i = rnd.randrange(len(word))
        op = rnd.choice("idst")
        letter = rnd.choice("aeioubcdklmnrst")
        if op == "i":
            word = word[:i] + letter + word[i:]
        elif op == "d" and len(word) > 2:
            word = word[:i] + word[i + 1 :]
        elif op == "s":
            word = word[:i] + letter + word[i + 1 :]
        elif op == "t" and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word


def _generated_case(seed: int) -> tuple[list[Watchlist], list[str]]:
    rnd = random.Random(seed)
    pool = [_pseudo_name(rnd) for _ in range(40)]
    lists = []
    for n in range(4):
        terms = []
        for _ in range(rnd.randint(3, 12)):
            words = rnd.sample(pool, rnd.choice([1, 1, 2, 3]))
            phrase = " ".join(w.capitalize() if rnd.random() < 0.6 else w for w in words)
            aliases = (
                tuple({rnd.choice(words).capitalize()} - {phrase}) if rnd.random() < 0.4 else ()
            )
            exclude = (f"{rnd.choice(pool)} {words[0]}",) if rnd.random() < 0.2 else ()
            terms.append(Term(phrase, aliases, fuzzy=rnd.random() < 0.8, exclude=exclude))
        lists.append(
            Watchlist(f"l{n}", tuple(terms), fields=rnd.choice([("title",), ("title", "summary")]))
        )
    texts = []
    for _ in range(20):
        words = [_mutate(rnd.choice(pool), rnd) for _ in range(rnd.randint(1, 12))]
        words = [w.capitalize() if rnd.random() < 0.5 else w for w in words]
        seps = [rnd.choice([" ", " ", ", ", "-", "’"]) for _ in words]
        texts.append("".join(w + s for w, s in zip(words, seps, strict=True)))
    return lists, texts  # fmt: skip


@pytest.mark.parametrize("seed", range(30))
def test_index_finds_exactly_what_the_reference_scan_finds(seed: int) -> None:
    lists, texts = _generated_case(seed)
    matcher = Matcher(lists)
    total = 0
    for title, summary in zip(texts, reversed(texts), strict=True):
        expected = scan_reference(lists, title, summary)
        assert matcher.match(title, summary) == expected, (title, summary)
        total += len(expected)
    assert total > 0  # the generated texts do mention terms


def test_reference_scan_agrees_on_the_shipped_style_lists(seed: Matcher) -> None:
    text = "PALESTRA e Palestra, nerazzurro dell'Inter; rossonera la Milano del Milan’s"
    assert seed.match_text(text) == scan_reference(SEED_LISTS, text)


def test_match_is_a_value_object() -> None:
    (m,) = Matcher([wl("x", "Dybala")]).match_text("Dybala")
    assert m == Match("x", "Dybala", "Dybala", 100.0, "title", 0, 6)
    assert unicodedata.is_normalized("NFC", m.matched)


def test_a_huge_token_is_matched_exactly_and_quickly() -> None:
    blob = "x" * 20_000
    matcher = Matcher([wl("x", "Koopmeiners", blob)])
    assert found(matcher, f"Koopmeiner {blob} {blob}y") == [
        ("Koopmeiners", "Koopmeiner"),
        (blob, blob),
    ]


@pytest.mark.parametrize(
    "spelling",
    [
        "Palestra",
        "de Roon",
        "AC Milan",
        "Kvaratskhelia",
        "9ers",
        "2 Giugno",
        "U21",
        "Under 21",
        "ROMA",
        "nerazzurri",
        "Inter-Milan",
        "Leão",
        "Milan  Inter",
        " Milan",
        "Milan ",
        "",
        "Dell'Acqua",
    ],
)
@pytest.mark.parametrize("fuzzy", [True, False])
@pytest.mark.parametrize("proper_nouns", [True, False])
def test_the_quick_compile_of_plain_spellings_is_the_general_one(
    spelling: str, fuzzy: bool, proper_nouns: bool
) -> None:
    """Plain ASCII spellings skip the tokenizer at start-up: same words, same rules."""
    general = tokenized_term_words(spelling, fuzzy, proper_nouns)
    assert term_words(spelling, fuzzy, proper_nouns) == general


def test_patterns_joined_list_by_list_are_those_of_all_lists_at_once() -> None:
    """The cache compiles each list file alone and joins them (bot.indexcache)."""
    lists = [
        Watchlist("a", (Term("Milan", ("Rossoneri",)), Term("Rafael Leão", ("Leao",)))),
        Watchlist("b", (Term("Leao"), Term("Inter", exclude=("Inter Miami",)))),
        Watchlist("c", (Term("Milan"),), fields=("title",)),
    ]
    joined = merge_owners(collect_owners([w]) for w in lists)
    assert joined == collect_owners(lists)
    assert len(joined[term_words("Leao", fuzzy=True)]) == 2  # in lists a and b
