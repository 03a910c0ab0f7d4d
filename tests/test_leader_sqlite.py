"""Two `newsbot run` processes on one SQLite file: one polls, the other says why it does not,
and takes over when the first one stops (real processes, a loopback feed server)."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import httpx
from feedserver import FeedServer
from test_cli import OLD, WATCHLISTS, LineReader, _wait_for_health, feeds_file, free_port, rss
from test_cli import start_run as start_service


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert proc.returncode == 0


def test_second_run_on_one_sqlite_file_refuses_to_lead_then_takes_over(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw.xml", rss(*OLD))
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    lists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, lists)
    first_port, second_port = free_port(), free_port()
    first = start_service(tmp_path, feeds, lists, http=f"127.0.0.1:{first_port}")
    second = None
    try:
        first_log = LineReader(first.stderr)
        _wait_for_health(first_port, first)
        assert first_log.wait_for("this replica is the poll leader", 5)
        assert len(feed_server.requests("/tmw.xml")) == 1

        second = start_service(tmp_path, feeds, lists, http=f"127.0.0.1:{second_port}")
        second_log = LineReader(second.stderr)
        assert second_log.wait_for("newsbot running", 30), second_log.text()
        assert f"not the poll leader: process {first.pid} " in second_log.text()
        assert "this replica is the poll leader" not in second_log.text()
        health = httpx.get(f"http://127.0.0.1:{second_port}/healthz", timeout=5).json()
        assert health["leader"] is False
        assert len(feed_server.requests("/tmw.xml")) == 1, "the second process polled too"

        stop(first)  # the kernel releases the lock: the second takes over within its next check
        assert second_log.wait_for("this replica is the poll leader", 15), second_log.text()
        assert second_log.wait_for("feed=Tuttomercatoweb status=", 10), second_log.text()
        stop(second)
        assert "Traceback" not in first_log.text() + second_log.text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
