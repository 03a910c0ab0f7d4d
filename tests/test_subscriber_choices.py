"""What a subscriber chooses from an alert's buttons, as the store keeps it: "not this player"
inside a list (honoured at fan-out), a silenced story (no more "also on" edits), the chat's
language and where it came from; and the schema step that added them to older databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.dedup import ingest
from bot.match import Matcher, personal_watchlist
from bot.models import Feed, Item, Term, Watchlist
from bot.store import Store, migrations
from bot.subscribers import SubscriberRecord

T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
MILAN = Watchlist(
    "milan", (Term("Milan"), Term("Christian Pulisic", ("Pulisic",)), Term("Leão")), "AC Milan"
)
TMW = Feed("Tuttomercatoweb", "https://tmw.example/rss")
CM = Feed("Calciomercato.com", "https://cm.example/rss")


def item(title: str, feed: Feed, n: int, minutes: int = 0) -> Item:
    return Item(
        keys=(f"url:https://{feed.name}/{n}",),
        title=title,
        summary="",
        link=f"https://{feed.name}/{n}",
        source=feed.name,
        feed_url=feed.url,
        published=T0 + timedelta(minutes=minutes),
    )


def poll(store: Store, feed: Feed, items: list[Item], minutes: int = 0) -> None:
    lists = [MILAN, *(personal_watchlist(t) for t in store.watched_terms())]
    matcher = Matcher(lists)
    ingest(
        store,
        feed,
        items,
        lambda it: matcher.match(it.title, it.summary),
        now=T0 + timedelta(minutes=minutes),
        backlog=False,
    )


def owed(store: Store, subscriber_id: int) -> list[str]:
    due = store.pending_alerts(T0 + timedelta(days=1), limit=1000)
    return [a.title for a in due if a.subscriber_id == subscriber_id]


def test_an_excluded_player_no_longer_alerts_but_the_rest_of_the_list_does(store: Store) -> None:
    excluded_player_is_skipped_at_fan_out(store)


def test_exclusions_at_fan_out_on_postgres(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        excluded_player_is_skipped_at_fan_out(store)
    finally:
        store.close()


def excluded_player_is_skipped_at_fan_out(store: Store) -> None:
    fan = store.subscriber("1")
    other = store.subscriber("2")
    both = store.subscriber("3")
    assert fan and other and both
    for sub in (fan, other, both):
        store.subscribe(sub.id, "list", "milan")
    store.subscribe(both.id, "term", "Pulisic")  # followed personally too
    assert store.exclude(fan.id, "milan", "Christian Pulisic")
    assert not store.exclude(fan.id, "milan", "Christian Pulisic")  # once
    assert store.exclude(both.id, "milan", "Christian Pulisic")
    assert store.exclusions(fan.id) == [("milan", "Christian Pulisic")]

    poll(store, TMW, [item("Pulisic, doppietta in allenamento", TMW, 1)])
    poll(store, TMW, [item("Leão rinnova fino al 2030", TMW, 2)])
    poll(store, TMW, [item("Pulisic e Leão, il Milan vola", TMW, 3)])

    assert owed(store, fan.id) == ["Leão rinnova fino al 2030", "Pulisic e Leão, il Milan vola"]
    assert len(owed(store, other.id)) == 3
    assert len(owed(store, both.id)) == 3  # the personal term still counts
    mixed = [a for a in store.pending_alerts(T0 + timedelta(days=1)) if a.subscriber_id == fan.id]
    assert {m.term for m in mixed[1].matches} == {"Leão", "Milan"}  # Pulisic is not shown

    assert store.unexclude(fan.id, "milan", "Christian Pulisic")
    poll(store, TMW, [item("Pulisic titolare a Roma", TMW, 4)])
    assert "Pulisic titolare a Roma" in owed(store, fan.id)


def test_a_silenced_story_gets_no_more_also_on_edits(store: Store) -> None:
    fan = store.subscriber("1")
    other = store.subscriber("2")
    assert fan and other
    for sub in (fan, other):
        store.subscribe(sub.id, "list", "milan")
    poll(store, TMW, [item("Leão rinnova col Milan fino al 2030", TMW, 1)])
    for alert in store.pending_alerts(T0 + timedelta(days=1)):
        store.mark_sent(alert.id, message_id=10 + alert.subscriber_id, now=T0)
    assert store.pending_alerts(T0 + timedelta(days=1)) == []

    poll(store, CM, [item("Milan, Leão rinnova fino al 2030", CM, 1, 5)], minutes=5)
    updates = store.pending_alerts(T0 + timedelta(days=1))
    assert {a.subscriber_id for a in updates} == {fan.id, other.id}
    story_id = updates[0].story_id
    assert store.silence_story(fan.id, story_id)  # the queued edit is cancelled
    assert [a.subscriber_id for a in store.pending_alerts(T0 + timedelta(days=1))] == [other.id]

    sky = Feed("Sky Sport", "https://sky.example/rss")
    poll(store, sky, [item("Leão, rinnovo col Milan fino al 2030", sky, 1, 9)], minutes=9)
    assert all(a.subscriber_id != fan.id for a in store.pending_alerts(T0 + timedelta(days=1)))

    assert store.silence_story(fan.id, story_id, False)  # undo: later outlets edit again
    gazzetta = Feed("Gazzetta", "https://gazzetta.example/rss")
    poll(store, gazzetta, [item("Milan, Leão rinnova fino al 2030", gazzetta, 1, 12)], 12)
    later = store.pending_alerts(T0 + timedelta(days=1))
    assert [a.also for a in later if a.subscriber_id == fan.id] == [
        ("Calciomercato.com", "Sky Sport", "Gazzetta")
    ]
    assert not store.silence_story(fan.id, "no-such-story")


def test_language_and_its_origin_are_kept(store: Store) -> None:
    sub = store.subscriber("-500", kind="group", language="it")
    assert sub and sub.language_origin is None
    store.set_language(sub.id, "en", "chosen")
    again = store.subscriber("-500", create=False)
    assert again and again.language == "en" and again.language_origin == "chosen"


def test_a_version_2_database_gains_the_new_tables_and_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    store = Store.open(f"sqlite:///{db}")
    sub = store.subscriber("7")
    assert sub is not None
    store.close()
    with sqlite3.connect(db) as raw:  # make it exactly what schema 2 was
        raw.execute("DROP TABLE exclusions")
        raw.execute("ALTER TABLE outbox DROP COLUMN silenced")
        raw.execute("ALTER TABLE subscribers DROP COLUMN language_origin")
        raw.execute("UPDATE schema_version SET version = 2")

    upgraded = Store.open(f"sqlite:///{db}")
    assert upgraded.schema_version == migrations.LATEST >= 3
    assert upgraded.subscriber("7", create=False) == sub
    assert upgraded.exclude(sub.id, "milan", "Leão")
    assert upgraded.exclusions(sub.id) == [("milan", "Leão")]
    upgraded.close()


def test_exclusions_and_a_chosen_language_survive_export_and_import(tmp_path: Path) -> None:
    exported_and_imported(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")


def test_exclusions_and_a_chosen_language_import_into_postgres(tmp_path: Path, pg_url: str) -> None:
    exported_and_imported(tmp_path, pg_url)  # PostgreSQL imports by COPY: another path


def exported_and_imported(tmp_path: Path, target_url: str) -> None:
    source = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    fan = source.subscriber("1")
    assert fan is not None
    source.subscribe(fan.id, "list", "milan")
    source.exclude(fan.id, "milan", "Christian Pulisic")
    source.set_language(fan.id, "en", "chosen")
    (record,) = list(source.export_subscribers())
    line = record.to_json()
    assert '"exclusions": {"milan": ["Christian Pulisic"]}' in line
    assert '"language_chosen": true' in line
    source.close()

    target = Store.open(target_url)
    target.import_subscribers([SubscriberRecord.model_validate_json(line)])
    target.import_subscribers([SubscriberRecord.model_validate_json(line)])  # idempotent
    copy = target.subscriber("1", create=False)
    assert copy is not None and copy.language == "en" and copy.language_origin == "chosen"
    assert target.exclusions(copy.id) == [("milan", "Christian Pulisic")]
    old = SubscriberRecord.model_validate_json('{"chat_id": 1, "lists": ["milan"]}')
    target.import_subscribers([old])  # a file from before: no exclusions, Telegram's language
    assert target.exclusions(copy.id) == []
    target.close()
