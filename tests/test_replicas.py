"""Two `newsbot run` replicas on one PostgreSQL database: one polls, none sends twice, and the
survivor takes over polling within one poll interval when the leader dies.

Needs TEST_DATABASE_URL (skipped, saying why, otherwise). Real processes, real sockets: the
waits here are for those processes to act, each bounded, never a fixed sleep.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import subprocess_env
from feedserver import FeedServer

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
INTERVAL = 10  # the shortest poll interval the feeds file accepts


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>{u}</link><guid>{u}</guid>"
        "<pubDate>Fri, 06 Mar 2026 08:00:00 +0100</pubDate></item>"
        for t, u in items
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    return f"{head}{body}</channel></rss>".encode()


OLD = ("Juventus, seduta di scarico", "https://tmw.example/juve")
NEWS = [
    ("Roma, il ginocchio tormenta ancora Dybala", "https://tmw.example/dybala"),
    ("Milan, assalto a Palestra dell'Atalanta", "https://tmw.example/palestra"),
    ("Inter, Lautaro salta il Napoli", "https://tmw.example/lautaro"),
]
LATE = ("Lazio, Sarri: «Serve equilibrio»", "https://tmw.example/sarri")


class Replica:
    """One `newsbot run --console --json` process; its stdout lines are collected as they come."""

    def __init__(self, name: str, env: dict[str, str], args: list[str], cwd: Path) -> None:
        self.name = name
        self.port = int(env["NEWSBOT_HTTP"].rsplit(":", 1)[1])
        self.lines: list[dict[str, object]] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--console", "--json", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.append(json.loads(line))

    def health(self) -> dict[str, object] | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).json()  # type: ignore[no-any-return]
        except (httpx.TransportError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replicas(pg_url: str, feed_server: FeedServer, tmp_path: Path) -> Iterator[list[Replica]]:
    feed_server.set("/tmw.xml", rss(OLD))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"defaults:\n  interval: {INTERVAL}\nfeeds:\n"
        f"  - name: Tuttomercatoweb\n    url: {feed_server.url('/tmw.xml')}\n"
    )
    base = subprocess_env()
    args = ["--feeds", str(feeds), "--watchlists", str(ROOT / "watchlists"), "--db", pg_url]
    started = [
        Replica(n, {**base, "NEWSBOT_HTTP": f"127.0.0.1:{free_port()}"}, args, tmp_path)
        for n in ("a", "b")
    ]
    yield started
    for replica in started:
        replica.stop()


def test_one_leader_polls_no_alert_twice_and_takeover_on_death(
    replicas: list[Replica], feed_server: FeedServer
) -> None:
    wait_until(lambda: all(r.health() for r in replicas), 30, "both replicas to answer /healthz")
    wait_until(lambda: feed_server.requests("/tmw.xml") != [], 15, "the first poll")
    leaders = [r for r in replicas if (r.health() or {}).get("leader")]
    assert len(leaders) == 1, "exactly one replica polls"
    leader, follower = leaders[0], next(r for r in replicas if r is not leaders[0])
    assert len(feed_server.requests("/tmw.xml")) == 1, "the follower never polled"

    # New items: the leader's next poll finds them; both replicas try to deliver.
    feed_server.set("/tmw.xml", rss(*NEWS, OLD))
    wait_until(lambda: len(leader.lines) + len(follower.lines) >= 3, INTERVAL + 10, "3 alerts")
    polls_while_both_alive = len(feed_server.requests("/tmw.xml"))
    titles = [str(line["title"]) for line in leader.lines + follower.lines]
    assert sorted(titles) == sorted(t for t, _ in NEWS), "each alert exactly once across replicas"
    assert polls_while_both_alive == 2, "one poll per interval, never two replicas at once"

    # The leader dies without a word; the follower takes over within one poll interval.
    leader.proc.kill()
    leader.proc.wait()
    feed_server.set("/tmw.xml", rss(LATE, *NEWS, OLD))
    killed_at = time.monotonic()
    wait_until(
        lambda: any(line["title"] == LATE[0] for line in follower.lines),
        INTERVAL + 5,
        "the follower to take over, poll and alert",
    )
    assert time.monotonic() - killed_at <= INTERVAL + 2
    assert (follower.health() or {}).get("leader") is True
    late = [line for line in follower.lines if line["title"] == LATE[0]]
    assert len(late) == 1
