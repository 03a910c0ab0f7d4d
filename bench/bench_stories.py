"""Story lookup cost: one feed's new items all naming one club, at two sizes in one run.

Every item names "Milan", so every earlier story within the window is a candidate for it. Each
story's analysis is cached, so ingest time grows about linearly with the items; before that
cache, every candidate was analysed again for every item (2,000 items took about 100 s).
Runs the real ingest stage (`bot.dedup.ingest`: store on SQLite, matching with the shipped
watchlists, stories, outbox) and rewrites the "## Stories" section of docs/benchmarks.md, only
when both targets are met (exit 1 otherwise).
"""

from __future__ import annotations

import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from docsection import update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.dedup import ingest  # noqa: E402
from bot.models import Feed, Item  # noqa: E402
from bot.registry import Registry  # noqa: E402
from bot.store import Store  # noqa: E402

SIZES = (1_000, 3_000)
MAX_SECONDS = 15.0  # for the larger size (issue target)
MAX_GROWTH = 3.5  # larger / smaller time, for 3x the items
CORPUS = ROOT / "tests" / "corpus" / "headlines.tsv"
START = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)


def headlines() -> list[str]:
    rows = CORPUS.read_text(encoding="utf-8").splitlines()
    texts = [r.split("\t")[0] for r in rows if r and not r.startswith(("#", "ref:"))]
    return [t for t in texts if t and not t.startswith("text")]


def items(count: int, feed: Feed) -> list[Item]:
    """`count` headlines of one outlet (the corpus in turn, each numbered), each naming Milan,
    a minute apart."""
    texts = headlines()
    out = []
    for n in range(count):
        title = f"Milan, {texts[n % len(texts)]} ({n})"
        link = f"https://outlet.example/news/{n}"
        out.append(
            Item(
                keys=(f"url:{link}",),
                title=title,
                summary="",
                link=link,
                source=feed.name,
                feed_url=feed.url,
                published=START + timedelta(minutes=n),
            )
        )
    return out


def run(count: int, registry: Registry) -> float:
    feed = Feed("Outlet", "https://outlet.example/rss", 60)
    batch = items(count, feed)
    with tempfile.TemporaryDirectory() as tmp:
        # fsync per commit is the disk's cost, not the story stage's: relaxed (still crash-safe)
        store = Store.open(f"sqlite:///{Path(tmp) / 'bench.db'}", durable=False)
        store.subscribe(store.console_subscriber().id, "all", "*")
        matcher = registry.matcher()

        def match(item: Item):  # type: ignore[no-untyped-def]
            return matcher.match(item.title, item.summary)

        started = time.perf_counter()
        ingest(store, feed, batch, match, now=START + timedelta(days=3), backlog=False)
        elapsed = time.perf_counter() - started
        store.close()
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'terms.db'}")
        registry = Registry(ROOT / "bot" / "feeds.yaml", ROOT / "watchlists", store.watched_terms)
        registry.load()
        times = {count: run(count, registry) for count in SIZES}
        store.close()
    small, large = times[SIZES[0]], times[SIZES[-1]]
    growth = large / small
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = "\n".join(
        f"| {count:,} | {t:.1f} s | {1000 * t / count:.2f} ms |" for count, t in times.items()
    )
    text = f"""## Stories

Written by `make bench` (`bench/bench_stories.py`) on {now}: Python {platform.python_version()},
{platform.system()} {platform.machine()}. One feed's new items, every one naming Milan (so every
earlier story in the window is a candidate), through the real ingest stage (SQLite store,
shipped watchlists, stories, outbox), each size on a fresh store in the same run.

| new items | ingest time | per item |
| ---: | ---: | ---: |
{rows}

- Growth from {SIZES[0]:,} to {SIZES[-1]:,} items: {growth:.2f}× (target at most
  {MAX_GROWTH}×; quadratic cost would be about 9×). Target for {SIZES[-1]:,} items: at most
  {MAX_SECONDS:.0f} s.
- Each story's analysis (names, kinds of event, stems, scores) is computed once and kept per
  store. A lookup reads at most 300 candidate stories sharing a specific name (a person) with
  the item and the 60 nearest its time sharing only a club, competition or place; each is
  compared through its first item and up to 8 later ones (those reading alike counted once).
- Per new item: one lookup statement (each name's rows nearest in time off the name index,
  with the stories' outlets), then the story (created, or its outlets updated), the item and
  its keys; new items are stored 100 to a transaction on SQLite.
- SQLite with `durable=False` (no fsync per commit, still safe against a killed process): an
  fsync per transaction is the disk's cost, the same with or without stories.
"""
    print(text)
    if large > MAX_SECONDS or growth > MAX_GROWTH:
        print(f"FAILED: {large:.1f} s for {SIZES[-1]:,} items, growth {growth:.2f}×")
        return 1
    update_section("Stories", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
