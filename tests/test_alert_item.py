"""An alert shows what is new to its subscriber: when a story's first item was only recorded (a
feed's backlog at its first poll) and another outlet brings the story, the alert shows the item
that brought it (its title, link, outlet and time, the matched words present in it), and the
outlets the subscriber was not alerted about as "anche su". Through `newsbot poll --once`, on
the console (JSON) and through the fake Bot API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import poll_once, subprocess_env
from fakebotapi import FakeBotApi
from feedserver import FeedServer, rss

from bot.store import Store

TITLE = "Milan, assalto a Palestra dell'Atalanta"
RECORDED = (TITLE, "https://www.tuttomercatoweb.com/palestra-1", "08:00")
OTHER = ("Juventus, seduta di scarico", "https://www.calciomercato.com/juve-1", "07:00")
NEW = (TITLE, "https://www.calciomercato.com/palestra-2", "10:30")


def feed(*items: tuple[str, str, str]) -> bytes:
    """Items of 6 March 2026 as (title, link, "HH:MM" in Rome)."""
    return rss(*((t, u, f"Fri, 06 Mar 2026 {hm}:00 +0100") for t, u, hm in items))


def poll(tmp_path: Path, feed_server: FeedServer, env: dict[str, str]) -> str:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        f"  - name: Tuttomercatoweb\n    url: {feed_server.url('/tmw')}\n"
        f"  - name: Calciomercato.com\n    url: {feed_server.url('/cm')}\n"
    )
    done = poll_once(tmp_path, feeds, env, "--json")
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("channel", ["console", "telegram"])
def test_alert_shows_the_item_that_brought_the_story_not_the_recorded_one(
    channel: str, tmp_path: Path, feed_server: FeedServer, fake: FakeBotApi
) -> None:
    if channel == "console":
        env = subprocess_env(NEWSBOT_CONSOLE="1")
    else:
        env = subprocess_env(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url)
        store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
        subscriber = store.subscriber("1001")
        assert subscriber is not None
        store.subscribe(subscriber.id, "list", "mercato")
        store.close()
    feed_server.set("/tmw", feed(RECORDED))
    feed_server.set("/cm", feed(OTHER))
    assert poll(tmp_path, feed_server, env) == ""  # both feeds' backlog: recorded, no alert
    feed_server.set("/cm", feed(NEW, OTHER))
    out = poll(tmp_path, feed_server, env)

    if channel == "console":
        (line,) = [json.loads(x) for x in out.splitlines()]
        assert line["event"] == "alert"
        assert (line["title"], line["url"], line["source"]) == (TITLE, NEW[1], "Calciomercato.com")
        assert line["published"] == "2026-03-06T09:30:00+00:00"
        assert line["also"] == ["Tuttomercatoweb"]
        assert all(m["matched"] in line["title"] for m in line["matches"])
    else:
        (message,) = fake.sent("1001")
        text = str(message.params["text"])
        head, meta = text.splitlines()[:2]
        assert NEW[1] in head and RECORDED[1] not in head
        assert meta.startswith("Calciomercato.com · 6 mar, 10:30 · ")
        assert "Tuttomercatoweb" in meta  # the outlet not alerted about: "anche su"
