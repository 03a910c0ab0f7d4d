"""What reaches a reader from a hostile or careless title: the outlet's words, nothing invisible,
nothing unbounded, no link that is not a web page. Checked through `newsbot poll --once`, the
Telegram renderer and the real snapshots."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from feedserver import FeedServer
from test_cli import WATCHLISTS, feeds_file, json_lines, newsbot, poll

from bot.cleantext import has_markup
from bot.console import alert_json, alert_text
from bot.items import MAX_TITLE_CHARS
from bot.models import Alert, Feed, Match
from bot.parse import parse_bytes
from bot.telegram.render import render_alert

DATE = "Fri, 10 Oct 2025 11:12:00 +0200"
FAMILY = "👨\u200d👩\u200d👧"
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def rss_items(*items: tuple[str, str]) -> bytes:
    """RSS whose titles and links are written exactly as given (already XML-escaped)."""
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><pubDate>{DATE}</pubDate></item>"
        for title, link in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Test</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


BACKLOG = ("Juventus, allenamento a porte chiuse", "https://www.tmw.example/juve-1")


def hostile(batch: int) -> list[tuple[str, str]]:
    """Titles as an attacker or a broken CMS writes them; each batch is new news, and each item
    is about another player (so no two are one story)."""
    quoted, hidden, scripted, endless = [
        ("Palestra", "Barella", "Dovbyk", "Maignan"),
        ("Lautaro", "Pulisic", "Lukaku", "Dybala"),
    ][batch]
    said, tag = [("Siamo pronti", "esclusiva"), ("Resto qui", "ufficiale")][batch]
    return [
        (f"{quoted}: &lt;&lt;{said}&gt;&gt; &lt;{tag}&gt; 3 &lt; 4", f"https://x.example/1{batch}"),
        (
            f"{hidden} \u202eatlanta\u2066 ok\u2069 &amp;lol9; festa {FAMILY} {tag}",
            f"https://x.example/2{batch}",
        ),
        (f"{scripted}, il gol del weekend {tag}", "javascript:alert(document.cookie)"),
        (f"{endless} {tag} " + "lunghissimo " * 5000, f"https://x.example/4{batch}"),
    ]


def test_hostile_titles_reach_console_text_and_json_clean(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/feed.xml", rss_items(BACKLOG))
    feeds = feeds_file(tmp_path, {"Outlet": feed_server.url("/feed.xml")})
    assert poll(tmp_path, feeds).returncode == 0  # the backlog

    # Printed for a person: nothing longer than the clipped title.
    feed_server.set("/feed.xml", rss_items(*hostile(0), BACKLOG))
    args = ["poll", "--once", "--console", "--feeds", str(feeds), "--watchlists", str(WATCHLISTS)]
    text = newsbot([*args, "--db", f"sqlite:///{tmp_path / 'state.db'}"], cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Palestra: <<Siamo pronti>> <esclusiva> 3 < 4" in text.stdout
    assert f"Barella atlanta ok festa {FAMILY} esclusiva" in text.stdout
    assert "javascript" not in text.stdout and not BIDI.search(text.stdout)
    assert "&lol9;" not in text.stdout
    assert max(len(line) for line in text.stdout.splitlines()) <= MAX_TITLE_CHARS + 2

    # As JSON: the same words, no link rather than a script, the same bound.
    feed_server.set("/feed.xml", rss_items(*hostile(1), BACKLOG))
    result = poll(tmp_path, feeds)
    assert result.returncode == 0, result.stderr
    alerts = json_lines(result.stdout)
    titles = [str(a["title"]) for a in alerts]
    assert "Lautaro: <<Resto qui>> <ufficiale> 3 < 4" in titles
    assert f"Pulisic atlanta ok festa {FAMILY} ufficiale" in titles
    assert not any(BIDI.search(t) or "&lol9;" in t for t in titles)
    (no_link,) = [a for a in alerts if str(a["title"]).endswith("weekend ufficiale")]
    assert no_link["url"] == ""
    assert "javascript" not in result.stdout
    assert "1 item link not http(s), dropped" in result.stderr
    (long,) = [t for t in titles if t.startswith("Dybala ufficiale lung")]
    assert len(long) <= MAX_TITLE_CHARS and long.endswith("…")
    assert max(len(line) for line in result.stdout.splitlines()) < 2000


def test_console_bounds_even_a_story_stored_before_titles_were_clipped() -> None:
    stored = make_alert("Palestra \u202e" + "lunghissimo " * 5000, "javascript:alert(1)")

    line = alert_json(stored)
    text = alert_text(stored)

    assert len(str(line["title"])) <= MAX_TITLE_CHARS and not BIDI.search(str(line["title"]))
    assert line["url"] == ""
    assert "javascript" not in text and max(len(row) for row in text.splitlines()) <= 302


def make_alert(title: str, url: str) -> Alert:
    return Alert(
        id=1,
        subscriber_id=1,
        chat_id="1",
        kind="alert",
        story_id="s",
        title=title,
        url=url,
        source="Outlet",
        published=datetime(2025, 10, 10, tzinfo=UTC),
        matches=(Match("watch:palestra", "Palestra", "Palestra", 100.0),),
    )


def test_angle_bracket_quotes_are_escaped_for_telegram() -> None:
    feed = Feed(name="Outlet", url="https://example.org/feed.xml")
    (item,) = parse_bytes(rss_items(hostile(0)[0]), feed).items
    alert = make_alert(item.title, item.link)
    rendered = render_alert(alert)
    assert (
        "<b>Palestra: &lt;&lt;Siamo pronti&gt;&gt; &lt;esclusiva&gt; 3 &lt; 4</b>" in rendered.html
    )
    assert "Palestra: <<Siamo pronti>> <esclusiva> 3 < 4" in rendered.plain


def test_a_telegram_alert_carries_no_bidi_control_and_whole_emoji() -> None:
    feed = Feed(name="Outlet", url="https://example.org/feed.xml")
    (item,) = parse_bytes(rss_items(hostile(0)[1]), feed).items

    rendered = render_alert(make_alert(item.title, item.link))

    assert not BIDI.search(rendered.html) and "&lol9;" not in rendered.html
    assert f"<b>Barella atlanta ok festa {FAMILY} esclusiva</b>" in rendered.html


def test_real_snapshots_lose_their_markup_and_keep_their_words(real_feeds: Path) -> None:
    feed = Feed(name="Real", url="https://example.org/feed.xml")
    titles: list[str] = []
    for path in sorted(real_feeds.glob("*.xml")):
        items = parse_bytes(path.read_bytes(), feed).items
        titles += [i.title for i in items]
        for item in items:
            for text in (item.title, item.summary):
                assert not has_markup(text), (path.name, text)
                assert html.unescape(text) == text or "&" not in text, (path.name, text)
                assert not BIDI.search(text)
    assert len(titles) >= 140
    wrapped = [t for t in titles if t.startswith("Medvedev e il terribile racconto")]
    assert wrapped == [
        'Medvedev e il terribile racconto della fuga dalla guerra: "Sembrava un film, e invece..."'
    ]
    assert json.dumps(titles, ensure_ascii=False).count("<p>") == 0
