"""The service's health: 200 only while the scheduler runs and the store answers."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.registry import Registry
from bot.runner import Runner
from bot.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[Runner]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: TMW\n    url: http://127.0.0.1:9/rss\n    interval: 3600\n")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
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
