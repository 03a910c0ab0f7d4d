"""The service's health: 200 only while the scheduler runs and the store answers."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.config import Settings
from bot.registry import Registry
from bot.runner import Runner
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[Runner]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: TMW\n    url: http://127.0.0.1:9/rss\n    interval: 3600\n")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}", busy_timeout=0.05)
    registry = Registry(feeds, ROOT / "watchlists", store.watched_terms)
    registry.load()
    args = argparse.Namespace(console=True, json=True)
    service = Runner(Settings(newsbot_http="off"), args, store, registry)
    yield service
    await service.stop()
    store.close()


async def test_healthy_only_while_scheduler_runs_and_store_answers(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, details = await runner.health()
    assert not ok and details["scheduler"] is False  # not started yet

    await runner.start()
    ok, details = await runner.health()
    assert ok and details["store"] is True and details["leader"] is True
    assert details["outbox_depth"] == 0 and "TMW" in details["feeds"]

    def broken() -> int:
        raise OSError("disk I/O error")

    monkeypatch.setattr(runner.store, "outbox_depth", broken)
    ok, details = await runner.health()
    assert not ok and details["store"] is False and details["outbox_depth"] is None


async def test_unhealthy_while_store_writes_fail_with_the_error_redacted(
    runner: Runner, tmp_path: Path
) -> None:
    await runner.start()
    assert (await runner.health())[0]
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the database: every write fails
    try:
        with pytest.raises(OperationalError):
            await asyncio.to_thread(runner.store.mute, 1, None)
        ok, details = await runner.health()
        assert not ok and details["store"] is False
        assert "database is locked" in details["store_error"]
        assert details["outbox_depth"] == 0, "reads still work: only the writes failed"
    finally:
        other.execute("ROLLBACK")
        other.close()
    await asyncio.to_thread(runner.store.mute, 1, None)  # the next write succeeds
    ok, details = await runner.health()
    assert ok and "store_error" not in details


async def test_store_error_in_health_is_redacted(runner: Runner) -> None:
    from bot.store.base import WriteFailure

    runner.store.write_failure = WriteFailure(
        datetime.now(UTC), 'connection to "postgresql://newsbot:s3cret@db/newsbot" failed'
    )
    ok, details = await runner.health()
    assert not ok and "s3cret" not in details["store_error"]
