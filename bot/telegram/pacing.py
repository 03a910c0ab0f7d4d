"""One limiter for every message the bot sends: alerts, digests, command replies, edits.

Why: Telegram counts every message, whoever in the process sends it. The sender schedules the
outbox against `RateLimiter`; this module puts the same instance in front of every other Bot
API call the Application makes (python-telegram-bot's `BaseRateLimiter` hook), so a flood of
commands from one chat cannot exceed its per-chat rate, nor push the bot past 30 messages a
second while a fan-out is running. Calls the sender makes are marked (`PACED`) and pass: the
sender already waited for and recorded their slot.

Why updates are processed concurrently, one chat at a time (`PerChatUpdates`): a reply that
waits for its chat's slot must not hold up other chats' updates; the updates of one chat stay
in order (a /watch then a /list).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from bot.telegram.sender import EPSILON, PACED, RateLimiter

log = logging.getLogger("newsbot.telegram.pacing")

# Bot API methods that put a message in a chat (or change one): what Telegram rate-limits.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendPhoto",
        "sendDocument",
        "copyMessage",
        "forwardMessage",
    }
)


class SharedRateLimiter(BaseRateLimiter[dict[str, Any]]):
    """Waits, on the injected clock, until a message keeps every limit of the shared
    `RateLimiter`, records it, then lets the call through."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limiter = limiter
        self.clock = clock
        self.sleep = sleep
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def initialize(self) -> None:
        """Nothing to set up: the limiter lives as long as the service."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def wait_idle(self) -> None:
        """Until no paced call is in flight (for tests' virtual clocks)."""
        await self._idle.wait()

    async def pace(self, chat_id: str) -> None:
        """Until a message to `chat_id` keeps every limit; then it is recorded as sent."""
        while True:
            now = self.clock()
            ready = self.limiter.ready_at(chat_id, now)
            if ready <= now + EPSILON:
                self.limiter.record(chat_id, now)
                return
            await self.sleep(ready - now)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if endpoint in MESSAGE_METHODS and chat_id is not None and not PACED.get():
            await self.pace(str(chat_id))
        self.in_flight += 1
        self._idle.clear()
        try:
            return await callback(*args, **kwargs)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()


class PerChatUpdates(BaseUpdateProcessor):
    """Updates of different chats at once; the updates of one chat in arrival order."""

    def __init__(self, max_concurrent_updates: int = 4096) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._users: dict[int | None, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = getattr(update, "effective_chat", None)
        key = chat.id if chat is not None else None
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # forget idle chats: memory stays bounded
                del self._users[key]
                del self._locks[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
