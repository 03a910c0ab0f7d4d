"""How long to wait before polling a feed again: as often as its news comes, within bounds.

A fixed interval makes every piece of news wait half an interval on average, however busy or
quiet the outlet. Outlets publish in bursts (the morning press review, the evening after a
match, deadline day), so the wait is spent best where news is coming now.

The rule, in plain words:
- estimate the feed's publishing rate *now*: its pace at this time of day on the previous days
  (a match night, the 7 o'clock review) or a quarter of its average over the last day, plus a
  burst term that each item just published raises and that fades within minutes (news comes in
  bursts: the rest of a press review, the reactions to a goal);
- poll at `interval × √(REFERENCE_RATE / rate)`: with a fixed budget of requests, the interval
  that minimises the average delay of news across feeds grows with the inverse square root of
  their rates (Lagrange on Σ rate·T/2 under Σ 1/T fixed), so a feed four times busier than the
  reference is polled twice as often, one four times quieter half as often;
- stay within the admin's `min_interval` and `max_interval`, and never poll more often than
  the outlet asks (its `<ttl>`, `sy:updatePeriod`/`sy:updateFrequency`, HTTP `Cache-Control:
  max-age` or `Expires`), capped at `max_interval` so an outlet cannot silence itself for a day.

Pure functions over plain data: the scheduler keeps each feed's recent publishing times and asks
`next_interval` after each poll; `bench/bench_freshness.py` replays real publishing times with a
simulated clock through the same functions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

REFERENCE_RATE = 3.0  # items per hour at which a feed is polled at its configured interval
BURST_RATE = 60.0  # items per hour that one just-published item adds to the expected rate
BURST_DECAY = timedelta(minutes=10)
PROFILE_DAYS = 7
PROFILE_WINDOW = timedelta(minutes=45)  # either side of this time of day on previous days
HISTORY = timedelta(days=PROFILE_DAYS, hours=1)

_SY_PERIOD_S = {"hourly": 3600, "daily": 86_400, "weekly": 604_800, "monthly": 2_592_000}


@dataclass(frozen=True, slots=True)
class Bounds:
    """The admin's word on a feed: its usual interval and the adaptive range (seconds)."""

    interval: float = 120
    min_interval: float = 30
    max_interval: float = 900


def publishing_rate(times: Sequence[datetime], now: datetime) -> float | None:
    """Items per hour this feed is expected to publish around `now`; None when nothing is known.

    A base rate (the feed's pace at this time of day on previous days, or a quarter of its last
    day's average, whichever is higher) plus a burst term: each item published in the last hour
    adds `BURST_RATE`, fading with a `BURST_DECAY` time constant, because news comes in bursts
    (one item makes more likely soon: the rest of a press review, the reactions to a goal).
    """
    if not times:
        return None
    hour = timedelta(hours=1)
    day = sum(1 for t in times if now - timedelta(days=1) < t <= now) / 24
    days = _days_known(times, now)
    profile = 0.0
    if days:
        earlier = now - timedelta(hours=12)
        window = sum(1 for t in times if t <= earlier and _near_time_of_day(t, now))
        profile = window / days * (hour / (2 * PROFILE_WINDOW))
    burst = sum(
        BURST_RATE * math.exp(-((now - t) / BURST_DECAY)) for t in times if now - hour < t <= now
    )
    return max(profile, day / 4) + burst


def next_interval(
    times: Sequence[datetime],
    now: datetime,
    bounds: Bounds,
    *,
    outlet_floor: float | None = None,
) -> float:
    """Seconds until the next poll of a feed whose items were published at `times`."""
    rate = publishing_rate(times, now)
    if rate is None:
        interval = bounds.interval
    else:
        interval = bounds.interval * math.sqrt(REFERENCE_RATE / max(rate, 0.05))
    interval = min(max(interval, bounds.min_interval), bounds.max_interval)
    if outlet_floor:
        interval = max(interval, min(outlet_floor, bounds.max_interval))
    return interval


def outlet_floor(
    *,
    ttl_minutes: str | int | None = None,
    update_period: str | None = None,
    update_frequency: str | int | None = None,
    cache_control: str | None = None,
    expires: str | None = None,
    date: str | None = None,
) -> float | None:
    """The shortest wait the outlet asks for, in seconds (None: it asks nothing).

    From the feed (`<ttl>` minutes; `sy:updatePeriod` divided by `sy:updateFrequency`) and the
    response (`Cache-Control: max-age`, else `Expires` minus `Date`). The largest wins: each is
    the outlet saying nothing new will be there sooner. Garbage values are ignored.
    """
    floors = [
        _ttl(ttl_minutes),
        _syndication(update_period, update_frequency),
        _max_age(cache_control),
    ]
    if floors[2] is None:
        floors.append(_expires(expires, date))
    known = [f for f in floors if f]
    return max(known) if known else None


def merge_times(old: Iterable[datetime], new: Iterable[datetime], now: datetime) -> list[datetime]:
    """The publishing history kept per feed: sorted, deduplicated, the last week only."""
    cutoff = now - HISTORY
    return sorted({t for t in (*old, *new) if cutoff < t <= now})


def _days_known(times: Sequence[datetime], now: datetime) -> int:
    oldest = min(times)
    return min(PROFILE_DAYS, int((now - oldest) / timedelta(days=1)))


def _near_time_of_day(t: datetime, now: datetime) -> bool:
    seconds = abs((t - now).total_seconds()) % 86_400
    return min(seconds, 86_400 - seconds) <= PROFILE_WINDOW.total_seconds()


def _number(value: str | int | None) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _ttl(minutes: str | int | None) -> float | None:
    value = _number(minutes)
    return value * 60 if value else None


def _syndication(period: str | None, frequency: str | int | None) -> float | None:
    seconds = _SY_PERIOD_S.get((period or "").strip().lower())
    if seconds is None:
        return None
    return seconds / (_number(frequency) or 1)


def _max_age(cache_control: str | None) -> float | None:
    for part in (cache_control or "").lower().split(","):
        name, _, value = part.strip().partition("=")
        if name in ("no-cache", "no-store"):
            return None
        if name == "max-age":
            return _number(value.strip('"'))
    return None


def _expires(expires: str | None, date: str | None) -> float | None:
    try:
        end = parsedate_to_datetime(expires or "")
        start = parsedate_to_datetime(date or "")
    except (TypeError, ValueError):
        return None
    if end.tzinfo is None or start.tzinfo is None:
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds > 0 else None
