"""Normalising one entry: plain text, UTC times and identity keys, as users and the store need."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.items import (
    MAX_TITLE_CHARS,
    clean_summary,
    item_from_entry,
    parse_time,
    plain_text,
    unsafe_link,
)
from bot.models import Feed

FEED = Feed(name="Tuttosport", url="https://www.tuttosport.com/rss/calcio")
FETCHED = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
LINK = "https://www.tuttosport.com/news/calcio/2026/03/06-1/dybala"


def entry(**fields: object) -> dict[str, object]:
    return {"title": "Dybala operato", "link": LINK, **fields}


def normalise(**fields: object):
    return item_from_entry(entry(**fields), FEED, site="tuttosport.com", fetched_at=FETCHED)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # what feedparser hands over after one XML decode of Tuttosport's double escaping
        ("&lt;p&gt;Vanoli duro con la squadra&lt;/p&gt;", "Vanoli duro con la squadra"),
        ("&amp;lt;p&amp;gt;Vanoli&amp;lt;/p&amp;gt;", "Vanoli"),
        ("<p>Vanoli</p>", "Vanoli"),
        ("d&#x27;urgenza", "d'urgenza"),
        ("d&amp;#x27;urgenza", "d'urgenza"),
        ("Oggi in TV, il 32Â° turno di serie B", "Oggi in TV, il 32° turno di serie B"),
        ("NicolÃ² Barella, perchÃ©", "Nicolò Barella, perché"),
        ("Il Tottenham cade ancora ", "Il Tottenham cade ancora"),
        ("Gioco  al massacro\n\t non ci sto", "Gioco al massacro non ci sto"),
        ("Koné\u00a0e\u200bLucumì", "Koné eLucumì"),
        ("“Il gol dello 0-2″ andava annullato", "“Il gol dello 0-2” andava annullato"),
        ("Record sul giro: 1'21″ netti", "Record sul giro: 1'21″ netti"),
        ("“Forza Napoli”", "“Forza Napoli”"),
        ("if (successo == napoletano) { a < b }", "if (successo == napoletano) { a < b }"),
        ("Inter <3 Milan", "Inter <3 Milan"),
        ("AT&T & Co", "AT&T & Co"),
        ("<p>uno</p><p>due</p><br/>tre", "uno due tre"),
        ("<script>alert(1)</script>Titolo", "Titolo"),
        ("<!-- wp:paragraph -->Ciao<!-- /wp -->", "Ciao"),
        ("", ""),
        # the outlet's own angle brackets are words, not markup
        ("Conte: &lt;&lt;Siamo pronti&gt;&gt;", "Conte: <<Siamo pronti>>"),
        ("Conte: <<Siamo pronti>>", "Conte: <<Siamo pronti>>"),
        ("<esclusiva> Leao rinnova", "<esclusiva> Leao rinnova"),
        ("&lt;p&gt;Leao: &lt;esclusiva&gt; 3 &lt; 4&lt;/p&gt;", "Leao: <esclusiva> 3 < 4"),
        ("<p>Conte: <<Siamo pronti>></p>", "Conte: <<Siamo pronti>>"),
        ("<b>Milan</b> &lol9; Inter", "Milan Inter"),
        ("&lt;p&gt;Leao, che gol! &lt;VIDEO&gt;&lt;/p&gt;", "Leao, che gol! <VIDEO>"),
        ("Milan &amp;lol9; Inter", "Milan Inter"),
        ("Milan\u202e naliM \u2066x\u2069", "Milan naliM x"),
        ("Festa 👨\u200d👩\u200d👧 a Milano", "Festa 👨\u200d👩\u200d👧 a Milano"),
    ],
)
def test_plain_text(raw: str, expected: str) -> None:
    assert plain_text(raw) == expected


def test_escaped_html_summary_with_image_keeps_only_the_words() -> None:
    summary = (
        '&lt;p&gt;&lt;img src="https://img.example/1.jpg" title="Toti" alt="Toti" /&gt;'
        "&lt;p&gt;Le parole del governatore&lt;/p&gt;"
    )
    assert clean_summary(summary, "Toti a Spinelli") == "Le parole del governatore"


@pytest.mark.parametrize(
    "footer",
    [
        "L'articolo Gattuso chiama Verratti sembra essere il primo su il Napolista.",
        "L’articolo Gattuso chiama Verratti sembra essere il primo su il Napolista.",
        'L\'articolo <a href="https://x.it/1">Gattuso chiama Verratti</a> proviene da '
        '<a href="https://x.it">CalcioMercato.it</a>.',
        "The post Gattuso chiama Verratti appeared first on Football Italia.",
    ],
)
def test_wordpress_footers_are_removed_from_summaries(footer: str) -> None:
    assert clean_summary(f"<p>Il ct ha deciso.</p> {footer}", "Gattuso") == "Il ct ha deciso."
    assert clean_summary(footer, "Gattuso chiama Verratti") == ""


def test_cms_repetition_and_title_echo_are_dropped() -> None:
    paragraph = "Il sindaco di Genova: «Le mie parole sui maiali intercettate?»"
    assert clean_summary(paragraph * 3, "Bucci") == paragraph
    assert clean_summary("Dybala operato.", "Dybala operato") == ""


def test_item_fields() -> None:
    item = normalise(
        title="&lt;p&gt;Dybala operato&lt;/p&gt;",
        summary="<p>Artroscopia al ginocchio</p>",
        published="Fri, 06 Mar 2026 08:00:00 +0100",
    )
    assert item is not None
    assert item.title == "Dybala operato"
    assert item.summary == "Artroscopia al ginocchio"
    assert item.link == LINK
    assert item.source == "Tuttosport" and item.feed_url == FEED.url
    assert item.published == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)


def test_content_is_used_when_there_is_no_summary() -> None:
    item = normalise(content=[{"type": "text/html", "value": "<p>Testo completo</p>"}])
    assert item is not None and item.summary == "Testo completo"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fri, 06 Mar 2026 08:00:00 +0100", datetime(2026, 3, 6, 7, 0, tzinfo=UTC)),
        ("Sun, 7 Sep 2025 09:07:09 +0200", datetime(2025, 9, 7, 7, 7, 9, tzinfo=UTC)),
        ("Fri, 06 Mar 2026 08:00:00 GMT", datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),
        ("Fri, 06 Mar 2026 08:00:00 +0000", datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),
        ("Fri, 06 Mar 2026 08:00:00 -0000", datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),
        # no zone: Italian local time (CET in winter, CEST in summer)
        ("Fri, 06 Mar 2026 08:00:00", datetime(2026, 3, 6, 7, 0, tzinfo=UTC)),
        ("Sun, 07 Sep 2025 08:00:00", datetime(2025, 9, 7, 6, 0, tzinfo=UTC)),
        ("Fri, 06 Mar 2026 08:00:00 CET", datetime(2026, 3, 6, 7, 0, tzinfo=UTC)),
        ("2026-03-06T08:00:00+01:00", datetime(2026, 3, 6, 7, 0, tzinfo=UTC)),
        ("2026-03-06T08:00:00Z", datetime(2026, 3, 6, 8, 0, tzinfo=UTC)),
        # in the near future (clock skew): kept; far future: clamped to the fetch time
        ("Fri, 06 Mar 2026 09:03:00 +0000", datetime(2026, 3, 6, 9, 3, tzinfo=UTC)),
        ("Sat, 06 Mar 2027 08:00:00 +0000", FETCHED),
        ("Fri, 06 Mar 2026 12:00:00 +0100", FETCHED),
        # missing or unreadable
        ("venerdì sei marzo", None),
        ("Thu, 01 Jan 1970 00:00:00 +0000", None),
        ("", None),
    ],
)
def test_published_time_is_utc(raw: str, expected: datetime | None) -> None:
    item = normalise(published=raw)
    assert item is not None
    assert item.published == expected
    if item.published is not None:
        assert item.published.utcoffset() == timedelta(0)


def test_updated_is_used_when_published_is_missing() -> None:
    item = normalise(updated="2026-03-06T07:30:00Z")
    assert item is not None and item.published == datetime(2026, 3, 6, 7, 30, tzinfo=UTC)


def test_keys_guid_scoped_by_site_then_url() -> None:
    item = normalise(id="147010187", link=LINK + "?utm_source=rss")
    assert item is not None
    assert item.keys == ("guid:tuttosport.com:147010187", f"url:{LINK}")
    assert item.key == "guid:tuttosport.com:147010187"


def test_same_guid_at_two_outlets_is_two_items() -> None:
    one = item_from_entry(entry(id="12345"), FEED, site="tuttosport.com", fetched_at=FETCHED)
    other_feed = Feed(name="Corriere dello Sport", url="https://www.corrieredellosport.it/rss")
    other = item_from_entry(
        entry(id="12345", link="https://www.corrieredellosport.it/news/12345"),
        other_feed,
        site="corrieredellosport.it",
        fetched_at=FETCHED,
    )
    assert one is not None and other is not None
    assert not set(one.keys) & set(other.keys)


def test_permalink_guid_needs_no_separate_key() -> None:
    item = normalise(id=LINK + "/", guidislink=False)
    assert item is not None and item.keys == (f"url:{LINK}",)


def test_guid_alone_gives_link_when_it_is_a_permalink() -> None:
    item = item_from_entry(
        {"title": "Dybala operato", "id": LINK, "guidislink": True},
        FEED,
        site="tuttosport.com",
        fetched_at=FETCHED,
    )
    assert item is not None and item.link == LINK and item.keys == (f"url:{LINK}",)


def test_links_differing_only_in_tracking_share_the_url_key() -> None:
    plain = normalise(link=LINK)
    tracked = normalise(link=LINK + "/?utm_source=facebook&fbclid=x#comments")
    assert plain is not None and tracked is not None
    assert plain.keys == tracked.keys


def test_edited_title_keeps_the_keys() -> None:
    before = normalise(id="147069685", title="Tudor cade ancora: terza sconfitta su tre")
    after = normalise(id="147069685", title="Tudor cade ancora: quinta sconfitta consecutiva")
    assert before is not None and after is not None
    assert before.keys == after.keys


def test_feed_dropping_its_guids_still_shares_a_key() -> None:
    with_guid = normalise(id="147069685")
    without = normalise()
    assert with_guid is not None and without is not None
    assert set(with_guid.keys) & set(without.keys)


def test_title_fingerprint_is_the_last_resort() -> None:
    first = item_from_entry(
        {"title": "Dybala operato al ginocchio"}, FEED, site="tuttosport.com", fetched_at=FETCHED
    )
    same = item_from_entry(
        {"title": " DYBALA operato  al ginocchio! "},
        FEED,
        site="tuttosport.com",
        fetched_at=FETCHED,
    )
    other = item_from_entry(
        {"title": "Dybala operato al ginocchio"},
        Feed(name="TMW", url="https://www.tuttomercatoweb.com/rss/"),
        site="tuttomercatoweb.com",
        fetched_at=FETCHED,
    )
    assert first is not None and same is not None and other is not None
    assert len(first.keys) == 1 and first.key.startswith(f"fp:{FEED.url}:")
    assert first.keys == same.keys
    assert first.keys != other.keys  # scoped by feed


def test_relative_link_is_made_absolute() -> None:
    item = normalise(link="/news/calcio/1")
    assert item is not None and item.link == "https://www.tuttosport.com/news/calcio/1"


def test_a_huge_title_is_clipped() -> None:
    item = normalise(title="Leao " * 10_000)
    assert item is not None
    assert len(item.title) <= MAX_TITLE_CHARS and item.title.endswith("…")


@pytest.mark.parametrize(
    "link", ["javascript:alert(document.cookie)", "data:text/html,x", "ftp://x.it/a"]
)
def test_a_link_that_is_not_http_is_dropped_and_the_item_kept(link: str) -> None:
    item = normalise(link=link)
    assert item is not None and item.title == "Dybala operato"
    assert item.link == ""
    assert unsafe_link(entry(link=link), FEED.url)
    assert not unsafe_link(entry(), FEED.url)


def test_entry_without_title_and_link_is_dropped() -> None:
    assert item_from_entry({"summary": "solo testo"}, FEED, site="x", fetched_at=FETCHED) is None
    untitled = item_from_entry({"link": LINK}, FEED, site="x", fetched_at=FETCHED)
    assert untitled is not None and untitled.title == ""


@given(st.text(max_size=300))
def test_plain_text_is_always_tidy(text: str) -> None:
    cleaned = plain_text(text)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned and "\n" not in cleaned


@given(st.datetimes(timezones=st.none() | st.timezones()))
def test_any_date_text_gives_utc_or_none(moment: datetime) -> None:
    for text in (moment.isoformat(), moment.strftime("%a, %d %b %Y %H:%M:%S %z")):
        parsed = parse_time(text)
        assert parsed is None or parsed.utcoffset() == timedelta(0)
