"""Feed text made safe to show: real markup only, no invisible controls, bounded, web links only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cleantext import (
    clip,
    drop_invisible,
    drop_undefined_entities,
    has_markup,
    protect_pseudo_tags,
    web_link,
)

FAMILY = "👨\u200d👩\u200d👧"
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
RAINBOW = "🏳\ufe0f\u200d🌈"
THUMB = "👍🏽"


@pytest.mark.parametrize(
    ("text", "markup"),
    [
        ("<p>Vanoli</p>", True),
        ('<a href="https://x.it">x</a>', True),
        ("<IMG SRC=x>", True),
        ("uno<br/>due", True),
        ("<!-- wp:paragraph -->", True),
        ("Conte: <<Siamo pronti>>", False),
        ("<esclusiva> Leao", False),
        ("3 < 4", False),
        ("Inter <3 Milan", False),
        ("Leao, che gol! <VIDEO>", False),
        ("<DATA> e orari della Serie A", False),
        ('<video src="x.mp4">', True),
        ("<VIDEO>gol</VIDEO>", True),
        ("uno<BR>due", True),
        ("<B>Milan</B>", True),
        ("<P>Milan", True),
    ],
)
def test_only_html_elements_are_markup(text: str, markup: bool) -> None:
    assert has_markup(text) is markup


def test_pseudo_tags_are_escaped_and_real_tags_kept() -> None:
    assert protect_pseudo_tags("Conte: <<Siamo pronti>>") == "Conte: &lt;&lt;Siamo pronti>>"
    assert protect_pseudo_tags("<p><esclusiva> 3 < 4</p>") == "<p>&lt;esclusiva> 3 &lt; 4</p>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("evil \u202etxt.exe", "evil txt.exe"),
        ("a\u2066b\u2067c\u2068d\u2069e\u200ef\u200fg\u061ch", "abcdefgh"),
        ("zero\u200bwidth\u2060join\ufeffer\u00adx", "zerowidthjoinerx"),
        ("bell\x07null\x00esc\x1b c1\x9b", "bellnullesc c1"),
        ("tab\tnew\nline\u2028sep", "tab new line sep"),
        ("Kon\u200dé \u3164 fill", "Koné  fill"),
        (f"family {FAMILY} ok", f"family {FAMILY} ok"),
        (f"flag {ENGLAND} ok", f"flag {ENGLAND} ok"),
        (f"{RAINBOW}{THUMB}", f"{RAINBOW}{THUMB}"),
        ("dangling 👨\u200d x", "dangling 👨 x"),
        ("smuggled 😀\U000e0041\U000e0042 tags", "smuggled 😀 tags"),
        ("lone \ud800 surrogate", "lone  surrogate"),
    ],
)
def test_invisible_characters_go_emoji_stay(text: str, expected: str) -> None:
    assert drop_invisible(text) == expected


def test_undefined_entities_are_dropped_defined_ones_kept() -> None:
    assert (
        drop_undefined_entities("Milan &lol9; Inter &amp; &egrave;")
        == "Milan  Inter &amp; &egrave;"
    )


def test_clip_never_cuts_an_emoji_and_marks_the_cut() -> None:
    text = "Gol " + FAMILY * 50
    clipped = clip(text, 40)
    assert len(clipped) <= 40 and clipped.endswith("…")
    assert clipped.removesuffix("…").removeprefix("Gol ").replace(FAMILY, "") == ""
    assert clip("breve", 40) == "breve"
    assert clip("parola " * 20, 40) == ("parola " * 5).strip() + "…"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.tmw.example/a", "https://www.tmw.example/a"),
        ("HTTP://x.it/a", "HTTP://x.it/a"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        (" java\u200bscript:alert(1)", ""),
        ("data:text/html,<script>x</script>", ""),
        ("file:///etc/passwd", ""),
        ("ftp://x.it/a", ""),
        ("http:x.it", ""),
        ("", ""),
    ],
)
def test_only_web_links_are_links(url: str, expected: str) -> None:
    assert web_link(url) == expected


@given(st.text())
def test_cleaning_is_idempotent_and_leaves_no_bidi(text: str) -> None:
    once = drop_invisible(text)
    assert drop_invisible(once) == once
    assert not any(ch in once for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert len(clip(once, 50)) <= 50
