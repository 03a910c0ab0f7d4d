"""Parsing feeds as they arrive: real Italian snapshots and synthetic charset/malformed fixtures,
served over a loopback socket, fetched with httpx and parsed from bytes."""

from __future__ import annotations

import gc
import os
import re
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from feedserver import FeedServer
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.parse
from bot.fetch import fetch, make_client
from bot.models import Feed, Item
from bot.parse import decode_feed, parse, parse_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
FETCHED = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
FOOTER = re.compile(r"sembra essere il primo su|proviene da CalcioMercato", re.IGNORECASE)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(connect_timeout=1, read_timeout=2) as http:
        yield http


async def poll(
    server: FeedServer,
    client: httpx.AsyncClient,
    name: str,
    body: bytes,
    *,
    content_type: str = "application/rss+xml",
) -> tuple[list[Item], str | None]:
    """Serve `body`, fetch it over the socket and parse what came back."""
    path = f"/{name}"
    server.set(path, body, headers={"Content-Type": content_type})
    feed = Feed(name=name, url=server.url(path))
    fetched = await fetch(client, feed, None)
    assert fetched.status == "ok", fetched.error
    result = await parse(fetched.body, feed, content_type=fetched.content_type, fetched_at=FETCHED)
    return result.items, result.warning


def by_title(items: list[Item], start: str) -> Item:
    matches = [item for item in items if item.title.startswith(start)]
    assert len(matches) == 1, [item.title for item in items]
    return matches[0]


async def test_every_real_snapshot_yields_clean_items(
    real_feeds: Path, feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    files = sorted(real_feeds.glob("*.xml"))
    assert len(files) >= 16
    for path in files:
        items, warning = await poll(feed_server, client, path.name, path.read_bytes())
        assert warning is None, f"{path.name}: {warning}"
        assert len(items) >= 3, path.name
        for item in items:
            where = f"{path.name}: {item.title!r}"
            assert item.title and not MARKUP.search(item.title), where
            assert item.title == item.title.strip() and "  " not in item.title, where
            assert not MARKUP.search(item.summary), where
            assert not FOOTER.search(item.summary), where
            assert item.keys and all(item.keys), where
            assert item.keys[0].startswith(("guid:", "url:")), where
            assert item.link.startswith("https://"), where
            assert item.published is not None and item.published.tzinfo is UTC, where
            assert item.source == path.name


async def test_double_escaped_titles_come_out_bare(
    real_feeds: Path, feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    tuttosport = (real_feeds / "prospect-tuttosport-2026-03-03.xml").read_bytes()
    corriere = (real_feeds / "prospect-corrieredellosport-2026-03-06.xml").read_bytes()
    items, _ = await poll(feed_server, client, "tuttosport", tuttosport)
    vanoli = by_title(items, "Vanoli duro")
    assert vanoli.title == (
        'Vanoli duro con la squadra: "Si facciano un esame di coscienza. Dispiaciuto per Rugani"'
    )
    items, _ = await poll(feed_server, client, "corriere", corriere)
    assert by_title(items, "Clamoroso a Verona").title == (
        "Clamoroso a Verona, presidente-allenatore si autoesonera dopo 44 anni!"
    )
    tudor = by_title(items, "Il Tottenham di Tudor")
    assert tudor.title.endswith("Adesso c'è il rischio retrocessione")  # trailing space gone


async def test_wordpress_footers_and_double_primes(
    real_feeds: Path, feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    napolista = (real_feeds / "prospect-ilnapolista-2026-02-23.xml").read_bytes()
    items, _ = await poll(feed_server, client, "napolista", napolista)
    calvarese = by_title(items, "Calvarese")
    assert calvarese.title.endswith("per convalidare il gol dello 0-2”")
    assert calvarese.summary.endswith('"C\'è stata zero uniformità"')

    calciomercato = (real_feeds / "prospect-calciomercato-it-2026-03-06.xml").read_bytes()
    items, _ = await poll(feed_server, client, "calciomercato", calciomercato)
    assert all(item.summary == "" for item in items)  # the description was only the footer
    assert by_title(items, "Giacomo Bonaventura").title == (
        "Giacomo Bonaventura si ritira dal calcio, è ufficiale"
    )


async def test_original_envelopes_cdata_escaped_html_and_zones(
    real_feeds: Path, feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    ansa = (real_feeds / "edicola-fixture-ansa-primopiano-2026-09-07.xml").read_bytes()
    items, _ = await poll(feed_server, client, "ansa", ansa)
    venezia = by_title(items, "Venezia, il programma di oggi")
    assert venezia.published == datetime(2026, 9, 7, 7, 7, 9, tzinfo=UTC)  # 09:07:09 +0200

    corriere = (real_feeds / "edicola-fixture-corriere-homepage-2024-05-13.xml").read_bytes()
    items, _ = await poll(feed_server, client, "corriere-home", corriere)
    bucci = by_title(items, "IL SINDACO DI GENOVA")
    assert "Gioco al massacro" in bucci.title
    assert bucci.summary.count("Il sindaco di Genova") == 1  # the CMS pasted it twice
    assert "corriereobjects" not in bucci.summary  # the <img> went with the markup
    assert bucci.published == datetime(2024, 5, 13, 6, 7, 51, tzinfo=UTC)


CHARSET_CASES = [
    # (fixture, Content-Type sent, warning expected to mention)
    ("latin1-declared.xml", "application/rss+xml", None),
    ("latin1-declared.xml", "text/xml; charset=ISO-8859-1", None),
    ("latin1-declared.xml", "text/xml; charset=utf-8", "declared charset utf-8"),
    ("latin1-declared-utf8.xml", "application/rss+xml", "declared charset utf-8"),
    ("utf8-declared-latin1.xml", "application/rss+xml", "declared charset iso-8859-1"),
    ("cp1252-declared-latin1.xml", "application/rss+xml", None),
    ("cp1252-undeclared.xml", "application/xml", "no charset declared"),
    ("cp1252-undeclared.xml", "text/xml; charset=windows-1252", None),
]


@pytest.mark.parametrize(("fixture", "content_type", "warning_part"), CHARSET_CASES)
async def test_charsets_declared_undeclared_or_wrong(
    feed_server: FeedServer,
    client: httpx.AsyncClient,
    fixture: str,
    content_type: str,
    warning_part: str | None,
) -> None:
    body = (FIXTURES / fixture).read_bytes()
    items, warning = await poll(feed_server, client, fixture, body, content_type=content_type)

    text = " ".join(f"{item.title} {item.summary}" for item in items)
    assert "Nicolò Barella" in text and "perché" in text
    assert "\ufffd" not in text and "Ã" not in text and not re.search("[\x80-\x9f]", text)
    if fixture.startswith("cp1252"):
        assert items[0].title == "“Nicolò Barella vale 80 milioni €”, perché lo dice l’Inter"
        assert items[0].summary == "Prezzo: 80 € – trattativa"
    else:
        assert "Koné" in text
    if warning_part is None:
        assert warning is None
    else:
        assert warning is not None and warning_part in warning and "\n" not in warning


def test_decoded_body_declares_what_it_is() -> None:
    decoded = decode_feed((FIXTURES / "latin1-declared.xml").read_bytes())
    assert decoded.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert "Nicolò".encode() in decoded.body


async def test_malformed_feed_yields_what_can_be_read_and_a_warning(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    body = (FIXTURES / "malformed.xml").read_bytes()
    items, warning = await poll(feed_server, client, "malformed", body)

    assert [item.title for item in items][:1] == ["Primo: Barella & Lautaro"]
    assert len(items) >= 2
    assert warning is not None and warning.startswith("malformed feed at line ")
    assert "items read" in warning and "\n" not in warning


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        ((FIXTURES / "not-a-feed.html").read_bytes(), "no items read"),
        (bytes(range(256)) * 8, "no items read"),
        (b"\xff\xfe\x00\x00garbage", "no items read"),
        (b"<rss><channel><item><title>", "no items read"),
    ],
)
def test_junk_never_raises(body: bytes, warning: str) -> None:
    result = parse_bytes(body, Feed(name="Junk", url="https://x.it/rss"))
    assert result.items == []
    assert result.warning is not None and warning in result.warning
    assert "\n" not in result.warning


def test_oddities_fixture() -> None:
    body = (FIXTURES / "oddities.xml").read_bytes()
    feed = Feed(name="Synthetic", url="https://www.example-sport.it/rss/")
    fetched = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    result = parse_bytes(body, feed, fetched_at=fetched)
    items = {item.title: item for item in result.items}

    assert result.warning is None
    assert len(result.items) == 8  # the item with neither title nor link is dropped
    vanoli = items['Vanoli duro con la squadra: "Si facciano un esame di coscienza"']
    assert vanoli.keys == ("url:https://www.example-sport.it/news/1/vanoli",)
    kean = items["Fiorentina, è d'urgenza: Kean in dubbio"]
    assert kean.summary == "Il centravanti si è fermato"
    assert kean.keys == (
        "guid:example-sport.it:2026-0002",
        "url:https://www.example-sport.it/news/2",
    )
    assert kean.published == datetime(2026, 3, 6, 6, 0, tzinfo=UTC)  # +0200
    calvarese = items["Calvarese: “Il Var sbaglia: il gol dello 0-2” andava convalidato"]
    assert calvarese.summary == "Il commento dell'ex arbitro."
    assert calvarese.published == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)  # GMT
    serie_b = items["Oggi in TV, il 32° turno di serie B"]
    assert serie_b.summary == ""
    assert serie_b.published == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)  # no zone: Rome
    assert items["Dal futuro: data sbagliata"].published == fetched
    assert items["Data illeggibile"].published is None
    lone = items["Solo titolo, senza guid né link"]
    assert lone.link == "" and lone.keys[0].startswith("fp:https://www.example-sport.it/rss:")
    assert items[""].link == "https://www.example-sport.it/news/8"


def test_atom_fixture() -> None:
    body = (FIXTURES / "atom.xml").read_bytes()
    feed = Feed(name="Atom", url="https://www.example-sport.it/feed.atom")
    result = parse_bytes(body, feed, fetched_at=datetime(2026, 3, 6, 9, 0, tzinfo=UTC))

    first, second = result.items
    assert first.title == "Dybala, oggi la verità"
    assert first.link == "https://www.example-sport.it/news/atom-1"
    assert first.published == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    assert first.summary == "Intervento in artroscopia"
    assert second.summary == "Contenuto completo"
    assert second.published == datetime(2026, 3, 6, 7, 30, tzinfo=UTC)


async def test_parse_runs_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[int] = []
    original = bot.parse.parse_bytes

    def recording(*args: object, **kwargs: object) -> bot.parse.ParseResult:
        threads.append(threading.get_ident())
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.parse, "parse_bytes", recording)
    body = (FIXTURES / "atom.xml").read_bytes()
    result = await parse(body, Feed(name="Atom", url="https://www.example-sport.it/feed.atom"))

    assert len(result.items) == 2
    assert threads and threads[0] != threading.get_ident()


def test_repeated_parsing_does_not_grow_memory(real_feeds: Path) -> None:
    """feedparser has been reported to leak in long-running services; we keep no caches.

    NEWSBOT_PARSE_SOAK=2000 runs the long version.
    """
    body = (real_feeds / "prospect-tuttomercatoweb-2026-03-06.xml").read_bytes()
    feed = Feed(name="TMW", url="https://www.tuttomercatoweb.com/rss/")
    rounds = int(os.environ.get("NEWSBOT_PARSE_SOAK", "200"))
    for _ in range(50):  # warm up imports, interned strings, allocator pools
        parse_bytes(body, feed)
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(rounds):
        assert len(parse_bytes(body, feed).items) == 10
    gc.collect()
    grown = process.memory_info().rss - before
    assert grown < 8_000_000, f"RSS grew by {grown / 1e6:.1f} MB over {rounds} parses"


def test_future_dates_clamp_to_fetch_time_by_default() -> None:
    body = (FIXTURES / "oddities.xml").read_bytes()
    before = datetime.now(UTC)
    result = parse_bytes(body, Feed(name="S", url="https://www.example-sport.it/rss/"))
    future = next(item for item in result.items if item.title.startswith("Dal futuro"))
    assert future.published is not None
    assert before - timedelta(seconds=1) <= future.published <= datetime.now(UTC)


def test_feedparser_never_fetches_anything(feed_server: FeedServer) -> None:
    """Given bytes, feedparser neither follows a URL, nor loads a DTD or an external entity."""
    feed_server.set("/feed", b'<rss version="2.0"><channel><item><title>x</title></item></channel>')
    feed_server.set("/dtd", b'<!ENTITY boom "BOOM">', headers={"Content-Type": "text/plain"})
    feed_server.set("/entity", b"BOOM", headers={"Content-Type": "text/plain"})
    feed = Feed(name="Sneaky", url=feed_server.url("/feed"))
    with_references = f"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{feed_server.url("/dtd")}" [
<!ENTITY ext SYSTEM "{feed_server.url("/entity")}">
]>
<rss version="2.0"><channel><item><title>a &ext; b</title>
<link>https://x.it/1</link></item></channel></rss>""".encode()

    as_url = parse_bytes(feed_server.url("/feed").encode(), feed)
    referenced = parse_bytes(with_references, feed)

    assert as_url.items == [] and as_url.warning
    assert [item.link for item in referenced.items] == ["https://x.it/1"]
    assert "BOOM" not in referenced.items[0].title
    for path in ("/feed", "/dtd", "/entity"):
        assert feed_server.requests(path) == []


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_raising(body: bytes) -> None:
    result = parse_bytes(body, Feed(name="Fuzz", url="https://x.it/rss"))
    assert isinstance(result.items, list)
    assert result.warning is None or "\n" not in result.warning


BOM_RSS = '<rss version="2.0"><channel><item><title>Nicolò</title></item></channel></rss>'


@pytest.mark.parametrize(
    "body",
    [
        ("\ufeff<?xml version='1.0' encoding='UTF-8'?>" + BOM_RSS).encode("utf-8"),
        ('<?xml version="1.0" encoding="UTF-16"?>' + BOM_RSS).encode("utf-16"),
    ],
    ids=["utf-8 with BOM", "utf-16 with BOM"],
)
def test_byte_order_marks(body: bytes) -> None:
    result = parse_bytes(body, Feed(name="BOM", url="https://x.it/rss"))
    assert [item.title for item in result.items] == ["Nicolò"]
    assert result.warning is None
