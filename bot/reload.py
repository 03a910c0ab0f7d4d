"""Live reload of the feeds file and the watchlists.

Admins edit YAML by hand while the bot runs. A change must apply within seconds without a
restart, and a broken edit must never take the bot down: the reload callback (supplied by the
caller) validates and swaps in the new configuration only when it is valid, keeping the last good
one otherwise. This module only decides *when* to reload: on a file change (watchfiles), on
SIGHUP, or on request (``/reload``). It serialises reloads, coalesces bursts, counts outcomes in
``newsbot_reloads_total`` and logs every refused problem as ``path:line: message``.

Why directories are watched rather than the files themselves: editors and config-management tools
save by writing a temporary file and renaming it over the original; a watch on the old file
would silently go deaf after the first save.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

from bot import metrics
from bot.yamlfile import Problem

log = logging.getLogger(__name__)

_RETRY_WATCH_S = 5.0  # after the watcher itself fails (e.g. a watched folder was removed)
_STOP_GRACE_S = 5.0  # how long stop() waits for a reload in progress


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What one reload did; the last one is shown by ``/stats``.

    `ok` False means the new files were refused and the previous configuration stays in force;
    `problems` then says where (``path:line``). `reason` and `at` are filled in by the Reloader.
    """

    ok: bool
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""
    reason: str = ""
    at: datetime | None = None
    # The same facts as `summary`, for texts in the reader's language (/reload, /stats).
    feeds: int | None = None
    watchlists: int | None = None
    kept: tuple[str, ...] = ()  # what stays at its last good version

    def describe(self) -> str:
        """One human-readable block: the summary then each problem on its own line."""
        lines = [self.summary or ("reloaded" if self.ok else "reload refused")]
        lines += [str(p) for p in self.problems]
        return "\n".join(lines)


ReloadCallback = Callable[[], "Awaitable[ReloadOutcome] | ReloadOutcome"]


class Reloader:
    """Calls `reload()` when any of `paths` changes, on SIGHUP, and on `trigger()`.

    `paths` may be files (the feeds file) or directories (the watchlists folder). Reloads never
    overlap; triggers that arrive while one is running are served by a single follow-up reload.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        reload: ReloadCallback,
        debounce_ms: int = 300,
        *,
        force_polling: bool | None = None,
        poll_delay_ms: int = 300,
        handle_sighup: bool = True,
    ) -> None:
        self.paths = [Path(p).absolute() for p in paths]
        self._reload = reload
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self.poll_delay_ms = poll_delay_ms
        self.handle_sighup = handle_sighup
        self.last_outcome: ReloadOutcome | None = None
        self._lock = asyncio.Lock()
        self._requested = 0  # number of the latest trigger
        self._served = 0  # every trigger numbered <= this has been covered by a finished reload
        self._stop = asyncio.Event()
        self._watch_task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[ReloadOutcome]] = set()
        self._sighup_installed = False
        self._dirs: set[Path] = set()  # the watched paths that are folders (set at start)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin watching (and listening for SIGHUP). Returns once the watcher is armed."""
        if self._watch_task is not None:
            return
        self._stop.clear()
        roots = self._watch_roots()
        if roots:
            self._watch_task = asyncio.create_task(self._watch(roots), name="newsbot-reload-watch")
            # One loop turn lets the task run up to its first await: awatch creates its file
            # watcher synchronously before that, so changes made after start() are not missed.
            await asyncio.sleep(0)
        else:
            log.warning("nothing to watch for reload", extra={"paths": _names(self.paths)})
        self._install_sighup()

    async def stop(self) -> None:
        """Stop watching; wait briefly for a reload in progress so no half-applied state remains."""
        self._stop.set()
        self._remove_sighup()
        task, self._watch_task = self._watch_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await asyncio.wait(self._pending, timeout=_STOP_GRACE_S)

    # -- reloading -------------------------------------------------------------------------

    async def trigger(self, reason: str) -> ReloadOutcome:
        """Reload now (or join a reload that starts after this call) and return its outcome."""
        self._requested += 1
        ticket = self._requested
        async with self._lock:
            if self._served >= ticket and self.last_outcome is not None:
                return self.last_outcome  # a reload that began after our request covered it
            covers = self._requested
            outcome = await self._run(reason)
            self._served = covers
            return outcome

    async def _run(self, reason: str) -> ReloadOutcome:
        log.info("reloading configuration", extra={"reason": reason})
        try:
            result = self._reload()
            if inspect.isawaitable(result):
                result = await result
            outcome = result
        except Exception as exc:
            log.exception("reload failed", extra={"reason": reason})
            outcome = ReloadOutcome(ok=False, summary=f"reload failed: {type(exc).__name__}: {exc}")
        outcome = dataclasses.replace(outcome, reason=reason, at=datetime.now(UTC))
        self.last_outcome = outcome
        metrics.RELOADS.labels(outcome="ok" if outcome.ok else "invalid").inc()
        if outcome.ok:
            log.info("configuration reloaded", extra={"summary": outcome.summary})
        else:
            for problem in outcome.problems:
                log.warning("reload problem: %s", problem)
            log.warning(
                "configuration reloaded with problems: %s",
                outcome.summary,
                extra={"summary": outcome.summary, "problems": len(outcome.problems)},
            )
        return outcome

    def _spawn(self, reason: str) -> asyncio.Task[ReloadOutcome] | None:
        """Trigger in a task of its own (signal handler, watcher), tracked so that stop() lets
        a reload in progress finish instead of cancelling it half-applied."""
        if self._stop.is_set():
            return None
        task = asyncio.get_running_loop().create_task(self.trigger(reason))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    # -- watching --------------------------------------------------------------------------

    def _watch_roots(self) -> list[Path]:
        """Folders to watch: each directory itself, and the parent folder of each file."""
        roots: list[Path] = []
        self._dirs = {path for path in self.paths if path.is_dir()}
        for path in self.paths:
            root = path if path in self._dirs else path.parent
            if not root.is_dir():
                log.warning("cannot watch missing folder", extra={"path": str(root)})
                continue
            if root not in roots:
                roots.append(root)
        return roots

    def _relevant(self, change: Change, changed: str) -> bool:
        """A change matters if it is a watched file, or inside a watched folder and not junk
        (editor swap files, backups, VCS folders: watchfiles' DefaultFilter)."""
        path = Path(changed)
        if path in self._dirs:
            return False  # "folder modified" only echoes the file events that come with it
        if path in self.paths:
            return True
        return path.parent in self._dirs and _default_filter(change, changed)

    async def _watch(self, roots: list[Path]) -> None:
        while not self._stop.is_set():
            try:
                async for changes in awatch(
                    *roots,
                    watch_filter=self._relevant,
                    debounce=max(self.debounce_ms, 1),
                    step=min(50, max(self.debounce_ms, 1)),
                    stop_event=self._stop,
                    recursive=False,
                    force_polling=self.force_polling,
                    poll_delay_ms=self.poll_delay_ms,
                ):
                    names = sorted({Path(p).name for _, p in changes})
                    task = self._spawn("changed: " + ", ".join(names))
                    if task is not None:
                        await asyncio.shield(task)  # stop() cancels us, not the reload
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("file watcher failed; retrying", extra={"retry_s": _RETRY_WATCH_S})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), _RETRY_WATCH_S)

    # -- SIGHUP ----------------------------------------------------------------------------

    def _install_sighup(self) -> None:
        if not self.handle_sighup or not hasattr(signal, "SIGHUP"):
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._spawn, "SIGHUP")
        except (NotImplementedError, RuntimeError, ValueError):
            log.info("SIGHUP reload not available here (not the main thread)")
            return
        self._sighup_installed = True

    def _remove_sighup(self) -> None:
        if self._sighup_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup_installed = False


_default_filter = DefaultFilter()


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths)
