"""Normalisation: what folds together, where words split, and that offsets point at the original."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bot.text import _tokenize_ascii, _tokenize_unicode, fold, tokenize


def words(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def test_fold_strips_accents_and_case() -> None:
    assert fold("Nicolò Koné ÇALHANOĞLU") == "nicolo kone calhanoglu"


def test_fold_handles_letters_nfkd_leaves_alone() -> None:
    assert fold("Ødegaard Łukasz Yıldız Weiß Æther Đorđević Guðmundsson") == (
        "odegaard lukasz yildiz weiss aether dordevic gudmundsson"
    )


def test_fold_unifies_apostrophes_and_dashes() -> None:
    assert fold("dell’Atalanta all‘Inter l`Aquila") == "dell'atalanta all'inter l'aquila"
    assert fold("Juve–Milan Inter—Roma Napoli−Lazio") == "juve-milan inter-roma napoli-lazio"


def test_fold_applies_compatibility_forms() -> None:
    assert fold("ﬁnale ２０２６ Ｍilan") == "finale 2026 milan"


def test_elision_apostrophes_and_dashes_split_words() -> None:
    assert words("dell’Atalanta all'Inter Juve-Milan Milan's Juve–Napoli") == [
        "dell", "atalanta", "all", "inter", "juve", "milan", "milan", "s", "juve", "napoli",
    ]  # fmt: skip


def test_punctuation_is_a_boundary() -> None:
    assert words("«Palestra», (Milan); Dybala? Sì!") == ["palestra", "milan", "dybala", "si"]


def test_offsets_point_into_the_original_text() -> None:
    text = "Ødegaard e l’Inter: «Çalhanoğlu»"
    for tok in tokenize(text):
        assert text[tok.start : tok.end] == tok.raw
    assert [t.raw for t in tokenize(text)] == ["Ødegaard", "e", "l", "Inter", "Çalhanoğlu"]


def test_combining_accent_stays_inside_the_word() -> None:
    text = "Nicolo\u0300 Barella"  # ò typed as o + combining grave
    toks = tokenize(text)
    assert [t.text for t in toks] == ["nicolo", "barella"]
    assert toks[0].raw == "Nicolo\u0300"


def test_capitalisation_flags() -> None:
    palestra, gym, shout = tokenize("Palestra palestra PALESTRA")
    assert palestra.capitalised and not palestra.upper
    assert not gym.capitalised and not gym.upper
    assert shout.capitalised and shout.upper


def test_special_letters_expand_with_correct_offsets() -> None:
    text = "Weiß-Straße"
    toks = tokenize(text)
    assert [t.text for t in toks] == ["weiss", "strasse"]
    assert [(t.start, t.end) for t in toks] == [(0, 4), (5, 11)]


@given(st.text())
def test_tokens_are_ordered_non_overlapping_slices(text: str) -> None:
    toks = tokenize(text)
    previous_end = 0
    for tok in toks:
        assert previous_end <= tok.start < tok.end <= len(text)
        assert text[tok.start : tok.end] == tok.raw
        assert tok.text and all(c.isalnum() for c in tok.text)
        previous_end = tok.end


@given(st.text())
@example("ŉ")  # NFKC makes it "ʼn": a modifier apostrophe, folded only on a second pass
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_fast_path_agrees_with_the_general_path(text: str) -> None:
    assert _tokenize_ascii(text) == _tokenize_unicode(text)
