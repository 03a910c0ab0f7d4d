"""Versioned schema: numbered steps from the first release on, applied in order, each once.

A database records its version in `schema_version`. `migrate()` runs every step above that
version, each in its own transaction together with the version bump, so a crash mid-upgrade
leaves the database at the last completed step and the next start resumes there.

Rules for a new step: append `N: function` to `MIGRATIONS`, write the DDL explicitly
(`op_add_column`-style SQL or `Table.create` for a new table); never edit an earlier step, since
databases in the field already ran it. Several replicas may start at once on PostgreSQL: the
upgrade holds a transaction-scoped advisory lock, so one migrates and the others wait.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, inspect, select, text

from bot.store import schema
from bot.store.base import subscription_target

Step = Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    """First release: feeds, stories, items with their keys, subscribers, outbox."""
    schema.metadata.create_all(conn, tables=list(schema.V1_TABLES))


_V2_COLUMNS = {
    "quiet_start": "VARCHAR(5)",
    "quiet_end": "VARCHAR(5)",
    "digest_at": "VARCHAR(5)",
    "timezone": "VARCHAR(64)",
    "last_seen": "{timestamp}",
}


def _v2_subscriber_schedule(conn: Connection) -> None:
    """Quiet hours, daily digest, time zone and last contact of each subscriber.

    Step 1 builds tables from the current schema, so a database created by this release
    already has these columns: each is added only when missing."""
    present = {c["name"] for c in inspect(conn).get_columns("subscribers")}
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for name, kind in _V2_COLUMNS.items():
        if name not in present:
            ddl = kind.format(timestamp=timestamp)
            conn.execute(text(f"ALTER TABLE subscribers ADD COLUMN {name} {ddl}"))
    for index in ("ix_subscribers_quiet_start", "ix_subscribers_digest_at"):
        column = index.removeprefix("ix_subscribers_")
        conn.execute(text(f"CREATE INDEX IF NOT EXISTS {index} ON subscribers ({column})"))


def _add_column(conn: Connection, table: str, column: str, ddl: str) -> None:
    """ALTER TABLE … ADD COLUMN unless the column is there: step 1 creates tables from the
    current definitions in schema.py, so a database born after a column was added has it."""
    present = {c["name"] for c in inspect(conn).get_columns(table)}
    if column not in present:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


def _v3_subscriber_choices(conn: Connection) -> None:
    """Per-subscriber choices made from an alert's buttons and /lingua: "not this player"
    inside a list (exclusions), a silenced story (no more "also on" edits), and where the
    chat's language came from."""
    schema.exclusions.create(conn, checkfirst=True)
    for index in schema.exclusions.indexes:
        index.create(conn, checkfirst=True)
    _add_column(conn, "outbox", "silenced", "BOOLEAN NOT NULL DEFAULT FALSE")
    _add_column(conn, "subscribers", "language_origin", "VARCHAR(10)")


def _v4_feed_moves(conn: Connection) -> None:
    """A permanent redirect is adopted only after several good polls: the pending target
    and how many good polls went through it so far."""
    _add_column(conn, "feeds", "moved_to", "VARCHAR(2000)")
    _add_column(conn, "feeds", "moved_hits", "INTEGER NOT NULL DEFAULT 0")


def _v6_fan_out_indexes(conn: Connection) -> None:
    """Fan-out reads only the followers of what matched (subscriptions.target, backfilled);
    claiming reads only pending rows (a partial index on the outbox)."""
    _add_column(conn, "subscriptions", "target", "TEXT")
    table = schema.subscriptions
    rows = conn.execute(select(table.c.id, table.c.kind, table.c.value)).all()
    if rows:
        conn.execute(
            table.update().where(table.c.id == bindparam("row_id")),
            [{"row_id": r.id, "target": subscription_target(r.kind, r.value)} for r in rows],
        )
    for index in (*table.indexes, *schema.outbox.indexes):
        index.create(conn, checkfirst=True)


def _v5_alert_item(conn: Connection) -> None:
    """Each outbox row remembers the item that brought its story to the subscriber."""
    _add_column(conn, "outbox", "item_id", "INTEGER")


def _v7_websub(conn: Connection) -> None:
    """WebSub: per feed, the hub it advertises and our subscription there (callback token,
    secret, lease), so pushes are verified and renewed across restarts and replicas."""
    schema.websub.create(conn, checkfirst=True)


def _v8_feed_leases(conn: Connection) -> None:
    """Replicas on PostgreSQL share the polling: each feed's next poll and lease, and the
    replicas taking part."""
    for table in (schema.feed_leases, schema.pollers):
        table.create(conn, checkfirst=True)
        for index in table.indexes:
            index.create(conn, checkfirst=True)


_TERMS_BUMP = "UPDATE counters SET value = value + 1 WHERE name = 'watched_terms'"
# (trigger name, event, condition): every change that can alter the set of /watch terms of
# active subscribers (a subscriber's deletion also cascades to its subscriptions).
_TERMS_TRIGGERS = (
    ("trg_terms_insert", "INSERT ON subscriptions", "NEW.kind = 'term'"),
    ("trg_terms_delete", "DELETE ON subscriptions", "OLD.kind = 'term'"),
    ("trg_terms_update", "UPDATE ON subscriptions", "OLD.kind = 'term' OR NEW.kind = 'term'"),
    ("trg_terms_active", "UPDATE OF active ON subscribers", "OLD.active <> NEW.active"),
    ("trg_terms_gone", "DELETE ON subscribers", "OLD.active"),
)


def _v9_counters(conn: Connection) -> None:
    """A version of the /watch terms kept by the database (triggers), so a poll reads one
    indexed row to know whether the terms changed instead of every subscriber's terms.

    On PostgreSQL the triggers are deferred to the commit, so the counter's row is locked last
    and only for the commit (two transactions never deadlock over it), and a transaction bumps
    it once however many rows it changes (an import of 100,000 subscribers)."""
    schema.counters.create(conn, checkfirst=True)
    conn.execute(
        text(
            "INSERT INTO counters (name, value) VALUES ('watched_terms', 0) "
            "ON CONFLICT (name) DO NOTHING"
        )
    )
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "CREATE OR REPLACE FUNCTION newsbot_terms_changed() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "IF current_setting('newsbot.terms_bumped', true) IS DISTINCT FROM 'yes' THEN "
                f"{_TERMS_BUMP}; "
                "PERFORM set_config('newsbot.terms_bumped', 'yes', true); "
                "END IF; RETURN NULL; END $$"
            )
        )
        for name, event, condition in _TERMS_TRIGGERS:
            table = event.rsplit(" ", 1)[1]
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            conn.execute(
                text(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} "
                    f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({condition}) "
                    "EXECUTE FUNCTION newsbot_terms_changed()"
                )
            )
    else:
        for name, event, condition in _TERMS_TRIGGERS:
            conn.execute(
                text(
                    f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} FOR EACH ROW "
                    f"WHEN {condition} BEGIN {_TERMS_BUMP}; END"
                )
            )


MIGRATIONS: dict[int, Step] = {
    1: _v1_initial,
    2: _v2_subscriber_schedule,
    3: _v3_subscriber_choices,
    4: _v4_feed_moves,
    5: _v5_alert_item,
    6: _v6_fan_out_indexes,
    7: _v7_websub,
    8: _v8_feed_leases,
    9: _v9_counters,
}

LATEST = max(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer newsbot; running old code on it could corrupt it."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for PostgreSQL advisory locks, derived from a name."""
    digest = hashlib.sha1(name.encode()).digest()[:8]
    return int.from_bytes(digest, "big", signed=True)


def current_version(conn: Connection) -> int:
    """The database's schema version; 0 for an empty database."""
    schema.schema_version.create(conn, checkfirst=True)
    row = conn.execute(select(schema.schema_version.c.version).limit(1)).first()
    return int(row[0]) if row else 0


def _set_version(conn: Connection, version: int) -> None:
    table = schema.schema_version
    now = datetime.now(UTC)
    updated = conn.execute(table.update().values(version=version, migrated_at=now))
    if updated.rowcount == 0:
        conn.execute(table.insert().values(id=1, version=version, migrated_at=now))


def migrate(engine: Engine, steps: dict[int, Step] | None = None) -> int:
    """Bring the database up to the latest version; returns the version reached."""
    steps = MIGRATIONS if steps is None else steps
    latest = max(steps)
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key("newsbot-migrate")}
                )
            version = current_version(conn)
            if version > latest:
                raise SchemaTooNew(
                    f"database schema is version {version}, this newsbot knows up to {latest}"
                )
            if version == latest:
                return version
            steps[version + 1](conn)
            _set_version(conn, version + 1)
