"""The python-telegram-bot Application: updates in (long polling, or a webhook), alerts out.

`TelegramService` is what `newsbot run` starts: it builds the Application against
TELEGRAM_API_URL (`{api}/bot`, `{api}/file/bot`: Telegram, a local Bot API server, or the
tests' fake), registers the command handlers, publishes the command menu in Italian and
English, receives updates, and runs the `Sender` loop that drains the outbox.

Updates arrive by long polling unless NEWSBOT_WEBHOOK_URL is set: then PTB's webhook server
listens on NEWSBOT_WEBHOOK_LISTEN (host:port, default 0.0.0.0:8443) at the URL's path, behind
your HTTPS reverse proxy, and Telegram is told the URL with a secret token derived from the bot
token. Only one process may long-poll a token: a second one gets 409 Conflict. So `newsbot run`
long-polls only on the replica that holds the leader lock (`receive_updates`, driven by
bot/runner.py); by webhook every replica answers. A 409 that still happens (another deployment
on the same token) is logged clearly, once a minute, while PTB retries with backoff; it never
crash-loops.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, Protocol
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import Conflict, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.models import Watchlist
from bot.telegram.commands import Commands, ReloadCallback
from bot.telegram.pacing import PerChatUpdates, SharedRateLimiter
from bot.telegram.sender import PAID_BROADCAST, Limits, RateLimiter, Sender
from bot.telegram.texts import COMMANDS, t
from bot.telegram.updates import TolerantBot, tolerate_malformed_webhook_updates

log = logging.getLogger("newsbot.telegram")

ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
]
CONFLICT_LOG_EVERY_S = 60.0
STOP_TIMEOUT_S = 5.0


class TelegramSettings(Protocol):
    """What the Telegram side reads from bot.config.Settings."""

    @property
    def token(self) -> str | None: ...
    @property
    def admins(self) -> frozenset[int]: ...

    telegram_api_url: str


class HasWatchlists(Protocol):
    watchlists: list[Watchlist]


def build_application(
    settings: TelegramSettings,
    *,
    pool_size: int = 16,
    rate_limiter: SharedRateLimiter | None = None,
) -> Application:
    """The Application, talking to TELEGRAM_API_URL; no updater job queue, no persistence.
    With `rate_limiter`, every message it sends is paced by it, and updates of different chats
    are handled concurrently (those of one chat in order)."""
    if not settings.token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    api = settings.telegram_api_url.rstrip("/")
    bot = TolerantBot(  # a malformed update is skipped, never blocks the others
        settings.token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=HTTPXRequest(connection_pool_size=pool_size, pool_timeout=10.0),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=rate_limiter,
    )
    builder = ApplicationBuilder().bot(bot)
    if rate_limiter is not None:
        builder = builder.concurrent_updates(PerChatUpdates())
    return builder.build()


def register(application: Application, commands: Commands) -> None:
    """Every command of the contract, in private chats, groups (also as /cmd@botname) and
    channels (channel posts), then the buttons, unknown commands and free text."""
    posts = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    for name, handler in (
        ("start", commands.start),
        ("help", commands.help),
        ("watch", commands.watch),
        ("unwatch", commands.unwatch),
        ("list", commands.list),
        ("lists", commands.lists),
        ("subscribe", commands.subscribe),
        ("unsubscribe", commands.unsubscribe),
        ("mute", commands.mute),
        ("unmute", commands.unmute),
        ("quiet", commands.quiet),
        ("digest", commands.digest),
        ("segui", commands.watch),
        ("follow", commands.watch),
        ("settings", commands.settings),
        ("impostazioni", commands.settings),
        ("stop", commands.stop),
        ("lingua", commands.language),
        ("language", commands.language),
        ("stats", commands.stats),
        ("reload", commands.reload),
    ):
        application.add_handler(CommandHandler(name, handler, filters=posts))
    application.add_handler(CallbackQueryHandler(commands.button))
    application.add_handler(
        ChatMemberHandler(commands.membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, commands.migrated))
    application.add_handler(MessageHandler(posts & filters.COMMAND, commands.unknown_command))
    private_text = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & filters.TEXT
    application.add_handler(MessageHandler(private_text & ~filters.COMMAND, commands.free_text))
    application.add_error_handler(_log_handler_error)


async def _log_handler_error(update: object, context: Any) -> None:
    log.error("error while handling an update", exc_info=context.error)


async def publish_commands(application: Application) -> None:
    """The command menu: Italian by default and for "it", English for "en"."""
    bot = application.bot
    italian = [BotCommand(c, d) for c, d in COMMANDS["it"]]
    english = [BotCommand(c, d) for c, d in COMMANDS["en"]]
    await bot.set_my_commands(italian)
    await bot.set_my_commands(italian, language_code="it")
    await bot.set_my_commands(english, language_code="en")
    await publish_descriptions(application)


async def publish_descriptions(application: Application) -> None:
    """What Telegram shows before the first message (description) and on the bot's profile
    (short description): Italian by default and for "it", English for "en"."""
    bot = application.bot
    for code, lang in ((None, "it"), ("it", "it"), ("en", "en")):
        await bot.set_my_description(t("bot_description", lang), language_code=code)
        await bot.set_my_short_description(t("bot_short_description", lang), language_code=code)


def webhook_secret(token: str) -> str:
    """A stable secret for Telegram's X-Telegram-Bot-Api-Secret-Token header."""
    return hashlib.sha256(("newsbot-webhook:" + token).encode()).hexdigest()[:64]


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "0.0.0.0", int(port)


class TelegramService:
    """Updates in, alerts out, for one process; start() then stop()."""

    def __init__(
        self,
        settings: Any,
        store: Any,
        registry: HasWatchlists | None = None,
        reload: ReloadCallback | None = None,
        *,
        watchlists: Callable[[], Sequence[Watchlist]] | None = None,
        limits: Limits | None = None,
        sender_options: Mapping[str, Any] | None = None,
        poll_updates: bool = True,
        tick: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.store = store
        if watchlists is None:
            watchlists = (lambda: list(registry.watchlists)) if registry is not None else list
        self.watchlists = watchlists
        # ONE limiter for the process: the sender's alerts and every other message.
        paid = bool(getattr(settings, "newsbot_paid_broadcast", False))
        self.limiter = RateLimiter(limits or (PAID_BROADCAST if paid else None))
        self.pacer = SharedRateLimiter(self.limiter, clock=clock, sleep=sleep)
        self.application = build_application(settings, rate_limiter=self.pacer)
        self.sender = Sender(
            self.application.bot,
            store,
            limiter=self.limiter,
            clock=clock,
            sleep=sleep,
            list_titles=self.list_titles,
            paid_broadcast=paid,
            **dict(sender_options or {}),
        )
        self.commands = Commands(
            store,
            self.watchlists,
            admins=settings.admins,
            reload=reload,
            on_change=self.sender.wake,
            config_status=lambda: getattr(registry, "last", None),
        )
        register(self.application, self.commands)
        self.poll_updates = poll_updates
        self.tick = tick
        self._updates_lock = asyncio.Lock()  # one start or stop of the updater at a time
        self._stopping = False
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None
        self._last_conflict_log = 0.0

    def list_titles(self) -> dict[str, str]:
        return {wl.name: wl.display for wl in self.watchlists()}

    def wake(self) -> None:
        """New alerts are waiting: deliver now rather than at the next tick."""
        self.sender.wake()

    @property
    def by_webhook(self) -> bool:
        """Whether updates arrive by webhook (every replica may serve it) rather than by
        long polling (one process per token)."""
        return bool(getattr(self.settings, "newsbot_webhook_url", None))

    @property
    def receiving(self) -> bool:
        """Whether this process receives updates now (long-polls, or serves the webhook)."""
        updater = self.application.updater
        return updater is not None and updater.running

    async def receive_updates(self, on: bool) -> None:
        """Start or stop receiving updates: long polling follows the leader lock.

        Stopping confirms to Telegram the updates already fetched (PTB's last getUpdates), so
        the next receiver does not get them again. Raises TelegramError (or OSError) when the
        start fails; the caller tries again at its next check."""
        async with self._updates_lock:
            app = self.application
            if self._stopping or app.updater is None or on == self.receiving:
                return
            if on:
                await self._start_updates(app)
            else:
                await app.updater.stop()

    async def start(self) -> None:
        app = self.application
        await app.initialize()
        try:
            await publish_commands(app)
        except TelegramError as exc:  # the menu is a nicety; alerts matter more
            log.warning("could not publish the command menu: %s", exc)
        await app.start()
        self._stopping = False
        if self.poll_updates:
            await self.receive_updates(True)
        self._stop.clear()
        self._sender_task = asyncio.create_task(self.sender.run(self._stop, tick=self.tick))
        log.info("Telegram bot @%s started", app.bot.username)

    async def _start_updates(self, app: Application) -> None:
        assert app.updater is not None
        url = getattr(self.settings, "newsbot_webhook_url", None)
        if url:
            host, port = parse_listen(getattr(self.settings, "newsbot_webhook_listen", ":8443"))
            tolerate_malformed_webhook_updates()
            await app.updater.start_webhook(
                listen=host,
                port=port,
                url_path=urlsplit(url).path.lstrip("/"),
                webhook_url=url,
                allowed_updates=ALLOWED_UPDATES,
                secret_token=webhook_secret(self.settings.token),
            )
            log.info("receiving updates by webhook at %s (listening on %s:%d)", url, host, port)
        else:
            await app.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES,
                timeout=30,
                error_callback=self._polling_error,
            )

    def _polling_error(self, exc: TelegramError) -> None:
        """PTB retries getUpdates with backoff by itself; we only say clearly what is wrong."""
        now = time.monotonic()
        if isinstance(exc, Conflict):
            if now - self._last_conflict_log >= CONFLICT_LOG_EVERY_S:
                self._last_conflict_log = now
                log.error(
                    "409 Conflict: another process is receiving this bot's updates "
                    "(only one may long-poll a token, and none while a webhook is set). "
                    "Stop the other instance; retrying with backoff."
                )
            return
        log.warning("getUpdates failed: %s; retrying", exc)

    async def stop(self) -> None:
        """Stop receiving, let the sender finish its in-flight messages, then close."""
        self._stopping = True
        self._stop.set()
        self.sender.wake()
        if self._sender_task is not None:
            try:
                await asyncio.wait_for(self._sender_task, STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("delivery did not finish within %.0f s; stopping it", STOP_TIMEOUT_S)
                self._sender_task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._sender_task
        app = self.application
        async with self._updates_lock:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def token_refused(exc: Exception) -> str:
    """The one line an operator reads when Telegram rejects the token (401/404)."""
    return f"Telegram refused the bot token ({exc}): check TELEGRAM_BOT_TOKEN"


async def deliver_once(settings: Any, store: Any, registry: HasWatchlists | None = None) -> None:
    """`newsbot poll --once`: deliver what is due, without receiving updates."""
    app = build_application(settings)
    watchlists = list(registry.watchlists) if registry is not None else []
    titles = {wl.name: wl.display for wl in watchlists}
    async with app.bot as bot:
        paid = bool(getattr(settings, "newsbot_paid_broadcast", False))
        sender = Sender(
            bot,
            store,
            limits=PAID_BROADCAST if paid else None,
            list_titles=lambda: titles,
            claim_for=None,
            paid_broadcast=paid,
        )
        report = await sender.deliver_pending()
    log.info(
        "delivered: %d sent, %d edited, %d to retry, %d dropped",
        report.sent,
        report.edited,
        report.retried,
        report.dropped,
    )
