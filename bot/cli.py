"""`newsbot` command line: run, poll --once, match, check (see the README's option table)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rapidfuzz import fuzz

from bot import __version__
from bot.config import Settings
from bot.models import ItemContext, Match, Rejection, Term
from bot.text import fold

EPILOG = """environment: TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_TOKEN_FILE), TELEGRAM_API_URL,
DATABASE_URL, NEWSBOT_FEEDS, NEWSBOT_WATCHLISTS, NEWSBOT_CONSOLE, NEWSBOT_ADMINS, NEWSBOT_HTTP,
NEWSBOT_WEBHOOK_URL, NEWSBOT_WEBHOOK_LISTEN, NEWSBOT_FETCH_TIMEOUT, NEWSBOT_MAX_FEED_BYTES,
NEWSBOT_POLL_CONCURRENCY, NEWSBOT_MAX_AGE_HOURS, NEWSBOT_PAID_BROADCAST, LOG_LEVEL, LOG_FORMAT
(a flag wins over its variable; a .env file in the working directory is read too). Without a
token, alerts go to the console."""


def _common(parser: argparse.ArgumentParser) -> None:
    """The options every command takes. They are accepted before the command too
    (`newsbot --db URL poll --once`), where admins coming from other tools put them."""
    opts = parser.add_argument_group("common options")
    opts.add_argument(
        "--feeds",
        type=Path,
        metavar="PATH",
        help="feeds file (env NEWSBOT_FEEDS; default ./feeds.yaml, else the shipped list)",
    )
    opts.add_argument(
        "--watchlists",
        type=Path,
        metavar="DIR",
        help="folder of watchlist files (env NEWSBOT_WATCHLISTS; default ./watchlists)",
    )
    opts.add_argument(
        "--db",
        metavar="URL",
        help="state store (env DATABASE_URL; default sqlite:///newsbot.db, in ./data/ "
        "when it exists); postgresql://… for several replicas",
    )
    opts.add_argument(
        "--console",
        action="store_true",
        help="deliver to standard output instead of Telegram (env NEWSBOT_CONSOLE=1; "
        "on when no token is set)",
    )
    opts.add_argument(
        "--json", action="store_true", help="machine output: one JSON object per line"
    )


def build_parser() -> argparse.ArgumentParser:
    # After the command, an option given overrides the same option given before it; one
    # not given leaves the earlier value alone (SUPPRESS: no default to overwrite it with).
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _common(common)
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Alerts for Italian sports news: polls RSS feeds, matches watchlists, "
        "delivers one alert per story to Telegram subscribers (or the console).",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **texts: str) -> argparse.ArgumentParser:
        """Every command takes the common options and ends its help with the environment."""
        return sub.add_parser(name, parents=[common], epilog=EPILOG, **texts)

    command(
        "run",
        help="the service: poll on schedule, deliver, answer subscribers, serve /healthz",
        description="Poll every feed on its interval, match, dedup and deliver alerts; "
        "answer Telegram subscribers; serve /healthz and /metrics. "
        "SIGTERM or SIGINT stops it cleanly within 10 s.",
    )
    poll = command(
        "poll",
        help="one poll cycle of every feed, deliver, exit",
        description="One poll cycle of every feed (same code path as run), "
        "deliver, exit. Exit code 0 even when some feeds failed; "
        "2 when nothing could run (bad configuration).",
    )
    poll.add_argument(
        "--once",
        action="store_true",
        required=True,
        help="poll each feed once and exit (required; `newsbot run` polls forever)",
    )
    match = command(
        "match",
        help="show what each TEXT (or stdin line) matches, and why",
        description="Match each TEXT (or each line of standard input when none "
        "is given) against the watchlists; show the terms, the "
        "matched words and the score.",
    )
    match.add_argument("texts", nargs="*", metavar="TEXT", help="headline(s) to match")
    match.add_argument(
        "--link",
        metavar="URL",
        default="",
        help="the article's address: its section (/tennis/, /ciclismo/…) names a sport",
    )
    command(
        "check",
        help="validate the feeds file and every watchlist",
        description="Validate the feeds file and every watchlist; print each problem "
        "as path:line: message; exit 1 if any.",
    )
    subs = command(
        "subscribers",
        help="export or import subscribers as JSON lines (backups, migrations)",
        description="export: every subscriber to standard output, one JSON object a line. "
        "import FILE: create or update each subscriber of FILE ('-' for standard input); "
        "idempotent; a bad line is reported as FILE:line: message and skipped; exit 1 if any.",
    )
    subs.add_argument("action", choices=["export", "import"], help="what to do")
    subs.add_argument("file", nargs="?", metavar="FILE", help="JSON lines to import ('-': stdin)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            print(f"invalid setting {_setting_error(error)}", file=sys.stderr)
        return 2
    if args.command == "check":
        return cmd_check(args, settings)
    if args.command == "match":
        return cmd_match(args, settings)
    if args.command == "subscribers":
        from bot.subscribers_cli import cmd_subscribers

        return cmd_subscribers(args, settings)
    from bot import service  # imported late: check and match need no network stack

    service.setup_logging(settings)
    if args.command == "poll":
        return asyncio.run(service.poll_once(settings, args))
    return asyncio.run(service.run(settings, args))


def _setting_error(error: Any) -> str:
    """`NAME: reason` for one pydantic error; a check across settings names its own variable."""
    name = ".".join(str(p) for p in error["loc"]).upper()
    message = str(error["msg"]).removeprefix("Value error, ")
    if not name:
        name, _, message = message.partition(": ")
    return f"{name}: {message.removeprefix(f'{name}: ')}"


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.feeds import check_feeds
    from bot.watchlists import check_watchlists

    feeds_path = settings.feeds_path(args.feeds)
    lists_dir = settings.watchlists_dir(args.watchlists)
    problems = check_feeds(feeds_path) + check_watchlists(lists_dir)
    for problem in problems:
        print(json.dumps(dataclasses.asdict(problem), ensure_ascii=False) if args.json else problem)
    if args.json:  # a last line in every case, so that silence never has to mean "valid"
        summary = {
            "ok": not problems,
            "problems": len(problems),
            "feeds": str(feeds_path),
            "watchlists": str(lists_dir),
        }
        print(json.dumps(summary, ensure_ascii=False))
    elif not problems:
        print(f"ok: {feeds_path} and {lists_dir} are valid")
    return 1 if problems else 0


def cmd_match(args: argparse.Namespace, settings: Settings) -> int:
    from bot.gcpause import paused_gc
    from bot.indexcache import compiled_watchlists
    from bot.lexicon import load_lexicon

    folder = settings.watchlists_dir(args.watchlists)
    with paused_gc():
        compiled = compiled_watchlists(folder)
        if compiled.watchlists:
            load_lexicon()  # at start-up, not in the first headline that meets a typo
        # The index lives as long as the process: frozen before the collector runs again,
        # else its first collection walks the millions of objects just built, and every full
        # collection again while headlines are matched (see bot.gcpause).
        gc.freeze()
    watchlists, problems, matcher = compiled.watchlists, compiled.problems, compiled.matcher
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not watchlists:
        print("no valid watchlist found: nothing to match against", file=sys.stderr)
        return 2
    # What the table shows of each entry (--json does not need it: 100,000 entries cost).
    terms = {} if args.json else {(w.name, t.term): t for w in watchlists for t in w.terms}
    texts = args.texts or (line.rstrip("\n") for line in sys.stdin)
    context = ItemContext(link=args.link)
    for text in texts:
        if not text.strip() and not args.texts:
            continue
        found, rejected = matcher.explain(text, "", context)
        if args.json:
            line = {
                "text": text,
                "matches": [m.as_json() for m in found],
                "rejected": [r.as_json() for r in rejected],
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
        else:
            print(_match_table(text, found, rejected, terms), flush=True)
    compiled.save()  # after the answers: the next run over the same files starts faster
    return 0


def _match_table(
    text: str,
    found: Sequence[Match],
    rejected: Sequence[Rejection],
    terms: dict[tuple[str, str], Term],
) -> str:
    """The admin's view: what matched, where, how well, and why (exact, alias or a variant);
    then the mentions the context ruled out, and why (another sport, a place, an outlet)."""
    lines = [text] + (["  (no match)"] if not found else [])
    if not found and not rejected:
        return "\n".join(lines) + "\n"
    rows = [("watchlist", "term", "matched", "score", "span", "why")]
    rows += [_row(m, _why(m, terms.get((m.watchlist, m.term)))) for m in found]
    rows += [_row(r.match, f"not matched: {r.reason}") for r in rejected]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(lines) + "\n"


def _row(m: Match, why: str) -> tuple[str, ...]:
    return (m.watchlist, m.term, m.matched, f"{m.score:.1f}", f"{m.field} {m.start}-{m.end}", why)


def _why(match: Match, term: Term | None) -> str:
    """Which spelling of the entry matched: the term itself, an alias, or a variant of one
    (a typo, a transliteration, an inflection) within the term's tolerance."""
    if term is None:
        return ""
    spellings = [term.term, *term.aliases]
    got = fold(match.matched)
    for spelling in spellings:
        if fold(spelling) == got:
            return "exact" if spelling == term.term else f"alias {spelling}"
    closest = max(spellings, key=lambda s: fuzz.ratio(fold(s), got))
    return f"variant of {closest}"


if __name__ == "__main__":
    sys.exit(main())
