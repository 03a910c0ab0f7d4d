"""Stop means stop: SIGTERM ends `newsbot run` within 10 s even while a feed of thousands of
items is being stored in a worker thread. What was stored stays stored; the feed's validators
are not saved, so the next poll reads the feed again and stores the rest (and a first poll's
backlog stays a backlog: no alert for it)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import subprocess_env
from feedserver import FeedServer

ROOT = Path(__file__).resolve().parents[1]
ITEMS = 15_000  # more than a quick machine stores in the 3 s polls get to finish


def big_feed(n: int) -> bytes:
    body = "".join(
        f"<item><title>Milan, notizia di mercato numero {i} su Leao</title>"
        f"<link>https://tmw.example/n/{i}</link>"
        f"<pubDate>Fri, 06 Mar 2026 {8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0100"
        "</pubDate></item>"
        for i in range(n)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


def stored_items(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_sigterm_during_a_big_ingest_stops_within_10_s_and_the_rest_is_read_next_time(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/big.xml", big_feed(ITEMS), etag='"v1"')
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: Tuttomercatoweb\n    url: {feed_server.url('/big.xml')}\n")
    db = tmp_path / "state.db"
    args = [
        *("--feeds", str(feeds), "--watchlists", str(ROOT / "watchlists")),
        *("--db", f"sqlite:///{db}", "--console", "--json"),
    ]

    out = run_until_items_then_sigterm(tmp_path, args, db, 20)
    first = stored_items(db)
    assert 20 <= first < ITEMS, "stopped in the middle of the feed"
    assert out == "", "a first poll's backlog alerts no one"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT etag FROM feeds").fetchall() == [], "no validators saved"

    out = run_until_items_then_sigterm(tmp_path, args, db, first + 20)
    headers = {k.lower() for k in feed_server.requests("/big.xml")[-1]}
    assert "if-none-match" not in headers, "the feed is read again, whole"
    assert stored_items(db) > first, "and the rest is stored"
    assert out == "", "still the backlog: no alert"


def run_until_items_then_sigterm(tmp_path: Path, args: list[str], db: Path, items: int) -> str:
    """Start `newsbot run`, SIGTERM it once `items` items are stored; its standard output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *args],
        cwd=tmp_path,
        env=subprocess_env(NEWSBOT_HTTP="off"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while stored_items(db) < items and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = proc.communicate(timeout=15)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert "Traceback" not in err, err
    return out
