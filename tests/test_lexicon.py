"""The common-word check answers exactly as wordfreq's own Zipf lookup would."""

from __future__ import annotations

from wordfreq import get_frequency_list

from bot.lexicon import (
    COMMON_ZIPF,
    LANGUAGES,
    frequency_bands,
    is_common_word,
    word_frequency,
)


def test_fast_answers_equal_wordfreq_around_the_threshold() -> None:
    """Every plain word of the bands either side of Zipf 3.0, and everyday examples."""
    words = {"palestra", "chiese", "bastone", "allegro", "dovbik", "gattusi", "nerazzurro"}
    for lang in LANGUAGES:
        for band in get_frequency_list(lang)[590:610]:
            words.update(w for w in band if w.isascii() and w.isalpha() and w.islower())
    assert len(words) > 1000
    wrong = [w for w in words if is_common_word(w) != (word_frequency(w) >= COMMON_ZIPF)]
    assert wrong == []
    assert is_common_word("allegro") and not is_common_word("dovbik")


def test_other_words_still_ask_wordfreq() -> None:
    for word in ("città", "Palestra", "2024", "juve2"):
        assert is_common_word(word) == (word_frequency(word) >= COMMON_ZIPF)


def test_the_lists_read_without_wordfreq_are_wordfreqs_own() -> None:
    """Read straight from wordfreq's data files (importing it is slow): the same bands."""
    for lang in LANGUAGES:
        assert frequency_bands(lang) == get_frequency_list(lang)
