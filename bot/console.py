"""Console delivery: standard output acts as one subscriber that follows every watchlist.

Same matching, dedup and outbox as Telegram; only the last step differs. Each alert is printed
and flushed, then marked sent: a crash between the two is the one window where an alert could be
printed twice, and it is a single line wide.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from bot import faults, metrics
from bot.cleantext import clip, drop_invisible, web_link
from bot.items import MAX_TITLE_CHARS
from bot.models import Alert
from bot.store import Store
from bot.timefmt import short_local_time


def alert_json(alert: Alert) -> dict[str, object]:
    """The contract's JSON line for an alert or an update."""
    line: dict[str, object] = {
        "event": alert.kind,
        "subscriber": "console",
        "story": alert.story_id,
        "title": shown_title(alert),
        "url": web_link(alert.url),
        "source": alert.source,
        "published": alert.published.isoformat() if alert.published else None,
        "matches": [m.as_json() for m in alert.matches],
    }
    if alert.kind == "update" or alert.also:
        line["also"] = list(alert.also)
    return line


def alert_text(alert: Alert) -> str:
    """The human form, laid out like the Telegram message."""
    head = "🔄" if alert.kind == "update" else "⚽"
    meta = [alert.source]
    if alert.published:
        meta.append(short_local_time(alert.published, alert.language))
    if alert.also:
        meta.append("anche su: " + ", ".join(alert.also))
    terms = ", ".join(dict.fromkeys(m.term for m in alert.matches))
    link = web_link(alert.url)
    return f"{head} {shown_title(alert)}\n{' · '.join(meta)}\n🔎 {terms}\n" + (
        f"{link}\n" if link else ""
    )


def shown_title(alert: Alert) -> str:
    """The title as printed: items are cleaned and clipped when read, and this repeats it for
    stories stored by an earlier version."""
    return clip(drop_invisible(alert.title), MAX_TITLE_CHARS)


CLAIM_SECONDS = 60.0  # a lease: with several replicas, one alert is printed by one of them


class ConsoleDelivery:
    """Drains the console subscriber's outbox to a stream."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        as_json: bool = False,
        out: TextIO | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.as_json = as_json
        self.out = out or sys.stdout

    def deliver_pending(self) -> int:
        """Print every due alert once; return how many were printed."""
        sent = 0
        while alerts := self.store.pending_alerts(
            self.clock(), limit=200, claim_for=CLAIM_SECONDS, channel="console"
        ):
            for alert in alerts:
                faults.checkpoint(faults.DELIVER_BEFORE_SEND)
                self._print(alert)
                faults.checkpoint(faults.DELIVER_AFTER_SEND)  # the one window: printed, not marked
                now = self.clock()
                self.store.mark_sent(alert.id, message_id=None, now=now)
                if alert.kind == "alert":
                    metrics.observe_alert_delay(alert.published, now)
                metrics.ALERTS.labels(outcome="updated" if alert.kind == "update" else "sent").inc()
                sent += 1
        return sent

    def _print(self, alert: Alert) -> None:
        if self.as_json:
            self.out.write(json.dumps(alert_json(alert), ensure_ascii=False) + "\n")
        else:
            self.out.write(alert_text(alert) + "\n")
        self.out.flush()
