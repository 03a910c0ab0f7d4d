"""A compiled watchlist index kept on disk between `newsbot match` runs, keyed by content.

An admin tunes a large list by running `newsbot match` again and again. With 100,000 terms,
reading the YAML, validating it and building the index take seconds each time, for files that
did not change. So results are stored, and reused only when their key matches:

- the whole folder (the lists, their problems, the Matcher and the common-word sets of
  bot.lexicon), keyed by a hash of the code of the `bot` package, the Python and wordfreq
  versions, the folder's path and the name and bytes of every list file;
- each list file (what reading it gave: the list or its problems, and its compiled patterns),
  keyed by the same code hash, the file's path and its bytes. After an edit, the files that did
  not change are not read, validated or compiled again: only the index that joins them is
  built anew.

Any edit, added or removed file or upgrade makes a new key, so a stale result is never used.
Only folders of at least `MIN_CACHED_BYTES` are cached (a small list loads faster than a cache
file would), in the user's cache folder (`$XDG_CACHE_HOME/newsbot` or `~/.cache/newsbot`),
private to the user; the entries of a folder's files that are gone or changed are removed when
the new ones are written. The cache is an optimisation only: anything unusable (no cache
folder, a file of another owner or from an old version, a truncated file, a full disk) means
the lists are loaded from the files as if there were no cache.
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
from dataclasses import dataclass, field, fields
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bot.gcpause import paused_gc
from bot.lexicon import lexicon_state, restore_lexicon
from bot.match import Matcher, Owner, Pattern, collect_owners, merge_owners
from bot.models import Term, Watchlist
from bot.watchlists import FileResult, load_watchlists, read_watchlist_file, watchlist_files
from bot.yamlfile import MAX_FILE_BYTES, Problem

log = logging.getLogger(__name__)

MIN_CACHED_BYTES = 1_000_000  # about 30,000 terms
_FORMAT = b"newsbot-index-3\n"
_LIST_FORMAT = b"newsbot-list-1\n"

# What a folder's cache file holds: the lists, their problems, the Matcher, the common-word sets.
Compiled = tuple[list[Watchlist], list[Problem], Matcher, dict[str, frozenset[str]]]
# What a list file's cache file holds: what reading it gave, and its patterns when valid.
ListEntry = tuple[Watchlist | None, list[Problem], int, dict[Pattern, list[Owner]] | None]


@dataclass(slots=True)
class _Lists:
    """Reads the list files of one folder, each from its cache entry when it has one."""

    prefix: str  # cache file names of this folder's lists start with it
    keys: dict[str, bytes]  # each file's key, by its path
    entries: dict[str, tuple[bytes, ListEntry, bool]] = field(default_factory=dict)
    reused: int = 0

    def store(self, key: bytes) -> Path:
        return cache_dir() / f"{self.prefix}{key[:32].decode()}.pickle"

    def read(self, path: Path) -> FileResult:
        key = self.keys.get(str(path))
        entry: ListEntry | None = None
        if key is not None:
            entry = _read(self.store(key), _LIST_FORMAT, key)
        fresh = entry is None
        if entry is None:
            watchlist, problems, line = read_watchlist_file(path)
            owners = None if watchlist is None else collect_owners([watchlist])
            entry = (watchlist, problems, line, owners)
        else:
            self.reused += 1
        self.entries[str(path)] = (key or b"", entry, fresh)
        return entry[0], entry[1], entry[2]

    def owners(self, watchlists: list[Watchlist]) -> dict[Pattern, list[Owner]]:
        """The patterns of `watchlists` (lists read here), joined as `collect_owners` would."""
        return merge_owners(self.entries[w.path][1][3] or {} for w in watchlists)

    def save(self) -> None:
        """Write the entries read from the files; remove this folder's other entries."""
        keep = set()
        for key, entry, fresh in self.entries.values():
            if not key:
                continue
            keep.add(self.store(key).name)
            if fresh:
                _write(self.store(key), _LIST_FORMAT, key, entry)
        with contextlib.suppress(OSError):
            for old in cache_dir().glob(f"{self.prefix}*.pickle"):
                if old.name not in keep:
                    old.unlink()


@dataclass(slots=True)
class CompiledLists:
    """The valid lists of a folder, their problems and their Matcher; `save()` stores them for
    the next run when they were built here (called once the user has been answered).
    `reused_files`: list files whose cached reading was used while the index was built anew."""

    watchlists: list[Watchlist]
    problems: list[Problem]
    matcher: Matcher
    from_cache: bool
    reused_files: int = 0
    _store: Path | None = None
    _key: bytes | None = None
    _lists: _Lists | None = None

    def save(self) -> None:
        if self.from_cache or self._store is None or self._key is None:
            return
        folder_key = self._key
        self._key = None  # once
        if self._lists is not None:
            self._lists.save()
        state = (self.watchlists, self.problems, self.matcher, lexicon_state())
        _write(self._store, _FORMAT, folder_key, state)


def cache_dir() -> Path:
    """Where cached indexes live: `$XDG_CACHE_HOME/newsbot`, else `~/.cache/newsbot`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsbot"


def compiled_watchlists(folder: Path) -> CompiledLists:
    """The lists of `folder` compiled: from the cache when the files are unchanged, else
    loaded and built, reusing the cached reading of each unchanged file (to be cached by
    `save()` when the folder is large)."""
    file_keys = _file_keys(folder)
    key = _folder_key(folder, file_keys)
    name = hashlib.sha256(str(folder.absolute()).encode()).hexdigest()[:16]
    store = cache_dir() / f"index-{name}.pickle"
    with paused_gc():  # millions of long-lived objects: see bot.gcpause
        cached = None if key is None else _read(store, _FORMAT, key)
        if cached is not None:
            watchlists, problems, matcher, lexicon = cached
            restore_lexicon(lexicon)  # no need to read the word lists
            return CompiledLists(watchlists, problems, matcher, from_cache=True)
        lists = _Lists(f"list-{name}-", file_keys if key is not None else {})
        watchlists, problems = load_watchlists(folder, lists.read)
        matcher = Matcher(watchlists, lists.owners(watchlists))
    if key is not None and _folder_key(folder, _file_keys(folder)) != key:
        key = None  # a file changed while we read it: what we built has no key of its own
    return CompiledLists(watchlists, problems, matcher, False, lists.reused, store, key, lists)


def _file_keys(folder: Path) -> dict[str, bytes] | None:
    """The key of each list file (hash of the code, its path and its bytes), by path; None
    when the folder is too small to be worth cache files, or cannot be read (loading then
    reports why)."""
    keys: dict[str, bytes] = {}
    total = 0
    try:
        for path in watchlist_files(folder):
            data = path.read_bytes()[: MAX_FILE_BYTES + 1]
            total += len(data)
            digest = hashlib.sha256(_code_fingerprint())
            digest.update(b"%s\0%s\0" % (str(path).encode(), str(path.absolute()).encode()))
            digest.update(data)
            keys[str(path)] = digest.hexdigest().encode()
    except OSError:
        return None
    return keys if total >= MIN_CACHED_BYTES else None


def _folder_key(folder: Path, file_keys: dict[str, bytes] | None) -> bytes | None:
    """Hash of everything the compiled index depends on: the folder and every file's key."""
    if file_keys is None:
        return None
    digest = hashlib.sha256(_code_fingerprint())
    digest.update(b"%s\0%s\0" % (str(folder).encode(), str(folder.absolute()).encode()))
    for path, key in file_keys.items():
        digest.update(b"%s\0%s\0" % (path.encode(), key))
    return digest.hexdigest().encode()


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


_TERM_FIELDS = tuple(f.name for f in fields(Term))


class _Pickler(pickle.Pickler):
    """Stores each Term as its constructor's arguments: a frozen slotted dataclass is
    otherwise restored by a Python-level `__setstate__` per object, a third of the time it takes
    to read a cached folder of 100,000 terms."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Term:
            return Term, tuple(getattr(obj, name) for name in _TERM_FIELDS)
        return NotImplemented


def _read(store: Path, fmt: bytes, key: bytes) -> Any:
    """The object stored under `key`, or None: missing, foreign, stale or damaged."""
    try:
        with store.open("rb") as stream:
            info = os.fstat(stream.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None  # only a file this user wrote is unpickled
            if stream.readline() != fmt or stream.readline().rstrip(b"\n") != key:
                return None
            return pickle.load(stream)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: load from the lists instead
        log.debug("index cache unusable", extra={"path": str(store), "error": repr(exc)})
        return None


def _write(store: Path, fmt: bytes, key: bytes, value: object) -> None:
    """Write atomically (a temporary file renamed over the old one), readable by the user only."""
    tmp: str | None = None
    try:
        store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store.parent, prefix=".index-")
        with os.fdopen(fd, "wb") as stream:
            stream.write(fmt + key + b"\n")
            _Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        os.replace(tmp, store)
    except Exception as exc:  # read-only home, full disk, an unpicklable rule: no cache
        log.debug("index cache not written", extra={"path": str(store), "error": repr(exc)})
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
