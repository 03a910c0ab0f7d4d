"""Wiring of the long-running service and of `poll --once`: no logic of its own.

Each stage lives in its module; this file opens the store, loads the configuration, and connects
the pipeline to the scheduler, the delivery (console or Telegram), the health server and the
reloader, then stops them in order on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import httpx
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.console import ConsoleDelivery
from bot.dedup import warm_up
from bot.fetch import make_client
from bot.logs import redact
from bot.pipeline import Pipeline, utcnow
from bot.registry import Registry
from bot.store import Store

log = logging.getLogger("newsbot")

EXIT_BAD_CONFIG = 2


def setup_logging(settings: Settings) -> None:
    """Logs go to standard error (standard output carries only alerts); the token is redacted."""
    from bot.logs import setup_logging as configure

    configure(settings.log_level, settings.log_format, secrets=[settings.token])


class StoreUnavailable(Exception):
    """The state store cannot be opened: a clear one-line reason, never a traceback."""


SUPPORTED_DATABASES = ("sqlite", "postgres", "postgresql", "postgresql+psycopg")


def open_store(settings: Settings, args: argparse.Namespace) -> Store:
    url = settings.db_url(args.db)
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() not in SUPPORTED_DATABASES:
        raise StoreUnavailable(
            redact(
                f"cannot open the store {url}: unsupported database {scheme!r} "
                "(use sqlite:///PATH or postgresql://HOST/DB)"
            )
        )
    try:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return Store.open(url)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreUnavailable(redact(f"cannot open the store {url}: {reason}")) from None


def make_registry(settings: Settings, args: argparse.Namespace, store: Store) -> Registry:
    return Registry(
        settings.feeds_path(args.feeds),
        settings.watchlists_dir(args.watchlists),
        watched_terms=store.watched_terms,
    )


def make_fetch_client(settings: Settings) -> httpx.AsyncClient:
    return make_client(read_timeout=settings.newsbot_fetch_timeout)


def make_pipeline(
    settings: Settings, store: Store, client: httpx.AsyncClient, registry: Registry
) -> Pipeline:
    warm_up()  # the story stage's word lists, before the first poll
    return Pipeline(
        store,
        client,
        registry.matcher,
        max_bytes=settings.newsbot_max_feed_bytes,
        concurrency=settings.newsbot_poll_concurrency,
        max_age=settings.max_age,
    )


def enable_console(store: Store, console: bool) -> None:
    """The console is a subscriber of every watchlist, active only while console mode is on."""
    subscriber = store.console_subscriber()
    store.subscribe(subscriber.id, "all", "*")
    store.set_active(subscriber.id, console)


def prepare(settings: Settings, args: argparse.Namespace) -> tuple[Store, Registry] | None:
    """The store and the configuration, or None (reasons printed) when nothing could run."""
    try:
        store = open_store(settings, args)
    except StoreUnavailable as exc:
        print(exc, file=sys.stderr)
        return None
    registry = make_registry(settings, args, store)
    outcome = registry.load()
    if not registry.feeds:
        for problem in outcome.problems:
            print(problem, file=sys.stderr)
        store.close()
        return None
    for problem in outcome.problems:  # the valid files are used; the others are named once
        log.warning("config problem: %s", problem)
    if outcome.ok:
        log.info("configuration loaded: %s", outcome.summary)
    else:
        log.warning("configuration: %s", outcome.summary)
    return store, registry


async def poll_once(settings: Settings, args: argparse.Namespace) -> int:
    """One cycle over every feed, then deliver what it produced; 2 only if nothing could run."""
    ready = prepare(settings, args)
    if ready is None:
        return EXIT_BAD_CONFIG
    store, registry = ready
    try:
        console = settings.console(args.console)
        enable_console(store, console)
        async with make_fetch_client(settings) as client:
            pipeline = make_pipeline(settings, store, client, registry)
            await pipeline.poll_all(registry.feeds, respect_backoff=False)
            if console:
                ConsoleDelivery(store, utcnow, as_json=args.json).deliver_pending()
            elif not await deliver_telegram_once(settings, store, registry):
                return EXIT_BAD_CONFIG
        return 0
    finally:
        store.close()


async def deliver_telegram_once(settings: Settings, store: Store, registry: Registry) -> bool:
    """Deliver what is due; False when the token was refused (bad configuration).

    Telegram being unreachable is not an error of this run: the alerts stay in the outbox
    for the next one.
    """
    from telegram.error import InvalidToken, TelegramError

    from bot.telegram.app import deliver_once, token_refused

    try:
        await deliver_once(settings, store, registry)
    except InvalidToken as exc:
        print(redact(token_refused(exc)), file=sys.stderr)
        return False
    except (TelegramError, OSError) as exc:
        log.warning("Telegram unreachable (%s); alerts stay queued for the next run", exc)
    return True


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """The service until SIGTERM/SIGINT."""
    from bot.runner import Runner, StartupError

    ready = prepare(settings, args)
    if ready is None:
        return EXIT_BAD_CONFIG
    store, registry = ready
    runner = Runner(settings, args, store, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        await stop.wait()
        log.info("stopping")
    except StartupError as exc:
        print(redact(str(exc)), file=sys.stderr)
        return EXIT_BAD_CONFIG
    finally:
        await runner.stop()
        store.close()
    return 0
