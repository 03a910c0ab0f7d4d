"""Matching benchmark: headlines per second with the index versus a rapidfuzz scan of every term.

Run with `make bench`. Generates 1k, 10k and 100k distinct player-like terms (seeded, so runs
are comparable), matches the same headlines with `Matcher` and with the naive approach
(`rapidfuzz.process.extract` with `partial_ratio` over every term), measures index build time
and the memory the index holds; at 100k terms it also times whole `newsbot match` processes
(bench/match_process.py: start-up, cold and with the cached index, and cost per headline). It
rewrites the "Matching" section of docs/benchmarks.md.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rapidfuzz
from docsection import DOC, update_section
from match_process import (
    BUSY_SHARE,
    ProcessRow,
    is_busy,
    judged_on,
    measure_processes,
    missed_process_targets,
    process_table,
)
from rapidfuzz import fuzz, process

from bot.match import Matcher
from bot.models import Term, Watchlist
from bot.text import fold
from bot.yamlfile import WITH_LIBYAML

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "headlines.tsv"
SIZES = (1_000, 10_000, 100_000)
PROCESS_SIZES = (100_000,)  # whole `newsbot match` processes are measured at this size
TERMS_PER_LIST = 1_000
SEED = 20260311
MIN_SECONDS = 1.0  # each throughput measurement runs at least this long
NAIVE_HEADLINES = 40  # the naive scan is slow: a sample of headlines is enough for its rate
NAIVE_CUTOFF = 90  # partial_ratio score a naive matcher would accept

SYLLABLES = [c + v for c in "bcdfgklmnprstvzj" for v in "aeiou"] + ["ch", "sk", "ov", "ic"]


def pseudo_word(rnd: random.Random) -> str:
    return "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 5)))


def make_terms(n: int, rnd: random.Random) -> list[Term]:
    """`n` distinct names: one to three words, mostly capitalised, a third with an alias."""
    seen: set[str] = set()
    terms: list[Term] = []
    while len(terms) < n:
        words = [pseudo_word(rnd) for _ in range(rnd.choice((1, 2, 2, 3)))]
        proper = rnd.random() < 0.8
        phrase = " ".join(w.capitalize() if proper else w for w in words)
        if fold(phrase) in seen:
            continue
        seen.add(fold(phrase))
        aliases = (words[-1].capitalize(),) if len(words) > 1 and rnd.random() < 0.3 else ()
        terms.append(Term(phrase, aliases, fuzzy=rnd.random() < 0.9))
    return terms


def make_watchlists(terms: list[Term]) -> list[Watchlist]:
    return [
        Watchlist(f"list{i // TERMS_PER_LIST}", tuple(terms[i : i + TERMS_PER_LIST]))
        for i in range(0, len(terms), TERMS_PER_LIST)
    ]


def corpus_headlines() -> list[str]:
    """Our own labelled headlines (real ones are referenced, not stored, so not used here)."""
    rows = CORPUS.read_text(encoding="utf-8").splitlines()
    return [
        line.split("\t")[0]
        for line in rows
        if line and not line.startswith(("#", "text\t", "ref:"))
    ]


def labelled_rows() -> int:
    """Every labelled row of the corpus, the real ones (references) included."""
    rows = CORPUS.read_text(encoding="utf-8").splitlines()
    return sum(1 for line in rows if line.strip() and not line.startswith(("#", "text\t")))


def make_headlines(terms: list[Term], rnd: random.Random) -> list[str]:
    """Corpus headlines, half of them with a generated name (sometimes misspelt) put in."""
    out = []
    for text in corpus_headlines():
        if rnd.random() < 0.5:
            name = rnd.choice(terms).term
            if rnd.random() < 0.3 and len(name) > 8:
                i = rnd.randrange(1, len(name) - 1)
                name = name[:i] + name[i + 1 :]
            text = f"{name}, {text}"
        out.append(text)
    return out


def rate(fn: Callable[[str], object], headlines: list[str]) -> tuple[float, float]:
    """Headlines per second over at least MIN_SECONDS, by the wall clock and by CPU time."""
    done, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        for text in headlines:
            fn(text)
        done += len(headlines)
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return done / elapsed, done / max(time.process_time() - cpu, 1e-9)


@dataclass
class Row:
    terms: int
    build_s: float
    memory_mb: float
    index_hps: float
    naive_hps: float
    matches: int
    index_cpu_hps: float = 0.0  # by CPU time: what a busy machine compares processes with
    build_cpu_s: float = 0.0
    load: float = 0.0  # 1-minute load average once measured

    @property
    def judged_build_s(self) -> float:
        """The build time the target is judged on: wall clock, CPU time on a busy machine."""
        return self.build_cpu_s if is_busy(self.load) else self.build_s

    @property
    def speedup(self) -> float:
        return self.index_hps / self.naive_hps


def index_memory(lists: list[Watchlist]) -> float:
    """MiB allocated by building the index and still held by it (tracemalloc, untimed build)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    matcher = Matcher(lists)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del matcher
    return held / 2**20


def inputs(n: int) -> tuple[list[Term], list[str]]:
    """The `n` generated terms and the headlines for them (seeded: the same on every run)."""
    rnd = random.Random(SEED + n)
    terms = make_terms(n, rnd)
    return terms, make_headlines(terms, rnd)


def measure(n: int) -> Row:
    terms, headlines = inputs(n)
    lists = make_watchlists(terms)
    gc.collect()
    start, start_cpu = time.perf_counter(), time.process_time()
    matcher = Matcher(lists)
    build, build_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    choices = [fold(s) for t in terms for s in (t.term, *t.aliases)]

    def naive(text: str) -> object:
        return process.extract(
            fold(text), choices, scorer=fuzz.partial_ratio, score_cutoff=NAIVE_CUTOFF, limit=None
        )

    matches = sum(len(matcher.match(h)) for h in headlines)
    index_hps, index_cpu_hps = rate(matcher.match, headlines)
    return Row(
        terms=matcher.size,
        build_s=build,
        memory_mb=index_memory(lists),
        index_hps=index_hps,
        naive_hps=rate(naive, headlines[:NAIVE_HEADLINES])[0],
        matches=matches,
        index_cpu_hps=index_cpu_hps,
        build_cpu_s=build_cpu,
        load=os.getloadavg()[0],
    )


def table(rows: list[Row]) -> str:
    lines = [
        "| terms | index build (CPU) | index memory | index headlines/s | naive scan headlines/s "
        "| speed-up | matches found |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.terms:,} | {r.build_s:.2f} s ({r.build_cpu_s:.2f} s) | {r.memory_mb:.0f} MiB "
            f"| {r.index_hps:,.0f} "
            f"| {r.naive_hps:,.1f} | {r.speedup:,.0f}× | {r.matches:,} |"
        )
    return "\n".join(lines)


def section(rows: list[Row], n_headlines: int, n_labelled: int, processes: list[ProcessRow]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"""## Matching

Written by `make bench` (`bench/bench_match.py`) on {when}: Python {platform.python_version()},
rapidfuzz {rapidfuzz.__version__}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs.
Numbers are from one run on one machine (other processes may share it; load average
{os.getloadavg()[0]:.1f} when it ended): compare rows, not machines.

{table(rows)}

- **terms**: distinct generated names (one to three words, 80% capitalised, 30% of multi-word
  names with an alias, 90% fuzzy), in lists of {TERMS_PER_LIST:,} terms.
- **headlines**: the {n_headlines} written headlines of the {n_labelled} in
  `tests/corpus/headlines.tsv` (the other {n_labelled - n_headlines} are real headlines, kept as
  references to `../shared/feeds/real/`, not in the repository), half of them with a generated
  name put in front (a third of those misspelt by one letter).
- **index**: `Matcher.match(title)`: folded-word lookups plus deletion-neighbourhood keys for
  fuzzy words, each candidate verified with rapidfuzz (OSA distance).
- **naive scan**: `rapidfuzz.process.extract(headline, every_term_and_alias,
  scorer=fuzz.partial_ratio, score_cutoff={NAIVE_CUTOFF}, limit=None)` on folded text, measured
  in the same run over {NAIVE_HEADLINES} of the headlines. It is also less precise (it finds
  "Roma" in "Romania"), so the comparison flatters it.
- **index build**: wall time of `Matcher(watchlists)` (in brackets, CPU time); **index
  memory**: bytes allocated by the build and still held (tracemalloc, measured on a separate
  untimed build).
- Targets (issue): at 100,000 terms the build takes at most 5 s (wall clock, or CPU time when
  the machine is busy, as below) and the index is at least 100× the naive scan's throughput.
{process_section(processes)}"""


def process_section(processes: list[ProcessRow]) -> str:
    if not processes:
        return ""
    loads = ", ".join(
        f"{r.cold.load:.1f}, {r.cached.load:.1f} and {r.edited.load:.1f}" for r in processes
    )
    return f"""
### Whole `newsbot match` processes

{process_table(processes)}

- The same terms written as watchlist files ({TERMS_PER_LIST:,} per file; a generated alias
  that repeats another spelling of its list is left out), and the headlines above, five times
  over, on standard input of `newsbot match --json`.
- **start-up**: from launching the process to its first answer; in brackets, the CPU time the
  process had used by then (the wall-clock figure stretches when the machine is shared).
  **cold**: an empty cache (Python starts, the files are read (plain-layout files line by
  line, any other with libyaml) and validated, the index is built, the common-word lists are
  read); **cached index**: a second run over the unchanged files reads the compiled index from
  the cache (`bot/indexcache.py`); **one list edited**: a third run after a term is added to
  one file reads that file and reuses the cached reading and patterns of the others, then
  builds the index.
- **ms per headline**: time between the first and the last answer, over the remaining headlines
  (start-up and exit not counted), in brackets the process's CPU time for them; **index alone**:
  the index's own figure of the table above (`1 / index headlines/s`, in brackets by CPU time),
  measured in the same run; **ratio**: cached process over index.
- **same answers**: the cached and the edited runs printed exactly what the cold run printed
  (the added term is in no headline).
- YAML parser for files outside the plain layout: {
        "libyaml (PyYAML's CSafeLoader)" if WITH_LIBYAML else "pure Python (no libyaml)"
    }.
- Targets (issue): start-up at most 5 s, cold and cached; per headline within 2× the index
  alone. Judged on wall-clock time, or on CPU time when the machine is busy (1-minute load
  average above {BUSY_SHARE:.0%} of its CPUs when a run ended; here {loads}): this run was
  judged on {judged_on(processes)}.
"""


MAX_BUILD_S = 5.0  # targets at 100,000 terms (see section())
MIN_SPEEDUP = 100.0


def missed_targets(rows: list[Row]) -> list[str]:
    """Each target missed at 100,000 terms or more, with the figure that missed it."""
    missed = []
    for r in rows:
        if r.terms < 100_000:
            continue
        if r.judged_build_s > MAX_BUILD_S:
            missed.append(
                f"{r.terms:,} terms: index build {r.judged_build_s:.2f} s > {MAX_BUILD_S:.0f} s"
            )
        if r.speedup < MIN_SPEEDUP:
            missed.append(f"{r.terms:,} terms: speed-up {r.speedup:,.0f}x < {MIN_SPEEDUP:.0f}x")
    return missed


def main() -> int:
    """Measure, and rewrite the doc's section only when every target holds: a failed run
    must not replace the figures of the last good one."""
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    rows = []
    for n in sizes:
        row = measure(n)
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)
    print(table(rows))
    processes = []
    for n, row in zip(sizes, rows, strict=True):
        if n in PROCESS_SIZES:
            terms, headlines = inputs(n)
            index = (row.index_hps, row.index_cpu_hps)
            processes.append(measure_processes(terms, headlines, TERMS_PER_LIST, index))
            print(process_table(processes[-1:]), flush=True)
            print(f"targets judged on {judged_on(processes)}", flush=True)
    missed = missed_targets(rows) + missed_process_targets(processes)
    if missed:
        print("targets missed: " + "; ".join(missed), file=sys.stderr)
        print(f"{DOC.relative_to(ROOT)} left as it was")
        return 1
    text = section(rows, len(corpus_headlines()), labelled_rows(), processes)
    update_section("Matching", text)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
