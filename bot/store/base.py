"""Shared ground of the store: engines, transactions, dialect-aware inserts, JSON helpers.

`StoreBase` knows how to open a transaction on SQLite or PostgreSQL; the operations live in
`bot/store/ingest.py` (what dedup writes) and `bot/store/__init__.py` (everything else).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

from bot.models import Match
from bot.text import fold

KEY_MARGIN_DAYS = 7  # item keys outlive their items by this much (tombstones)
KEY_REFRESH = timedelta(days=1)  # how stale a key's last_seen may get before it is rewritten
MAX_KEY = 600  # item_keys.key is VARCHAR(700)
WATCH_PREFIX = "watch:"  # a subscriber's own /watch term is the watchlist "watch:" + folded term
MAX_EDITS = 3  # update edits per story per subscriber; later outlets are recorded, not sent


def engine_url(url: str) -> str:
    """Map `postgres://` and `postgresql://` to the psycopg 3 driver; leave others alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sqlite_engine(url: str, *, durable: bool = True, busy_timeout: float = 30.0) -> Engine:
    """SQLite tuned for one busy writer and a few readers: WAL, busy timeout, BEGIN IMMEDIATE.

    `busy_timeout` (seconds) is how long a writer queues behind another before "database is
    locked"; tests shorten it to meet a locked database quickly.
    """
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a delivery mark survives a power cut, not only a crash. NORMAL (tests, bulk
        # simulations) is still safe against a killed process.
        cursor.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get("newsbot_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def subscription_target(kind: str, value: str) -> str:
    """The watchlist name a subscription follows, as the matcher names it: a list's name,
    "watch:" + the folded term (bot.match.personal_watchlist), or "*" (the console: all)."""
    if kind == "all":
        return "*"
    if kind == "term":
        return WATCH_PREFIX + fold(" ".join(value.split()))
    return value


def storable_key(key: str) -> str:
    """An item key that fits its column: very long keys (huge tracking URLs) keep a prefix
    and a digest of the whole, so they stay unique and comparable."""
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 48] + "#sha1:" + hashlib.sha1(key.encode()).hexdigest()


def loads(value: str | None) -> list[Any]:
    return json.loads(value) if value else []


def match_from_json(data: dict[str, Any]) -> Match:
    return Match(
        watchlist=str(data["watchlist"]),
        term=str(data["term"]),
        matched=str(data.get("matched", "")),
        score=float(data.get("score", 0.0)),
        field=str(data.get("field", "title")),
        start=int(data.get("start", 0)),
        end=int(data.get("end", 0)),
    )


def match_to_json(m: Match) -> dict[str, Any]:
    return {**m.as_json(), "field": m.field, "start": m.start, "end": m.end}


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """The store's last write failed: when, and what the database said (one line)."""

    at: datetime
    error: str


class Deadlock(OperationalError):
    """PostgreSQL ended this transaction to break a deadlock with another writer (two
    transactions that locked the same rows in opposite orders), or could not serialize it with
    one: it was rolled back whole, and the same work can be done again."""


DEADLOCK_SQLSTATE = "40P01"
SERIALIZATION_SQLSTATE = "40001"  # only under REPEATABLE READ or SERIALIZABLE; retried alike
RETRYABLE_SQLSTATES = frozenset({DEADLOCK_SQLSTATE, SERIALIZATION_SQLSTATE})


class StoreBase:
    """An engine and the three ways to use it: write, read, dialect-aware insert.

    Every write goes through `transaction()`, which remembers whether the last one failed for
    an operational reason (locked, disk full, connection lost): the health probe reports it,
    since reads alone (which still work on a locked or full SQLite file) would look healthy.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.write_failure: WriteFailure | None = None
        # SQLite has one writer at a time: the store queues its own writers here, so concurrent
        # polls wait their turn instead of racing for the file lock and failing, after the busy
        # timeout, with "database is locked". PostgreSQL has row locks: no queue.
        self._writer: threading.RLock | None = None if self.is_postgres else threading.RLock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (commit on success, rollback on error), for bot/dedup.py."""
        with self._outcome(), self._writer or nullcontext(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def writer(self) -> Iterator[Callable[[], AbstractContextManager[Connection]]]:
        """`transaction`s one after another, for one feed's items (bot/dedup.py).

        On PostgreSQL every item commits on its own: here they share one connection, instead
        of taking one from the pool (and pinging the server) per item. SQLite: `transaction`.
        """
        if not self.is_postgres:
            yield self.transaction
            return
        with self.engine.connect() as held:

            @contextmanager
            def transaction() -> Iterator[Connection]:
                with self._outcome(), held.begin():
                    yield held

            yield transaction

    @contextmanager
    def _outcome(self) -> Iterator[None]:
        """A write's failure: a deadlock's victim (to retry), or an outage the health check
        reports (`write_failure`, cleared by the next write that succeeds)."""
        try:
            yield
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
                raise Deadlock(exc.statement, exc.params, exc.orig) from exc  # not an outage
            reason = str(exc.orig or exc).strip().splitlines() or [type(exc).__name__]
            self.write_failure = WriteFailure(datetime.now(UTC), reason[0][:500])
            raise
        self.write_failure = None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(newsbot_read_only=True)
            with conn.begin():
                yield conn

    def _insert(self, table: Table) -> Insert:
        """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
        if self.is_postgres:
            return postgresql.insert(table)
        return sqlite.insert(table)
