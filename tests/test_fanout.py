"""Fan-out at scale: a story reaches exactly its followers, in a few statements, on both stores.

What a subscriber notices: every follower of what matched is owed one alert (never two), the
players it excluded are not in it, and nobody else is owed anything. What an operator notices:
the cost of an item is the cost of its audience (the lookup reads only the followers through
an index; the outbox rows of a story are one statement, whatever the audience; a new outlet
joining a story followed by thousands is three statements, not one per row).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select, update

from bot.models import Match
from bot.store import Store
from bot.store.migrations import MIGRATIONS
from bot.store.schema import outbox, subscriptions
from bot.subscribers import SubscriberRecord

T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
PALESTRA = Match("atalanta", "Marco Palestra", "Palestra", 100.0)
MILAN = Match("milan", "Milan", "Milan", 100.0)
OWN_PALESTRA = Match("watch:palestra", "palestra", "Palestra", 100.0)


@contextmanager
def outbox_statements(store: Store, params: list | None = None) -> Iterator[list[str]]:
    """Every INSERT or UPDATE of the outbox executed inside the block (and, into `params`,
    the parameters of each)."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.startswith(("INSERT INTO outbox", "UPDATE outbox")):
            seen.append(statement)
            if params is not None:
                params.append(parameters)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def owed(store: Store) -> dict[int, list[str]]:
    """Subscriber id -> the terms of its alert's matches."""
    with store.transaction() as conn:
        rows = conn.execute(select(outbox.c.subscriber_id, outbox.c.matches)).all()
    return {r.subscriber_id: [m["term"] for m in json.loads(r.matches)] for r in rows}


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


def test_a_story_reaches_each_follower_in_one_statement(store: Store) -> None:
    ids = crowd(store, 2_000)
    fan = store.subscriber("5")
    store.subscribe(fan.id, "list", "atalanta")
    store.exclude(fan.id, "atalanta", "Marco Palestra")  # follows atalanta, not this player
    console = store.console_subscriber()
    store.subscribe(console.id, "all", "*")
    with outbox_statements(store) as seen, store.transaction() as conn:
        created = store.fan_out_in(
            conn, "s1", [PALESTRA, MILAN, OWN_PALESTRA], also=["Sky"], now=T0, item_id=7
        )
    assert len(seen) == 1
    assert owed(store) == {
        ids["1"]: ["Marco Palestra"],
        ids["2"]: ["Marco Palestra", "Milan"],
        ids["3"]: ["palestra"],
        console.id: ["Marco Palestra", "Milan"],  # every shared list, not someone's own term
    }  # not the 2,000 juventus followers, not the inactive one, not the one who excluded him
    assert created == 4
    with store.transaction() as conn:
        row = conn.execute(select(outbox).where(outbox.c.subscriber_id == ids["2"])).one()
    assert (row.story_id, row.kind, row.status, row.item_id) == ("s1", "alert", "pending", 7)
    assert json.loads(row.also) == ["Sky"]
    assert row.next_attempt.replace(tzinfo=UTC) == T0
    with store.transaction() as conn:  # a replay owes nothing more
        assert store.fan_out_in(conn, "s1", [PALESTRA, MILAN], now=T0) == 0


def test_a_new_outlet_reaches_thousands_of_rows_in_three_statements(store: Store) -> None:
    store.import_subscribers(
        [SubscriberRecord(chat_id=n, lists=("atalanta",)) for n in range(3_000)]
    )
    with store.transaction() as conn:
        assert store.fan_out_in(conn, "s1", [PALESTRA], also=["Sky"], now=T0) == 3_000
    with store.transaction() as conn:  # a thousand were delivered
        first = select(outbox.c.id).order_by(outbox.c.id).limit(1_000).scalar_subquery()
        conn.execute(update(outbox).where(outbox.c.id.in_(first)).values(status="sent"))
    params: list = []
    with outbox_statements(store, params) as seen, store.transaction() as conn:
        assert store.flag_update_in(conn, "s1", "sky", now=T0) == 1_000  # not "Sky"
        assert store.flag_update_in(conn, "s1", "sky", now=T0) == 0
    assert len(seen) == 6
    with store.transaction() as conn:  # the story's rows, not every pending row of the outbox
        plans = [
            conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values).all()
            for sql, values in zip(seen, params, strict=True)
        ]
    assert all("ix_outbox_story" in str(plan) for plan in plans), plans
    with store.transaction() as conn:
        rows = conn.execute(select(outbox.c.kind, outbox.c.also, outbox.c.revision)).all()
    assert {(r.kind, r.also, r.revision) for r in rows} == {
        ("update", '["Sky", "sky"]', 1),
        ("alert", '["Sky", "sky"]', 1),
    }
    assert sum(r.kind == "update" for r in rows) == 1_000


@pytest.mark.parametrize("size", [10, 6_000])
def test_fan_out_owes_each_follower_once(store: Store, size: int) -> None:
    records = [SubscriberRecord(chat_id=n, lists=("atalanta",)) for n in range(size)]
    store.import_subscribers(records)
    with outbox_statements(store) as seen:
        with store.transaction() as conn:
            assert store.fan_out_in(conn, "s1", [PALESTRA], now=T0) == size
        with store.transaction() as conn:  # a re-run owes nothing more
            assert store.fan_out_in(conn, "s1", [PALESTRA], now=T0) == 0
    assert len(seen) == 2
    assert sorted(owed(store)) == sorted(store.subscribers_for({"atalanta"}))


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
            assert db.fan_out_in(conn, "s1", [PALESTRA, MILAN, OWN_PALESTRA], now=T0) == 3
            assert db.fan_out_in(conn, "s1", [PALESTRA], now=T0) == 0
        assert owed(db) == {
            ids["1"]: ["Marco Palestra"],
            ids["2"]: ["Marco Palestra", "Milan"],
            ids["3"]: ["palestra"],
        }
        with db.transaction() as conn:
            assert db.flag_update_in(conn, "s1", "Sky", now=T0) == 0  # all still pending
        with db.transaction() as conn:
            assert {r[0] for r in conn.execute(select(outbox.c.also))} == {'["Sky"]'}
    finally:
        db.close()
