"""The state store: the only module that talks SQL.

SQLite by default (WAL, busy timeout, `BEGIN IMMEDIATE` so two writers queue instead of
failing on a lock upgrade), PostgreSQL for several replicas (`postgresql://…`, psycopg 3). The
schema is versioned (see `migrations.py`) and brought up to date by `Store.open`.

The delivery guarantee rests on two rules kept here:
- matching writes (subscriber, story) rows into `outbox` under a unique constraint, in the same
  transaction as the item that caused them (see `bot/dedup.py`), so an item is either stored
  with all its alerts or not at all, and a re-run can never add a second row;
- a delivery is recorded by `mark_sent_many` (all rows of one message in one transaction),
  which the deliverer calls right after the Bot API
  accepted the message. The one unavoidable window: if the process dies after Telegram accepted
  the message and before `mark_sent_many` commits, that one message is sent again after the restart
  (at least once, never lost). The window is one round trip plus one small commit; see
  docs/delivery.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)

from bot import faults
from bot.models import Alert, FeedState, Subscriber
from bot.schedule import Schedule, was_held
from bot.store import migrations
from bot.store.base import (
    KEY_MARGIN_DAYS,
    KEY_REFRESH,
    MAX_EDITS,
    MAX_KEY,
    WATCH_PREFIX,
    engine_url,
    loads,
    match_from_json,
    sqlite_engine,
    storable_key,
    subscription_target,
)
from bot.store.bulk import ImportCount, SubscriberBulkOps
from bot.store.ingest import IngestOps
from bot.store.leader import FileLock, lock_path
from bot.store.leases import LeaseOps
from bot.store.prefs import PreferenceOps
from bot.store.schema import (
    counters,
    exclusions,
    feeds,
    item_keys,
    items,
    outbox,
    stories,
    story_names,
    subscribers,
    subscriptions,
)
from bot.store.websub import WebSubOps

log = logging.getLogger("newsbot.store")


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


class Store(IngestOps, PreferenceOps, SubscriberBulkOps, WebSubOps, LeaseOps):
    """Feeds, items, stories, subscribers and the outbox, behind plain methods.

    Thread-safe: every method opens its own short transaction (the pipeline calls it from worker
    threads). `transaction()` and the `*_in` helpers exist for `bot/dedup.py`, which must put an
    item and its outbox rows into one transaction.
    """

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._version = 0
        self._claimed: dict[int, int] = {}  # alert id -> revision handed to the deliverer
        self._lock = threading.Lock()
        self._leader_conn: Connection | None = None
        self._leader_names: set[str] = set()
        self._file_locks: dict[str, FileLock] = {}  # SQLite: name -> lock beside the file
        self._terms: tuple[int, tuple[str, ...]] | None = None  # (version, /watch terms)

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, url: str, *, durable: bool = True, busy_timeout: float = 30.0) -> Store:
        """Connect and migrate to the latest schema. The caller creates a SQLite file's folder.

        `durable=False` relaxes SQLite's fsync per commit (still crash-safe, not power-safe);
        `busy_timeout` is how long a SQLite writer waits for another before giving up.
        """
        url = engine_url(url)
        engine = (
            sqlite_engine(url, durable=durable, busy_timeout=busy_timeout)
            if url.startswith("sqlite")
            else create_engine(url, pool_pre_ping=True)
        )
        store = cls(engine)
        store._version = migrations.migrate(engine)
        return store

    def close(self) -> None:
        """Release the leader lock (if held) and every pooled connection."""
        for lock in self._file_locks.values():
            lock.release()
        self._file_locks.clear()
        if self._leader_conn is not None:
            try:
                # Unlock before closing: the server frees a closed session's locks only once its
                # backend has exited, a moment later; the next leader should not wait for that.
                with suppress(Exception):
                    self._leader_conn.execute(text("SELECT pg_advisory_unlock_all()"))
                self._leader_conn.close()
            finally:
                self._leader_conn = None
                self._leader_names.clear()
        self.engine.dispose()

    @property
    def schema_version(self) -> int:
        return self._version

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
            "moved_to": state.moved_to,
            "moved_hits": state.moved_hits,
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

    def _update_subscriber(self, subscriber_id: int, **values: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(**values)
            )

    def set_active(self, subscriber_id: int, active: bool) -> None:
        self._update_subscriber(subscriber_id, active=active)

    def set_language(self, subscriber_id: int, language: str, origin: str | None = None) -> None:
        """The chat's language; `origin` "chosen" (by /lingua) is never overridden by the
        Telegram language of whoever writes next (see Subscriber.language_origin)."""
        self._update_subscriber(subscriber_id, language=language, language_origin=origin)

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
                    .values(
                        subscriber_id=new,
                        kind=kind,
                        value=value,
                        target=subscription_target(kind, value),
                    )
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
            .values(
                subscriber_id=subscriber_id,
                kind=kind,
                value=value,
                target=subscription_target(kind, value),
            )
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

    # ---------------------------------------------------------------- exclusions & silence

    def exclude(self, subscriber_id: int, watchlist: str, term: str) -> bool:
        """ "Not this player": `term` of list `watchlist` no longer alerts this subscriber.

        False if it was already excluded."""
        stmt = (
            self._insert(exclusions)
            .values(
                subscriber_id=subscriber_id,
                watchlist=watchlist,
                term=term,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
            .returning(exclusions.c.id)
        )
        with self.transaction() as conn:
            return conn.execute(stmt).first() is not None

    def unexclude(self, subscriber_id: int, watchlist: str, term: str) -> bool:
        with self.transaction() as conn:
            result = conn.execute(
                delete(exclusions).where(
                    exclusions.c.subscriber_id == subscriber_id,
                    exclusions.c.watchlist == watchlist,
                    exclusions.c.term == term,
                )
            )
            return result.rowcount > 0

    def exclusions(self, subscriber_id: int) -> list[tuple[str, str]]:
        """(watchlist, term) pairs this subscriber excluded, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                select(exclusions.c.watchlist, exclusions.c.term)
                .where(exclusions.c.subscriber_id == subscriber_id)
                .order_by(exclusions.c.id)
            ).all()
        return [(w, t) for w, t in rows]

    def exclusions_in(
        self, conn: Connection, pairs: Iterable[tuple[str, str]]
    ) -> dict[int, set[tuple[str, str]]]:
        """Subscriber id -> which of these (watchlist, term) pairs it excluded: one indexed
        query per matched item, so fan-out never loops over every subscriber."""
        wanted = set(pairs)
        if not wanted:
            return {}
        rows = conn.execute(
            select(exclusions.c.subscriber_id, exclusions.c.watchlist, exclusions.c.term).where(
                tuple_(exclusions.c.watchlist, exclusions.c.term).in_(sorted(wanted))
            )
        ).all()
        found: dict[int, set[tuple[str, str]]] = {}
        for sub_id, watchlist, term in rows:
            found.setdefault(sub_id, set()).add((watchlist, term))
        return found

    def silence_story(self, subscriber_id: int, story_id: str, silenced: bool = True) -> bool:
        """Stop (or, with False, resume) "also on" edits of this story's message for this
        subscriber; an edit already queued is cancelled. False if there is no such alert."""
        with self.transaction() as conn:
            where = (outbox.c.subscriber_id == subscriber_id, outbox.c.story_id == story_id)
            result = conn.execute(update(outbox).where(*where).values(silenced=silenced))
            if silenced:
                conn.execute(
                    update(outbox)
                    .where(*where, outbox.c.kind == "update", outbox.c.status == "pending")
                    .values(status="sent", claimed_until=None)
                )
            return result.rowcount > 0

    def watched_terms(self) -> list[str]:
        """Distinct /watch terms of active subscribers, to build their personal watchlists.

        Asked before every poll: the terms are read again only when the database's version of
        them (a counter its triggers keep, schema 9) moved since the last read, whoever changed
        them (this process, another replica, an import, an admin's SQL). The version is read
        in the same transaction as the terms, so what is cached is never newer than its version.
        """
        with self._read() as conn:
            version = conn.execute(
                select(counters.c.value).where(counters.c.name == "watched_terms")
            ).scalar_one_or_none()
            with self._lock:
                cached = self._terms
            if version is not None and cached is not None and cached[0] == version:
                return list(cached[1])
            rows = conn.execute(
                select(subscriptions.c.value)
                .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
                .where(subscriptions.c.kind == "term", subscribers.c.active.is_(True))
                .distinct()
                .order_by(subscriptions.c.value)
            ).all()
        terms = tuple(row[0] for row in rows)
        with self._lock:
            self._terms = None if version is None else (version, terms)
        return list(terms)

    def subscribers_for(
        self, watchlists: Iterable[str], conn: Connection | None = None
    ) -> dict[int, set[str]]:
        """Active subscriber id -> which of these watchlist names it follows.

        Reads only the followers of these names (subscriptions.target is indexed), never every
        subscription: the cost of an item is the cost of its audience. "all" (the console)
        follows every name that is not personal.
        """
        names = set(watchlists)
        if not names:
            return {}
        query = (
            select(subscriptions.c.subscriber_id, subscriptions.c.target)
            .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
            .where(
                subscriptions.c.target.in_(sorted(names | {"*"})),
                subscribers.c.active.is_(True),
            )
        )
        if conn is None:
            with self._read() as read_conn:
                rows = read_conn.execute(query).all()
        else:
            rows = conn.execute(query).all()
        followed: dict[int, set[str]] = {}
        shared = {n for n in names if not n.startswith(WATCH_PREFIX)}
        for sub_id, target in rows:
            hit = shared if target == "*" else {target}
            if hit:
                followed.setdefault(sub_id, set()).update(hit)
        return followed

    # ---------------------------------------------------------------- outbox & delivery

    def pending_alerts(
        self,
        now: datetime,
        *,
        limit: int = 100,
        claim_for: float | None = None,
        channel: str | None = None,
    ) -> list[Alert]:
        """Alerts and updates due now for active, unmuted subscribers, oldest first.

        Quiet hours and daily digests (see `bot.schedule`) hold rows too; a row that waited
        for the end of a pause is marked `extra["held"]`, and the sender sends those together.

        `channel` "console" or "telegram" keeps only that deliverer's subscribers, so the
        console never prints (and marks sent) what a Telegram subscriber is owed.

        With `claim_for` (seconds) the rows are leased until now + claim_for: another replica
        skips them (row locks with SKIP LOCKED on PostgreSQL, the lease everywhere), and if this
        process dies the lease expires and they are delivered by whoever comes next.
        """
        query = (
            select(
                outbox,
                subscribers.c.chat_id,
                subscribers.c.language,
                *_shown_item(),
                subscribers.c.muted_until,
            )
            .join(subscribers, subscribers.c.id == outbox.c.subscriber_id)
            .join(stories, stories.c.id == outbox.c.story_id)
            .outerjoin(items, items.c.id == outbox.c.item_id)
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
        if channel == "console":
            query = query.where(subscribers.c.kind == "console")
        elif channel == "telegram":
            query = query.where(subscribers.c.kind != "console")
        if claim_for is not None:
            query = query.with_for_update(skip_locked=True, of=outbox)
        with self.transaction() if claim_for is not None else self._read() as conn:
            due, schedules = self.due_filter(conn, now)
            if due is not None:
                query = query.where(due)
            rows = conn.execute(query).all()
            links = _outlet_links(conn, {r.story_id for r in rows if loads(r.also)})
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
        alerts = [_alert(r, links.get(r.story_id, ())) for r in rows]
        for alert, row in zip(alerts, rows, strict=True):
            schedule = schedules.get(row.subscriber_id) or Schedule(row.muted_until)
            if was_held(schedule, row.created_at, now):
                alert.extra["held"] = True
        return alerts

    def mark_sent(self, alert_id: int, *, message_id: int | None, now: datetime) -> None:
        """Record one delivery; see `mark_sent_many`."""
        self.mark_sent_many([alert_id], message_id=message_id, now=now)

    def mark_sent_many(
        self, alert_ids: Sequence[int], *, message_id: int | None, now: datetime
    ) -> None:
        """Record that one message (an alert, or a digest of several) reached its subscriber.

        Call it right after the Bot API accepted the message. Every row the message carried is
        recorded in ONE transaction: a crash or a store error leaves all of them pending or all
        of them sent, never a digest half recorded (whose other half would go out again).

        The one window of the delivery guarantee: a process that dies after the API accepted
        the message and before this commits sends that message again after its restart (at
        least once, never lost). Keep nothing but this call between the two (docs/delivery.md).
        On a store error the caller retries this call, never the send.

        If a later outlet enriched a row while the message was in flight (its revision moved
        on), that row stays pending as an update, so the new outlets still reach the subscriber.
        """
        faults.checkpoint(faults.STORE_BEFORE_MARK)
        with self._lock:
            claimed = {i: self._claimed.get(i) for i in alert_ids}
        with self.transaction() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.revision, outbox.c.edits).where(
                    outbox.c.id.in_(list(alert_ids))
                )
            ).all()
            for row in rows:
                handed = claimed.get(row.id)
                changed = handed is not None and row.revision != handed and row.edits < MAX_EDITS
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
                conn.execute(update(outbox).where(outbox.c.id == row.id).values(**values))
        with self._lock:
            for alert_id in alert_ids:
                self._claimed.pop(alert_id, None)
        faults.checkpoint(faults.STORE_AFTER_MARK)

    def extend_lease(self, alert_ids: Sequence[int], *, until: datetime) -> None:
        """Keep rows leased to this process (while their record is being retried)."""
        with self.transaction() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(alert_ids)), outbox.c.status == "pending")
                .values(claimed_until=until)
            )

    def _unclaim(self, alert_id: int) -> int | None:
        """Forget the lease handed to the deliverer; returns the revision it was handed."""
        with self._lock:
            return self._claimed.pop(alert_id, None)

    def mark_retry(self, alert_id: int, *, error: str, retry_at: datetime) -> None:
        """A transient failure: try again at `retry_at` (the lease is released)."""
        self._unclaim(alert_id)
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
        self._unclaim(alert_id)
        with self.transaction() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == alert_id)
                .values(status="dropped", last_error=reason[:2000], claimed_until=None)
            )

    def outbox_depth(self) -> int:
        """Rows still owed to someone (pending alerts and updates)."""
        with self._read() as conn:
            return _count(conn, outbox, outbox.c.status == "pending")

    def stats(self, now: datetime) -> dict[str, int]:
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        counts = self.subscriber_counts(now)
        with self._read() as conn:
            return {
                **counts,
                "items": _count(conn, items),
                "stories": _count(conn, stories),
                "alerts_sent_today": _count(conn, outbox, outbox.c.sent_at >= midnight),
                "outbox_depth": _count(conn, outbox, outbox.c.status == "pending"),
            }

    def digest_alerts(self, subscriber_id: int, message_id: int) -> list[Alert]:
        """The stories one digest message carried (its rows keep minus its message id)."""
        query = (
            select(
                outbox,
                subscribers.c.chat_id,
                subscribers.c.language,
                *_shown_item(),
            )
            .join(subscribers, subscribers.c.id == outbox.c.subscriber_id)
            .join(stories, stories.c.id == outbox.c.story_id)
            .outerjoin(items, items.c.id == outbox.c.item_id)
            .where(outbox.c.subscriber_id == subscriber_id, outbox.c.message_id == -message_id)
            .order_by(outbox.c.id)
        )
        with self._read() as conn:
            return [_alert(r) for r in conn.execute(query).all()]

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
                sources=tuple(loads(r.sources)),
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
        dedicated connection until `close()` (or until the process dies). SQLite: an exclusive
        lock on a file beside the database, held the same way; an in-memory database has no
        other process to share it with.
        """
        if not self.is_postgres:
            return self._try_file_leader(name)
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

    def _try_file_leader(self, name: str) -> bool:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True
        lock = self._file_locks.get(name)
        if lock is None:
            lock = self._file_locks[name] = FileLock(lock_path(database, name))
        try:
            return lock.try_acquire()
        except OSError as exc:  # e.g. a read-only folder: better two pollers than none
            log.warning("leader lock %s unusable (%s); polling anyway", lock.path, exc)
            return True

    def leader_holder(self, name: str = "poller") -> str:
        """Who else leads, for the log line of a process that does not: '' when unknown."""
        lock = self._file_locks.get(name)
        if lock is None or lock.held:
            return ""
        pid = lock.holder()
        return f"process {pid} (lock {lock.path})" if pid else f"lock {lock.path}"

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


def _shown_item() -> list[Any]:
    """What an alert shows: the item that brought the story to its subscriber (outbox.item_id,
    outer-joined as `items`), else (rows of older versions, pruned items) the story's first."""
    return [
        func.coalesce(items.c.title, stories.c.title).label("title"),
        func.coalesce(items.c.link, stories.c.url).label("url"),
        func.coalesce(items.c.source, stories.c.source).label("source"),
        func.coalesce(items.c.published, stories.c.published).label("published"),
        func.coalesce(items.c.summary, stories.c.summary).label("summary"),
    ]


def _count(conn: Connection, table: Table, *where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _feed_state(row: Any) -> FeedState:
    return FeedState(
        url=row.fetch_url,
        etag=row.etag,
        last_modified=row.last_modified,
        failures=row.failures,
        retry_at=row.retry_at,
        polled_at=row.polled_at,
        last_error=row.last_error,
        moved_to=row.moved_to,
        moved_hits=row.moved_hits or 0,
    )


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row.id,
        chat_id=row.chat_id,
        kind=row.kind,
        language=row.language,
        active=bool(row.active),
        muted_until=row.muted_until,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        digest_at=row.digest_at,
        timezone=row.timezone,
        last_seen=row.last_seen,
        language_origin=row.language_origin,
    )


def _outlet_links(conn: Connection, story_ids: set[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Story id -> (outlet, address of its first article in the story): "also on" links."""
    if not story_ids:
        return {}
    rows = conn.execute(
        select(items.c.story_id, items.c.source, items.c.link)
        .where(items.c.story_id.in_(story_ids))
        .order_by(items.c.id)
    ).all()
    found: dict[str, dict[str, str]] = {}
    for story_id, source, url in rows:
        found.setdefault(story_id, {}).setdefault(source, url)
    return {story: tuple(outlets.items()) for story, outlets in found.items()}


def _alert(row: Any, links: tuple[tuple[str, str], ...] = ()) -> Alert:
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
        matches=tuple(match_from_json(m) for m in loads(row.matches)),
        also=tuple(loads(row.also)),
        message_id=row.message_id,
        language=row.language,
        extra={"revision": row.revision, "attempts": row.attempts, "edits": row.edits},
        summary=getattr(row, "summary", None) or "",  # not every query selects it
        links=links,
    )


__all__ = [
    "KEY_MARGIN_DAYS",
    "KEY_REFRESH",
    "MAX_EDITS",
    "MAX_KEY",
    "ImportCount",
    "Store",
    "StorySummary",
    "engine_url",
    "storable_key",
]
