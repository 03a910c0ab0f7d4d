"""A subscriber's delivery preferences (quiet hours, daily digest, time zone) and contact.

Why apart from the outbox code: quiet hours and digest times recur on each subscriber's wall
clock, which SQL can't evaluate portably. The few subscribers who set one are read here and
their due moment computed by `bot.schedule`; `Store.pending_alerts` then filters with it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, union, update

from bot.schedule import Schedule, hhmm, release_cutoff
from bot.store.base import StoreBase
from bot.store.schema import outbox, subscribers, subscriptions

ACTIVE_WINDOW = timedelta(days=30)


class PreferenceOps(StoreBase):
    """Quiet hours, digest time, time zone, last contact; the schedules due now."""

    def _set(self, subscriber_id: int, **values: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                update(subscribers).where(subscribers.c.id == subscriber_id).values(**values)
            )

    def set_quiet(self, subscriber_id: int, window: tuple[time, time] | None) -> None:
        """Hold alerts every day between the two local times (None: no quiet hours)."""
        start, end = (hhmm(window[0]), hhmm(window[1])) if window else (None, None)
        self._set(subscriber_id, quiet_start=start, quiet_end=end)

    def set_digest(self, subscriber_id: int, at: time | None) -> None:
        """One digest a day at `at` (local) instead of real-time alerts (None: real time)."""
        self._set(subscriber_id, digest_at=hhmm(at) if at else None)

    def set_timezone(self, subscriber_id: int, zone: str | None) -> None:
        self._set(subscriber_id, timezone=zone)

    def touch(self, subscriber_id: int, now: datetime) -> None:
        """The chat wrote to the bot (for /stats' "active")."""
        self._set(subscriber_id, last_seen=now)

    def owed(self, subscriber_id: int) -> int:
        """Alerts still owed to this subscriber (what a pause is holding)."""
        with self._read() as conn:
            query = select(func.count()).where(
                outbox.c.subscriber_id == subscriber_id,
                outbox.c.status == "pending",
                outbox.c.kind == "alert",
            )
            return int(conn.execute(query).scalar_one())

    def recurring_schedules(self, conn: Connection) -> dict[int, Schedule]:
        """Active subscribers with quiet hours or a daily digest (each column indexed)."""
        cols = (
            subscribers.c.id,
            subscribers.c.muted_until,
            subscribers.c.quiet_start,
            subscribers.c.quiet_end,
            subscribers.c.digest_at,
            subscribers.c.timezone,
        )
        active = subscribers.c.active.is_(True)
        query = union(
            select(*cols).where(subscribers.c.quiet_start.is_not(None), active),
            select(*cols).where(subscribers.c.digest_at.is_not(None), active),
        )
        return {
            row.id: Schedule(
                row.muted_until, row.quiet_start, row.quiet_end, row.digest_at, row.timezone
            )
            for row in conn.execute(query).all()
        }

    def due_filter(self, conn: Connection, now: datetime) -> tuple[Any, dict[int, Schedule]]:
        """A WHERE clause keeping only rows whose subscriber's quiet hours or digest time let
        them out now, and the schedules it was computed from."""
        schedules = self.recurring_schedules(conn)
        held: list[int] = []
        clauses = []
        for sub_id, schedule in schedules.items():
            cutoff = release_cutoff(schedule, now)
            if cutoff is None:
                held.append(sub_id)
            elif cutoff < now:
                clauses.append(and_(outbox.c.subscriber_id == sub_id, outbox.c.created_at > cutoff))
        if not held and not clauses:
            return None, schedules
        blocked = or_(outbox.c.subscriber_id.in_(held), *clauses)
        return ~blocked, schedules

    def subscriber_counts(self, now: datetime) -> dict[str, int]:
        """Real subscribers (Telegram chats that follow something, not the console) and the
        active ones: also received an alert or wrote in the last 30 days."""
        since = now - ACTIVE_WINDOW
        follows = exists().where(subscriptions.c.subscriber_id == subscribers.c.id)
        alerted = exists().where(
            outbox.c.subscriber_id == subscribers.c.id, outbox.c.sent_at >= since
        )
        real = and_(subscribers.c.kind != "console", follows)
        recent = or_(subscribers.c.last_seen >= since, alerted)
        with self._read() as conn:
            total = conn.execute(
                select(func.count()).select_from(subscribers).where(real)
            ).scalar_one()
            active = conn.execute(
                select(func.count())
                .select_from(subscribers)
                .where(real, subscribers.c.active.is_(True), recent)
            ).scalar_one()
        return {"subscribers": int(total), "active": int(active)}
