"""Console delivery: the console's alerts only, in the contract's text and JSON forms, once."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from bot.console import ConsoleDelivery
from bot.dedup import ingest
from bot.match import Matcher
from bot.models import Feed, Item, Term, Watchlist
from bot.service import enable_console
from bot.store import Store

T0 = datetime(2025, 10, 10, 9, 12, tzinfo=UTC)
TMW = Feed("Tuttomercatoweb", "https://www.tuttomercatoweb.com/rss/")
CM = Feed("Calciomercato.com", "https://www.calciomercato.com/rss")
LISTS = [
    Watchlist("mercato", (Term("Marco Palestra", aliases=("Palestra",)),), title="Mercato"),
    Watchlist("milan", (Term("Milan"),), title="AC Milan"),
]
SEED = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"


def item(feed: Feed, title: str, slug: str) -> Item:
    link = f"https://{feed.name.lower()}.example/{slug}"
    return Item((f"url:{link}",), title, "", link, feed.name, feed.url, T0)


def setup(tmp_path: Path) -> tuple[Store, Matcher]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    enable_console(store, True)
    matcher = Matcher(LISTS)
    for feed in (TMW, CM):  # first polls: backlog, so later items alert
        ingest(store, feed, [], lambda _: [], now=T0, backlog=True)
    return store, matcher


def poll(store: Store, matcher: Matcher, feed: Feed, *items: Item) -> None:
    ingest(
        store, feed, items, lambda it: matcher.match(it.title, it.summary), now=T0, backlog=False
    )


def test_text_alert_then_update_line(tmp_path: Path) -> None:
    store, matcher = setup(tmp_path)
    out = io.StringIO()
    console = ConsoleDelivery(store, lambda: T0, out=out)
    poll(store, matcher, TMW, item(TMW, SEED, "palestra"))
    assert console.deliver_pending() == 1
    text = out.getvalue()
    assert text.splitlines()[:4] == [
        f"⚽ {SEED}",
        "Tuttomercatoweb · 10 ott, 11:12",
        "🔎 Milan, Marco Palestra",
        "https://tuttomercatoweb.example/palestra",
    ]
    out.truncate(0)
    out.seek(0)
    assert console.deliver_pending() == 0 and out.getvalue() == ""

    poll(store, matcher, CM, item(CM, "Milan, assalto a Palestra dell'Atalanta", "palestra-cm"))
    assert console.deliver_pending() == 1
    assert "anche su: Calciomercato.com" in out.getvalue()
    assert out.getvalue().startswith("🔄 ")


def test_json_lines_follow_the_contract(tmp_path: Path) -> None:
    store, matcher = setup(tmp_path)
    out = io.StringIO()
    console = ConsoleDelivery(store, lambda: T0, as_json=True, out=out)
    poll(store, matcher, TMW, item(TMW, SEED, "palestra"))
    console.deliver_pending()
    poll(store, matcher, CM, item(CM, "Milan, assalto a Palestra dell'Atalanta", "palestra-cm"))
    console.deliver_pending()
    alert, update = (json.loads(line) for line in out.getvalue().splitlines())
    assert set(alert) == {
        "event",
        "subscriber",
        "story",
        "title",
        "url",
        "source",
        "published",
        "matches",
    }
    assert alert["event"] == "alert" and alert["subscriber"] == "console"
    assert alert["published"] == "2025-10-10T09:12:00+00:00"
    assert {
        "watchlist": "mercato",
        "term": "Marco Palestra",
        "matched": "Palestra",
        "score": 100.0,
    } in alert["matches"]
    assert update["event"] == "update" and update["story"] == alert["story"]
    assert update["also"] == ["Calciomercato.com"]


def test_console_never_takes_a_telegram_subscribers_alert(tmp_path: Path) -> None:
    store, _ = setup(tmp_path)
    fan = store.subscriber("4242", kind="private")
    assert fan is not None
    store.subscribe(fan.id, "term", "Palestra")
    palestra = Matcher([*LISTS, Watchlist("watch:palestra", (Term("Palestra"),))])
    poll(store, palestra, TMW, item(TMW, SEED, "palestra"))
    out = io.StringIO()
    assert ConsoleDelivery(store, lambda: T0, out=out).deliver_pending() == 1
    (owed,) = store.pending_alerts(T0, channel="telegram")
    assert owed.chat_id == "4242" and owed.title == SEED


def test_inactive_console_gets_nothing(tmp_path: Path) -> None:
    store, matcher = setup(tmp_path)
    enable_console(store, False)
    poll(store, matcher, TMW, item(TMW, SEED, "palestra"))
    assert ConsoleDelivery(store, lambda: T0, out=io.StringIO()).deliver_pending() == 0
