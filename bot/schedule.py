"""When a subscriber's alerts may go out: a mute, recurring quiet hours, a daily digest.

Why one pure module: the store decides which outbox rows are due, the sender decides whether
held rows become one digest, and the commands say when a pause ends; all three must agree, and
all of it depends on the subscriber's wall clock (Europe/Rome unless set), daylight saving
included. Nothing here reads the clock: `now` is always a parameter.

The rule: an alert created at `t` may be delivered at `now` when the subscriber is not paused
now (no mute, not inside quiet hours) and, in daily-digest mode, when `t` is before the latest
digest moment. What waited past the end of a pause was *held*; the sender sends held alerts
together, as one digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/Rome"
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def zone_of(name: str | None) -> ZoneInfo:
    """The subscriber's time zone; Europe/Rome when unset or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def read_hhmm(text: str | None) -> time | None:
    """ "07:30" (the stored form) to a time; None when empty or malformed."""
    m = _HHMM.match((text or "").strip())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _at(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The moment the wall clock of `zone` shows `at` on `day`'s date (in UTC)."""
    local = datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone)
    return local.astimezone(UTC)


def next_occurrence(at: time, now: datetime, zone: ZoneInfo) -> datetime:
    """The first moment after `now` at which the local clock shows `at`."""
    today = now.astimezone(zone)
    for days in range(3):
        moment = _at(today + timedelta(days=days), at, zone)
        if moment > now:
            return moment
    raise AssertionError("unreachable: a wall time recurs every day")


def last_occurrence(at: time, now: datetime, zone: ZoneInfo) -> datetime:
    """The latest moment at or before `now` at which the local clock showed `at`."""
    today = now.astimezone(zone)
    for days in range(3):
        moment = _at(today - timedelta(days=days), at, zone)
        if moment <= now:
            return moment
    raise AssertionError("unreachable: a wall time recurs every day")


def in_window(start: time, end: time, now: datetime, zone: ZoneInfo) -> bool:
    """Whether the local time of `now` is within [start, end), a window that may cross
    midnight (23:00-07:00)."""
    local = now.astimezone(zone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


@dataclass(frozen=True, slots=True)
class Schedule:
    """A subscriber's pauses, as stored: times of day are "HH:MM" on its own clock."""

    muted_until: datetime | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None
    digest_at: str | None = None
    timezone: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)

    @property
    def quiet(self) -> tuple[time, time] | None:
        start, end = read_hhmm(self.quiet_start), read_hhmm(self.quiet_end)
        if start is None or end is None or start == end:
            return None
        return start, end

    @property
    def digest(self) -> time | None:
        return read_hhmm(self.digest_at)

    @property
    def recurring(self) -> bool:
        """Quiet hours or a daily digest: the store must compute this subscriber's due rows."""
        return self.quiet is not None or self.digest is not None


def paused_until(schedule: Schedule, now: datetime) -> datetime | None:
    """When the pause in force at `now` ends (a mute, or quiet hours); None when not paused.
    A mute that ends inside quiet hours lasts until the quiet hours end."""
    end: datetime | None = None
    if schedule.muted_until is not None and schedule.muted_until > now:
        end = schedule.muted_until
    quiet = schedule.quiet
    if quiet is not None:
        probe = end or now
        if in_window(quiet[0], quiet[1], probe, schedule.zone):
            end = next_occurrence(quiet[1], probe, schedule.zone)
    return end


def release_cutoff(schedule: Schedule, now: datetime) -> datetime | None:
    """Alerts created up to this moment may be delivered at `now`; None: none may (paused)."""
    if paused_until(schedule, now) is not None:
        return None
    digest = schedule.digest
    if digest is not None:
        return last_occurrence(digest, now, schedule.zone)
    return now


def last_release(schedule: Schedule, now: datetime) -> datetime | None:
    """The latest moment at or before `now` at which a pause ended (a mute's end, the end of
    quiet hours, a digest time): alerts created before it and still owed were held."""
    ends: list[datetime] = []
    if schedule.muted_until is not None and schedule.muted_until <= now:
        ends.append(schedule.muted_until)
    quiet = schedule.quiet
    if quiet is not None:
        ends.append(last_occurrence(quiet[1], now, schedule.zone))
    digest = schedule.digest
    if digest is not None:
        ends.append(last_occurrence(digest, now, schedule.zone))
    return max(ends) if ends else None


def was_held(schedule: Schedule, created_at: datetime | None, now: datetime) -> bool:
    """Whether an alert created at `created_at` waited for the end of a pause."""
    released = last_release(schedule, now)
    return created_at is not None and released is not None and created_at < released
