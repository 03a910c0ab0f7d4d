"""A compiled watchlist index kept on disk between `newsbot match` runs, keyed by content.

An admin tunes a large list by running `newsbot match` again and again. With 100,000 terms,
reading the YAML, validating it and building the index take seconds each time, for files that
did not change. So the result (the lists, their problems, the Matcher and the common-word sets of
bot.lexicon) is stored, and reused only when the key matches: a hash of the code of the `bot`
package, the Python and wordfreq versions, the folder's path and the name and bytes of every
list file. Any edit, added or removed file or upgrade makes a new key, so a stale index is never
used.

Only folders of at least `MIN_CACHED_BYTES` are cached (a small list loads faster than a cache
file would); one file per folder, in the user's cache folder (`$XDG_CACHE_HOME/newsbot` or
`~/.cache/newsbot`), private to the user. The cache is an optimisation only: anything unusable
(no cache folder, a file of another owner or from an old version, a full disk) means the lists are
loaded from the files as if there were no cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

from bot.gcpause import paused_gc
from bot.lexicon import lexicon_state, restore_lexicon
from bot.match import Matcher
from bot.models import Watchlist
from bot.watchlists import load_watchlists, watchlist_files
from bot.yamlfile import MAX_FILE_BYTES, Problem

log = logging.getLogger(__name__)

MIN_CACHED_BYTES = 1_000_000  # about 30,000 terms
_FORMAT = b"newsbot-index-2\n"

# What a cache file holds: the lists, their problems, the Matcher, the common-word sets.
Compiled = tuple[list[Watchlist], list[Problem], Matcher, dict[str, frozenset[str]]]


@dataclass(slots=True)
class CompiledLists:
    """The valid lists of a folder, their problems and their Matcher; `save()` stores them for
    the next run when they were built here (called once the user has been answered)."""

    watchlists: list[Watchlist]
    problems: list[Problem]
    matcher: Matcher
    from_cache: bool
    _store: Path | None = None
    _key: bytes | None = None

    def save(self) -> None:
        if self.from_cache or self._store is None or self._key is None:
            return
        folder_key = self._key
        self._key = None  # once
        state = (self.watchlists, self.problems, self.matcher, lexicon_state())
        _write(self._store, folder_key, state)


def cache_dir() -> Path:
    """Where cached indexes live: `$XDG_CACHE_HOME/newsbot`, else `~/.cache/newsbot`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsbot"


def compiled_watchlists(folder: Path) -> CompiledLists:
    """The lists of `folder` compiled: from the cache when the files are unchanged, else
    loaded and built (to be cached by `save()` when the folder is large)."""
    key = _content_key(folder)
    name = hashlib.sha256(str(folder.absolute()).encode()).hexdigest()[:16]
    store = cache_dir() / f"index-{name}.pickle"
    with paused_gc():  # millions of long-lived objects: see bot.gcpause
        cached = None if key is None else _read(store, key)
        if cached is not None:
            watchlists, problems, matcher, lexicon = cached
            restore_lexicon(lexicon)  # no need to import wordfreq and read its lists
            return CompiledLists(watchlists, problems, matcher, from_cache=True)
        watchlists, problems = load_watchlists(folder)
        matcher = Matcher(watchlists)
    if key is not None and _content_key(folder) != key:
        key = None  # a file changed while we read it: what we built has no key of its own
    return CompiledLists(watchlists, problems, matcher, False, store, key)


def _content_key(folder: Path) -> bytes | None:
    """Hash of everything the compiled index depends on; None when the folder is too small to
    be worth a cache file, or cannot be read (loading then reports why)."""
    digest = hashlib.sha256(_code_fingerprint())
    digest.update(str(folder.absolute()).encode())
    total = 0
    try:
        for path in watchlist_files(folder):
            data = path.read_bytes()[: MAX_FILE_BYTES + 1]
            total += len(data)
            digest.update(b"\0%s\0%d\0" % (path.name.encode(), len(data)))
            digest.update(data)
    except OSError:
        return None
    return digest.hexdigest().encode() if total >= MIN_CACHED_BYTES else None


@cache
def _code_fingerprint() -> bytes:
    """The Python and wordfreq versions and the source of every module of the package: a new
    rule, word list or release makes every cached index stale."""
    digest = hashlib.sha256(f"{sys.version} wordfreq {version('wordfreq')}".encode())
    package = Path(__file__).resolve().parent
    for source in sorted(package.rglob("*.py")):
        digest.update(str(source.relative_to(package)).encode())
        digest.update(source.read_bytes())
    return digest.digest()


def _read(store: Path, key: bytes) -> Compiled | None:
    try:
        with store.open("rb") as stream:
            info = os.fstat(stream.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None  # only a file this user wrote is unpickled
            if stream.readline() != _FORMAT or stream.readline().rstrip(b"\n") != key:
                return None
            compiled = pickle.load(stream)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: load from the lists instead
        log.debug("index cache unusable", extra={"path": str(store), "error": repr(exc)})
        return None
    return compiled  # type: ignore[no-any-return]


def _write(store: Path, key: bytes, compiled: Compiled) -> None:
    """Write atomically (a temporary file renamed over the old one), readable by the user only."""
    tmp: str | None = None
    try:
        store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=".index-")
        with os.fdopen(fd, "wb") as stream:
            stream.write(_FORMAT + key + b"\n")
            pickle.dump(compiled, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, store)
    except Exception as exc:  # read-only home, full disk, an unpicklable rule: no cache
        log.debug("index cache not written", extra={"path": str(store), "error": repr(exc)})
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
