"""Subscribers in bulk: whole `newsbot subscribers import|export` processes, timed.

Targets (issue "scale"): importing 20,000 subscribers takes ≤ 30 s and 100,000 ≤ 2 minutes;
a second import of the same file (idempotent) likewise. Subscribers follow 1-3 shipped lists and
0-5 personal terms. SQLite always; PostgreSQL too when TEST_DATABASE_URL is set (a throwaway
schema). Rewrites the "## Subscribers import" section of docs/benchmarks.md, only on success.
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchdb import drop_schema, postgres_schema
from docsection import update_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


SIZES = (20_000, 100_000)
TARGETS = {20_000: 30.0, 100_000: 120.0}
LISTS = ["milan", "inter", "juventus", "napoli", "roma", "lazio", "atalanta", "como", "mercato"]


def write_file(path: Path, count: int) -> None:
    rng = random.Random(count)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            row = {
                "chat_id": 10_000_000 + n,
                "type": "private",
                "language": rng.choice(["it", "it", "en"]),
                "lists": rng.sample(LISTS, rng.randint(1, 3)),
                "terms": [f"Giocatore {rng.randint(0, 20_000)}" for _ in range(rng.randint(0, 5))],
                "muted_until": None,
                "active": True,
            }
            out.write(json.dumps(row) + "\n")


def timed(*args: str, db: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "TELEGRAM_"))}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "subscribers", *args, "--db", db],
        env={**env, "NEWSBOT_WATCHLISTS": str(ROOT / "watchlists")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"newsbot subscribers {' '.join(args)} failed: {result.stderr[-500:]}")
    return elapsed


def measure(db: str, files: dict[int, Path]) -> list[tuple[int, float, float, float]]:
    """(size, first import, second import, export) seconds; one database per size."""
    rows = []
    for size, path in files.items():
        url = db.format(size=size)
        first = timed("import", str(path), db=url)
        second = timed("import", str(path), db=url)
        export = timed("export", db=url)
        rows.append((size, first, second, export))
        print(
            f"{url.split('?')[0]} {size}: import {first:.1f} s, again {second:.1f} s, "
            f"export {export:.1f} s",
            flush=True,
        )
    return rows


def main() -> int:
    results: dict[str, list[tuple[int, float, float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = {size: Path(tmp) / f"subs-{size}.jsonl" for size in SIZES}
        for size, path in files.items():
            write_file(path, size)
        results["SQLite"] = measure(f"sqlite:///{tmp}/subs-{{size}}.db", files)
        pg = postgres_schema("bench_subs")
        if pg is not None:
            url, schema = pg
            try:
                # One schema, sizes in turn: the second size updates the first's subscribers.
                results["PostgreSQL"] = measure(url, files)
            finally:
                drop_schema(schema)
    missed = [
        f"{db} {size:,}: {max(first, second):.1f} s > {TARGETS[size]:.0f} s"
        for db, rows in results.items()
        for size, first, second, _ in rows
        if max(first, second) > TARGETS[size]
    ]
    lines = [
        "## Subscribers import",
        "",
        "Whole `newsbot subscribers import FILE` and `export` processes",
        "(`bench/bench_subscribers.py`), subscribers following 1-3 shipped lists and 0-5",
        "personal terms. The second import is the same file again (idempotent: it rewrites",
        "each subscriber as the file says).",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
        "",
        "| database | subscribers | import | import again | export | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for db, rows in results.items():
        for size, first, second, export in rows:
            lines.append(
                f"| {db} | {size:,} | {first:.1f} s | {second:.1f} s | {export:.1f} s "
                f"| ≤ {TARGETS[size]:.0f} s |"
            )
    if "PostgreSQL" not in results:
        lines += ["", "PostgreSQL not measured: TEST_DATABASE_URL was not set."]
    if missed:
        print("targets missed: " + "; ".join(missed), file=sys.stderr)
        return 1
    update_section("Subscribers import", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
