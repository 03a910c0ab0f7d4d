"""Crash safety of a digest: `newsbot poll --once` delivering to the fake Bot API is killed with
SIGKILL at every step of one digest's send, then run again. The subscriber must end up with
every story, and at most one message may repeat (the documented window: killed after Telegram
accepted the digest and before its rows were recorded, that one digest is sent again)."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import poll_once, subprocess_env
from fakebotapi import FakeBotApi
from feedserver import FeedServer, rss

from bot import faults
from bot.models import FeedState
from bot.store import Store

USER = "1001"
OLD = [("Juventus, seduta di scarico", "juve")]
# Seven stories of one outlet that have nothing in common but the reader: one digest.
NEW = [
    ("Roma, il ginocchio tormenta ancora Dybala", "dybala"),
    ("Milan, assalto a Palestra dell'Atalanta", "palestra"),
    ("Inter, Lautaro salta il Napoli", "lautaro"),
    ("Napoli, Conte ritrova Lobotka per la Champions", "lobotka"),
    ("Lazio, Sarri chiede un terzino sinistro", "sarri"),
    ("Como, Fabregas rinnova fino al 2030", "fabregas"),
    ("Juventus, Vlahovic verso la cessione a gennaio", "vlahovic"),
]
# Killed between Telegram's answer and the record of the digest: that digest goes out again.
WINDOW = {faults.DELIVER_AFTER_SEND, faults.STORE_BEFORE_MARK}


def feed(items: list[tuple[str, str]]) -> bytes:
    return rss(*((title, f"https://tmw.example/{slug}") for title, slug in items))


def poll(tmp_path: Path, feeds: Path, fake: FakeBotApi, crash_at: str | None = None) -> int:
    env = subprocess_env(TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_URL=fake.url)
    if crash_at:
        env[faults.ENV] = crash_at
    done = poll_once(tmp_path, feeds, env)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode


def delivered(fake: FakeBotApi) -> list[str]:
    return [str(c.params["text"]) for c in fake.sent(USER)]


@pytest.mark.parametrize(
    "crash_at",
    [
        faults.STORE_AFTER_CLAIM,
        faults.DELIVER_BEFORE_SEND,
        faults.DELIVER_AFTER_SEND,
        faults.STORE_BEFORE_MARK,
        faults.STORE_AFTER_MARK,
    ],
)
def test_digest_killed_at_every_step_repeats_at_most_one_message(
    crash_at: str, tmp_path: Path, feed_server: FeedServer, fake: FakeBotApi
) -> None:
    url = feed_server.url("/tmw.xml")
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: Tuttomercatoweb\n    url: {url}\n")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    store.save_feed_state(url, FeedState(url, polled_at=datetime.now(UTC)))  # backlog was read
    subscriber = store.subscriber(USER)
    assert subscriber is not None
    store.subscribe(subscriber.id, "all", "*")
    feed_server.set("/tmw.xml", feed(NEW + OLD))

    assert poll(tmp_path, feeds, fake, crash_at) == -signal.SIGKILL
    assert poll(tmp_path, feeds, fake) == 0
    messages = delivered(fake)
    assert store.outbox_depth() == 0, "nothing left owed after the restart"
    store.close()

    for title, _ in NEW:
        assert any(title.replace("'", "&#x27;") in m or title in m for m in messages), title
    assert messages[0].startswith("📰"), "seven stories at once make one digest"
    window = crash_at.split("@")[0] in WINDOW
    assert len(messages) == (2 if window else 1), messages
    if window:
        assert messages[0] == messages[1]
