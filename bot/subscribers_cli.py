"""`newsbot subscribers export|import FILE`: the store's subscribers as JSON lines.

Kept apart from `bot/cli.py` so that the other commands do not load the store to start.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from bot.config import Settings
from bot.store import Store
from bot.subscribers import LineProblem, SubscriberRecord, parse_lines

EXIT_BAD_CONFIG = 2


def cmd_subscribers(args: argparse.Namespace, settings: Settings) -> int:
    from bot.service import StoreUnavailable, open_store

    if args.action == "import" and not args.file:
        print(
            "newsbot subscribers import: FILE is required ('-' for standard input)", file=sys.stderr
        )
        return EXIT_BAD_CONFIG
    if args.action == "export" and args.file:
        print(
            "newsbot subscribers export takes no FILE: it writes to standard output",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    try:
        store = open_store(settings, args)
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        if args.action == "export":
            return export(store, sys.stdout)
        known_lists = _list_names(settings, args)
        try:
            with _open(args.file) as lines:
                return import_file(store, lines, args.file, known_lists)
        except OSError as exc:
            print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_BAD_CONFIG
    finally:
        store.close()


def export(store: Store, out: TextIO) -> int:
    count = 0
    try:
        for record in store.export_subscribers():
            out.write(record.to_json() + "\n")
            count += 1
        out.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        return 0
    print(f"exported {count} subscribers", file=sys.stderr)
    return 0


def import_file(store: Store, lines: BinaryIO, name: str, known_lists: set[str] | None) -> int:
    """Import every good line, report every bad one as `name:line: message`; 1 if any was bad."""
    written = created = bad = 0
    for batch in parse_lines(lines):
        problems = list(batch.problems)
        if known_lists is not None:
            problems += _unknown_lists(batch.records, known_lists)
        for problem in sorted(problems, key=lambda p: p.line):
            level = "" if problem.fatal else "warning: "
            print(f"{name}:{problem.line}: {level}{problem.message}", file=sys.stderr)
            bad += problem.fatal
        count = store.import_subscribers([record for _, record in batch.records])
        written += count.written
        created += count.created
    print(
        f"imported {written} subscribers ({created} new, {written - created} updated)"
        + (f"; {bad} bad lines skipped" if bad else ""),
        file=sys.stderr,
    )
    return 1 if bad else 0


def _unknown_lists(
    records: list[tuple[int, SubscriberRecord]], known: set[str]
) -> list[LineProblem]:
    """A list that no watchlist file defines is kept (it may be added later) but reported."""
    return [
        LineProblem(line, f"list {name!r} is not defined by any watchlist (kept)", fatal=False)
        for line, record in records
        for name in record.lists
        if name not in known
    ]


def _list_names(settings: Settings, args: argparse.Namespace) -> set[str] | None:
    """The watchlists' names, to warn about imports that name none of them; None if unknown."""
    from bot.watchlists import load_watchlists

    folder = settings.watchlists_dir(args.watchlists)
    if not folder.is_dir():
        return None
    watchlists, _problems = load_watchlists(folder)
    return {w.name for w in watchlists}


@contextmanager
def _open(file: str) -> Iterator[BinaryIO]:
    """The file's bytes: each line is decoded alone, so one bad byte costs only its line."""
    if file == "-":
        yield sys.stdin.buffer
        return
    with Path(file).open("rb") as handle:
        yield handle
