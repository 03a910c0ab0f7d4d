"""Free text and near misses, pinned: what the bot understands of what people actually type."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.telegram.intents import Intent, intent, nearest, nearest_command, ordinary_word
from bot.watchlists import load_watchlists

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped() -> list:
    watchlists, problems = load_watchlists(ROOT / "watchlists")
    assert problems == []
    return watchlists


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aiuto", Intent("help")),
        ("Aiuto!", Intent("help")),
        ("help", Intent("help")),
        ("?", Intent("help")),
        ("come funziona?", Intent("help")),
        ("grazie!", Intent("thanks")),
        ("Grazie mille", Intent("thanks")),
        ("thanks", Intent("thanks")),
        ("ciao", Intent("greeting")),
        ("Buongiorno!", Intent("greeting")),
        ("hello", Intent("greeting")),
        ("voglio seguire il Milan", Intent("follow", "Milan")),
        ("Vorrei seguire la Juve", Intent("follow", "Juve")),
        ("segui Palestra", Intent("follow", "Palestra")),
        ("follow Juventus", Intent("follow", "Juventus")),
        ("I want to follow Christian Pulisic", Intent("follow", "Christian Pulisic")),
        ("notizie su Leão", Intent("follow", "Leão")),
        ("Leão", Intent("unknown", "Leão")),
    ],
)
def test_intent(text: str, expected: Intent) -> None:
    assert intent(text) == expected


@pytest.mark.parametrize(
    ("query", "kind", "value"),
    [
        ("Pulsic", "term", "Christian Pulisic"),
        ("pulisic", "term", "Christian Pulisic"),
        ("juve", "list", "juventus"),
        ("Juventus", "list", "juventus"),
        ("milan", "list", "milan"),
        ("Vlahovic", "term", "Dušan Vlahović"),
        ("interr", "list", "inter"),
    ],
)
def test_nearest_known_list_or_term(shipped: list, query: str, kind: str, value: str) -> None:
    first = nearest(query, shipped)[0]
    assert (first.kind, first.value) == (kind, value)


def test_nothing_near_is_nothing(shipped: list) -> None:
    assert nearest("qwertyuiop", shipped) == []
    assert nearest("xy", shipped) == []


def test_ordinary_words_and_commands() -> None:
    assert ordinary_word("palestra")
    assert not ordinary_word("Palestra")
    assert not ordinary_word("pulisic")
    assert nearest_command("wacth", ["watch", "unwatch", "list"]) == "watch"
    assert nearest_command("zzz", ["watch", "unwatch", "list"]) is None
