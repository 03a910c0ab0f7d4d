"""Subscribers in bulk: export them all, import thousands at once (backups, migrations, tests).

Set-based on purpose: an import of a batch is a handful of statements (one upsert of the
subscribers, one delete and one insert of their subscriptions), not a round trip per row, so
100,000 subscribers import in about a minute rather than an hour. The console's own subscriber
is neither exported nor touched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bot.store.base import StoreBase, subscription_target
from bot.store.schema import exclusions, subscribers, subscriptions
from bot.subscribers import SubscriberRecord

PAGE = 1_000
IMPORTED_KINDS = ("list", "term")  # "all" belongs to the console and is never imported


@dataclass(frozen=True, slots=True)
class ImportCount:
    """What one batch did: subscribers written, and how many of them were new."""

    written: int
    created: int


_UPDATED = (
    "kind",
    "language",
    "active",
    "muted_until",
    "quiet_start",
    "quiet_end",
    "digest_at",
    "timezone",
)


class SubscriberBulkOps(StoreBase):
    """`export_subscribers` and `import_subscribers`, mixed into `Store`."""

    def export_subscribers(self) -> Iterator[SubscriberRecord]:
        """Every subscriber but the console, oldest first, a page of 1,000 at a time."""
        last_id = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    select(subscribers)
                    .where(subscribers.c.id > last_id, subscribers.c.kind != "console")
                    .order_by(subscribers.c.id)
                    .limit(PAGE)
                ).all()
                if not rows:
                    return
                follows = conn.execute(
                    select(
                        subscriptions.c.subscriber_id, subscriptions.c.kind, subscriptions.c.value
                    )
                    .where(
                        subscriptions.c.subscriber_id.in_([r.id for r in rows]),
                        subscriptions.c.kind.in_(IMPORTED_KINDS),
                    )
                    .order_by(subscriptions.c.id)
                ).all()
                excluded = conn.execute(
                    select(exclusions.c.subscriber_id, exclusions.c.watchlist, exclusions.c.term)
                    .where(exclusions.c.subscriber_id.in_([r.id for r in rows]))
                    .order_by(exclusions.c.id)
                ).all()
            skipped: dict[int, dict[str, list[str]]] = {}
            for sub_id, watchlist, term in excluded:
                skipped.setdefault(sub_id, {}).setdefault(watchlist, []).append(term)
            by_sub: dict[int, dict[str, list[str]]] = {}
            for sub_id, kind, value in follows:
                by_sub.setdefault(sub_id, {"list": [], "term": []})[kind].append(value)
            for row in rows:
                followed = by_sub.get(row.id, {"list": [], "term": []})
                yield SubscriberRecord(
                    chat_id=row.chat_id,
                    type=row.kind if row.kind in ("group", "supergroup", "channel") else "private",
                    language=row.language,
                    lists=tuple(followed["list"]),
                    terms=tuple(followed["term"]),
                    muted_until=row.muted_until,
                    active=bool(row.active),
                    quiet_hours=f"{row.quiet_start}-{row.quiet_end}"
                    if row.quiet_start and row.quiet_end
                    else None,
                    digest_at=row.digest_at,
                    timezone=row.timezone,
                    exclusions={k: tuple(v) for k, v in skipped.get(row.id, {}).items()},
                    language_chosen=row.language_origin == "chosen",
                )
            last_id = rows[-1].id

    def import_subscribers(self, records: Sequence[SubscriberRecord]) -> ImportCount:
        """Create or update these subscribers so that they are exactly as the records say.

        Idempotent: the subscriber's lists and terms are replaced by the record's, so importing
        the same file twice leaves the same state. One transaction per call.
        """
        latest: dict[str, SubscriberRecord] = {str(r.chat_id): r for r in records}
        if not latest:
            return ImportCount(0, 0)
        now = datetime.now(UTC)
        rows = [
            {
                "chat_id": chat_id,
                "kind": r.type,
                "language": r.language,
                "active": r.active,
                "muted_until": r.muted_until,
                "quiet_start": r.quiet_hours.split("-")[0] if r.quiet_hours else None,
                "quiet_end": r.quiet_hours.split("-")[1] if r.quiet_hours else None,
                "digest_at": r.digest_at,
                "timezone": r.timezone,
                "created_at": now,
            }
            for chat_id, r in latest.items()
        ]
        follows = [
            (chat_id, kind, value)
            for chat_id, r in latest.items()
            for kind, values in (("list", r.lists), ("term", r.terms))
            for value in values
        ]
        with self.transaction() as conn:
            known = set(
                conn.execute(
                    select(subscribers.c.chat_id).where(subscribers.c.chat_id.in_(list(latest)))
                ).scalars()
            )
            if self.is_postgres:
                _copy_in(conn, rows, follows)
            else:
                self._upsert(conn, rows, follows)
            _replace_choices(conn, latest, now)
        return ImportCount(written=len(rows), created=len(set(latest) - known))

    def _upsert(self, conn: Connection, rows: list[dict[str, Any]], follows: list[Follow]) -> None:
        """SQLite: executemany of an upsert, then the subscriptions replaced."""
        upsert = self._insert(subscribers)
        upsert = upsert.on_conflict_do_update(
            index_elements=[subscribers.c.chat_id],
            set_={name: upsert.excluded[name] for name in _UPDATED},
        )
        conn.execute(upsert, rows)
        ids = dict(
            conn.execute(
                select(subscribers.c.chat_id, subscribers.c.id).where(
                    subscribers.c.chat_id.in_([r["chat_id"] for r in rows])
                )
            ).all()
        )
        conn.execute(
            delete(subscriptions).where(
                subscriptions.c.subscriber_id.in_(list(ids.values())),
                subscriptions.c.kind.in_(IMPORTED_KINDS),
            )
        )
        if follows:
            conn.execute(
                subscriptions.insert(),
                [
                    {
                        "subscriber_id": ids[c],
                        "kind": k,
                        "value": v,
                        "target": subscription_target(k, v),
                    }
                    for c, k, v in follows
                ],
            )


Follow = tuple[str, str, str]  # chat id, "list" or "term", value

_COLUMNS = ("chat_id", "kind", "language", "active", "muted_until", *_UPDATED[4:], "created_at")


def _copy_in(conn: Connection, rows: list[dict[str, Any]], follows: list[Follow]) -> None:
    """PostgreSQL: COPY the batch into temporary tables, then three set-based statements.

    psycopg's executemany sends one statement per row; COPY sends the batch as one stream.
    """
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS import_subscribers (chat_id VARCHAR(100), "
        "kind VARCHAR(20), language VARCHAR(10), active BOOLEAN, "
        "muted_until TIMESTAMP WITH TIME ZONE, quiet_start VARCHAR(5), quiet_end VARCHAR(5), "
        "digest_at VARCHAR(5), timezone VARCHAR(64), created_at TIMESTAMP WITH TIME ZONE) "
        "ON COMMIT DELETE ROWS"
    )
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS import_follows "
        "(chat_id VARCHAR(100), kind VARCHAR(10), value TEXT, target TEXT) "
        "ON COMMIT DELETE ROWS"
    )
    columns = ", ".join(_COLUMNS)
    with cursor.copy(f"COPY import_subscribers ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in _COLUMNS])
    with cursor.copy("COPY import_follows (chat_id, kind, value, target) FROM STDIN") as copy:
        for chat_id, kind, value in follows:
            copy.write_row((chat_id, kind, value, subscription_target(kind, value)))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATED)
    cursor.execute(
        f"INSERT INTO subscribers ({columns}) SELECT {columns} FROM import_subscribers "
        f"ON CONFLICT (chat_id) DO UPDATE SET {updates}"
    )
    kinds = ", ".join(f"'{k}'" for k in IMPORTED_KINDS)
    cursor.execute(
        "DELETE FROM subscriptions USING subscribers s, import_subscribers i "
        f"WHERE s.chat_id = i.chat_id AND subscriptions.subscriber_id = s.id "
        f"AND subscriptions.kind IN ({kinds})"
    )
    cursor.execute(
        "INSERT INTO subscriptions (subscriber_id, kind, value, target) "
        "SELECT s.id, f.kind, f.value, f.target FROM import_follows f "
        "JOIN subscribers s ON s.chat_id = f.chat_id"
    )


def _replace_choices(conn: Connection, latest: dict[str, SubscriberRecord], now: datetime) -> None:
    """The records' exclusions replace the subscribers' own, and a language chosen with
    /lingua is kept as chosen (set-based: a handful of statements per batch)."""
    ids = dict(
        conn.execute(
            select(subscribers.c.chat_id, subscribers.c.id).where(
                subscribers.c.chat_id.in_(list(latest))
            )
        ).all()
    )
    conn.execute(delete(exclusions).where(exclusions.c.subscriber_id.in_(list(ids.values()))))
    skipped = [
        {"subscriber_id": ids[chat_id], "watchlist": wl, "term": term, "created_at": now}
        for chat_id, r in latest.items()
        for wl, terms in r.exclusions.items()
        for term in terms
    ]
    if skipped:
        conn.execute(exclusions.insert(), skipped)
    chosen = [ids[c] for c, r in latest.items() if r.language_chosen]
    others = [ids[c] for c, r in latest.items() if not r.language_chosen]
    if chosen:
        conn.execute(
            update(subscribers).where(subscribers.c.id.in_(chosen)).values(language_origin="chosen")
        )
    if others:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id.in_(others), subscribers.c.language_origin == "chosen")
            .values(language_origin=None)
        )
