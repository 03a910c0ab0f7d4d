"""Whole `newsbot match` processes, as an admin meets them (used by bench_match.py).

The index figures of bench_match.py leave out what a process pays: starting Python, reading and
validating the YAML files, building the index (or reading it from the cache), loading the
word-frequency lists, formatting each answer. Here the generated terms are written as watchlist
files and `newsbot match --json` runs on them twice: with an empty index cache (cold) and again
(warm, the cached index). Start-up is the time from launching the process to its first answer;
the per-headline cost is the time between the first and the last answer over the remaining
headlines, so neither start-up nor exit is counted in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from bot.models import Term
from bot.text import word_texts

REPEAT = 5  # the corpus headlines, five times over: a steady per-headline figure


@dataclass
class ProcessRow:
    terms: int
    files_mb: float
    cold_start_s: float
    warm_start_s: float
    cold_cpu_s: float
    warm_cpu_s: float
    cold_ms: float
    warm_ms: float
    index_ms: float
    same_answers: bool

    @property
    def ratio(self) -> float:
        """Per-headline cost of the (warm) process over the index's alone."""
        return self.warm_ms / self.index_ms


def write_lists(terms: Sequence[Term], folder: Path, per_list: int) -> int:
    """The terms as watchlist files of `per_list` entries; a spelling that would repeat one of
    its list (the generator can make an alias equal to another name) is left out, so every file
    is valid. Returns the number of terms written."""
    written = 0
    for start in range(0, len(terms), per_list):
        seen: set[tuple[str, ...]] = set()
        lines = [f"name: list{start // per_list}", "terms:"]
        for term in terms[start : start + per_list]:
            spellings = [term.term, *term.aliases]
            keys = [tuple(word_texts(s)) for s in spellings]
            if keys[0] in seen:
                continue
            aliases = [a for a, k in zip(spellings[1:], keys[1:], strict=True) if k not in seen]
            seen.update(keys[:1] + [tuple(word_texts(a)) for a in aliases])
            lines.append(f"  - term: {term.term}")
            if aliases:
                lines.append(f"    aliases: [{', '.join(aliases)}]")
            if not term.fuzzy:
                lines.append("    fuzzy: false")
            written += 1
        path = folder / f"list{start // per_list:04d}.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def run_match(
    folder: Path, headlines: Sequence[str], cache_home: Path
) -> tuple[float, float, float, list[str]]:
    """Seconds to the first answer (wall clock and the process's CPU time), milliseconds per
    further headline, and the answers. The CPU time tells what the start-up costs when other
    processes share the machine and stretch the wall-clock figure."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    command = [sys.executable, "-m", "bot", "match", "--json", "--watchlists", str(folder)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=folder.parent,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # a thread: the pipe would fill while the process starts up
        stdin.write("".join(h + "\n" for h in headlines))
        stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    answers: list[str] = []
    first = last = 0.0
    cpu = 0.0
    for line in proc.stdout:
        last = time.perf_counter()
        if not first:
            first = last
            times = psutil.Process(proc.pid).cpu_times()
            cpu = times.user + times.system
        answers.append(line)
    if proc.wait() != 0 or len(answers) != len(headlines):
        raise RuntimeError(f"newsbot match failed (exit {proc.returncode}, {len(answers)} answers)")
    per_headline_ms = (last - first) / max(len(answers) - 1, 1) * 1000
    return first - started, cpu, per_headline_ms, answers


def measure_processes(
    terms: Sequence[Term], headlines: Sequence[str], per_list: int, index_hps: float
) -> ProcessRow:
    """Cold then warm `newsbot match` over `terms` written as files."""
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as tmp:
        folder = Path(tmp) / "watchlists"
        folder.mkdir()
        written = write_lists(terms, folder, per_list)
        size = sum(p.stat().st_size for p in folder.iterdir())
        lines = list(headlines) * REPEAT
        cold_start, cold_cpu, cold_ms, cold = run_match(folder, lines, Path(tmp) / "cache")
        warm_start, warm_cpu, warm_ms, warm = run_match(folder, lines, Path(tmp) / "cache")
    return ProcessRow(
        terms=written,
        files_mb=size / 1e6,
        cold_start_s=cold_start,
        warm_start_s=warm_start,
        cold_cpu_s=cold_cpu,
        warm_cpu_s=warm_cpu,
        cold_ms=cold_ms,
        warm_ms=warm_ms,
        index_ms=1000 / index_hps,
        same_answers=cold == warm,
    )


def process_table(rows: Sequence[ProcessRow]) -> str:
    lines = [
        "| terms | list files | start-up, cold (CPU) | start-up, cached index (CPU) "
        "| ms per headline, cold | ms per headline, cached | index alone | ratio | same answers |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.terms:,} | {r.files_mb:.1f} MB | {r.cold_start_s:.2f} s ({r.cold_cpu_s:.2f} s) "
            f"| {r.warm_start_s:.2f} s ({r.warm_cpu_s:.2f} s) "
            f"| {r.cold_ms:.3f} | {r.warm_ms:.3f} | {r.index_ms:.3f} | {r.ratio:.1f}× "
            f"| {'yes' if r.same_answers else 'NO'} |"
        )
    return "\n".join(lines)


MAX_START_S = 5.0  # targets (see bench_match.process_section)
MAX_RATIO = 2.0


def missed_process_targets(rows: Sequence[ProcessRow]) -> list[str]:
    """Each target missed: start-up within 5 s (cold and cached), per headline within 2x the
    index alone, and the same answers from the cached index."""
    missed = []
    for r in rows:
        for what, seconds in (("cold", r.cold_start_s), ("cached", r.warm_start_s)):
            if seconds > MAX_START_S:
                missed.append(f"newsbot match start-up, {what}: {seconds:.2f} s > {MAX_START_S} s")
        if r.ratio > MAX_RATIO:
            missed.append(f"newsbot match per headline: {r.ratio:.1f}x the index > {MAX_RATIO}x")
        if not r.same_answers:
            missed.append("newsbot match answered differently from the cached index")
    return missed
