"""Shared fixtures: where the real Italian feed snapshots live, a clean environment, a store on
SQLite, the fake Bot API and a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.store import Store, engine_url
from tests.fakebotapi import FakeBotApi

pytest_plugins = ["feedserver"]  # the loopback feed server fixture `feed_server`

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_FEEDS = SHARED / "feeds" / "real"
WATCHLISTS = ROOT / "watchlists"


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
        "NEWSBOT_WEBSUB_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a SQLite file of its own (test modules with other needs override it)."""
    db = Store.open(f"sqlite:///{tmp_path / 'newsbot.db'}")
    yield db
    db.close()


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    """The fake Bot API on a loopback port, stopped afterwards."""
    server = FakeBotApi().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a throwaway schema (dropped afterwards).

    Skips, saying why, when TEST_DATABASE_URL is not set.
    """
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        pytest.skip("TEST_DATABASE_URL is not set (a PostgreSQL server for these tests)")
    schema = f"newsbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(engine_url(raw), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(engine_url(raw)).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a `newsbot` subprocess: nothing of ours leaks in from outside.

    The tests replay news with fixed dates (the contract's 10 Oct 2025 example, the real
    snapshots of early 2026), so the age limit on alerts is off unless a test sets it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
    env.pop("DATABASE_URL", None)
    return {**env, "NEWSBOT_MAX_AGE_HOURS": "0", **extra}


def poll_once(
    cwd: Path, feeds: Path, env: Mapping[str, str], *options: str
) -> subprocess.CompletedProcess[str]:
    """`newsbot poll --once [options]` as a user runs it: the shipped watchlists, the store in
    `cwd/state.db`, a minute at most (a hung poll fails the test instead of the suite)."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "bot", "poll", "--once", *options),
            *("--feeds", str(feeds), "--watchlists", str(WATCHLISTS)),
            *("--db", f"sqlite:///{cwd / 'state.db'}"),
        ],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test`: `-n 2 --dist loadgroup`), every PostgreSQL test runs in
    one worker: they share one server, whose advisory locks (the leader's) are
    database-wide, not per schema."""
    for item in items:
        if item.get_closest_marker("postgres") or "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("postgres"))
