"""The configuration in force: feeds and watchlists, reloaded live, last good version kept.

Admins edit files while the bot runs. A valid change replaces what is in force; an invalid one
is refused with its `path:line` problems and the previous version stays, so a typo never
silences alerts. The Matcher is rebuilt only when the file watchlists or the set of
subscribers' own `/watch` terms change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.feeds import load_feeds
from bot.gcpause import paused_gc
from bot.match import Matcher, personal_watchlist
from bot.models import Feed, ItemContext, Match, Watchlist
from bot.reload import ReloadOutcome
from bot.watchlists import load_watchlists
from bot.yamlfile import ConfigError, Problem


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
        """Read both sources and apply what is valid; a broken file keeps its last good version.

        A valid watchlist applies even when another one is broken (an edit of one list never
        waits for a fix of another); a broken list or feeds file stays as it last loaded, and a
        list that never loaded is left out until it is fixed. Nothing is logged here: the caller
        reports the outcome once, as start-up (service) or as a reload (Reloader) calls for.
        """
        problems: list[Problem] = []
        stays: list[str] = []
        try:
            feeds = load_feeds(self.feeds_path)
        except ConfigError as exc:
            problems += exc.problems
            feeds = self.feeds
            if feeds:
                stays.append("the feeds file")
        watchlists, wl_problems = load_watchlists(self.watchlists_dir)
        problems += wl_problems
        kept = self._last_good_lists({p.path for p in wl_problems}, watchlists)
        stays += [w.name for w in kept]
        watchlists = sorted(watchlists + kept, key=lambda w: w.path)
        if feeds:
            self._apply(feeds, watchlists)
        summary = f"{len(feeds)} feeds, {len(watchlists)} watchlists"
        if problems:
            summary += f"; {len(problems)} problem(s)"
            if stays:
                summary += "; the last good version stays: " + ", ".join(stays)
            elif not feeds:
                summary += "; no valid feeds file to start with"
        outcome = ReloadOutcome(
            not problems,
            problems,
            summary,
            feeds=len(feeds),
            watchlists=len(watchlists),
            kept=tuple(stays),
        )
        self.last = outcome
        return outcome

    def _last_good_lists(self, broken: set[str], loaded: list[Watchlist]) -> list[Watchlist]:
        """The lists in force whose files now have problems (all of them if the folder itself
        is the problem), unless a valid file now holds the same name."""
        folder_broken = str(self.watchlists_dir) in broken
        names = {w.name for w in loaded}
        return [
            w
            for w in self.watchlists
            if (folder_broken or w.path in broken) and w.name not in names
        ]

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

    def match(
        self, title: str, summary: str = "", context: ItemContext | None = None
    ) -> list[Match]:
        return [m for part in self.parts for m in part.match(title, summary, context)]
