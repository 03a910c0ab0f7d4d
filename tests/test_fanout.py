"""Fan-out at scale: a story reaches exactly its followers, in a few statements, on both stores.

What a subscriber notices: every follower of what matched is owed one alert (never two), the
players it excluded are not in it, and nobody else is owed anything. What an operator notices:
the cost of an item is the cost of its audience (the lookup reads only the followers; the
outbox rows of a story are one statement per group of followers owed the same alert).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from bot.dedup import audiences
from bot.models import Match
from bot.store import Store
from bot.store.migrations import MIGRATIONS
from bot.store.schema import outbox, subscriptions
from bot.subscribers import SubscriberRecord

T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
PALESTRA = Match("atalanta", "Marco Palestra", "Palestra", 100.0)
MILAN = Match("milan", "Milan", "Milan", 100.0)


def crowd(store: Store, size: int) -> dict[str, int]:
    """`size` subscribers of juventus, plus a few who follow what the story is about."""
    records = [
        SubscriberRecord(chat_id=1000 + n, lists=("juventus",), terms=("Vlahovic",))
        for n in range(size)
    ] + [
        SubscriberRecord(chat_id=1, lists=("atalanta",)),
        SubscriberRecord(chat_id=2, lists=("atalanta", "milan")),
        SubscriberRecord(chat_id=3, terms=("palestra",)),
        SubscriberRecord(chat_id=4, lists=("milan",), active=False),
    ]
    store.import_subscribers(records)
    return {str(n): store.subscriber(str(n), create=False).id for n in (1, 2, 3, 4)}


def test_the_lookup_returns_only_followers_through_the_index(store: Store) -> None:
    ids = crowd(store, 2_000)
    followers = store.subscribers_for({"atalanta", "milan", "watch:palestra"})
    assert followers == {
        ids["1"]: {"atalanta"},
        ids["2"]: {"atalanta", "milan"},
        ids["3"]: {"watch:palestra"},
    }  # not the 2,000 juventus followers, not the inactive one
    with store.transaction() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT subscriber_id FROM subscriptions "
            "WHERE target IN ('atalanta', 'milan', '*')"
        ).all()
    assert "ix_subscriptions_target" in " ".join(str(row) for row in plan)


def test_followers_owed_the_same_alert_share_one_statement() -> None:
    followers = {1: {"atalanta"}, 2: {"atalanta", "milan"}, 3: {"atalanta"}, 5: {"milan"}}
    excluded = {3: {("atalanta", "Marco Palestra")}}
    groups = audiences([PALESTRA, MILAN], followers, excluded)
    assert groups == {
        (PALESTRA,): [1],
        (PALESTRA, MILAN): [2],
        (MILAN,): [5],
    }  # 3 excluded the only player it would have been told about


@pytest.mark.parametrize("size", [10, 6_000])
def test_enqueue_many_owes_each_follower_once(store: Store, size: int) -> None:
    records = [SubscriberRecord(chat_id=n, lists=("atalanta",)) for n in range(size)]
    store.import_subscribers(records)
    ids = sorted(store.subscribers_for({"atalanta"}))
    statements = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def count(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO outbox"):
            statements.append(statement)

    try:
        with store.transaction() as conn:
            assert store.enqueue_many_in(conn, ids, "s1", [PALESTRA], now=T0) == size
        with store.transaction() as conn:  # a re-run owes nothing more
            assert store.enqueue_many_in(conn, ids, "s1", [PALESTRA], now=T0) == 0
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 2 * -(-size // 5_000)
    with store.transaction() as conn:
        rows = conn.execute(select(outbox.c.subscriber_id, outbox.c.matches)).all()
    assert sorted(r.subscriber_id for r in rows) == ids
    assert all("Marco Palestra" in r.matches for r in rows)


def test_migration_6_backfills_what_each_subscription_follows(store: Store) -> None:
    sub = store.subscriber("42")
    store.subscribe(sub.id, "list", "milan")
    store.subscribe(sub.id, "term", "  Nicolò   Barella ")
    with store.transaction() as conn:  # a database written before schema 5
        conn.execute(subscriptions.update().values(target=None))
        MIGRATIONS[6](conn)
    assert store.subscribers_for({"milan"}) == {sub.id: {"milan"}}
    assert store.subscribers_for({"watch:nicolo barella"}) == {sub.id: {"watch:nicolo barella"}}


@pytest.mark.postgres
def test_fan_out_on_postgresql(pg_url: str) -> None:
    db = Store.open(pg_url)
    try:
        ids = crowd(db, 300)
        followers = db.subscribers_for({"atalanta", "watch:palestra"})
        assert set(followers) == {ids["1"], ids["2"], ids["3"]}
        with db.transaction() as conn:
            assert db.enqueue_many_in(conn, sorted(followers), "s1", [PALESTRA], now=T0) == 3
            assert db.enqueue_many_in(conn, sorted(followers), "s1", [PALESTRA], now=T0) == 0
    finally:
        db.close()
