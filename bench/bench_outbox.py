"""Outbox claims: how long the deliverer takes to claim 500 alerts when 100,000 are pending.

Target (issue "scale"): ≤ 50 ms, flat in the outbox size, on SQLite and PostgreSQL. The outbox
holds 100,000 pending rows for 20,000 subscribers plus 100,000 already sent (the month of
history kept before pruning); claims are leased (`claim_for`) like the Telegram sender's, ten
in a row, and the median is reported, with 10,000 pending as the flatness check. Rewrites the
"## Outbox claims" section of docs/benchmarks.md, only on success.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchdb import drop_schema, postgres_schema
from docsection import update_section
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402
from bot.store.schema import outbox, stories  # noqa: E402
from bot.subscribers import SubscriberRecord  # noqa: E402

SUBSCRIBERS = 20_000
SENT = 100_000
CLAIM = 500
TARGET_MS = 50.0
NOW = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)


def fill(store: Store, pending: int) -> None:
    """Subscribers, stories and outbox rows, written in bulk (not through the pipeline)."""
    store.import_subscribers(
        [SubscriberRecord(chat_id=10_000 + n, lists=("milan",)) for n in range(SUBSCRIBERS)]
    )
    sub_ids = sorted(store.subscribers_for({"milan"}))
    story_count = (SENT + pending) // SUBSCRIBERS + 1
    with store.transaction() as conn:
        conn.execute(
            insert(stories),
            [
                {
                    "id": f"story{n}",
                    "title": f"Notizia {n}",
                    "summary": "",
                    "url": f"https://tmw.example/{n}",
                    "source": "Tuttomercatoweb",
                    "published": NOW - timedelta(hours=1),
                    "sources": json.dumps(["Tuttomercatoweb"]),
                    "names": "[]",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(story_count)
            ],
        )
    matches = json.dumps([{"watchlist": "milan", "term": "Milan", "matched": "Milan"}])
    rows = []
    for n in range(SENT + pending):
        sent = n < SENT
        rows.append(
            {
                "subscriber_id": sub_ids[n % SUBSCRIBERS],
                "story_id": f"story{n // SUBSCRIBERS}",
                "kind": "alert",
                "status": "sent" if sent else "pending",
                "matches": matches,
                "also": "[]",
                "next_attempt": NOW - timedelta(minutes=5),
                "created_at": NOW - timedelta(minutes=5),
                "sent_at": NOW - timedelta(minutes=4) if sent else None,
            }
        )
    for start in range(0, len(rows), 20_000):
        with store.transaction() as conn:
            conn.execute(insert(outbox), rows[start : start + 20_000])
    # A live database has statistics (autovacuum on PostgreSQL); a bulk fill has none yet, and
    # without them the planner sorts every pending row instead of walking the partial index.
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def claims_ms(store: Store) -> float:
    times = []
    for _ in range(10):
        started = time.perf_counter()
        got = store.pending_alerts(NOW, limit=CLAIM, claim_for=120, channel="telegram")
        times.append((time.perf_counter() - started) * 1000)
        assert len(got) == CLAIM, len(got)
    return statistics.median(times)


def measure(url: str, pending: int) -> float:
    store = Store.open(url, durable=False) if url.startswith("sqlite") else Store.open(url)
    try:
        fill(store, pending)
        return claims_ms(store)
    finally:
        store.close()


def main() -> int:
    results: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = {
            pending: measure(f"sqlite:///{tmp}/outbox-{pending}.db", pending)
            for pending in (10_000, 100_000)
        }
    for pending in (10_000, 100_000):
        made = postgres_schema("bench_outbox")
        if made is None:
            break
        url, schema = made
        try:
            results.setdefault("PostgreSQL", {})[pending] = measure(url, pending)
        finally:
            drop_schema(schema)
    lines = [
        "## Outbox claims",
        "",
        f"Claiming {CLAIM} due alerts (leased, as the Telegram sender does) with {SUBSCRIBERS:,}",
        f"subscribers and {SENT:,} sent rows kept as history (`bench/bench_outbox.py`); median",
        "of ten claims in a row. Target: ≤ 50 ms with 100,000 pending, flat in the outbox size.",
        "",
        "| database | 10,000 pending | 100,000 pending |",
        "| --- | --- | --- |",
    ]
    for db, by_size in results.items():
        lines.append(f"| {db} | {by_size[10_000]:.1f} ms | {by_size[100_000]:.1f} ms |")
    if "PostgreSQL" not in results:
        lines += ["", "PostgreSQL not measured: TEST_DATABASE_URL was not set."]
    print("\n".join(lines))
    missed = [db for db, by_size in results.items() if by_size[100_000] > TARGET_MS]
    if missed:
        print(f"outbox claim target missed on {', '.join(missed)}", file=sys.stderr)
        return 1
    update_section("Outbox claims", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
