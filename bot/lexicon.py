"""Which words are ordinary language, so a fuzzy match on them is not a typo of a name.

"Allegri" is one edit from "allegro", "Bastoni" from "bastone", "Chiesa" from "chiese". A typo
of a name is a rare string; a word readers use every day is a different word that happens to be
close. We ask a word-frequency list (wordfreq, built from subtitles, news, Wikipedia and web
text) how common the word is, instead of keeping a hand-made list of examples.
"""

from __future__ import annotations

from functools import lru_cache

from wordfreq import zipf_frequency

# Zipf 3.0 = once per million words. Everyday Italian words sit well above it ("palestra" 4.4,
# "chiese" 4.7, "bastone" 4.0, "allegro" 3.8); typos and transliterations of names sit near
# zero ("dovbik" 0.0, "gattusi" 0.0).
COMMON_ZIPF = 3.0

# Headlines are Italian, with some English outlets (Football Italia) in the feeds.
LANGUAGES = ("it", "en")


@lru_cache(maxsize=65536)
def word_frequency(word: str) -> float:
    """Highest Zipf frequency of the folded `word` across the feeds' languages."""
    return max(zipf_frequency(word, lang) for lang in LANGUAGES)


def is_common_word(word: str) -> bool:
    """True when `word` (folded) is ordinary vocabulary rather than a misspelt name."""
    return word_frequency(word) >= COMMON_ZIPF
