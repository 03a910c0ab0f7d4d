"""Canonical URLs: the spellings of one article collapse to one dedup key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import urls
from bot.urls import canonical_url, site_host

ARTICLE = "https://www.tuttosport.com/news/calcio/serie-a/2026/03/02-147010187/vanoli_duro"


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        # tracking parameters
        (ARTICLE + "?utm_source=rss&utm_medium=feed&utm_campaign=x", ARTICLE),
        (ARTICLE + "?fbclid=IwAR0abc", ARTICLE),
        (ARTICLE + "?gclid=abc&dclid=d&msclkid=m", ARTICLE),
        (ARTICLE + "?ocid=msedgntp&cvid=1", ARTICLE + "?cvid=1"),
        (ARTICLE + "?mc_cid=1&mc_eid=2&_ga=3&igshid=4", ARTICLE),
        (ARTICLE + "?UTM_Source=rss", ARTICLE),
        (ARTICLE + "?id=5&utm_source=rss", ARTICLE + "?id=5"),
        # fragment, case, ports, trailing slash
        (ARTICLE + "#comments", ARTICLE),
        ("HTTPS://WWW.Tuttosport.COM/news/Calcio", "https://www.tuttosport.com/news/Calcio"),
        ("https://www.tuttosport.com:443/news/", "https://www.tuttosport.com/news"),
        ("http://www.tuttosport.com:80/news", "https://www.tuttosport.com/news"),
        ("https://www.tuttosport.com:8443/news", "https://www.tuttosport.com:8443/news"),
        (ARTICLE + "/", ARTICLE),
        ("https://www.tuttosport.com/", "https://www.tuttosport.com/"),
        ("https://www.tuttosport.com", "https://www.tuttosport.com/"),
        # http and https of the same page are one page
        ("http://www.tuttosport.com/news/1", "https://www.tuttosport.com/news/1"),
        # query order does not matter; meaningful parameters stay
        (
            "https://www.tuttomercatoweb.com/rss/?s=1&a=2",
            "https://www.tuttomercatoweb.com/rss?a=2&s=1",
        ),
        ("https://x.it/a?b=2&a=1", "https://x.it/a?a=1&b=2"),
        ("https://x.it/a?", "https://x.it/a"),
        # percent-encoding and dot segments
        ("https://x.it/a%7eb/../c", "https://x.it/c"),
        ("https://x.it/l%e2%80%99inter", "https://x.it/l%E2%80%99inter"),
        (
            "//xml2.corriereobjects.it/rss/homepage.xml",
            "https://xml2.corriereobjects.it/rss/homepage.xml",
        ),
        ("  https://x.it/a \n", "https://x.it/a"),
    ],
)
def test_canonical_url_table(given_url: str, expected: str) -> None:
    assert canonical_url(given_url) == expected


@pytest.mark.parametrize(
    "junk",
    ["", "not a url", "http://[::1", "mailto:redazione@x.it", "javascript:void(0)", "/relative"],
)
def test_unparseable_input_comes_back_stripped(junk: str) -> None:
    assert canonical_url(f"  {junk} ") == junk


def test_tracking_variants_of_one_link_are_one_key() -> None:
    variants = [
        ARTICLE,
        ARTICLE + "/",
        ARTICLE + "?utm_source=twitter",
        ARTICLE + "?fbclid=abc#top",
        ARTICLE.replace("https://www.", "http://WWW."),
    ]
    assert len({canonical_url(v) for v in variants}) == 1


def test_different_articles_stay_different() -> None:
    assert canonical_url(ARTICLE + "?id=1") != canonical_url(ARTICLE + "?id=2")
    assert canonical_url(ARTICLE) != canonical_url(ARTICLE + "_bis")


@given(st.text(max_size=200))
def test_canonical_url_never_raises(text: str) -> None:
    assert isinstance(canonical_url(text), str)


@given(st.text(alphabet="abc/?&=#%:.", max_size=40))
def test_canonical_url_is_idempotent_on_web_urls(tail: str) -> None:
    once = canonical_url("https://x.it/" + tail)
    assert canonical_url(once) == once


def test_site_host() -> None:
    assert site_host("https://WWW.Gazzetta.it/rss/calcio.xml") == "gazzetta.it"
    assert site_host("https://sport.sky.it:8443/rss") == "sport.sky.it"
    assert site_host("not a url") == ""


@given(
    st.sampled_from(["http://", "https://", "HTTPS://", "//"]),
    st.text(alphabet="ab-.AZ9", min_size=1, max_size=20),
    st.text(alphabet="ab/.-_~%é ?=&#:A", max_size=40),
)
def test_plain_links_skip_url_normalize_with_the_same_result(
    scheme: str, host: str, tail: str
) -> None:
    """Links url-normalize would not change take a fast path; it must give the same key."""
    url = scheme + host + "/" + tail
    fast = urls._plain(url)
    if fast is not None:
        assert fast == urls._canonical_slow(url)
