"""Telegram gives a token's updates to one getUpdates caller and answers a second one 409
Conflict. So with several `newsbot run` on one store and no webhook, only the replica holding
the leader lock long-polls; the others deliver alerts without calling getUpdates, and when the
leader dies the survivor takes the updates over within one leader check.

Real processes against the fake Bot API, each replica reaching it under its own path, so every
getUpdates call says who made it. On SQLite (two processes on one file) and on PostgreSQL (skipped,
saying why, without TEST_DATABASE_URL). The waits are for those processes to act, each bounded.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import WATCHLISTS, subprocess_env
from fakebotapi import FakeBotApi
from feedserver import FeedServer, rss
from test_replicas import Replica, free_port, wait_until

OLD = ("Juventus, seduta di scarico", "https://tmw.example/juve")
TAKEOVER_S = 5.0 + 5.0  # one leader check (bot/runner.py) and a loaded machine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def replicas(
    db_url: str, fake: FakeBotApi, feed_server: FeedServer, tmp_path: Path
) -> Iterator[dict[str, Replica]]:
    feed_server.set("/tmw.xml", rss(OLD))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - name: Tuttomercatoweb\n    url: {feed_server.url('/tmw.xml')}\n"
        "    interval: 600\n"
    )
    lists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, lists)
    args = ["--feeds", str(feeds), "--watchlists", str(lists), "--db", db_url]
    started = {
        name: Replica(
            name,
            subprocess_env(
                TELEGRAM_BOT_TOKEN=fake.token,
                TELEGRAM_API_URL=f"{fake.url}/{name}",  # the fake records the path: who calls
                NEWSBOT_HTTP=f"127.0.0.1:{free_port()}",
            ),
            args,
            tmp_path,
            console=False,
        )
        for name in ("a", "b")
    }
    yield started
    for replica in started.values():
        replica.stop()


def updates(replica: Replica) -> object:
    return (replica.health() or {}).get("updates")


def answered(fake: FakeBotApi, chat_id: int) -> bool:
    return bool(fake.sent(chat_id))


def test_only_the_leader_long_polls_and_the_survivor_takes_the_updates_over(
    replicas: dict[str, Replica], fake: FakeBotApi, feed_server: FeedServer
) -> None:
    wait_until(
        lambda: sorted(str(updates(r)) for r in replicas.values()) == ["long polling", "off"],
        30,
        "one replica receiving the updates, the other not",
    )
    leader = next(r for r in replicas.values() if updates(r) == "long polling")
    follower = next(r for r in replicas.values() if r is not leader)
    assert (leader.health() or {})["leader"] is True
    assert (follower.health() or {})["leader"] is False
    fake.user_message("/start", user_id=2001)
    wait_until(lambda: answered(fake, 2001), 10, "the leader to answer /start")
    sqlite = "sqlite" in " ".join(map(str, leader.proc.args))
    polls_before = len(feed_server.times("/tmw.xml"))

    leader.proc.kill()  # no goodbye: the lock goes with the process
    leader.proc.wait()
    killed_at = time.monotonic()
    wait_until(lambda: updates(follower) == "long polling", TAKEOVER_S, "the survivor to take over")
    fake.user_message("/start", user_id=2002)
    wait_until(lambda: answered(fake, 2002), 10, "the survivor to answer /start")
    assert [c.via for c in fake.sent(2002)] == [follower.name]
    assert len(fake.sent(2001)) == 1, "an update confirmed by the dead leader came back"

    # Who called getUpdates, in order: the leader alone, then the survivor alone.
    calls = fake.calls_to("getUpdates")
    callers = [via for via, _ in itertools.groupby(c.via for c in calls)]
    assert callers == [leader.name, follower.name], callers
    assert min(c.wall for c in calls if c.via == follower.name) > killed_at
    log = follower.log.read_text()
    assert "Telegram updates are received by" in log
    assert "this replica receives the Telegram updates" in log
    assert "Conflict" not in log and "Traceback" not in log  # no 409 from Telegram
    if sqlite:  # one poller on SQLite: the feed moves with the lock
        assert polls_before == 1, "the follower polled too"
        assert f"not the poll leader: process {leader.proc.pid} " in log
        wait_until(lambda: len(feed_server.times("/tmw.xml")) == 2, 10, "the survivor to poll")
        assert feed_server.times("/tmw.xml")[1] > killed_at
