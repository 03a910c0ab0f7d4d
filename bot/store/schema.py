"""The tables of the state store (SQLAlchemy Core), as of the latest schema version.

This module describes the current shape; `migrations.py` is what creates and upgrades real
databases, one numbered step at a time. A change here must come with a new migration step.

Times are stored in UTC. SQLite has no time zone type, so `UTCDateTime` stores naive UTC and
hands back aware datetimes: every comparison in SQL is then between values of one format.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("migrated_at", UTCDateTime, nullable=False),
)

# Keyed by the feed's address as configured; `fetch_url` follows permanent redirects.
feeds = Table(
    "feeds",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("fetch_url", String(2000), nullable=False),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("failures", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime),
    Column("polled_at", UTCDateTime),
    Column("last_error", Text),
    Column("moved_to", String(2000)),  # a permanent redirect not yet confirmed
    Column("moved_hits", Integer, nullable=False, default=0),
)

stories = Table(
    "stories",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("url", Text, nullable=False),
    Column("source", String(200), nullable=False),
    Column("published", UTCDateTime, nullable=False),
    # JSON list of every outlet, first one first; JSON list of folded names (for clustering).
    Column("sources", Text, nullable=False),
    Column("names", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
Index("ix_stories_published", stories.c.published)
Index("ix_stories_created_at", stories.c.created_at)

# One row per (story, name): lets clustering fetch only stories sharing a name with an item.
story_names = Table(
    "story_names",
    metadata,
    Column("story_id", String(40), ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("published", UTCDateTime, nullable=False),
    UniqueConstraint("story_id", "name", name="uq_story_names"),
)
Index("ix_story_names_name", story_names.c.name, story_names.c.published)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_url", String(2000), nullable=False),
    Column("source", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("link", Text, nullable=False),
    Column("published", UTCDateTime),
    Column("story_id", String(40), ForeignKey("stories.id", ondelete="SET NULL")),
    Column("backlog", Boolean, nullable=False, default=False),
    Column("seen_at", UTCDateTime, nullable=False),
)
Index("ix_items_seen_at", items.c.seen_at)
Index("ix_items_story_id", items.c.story_id)

# Every identity an item was ever seen with. Outlives its item row (a tombstone) so an item that
# drops out of a feed and comes back is still known; `last_seen` is refreshed while it is listed.
item_keys = Table(
    "item_keys",
    metadata,
    Column("key", String(700), primary_key=True),
    Column("item_id", Integer, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
)
Index("ix_item_keys_last_seen", item_keys.c.last_seen)
Index("ix_item_keys_item_id", item_keys.c.item_id)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", String(100), nullable=False, unique=True),
    Column("kind", String(20), nullable=False, default="private"),
    Column("language", String(10), nullable=False, default="it"),
    Column("active", Boolean, nullable=False, default=True),
    Column("muted_until", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # Schema 2: recurring quiet hours and a daily digest ("HH:MM" on the subscriber's clock),
    # the clock's zone (None: Europe/Rome), and when the chat last wrote to the bot.
    Column("quiet_start", String(5)),
    Column("quiet_end", String(5)),
    Column("digest_at", String(5)),
    Column("timezone", String(64)),
    Column("last_seen", UTCDateTime),
    # Schema 3: where `language` came from: NULL (the user's Telegram language), "chosen" (/lingua),
    # "fallback" (an unsupported Telegram language; English, and the user was told once).
    Column("language_origin", String(10)),
)
Index("ix_subscribers_quiet_start", subscribers.c.quiet_start)
Index("ix_subscribers_digest_at", subscribers.c.digest_at)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", String(10), nullable=False),
    Column("value", Text, nullable=False),
    # Schema 6: the watchlist name this row follows ("milan", "watch:" + folded term, "*" for
    # the console's everything), indexed: fan-out reads only the followers of what matched.
    Column("target", Text),
    UniqueConstraint("subscriber_id", "kind", "value", name="uq_subscriptions"),
)
Index("ix_subscriptions_target", subscriptions.c.target)

# One row per (subscriber, story): the unique constraint IS the "never twice" guarantee.
# status: pending -> sent | dropped; a sent row goes back to pending with kind "update" when a
# later outlet joins its story (at most `edits` times). `revision` counts content changes so a
# change made while a message is in flight is not marked as delivered.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("story_id", String(40), nullable=False),
    Column("kind", String(10), nullable=False, default="alert"),
    Column("status", String(10), nullable=False, default="pending"),
    Column("matches", Text, nullable=False),
    Column("also", Text, nullable=False, default="[]"),
    Column("edits", Integer, nullable=False, default=0),
    Column("revision", Integer, nullable=False, default=0),
    Column("message_id", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    # Schema 3: the subscriber silenced this story: no more "also on" edits of its message.
    Column("silenced", Boolean, nullable=False, default=False),
    # The item that brought the story to this subscriber: what its alert shows (the story's
    # first item may be one that alerted no one, e.g. a feed's backlog). NULL: the story's.
    Column("item_id", Integer),
    UniqueConstraint("subscriber_id", "story_id", name="uq_outbox_subscriber_story"),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt)
# Schema 6: the deliverer claims the oldest pending rows (ORDER BY id); a partial index on
# exactly those keeps the claim flat however many sent rows the outbox holds.
Index(
    "ix_outbox_pending",
    outbox.c.id,
    sqlite_where=outbox.c.status == "pending",
    postgresql_where=outbox.c.status == "pending",
)
Index("ix_outbox_story", outbox.c.story_id)
Index("ix_outbox_sent_at", outbox.c.sent_at)

# Version 2: a subscriber's "not this player" inside a curated list it follows. Matching is
# computed once per item; at fan-out a subscriber's excluded (watchlist, term) pairs are dropped
# from its matches (one indexed query per item, not a loop over subscribers).
exclusions = Table(
    "exclusions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("watchlist", String(200), nullable=False),
    Column("term", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("subscriber_id", "watchlist", "term", name="uq_exclusions"),
)
Index("ix_exclusions_watchlist", exclusions.c.watchlist)

# Schema 7: one WebSub subscription per feed that advertises a hub (bot/websub.py). `callback`
# is the random token of its callback URL; `pending` the mode asked of the hub and not yet
# confirmed; `expires_at` the end of the lease the hub granted (NULL: not subscribed).
websub = Table(
    "websub",
    metadata,
    Column("feed_url", String(2000), primary_key=True),
    Column("hub", String(2000), nullable=False),
    Column("topic", String(2000), nullable=False),
    Column("callback", String(64), nullable=False, unique=True),
    Column("secret", String(200), nullable=False),
    Column("pending", String(12)),
    Column("requested_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("lease_seconds", Integer),
    Column("failures", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime),
    Column("last_error", Text),
)

# Schema 8: on PostgreSQL the replicas share the polling. One row per configured feed: when it
# is due (`next_poll_at`), and who holds or last held its lease. A replica claims due feeds
# whose lease is free or expired (FOR UPDATE SKIP LOCKED), polls them, books the next poll and
# frees the lease, keeping its name in `lease_owner` (who polled it last).
feed_leases = Table(
    "feed_leases",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("next_poll_at", UTCDateTime, nullable=False),
    Column("lease_owner", String(200)),
    Column("lease_until", UTCDateTime),
)
Index("ix_feed_leases_next_poll_at", feed_leases.c.next_poll_at)

# Schema 8: the replicas that share the polling, with when each last said it was alive: the
# live ones split the feeds between them (bot/store/leases.py).
pollers = Table(
    "pollers",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

# Schema 9: counters the database keeps itself (triggers, bot/store/migrations.py), so every
# process and replica can tell cheaply whether something changed: "watched_terms" grows with
# every change to the set of /watch terms of active subscribers (a term subscribed or dropped,
# a subscriber activated, deactivated or deleted, an import), whoever made it.
counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)

V1_TABLES = (
    feeds,
    stories,
    story_names,
    items,
    item_keys,
    subscribers,
    subscriptions,
    outbox,
)
