"""What dedup writes, inside its one-transaction-per-item (see bot/dedup.py).

Every method takes the caller's connection (`*_in`), so the item, its keys, its story and the
outbox rows it causes commit or vanish together.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, case, exists, func, literal, select, update

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

    def _add_keys(self, conn: Connection, item_id: int, keys: Sequence[str], now: datetime) -> int:
        """Insert the keys not yet known; returns how many were new."""
        added = 0
        for key in dict.fromkeys(storable_key(k) for k in keys):
            row = conn.execute(
                self._insert(item_keys)
                .values(key=key, item_id=item_id, first_seen=now, last_seen=now)
                .on_conflict_do_nothing()
                .returning(item_keys.c.key)
            ).first()
            added += row is not None
        return added

    def add_item_in(self, conn: Connection, item: Item, *, now: datetime, backlog: bool) -> int:
        """Store a new item with all its keys; returns its id. Raises AlreadyKnown if any key
        was stored meanwhile (the caller must roll back)."""
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
        distinct = len({storable_key(k) for k in item.keys})
        if self._add_keys(conn, item_id, item.keys, now) < distinct:
            # Another writer stored this item since we looked (only if two pollers ever ran
            # at once): the caller rolls back and counts it as known, never as a second item.
            raise AlreadyKnown(item.key)
        return int(item_id)

    def story_candidates_in(
        self,
        conn: Connection,
        names: Iterable[str],
        start: datetime,
        end: datetime,
        *,
        known: Container[str] = frozenset(),
        limit: int = 500,
    ) -> list[StoryCandidate]:
        """Stories published in [start, end] that share at least one name (most recent first).

        Stories in `known` (whose analysis and outlets the caller has cached) come without
        title, summary, names and sources, so a lookup does not read them again for every item.
        """
        names = list(set(names))
        if not names:
            return []
        # The limit applies to the name index (name, published), so a lookup reads `limit`
        # rows however many stories share a club: the cost per item does not grow with them.
        ids = (
            select(story_names.c.story_id)
            .where(
                story_names.c.name.in_(names),
                story_names.c.published >= start,
                story_names.c.published <= end,
            )
            .group_by(story_names.c.story_id)
            .order_by(func.max(story_names.c.published).desc())
            .limit(limit)
        )
        rows = conn.execute(
            select(stories.c.id, stories.c.published, stories.c.sources)
            .where(stories.c.id.in_(ids))
            .order_by(stories.c.published.desc())
        ).all()
        missing = [r.id for r in rows if r.id not in known]
        details = {}
        for chunk in range(0, len(missing), 500):
            details.update(
                (d.id, d)
                for d in conn.execute(
                    select(stories.c.id, stories.c.title, stories.c.summary, stories.c.names).where(
                        stories.c.id.in_(missing[chunk : chunk + 500])
                    )
                )
            )
        out = []
        for r in rows:
            d = details.get(r.id)
            out.append(
                StoryCandidate(
                    story_id=r.id,
                    title=d.title if d else "",
                    names=frozenset(loads(d.names)) if d else frozenset(),
                    published=r.published,
                    sources=frozenset(loads(r.sources)) if d else frozenset(),
                    summary=(d.summary or "") if d else "",
                )
            )
        return out

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
        sources = self.story_sources_in(conn, story_id)
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
        return list(loads(raw))

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
        owed: ColumnElement[str] = literal("")
        for m in matches:
            followed = [m.watchlist]
            if not m.watchlist.startswith(WATCH_PREFIX):
                followed.append("*")
            follows = func.max(case((subscriptions.c.target.in_(followed), 1), else_=0)) == 1
            excluded = exists().where(
                exclusions.c.subscriber_id == subscriptions.c.subscriber_id,
                exclusions.c.watchlist == m.watchlist,
                exclusions.c.term == m.term,
            )
            piece = ", " + json.dumps(match_to_json(m), ensure_ascii=False)
            owed = owed + case((and_(follows, ~excluded), literal(piece)), else_=literal(""))
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
        rows = (outbox.c.story_id == story_id, contains(outbox.c.also, needle) == 0)
        sent = (*rows, outbox.c.status == "sent")
        conn.execute(
            update(outbox)
            .where(*rows, outbox.c.status == "pending")
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
