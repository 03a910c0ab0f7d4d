"""The labelled corpus: precision and recall of matching as an Italian football fan judges it.

tests/corpus/headlines.tsv holds our own headlines and references to real ones in
../shared/feeds/real (resolved here, never copied). Each row lists the canonical terms a
careful reader says it mentions; the shipped watchlists are matched against it.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REAL_FEEDS

from bot.match import Matcher
from bot.watchlists import load_watchlists

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "headlines.tsv"
MIN_PRECISION = 0.97
MIN_RECALL = 0.95


@dataclass(frozen=True)
class Row:
    line: int
    source: str
    text: str
    expected: frozenset[str]


def _xml_titles(path: Path) -> list[str]:
    """Item titles as a reader sees them: markup double-escaped by some outlets is removed."""
    titles = []
    for item in ET.parse(path).getroot().iter("item"):
        title = html.unescape(item.findtext("title") or "")
        titles.append(" ".join(re.sub(r"<[^>]+>", " ", title).split()))
    return titles


def _tsv_headlines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[1] for line in lines if line.strip()]


def _resolve(ref: str, real: Path) -> str:
    name, _, index = ref.removeprefix("ref:").rpartition("#")
    path = real / name
    items = _xml_titles(path) if path.suffix == ".xml" else _tsv_headlines(path)
    return items[int(index)]


def load_corpus(real: Path | None) -> list[Row]:
    """Every labelled row; without the real snapshots (`real` None), only our own rows."""
    rows = []
    for n, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#") or line.startswith("text\t"):
            continue
        text, terms, *_ = [*line.split("\t"), ""]
        source = text
        if text.startswith("ref:"):
            if real is None:
                continue
            text = _resolve(text, real)
        expected = frozenset(t.strip() for t in terms.split(";") if t.strip())
        rows.append(Row(n, source, text, expected))
    return rows


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    lists, problems = load_watchlists(ROOT / "watchlists")
    assert not problems, problems
    return Matcher(lists)


@pytest.fixture
def corpus() -> list[Row]:
    """The whole corpus; without ../shared, our own rows still hold the matcher to its bounds."""
    if not REAL_FEEDS.is_dir():
        print(f"real snapshots absent ({REAL_FEEDS}): the corpus's own rows only")
        return load_corpus(None)
    return load_corpus(REAL_FEEDS)


def test_corpus_is_large_and_mostly_real(real_feeds: Path, corpus: list[Row]) -> None:
    assert len(corpus) >= 300
    assert sum(r.source.startswith("ref:") for r in corpus) >= 200


def test_corpus_labels_name_shipped_terms(corpus: list[Row], matcher: Matcher) -> None:
    """A label that names no term of the shipped lists could never be found: a typo in the
    corpus, not a miss of the matcher."""
    lists, _ = load_watchlists(ROOT / "watchlists")
    known = {t.term for wl in lists for t in wl.terms}
    unknown = {(r.line, t) for r in corpus for t in r.expected if t not in known}
    assert not unknown


def test_precision_and_recall_on_labelled_headlines(corpus: list[Row], matcher: Matcher) -> None:
    true_pos = false_pos = false_neg = 0
    misses: list[str] = []
    for row in corpus:
        found = {m.term for m in matcher.match_text(row.text)}
        true_pos += len(found & row.expected)
        for term in sorted(found - row.expected):
            false_pos += 1
            misses.append(f"FP line {row.line} {term!r}: {row.text}")
        for term in sorted(row.expected - found):
            false_neg += 1
            misses.append(f"FN line {row.line} {term!r}: {row.text}")
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(
        f"\ncorpus: {len(corpus)} headlines, {true_pos} found, precision {precision:.3f}, "
        f"recall {recall:.3f}"
    )
    print("\n".join(misses))
    assert precision >= MIN_PRECISION, "\n".join(misses)
    assert recall >= MIN_RECALL, "\n".join(misses)
