"""Scale: what a poll cycle costs against the cost of merely fetching and parsing its feeds.

For each configuration (feeds × 50 items, subscribers following 1-3 shipped lists and 0-5
personal terms), in one process and one run:
- floor: the same feeds fetched with httpx and parsed with feedparser, nothing else;
- backlog cycle: the whole pipeline's first poll of every feed (every item stored, none alerts);
- 10%-new cycle: every feed lists 5 new items; they are matched, clustered and fanned out.
CPU time of this process is measured (`time.process_time`; the feeds are served by a separate
`python -m http.server` process, so serving them is not counted), and the peak resident memory.
Targets (issue "scale"), at 100 feeds and 20,000 subscribers, on SQLite and PostgreSQL: backlog
cycle ≤ 5× the floor; 10%-new cycle ≤ 5× the floor + 0.05 ms per alert enqueued; peak RSS
≤ 250 MB. Growth curves over feeds (25/50/100/200) and subscribers (1k/10k/100k) are drawn into
docs/scale.svg. Rewrites the "## Scale" section of docs/benchmarks.md, only when every target
holds.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import feedparser
from docsection import update_section
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.dedup import warm_up  # noqa: E402
from bot.fetch import make_client  # noqa: E402
from bot.models import Feed  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.registry import Registry  # noqa: E402
from bot.store import Store, engine_url  # noqa: E402
from bot.subscribers import SubscriberRecord  # noqa: E402

ITEMS = 50
NEW = 5
LISTS = ["milan", "inter", "juventus", "napoli", "roma", "lazio", "atalanta", "como", "mercato"]
PLAYERS = ["Pulisic", "Leao", "Lautaro", "Vlahovic", "Lukaku", "Dybala", "Palestra", "Dovbyk"]
CORPUS = ROOT / "tests" / "corpus" / "headlines.tsv"
START = datetime.now(UTC) - timedelta(hours=2)
SVG = ROOT / "docs" / "scale.svg"


@dataclass
class Result:
    feeds: int
    subscribers: int
    database: str
    floor: float = 0.0
    backlog: float = 0.0
    fresh: float = 0.0
    alerts: int = 0
    peak_mib: float = 0.0

    @property
    def fresh_budget(self) -> float:
        return 5 * self.floor + 0.00005 * self.alerts

    @property
    def ok(self) -> bool:
        return self.backlog <= 5 * self.floor and self.fresh <= self.fresh_budget


def headlines() -> list[str]:
    rows = CORPUS.read_text(encoding="utf-8").splitlines()
    texts = [r.split("\t")[0] for r in rows if r and not r.startswith(("#", "ref:", "text"))]
    return [t for t in texts if t]


def write_feeds(folder: Path, feeds: int, newest: int, texts: list[str]) -> None:
    for f in range(feeds):
        items = []
        for n in range(newest - ITEMS, newest):
            title = texts[(f * 7919 + n * 31) % len(texts)]
            link = f"https://outlet{f}.example/news/{n}"
            when = format_datetime(START + timedelta(seconds=n * 20 + f))
            items.append(
                f"<item><title><![CDATA[{title}]]></title><link>{link}</link>"
                f"<guid>{link}</guid><pubDate>{when}</pubDate>"
                f"<description><![CDATA[<p>{title}.</p>]]></description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {f}</title><link>https://outlet{f}.example/</link>"
            f"{''.join(reversed(items))}</channel></rss>"
        )
        (folder / f"f{f}.xml").write_text(body, encoding="utf-8")


def serve(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the feed server did not start")


def subscribers(count: int) -> list[SubscriberRecord]:
    rng = random.Random(count)
    return [
        SubscriberRecord(
            chat_id=1_000_000 + n,
            lists=tuple(rng.sample(LISTS, rng.randint(1, 3))),
            terms=tuple(rng.sample(PLAYERS, rng.randint(0, 5))),
        )
        for n in range(count)
    ]


async def floor_cpu(urls: list[str]) -> float:
    async with make_client() as client:
        started = time.process_time()
        bodies = await asyncio.gather(*(client.get(u) for u in urls))
        for response in bodies:
            feedparser.parse(response.content)
        return time.process_time() - started


async def measure(result: Result, url: str, folder: Path, port: int) -> Result:
    texts = headlines()
    feeds = [
        Feed(f"Outlet {f}", f"http://127.0.0.1:{port}/f{f}.xml", 60) for f in range(result.feeds)
    ]
    store = Store.open(url, durable=False) if url.startswith("sqlite") else Store.open(url)
    try:
        for start in range(0, result.subscribers, 5_000):
            store.import_subscribers(subscribers(result.subscribers)[start : start + 5_000])
        registry = Registry(ROOT / "bot" / "feeds.yaml", ROOT / "watchlists", store.watched_terms)
        registry.load()
        registry.matcher()  # built once up front, as `run` does at start-up
        warm_up()  # the story stage's word lists, loaded once at start-up as `run` does
        write_feeds(folder, result.feeds, ITEMS, texts)
        result.floor = await floor_cpu([f.url for f in feeds])
        async with make_client() as client:
            pipeline = Pipeline(store, client, registry.matcher, max_age=None, concurrency=8)
            started = time.process_time()
            await pipeline.poll_all(feeds, respect_backoff=False)
            result.backlog = time.process_time() - started
            write_feeds(folder, result.feeds, ITEMS + NEW, texts)
            started = time.process_time()
            report = await pipeline.poll_all(feeds, respect_backoff=False)
            result.fresh = time.process_time() - started
            result.alerts = report.total("alerts")
    finally:
        store.close()
    result.peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_one(feeds: int, subs: int, database: str) -> Result:
    """One configuration in a fresh process, so its peak memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", str(feeds), str(subs), database],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    if out.returncode != 0:
        raise SystemExit(f"scale run {feeds}×{subs} {database} failed:\n{out.stderr[-2000:]}")
    values = out.stdout.strip().splitlines()[-1].split()
    return Result(
        feeds,
        subs,
        database,
        floor=float(values[0]),
        backlog=float(values[1]),
        fresh=float(values[2]),
        alerts=int(values[3]),
        peak_mib=float(values[4]),
    )


def one(feeds: int, subs: int, database: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "feeds"
        folder.mkdir()
        server, port = serve(folder)
        schema = None
        try:
            if database == "PostgreSQL":
                raw = engine_url(os.environ["TEST_DATABASE_URL"])
                schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
                with create_engine(raw, isolation_level="AUTOCOMMIT").connect() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                url = (
                    make_url(raw)
                    .update_query_dict({"options": f"-csearch_path={schema}"})
                    .render_as_string(hide_password=False)
                )
            else:
                url = f"sqlite:///{tmp}/scale.db"
            r = asyncio.run(measure(Result(feeds, subs, database), url, folder, port))
        finally:
            server.terminate()
            server.wait()
            if schema:
                with create_engine(raw, isolation_level="AUTOCOMMIT").connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(f"{r.floor:.4f} {r.backlog:.4f} {r.fresh:.4f} {r.alerts} {r.peak_mib:.1f}")


def svg(by_feeds: list[Result], by_subs: list[Result]) -> str:
    """Two small line charts (CPU seconds of each cycle and of the floor), hand-drawn SVG."""

    def chart(x0: int, title: str, rows: list[Result], key: str) -> list[str]:
        xs = [getattr(r, key) for r in rows]
        top = max(max(r.backlog, r.fresh, r.floor) for r in rows) * 1.1 or 1
        w, h, left, base = 360, 220, x0 + 50, 260

        def px(i: int) -> float:
            return left + (w - 60) * (i / max(1, len(xs) - 1))

        def py(v: float) -> float:
            return base - (h - 40) * v / top

        out = [
            f'<text x="{x0 + 40}" y="30" font-size="14">{title}</text>',
            f'<line x1="{left}" y1="{base}" x2="{left + w - 60}" y2="{base}" stroke="#333"/>',
            f'<line x1="{left}" y1="{base}" x2="{left}" y2="{base - h + 40}" stroke="#333"/>',
            f'<text x="{x0 + 5}" y="{base - h + 45}" font-size="10">{top:.1f} s</text>',
        ]
        for i, x in enumerate(xs):
            out.append(
                f'<text x="{px(i) - 12}" y="{base + 15}" font-size="10">{x:,}</text>'.replace(
                    ",", " "
                )
            )
        for attr, colour in (("backlog", "#c0392b"), ("fresh", "#2471a3"), ("floor", "#7f8c8d")):
            points = " ".join(f"{px(i):.1f},{py(getattr(r, attr)):.1f}" for i, r in enumerate(rows))
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        return out

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="780" height="320" '
        'font-family="sans-serif">',
        '<rect width="100%" height="100%" fill="white"/>',
        *chart(0, "CPU s per cycle by feeds (20k subscribers)", by_feeds, "feeds"),
        *chart(390, "CPU s per cycle by subscribers (100 feeds)", by_subs, "subscribers"),
        '<text x="60" y="305" font-size="11" fill="#c0392b">backlog cycle</text>',
        '<text x="170" y="305" font-size="11" fill="#2471a3">10%-new cycle</text>',
        '<text x="280" y="305" font-size="11" fill="#7f8c8d">fetch+parse floor</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main() -> int:
    databases = ["SQLite"] + (["PostgreSQL"] if os.environ.get("TEST_DATABASE_URL") else [])
    targets = [run_one(100, 20_000, db) for db in databases]
    for r in targets:
        print(f"{r.database}: {r}", flush=True)
    by_feeds = [run_one(n, 20_000, "SQLite") for n in (25, 50, 100, 200)]
    by_subs = [run_one(100, n, "SQLite") for n in (1_000, 10_000, 100_000)]
    rows = [
        "## Scale",
        "",
        "`bench/bench_scale.py`: CPU seconds of this process per cycle (the feeds are served by a",
        "separate process), against the floor of fetching the same feeds with httpx and parsing",
        "them with feedparser, measured in the same run. Feeds of 50 items; subscribers follow",
        "1-3 shipped lists and 0-5 personal terms. Targets at 100 feeds and 20,000 subscribers:",
        "backlog ≤ 5× floor; 10%-new ≤ 5× floor + 0.05 ms per alert; peak RSS ≤ 250 MB.",
        "",
        "| database | feeds | subscribers | floor | backlog cycle | 10%-new cycle | alerts "
        "| budget (10%-new) | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in targets + by_feeds + by_subs:
        rows.append(
            f"| {r.database} | {r.feeds} | {r.subscribers:,} | {r.floor:.2f} s "
            f"| {r.backlog:.2f} s ({r.backlog / r.floor:.1f}×) | {r.fresh:.2f} s "
            f"| {r.alerts:,} | {r.fresh_budget:.2f} s | {r.peak_mib:.0f} MiB |"
        )
    rows += ["", "![CPU per cycle by feeds and by subscribers](scale.svg)"]
    text_ = "\n".join(rows)
    print(text_)
    missed = [r for r in targets if not r.ok or r.peak_mib > 250]
    if missed:
        print("scale targets missed: " + "; ".join(str(r) for r in missed), file=sys.stderr)
        return 1
    SVG.write_text(svg(by_feeds, by_subs), encoding="utf-8")
    update_section("Scale", text_ + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        one(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    sys.exit(main())
