"""Which words are ordinary language, so a fuzzy match on them is not a typo of a name.

"Allegri" is one edit from "allegro", "Bastoni" from "bastone", "Chiesa" from "chiese". A typo
of a name is a rare string; a word readers use every day is a different word that happens to be
close. We ask a word-frequency list (wordfreq, built from subtitles, news, Wikipedia and web
text) how common the word is, instead of keeping a hand-made list of examples.

wordfreq's own lookup first builds a dictionary of every word it knows (over a second of CPU
per language, paid by the first headline that needs it). Only the question "at least once per
million words?" matters here, so plain letters are answered from the set of words in the list's
top frequency bands, built with set operations; anything else asks wordfreq itself. Those sets
can be saved and restored (`lexicon_state`, `restore_lexicon`: the cached index of
`newsbot match` carries them), and wordfreq, slow to import, is imported only when needed.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path

# Zipf 3.0 = once per million words. Everyday Italian words sit well above it ("palestra" 4.4,
# "chiese" 4.7, "bastone" 4.0, "allegro" 3.8); typos and transliterations of names sit near
# zero ("dovbik" 0.0, "gattusi" 0.0).
COMMON_ZIPF = 3.0

# Headlines are Italian, with some English outlets (Football Italia) in the feeds.
LANGUAGES = ("it", "en")

# wordfreq's lists are bands of one centibel each: band i holds the words of frequency
# 10 ** (-i / 100), Zipf 9 - i / 100. So Zipf >= COMMON_ZIPF means band <= this one.
_LAST_COMMON_BAND = round((9 - COMMON_ZIPF) * 100)


_COMMON: dict[str, frozenset[str]] = {}


def _common_words(lang: str) -> frozenset[str]:
    words = _COMMON.get(lang)
    if words is None:
        words = _COMMON[lang] = _read_common_words(lang)
    return words


def _read_common_words(lang: str) -> frozenset[str]:
    """Words of `lang` at COMMON_ZIPF or above, as wordfreq rates them.

    A word listed in two bands gets the later (rarer) one in wordfreq's dictionary, hence the
    removal of every word met again after the common bands.
    """
    bands = frequency_bands(lang)
    common: set[str] = set()
    for band in bands[: _LAST_COMMON_BAND + 1]:
        common.update(band)
    for band in bands[_LAST_COMMON_BAND + 1 :]:
        common.difference_update(band)
    return frozenset(common)


def frequency_bands(lang: str) -> list[list[str]]:
    """wordfreq's best list for `lang` (`get_frequency_list`), read from its data file.

    Importing wordfreq costs more than reading the two lists (it loads langcodes' tables and
    ftfy for its tokenizer), a start-up cost `newsbot match` pays for nothing: the file is a
    gzipped msgpack list, a header then one list of words per band (wordfreq's `read_cBpack`).
    Anything unexpected (another layout, a missing file) asks wordfreq itself.
    """
    spec = importlib.util.find_spec("wordfreq")
    folders = (spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for size in ("large", "small"):  # wordfreq's "best": large when it exists
            path = Path(folder) / "data" / f"{size}_{lang}.msgpack.gz"
            if path.is_file():
                bands = _read_cbpack(path)
                if bands is not None:
                    return bands
    from wordfreq import get_frequency_list

    return get_frequency_list(lang)  # type: ignore[no-any-return]


def _read_cbpack(path: Path) -> list[list[str]] | None:
    import msgpack

    with gzip.open(path, "rb") as stream:
        data = msgpack.load(stream, raw=False)
    header = data[0] if isinstance(data, list) and data else None
    if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
        return None
    return data[1:]  # type: ignore[no-any-return]


@lru_cache(maxsize=65536)
def word_frequency(word: str) -> float:
    """Highest Zipf frequency of the folded `word` across the feeds' languages."""
    from wordfreq import zipf_frequency

    return max(zipf_frequency(word, lang) for lang in LANGUAGES)


@lru_cache(maxsize=65536)
def is_common_word(word: str) -> bool:
    """True when `word` (folded) is ordinary vocabulary rather than a misspelt name."""
    if word.isascii() and word.isalpha() and word.islower():
        # One lower-case token for wordfreq too: its list holds the word as it is.
        return any(word in _common_words(lang) for lang in LANGUAGES)
    return word_frequency(word) >= COMMON_ZIPF


def load_lexicon() -> None:
    """Read the word lists now (a fraction of a second) rather than on the first fuzzy match."""
    for lang in LANGUAGES:
        _common_words(lang)


def lexicon_state() -> dict[str, frozenset[str]]:
    """The common-word sets of every language, read now if needed (to be saved)."""
    load_lexicon()
    return dict(_COMMON)


def restore_lexicon(state: dict[str, frozenset[str]]) -> None:
    """Use sets saved by `lexicon_state` (same wordfreq version) instead of reading the lists."""
    _COMMON.update(state)
