"""Two `newsbot run` replicas on one PostgreSQL database share the polling: half the feeds
each, no feed polled twice in one interval, no alert sent twice, and the survivor takes over a
dead replica's feeds (even one it was polling when it died) within one poll interval.

Needs TEST_DATABASE_URL (skipped, saying why, otherwise). Real processes, real sockets: the
waits here are for those processes to act, each bounded, never a fixed sleep.
"""

from __future__ import annotations

import itertools
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

from bot.store import Store

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
PATHS = [f"/f{n}.xml" for n in range(6)]
SLOW = PATHS[0]  # answers after 3 s: a replica killed meanwhile dies holding its lease
NEWSY = PATHS[1]
TAKEOVER_SLACK = 3.0  # claim ticks (1 s) and a loaded machine


class Replica:
    """One `newsbot run --console --json` process (`console=False`: delivering to the Telegram
    its environment names); its stdout lines are collected as they come, its log in `log`."""

    def __init__(
        self, name: str, env: dict[str, str], args: list[str], cwd: Path, *, console: bool = True
    ) -> None:
        self.name = name
        self.port = int(env["NEWSBOT_HTTP"].rsplit(":", 1)[1])
        self.lines: list[dict[str, object]] = []
        self.log = cwd / f"replica-{name}.log"
        mode = ["--console", "--json"] if console else []
        with self.log.open("w") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run", *mode, *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
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
    for path in PATHS:
        feed_server.set(path, rss(OLD), delay=3.0 if path == SLOW else 0)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"defaults:\n  interval: {INTERVAL}\nfeeds:\n"
        + "".join(
            f"  - name: Fonte {n}\n    url: {feed_server.url(path)}\n"
            for n, path in enumerate(PATHS)
        )
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


def leased(replica: Replica) -> object:
    return (replica.health() or {}).get("feeds_leased")


def slow_feed_holder(store: Store, url: str) -> int | None:
    """The pid of the replica whose lease on `url` is running, if any."""
    _, owner, until = store.feed_lease_rows().get(url, (None, None, None))
    return int(owner.split(":")[-2]) if owner and until else None


def test_replicas_share_the_feeds_poll_each_once_per_interval_and_take_over_the_dead(
    replicas: list[Replica], feed_server: FeedServer, pg_url: str
) -> None:
    wait_until(lambda: all(r.health() for r in replicas), 30, "both replicas to answer /healthz")
    wait_until(lambda: all(feed_server.requests(p) for p in PATHS), 15, "the first polls")
    feed_server.set(NEWSY, rss(*NEWS, OLD))
    # From the second round on, each replica polls its half of the feeds.
    wait_until(lambda: [leased(r) for r in replicas] == [3, 3], 2 * INTERVAL + 10, "3 feeds each")
    wait_until(lambda: sum(len(r.lines) for r in replicas) >= 3, INTERVAL + 5, "3 alerts")
    titles = [str(line["title"]) for r in replicas for line in r.lines]
    assert sorted(titles) == sorted(t for t, _ in NEWS), "each alert exactly once across replicas"

    # Kill (no goodbye) the replica that is fetching the slow feed: its lease on it must run
    # out, and its other feeds move, all within one interval.
    store = Store.open(pg_url)
    try:
        wait_until(
            lambda: slow_feed_holder(store, feed_server.url(SLOW)) is not None,
            INTERVAL + 5,
            "a replica to be polling the slow feed",
        )
        pid = slow_feed_holder(store, feed_server.url(SLOW))
    finally:
        store.close()
    victim = next(r for r in replicas if r.proc.pid == pid)
    survivor = next(r for r in replicas if r is not victim)
    victim.proc.kill()
    killed_at = time.monotonic()
    victim.proc.wait()
    wait_until(
        lambda: all(feed_server.times(p)[-1] > killed_at for p in PATHS),
        INTERVAL + 10,
        "the survivor to poll every feed",
    )
    late = {p: next(t for t in feed_server.times(p) if t > killed_at) - killed_at for p in PATHS}
    assert max(late.values()) <= INTERVAL + TAKEOVER_SLACK, late
    wait_until(lambda: leased(survivor) == len(PATHS), 5, "the survivor to hold every feed")

    for path in PATHS:  # never two polls of one feed within an interval, whoever polled
        times = feed_server.times(path)
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= INTERVAL - 1, (path, gaps)
