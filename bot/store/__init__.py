"""The state store: the only module that talks SQL.

SQLite by default (WAL, busy timeout, `BEGIN IMMEDIATE` so two writers queue instead of
failing on a lock upgrade), PostgreSQL for several replicas (`postgresql://…`, psycopg 3). The
schema is versioned (see `migrations.py`) and brought up to date by `Store.open`.

The delivery guarantee rests on two rules kept here:
- matching writes (subscriber, story) rows into `outbox` under a unique constraint, in the same
  transaction as the item that caused them (see `bot/dedup.py`), so an item is either stored
  with all its alerts or not at all, and a re-run can never add a second row;
- a delivery is recorded by `mark_sent`, which the deliverer calls right after the Bot API
  accepted the message. The one unavoidable window: if the process dies after Telegram accepted
  the message and before `mark_sent` commits, that one alert is sent again after the restart
  (at least once, never lost). The window is one round trip plus one small commit; see
  docs/delivery.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from bot import faults
from bot.models import Alert, FeedState, Item, Match, Subscriber
from bot.store import migrations
from bot.store.schema import (
    feeds,
    item_keys,
    items,
    outbox,
    stories,
    story_names,
    subscribers,
    subscriptions,
)
from bot.stories import StoryCandidate
from bot.text import fold

log = logging.getLogger("newsbot.store")

KEY_MARGIN_DAYS = 7  # item keys outlive their items by this much (tombstones)
KEY_REFRESH = timedelta(days=1)  # how stale a key's last_seen may get before it is rewritten
MAX_KEY = 600  # item_keys.key is VARCHAR(700)
MAX_EDITS = 3  # update edits per story per subscriber; later outlets are recorded, not sent
WATCH_PREFIX = "watch:"


@dataclass(frozen=True, slots=True)
class StorySummary:
    """A recent story, enough to run the matcher over it (for a new /watch term's preview)."""

    id: str
    title: str
    summary: str
    url: str
    source: str
    published: datetime
    sources: tuple[str, ...] = ()


def engine_url(url: str) -> str:
    """Map `postgres://` and `postgresql://` to the psycopg 3 driver; leave others alone."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_engine(url: str, *, durable: bool = True) -> Engine:
    memory = url in ("sqlite://", "sqlite:///:memory:")
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        poolclass=StaticPool if memory else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
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


def storable_key(key: str) -> str:
    """An item key that fits its column: very long keys (huge tracking URLs) keep a prefix
    and a digest of the whole, so they stay unique and comparable."""
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 48] + "#sha1:" + hashlib.sha1(key.encode()).hexdigest()


def _loads(value: str | None) -> list[Any]:
    return json.loads(value) if value else []


def _match_from_json(data: dict[str, Any]) -> Match:
    return Match(
        watchlist=str(data["watchlist"]),
        term=str(data["term"]),
        matched=str(data.get("matched", "")),
        score=float(data.get("score", 0.0)),
        field=str(data.get("field", "title")),
        start=int(data.get("start", 0)),
        end=int(data.get("end", 0)),
    )


def _match_to_json(m: Match) -> dict[str, Any]:
    return {**m.as_json(), "field": m.field, "start": m.start, "end": m.end}


class Store:
    """Feeds, items, stories, subscribers and the outbox, behind plain methods.

    Thread-safe: every method opens its own short transaction (the pipeline calls it from worker
    threads). `transaction()` and the `*_in` helpers exist for `bot/dedup.py`, which must put an
    item and its outbox rows into one transaction.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._version = 0
        self._claimed: dict[int, int] = {}  # alert id -> revision handed to the deliverer
        self._lock = threading.Lock()
        self._leader_conn: Connection | None = None
        self._leader_names: set[str] = set()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, url: str, *, durable: bool = True) -> Store:
        """Connect and migrate to the latest schema. The caller creates a SQLite file's folder.

        `durable=False` relaxes SQLite's fsync per commit (still crash-safe, not power-safe).
        """
        url = engine_url(url)
        engine = (
            _sqlite_engine(url, durable=durable)
            if url.startswith("sqlite")
            else create_engine(url, pool_pre_ping=True)
        )
        store = cls(engine)
        store._version = migrations.migrate(engine)
        return store

    def close(self) -> None:
        """Release the leader lock (if held) and every pooled connection."""
        if self._leader_conn is not None:
            try:
                self._leader_conn.close()
            finally:
                self._leader_conn = None
                self._leader_names.clear()
        self.engine.dispose()

    @property
    def schema_version(self) -> int:
        return self._version

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (commit on success, rollback on error), for bot/dedup.py."""
        with self.engine.begin() as conn:
            yield conn

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

    # ---------------------------------------------------------------- feeds

    def feed_state(self, feed_url: str) -> FeedState | None:
        """What we remember of the feed configured at `feed_url`; None before its first poll."""
        with self._read() as conn:
            row = conn.execute(select(feeds).where(feeds.c.url == feed_url)).first()
        return _feed_state(row) if row else None

    def feed_states(self) -> dict[str, FeedState]:
        with self._read() as conn:
            rows = conn.execute(select(feeds)).all()
        return {row.url: _feed_state(row) for row in rows}

    def save_feed_state(self, feed_url: str, state: FeedState) -> None:
        values = {
            "fetch_url": state.url,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "failures": state.failures,
            "retry_at": state.retry_at,
            "polled_at": state.polled_at,
            "last_error": state.last_error,
        }
        stmt = self._insert(feeds).values(url=feed_url, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[feeds.c.url], set_=values)
        with self.transaction() as conn:
            conn.execute(stmt)

    # ---------------------------------------------------------------- subscribers

    def console_subscriber(self) -> Subscriber:
        """The console's own subscriber (chat id "console"), created on first use."""
        sub = self.subscriber("console", kind="console")
        assert sub is not None
        return sub

    def subscriber(
        self, chat_id: str, *, kind: str = "private", language: str = "it", create: bool = True
    ) -> Subscriber | None:
        """The subscriber of a chat; created (active) when missing unless `create` is False."""
        chat_id = str(chat_id)
        with self.transaction() if create else self._read() as conn:
            if create:
                conn.execute(
                    self._insert(subscribers)
                    .values(
                        chat_id=chat_id,
                        kind=kind,
                        language=language,
                        active=True,
                        created_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing(index_elements=[subscribers.c.chat_id])
                )
            row = conn.execute(select(subscribers).where(subscribers.c.chat_id == chat_id)).first()
        return _subscriber(row) if row else None

    def subscriber_by_id(self, subscriber_id: int) -> Subscriber | None:
        with self._read() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        return _subscriber(row) if row else None

    def _update_subscriber(self, subscriber_id: int, **values: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(**values)
            )

    def set_active(self, subscriber_id: int, active: bool) -> None:
        self._update_subscriber(subscriber_id, active=active)

    def set_language(self, subscriber_id: int, language: str) -> None:
        self._update_subscriber(subscriber_id, language=language)

    def mute(self, subscriber_id: int, until: datetime | None) -> None:
        """Hold deliveries until `until` (None unmutes); alerts wait in the outbox meanwhile."""
        self._update_subscriber(subscriber_id, muted_until=until)

    def migrate_chat(self, old_chat_id: str, new_chat_id: str) -> None:
        """A group became a supergroup: its subscriber (and pending alerts) follow the new id.

        If the new id already has a subscriber, the old one's subscriptions are copied over and
        the old one is deactivated (its pending alerts would go to a dead chat).
        """
        old_chat_id, new_chat_id = str(old_chat_id), str(new_chat_id)
        with self.transaction() as conn:
            old = conn.execute(
                select(subscribers.c.id).where(subscribers.c.chat_id == old_chat_id)
            ).scalar()
            new = conn.execute(
                select(subscribers.c.id).where(subscribers.c.chat_id == new_chat_id)
            ).scalar()
            if old is None:
                return
            if new is None:
                conn.execute(
                    update(subscribers)
                    .where(subscribers.c.id == old)
                    .values(chat_id=new_chat_id, kind="group")
                )
                return
            rows = conn.execute(
                select(subscriptions.c.kind, subscriptions.c.value).where(
                    subscriptions.c.subscriber_id == old
                )
            ).all()
            for kind, value in rows:
                conn.execute(
                    self._insert(subscriptions)
                    .values(subscriber_id=new, kind=kind, value=value)
                    .on_conflict_do_nothing()
                )
            conn.execute(update(subscribers).where(subscribers.c.id == old).values(active=False))

    # ---------------------------------------------------------------- subscriptions

    def subscribe(self, subscriber_id: int, kind: str, value: str) -> bool:
        """Follow a watchlist ("list"), a /watch term ("term") or everything ("all").

        False if the subscriber already had it.
        """
        if kind not in ("list", "term", "all"):
            raise ValueError(f"unknown subscription kind {kind!r}")
        stmt = (
            self._insert(subscriptions)
            .values(subscriber_id=subscriber_id, kind=kind, value=value)
            .on_conflict_do_nothing()
            .returning(subscriptions.c.id)  # rowcount is -1 with RETURNING on psycopg
        )
        with self.transaction() as conn:
            return conn.execute(stmt).first() is not None

    def unsubscribe(self, subscriber_id: int, kind: str, value: str) -> bool:
        with self.transaction() as conn:
            result = conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.subscriber_id == subscriber_id,
                    subscriptions.c.kind == kind,
                    subscriptions.c.value == value,
                )
            )
            return result.rowcount > 0

    def subscriptions(self, subscriber_id: int) -> list[tuple[str, str]]:
        with self._read() as conn:
            rows = conn.execute(
                select(subscriptions.c.kind, subscriptions.c.value)
                .where(subscriptions.c.subscriber_id == subscriber_id)
                .order_by(subscriptions.c.id)
            ).all()
        return [(kind, value) for kind, value in rows]

    def watched_terms(self) -> list[str]:
        """Distinct /watch terms of active subscribers, to build their personal watchlists."""
        with self._read() as conn:
            rows = conn.execute(
                select(subscriptions.c.value)
                .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
                .where(subscriptions.c.kind == "term", subscribers.c.active.is_(True))
                .distinct()
                .order_by(subscriptions.c.value)
            ).all()
        return [row[0] for row in rows]

    def subscribers_for(
        self, watchlists: Iterable[str], conn: Connection | None = None
    ) -> dict[int, set[str]]:
        """Active subscriber id -> which of these watchlist names it follows.

        A "term" subscription follows the personal watchlist "watch:" + fold(term); "all" (the
        console) follows every name that is not personal.
        """
        names = set(watchlists)
        if not names:
            return {}
        query = (
            select(subscriptions.c.subscriber_id, subscriptions.c.kind, subscriptions.c.value)
            .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
            .where(subscribers.c.active.is_(True))
        )
        if conn is None:
            with self._read() as read_conn:
                rows = read_conn.execute(query).all()
        else:
            rows = conn.execute(query).all()
        followed: dict[int, set[str]] = {}
        shared = {n for n in names if not n.startswith(WATCH_PREFIX)}
        for sub_id, kind, value in rows:
            if kind == "all":
                hit = shared
            elif kind == "list":
                hit = {value} & names
            else:
                hit = {WATCH_PREFIX + fold(value)} & names
            if hit:
                followed.setdefault(sub_id, set()).update(hit)
        return followed

    # ---------------------------------------------------------------- outbox & delivery

    def pending_alerts(
        self, now: datetime, *, limit: int = 100, claim_for: float | None = None
    ) -> list[Alert]:
        """Alerts and updates due now for active, unmuted subscribers, oldest first.

        With `claim_for` (seconds) the rows are leased until now + claim_for: another replica
        skips them (row locks with SKIP LOCKED on PostgreSQL, the lease everywhere), and if this
        process dies the lease expires and they are delivered by whoever comes next.
        """
        query = (
            select(
                outbox,
                subscribers.c.chat_id,
                subscribers.c.language,
                stories.c.title,
                stories.c.url,
                stories.c.source,
                stories.c.published,
            )
            .join(subscribers, subscribers.c.id == outbox.c.subscriber_id)
            .join(stories, stories.c.id == outbox.c.story_id)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt <= now,
                subscribers.c.active.is_(True),
                or_(subscribers.c.muted_until.is_(None), subscribers.c.muted_until <= now),
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if claim_for is not None:
            query = query.with_for_update(skip_locked=True, of=outbox)
        with self.transaction() if claim_for is not None else self._read() as conn:
            rows = conn.execute(query).all()
            if claim_for is not None and rows:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_([r.id for r in rows]))
                    .values(claimed_until=now + timedelta(seconds=claim_for))
                )
        with self._lock:
            for r in rows:
                self._claimed[r.id] = r.revision
        faults.checkpoint(faults.STORE_AFTER_CLAIM)
        return [_alert(r) for r in rows]

    def mark_sent(self, alert_id: int, *, message_id: int | None, now: datetime) -> None:
        """Record a delivery. Call it right after the Bot API accepted the message.

        If a later outlet enriched the row while the message was in flight (its revision moved
        on), the row stays pending as an update, so the new outlets still reach the subscriber.
        """
        faults.checkpoint(faults.STORE_BEFORE_MARK)
        with self._lock:
            claimed = self._claimed.pop(alert_id, None)
        with self.transaction() as conn:
            row = conn.execute(
                select(outbox.c.revision, outbox.c.edits).where(outbox.c.id == alert_id)
            ).first()
            if row is None:
                return
            changed = claimed is not None and row.revision != claimed and row.edits < MAX_EDITS
            values: dict[str, Any] = {
                "status": "pending" if changed else "sent",
                "sent_at": now,
                "message_id": func.coalesce(message_id, outbox.c.message_id),
                "claimed_until": None,
                "last_error": None,
                "attempts": 0,
            }
            if changed:
                values.update(kind="update", next_attempt=now, edits=row.edits + 1)
            conn.execute(update(outbox).where(outbox.c.id == alert_id).values(**values))
        faults.checkpoint(faults.STORE_AFTER_MARK)

    def mark_retry(self, alert_id: int, *, error: str, retry_at: datetime) -> None:
        """A transient failure: try again at `retry_at` (the lease is released)."""
        with self._lock:
            self._claimed.pop(alert_id, None)
        with self.transaction() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == alert_id, outbox.c.status == "pending")
                .values(
                    attempts=outbox.c.attempts + 1,
                    last_error=error[:2000],
                    next_attempt=retry_at,
                    claimed_until=None,
                )
            )

    def mark_dropped(self, alert_id: int, *, reason: str) -> None:
        """Never deliver this row (subscriber gone); it stays for audit and blocks re-sending."""
        with self._lock:
            self._claimed.pop(alert_id, None)
        with self.transaction() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == alert_id)
                .values(status="dropped", last_error=reason[:2000], claimed_until=None)
            )

    def outbox_depth(self) -> int:
        """Rows still owed to someone (pending alerts and updates)."""
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.status == "pending")
                ).scalar_one()
            )

    def stats(self, now: datetime) -> dict[str, int]:
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

        def count(conn: Connection, table: Table, *where: Any) -> int:
            return int(
                conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
            )

        with self._read() as conn:
            return {
                "subscribers": count(conn, subscribers),
                "active": count(conn, subscribers, subscribers.c.active.is_(True)),
                "items": count(conn, items),
                "stories": count(conn, stories),
                "alerts_sent_today": count(conn, outbox, outbox.c.sent_at >= midnight),
                "outbox_depth": count(conn, outbox, outbox.c.status == "pending"),
            }

    def recent_stories(self, since: datetime, *, limit: int = 200) -> list[StorySummary]:
        """Stories published since `since`, newest first (for a new /watch term's preview)."""
        with self._read() as conn:
            rows = conn.execute(
                select(stories)
                .where(stories.c.published >= since)
                .order_by(stories.c.published.desc(), stories.c.id)
                .limit(limit)
            ).all()
        return [
            StorySummary(
                id=r.id,
                title=r.title,
                summary=r.summary,
                url=r.url,
                source=r.source,
                published=r.published,
                sources=tuple(_loads(r.sources)),
            )
            for r in rows
        ]

    # ---------------------------------------------------------------- retention

    def prune(self, now: datetime, *, keep_days: int = 30) -> int:
        """Forget items and stories older than `keep_days`; returns the rows deleted.

        Item keys are kept `KEY_MARGIN_DAYS` longer than that, counted from the last time a feed
        listed the item, so an item that lingers in (or returns to) a feed never alerts again.
        """
        cutoff = now - timedelta(days=keep_days)
        key_cutoff = cutoff - timedelta(days=KEY_MARGIN_DAYS)
        deleted = 0
        with self.transaction() as conn:
            old_stories = select(stories.c.id).where(stories.c.updated_at < cutoff)
            deleted += conn.execute(delete(items).where(items.c.seen_at < cutoff)).rowcount
            conn.execute(
                update(items).where(items.c.story_id.in_(old_stories)).values(story_id=None)
            )
            deleted += conn.execute(
                delete(story_names).where(story_names.c.story_id.in_(old_stories))
            ).rowcount
            deleted += conn.execute(
                delete(outbox).where(outbox.c.story_id.in_(old_stories))
            ).rowcount
            deleted += conn.execute(delete(stories).where(stories.c.updated_at < cutoff)).rowcount
            deleted += conn.execute(
                delete(item_keys).where(item_keys.c.last_seen < key_cutoff)
            ).rowcount
        if not self.is_postgres:
            # Give the write-ahead log back to the file system once a day (it only grows).
            raw = self.engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        return deleted

    # ---------------------------------------------------------------- leadership

    def try_leader(self, name: str = "poller") -> bool:
        """Whether this process may poll feeds. PostgreSQL: a session advisory lock held on a
        dedicated connection until `close()` (or until the process dies). SQLite: always True.
        """
        if not self.is_postgres:
            return True
        if name in self._leader_names and self._leader_alive():
            return True
        try:
            if self._leader_conn is None:
                self._leader_conn = self.engine.connect()
                self._leader_conn.execution_options(isolation_level="AUTOCOMMIT")
            got = self._leader_conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"),
                {"k": migrations.lock_key("leader:" + name)},
            ).scalar()
        except Exception:
            log.warning("leader lock: database unreachable, not leading for now", exc_info=True)
            self._drop_leader_conn()
            return False
        if got:
            self._leader_names.add(name)
        return bool(got)

    def _leader_alive(self) -> bool:
        assert self._leader_conn is not None
        try:
            self._leader_conn.execute(text("SELECT 1"))
            return True
        except Exception:
            # The connection (and with it the lock) is gone: start over on a fresh one.
            self._drop_leader_conn()
            return False

    def _drop_leader_conn(self) -> None:
        if self._leader_conn is not None:
            try:
                self._leader_conn.invalidate()
                self._leader_conn.close()
            except Exception:
                log.debug("closing a broken leader connection failed", exc_info=True)
        self._leader_conn = None
        self._leader_names.clear()

    # ---------------------------------------------------------------- ingest helpers (dedup)

    def known_keys(self, keys: Iterable[str]) -> dict[str, datetime]:
        """Which of `keys` are known, with when each was last seen (one read, no lock).

        Lets ingest skip the write transaction for items a feed lists poll after poll.
        """
        originals = {storable_key(k): k for k in keys}
        wanted = list(originals)
        found: dict[str, datetime] = {}
        with self._read() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(item_keys.c.key, item_keys.c.last_seen).where(
                        item_keys.c.key.in_(wanted[start : start + 500])
                    )
                ).all()
                found.update({originals[r.key]: r.last_seen for r in rows})
        return found

    def known_item_in(self, conn: Connection, keys: Sequence[str], now: datetime) -> int | None:
        """The id of the item known by any of `keys`, or None. For a known item, keys it shows
        for the first time are added and stale `last_seen` marks refreshed (tombstones live on).
        """
        keys = [storable_key(k) for k in keys]
        rows = conn.execute(
            select(item_keys.c.key, item_keys.c.item_id, item_keys.c.last_seen).where(
                item_keys.c.key.in_(keys)
            )
        ).all()
        if not rows:
            return None
        item_id = int(rows[0].item_id)
        seen = {r.key: r.last_seen for r in rows}
        stale = [k for k, t in seen.items() if t < now - KEY_REFRESH]
        if stale:
            conn.execute(update(item_keys).where(item_keys.c.key.in_(stale)).values(last_seen=now))
        missing = [k for k in keys if k not in seen]
        self._add_keys(conn, item_id, missing, now)
        return item_id

    def _add_keys(self, conn: Connection, item_id: int, keys: Sequence[str], now: datetime) -> None:
        for key in dict.fromkeys(storable_key(k) for k in keys):
            conn.execute(
                self._insert(item_keys)
                .values(key=key, item_id=item_id, first_seen=now, last_seen=now)
                .on_conflict_do_nothing()
            )

    def add_item_in(self, conn: Connection, item: Item, *, now: datetime, backlog: bool) -> int:
        """Store a new item with all its keys; returns its id."""
        item_id = conn.execute(
            items.insert()
            .values(
                feed_url=item.feed_url,
                source=item.source,
                title=item.title,
                summary=item.summary,
                link=item.link,
                published=item.published,
                backlog=backlog,
                seen_at=now,
            )
            .returning(items.c.id)
        ).scalar_one()
        self._add_keys(conn, item_id, item.keys, now)
        return int(item_id)

    def story_candidates_in(
        self, conn: Connection, names: Iterable[str], start: datetime, end: datetime
    ) -> list[StoryCandidate]:
        """Stories published in [start, end] that share at least one name (most recent first)."""
        names = list(set(names))
        if not names:
            return []
        ids = (
            select(story_names.c.story_id)
            .where(
                story_names.c.name.in_(names),
                story_names.c.published >= start,
                story_names.c.published <= end,
            )
            .distinct()
        )
        rows = conn.execute(
            select(
                stories.c.id,
                stories.c.title,
                stories.c.names,
                stories.c.published,
                stories.c.sources,
            )
            .where(stories.c.id.in_(ids))
            .order_by(stories.c.published.desc())
            .limit(500)
        ).all()
        return [
            StoryCandidate(
                story_id=r.id,
                title=r.title,
                names=frozenset(_loads(r.names)),
                published=r.published,
                sources=frozenset(_loads(r.sources)),
            )
            for r in rows
        ]

    def create_story_in(
        self,
        conn: Connection,
        story_id: str,
        item: Item,
        item_id: int,
        names: Iterable[str],
        *,
        published: datetime,
        now: datetime,
        index: Iterable[str] | None = None,
    ) -> None:
        """A new story whose first item (title, link, source shown in alerts) is `item`.

        `names` are stored with the story for clustering; `index` (default: the same) are the
        names later items can find it by.
        """
        names = sorted(set(names))
        indexed = sorted(set(names) | set(index or ()))
        conn.execute(
            stories.insert().values(
                id=story_id,
                title=item.title,
                summary=item.summary,
                url=item.link,
                source=item.source,
                published=published,
                sources=json.dumps([item.source]),
                names=json.dumps(names),
                created_at=now,
                updated_at=now,
            )
        )
        for name in indexed:
            conn.execute(
                story_names.insert().values(story_id=story_id, name=name, published=published)
            )
        conn.execute(update(items).where(items.c.id == item_id).values(story_id=story_id))

    def join_story_in(
        self, conn: Connection, story_id: str, item_id: int, source: str, now: datetime
    ) -> bool:
        """Add an item to a story; True when its outlet is new to the story."""
        conn.execute(update(items).where(items.c.id == item_id).values(story_id=story_id))
        raw = conn.execute(select(stories.c.sources).where(stories.c.id == story_id)).scalar_one()
        sources = _loads(raw)
        is_new = source not in sources
        if is_new:
            sources.append(source)
        conn.execute(
            update(stories)
            .where(stories.c.id == story_id)
            .values(sources=json.dumps(sources), updated_at=now)
        )
        return is_new

    def story_exists_in(self, conn: Connection, story_id: str) -> bool:
        found = conn.execute(select(stories.c.id).where(stories.c.id == story_id)).first()
        return found is not None

    def story_sources_in(self, conn: Connection, story_id: str) -> list[str]:
        raw = conn.execute(select(stories.c.sources).where(stories.c.id == story_id)).scalar_one()
        return list(_loads(raw))

    def enqueue_in(
        self,
        conn: Connection,
        subscriber_id: int,
        story_id: str,
        matches: Sequence[Match],
        *,
        also: Sequence[str] = (),
        now: datetime,
    ) -> bool:
        """Owe `subscriber_id` an alert about `story_id`; False if it already has a row."""
        stmt = (
            self._insert(outbox)
            .values(
                subscriber_id=subscriber_id,
                story_id=story_id,
                kind="alert",
                status="pending",
                matches=json.dumps([_match_to_json(m) for m in matches], ensure_ascii=False),
                also=json.dumps(list(also), ensure_ascii=False),
                next_attempt=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[outbox.c.subscriber_id, outbox.c.story_id])
            .returning(outbox.c.id)
        )
        return conn.execute(stmt).first() is not None

    def flag_update_in(
        self,
        conn: Connection,
        story_id: str,
        source: str,
        *,
        now: datetime,
        max_edits: int = MAX_EDITS,
    ) -> int:
        """A new outlet joined `story_id`: add it to every row's `also`.

        A pending row (alert or update not yet delivered) is just enriched. A delivered row goes
        back to pending as an "update", at most `max_edits` times per row; past that, the outlet
        is recorded in the story only. Returns how many delivered rows became updates.
        """
        rows = conn.execute(
            select(outbox.c.id, outbox.c.status, outbox.c.also, outbox.c.edits).where(
                outbox.c.story_id == story_id, outbox.c.status != "dropped"
            )
        ).all()
        flagged = 0
        for row in rows:
            also = _loads(row.also)
            if source in also:
                continue
            values: dict[str, Any] = {"revision": outbox.c.revision + 1}
            if row.status == "sent":
                if row.edits >= max_edits:
                    continue
                values.update(
                    kind="update",
                    status="pending",
                    edits=row.edits + 1,
                    next_attempt=now,
                    attempts=0,
                )
                flagged += 1
            values["also"] = json.dumps([*also, source], ensure_ascii=False)
            conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
        return flagged


def _feed_state(row: Any) -> FeedState:
    return FeedState(
        url=row.fetch_url,
        etag=row.etag,
        last_modified=row.last_modified,
        failures=row.failures,
        retry_at=row.retry_at,
        polled_at=row.polled_at,
        last_error=row.last_error,
    )


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id,
        chat_id=row.chat_id,
        kind=row.kind,
        language=row.language,
        active=bool(row.active),
        muted_until=row.muted_until,
    )


def _alert(row: Any) -> Alert:
    return Alert(
        id=row.id,
        subscriber_id=row.subscriber_id,
        chat_id=row.chat_id,
        kind=row.kind,
        story_id=row.story_id,
        title=row.title,
        url=row.url,
        source=row.source,
        published=row.published,
        matches=tuple(_match_from_json(m) for m in _loads(row.matches)),
        also=tuple(_loads(row.also)),
        message_id=row.message_id,
        language=row.language,
        extra={"revision": row.revision, "attempts": row.attempts, "edits": row.edits},
    )


__all__ = ["Store", "StorySummary", "engine_url"]
