"""Receiving updates one by one: a malformed update is skipped and logged once.

python-telegram-bot parses a whole getUpdates batch at once (`Update.de_list`): one update it
cannot parse (say `{"update_id": 9, "message": {"message_id": 7}}`, a message without date or
chat) fails the batch, the offset never moves past it, and every user's updates are blocked
while the same batch is fetched and refused again and again.

`TolerantBot` looks at the raw batch first and parses each update on its own. One that cannot be
parsed is logged (once: its id is then confirmed) and replaced by a bare `{"update_id": N}`, an
update with no content that no handler takes, so the offset moves past it and the rest of the
batch is served as usual. `tolerate_malformed_webhook_updates` does the same for webhooks.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from telegram import Update
from telegram.ext import ExtBot
from telegram.ext._utils import webhookhandler

log = logging.getLogger("newsbot.telegram")


class TolerantBot(ExtBot[Any]):
    """The Application's bot, with getUpdates batches vetted update by update."""

    async def _post(self, endpoint: str, data: Any = None, *args: Any, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, *args, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            return [self._parseable(raw) for raw in result]
        return result

    def _parseable(self, raw: Any) -> Any:
        """The raw update if it parses; otherwise a content-free update with its id."""
        try:
            Update.de_json(dict(raw), self)
        except Exception as exc:  # whatever the parser trips on, one bad update stays one
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            kinds = sorted(k for k in raw if k != "update_id") if isinstance(raw, dict) else []
            log.warning(
                "skipping update %s that cannot be parsed (%s: %s; fields %s)",
                update_id,
                type(exc).__name__,
                exc,
                kinds,
            )
            if not isinstance(update_id, int):
                return {"update_id": 0}
            return {"update_id": update_id}
        return raw


def tolerate_malformed_webhook_updates() -> None:
    """The same for webhooks: python-telegram-bot answers 400 to an update it cannot parse, so
    Telegram sends it again and holds every later update behind it. The handler now answers
    200 to such an update (after the usual secret and content-type checks) and logs it once:
    Telegram does not send an update it got a 200 for again. Patched once per process (the
    handler is the library's; its version is pinned below 23)."""
    handler = webhookhandler.TelegramHandler
    if getattr(handler, "_newsbot_tolerant", False):
        return
    parse_and_queue = handler.post

    async def post(self: webhookhandler.TelegramHandler) -> None:
        self._validate_post()
        raw: Any = None
        try:
            raw = json.loads(self.request.body.decode())
            Update.de_json(raw, self.bot)
        except Exception as exc:  # whatever the parser trips on, one bad update stays one
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            log.warning(
                "skipping webhook update %s that cannot be parsed (%s: %s)",
                update_id,
                type(exc).__name__,
                exc,
            )
            self.set_status(HTTPStatus.OK)
            return
        await parse_and_queue(self)

    handler.post = post  # type: ignore[method-assign]
    handler._newsbot_tolerant = True  # type: ignore[attr-defined]
