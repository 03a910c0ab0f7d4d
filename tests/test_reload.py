"""Live reload: real files in a temporary folder, a real file watcher, a real SIGHUP."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import metrics
from bot.reload import Reloader, ReloadOutcome
from bot.yamlfile import ConfigError, Problem, load_file

WAIT_S = 5.0  # the product promise: a valid change applies within 5 s


class Recorder:
    """A reload callback that remembers why it ran and lets a test wait for the next run."""

    def __init__(self) -> None:
        self.calls = 0
        self.outcome = ReloadOutcome(ok=True, summary="2 feeds, 3 watchlists")
        self.ran = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()

    async def __call__(self) -> ReloadOutcome:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        self.ran.set()
        return self.outcome

    async def next_run(self) -> None:
        await asyncio.wait_for(self.ran.wait(), WAIT_S)
        self.ran.clear()


def invalid_reloads() -> float:
    value = metrics.METRICS_REGISTRY.get_sample_value(
        "newsbot_reloads_total", {"outcome": "invalid"}
    )
    return value or 0.0


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "milan.yaml").write_text("terms: [Milan]\n")
    # The files were written long before anyone edits them. This matters for the polling
    # watcher: it compares modification times in whole seconds, so an edit within the same
    # second as the file's creation would be invisible to it.
    an_hour_ago = time.time() - 3600
    for path in (
        tmp_path / "feeds.yaml",
        tmp_path / "watchlists" / "milan.yaml",
        tmp_path / "watchlists",
        tmp_path,
    ):
        os.utime(path, (an_hour_ago, an_hour_ago))
    return tmp_path


@pytest.fixture(params=[False, True], ids=["native", "polling"])
async def started(
    request: pytest.FixtureRequest, config_dir: Path
) -> AsyncIterator[tuple[Reloader, Recorder]]:
    recorder = Recorder()
    reloader = Reloader(
        [config_dir / "feeds.yaml", config_dir / "watchlists"],
        recorder,
        debounce_ms=100,
        force_polling=request.param,
        poll_delay_ms=50,
    )
    await reloader.start()
    yield reloader, recorder
    await asyncio.wait_for(reloader.stop(), WAIT_S)


async def test_editing_the_feeds_file_reloads(
    started: tuple[Reloader, Recorder], config_dir: Path
) -> None:
    reloader, recorder = started
    (config_dir / "feeds.yaml").write_text("feeds:\n  - name: X\n    url: https://x.test/rss\n")
    await recorder.next_run()
    assert reloader.last_outcome is not None and reloader.last_outcome.ok
    assert "feeds.yaml" in reloader.last_outcome.reason


async def test_an_editor_style_atomic_save_reloads(
    started: tuple[Reloader, Recorder], config_dir: Path
) -> None:
    """Save by writing a temp file and renaming it over the original, as vim and ansible do."""
    _, recorder = started
    target = config_dir / "watchlists" / "milan.yaml"
    tmp = target.with_name(".milan.yaml.tmp~")
    tmp.write_text("terms: [Milan, Pulisic]\n")
    os.replace(tmp, target)
    await recorder.next_run()


async def test_adding_and_removing_a_watchlist_reloads(
    started: tuple[Reloader, Recorder], config_dir: Path
) -> None:
    _, recorder = started
    (config_dir / "watchlists" / "inter.yaml").write_text("terms: [Inter]\n")
    await recorder.next_run()
    (config_dir / "watchlists" / "inter.yaml").unlink()
    await recorder.next_run()


async def test_junk_and_unrelated_files_do_not_cause_reloads(
    started: tuple[Reloader, Recorder], config_dir: Path
) -> None:
    reloader, recorder = started
    (config_dir / "watchlists" / ".milan.yaml.swp").write_text("x")  # editor swap file
    (config_dir / "newsbot.db").write_text("x")  # beside feeds.yaml, but not watched
    (config_dir / "watchlists" / "roma.yaml").write_text("terms: [Roma]\n")
    await recorder.next_run()
    assert reloader.last_outcome is not None
    assert reloader.last_outcome.reason == "changed: roma.yaml"
    assert recorder.calls == 1


async def test_an_invalid_change_is_refused_logged_with_path_line_and_counted(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    problem = Problem(str(config_dir / "watchlists" / "milan.yaml"), 3, "unknown key 'trems'")
    recorder.outcome = ReloadOutcome(ok=False, problems=[problem], summary="1 problem")
    reloader = Reloader([config_dir / "watchlists"], recorder, handle_sighup=False)
    before = invalid_reloads()
    with caplog.at_level(logging.WARNING, logger="bot.reload"):
        outcome = await reloader.trigger("/reload")
    assert not outcome.ok
    assert reloader.last_outcome is outcome
    assert outcome.reason == "/reload" and outcome.at is not None
    assert f"{config_dir}/watchlists/milan.yaml:3: unknown key 'trems'" in caplog.text
    assert invalid_reloads() - before == 1
    assert outcome.describe().splitlines() == ["1 problem", str(problem)]


async def test_a_crashing_callback_is_an_invalid_outcome_not_a_crash(config_dir: Path) -> None:
    calls = 0

    def reload() -> ReloadOutcome:  # a plain function works too
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk on fire")
        return ReloadOutcome(ok=True, summary="fine again")

    reloader = Reloader([config_dir], reload, handle_sighup=False)
    first = await reloader.trigger("test")
    assert not first.ok and "disk on fire" in first.summary
    second = await reloader.trigger("test")
    assert second.ok and reloader.last_outcome is second


async def test_triggers_during_a_reload_are_coalesced_into_one_more(config_dir: Path) -> None:
    recorder = Recorder()
    recorder.gate = asyncio.Event()
    reloader = Reloader([config_dir], recorder, handle_sighup=False)
    first = asyncio.create_task(reloader.trigger("first"))
    await asyncio.sleep(0)  # let the first reload start and block on the gate
    waiting = [asyncio.create_task(reloader.trigger(f"burst {i}")) for i in range(5)]
    await asyncio.sleep(0)
    recorder.gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(first, *waiting), WAIT_S)
    assert recorder.calls == 2  # the first, then one covering the whole burst
    assert all(o.ok for o in outcomes)
    assert outcomes[0].reason == "first"
    assert {o.reason for o in outcomes[1:]} == {"burst 0"}


async def test_stop_lets_a_reload_in_progress_finish(
    started: tuple[Reloader, Recorder], config_dir: Path
) -> None:
    """SIGTERM during a reload: the new configuration is applied whole, or not at all."""
    reloader, recorder = started
    recorder.gate = asyncio.Event()
    (config_dir / "feeds.yaml").write_text("feeds: [changed]\n")
    await asyncio.wait_for(recorder.started.wait(), WAIT_S)
    stopping = asyncio.create_task(reloader.stop())
    await asyncio.sleep(0)
    assert not stopping.done()  # waiting for the reload, not cancelling it
    recorder.gate.set()
    await asyncio.wait_for(stopping, WAIT_S)
    assert recorder.ran.is_set()
    assert reloader.last_outcome is not None and reloader.last_outcome.ok


async def test_sighup_forces_a_reload(config_dir: Path) -> None:
    recorder = Recorder()
    reloader = Reloader([config_dir / "feeds.yaml"], recorder)
    await reloader.start()
    try:
        assert reloader._sighup_installed, "SIGHUP handler not installed; refusing to send it"
        os.kill(os.getpid(), signal.SIGHUP)
        await recorder.next_run()
        assert reloader.last_outcome is not None and reloader.last_outcome.reason == "SIGHUP"
    finally:
        await reloader.stop()


async def test_stop_restores_the_previous_sighup_disposition(config_dir: Path) -> None:
    before = signal.getsignal(signal.SIGHUP)
    reloader = Reloader([config_dir], Recorder())
    await reloader.start()
    await reloader.stop()
    assert signal.getsignal(signal.SIGHUP) == before


async def test_a_missing_folder_is_reported_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    reloader = Reloader([tmp_path / "nope" / "watchlists"], recorder, handle_sighup=False)
    with caplog.at_level(logging.WARNING, logger="bot.reload"):
        await reloader.start()
    assert "cannot watch missing folder" in caplog.text
    assert (await reloader.trigger("/reload")).ok  # manual reloads still work
    await reloader.stop()


class YamlConfig:
    """A miniature of the real reload callback: parse the file, keep the last good version."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: object = None
        self.changed = asyncio.Event()

    def __call__(self) -> ReloadOutcome:
        self.changed.set()
        try:
            doc = load_file(self.path)
        except ConfigError as exc:
            return ReloadOutcome(ok=False, problems=exc.problems, summary="refused")
        self.current = doc.data
        return ReloadOutcome(ok=True, summary="loaded")

    async def next_change(self) -> None:
        await asyncio.wait_for(self.changed.wait(), WAIT_S)
        self.changed.clear()


async def test_a_broken_edit_is_refused_at_its_line_and_the_fix_applies(
    config_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    feeds = config_dir / "feeds.yaml"
    config = YamlConfig(feeds)
    config()  # the initial load, as at start-up
    config.changed.clear()
    reloader = Reloader([feeds], config, debounce_ms=100, handle_sighup=False)
    await reloader.start()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.reload"):
            feeds.write_text("feeds:\n  - name: A\n    url: [unclosed\n")
            await config.next_change()
        assert reloader.last_outcome is not None and not reloader.last_outcome.ok
        assert f"{feeds}:4: invalid YAML" in caplog.text
        assert config.current == {"feeds": []}  # the last good version stays in force

        feeds.write_text("feeds:\n  - name: A\n    url: https://a.test/rss\n")
        await config.next_change()
        assert reloader.last_outcome is not None and reloader.last_outcome.ok
        assert config.current == {"feeds": [{"name": "A", "url": "https://a.test/rss"}]}
    finally:
        await reloader.stop()
