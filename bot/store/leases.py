"""Feed leases: how replicas on PostgreSQL share the polling, each feed polled by one at a time.

Why leases and not one poll leader: a leader polls every feed alone, so a second replica adds
no capacity. Here every replica, every tick, says it is alive (`pollers`) and claims the due
feeds of its share: the configured feeds, sorted, dealt out in turn to the live replicas, so two
replicas poll half each and one alone polls everything. It leases them for a short time
(`SELECT … FOR UPDATE SKIP LOCKED`: two replicas claiming at once get disjoint feeds, neither
waits for the other), polls them, then books each feed's next poll and frees its lease.

- A feed is never polled twice in one interval: it is claimed only when its next poll is due
  and nobody's lease on it is running, whoever's share it is.
- A dead replica's feeds are taken over within one interval: a due feed left unclaimed for
  `STEAL_AFTER` is anyone's, a lease runs out within `lease_for` seconds (at most the shortest
  interval; renewed while a slow poll runs), and after `PRESENCE` without a word the replica
  is out of the split.

SQLite keeps the single poll leader (a file lock, `leader.py`): one machine, one poller. These
statements still run there (unit tests use them), without the row locks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, func, or_, select, update

from bot.store.base import StoreBase
from bot.store.schema import feed_leases, pollers

PRESENCE = timedelta(seconds=5)  # a poller silent this long (5 claim ticks) has left
STEAL_AFTER = timedelta(seconds=3)  # a due feed its replica has not claimed by then is anyone's
FORGET_POLLERS = timedelta(days=1)  # rows of pollers gone for this long are deleted


class LeaseOps(StoreBase):
    """The SQL of shared polling; `bot/leasing.py` drives it."""

    def plan_feeds(self, longest_wait: Mapping[str, float], now: datetime) -> int:
        """Give each configured feed (url -> its longest wait, in seconds) a lease row, and
        delete the rows of feeds no longer configured; returns how many were deleted.

        A new feed is due at once. A feed whose next poll lies further than its longest wait
        (its interval was shortened in the feeds file) is brought forward to it. A removed
        feed's row goes unless a lease on it still runs (a replica that has not reloaded yet
        is polling it): the next planning deletes it.
        """
        with self.transaction() as conn:
            gone = conn.execute(
                delete(feed_leases).where(
                    feed_leases.c.url.not_in(list(longest_wait)),
                    or_(feed_leases.c.lease_until.is_(None), feed_leases.c.lease_until < now),
                )
            ).rowcount
            if not longest_wait:
                return gone
            self._add_feed_rows(conn, list(longest_wait), now)
            conn.execute(
                update(feed_leases)
                .where(
                    feed_leases.c.url == bindparam("feed"),
                    feed_leases.c.next_poll_at > bindparam("cap"),
                )
                .values(next_poll_at=bindparam("cap")),
                [
                    {"feed": url, "cap": now + timedelta(seconds=wait)}
                    for url, wait in longest_wait.items()
                ],
            )
            return gone

    def keep_feed_rows(self, urls: Sequence[str], now: datetime) -> None:
        """Give the configured feeds that lack one a lease row, due at once; the others are
        left alone. Replicas plan at start and at each reload: this mends a replica whose feeds
        file is ahead of another's that planned after it (and deleted rows it did not know)."""
        if urls:
            with self.transaction() as conn:
                self._add_feed_rows(conn, urls, now)

    def _add_feed_rows(self, conn: Connection, urls: Sequence[str], now: datetime) -> None:
        conn.execute(
            self._insert(feed_leases)
            .values([{"url": url, "next_poll_at": now} for url in urls])
            .on_conflict_do_nothing(index_elements=[feed_leases.c.url])
        )

    def claim_feeds(
        self,
        owner: str,
        urls: Sequence[str],
        now: datetime,
        *,
        lease_for: float,
        limit: int,
    ) -> list[str]:
        """Say `owner` is alive, then lease it its share of the due feeds among `urls`."""
        with self.transaction() as conn:
            self.poller_seen_in(conn, owner, now)
            return self.claim_feeds_in(conn, owner, urls, now, lease_for=lease_for, limit=limit)

    def poller_seen_in(self, conn: Connection, owner: str, now: datetime) -> None:
        """Record that `owner` takes part in polling (it counts in everyone's fair share)."""
        conn.execute(
            self._insert(pollers)
            .values(owner=owner, seen_at=now)
            .on_conflict_do_update(index_elements=[pollers.c.owner], set_={"seen_at": now})
        )

    def claim_feeds_in(
        self,
        conn: Connection,
        owner: str,
        urls: Sequence[str],
        now: datetime,
        *,
        lease_for: float,
        limit: int,
    ) -> list[str]:
        """Lease up to `limit` due feeds to `owner`, most overdue first: its own share, and any
        feed left unclaimed `STEAL_AFTER` past its time (its replica is dead or stuck).

        Rows another transaction is claiming right now are skipped, not waited for.
        """
        if not urls or limit <= 0:
            return []
        live = conn.execute(
            select(pollers.c.owner).where(pollers.c.seen_at > now - PRESENCE)
        ).scalars()
        mine = share_of(owner, urls, [*live, owner])
        rows = conn.execute(
            select(feed_leases.c.url)
            .where(
                feed_leases.c.url.in_(list(urls)),
                feed_leases.c.next_poll_at <= now,
                or_(feed_leases.c.lease_until.is_(None), feed_leases.c.lease_until < now),
                or_(
                    feed_leases.c.url.in_(mine),
                    feed_leases.c.next_poll_at <= now - STEAL_AFTER,
                ),
            )
            .order_by(feed_leases.c.next_poll_at, feed_leases.c.url)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = [row.url for row in rows]
        if claimed:
            conn.execute(
                update(feed_leases)
                .where(feed_leases.c.url.in_(claimed))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_for))
            )
        return claimed

    def renew_feed_leases(self, owner: str, urls: Sequence[str], until: datetime) -> None:
        """Keep the leases of polls still running (a slow outlet) from running out."""
        if not urls:
            return
        with self.transaction() as conn:
            conn.execute(
                update(feed_leases)
                .where(
                    feed_leases.c.url.in_(list(urls)),
                    feed_leases.c.lease_owner == owner,
                    feed_leases.c.lease_until.is_not(None),
                )
                .values(lease_until=until)
            )

    def finish_feed_lease(self, owner: str, url: str, next_poll_at: datetime) -> bool:
        """The poll is over: book the next one, free the lease (the owner's name stays, as
        who polled last). False when the lease was no longer `owner`'s (it ran out and
        another replica took the feed over): that replica's booking stands."""
        with self.transaction() as conn:
            result = conn.execute(
                update(feed_leases)
                .where(feed_leases.c.url == url, feed_leases.c.lease_owner == owner)
                .values(next_poll_at=next_poll_at, lease_until=None)
            )
            return result.rowcount > 0

    def leave_polling(self, owner: str, now: datetime) -> None:
        """A replica stops: its leases are freed (their feeds, still due, go to the others at
        once) and it no longer counts in the fair share; long-gone pollers are forgotten."""
        with self.transaction() as conn:
            conn.execute(
                update(feed_leases)
                .where(feed_leases.c.lease_owner == owner, feed_leases.c.lease_until.is_not(None))
                .values(lease_until=None)
            )
            conn.execute(
                delete(pollers).where(
                    or_(pollers.c.owner == owner, pollers.c.seen_at < now - FORGET_POLLERS)
                )
            )

    def feeds_leased(self, owner: str, urls: Sequence[str]) -> int:
        """Feeds among `urls` whose latest lease is `owner`'s: the ones it polls now or
        polled last (its share of the work)."""
        if not urls:
            return 0
        with self._read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(feed_leases)
                    .where(feed_leases.c.url.in_(list(urls)), feed_leases.c.lease_owner == owner)
                ).scalar_one()
            )

    def feed_lease_rows(self) -> dict[str, tuple[datetime, str | None, datetime | None]]:
        """url -> (next poll, lease owner, lease end): what /healthz and tests inspect."""
        with self._read() as conn:
            rows = conn.execute(select(feed_leases)).all()
        return {r.url: (r.next_poll_at, r.lease_owner, r.lease_until) for r in rows}


def share_of(owner: str, urls: Sequence[str], live: Sequence[str]) -> list[str]:
    """The feeds `owner` polls while these replicas are live: every n-th of the sorted feeds.

    Every replica computes the same split from the same table, so the shares are disjoint and
    differ by at most one feed; when a replica comes or goes, the feeds are split anew."""
    replicas = sorted(set(live))
    if owner not in replicas:
        return []
    n, k = len(replicas), replicas.index(owner)
    return [url for i, url in enumerate(sorted(urls)) if i % n == k]
