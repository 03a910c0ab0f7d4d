"""WebSub subscriptions in the store: one row per feed that advertises a hub.

Why in the store and not in memory: the hub confirms a request by calling back, possibly on
another replica or after a restart, and pushes keep coming for the whole lease; the callback
token and the secret must outlive the process that asked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from bot.store.base import StoreBase
from bot.store.schema import websub
from bot.websub import Discovery, Subscription, new_secret, new_token, retry_delay


class WebSubOps(StoreBase):
    """Discovered hubs, requests made, confirmations and leases."""

    def websub_subscriptions(self) -> list[Subscription]:
        with self._read() as conn:
            rows = conn.execute(select(websub).order_by(websub.c.feed_url)).all()
        return [_subscription(r) for r in rows]

    def websub_by_callback(self, token: str) -> Subscription | None:
        """The subscription a callback token belongs to (None: not one of ours)."""
        with self._read() as conn:
            row = conn.execute(select(websub).where(websub.c.callback == token)).first()
        return _subscription(row) if row else None

    def websub_discovered(self, feed_url: str, found: Discovery | None) -> bool:
        """Record what a poll of the feed advertised; True when it changed anything.

        A new hub or topic starts afresh (a new token and secret: whatever the old hub still
        pushes to the old callback is refused); a feed that stops advertising a hub loses its
        row (its old subscription lapses at the end of its lease).
        """
        with self.transaction() as conn:
            row = conn.execute(select(websub).where(websub.c.feed_url == feed_url)).first()
            if found is None:
                if row is None:
                    return False
                conn.execute(delete(websub).where(websub.c.feed_url == feed_url))
                return True
            if row is not None and (row.hub, row.topic) == (found.hub, found.topic):
                return False
            if row is not None:
                conn.execute(delete(websub).where(websub.c.feed_url == feed_url))
            conn.execute(
                websub.insert().values(
                    feed_url=feed_url,
                    hub=found.hub,
                    topic=found.topic,
                    callback=new_token(),
                    secret=new_secret(),
                    failures=0,
                )
            )
            return True

    def websub_requested(self, feed_url: str, mode: str, now: datetime) -> None:
        """We are about to ask the hub for `mode`: recorded first, because a hub may call back
        to verify before it even answers the request."""
        self._websub_set(feed_url, pending=mode, requested_at=now)

    def websub_request_failed(self, feed_url: str, error: str, now: datetime) -> int:
        """The hub refused or could not be reached: back off; returns the failures so far."""
        with self.transaction() as conn:
            row = conn.execute(select(websub).where(websub.c.feed_url == feed_url)).first()
            if row is None:
                return 0
            failures = row.failures + 1
            conn.execute(
                update(websub)
                .where(websub.c.feed_url == feed_url)
                .values(
                    failures=failures,
                    retry_at=now + retry_delay(failures),
                    last_error=error,
                    # Nothing is pending at the hub; a subscription in force stays in force.
                    pending=None,
                )
            )
            return failures

    def websub_activated(self, feed_url: str, lease_seconds: int, now: datetime) -> None:
        """The hub confirmed our subscribe: in force for the lease it granted."""
        self._websub_set(
            feed_url,
            pending=None,
            expires_at=now + timedelta(seconds=lease_seconds),
            lease_seconds=lease_seconds,
            failures=0,
            retry_at=None,
            last_error=None,
        )

    def websub_denied(self, feed_url: str, reason: str, now: datetime) -> None:
        """The hub refused the subscription (or ended it): none in force; ask again later."""
        with self.transaction() as conn:
            row = conn.execute(select(websub).where(websub.c.feed_url == feed_url)).first()
            if row is None:
                return
            failures = row.failures + 1
            conn.execute(
                update(websub)
                .where(websub.c.feed_url == feed_url)
                .values(
                    pending=None,
                    expires_at=None,
                    failures=failures,
                    retry_at=now + retry_delay(failures),
                    last_error=f"denied by the hub: {reason}"[:300],
                )
            )

    def websub_forget(self, feed_url: str) -> None:
        """No subscription any more (unsubscribed, or the feed left the feeds file)."""
        with self.transaction() as conn:
            conn.execute(delete(websub).where(websub.c.feed_url == feed_url))

    def _websub_set(self, feed_url: str, **values: Any) -> None:
        with self.transaction() as conn:
            conn.execute(update(websub).where(websub.c.feed_url == feed_url).values(**values))


def _subscription(row: Any) -> Subscription:
    return Subscription(
        feed_url=row.feed_url,
        hub=row.hub,
        topic=row.topic,
        callback=row.callback,
        secret=row.secret,
        pending=row.pending,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        lease_seconds=row.lease_seconds,
        failures=row.failures,
        retry_at=row.retry_at,
        last_error=row.last_error,
    )
