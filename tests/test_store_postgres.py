"""The same store on PostgreSQL: schema, dedup, claims that replicas never share, leader lock.

Needs env TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test). Each test
runs in a schema of its own, so tests (and other suites using the database) do not interfere.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, WATCHLISTS
from sqlalchemy import Connection, text

from bot import dedup, stories
from bot.dedup import IngestResult, ingest
from bot.models import Feed, FeedState, Item, Match
from bot.parse import parse_bytes
from bot.registry import Registry
from bot.store import Store, migrations
from bot.store.base import Deadlock

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
FEED = Feed("TMW", "https://www.tuttomercatoweb.com/rss/")


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = Store.open(pg_url)
    yield s
    s.close()


def item(key: str, title: str, source: str = "TMW", published: datetime = T0) -> Item:
    return Item(
        keys=(f"guid:{source}:{key}", f"url:https://{source}.it/{key}"),
        title=title,
        summary="",
        link=f"https://{source}.it/{key}",
        source=source,
        feed_url=FEED.url,
        published=published,
    )


def match(it: Item) -> list[Match]:
    return [Match("roma", "Dybala", "Dybala", 100.0)] if "Dybala" in it.title else []


def test_schema_and_plain_round_trips(store: Store, pg_url: str) -> None:
    assert store.is_postgres and store.schema_version == migrations.LATEST
    Store.open(pg_url).close()  # a second replica starting finds the schema ready
    state = FeedState(url="https://b/rss", etag="x", retry_at=T0, polled_at=T0)
    store.save_feed_state("https://a/rss", state)
    assert store.feed_state("https://a/rss") == state
    sub = store.subscriber("-100", kind="group")
    assert sub is not None and store.subscribe(sub.id, "term", "Dybala")
    assert not store.subscribe(sub.id, "term", "Dybala")
    assert store.subscribers_for({"watch:dybala"}) == {sub.id: {"watch:dybala"}}


def test_ingest_alert_update_and_no_duplicate(store: Store) -> None:
    console = store.console_subscriber()
    store.subscribe(console.id, "all", "")
    tmw = item("1", "Roma, il ginocchio tormenta ancora Dybala: si va verso l'operazione")
    assert ingest(store, FEED, [tmw], match, now=T0, backlog=False).alerts == 1
    assert ingest(store, FEED, [tmw], match, now=T0, backlog=False).alerts == 0
    [alert] = store.pending_alerts(T0, claim_for=60)
    store.mark_sent(alert.id, message_id=10, now=T0)
    cds = item("2", "Dybala, oggi la verità: intervento per capire cosa ha il ginocchio", "CdS")
    assert ingest(store, FEED, [cds], match, now=T0, backlog=False).updates == 1
    [update] = store.pending_alerts(T0, claim_for=60)
    assert (update.kind, update.also, update.message_id) == ("update", ("CdS",), 10)
    store.mark_sent(update.id, message_id=None, now=T0)
    assert store.stats(T0)["alerts_sent_today"] == 1  # one row, sent (then edited)
    assert store.prune(T0 + timedelta(days=31)) > 0
    assert store.stats(T0)["items"] == 0


def test_two_replicas_never_claim_the_same_alert(pg_url: str) -> None:
    replicas = [Store.open(pg_url) for _ in range(2)]
    console = replicas[0].console_subscriber()
    for n in range(40):
        it = item(f"k{n}", f"Dybala notizia {n}")
        with replicas[0].transaction() as conn:
            item_id = replicas[0].add_item_in(conn, it, now=T0, backlog=False)
            replicas[0].create_story_in(
                conn, f"s{n}", it, item_id, {"dybala"}, published=T0, now=T0
            )
            replicas[0].enqueue_in(conn, console.id, f"s{n}", [], now=T0)
    taken: list[list[int]] = [[], []]

    def drain(n: int) -> None:
        while batch := replicas[n].pending_alerts(T0, limit=3, claim_for=60):
            taken[n].extend(a.id for a in batch)
            for a in batch:
                replicas[n].mark_sent(a.id, message_id=None, now=T0)

    threads = [threading.Thread(target=drain, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken[0] + taken[1]) == sorted(set(taken[0] + taken[1]))
    assert len(taken[0]) + len(taken[1]) == 40
    for r in replicas:
        r.close()


def test_leader_lock_is_exclusive_and_released_on_close(pg_url: str) -> None:
    name = f"poller-{uuid.uuid4().hex[:8]}"  # the lock is database-wide: keep tests apart
    first, second = Store.open(pg_url), Store.open(pg_url)
    assert first.try_leader(name)
    assert first.try_leader(name)  # still ours, asked again
    assert not second.try_leader(name)
    first.close()
    assert second.try_leader(name)
    second.close()


def test_long_keys_and_terms_fit(store: Store) -> None:
    """PostgreSQL enforces column sizes: a 1000-character link and a long /watch term."""
    long = Item(
        keys=("url:https://news.google.com/rss/articles/" + "x" * 1000,),
        title="Dybala, notizia da Google News",
        summary="",
        link="https://news.google.com/rss/articles/" + "x" * 1000,
        source="Google",
        feed_url=FEED.url,
        published=T0,
    )
    assert ingest(store, FEED, [long], match, now=T0, backlog=False).new_items == 1
    assert ingest(store, FEED, [long], match, now=T0, backlog=False).known_items == 1
    sub = store.subscriber("1")
    assert sub is not None and store.subscribe(sub.id, "term", "Dybala " * 200)


def test_replicas_starting_together_migrate_once(pg_url: str) -> None:
    """Three replicas open an empty database at once: one migrates, the others wait."""
    opened: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(Store.open(pg_url))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [s.schema_version for s in opened] == [migrations.LATEST] * 3
    with opened[0].transaction() as conn:
        assert conn.execute(text("SELECT count(*) FROM schema_version")).scalar() == 1
    for s in opened:
        s.close()


def test_two_pollers_ingesting_the_same_items_at_once_alert_once(pg_url: str) -> None:
    """Belt and braces behind the leader lock: concurrent ingests of one feed never double."""
    writers = [Store.open(pg_url) for _ in range(2)]
    console = writers[0].console_subscriber()
    writers[0].subscribe(console.id, "all", "")
    batch = [item(f"k{n}", f"Dybala notizia numero {n}", source=f"S{n}") for n in range(20)]
    results = []

    def run(store: Store) -> None:
        results.append(ingest(store, FEED, batch, match, now=T0, backlog=False))

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.new_items for r in results) == 20
    assert sum(r.known_items for r in results) == 20
    assert writers[0].stats(T0)["items"] == 20
    assert writers[0].outbox_depth() == sum(r.alerts for r in results)
    for w in writers:
        w.close()


def test_two_feeds_joining_the_same_stories_in_opposite_orders_never_deadlock(
    pg_url: str,
) -> None:
    """PostgreSQL locks a story's row as an item joins it: two feeds polled at once, each
    joining two stories in the other's order, must not hold one while waiting for the other."""
    store = Store.open(pg_url)
    dybala = "Roma, il ginocchio tormenta ancora Dybala: si va verso l'operazione"
    vlahovic = "Juventus, Vlahovic si ferma: lesione muscolare, out tre settimane"
    ingest(store, FEED, [item("d", dybala), item("v", vlahovic)], match, now=T0, backlog=False)
    both_joined_one = threading.Barrier(2, timeout=5)

    def joining(first: str) -> list[Item]:
        titles = [dybala, vlahovic] if first == "d" else [vlahovic, dybala]
        return [
            item(
                f"{first}{n}",
                f"{title} ({first}{n})",
                source=f"S{first}",
                published=T0 + timedelta(minutes=n),
            )
            for n, title in enumerate(titles)
        ]

    def meet_after_the_first(it: Item) -> list[Match]:
        if it.title.endswith("1)"):  # each feed has joined its first story by now
            both_joined_one.wait()
        return match(it)

    results, errors = [], []

    def run(first: str) -> None:
        try:
            feed = Feed(f"S{first}", f"https://{first}.example/rss")
            results.append(
                ingest(store, feed, joining(first), meet_after_the_first, now=T0, backlog=False)
            )
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in ("d", "v")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.new_items for r in results) == 4
    assert store.stats(T0)["stories"] == 2
    store.close()


FEEDS = [f"https://feed{n}.example/rss" for n in range(6)]


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def claim(store: Store, owner: str, at: float, limit: int = 8) -> set[str]:
    return set(store.claim_feeds(owner, FEEDS, seconds(at), lease_for=10, limit=limit))


def test_two_replicas_claiming_at_once_skip_each_others_rows_without_waiting(
    pg_url: str,
) -> None:
    a, b = Store.open(pg_url), Store.open(pg_url)
    a.plan_feeds(dict.fromkeys(FEEDS, 10.0), T0)
    # 5 s late: nobody claimed them, so every feed is anyone's.
    with a.transaction() as conn:  # a's claim is not committed yet...
        mine = set(a.claim_feeds_in(conn, "a", FEEDS, seconds(5), lease_for=10, limit=4))
        theirs: set[str] = set()
        other = threading.Thread(target=lambda: theirs.update(claim(b, "b", 5)))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "b waited for a's row locks instead of skipping them"
    assert len(mine) == 4 and theirs == set(FEEDS) - mine
    for store in (a, b):
        store.close()


def test_concurrent_claims_never_lease_one_feed_to_two_replicas(pg_url: str) -> None:
    replicas = [Store.open(pg_url) for _ in range(2)]
    replicas[0].plan_feeds(dict.fromkeys(FEEDS, 10.0), T0)
    for round_ in range(15):  # each round: every lease has run out, every feed is anyone's
        at = 5 + round_ * 11
        got: list[set[str]] = [set(), set()]
        start = threading.Barrier(2)

        def run(
            n: int, at: float = at, got: list[set[str]] = got, start: threading.Barrier = start
        ) -> None:
            start.wait()
            got[n] = claim(replicas[n], str(n), at)

        threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert not got[0] & got[1], f"round {round_}: a feed leased to both replicas"
        assert got[0] | got[1] == set(FEEDS)
    for r in replicas:
        r.close()


def test_replicas_poll_half_each_never_twice_per_interval_and_take_over_the_dead(
    pg_url: str,
) -> None:
    a, b = Store.open(pg_url), Store.open(pg_url)
    a.plan_feeds(dict.fromkeys(FEEDS, 10.0), T0)
    assert claim(a, "a", 0) == set(FEEDS), "alone, a replica polls every feed"
    assert claim(b, "b", 1) == set(), "leased feeds are nobody else's"
    slow, *rest = sorted(FEEDS)
    for url in rest:
        assert a.finish_feed_lease("a", url, next_poll_at=seconds(10))
    a.renew_feed_leases("a", [slow], until=seconds(19))  # still fetching a slow outlet
    assert claim(b, "b", 5) == set(), "a polled feed waits for its interval"
    claim(b, "b", 10, limit=0)  # b is alive
    half_a, half_b = claim(a, "a", 10), claim(b, "b", 10)
    assert half_a == set(sorted(FEEDS)[2::2]), "a's half, but the slow feed it still polls"
    assert half_b == set(sorted(FEEDS)[1::2])
    for owner, half in (("a", half_a), ("b", half_b)):
        for url in half:
            assert (a if owner == "a" else b).finish_feed_lease(owner, url, seconds(20))
    # a hangs (alive, no more claims nor renewals): b claims its own half on time, the slow feed
    # as soon as a's lease on it runs out, and a's half STEAL_AFTER (3 s) late.
    claim(a, "a", 19.5, limit=0)
    assert claim(b, "b", 20) == half_b | {slow}
    assert claim(b, "b", 21) == set(), "a's due feeds are a's for a moment longer"
    assert claim(b, "b", 23) == half_a
    assert not a.finish_feed_lease("a", slow, seconds(30)), "b has it now: its booking stands"
    assert {owner for _, owner, _ in b.feed_lease_rows().values()} == {"b"}
    assert b.feeds_leased("b", FEEDS) == len(FEEDS) and b.feeds_leased("a", FEEDS) == 0
    for store in (a, b):
        store.close()


def test_a_feed_removed_from_the_feeds_file_loses_its_lease_row(pg_url: str) -> None:
    a, b = Store.open(pg_url), Store.open(pg_url)
    a.plan_feeds(dict.fromkeys(FEEDS, 10.0), T0)
    busy, gone, *kept = sorted(FEEDS)
    assert claim(b, "b", 0, limit=1) == {busy}  # b is polling it when the file changes
    # a reloads a feeds file without `busy` and `gone`: gone's row goes; busy's stays while
    # b's lease runs, so b's poll still books, and goes at the next planning.
    assert a.plan_feeds(dict.fromkeys(kept, 10.0), seconds(1)) == 1
    assert set(a.feed_lease_rows()) == {busy, *kept}
    assert b.finish_feed_lease("b", busy, seconds(20))
    assert a.plan_feeds(dict.fromkeys(kept, 10.0), seconds(2)) == 1
    assert set(a.feed_lease_rows()) == set(kept)
    assert a.plan_feeds({}, seconds(3)) == len(kept), "an empty feeds file leaves no rows"

    # A replica whose feeds file is ahead gets back the rows another one deleted, due at once;
    # rows already there keep their booking.
    a.plan_feeds(dict.fromkeys(kept, 10.0), seconds(4))
    assert a.claim_feeds("a", kept[:1], seconds(4), lease_for=10, limit=1) == kept[:1]
    assert a.finish_feed_lease("a", kept[0], seconds(30))
    b.keep_feed_rows(FEEDS, seconds(5))
    rows = b.feed_lease_rows()
    assert set(rows) == set(FEEDS)
    assert rows[gone][0] == rows[busy][0] == seconds(5)
    assert rows[kept[0]][0] == seconds(30)
    for store in (a, b):
        store.close()


def _blocked_by(conn: Connection, pid: int) -> bool:
    """Whether some backend is waiting for a lock that the backend `pid` holds."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    return bool(conn.execute(query, {"pid": pid}).scalar())


def _wait_until_blocked_by(store: Store, pid: int) -> None:
    """Until a backend waits for `pid`'s locks (a condition asked of the server, no sleep)."""
    with store.engine.connect() as watcher:
        for _ in range(100_000):
            if _blocked_by(watcher, pid):
                return
            watcher.rollback()
    raise AssertionError(f"no backend ever waited for {pid}")


def test_a_deadlock_in_the_drivers_own_sql_is_the_stores_deadlock(store: Store) -> None:
    """Statements run on the driver's cursor (`_run`, the hot path of ingest) report PostgreSQL
    breaking a deadlock (40P01) as the store's `Deadlock`, which the ingest retries, not as the
    driver's own error, which fails the feed."""
    with store.transaction() as conn:
        conn.execute(text("CREATE TABLE pair (id INTEGER PRIMARY KEY, v INTEGER)"))
        conn.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    both_hold_one = threading.Barrier(2, timeout=30)
    outcomes: dict[int, BaseException | None] = {}

    def lock(first: int, second: int) -> None:
        try:
            with store.transaction() as conn:
                bump = "UPDATE pair SET v = v + 1 WHERE id = :id"
                store._run(conn, bump, {"id": first})
                both_hold_one.wait()
                store._run(conn, bump, {"id": second})
            outcomes[first] = None
        except BaseException as exc:
            outcomes[first] = exc

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [exc for exc in outcomes.values() if exc is not None]
    assert len(failed) == 1, outcomes
    assert isinstance(failed[0], Deadlock), repr(failed[0])
    assert store.write_failure is None  # a deadlock's victim is no outage
    with store.transaction() as conn:
        assert conn.execute(text("SELECT sum(v) FROM pair")).scalar() == 2  # the winner's two


def test_an_item_chosen_as_a_deadlocks_victim_is_ingested_again(store: Store) -> None:
    """A writer outside ingest locks a story row the other way round: the item PostgreSQL rolls
    back to break the deadlock is stored by the retry, and the feed does not fail."""
    dybala = "Roma, il ginocchio tormenta ancora Dybala: si va verso l'operazione"
    ingest(store, FEED, [item("d", dybala)], match, now=T0, backlog=False)
    with store.engine.connect() as probe:
        [story_id] = probe.execute(text("SELECT id FROM stories")).scalars()
    joining = item("d2", f"{dybala} e Mourinho", source="S2", published=T0 + timedelta(minutes=5))
    # the names the joining item adds to the story's index, as ingest computes them
    terms = [m.term for m in match(joining)]
    names = stories.lookup_names(joining.title, stories.name_tokens(terms))
    with store.engine.connect() as probe:
        known = set(
            probe.execute(
                text("SELECT name FROM story_names WHERE story_id = :s"), {"s": story_id}
            ).scalars()
        )
    added = sorted(names - known)
    assert added, "the joining item must index a name the story lacks"
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(ingest(store, FEED, [joining], match, now=T0, backlog=False))
        except BaseException as exc:
            errors.append(exc)

    other = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        with other.engine.connect() as conn, conn.begin():
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            # holds a name the item will index: the item waits for it with its story locked
            for name in added:
                conn.execute(
                    text("INSERT INTO story_names (story_id, name, published) VALUES (:s, :n, :p)"),
                    {"s": story_id, "n": name, "p": T0},
                )
            worker = threading.Thread(target=run)
            worker.start()
            _wait_until_blocked_by(store, pid)
            # ... and now waits for the story the item locked: a deadlock, whose victim is the
            # item (it waited first, so its deadlock check runs first)
            conn.execute(
                text("UPDATE stories SET updated_at = updated_at WHERE id = :s"), {"s": story_id}
            )
        worker.join()
    finally:
        other.close()
    assert errors == []
    assert [r.new_items for r in results] == [1]
    assert store.stats(T0)["items"] == 2 and store.stats(T0)["stories"] == 1


NEWS = [
    "Roma, il ginocchio tormenta ancora Dybala: si va verso l'operazione",
    "Juventus, Vlahovic si ferma: lesione muscolare, out tre settimane",
    "Inter, Lautaro rinnova fino al 2029: c'è la firma",
    "Napoli, Conte: McTominay è un leader, resta con noi",
    "Milan, Leao torna in gruppo dopo l'infortunio al polpaccio",
    "Lazio, Guendouzi squalificato per due giornate dal giudice sportivo",
]


def test_backlogs_of_feeds_polled_at_once_go_in_chunks_without_deadlocks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first poll stores many items per transaction on PostgreSQL too. Feeds polled at once
    whose items join the same stories, each in another order, and each holding its first story
    while the others ask for it: no deadlock (no chunk is redone an item at a time), every item
    stored once, one story per piece of news, no feed failed."""
    ingest(store, FEED, [item(f"n{j}", t) for j, t in enumerate(NEWS)], match, now=T0, backlog=True)
    redone: list[int] = []
    real_one_by_one = dedup._one_by_one
    monkeypatch.setattr(
        dedup,
        "_one_by_one",
        lambda store, chunk, *rest: (
            redone.append(len(chunk)) or real_one_by_one(store, chunk, *rest)
        ),
    )
    feeds = 4
    all_hold_one = threading.Barrier(feeds, timeout=30)
    met: set[str] = set()

    def outlet(f: int) -> list[Item]:  # the news from the f-th on, round the list
        order = [(f + n) % len(NEWS) for n in range(len(NEWS))]
        return [
            item(
                f"{f}-{j}", f"{NEWS[j]} ({f})", source=f"S{f}", published=T0 + timedelta(minutes=n)
            )
            for n, j in enumerate(order)
        ]

    def meet_at_the_second(it: Item) -> list[Match]:
        if it.published == T0 + timedelta(minutes=1) and it.source not in met:
            met.add(it.source)  # each feed has joined its first story in this transaction
            all_hold_one.wait()
        return match(it)

    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def run(f: int) -> None:
        try:
            feed = Feed(f"S{f}", f"https://s{f}.example/rss")
            results.append(ingest(store, feed, outlet(f), meet_at_the_second, now=T0, backlog=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f,)) for f in range(feeds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert redone == []
    assert sorted(r.backlog_items for r in results) == [len(NEWS)] * feeds
    stats = store.stats(T0)
    assert stats["items"] == len(NEWS) * (feeds + 1)
    assert stats["stories"] == len(NEWS)
    with store.engine.connect() as conn:
        outlets = conn.execute(text("SELECT sources FROM stories")).scalars().all()
    assert all(len(json.loads(s)) == feeds + 1 for s in outlets)


def _stories_of_real_feeds(store: Store, real: Path) -> set[frozenset[str]]:
    """The real snapshots' items, each snapshot a feed's first poll, grouped as `store` tells
    them: each story as the set of its items' links."""
    registry = Registry(ROOT / "bot" / "feeds.yaml", WATCHLISTS)
    assert registry.load().ok
    matcher = registry.matcher()
    for path in sorted(real.glob("*.xml")):
        feed = Feed(path.stem, f"https://{path.stem}.example/rss")
        found = parse_bytes(path.read_bytes(), feed, fetched_at=T0).items
        ingest(store, feed, found, lambda it: matcher.match(it.title, it.summary), now=T0,
               backlog=True)  # fmt: skip
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT story_id, link FROM items")).all()
    by_story: dict[str, set[str]] = {}
    for story_id, link in rows:
        by_story.setdefault(story_id, set()).add(link)
    return {frozenset(links) for links in by_story.values()}


@pytest.mark.parametrize("limits", [None, (4, 2)], ids=["shipped", "few candidates"])
def test_real_feeds_make_the_same_stories_as_on_sqlite(
    store: Store,
    tmp_path: Path,
    real_feeds: Path,
    limits: tuple[int, int] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replicas on PostgreSQL tell the same news as one alert exactly as a SQLite install
    does: the story lookup is another statement there (the names as arrays, the stories
    picked by the server), so the real snapshots' items are told apart on both databases and
    compared, story by story; also with so few candidates per lookup that which stories are
    picked, and in what order, decides."""
    if limits:
        monkeypatch.setattr(dedup, "MAX_SPECIFIC_CANDIDATES", limits[0])
        monkeypatch.setattr(dedup, "MAX_WEAK_CANDIDATES", limits[1])
    on_sqlite = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        expected = _stories_of_real_feeds(on_sqlite, real_feeds)
    finally:
        on_sqlite.close()
    assert sum(1 for links in expected if len(links) > 1) >= 10  # stories of several items
    assert _stories_of_real_feeds(store, real_feeds) == expected
