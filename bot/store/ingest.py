"""What dedup writes, inside its one-transaction-per-item (see bot/dedup.py).

Every method takes the caller's connection (`*_in`), so the item, its keys, its story and the
outbox rows it causes commit or vanish together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError

from bot.models import Item, Match
from bot.store.base import (
    KEY_REFRESH,
    MAX_EDITS,
    WATCH_PREFIX,
    StoreBase,
    loads,
    match_to_json,
    storable_key,
)
from bot.store.schema import (
    UTCDateTime,
    exclusions,
    item_keys,
    items,
    outbox,
    stories,
    story_names,
    subscribers,
    subscriptions,
)
from bot.stories import StoryCandidate

FAN_OUT_CHUNK = 5_000  # subscribers per INSERT … SELECT (SQLite allows 32,766 parameters)


class AlreadyKnown(Exception):
    """Raised inside an ingest transaction when a concurrent writer stored the same item."""


class IngestOps(StoreBase):
    """Item keys, items, stories and outbox rows as dedup needs them."""

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
        rows = conn.execute(_KNOWN_KEYS, {"keys": keys}).all()
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

    def _add_keys(self, conn: Connection, item_id: int, keys: Sequence[str], now: datetime) -> int:
        """Insert the keys not yet known (one statement for all); returns how many were new."""
        distinct = list(dict.fromkeys(storable_key(k) for k in keys))
        if not distinct:
            return 0
        params: dict[str, Any] = {f"k{i}": key for i, key in enumerate(distinct)}
        params.update(item=item_id, now=self._utc_param()(now))
        written, _ = self._run(conn, _keys_sql(len(distinct)), params, fetch=True)
        return len(written)

    def _run(
        self, conn: Connection, sql: str, params: dict[str, Any], *, fetch: bool = False
    ) -> tuple[list[Any], int]:
        """Run `sql` (plain SQL both databases take, `:named` parameters) on the driver's own
        cursor in the caller's transaction: (rows if `fetch`, row count).

        For the few statements every new item runs: SQLAlchemy's work around a statement
        (parameters, result rows) cost more than the database's for them.

        The driver's errors are raised as SQLAlchemy's (as `conn.execute` would), so that the
        transaction's handling sees them: a deadlock's victim becomes the store's `Deadlock`,
        which ingest retries, and an outage is reported by the health check.
        """
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_driver_style(sql, self.is_postgres), params)
            return (cursor.fetchall() if fetch else []), cursor.rowcount
        except (dialect := self.engine.dialect).loaded_dbapi.Error as exc:
            base = dialect.loaded_dbapi.Error
            raise DBAPIError.instance(sql, params, exc, base, dialect=dialect) from exc
        finally:
            cursor.close()

    def _insert_new(self, table: Table, *, returning: bool = False) -> Insert:
        """INSERT … ON CONFLICT DO NOTHING into `table` (RETURNING its key column: the rows
        written), built once per store: building a statement anew for every row costs more
        than running it."""
        built = self.__dict__.setdefault("_insert_new_built", {})
        if (table.name, returning) not in built:
            stmt = self._insert(table).on_conflict_do_nothing()
            if returning:
                stmt = stmt.returning(table.primary_key.columns[0])
            built[table.name, returning] = stmt
        return built[table.name, returning]  # type: ignore[no-any-return]

    def add_item_in(
        self,
        conn: Connection,
        item: Item,
        *,
        now: datetime,
        backlog: bool,
        story_id: str | None = None,
    ) -> int:
        """Store a new item (of `story_id`, when already known) with all its keys; returns its
        id. Raises AlreadyKnown if any key was stored meanwhile (the caller must roll back)."""
        params = self._item_params(item, now=now, backlog=backlog, story_id=story_id)
        keys = list(dict.fromkeys(storable_key(k) for k in item.keys))
        if self.is_postgres and keys:
            # the item and its keys in one statement (a round trip to the server costs more
            # than either insert)
            params.update({f"k{i}": key for i, key in enumerate(keys)})
            written, _ = self._run(conn, _item_and_keys_sql(len(keys)), params, fetch=True)
            item_id, added = (written[0][0] if written else None), len(written)
        else:
            [(item_id,)], _ = self._run(conn, _INSERT_ITEM, params, fetch=True)
            added = self._add_keys(conn, item_id, keys, now)
        if added < len(keys) or item_id is None:
            # Another writer stored this item since we looked (only if two pollers ever ran
            # at once): the caller rolls back and counts it as known, never as a second item.
            raise AlreadyKnown(item.key)
        return int(item_id)

    def _item_params(
        self, item: Item, *, now: datetime, backlog: bool, story_id: str | None = None
    ) -> dict[str, Any]:
        """An item's row as `_INSERT_ITEM` takes it."""
        utc = self._utc_param()
        return {
            "feed_url": item.feed_url,
            "source": item.source,
            "title": item.title,
            "summary": item.summary,
            "link": item.link,
            "published": utc(item.published),
            "story_id": story_id,
            "backlog": backlog,
            "seen_at": utc(now),
        }

    def _with_item(
        self,
        conn: Connection,
        story_sql: str,
        params: dict[str, Any],
        item: Item,
        *,
        now: datetime,
        backlog: bool,
        names: int,
    ) -> int | None:
        """PostgreSQL: `story_sql` (writes one story and returns its id, or writes nothing),
        its index under `names` names (`:n0`…) and `item` stored in that story with its keys,
        in ONE statement (a round trip costs more than any of the writes). Returns the item's
        id, or None when the story was not written (then nothing was). Raises AlreadyKnown as
        `add_item_in` does."""
        keys = list(dict.fromkeys(storable_key(k) for k in item.keys))
        row = {f"i_{k}": v for k, v in self._item_params(item, now=now, backlog=backlog).items()}
        row.update({f"k{i}": key for i, key in enumerate(keys)})
        sql = _story_item_sql(story_sql, names, len(keys))
        [(story_id, item_id, added)], _ = self._run(conn, sql, params | row, fetch=True)
        if story_id is None:
            return None
        if item_id is None or added < len(keys):
            raise AlreadyKnown(item.key)  # as in `add_item_in`
        return int(item_id)

    def create_story_with_item_in(
        self,
        conn: Connection,
        story_id: str,
        item: Item,
        names: Iterable[str],
        *,
        published: datetime,
        now: datetime,
        index: Iterable[str],
        backlog: bool,
    ) -> int | None:
        """`create_story_in` then `add_item_in` of its first item: the item's id, or None (and
        nothing written) when a story with this id exists. PostgreSQL: one statement."""
        if not self.is_postgres or not item.keys:
            made = self.create_story_in(
                conn, story_id, item, None, names, published=published, now=now, index=index
            )
            if not made:
                return None
            return self.add_item_in(conn, item, now=now, backlog=backlog, story_id=story_id)
        params, indexed = self._story_params(story_id, item, names, published, now, index)
        return self._with_item(
            conn, _INSERT_STORY, params, item, now=now, backlog=backlog, names=len(indexed)
        )

    def story_lookup_in(
        self,
        conn: Connection,
        specific: Iterable[str],
        weak: Iterable[str],
        start: datetime,
        end: datetime,
        *,
        specific_limit: int,
        weak_limit: int,
    ) -> list[tuple[str, str]]:
        """(id, sources as stored) of the stories published in [start, end] that share a name
        with an item: the `specific_limit` most recent sharing one of `specific`, then the
        `weak_limit` nearest the middle of the window (the item's time) sharing one of `weak`
        that are not among them. One statement.

        The limits apply to the name index (name, published), name by name: a lookup reads at
        most `limit` rows per name however many stories share a club, so the cost per item
        does not grow with them. (The N most recent, or nearest, stories of a set of names are
        among those N of each name, so the result is the same as a limit over all names.)
        """
        specific, weak = sorted(set(specific)), sorted(set(weak))
        if not specific and not weak:
            return []
        utc = self._utc_param()
        mid = start + (end - start) / 2  # the item's time
        params: dict[str, Any] = {"start": utc(start), "mid": utc(mid), "end": utc(end)}
        params.update(ls=specific_limit, lw=weak_limit)
        if self.is_postgres:  # the server picks the stories (see `_PG_LOOKUP`)
            params.update(specific=specific, weak=weak)
            return self._run(conn, _PG_LOOKUP, params, fetch=True)[0]
        params.update({f"s{i}": n for i, n in enumerate(specific)})
        params.update({f"w{i}": n for i, n in enumerate(weak)})
        # Run by the driver itself: this statement runs for every item and returns hundreds
        # of rows, and SQLAlchemy's handling of them cost more than the database's. SQLite
        # runs in this process: the stories are picked here, where it costs less.
        sql = _lookup_sql(len(specific), len(weak))
        rows, _ = self._run(conn, sql, params, fetch=True)
        # Specific names: newest first (a story's rows: one time). Weak names: nearest the
        # item's time first (an outlet polled late brings items older than stories known).
        # Both orders are numbers or text the statement computed: no time is parsed here.
        rows.sort(key=itemgetter(2), reverse=True)
        nearest = [r for r in rows if r[0]]
        nearest.sort(key=itemgetter(3))  # stable: newest first on ties
        rows = [r for r in rows if not r[0]] + nearest
        limits = (specific_limit, weak_limit)
        taken: tuple[set[str], set[str]] = (set(), set())
        out = []
        for group, story_id, _, _, sources in rows:
            if story_id in taken[group] or len(taken[group]) >= limits[group]:
                continue
            taken[group].add(story_id)
            if group == 0 or story_id not in taken[0]:
                out.append((story_id, sources))
        return out

    def _utc_param(self) -> Callable[[datetime], Any]:
        """A time as the driver takes it in a comparison with a stored time."""
        convert = self.__dict__.get("_utc_convert")
        if convert is None:
            convert = self.__dict__["_utc_convert"] = UTCDateTime().bind_processor(
                self.engine.dialect
            )
        return convert  # type: ignore[no-any-return]

    def story_details_in(self, conn: Connection, ids: Sequence[str]) -> list[StoryCandidate]:
        """The stories `ids` as clustering reads them (first item's title and summary, stored
        names, time, outlets), for the ones whose analysis the caller has not cached."""
        out = []
        for chunk in range(0, len(ids), 500):
            rows = conn.execute(_STORY_DETAILS, {"ids": list(ids[chunk : chunk + 500])})
            out.extend(
                StoryCandidate(
                    story_id=d.id,
                    title=d.title,
                    names=frozenset(loads(d.names)),
                    published=d.published,
                    sources=frozenset(loads(d.sources)),
                    summary=d.summary or "",
                )
                for d in rows
            )
        return out

    def story_members_in(
        self, conn: Connection, ids: Sequence[str], limit: int
    ) -> dict[str, list[tuple[str, str, datetime, str]]]:
        """The items of stories `ids` other than each one's first, as (title, summary, time,
        outlet): the earliest `limit` of each story, oldest first."""
        out: dict[str, list[tuple[str, str, datetime, str]]] = {}
        for chunk in range(0, len(ids), 500):
            rows = conn.execute(_STORY_MEMBERS, {"ids": list(ids[chunk : chunk + 500])})
            for r in rows:
                kept = out.setdefault(r.story_id, [])
                if len(kept) < limit:
                    kept.append((r.title, r.summary or "", r.published or r.seen_at, r.source))
        return out

    def index_story_names_in(
        self, conn: Connection, story_id: str, names: Iterable[str], published: datetime
    ) -> None:
        """More names a story can be found by (those of an item that joined it), filed at the
        story's time."""
        indexed = sorted(set(names))
        if indexed:
            named: dict[str, Any] = {f"n{i}": n for i, n in enumerate(indexed)}
            named.update(story=story_id, published=self._utc_param()(published))
            self._run(conn, _story_names_sql(len(indexed)), named)

    def create_story_in(
        self,
        conn: Connection,
        story_id: str,
        item: Item,
        item_id: int | None,
        names: Iterable[str],
        *,
        published: datetime,
        now: datetime,
        index: Iterable[str] | None = None,
    ) -> bool:
        """A new story whose first item (title, link, source shown in alerts) is `item`; False
        (and nothing written) when a story with this id exists already.

        `names` are stored with the story for clustering; `index` (default: the same) are the
        names later items can find it by. `item_id`: the stored item to assign to the story
        (None when the item is stored afterwards, with the story's id).
        """
        params, indexed = self._story_params(story_id, item, names, published, now, index)
        # Run by the driver itself (see `_run`): one story per new piece of news. PostgreSQL:
        # the story and its names in one statement (a round trip costs more than either).
        if self.is_postgres and indexed:
            created, _ = self._run(conn, _story_and_names_sql(len(indexed)), params, fetch=True)
        else:
            created, _ = self._run(conn, _INSERT_STORY, params, fetch=True)
            if created:
                self.index_story_names_in(conn, story_id, indexed, published)
        if not created:
            return False
        if item_id is not None:
            conn.execute(_SET_ITEM_STORY, {"item": item_id, "story": story_id})
        return True

    def _story_params(
        self,
        story_id: str,
        item: Item,
        names: Iterable[str],
        published: datetime,
        now: datetime,
        index: Iterable[str] | None,
    ) -> tuple[dict[str, Any], list[str]]:
        """A new story's row as `_INSERT_STORY` takes it, with its index names as `:n0`…
        (returned too, sorted)."""
        names = sorted(set(names))
        utc = self._utc_param()
        params = {
            "id": story_id,
            "title": item.title,
            "summary": item.summary,
            "url": item.link,
            "source": item.source,
            "published": utc(published),
            "sources": json.dumps([item.source]),
            "names": json.dumps(names),
            "now": utc(now),
        }
        indexed = sorted({*names, *(index or ())})
        params.update({f"n{i}": n for i, n in enumerate(indexed)})
        return params, indexed

    def join_story_in(
        self,
        conn: Connection,
        story_id: str,
        item_id: int | None,
        source: str,
        now: datetime,
        *,
        sources: str | None = None,
        wait: bool = True,
        index: Iterable[str] = (),
        filed: datetime | None = None,
    ) -> list[str] | None:
        """Add an item (or, with None, only its outlet) to a story; returns the story's outlets
        before it joined. `sources`: the outlets as this transaction read them (saves a read;
        if another writer changed them since, they are read again). Without `wait`, on
        PostgreSQL: None, having written and waited for nothing, when another writer's
        transaction holds the story (see `lock_story_if_free_in`). `index`: more names to find
        the story by (see `index_story_names_in`), filed at `filed` (PostgreSQL: in the same
        statement as the join, once the story's row is locked)."""
        joined = self._join(
            conn, story_id, item_id, source, now, sources=sources, wait=wait, index=index,
            filed=filed, add=None,
        )  # fmt: skip
        return None if joined is None else joined[0]

    def join_story_with_item_in(
        self,
        conn: Connection,
        story_id: str,
        item: Item,
        now: datetime,
        *,
        sources: str | None,
        wait: bool,
        index: Iterable[str],
        filed: datetime,
        backlog: bool,
    ) -> tuple[list[str], int] | None:
        """`join_story_in` of `item`'s outlet then `add_item_in` of `item` in the story: (the
        story's outlets before, the item's id), or None as `join_story_in`. PostgreSQL: one
        statement (unless the story changed since `sources` were read)."""
        if self.is_postgres and item.keys:
            return self._join(
                conn, story_id, None, item.source, now, sources=sources, wait=wait,
                index=index, filed=filed, add=(item, backlog),
            )  # type: ignore[return-value]  # fmt: skip
        before = self.join_story_in(
            conn, story_id, None, item.source, now, sources=sources, wait=wait, index=index,
            filed=filed,
        )  # fmt: skip
        if before is None:
            return None
        return before, self.add_item_in(conn, item, now=now, backlog=backlog, story_id=story_id)

    def _join(
        self,
        conn: Connection,
        story_id: str,
        item_id: int | None,
        source: str,
        now: datetime,
        *,
        sources: str | None,
        wait: bool,
        index: Iterable[str],
        filed: datetime | None,
        add: tuple[Item, bool] | None,
    ) -> tuple[list[str], int | None] | None:
        """`join_story_in`; with `add` (PostgreSQL: an item and whether it is a backlog's), the
        item is stored in the story by the join's statement: (outlets before, its id)."""
        if_free = not wait and self.is_postgres
        indexed = sorted(set(index))
        named: dict[str, Any] = {}
        if indexed and self.is_postgres:
            named = {f"n{i}": n for i, n in enumerate(indexed)}
            named["published"] = self._utc_param()(filed or now)
        while True:
            if sources is None:
                sources = conn.execute(_STORY_SOURCES, {"story": story_id}).scalar_one()
            before = list(loads(sources))
            after = before if source in before else [*before, source]
            params = {
                "story": story_id,
                "old": sources,
                "new": json.dumps(after),
                "now": self._utc_param()(now),
            }
            join = _JOIN_STORY_IF_FREE if if_free else _JOIN_STORY
            if add is not None:  # the names and the item in the same statement
                added = self._with_item(
                    conn, f"{join} RETURNING id", params | named, add[0], now=now,
                    backlog=add[1], names=len(indexed) if named else 0,
                )  # fmt: skip
                if added is not None:
                    return before, added
            elif named:  # the story's new names in the same statement
                sql = _join_and_names_sql(join, len(indexed))
                done, _ = self._run(conn, sql, params | named, fetch=True)
                if done:
                    break
            elif self._run(conn, join, params)[1]:
                if indexed:
                    self.index_story_names_in(conn, story_id, indexed, filed or now)
                break
            if if_free:  # locked by another writer, or its outlets changed since read
                if not self.lock_story_if_free_in(conn, story_id):
                    return None
                if_free = False  # this transaction holds it now
            sources = None  # changed by another writer since read: read again
        if item_id is not None:
            conn.execute(_SET_ITEM_STORY, {"item": item_id, "story": story_id})
        return before, item_id

    def lock_story_if_free_in(self, conn: Connection, story_id: str) -> bool:
        """Lock a story's row for this transaction unless another writer's transaction holds
        it: False then, having waited for nothing (PostgreSQL: FOR UPDATE SKIP LOCKED; a row
        this transaction locked or created already is its own). SQLite has one writer at a
        time: always True."""
        if not self.is_postgres:
            return True
        rows, _ = self._run(conn, _LOCK_STORY_IF_FREE, {"story": story_id}, fetch=True)
        return bool(rows)

    def story_sources_in(self, conn: Connection, story_id: str) -> list[str]:
        return list(loads(conn.execute(_STORY_SOURCES, {"story": story_id}).scalar_one()))

    def enqueue_in(
        self,
        conn: Connection,
        subscriber_id: int,
        story_id: str,
        matches: Sequence[Match],
        *,
        also: Sequence[str] = (),
        now: datetime,
        item_id: int | None = None,
    ) -> bool:
        """Owe `subscriber_id` an alert about `story_id`, showing item `item_id` (the one that
        brought the story to this subscriber); False if it already has a row."""
        created = self.enqueue_many_in(
            conn, [subscriber_id], story_id, matches, also=also, now=now, item_id=item_id
        )
        return created > 0

    def enqueue_many_in(
        self,
        conn: Connection,
        subscriber_ids: Sequence[int],
        story_id: str,
        matches: Sequence[Match],
        *,
        also: Sequence[str] = (),
        now: datetime,
        item_id: int | None = None,
    ) -> int:
        """Owe each of these subscribers the same alert about `story_id` (showing `item_id`):
        one INSERT … SELECT per 5,000 of them (rows that exist are left alone); returns the
        rows created."""
        matches_json = json.dumps([match_to_json(m) for m in matches], ensure_ascii=False)
        also_json = json.dumps(list(also), ensure_ascii=False)
        columns = (
            "story_id",
            "kind",
            "status",
            "matches",
            "also",
            "item_id",
            "next_attempt",
            "created_at",
        )
        values = (story_id, "alert", "pending", matches_json, also_json, item_id, now, now)
        created = 0
        for start in range(0, len(subscriber_ids), FAN_OUT_CHUNK):
            chunk = list(subscriber_ids[start : start + FAN_OUT_CHUNK])
            source = select(
                subscribers.c.id,
                *(literal(v, outbox.c[c].type) for c, v in zip(columns, values, strict=True)),
            ).where(subscribers.c.id.in_(chunk))
            stmt = (
                self._insert(outbox)
                .from_select([outbox.c.subscriber_id, *(outbox.c[c] for c in columns)], source)
                .on_conflict_do_nothing(index_elements=[outbox.c.subscriber_id, outbox.c.story_id])
                .returning(outbox.c.id)
            )
            created += len(conn.execute(stmt).all())
        return created

    def fan_out_in(
        self,
        conn: Connection,
        story_id: str,
        matches: Sequence[Match],
        *,
        also: Sequence[str] = (),
        now: datetime,
        item_id: int | None = None,
    ) -> int:
        """Owe every follower of what matched an alert about `story_id`: ONE statement.

        The followers are read through the index on subscriptions.target (only the rows of
        the matched watchlists and of "*", the console) and grouped by subscriber in SQL; each
        subscriber's matches (those of the watchlists it follows, less the players it
        excluded) are assembled as JSON text in the same statement. No subscriber id passes
        through Python, so an item costs a few index lookups plus the rows it writes. Rows that
        exist are left alone; returns the rows created.
        """
        if not matches:
            return 0
        targets = {m.watchlist for m in matches}
        if any(not t.startswith(WATCH_PREFIX) for t in targets):
            targets.add("*")  # the console follows every shared list, no personal one
        # Players someone excluded: only those cost a lookup per follower (most have none).
        excluding = {
            (watchlist, term)
            for watchlist, term in conn.execute(
                select(exclusions.c.watchlist, exclusions.c.term)
                .where(
                    tuple_(exclusions.c.watchlist, exclusions.c.term).in_(
                        sorted({(m.watchlist, m.term) for m in matches})
                    )
                )
                .distinct()
            )
        }
        owed: ColumnElement[str] = literal("")
        for m in matches:
            followed = [m.watchlist]
            if not m.watchlist.startswith(WATCH_PREFIX):
                followed.append("*")
            owes = func.max(case((subscriptions.c.target.in_(followed), 1), else_=0)) == 1
            if (m.watchlist, m.term) in excluding:
                owes = and_(
                    owes,
                    ~exists().where(
                        exclusions.c.subscriber_id == subscriptions.c.subscriber_id,
                        exclusions.c.watchlist == m.watchlist,
                        exclusions.c.term == m.term,
                    ),
                )
            piece = ", " + json.dumps(match_to_json(m), ensure_ascii=False)
            owed = owed + case((owes, literal(piece)), else_=literal(""))
        audience = (
            select(subscriptions.c.subscriber_id.label("sid"), owed.label("owed"))
            .join(subscribers, subscribers.c.id == subscriptions.c.subscriber_id)
            .where(subscriptions.c.target.in_(sorted(targets)), subscribers.c.active.is_(True))
            .group_by(subscriptions.c.subscriber_id)
            .subquery()
        )
        source = select(
            audience.c.sid,
            literal(story_id),
            literal("alert"),
            literal("pending"),
            "[" + func.substr(audience.c.owed, 3) + "]",  # drop the first ", "
            literal(json.dumps(list(also), ensure_ascii=False)),
            literal(item_id, outbox.c.item_id.type),
            literal(now, outbox.c.next_attempt.type),
            literal(now, outbox.c.created_at.type),
        ).where(audience.c.owed != "")
        columns = ("subscriber_id", "story_id", "kind", "status", "matches", "also", "item_id")
        stmt = (
            self._insert(outbox)
            .from_select([*(outbox.c[c] for c in columns), "next_attempt", "created_at"], source)
            .on_conflict_do_nothing(index_elements=[outbox.c.subscriber_id, outbox.c.story_id])
        )
        if self.is_postgres:  # psycopg reports no rowcount for this INSERT … SELECT
            return len(conn.execute(stmt.returning(outbox.c.id)).all())
        return conn.execute(stmt).rowcount

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
        is recorded in the story only. A row whose story the subscriber silenced records the
        outlet without becoming an update. Returns how many delivered rows became updates.

        Three UPDATE statements, whatever the audience (the outlet is appended to the JSON text
        in SQL): a story followed by thousands costs three statements, not one per row.
        """
        needle = json.dumps(source, ensure_ascii=False)
        contains = func.strpos if self.is_postgres else func.instr  # case-sensitive, unlike LIKE
        appended = case(
            (outbox.c.also == "[]", literal(f"[{needle}]")),
            else_=func.substr(outbox.c.also, 1, func.length(outbox.c.also) - 1)
            + literal(f", {needle}]"),
        )
        # The story's rows, read through ix_outbox_story. Statuses are compared with != only
        # (pending, sent, dropped): an equality would let SQLite, which keeps no statistics,
        # prefer ix_outbox_due (status, …) and read every pending row of every story.
        rows = (
            outbox.c.story_id == story_id,
            contains(outbox.c.also, needle) == 0,
            outbox.c.status != "dropped",
        )
        sent = (*rows, outbox.c.status != "pending")
        conn.execute(
            update(outbox)
            .where(*rows, outbox.c.status != "sent")
            .values(also=appended, revision=outbox.c.revision + 1)
        )
        # silenced by the subscriber: the outlet is recorded, not sent
        conn.execute(update(outbox).where(*sent, outbox.c.silenced.is_(True)).values(also=appended))
        flagged = conn.execute(
            update(outbox)
            .where(*sent, outbox.c.silenced.is_(False), outbox.c.edits < max_edits)
            .values(
                also=appended,
                revision=outbox.c.revision + 1,
                kind="update",
                status="pending",
                edits=outbox.c.edits + 1,
                next_attempt=now,
                attempts=0,
            )
        )
        return flagged.rowcount


# Statements the ingest of every item runs, built once (see `_insert_new`).
_INSERT_ITEM = (
    "INSERT INTO items (feed_url, source, title, summary, link, published, story_id, backlog, "
    "seen_at) VALUES (:feed_url, :source, :title, :summary, :link, :published, :story_id, "
    ":backlog, :seen_at) RETURNING id"
)
_INSERT_STORY = (
    "INSERT INTO stories (id, title, summary, url, source, published, sources, names, "
    "created_at, updated_at) VALUES (:id, :title, :summary, :url, :source, :published, "
    ":sources, :names, :now, :now) ON CONFLICT DO NOTHING RETURNING id"
)
_SET_ITEM_STORY = (
    update(items).where(items.c.id == bindparam("item")).values(story_id=bindparam("story"))
)
_STORY_SOURCES = select(stories.c.sources).where(stories.c.id == bindparam("story"))
_JOIN_STORY = (
    "UPDATE stories SET sources = :new, updated_at = :now WHERE id = :story AND sources = :old"
)
# the join in one statement, unless another writer's transaction holds the story (PostgreSQL)
_JOIN_STORY_IF_FREE = (
    "UPDATE stories SET sources = :new, updated_at = :now WHERE id = (SELECT id FROM stories "
    "WHERE id = :story FOR UPDATE SKIP LOCKED) AND sources = :old"
)
_LOCK_STORY_IF_FREE = "SELECT id FROM stories WHERE id = :story FOR UPDATE SKIP LOCKED"
_KNOWN_KEYS = select(item_keys.c.key, item_keys.c.item_id, item_keys.c.last_seen).where(
    item_keys.c.key.in_(bindparam("keys", expanding=True))
)
_STORY_MEMBERS = (
    select(
        items.c.story_id,
        items.c.title,
        items.c.summary,
        items.c.published,
        items.c.seen_at,
        items.c.source,
    )
    .join(stories, stories.c.id == items.c.story_id)
    .where(items.c.story_id.in_(bindparam("ids", expanding=True)), items.c.link != stories.c.url)
    .order_by(items.c.story_id, items.c.published, items.c.id)
)
_STORY_DETAILS = select(
    stories.c.id,
    stories.c.title,
    stories.c.summary,
    stories.c.names,
    stories.c.published,
    stories.c.sources,
).where(stories.c.id.in_(bindparam("ids", expanding=True)))


@lru_cache(maxsize=64)
def _keys_sql(count: int) -> str:
    """Insert `count` keys of one item, returning those not known before."""
    rows = ", ".join(f"(:k{i}, :item, :now, :now)" for i in range(count))
    return (
        f'INSERT INTO item_keys ("key", item_id, first_seen, last_seen) VALUES {rows} '
        'ON CONFLICT DO NOTHING RETURNING "key"'
    )


@lru_cache(maxsize=64)
def _item_and_keys_sql(count: int) -> str:
    """PostgreSQL: insert an item and its `count` keys, returning (item id,) per key not known
    before (no row at all when every key was known)."""
    keys = ", ".join(f"(:k{i})" for i in range(count))
    return (
        f"WITH new_item AS ({_INSERT_ITEM}) "
        'INSERT INTO item_keys ("key", item_id, first_seen, last_seen) '
        f'SELECT k."key", new_item.id, :seen_at, :seen_at FROM new_item, (VALUES {keys}) '
        'AS k("key") ON CONFLICT DO NOTHING RETURNING item_id'
    )


_ITEM_OF_STORY = (
    "INSERT INTO items (feed_url, source, title, summary, link, published, story_id, backlog, "
    "seen_at) SELECT :i_feed_url, :i_source, :i_title, :i_summary, :i_link, "
    "CAST(:i_published AS TIMESTAMPTZ), story.id, CAST(:i_backlog AS BOOLEAN), "
    "CAST(:i_seen_at AS TIMESTAMPTZ) FROM story RETURNING id"
)


@lru_cache(maxsize=256)
def _story_item_sql(story_sql: str, names: int, keys: int) -> str:
    """PostgreSQL: `story_sql` (a statement returning the id of the story it wrote, or
    nothing), the story's index under `names` names, an item in that story and its `keys` keys,
    in one statement; returns (story id, item id, keys not known before), the ids NULL when
    nothing was written. (Every part of a WITH runs once, whether the rest reads it or not.)"""
    parts = [f"story AS ({story_sql})"]
    if names:
        values = ", ".join(f"(:n{i})" for i in range(names))
        parts.append(
            f"named AS (INSERT INTO {story_names.name} (story_id, name, published) "
            f"SELECT story.id, v.name, :published FROM story, (VALUES {values}) AS v(name) "
            "ON CONFLICT DO NOTHING)"
        )
    values = ", ".join(f"(:k{i})" for i in range(keys))
    parts += [
        f"new_item AS ({_ITEM_OF_STORY})",
        'keyed AS (INSERT INTO item_keys ("key", item_id, first_seen, last_seen) '
        f'SELECT k."key", new_item.id, :i_seen_at, :i_seen_at FROM new_item, (VALUES {values}) '
        'AS k("key") ON CONFLICT DO NOTHING RETURNING item_id)',
    ]
    return (
        f"WITH {', '.join(parts)} SELECT (SELECT id FROM story), (SELECT id FROM new_item), "
        "(SELECT count(*) FROM keyed)"
    )


def _story_and_names_sql(count: int) -> str:
    """PostgreSQL: insert a story (unless its id exists) indexed under `count` names,
    returning its id if it was created."""
    return _then_names_sql(_INSERT_STORY, count)


def _join_and_names_sql(join: str, count: int) -> str:
    """PostgreSQL: `join` (an UPDATE of one story) and, if it updated the story, its index under
    `count` more names; returns the story's id if it was updated."""
    return _then_names_sql(f"{join} RETURNING id", count)


@lru_cache(maxsize=64)
def _then_names_sql(story_sql: str, count: int) -> str:
    """`story_sql` (a statement returning the id of the story it wrote, or nothing) and the
    story's index under `count` names, in one statement; returns the id."""
    names = ", ".join(f"(:n{i})" for i in range(count))
    return (
        f"WITH story AS ({story_sql}), named AS ("
        f"INSERT INTO {story_names.name} (story_id, name, published) "
        f"SELECT story.id, v.name, :published FROM story, (VALUES {names}) AS v(name) "
        "ON CONFLICT DO NOTHING) SELECT id FROM story"
    )


@lru_cache(maxsize=64)
def _story_names_sql(count: int) -> str:
    """Index one story under `count` names (one statement); names it has already are kept."""
    rows = ", ".join(f"(:story, :n{i}, :published)" for i in range(count))
    return (
        f"INSERT INTO {story_names.name} (story_id, name, published) VALUES {rows} "
        "ON CONFLICT DO NOTHING"
    )


@lru_cache(maxsize=512)
def _driver_style(sql: str, postgres: bool) -> str:
    """`:name` parameters as the driver takes them (sqlite3 as written, psycopg `%(name)s`)."""
    return re.sub(r":(\w+)", r"%(\1)s", sql) if postgres else sql


@lru_cache(maxsize=256)
def _lookup_sql(specific: int, weak: int) -> str:
    """SQLite: the story lookup for this many specific and weak names (see `story_lookup_in`):
    each name's most recent rows (a weak name's: the latest before the item's time and the
    first after it), read off the index (name, published), with their story's outlets.

    Grouping and ordering are left to the caller: a few hundred rows are sorted faster in
    Python than in SQLite's temporary b-trees. Each row comes with its time as a key that sorts
    like it (the stored text) and its distance from the item's time (`:mid`, in days, exact
    to the millisecond: SQLite's date functions read no further), both computed by the
    database: parsing them into datetimes cost more than the rest of the lookup's Python.
    """

    def per_name(group: int, param: str, limit: str, start: str, end: str, order: str) -> str:
        return (
            f"SELECT * FROM (SELECT {group} AS grp, story_id, published FROM story_names "
            f"WHERE name = :{param} AND published >= :{start} AND published <= :{end} "
            f"ORDER BY published {order} LIMIT :{limit}) AS n_{param}_{order}"
        )

    names = [per_name(0, f"s{i}", "ls", "start", "end", "DESC") for i in range(specific)]
    # a weak name's stories nearest the item's time: the latest before it, the first after it
    names += [per_name(1, f"w{i}", "lw", "start", "mid", "DESC") for i in range(weak)]
    names += [per_name(1, f"w{i}", "lw", "mid", "end", "ASC") for i in range(weak)]
    return (
        "SELECT n.grp, n.story_id, n.published, "
        "abs(julianday(n.published) - julianday(:mid)), s.sources "
        f"FROM ({' UNION ALL '.join(names)}) AS n JOIN stories AS s ON s.id = n.story_id"
    )


def _pg_per_name(group: int, names: str, limit: str, start: str, end: str, order: str) -> str:
    """PostgreSQL: for each name of the array `:names`, its `:limit` rows in [start, end]
    nearest `end` (DESC) or `start` (ASC), read off the index (name, published)."""
    return (
        f"SELECT {group} AS grp, x.story_id, x.published "
        f"FROM unnest(CAST(:{names} AS TEXT[])) AS q(name) CROSS JOIN LATERAL ("
        "SELECT story_id, published FROM story_names WHERE name = q.name "
        f"AND published >= :{start} AND published <= :{end} "
        f"ORDER BY published {order} LIMIT :{limit}) AS x"
    )


# PostgreSQL: the whole lookup of `story_lookup_in` in the server, names as two arrays (one
# statement, prepared once per connection, whatever the item's names): each name's rows as
# `_lookup_sql` reads them, then the `:ls` newest stories of the specific names and the `:lw`
# nearest the item's time (`:mid`; newest first on ties) of the weak names, less those among
# the first, in that order, with their outlets. (A story's names are filed at its time, so a
# story has one time in every row.) What a server does costs this process nothing: only the
# stories chosen are sent, not every name's rows.
_PG_LOOKUP = (
    "WITH n AS ("
    + " UNION ALL ".join(
        (
            _pg_per_name(0, "specific", "ls", "start", "end", "DESC"),
            _pg_per_name(1, "weak", "lw", "start", "mid", "DESC"),
            _pg_per_name(1, "weak", "lw", "mid", "end", "ASC"),
        )
    )
    + "), spec AS (SELECT DISTINCT story_id, published FROM n WHERE grp = 0 "
    "ORDER BY published DESC, story_id LIMIT :ls), "
    "weak AS (SELECT story_id, published, abs(date_part('epoch', published) - "
    "date_part('epoch', CAST(:mid AS TIMESTAMPTZ))) AS away "
    "FROM (SELECT DISTINCT story_id, published FROM n WHERE grp = 1) AS w "
    "ORDER BY away, published DESC, story_id LIMIT :lw) "
    "SELECT s.id, s.sources FROM ("
    "SELECT story_id, 0 AS g, row_number() OVER (ORDER BY published DESC, story_id) AS r "
    "FROM spec UNION ALL "
    "SELECT story_id, 1, row_number() OVER (ORDER BY away, published DESC, story_id) FROM weak "
    "WHERE story_id NOT IN (SELECT story_id FROM spec)"
    ") AS o JOIN stories AS s ON s.id = o.story_id ORDER BY o.g, o.r"
)
