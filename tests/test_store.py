"""The state store on SQLite: schema versions, feeds, subscribers, the outbox and retention."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from bot.models import FeedState, Item, Match
from bot.store import KEY_MARGIN_DAYS, MAX_EDITS, Store, engine_url, migrations

T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
DYBALA = Match("roma", "Paulo Dybala", "Dybala", 100.0, "title", 20, 26)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "newsbot.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{db_path}")
    yield s
    s.close()


def item(key: str, title: str = "Roma, Dybala si ferma", source: str = "TMW") -> Item:
    return Item(
        keys=(f"guid:x:{key}", f"url:https://x/{key}"),
        title=title,
        summary="",
        link=f"https://x/{key}",
        source=source,
        feed_url="https://x/rss",
        published=T0,
    )


def owe(store: Store, subscriber_id: int, key: str, *, now: datetime = T0) -> str:
    """Store one item as a new story and owe `subscriber_id` an alert about it."""
    it = item(key)
    with store.transaction() as conn:
        item_id = store.add_item_in(conn, it, now=now, backlog=False)
        store.create_story_in(conn, key, it, item_id, {"dybala"}, published=T0, now=now)
        assert store.enqueue_in(conn, subscriber_id, key, [DYBALA], now=now)
    return key


# ---------------------------------------------------------------- schema


def test_open_migrates_to_latest_and_uses_wal(store: Store, db_path: Path) -> None:
    assert store.schema_version == migrations.LATEST
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [
            (migrations.LATEST,)
        ]


def test_reopening_keeps_data_and_version(db_path: Path) -> None:
    first = Store.open(f"sqlite:///{db_path}")
    sub = first.subscriber("42")
    first.close()
    again = Store.open(f"sqlite:///{db_path}")
    assert again.schema_version == migrations.LATEST
    assert again.subscriber("42", create=False) == sub
    again.close()


def test_a_later_step_upgrades_a_first_release_database(store: Store, db_path: Path) -> None:
    """A database written by release 1 runs only the new steps and keeps its rows."""
    sub = store.subscriber("7")
    store.close()

    def add_notes(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))

    steps = {**migrations.MIGRATIONS, migrations.LATEST + 1: add_notes}
    upgraded = Store.open(f"sqlite:///{db_path}")
    assert migrations.migrate(upgraded.engine, steps) == migrations.LATEST + 1
    assert migrations.migrate(upgraded.engine, steps) == migrations.LATEST + 1  # idempotent
    with upgraded.transaction() as conn:
        conn.execute(text("INSERT INTO notes (body) VALUES ('ok')"))
    assert upgraded.subscriber("7", create=False) == sub
    upgraded.close()
    with pytest.raises(migrations.SchemaTooNew):
        Store.open(f"sqlite:///{db_path}")


def test_postgres_urls_use_psycopg3() -> None:
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"


# ---------------------------------------------------------------- feeds


def test_feed_state_round_trips_with_utc_times(store: Store) -> None:
    assert store.feed_state("https://a/rss") is None
    rome = datetime(2026, 3, 6, 9, 0, tzinfo=UTC).astimezone(datetime.now().astimezone().tzinfo)
    state = FeedState(
        url="https://b/rss",
        etag='"abc"',
        last_modified="Fri, 06 Mar 2026 07:00:00 GMT",
        failures=2,
        retry_at=rome,
        polled_at=T0,
        last_error="timeout",
    )
    store.save_feed_state("https://a/rss", state)
    got = store.feed_state("https://a/rss")
    assert got == state
    assert got is not None and got.retry_at is not None and got.retry_at.tzinfo is not None
    store.save_feed_state("https://a/rss", FeedState(url="https://a/rss", polled_at=T0))
    assert store.feed_states() == {"https://a/rss": FeedState(url="https://a/rss", polled_at=T0)}


# ---------------------------------------------------------------- subscribers


def test_subscribers_are_created_once_and_updated(store: Store) -> None:
    assert store.subscriber("100", create=False) is None
    sub = store.subscriber("100", language="en")
    assert sub is not None and sub.language == "en" and sub.active
    assert store.subscriber("100") == sub
    store.set_language(sub.id, "it")
    store.set_active(sub.id, False)
    store.mute(sub.id, T0)
    again = store.subscriber("100", create=False)
    assert again is not None
    assert (again.language, again.active, again.muted_until) == ("it", False, T0)
    console = store.console_subscriber()
    assert console.chat_id == "console" and console == store.console_subscriber()


def test_migrated_group_keeps_subscriptions_and_pending_alerts(store: Store) -> None:
    group = store.subscriber("-100", kind="group")
    assert group is not None
    store.subscribe(group.id, "list", "roma")
    owe(store, group.id, "s1")
    store.migrate_chat("-100", "-100200")
    moved = store.subscriber("-100200", create=False)
    assert moved is not None and moved.id == group.id
    assert store.subscriber("-100", create=False) is None
    assert [a.chat_id for a in store.pending_alerts(T0)] == ["-100200"]


def test_migrating_onto_an_existing_chat_merges_subscriptions(store: Store) -> None:
    old, new = store.subscriber("-1"), store.subscriber("-2")
    assert old is not None and new is not None
    store.subscribe(old.id, "list", "roma")
    store.subscribe(new.id, "term", "Pulisic")
    store.migrate_chat("-1", "-2")
    assert sorted(store.subscriptions(new.id)) == [("list", "roma"), ("term", "Pulisic")]
    gone = store.subscriber("-1", create=False)
    assert gone is not None and not gone.active


def test_subscriptions_and_who_follows_what(store: Store) -> None:
    a, b, c = (store.subscriber(x) for x in ("a", "b", "c"))
    assert a and b and c
    assert store.subscribe(a.id, "list", "roma")
    assert not store.subscribe(a.id, "list", "roma")
    assert store.subscribe(b.id, "term", "Nicolò Barella")
    assert store.subscribe(c.id, "all", "")
    assert store.subscriptions(a.id) == [("list", "roma")]
    assert store.watched_terms() == ["Nicolò Barella"]
    names = {"roma", "inter", "watch:nicolo barella", "watch:pulisic"}
    assert store.subscribers_for(names) == {
        a.id: {"roma"},
        b.id: {"watch:nicolo barella"},
        c.id: {"roma", "inter"},
    }
    store.set_active(b.id, False)
    assert b.id not in store.subscribers_for(names)
    assert store.watched_terms() == []
    assert store.unsubscribe(a.id, "list", "roma")
    assert not store.unsubscribe(a.id, "list", "roma")
    assert store.subscribers_for({"roma"}) == {c.id: {"roma"}}


# ---------------------------------------------------------------- outbox


def test_an_alert_is_owed_once_per_subscriber_and_story(store: Store) -> None:
    sub = store.console_subscriber()
    owe(store, sub.id, "s1")
    with store.transaction() as conn:
        assert not store.enqueue_in(conn, sub.id, "s1", [DYBALA], now=T0)
    [alert] = store.pending_alerts(T0)
    assert (alert.kind, alert.story_id, alert.chat_id, alert.source) == (
        "alert",
        "s1",
        "console",
        "TMW",
    )
    assert alert.title == "Roma, Dybala si ferma" and alert.url == "https://x/s1"
    assert alert.matches == (DYBALA,)
    assert store.outbox_depth() == 1
    store.mark_sent(alert.id, message_id=555, now=T0)
    assert store.pending_alerts(T0 + timedelta(days=1)) == []
    assert store.outbox_depth() == 0
    stats = store.stats(T0)
    assert stats == {
        "subscribers": 0,  # the console is no subscriber
        "active": 0,
        "items": 1,
        "stories": 1,
        "alerts_sent_today": 1,
        "outbox_depth": 0,
    }


def test_pending_skips_inactive_muted_and_not_yet_due(store: Store) -> None:
    subs = [store.subscriber(str(i)) for i in range(3)]
    assert all(subs)
    for i, sub in enumerate(subs):
        assert sub
        owe(store, sub.id, f"s{i}")
    active, muted, gone = subs
    assert active and muted and gone
    store.mute(muted.id, T0 + timedelta(hours=2))
    store.set_active(gone.id, False)
    assert [a.subscriber_id for a in store.pending_alerts(T0)] == [active.id]
    [retry] = store.pending_alerts(T0)
    store.mark_retry(retry.id, error="429", retry_at=T0 + timedelta(minutes=1))
    assert store.pending_alerts(T0) == []
    later = store.pending_alerts(T0 + timedelta(hours=3))
    assert [a.subscriber_id for a in later] == [active.id, muted.id]
    assert later[0].extra["attempts"] == 1


def test_quiet_hours_and_daily_digest_hold_alerts_on_the_subscribers_clock(store: Store) -> None:
    from datetime import time

    quiet, digest, plain = (store.subscriber(str(i)) for i in range(3))
    assert quiet and digest and plain
    store.set_quiet(quiet.id, (time(23), time(9)))  # T0 is 08:00 in Rome: inside
    store.set_digest(digest.id, time(20, 30))
    for sub in (quiet, digest, plain):
        owe(store, sub.id, f"s{sub.id}")
    assert [a.subscriber_id for a in store.pending_alerts(T0)] == [plain.id]
    assert store.pending_alerts(T0)[0].extra.get("held") is None
    at_nine = T0 + timedelta(hours=1)  # quiet hours over: the alert comes, marked as held
    [held] = [a for a in store.pending_alerts(at_nine) if a.subscriber_id == quiet.id]
    assert held.extra["held"] is True
    evening = T0 + timedelta(hours=12, minutes=30)  # 20:30 in Rome: the digest's time
    due = {a.subscriber_id: a for a in store.pending_alerts(evening)}
    assert due[digest.id].extra["held"] is True
    owe(store, digest.id, "late", now=evening + timedelta(minutes=1))
    after = [a.story_id for a in store.pending_alerts(evening + timedelta(minutes=2))]
    assert "late" not in after  # came after the digest: waits for tomorrow's
    again = store.subscriber("1", create=False)
    assert again is not None and (again.digest_at, again.quiet_start) == ("20:30", None)
    store.set_digest(digest.id, None)
    assert "late" in [a.story_id for a in store.pending_alerts(evening + timedelta(minutes=2))]


def test_a_claimed_alert_is_not_handed_out_twice_until_its_lease_ends(store: Store) -> None:
    sub = store.console_subscriber()
    owe(store, sub.id, "s1")
    other_replica = Store(store.engine)
    assert len(store.pending_alerts(T0, claim_for=60)) == 1
    assert other_replica.pending_alerts(T0, claim_for=60) == []
    assert other_replica.pending_alerts(T0 + timedelta(seconds=30), claim_for=60) == []
    [again] = other_replica.pending_alerts(T0 + timedelta(seconds=61), claim_for=60)
    other_replica.mark_sent(again.id, message_id=1, now=T0)
    assert store.pending_alerts(T0 + timedelta(hours=1), claim_for=60) == []


def test_dropped_alerts_are_never_sent_and_stay_for_audit(store: Store) -> None:
    sub = store.console_subscriber()
    owe(store, sub.id, "s1")
    [alert] = store.pending_alerts(T0)
    store.mark_dropped(alert.id, reason="403 Forbidden: bot was blocked by the user")
    assert store.pending_alerts(T0) == []
    with store.transaction() as conn:
        assert not store.enqueue_in(conn, sub.id, "s1", [DYBALA], now=T0)
        assert store.flag_update_in(conn, "s1", "CdS", now=T0) == 0
    assert store.pending_alerts(T0) == []


def test_updates_are_bounded_per_story_and_subscriber(store: Store) -> None:
    sub = store.console_subscriber()
    owe(store, sub.id, "s1")
    [alert] = store.pending_alerts(T0)
    store.mark_sent(alert.id, message_id=77, now=T0)
    outlets = ["CdS", "Gazzetta", "Sky", "Tuttosport", "Leggo"]
    sent_updates = []
    for outlet in outlets:
        with store.transaction() as conn:
            store.flag_update_in(conn, "s1", outlet, now=T0)
        for update in store.pending_alerts(T0):
            sent_updates.append((update.kind, update.also, update.message_id))
            store.mark_sent(update.id, message_id=None, now=T0)
    assert len(sent_updates) == MAX_EDITS
    assert sent_updates[0] == ("update", ("CdS",), 77)
    assert sent_updates[-1] == ("update", ("CdS", "Gazzetta", "Sky"), 77)


def test_an_outlet_joining_while_the_alert_is_in_flight_still_arrives(store: Store) -> None:
    """Marking sent must not swallow an outlet added between claim and send."""
    sub = store.console_subscriber()
    owe(store, sub.id, "s1")
    [alert] = store.pending_alerts(T0, claim_for=60)
    assert alert.also == ()
    with store.transaction() as conn:
        store.flag_update_in(conn, "s1", "CdS", now=T0)  # enriches the pending row
    store.mark_sent(alert.id, message_id=9, now=T0)
    [update] = store.pending_alerts(T0, claim_for=60)
    assert (update.kind, update.also, update.message_id) == ("update", ("CdS",), 9)
    store.mark_sent(update.id, message_id=None, now=T0)
    assert store.pending_alerts(T0) == []


def test_recent_stories_newest_first(store: Store) -> None:
    for i in range(3):
        it = item(f"k{i}", title=f"Notizia {i}")
        published = T0 - timedelta(hours=15 * i)
        with store.transaction() as conn:
            item_id = store.add_item_in(conn, it, now=T0, backlog=False)
            store.create_story_in(conn, f"s{i}", it, item_id, set(), published=published, now=T0)
    got = store.recent_stories(T0 - timedelta(hours=24))
    assert [s.title for s in got] == ["Notizia 0", "Notizia 1"]
    assert got[0].url == "https://x/k0" and got[0].source == "TMW" and got[0].sources == ("TMW",)
    assert len(store.recent_stories(T0 - timedelta(days=3), limit=1)) == 1


# ---------------------------------------------------------------- retention


def test_prune_forgets_old_items_but_keeps_their_keys_as_tombstones(store: Store) -> None:
    sub = store.console_subscriber()
    owe(store, sub.id, "old", now=T0)
    owe(store, sub.id, "new", now=T0 + timedelta(days=29))
    day40 = T0 + timedelta(days=31)
    assert store.prune(day40) > 0
    stats = store.stats(day40)
    assert (stats["items"], stats["stories"]) == (1, 1)
    assert [a.story_id for a in store.pending_alerts(day40)] == ["new"]
    # The old item's keys outlive it: re-listed by its feed, it is still known.
    with store.transaction() as conn:
        assert store.known_item_in(conn, ["guid:x:old"], day40) is not None
    # Seen again on day 31, its tombstone lives 30 + margin days from then.
    store.prune(day40 + timedelta(days=30 + KEY_MARGIN_DAYS - 1))
    assert "guid:x:old" in store.known_keys(["guid:x:old"])
    store.prune(day40 + timedelta(days=30 + KEY_MARGIN_DAYS + 1))
    assert store.known_keys(["guid:x:old", "url:https://x/old"]) == {}


def test_leader_on_sqlite_is_a_file_lock_beside_the_database(tmp_path: Path) -> None:
    """Two stores on one SQLite file (two `run` processes): one leads, until it closes."""
    url = f"sqlite:///{tmp_path / 'newsbot.db'}"
    first, second = Store.open(url), Store.open(url)
    assert first.try_leader() and first.try_leader()  # still ours, asked again
    assert not second.try_leader()
    assert second.leader_holder().startswith(f"process {os.getpid()} (lock ")
    assert first.try_leader("other")  # another role, another lock
    first.close()
    assert second.try_leader() and second.leader_holder() == ""
    second.close()
    memory = Store.open("sqlite://")
    assert memory.try_leader()  # no file, no other process to share it with
    memory.close()


def test_concurrent_writers_queue_instead_of_failing(db_path: Path) -> None:
    """Two processes' worth of connections writing at once: busy timeout + BEGIN IMMEDIATE."""
    stores = [Store.open(f"sqlite:///{db_path}") for _ in range(2)]
    errors: list[BaseException] = []

    def work(s: Store, n: int) -> None:
        try:
            for i in range(40):
                sub = s.subscriber(f"{n}-{i}")
                assert sub is not None
                s.subscribe(sub.id, "list", "roma")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(stores[n % 2], n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stores[0].stats(T0)["subscribers"] == 160
    for s in stores:
        s.close()


def test_very_long_keys_stay_unique_and_known(store: Store) -> None:
    """A Google News link can be longer than the key column; it still identifies one item."""
    base = "url:https://news.google.com/rss/articles/" + "x" * 900

    def long_item(suffix: str) -> Item:
        return Item((base + suffix,), suffix, "", "https://g/" + suffix, "G", "https://g/rss")

    with store.transaction() as conn:
        one = store.add_item_in(conn, long_item("1"), now=T0, backlog=False)
        two = store.add_item_in(conn, long_item("2"), now=T0, backlog=False)
        assert store.known_item_in(conn, [base + "1"], T0) == one
        assert store.known_item_in(conn, [base + "2"], T0) == two
        assert store.known_item_in(conn, [base + "3"], T0) is None
    assert set(store.known_keys([base + "1", base + "3"])) == {base + "1"}


def test_concurrent_writers_never_wait_out_sqlite_busy_timeout(tmp_path: Path) -> None:
    """Polls of many feeds write at once from worker threads. SQLite has one writer at a time;
    the store queues its writers itself, so none fails with "database is locked" even when the
    database's own busy wait is zero."""
    from sqlalchemy import event as sa_event

    db = Store.open(f"sqlite:///{tmp_path / 'busy.db'}")

    @sa_event.listens_for(db.engine, "connect")
    def _no_busy_wait(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    db.engine.dispose()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for k in range(40):
                sub = db.subscriber(f"{n}-{k}")
                assert sub is not None
                db.subscribe(sub.id, "list", "milan")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close()
    assert failures == []


# ---------------------------------------------------------------- /watch terms across replicas


def check_terms_follow_every_change(url: str) -> None:
    """A term added, dropped, or a subscriber (de)activated or deleted anywhere, whoever did it,
    is in the next poll's terms of every replica (they are cached between changes)."""
    from bot.subscribers import SubscriberRecord

    poller, other = Store.open(url), Store.open(url)
    try:
        a = other.subscriber("a")
        assert poller.watched_terms() == []
        assert other.subscribe(a.id, "term", "Palestra")
        assert other.subscribe(a.id, "list", "milan")
        assert poller.watched_terms() == ["Palestra"]
        assert poller.watched_terms() == ["Palestra"]  # unchanged: from the cache
        other.set_active(a.id, False)
        assert poller.watched_terms() == []
        other.set_active(a.id, True)
        assert poller.watched_terms() == ["Palestra"]
        assert other.unsubscribe(a.id, "term", "Palestra")
        assert poller.watched_terms() == []
        other.import_subscribers([SubscriberRecord(chat_id=7, terms=("Scamacca", "Lookman"))])
        assert poller.watched_terms() == ["Lookman", "Scamacca"]
        with other.transaction() as conn:  # an admin's SQL: the database keeps the count
            conn.execute(text("DELETE FROM subscribers WHERE chat_id = '7'"))
        assert poller.watched_terms() == []
    finally:
        poller.close()
        other.close()


def test_terms_follow_every_change_across_replicas(db_path: Path) -> None:
    check_terms_follow_every_change(f"sqlite:///{db_path}")


@pytest.mark.postgres
def test_terms_follow_every_change_across_replicas_on_postgresql(pg_url: str) -> None:
    check_terms_follow_every_change(pg_url)
