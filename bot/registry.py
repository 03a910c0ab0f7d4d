"""The configuration in force: feeds and watchlists, reloaded live, last good version kept.

Admins edit files while the bot runs. A valid change replaces what is in force; an invalid one
is refused with its `path:line` problems and the previous version stays, so a typo never
silences alerts. The Matcher is rebuilt only when the file watchlists or the set of
subscribers' own `/watch` terms change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.feeds import load_feeds
from bot.gcpause import paused_gc
from bot.match import Matcher, personal_watchlist
from bot.models import Feed, Match, Watchlist
from bot.reload import ReloadOutcome
from bot.watchlists import load_watchlists
from bot.yamlfile import ConfigError, Problem

log = logging.getLogger("newsbot.config")


class Registry:
    """Holds the current feeds, file watchlists and the Matcher built from them."""

    def __init__(
        self,
        feeds_path: Path,
        watchlists_dir: Path,
        watched_terms: Callable[[], list[str]] = list,
    ) -> None:
        self.feeds_path = feeds_path
        self.watchlists_dir = watchlists_dir
        self.watched_terms = watched_terms
        self.feeds: list[Feed] = []
        self.watchlists: list[Watchlist] = []
        self.last: ReloadOutcome | None = None
        self._files: Matcher | None = None
        self._files_version = -1
        self._personal: Matcher | None = None
        self._personal_terms: frozenset[str] | None = None
        self._version = 0
        self._lock = threading.Lock()

    def load(self) -> ReloadOutcome:
        """Read both sources; apply them only if all is valid, else keep what was in force."""
        problems: list[Problem] = []
        try:
            feeds = load_feeds(self.feeds_path)
        except ConfigError as exc:
            feeds, problems = [], exc.problems
        watchlists, wl_problems = load_watchlists(self.watchlists_dir)
        problems += wl_problems
        initial = not self.feeds
        if problems:
            for p in problems:
                log.warning("config problem: %s", p)
            if initial and feeds:
                # Nothing was in force yet: start with the valid files rather than not at all.
                self._apply(feeds, watchlists)
                summary = (
                    f"started with {len(watchlists)} valid watchlists; {len(problems)} problem(s)"
                )
            else:
                summary = f"refused: {len(problems)} problem(s); the last good version stays"
            outcome = ReloadOutcome(False, problems, summary)
            log.warning("configuration %s", summary)
        else:
            self._apply(feeds, watchlists)
            outcome = ReloadOutcome(True, [], f"{len(feeds)} feeds, {len(watchlists)} watchlists")
            log.info("configuration loaded: %s", outcome.summary)
        self.last = outcome
        return outcome

    def _apply(self, feeds: list[Feed], watchlists: list[Watchlist]) -> None:
        with self._lock:
            self.feeds, self.watchlists = feeds, watchlists
            self._version += 1

    def matcher(self) -> CombinedMatcher:
        """The file watchlists' Matcher beside one for subscribers' /watch terms.

        They are built apart so that a subscriber's /watch rebuilds only the small personal
        index, never the curated lists' (which can hold many thousands of terms).
        """
        terms = frozenset(self.watched_terms())
        with self._lock:
            if self._files is None or self._files_version != self._version:
                with paused_gc():  # a large index: see bot.gcpause
                    self._files = Matcher(self.watchlists)
                self._files_version = self._version
            if self._personal is None or self._personal_terms != terms:
                self._personal = Matcher([personal_watchlist(t) for t in sorted(terms)])
                self._personal_terms = terms
            return CombinedMatcher((self._files, self._personal))


@dataclass(frozen=True, slots=True)
class CombinedMatcher:
    """Several Matchers asked as one; results keep each Matcher's order."""

    parts: tuple[Matcher, ...]

    def match(self, title: str, summary: str = "") -> list[Match]:
        return [m for part in self.parts for m in part.match(title, summary)]
