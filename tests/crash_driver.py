"""Crash-test driver: polls (from a JSON file) -> ingest -> deliver to a file, like `poll --once`.

Run as `python tests/crash_driver.py --db PATH --polls JSON --out FILE --now ISO`. With
`NEWSBOT_CRASH_AT=<checkpoint>` in the environment the process SIGKILLs itself at that point
(see bot/faults.py); running it again without the variable must end with every alert delivered
exactly once (bar the one documented window, see docs/delivery.md).

"Delivering" appends one JSON line per alert to FILE (flushed and fsynced, as a message that
reached Telegram is beyond recall) and then marks the outbox row sent.

The JSON file: {"watchlists": {name: [term, ...]}, "subscribers": {chat_id: [[kind, value]]},
"polls": [[item, ...], ...]} where an item has keys, title, source, published (ISO) and
optionally summary, link, feed_url.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import faults
from bot.dedup import ingest
from bot.models import Feed, Item, Match
from bot.store import Store


def _item(data: dict[str, Any]) -> Item:
    return Item(
        keys=tuple(data["keys"]),
        title=data["title"],
        summary=data.get("summary", ""),
        link=data.get("link", "https://example.org/" + data["keys"][0]),
        source=data["source"],
        feed_url=data.get("feed_url", "https://example.org/rss"),
        published=datetime.fromisoformat(data["published"]),
    )


def _matcher(watchlists: dict[str, list[str]]) -> Any:
    def match(item: Item) -> list[Match]:
        text = item.title.casefold()
        return [
            Match(name, term, term, 100.0)
            for name, terms in sorted(watchlists.items())
            for term in terms
            if term.casefold() in text
        ]

    return match


def _deliver(store: Store, out: Path, now: datetime) -> int:
    sent = 0
    for alert in store.pending_alerts(now, claim_for=60):
        faults.checkpoint(faults.DELIVER_BEFORE_SEND)
        line = {
            "chat": alert.chat_id,
            "kind": alert.kind,
            "story": alert.story_id,
            "also": list(alert.also),
        }
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        faults.checkpoint(faults.DELIVER_AFTER_SEND)
        store.mark_sent(alert.id, message_id=None, now=now)
        sent += 1
    return sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--polls", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    spec = json.loads(Path(args.polls).read_text(encoding="utf-8"))
    now = datetime.fromisoformat(args.now)
    # synchronous=NORMAL: a killed process loses nothing committed (only a power cut could).
    store = Store.open(f"sqlite:///{args.db}", durable=False)
    for chat_id, subs in spec["subscribers"].items():
        sub = store.subscriber(chat_id)
        assert sub is not None
        for kind, value in subs:
            store.subscribe(sub.id, kind, value)
    feed = Feed("driver", "https://example.org/rss")
    match = _matcher(spec["watchlists"])
    for n, poll in enumerate(spec["polls"]):
        at = now + timedelta(minutes=2 * n)
        ingest(store, feed, [_item(i) for i in poll], match, now=at, backlog=False)
        _deliver(store, Path(args.out), at)
    store.close()


if __name__ == "__main__":
    main()
