"""Crash safety of the real command: `newsbot poll --once` killed with SIGKILL at every step
boundary, then run again, prints each alert exactly once (the one documented exception: killed
after printing and before recording, that one alert prints again)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import poll_once, subprocess_env
from feedserver import FeedServer, rss

from bot import faults

OLD = [("Juventus, seduta di scarico", "juve")]
NEW = [
    ("Roma, il ginocchio tormenta ancora Dybala", "dybala"),
    ("Milan, assalto a Palestra dell'Atalanta", "palestra"),
    ("Inter, Lautaro salta il Napoli", "lautaro"),
]
# Killed between printing an alert and recording it: that alert is printed again on restart.
WINDOW = {faults.DELIVER_AFTER_SEND, faults.STORE_BEFORE_MARK}


def feed(items: list[tuple[str, str]]) -> bytes:
    return rss(*((title, f"https://tmw.example/{slug}") for title, slug in items))


def poll(
    tmp_path: Path, feeds: Path, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(**({faults.ENV: crash_at} if crash_at else {}))
    return poll_once(tmp_path, feeds, env, "--console", "--json")


def expire_leases(db: Path) -> None:
    """Let the dead process's delivery leases run out (they last a minute) without waiting."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE outbox SET claimed_until = NULL")


@pytest.mark.parametrize(
    "crash_at",
    [
        f"{faults.DEDUP_AFTER_ITEM_INSERT}@2",  # amid the new items' chunk
        faults.DEDUP_BEFORE_COMMIT,
        faults.DEDUP_AFTER_COMMIT,
        faults.STORE_AFTER_CLAIM,
        f"{faults.DELIVER_BEFORE_SEND}@2",
        f"{faults.DELIVER_AFTER_SEND}@2",
        f"{faults.STORE_BEFORE_MARK}@2",
        faults.STORE_AFTER_MARK,
    ],
)
def test_sigkill_then_restart_prints_each_alert_once(
    crash_at: str, tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw.xml", feed(OLD))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: Tuttomercatoweb\n    url: {feed_server.url('/tmw.xml')}\n")
    assert poll(tmp_path, feeds).stdout == ""  # backlog
    feed_server.set("/tmw.xml", feed(NEW + OLD))

    crashed = poll(tmp_path, feeds, crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    expire_leases(tmp_path / "state.db")
    restarted = poll(tmp_path, feeds)
    assert restarted.returncode == 0, restarted.stderr
    assert poll(tmp_path, feeds).stdout == "", "nothing left after the restart"

    printed = Counter(
        json.loads(line)["title"]
        for line in (crashed.stdout + restarted.stdout).splitlines()
        if line.strip()
    )
    assert set(printed) == {t for t, _ in NEW}, "nothing lost"
    repeats = sum(n - 1 for n in printed.values())
    assert repeats == (1 if crash_at.split("@")[0] in WINDOW else 0), printed
