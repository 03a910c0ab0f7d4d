"""Shared fixtures: where the real Italian feed snapshots live, and a clean environment."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["feedserver"]  # the loopback feed server fixture `feed_server`

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_FEEDS = SHARED / "feeds" / "real"


@pytest.fixture
def real_feeds() -> Path:
    """The folder of real feed snapshots; tests that need it skip, saying why, when it is absent."""
    if not REAL_FEEDS.is_dir():
        pytest.skip(f"real feed snapshots not found at {REAL_FEEDS} (../shared is absent)")
    return REAL_FEEDS


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's token, database or feeds from the environment."""
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "TELEGRAM_API_URL",
        "DATABASE_URL",
        "NEWSBOT_FEEDS",
        "NEWSBOT_WATCHLISTS",
        "NEWSBOT_CONSOLE",
        "NEWSBOT_ADMINS",
        "NEWSBOT_HTTP",
    ):
        monkeypatch.delenv(name, raising=False)
