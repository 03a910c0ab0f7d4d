"""What people type after /mute, /quiet and /digest, in Italian or English, to times.

Pure functions of the text, `now` and the subscriber's zone (never the wall clock), so a table
test can pin every phrase: "2h", "30 min", "9 hours", "un'ora e mezza", "stanotte", "fino alle 8",
"fino a domani", "until 7am", "18:30", "domani", "1d", "23-7", "dalle 23 alle 7", "8:00", "off".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.schedule import DEFAULT_ZONE, next_occurrence
from bot.text import fold

DEFAULT_MUTE = timedelta(hours=8)
MAX_MUTE = timedelta(days=30)
MORNING = time(7, 0)  # "stanotte": until the morning
TOMORROW = time(8, 0)  # "domani": tomorrow morning
NIGHT_OWL_HOUR = 4  # before 4:00, "domani" still means this coming morning

_NUMBER_WORDS = {
    "un": 1, "una": 1, "uno": 1, "a": 1, "an": 1, "one": 1,
    "due": 2, "two": 2, "tre": 3, "three": 3, "quattro": 4, "four": 4,
    "cinque": 5, "five": 5, "sei": 6, "six": 6, "dieci": 10, "ten": 10,
    "dodici": 12, "twelve": 12,
}  # fmt: skip
_UNITS = {
    60: ("m", "min", "mins", "minuto", "minuti", "minute", "minutes"),
    3600: ("h", "hr", "hrs", "ora", "ore", "hour", "hours"),
    86400: ("d", "g", "gg", "giorno", "giorni", "day", "days"),
    604800: ("w", "sett", "settimana", "settimane", "week", "weeks"),
}
_UNIT_SECONDS = {name: seconds for seconds, names in _UNITS.items() for name in names}
_UNIT = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_AMOUNT = r"\d{1,4}(?:[.,]\d{1,2})?|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_HALF = r"mezz ora|mezzora|half an hour|e mezza|e mezzo|and a half"
_PART = re.compile(rf"(?:(?P<n>{_AMOUNT})\s*(?P<unit>{_UNIT})\b|(?P<half>{_HALF}))\s*")
_LEAD = re.compile(
    r"^(?:per|for|fino a|fino alle|fino all|fino|until|till|til|to|alle|all|at|a)\s+"
)
_CLOCK = re.compile(
    r"^(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?P<ampm>am|pm|a m|p m)?"
    r"(?:\s+(?P<part>di sera|stasera|di notte|del pomeriggio|di pomeriggio|di mattina|del mattino|"
    r"in the evening|in the morning|at night))?"
    r"(?:\s+(?P<day>di domani|domani|tomorrow))?$"
)
_TONIGHT = ("stanotte", "questa notte", "per stanotte", "tonight", "overnight", "notte", "night")
_TOMORROW = ("domani", "fino a domani", "a domani", "tomorrow", "until tomorrow", "till tomorrow")
_OFF = ("off", "no", "stop", "basta", "nessuna", "none", "disattiva", "spento", "0")


@dataclass(frozen=True, slots=True)
class MuteReading:
    """The end of the pause, or why the text is refused ("unknown" or "too_long")."""

    until: datetime | None
    problem: str | None = None


def normalise(text: str) -> str:
    """Lower case, accents folded, apostrophes and final punctuation as spaces."""
    text = fold(text).replace("'", " ").replace("’", " ")
    text = re.sub(r"[!?;,]+$", "", text.strip())
    return " ".join(text.replace("a.m.", "am").replace("p.m.", "pm").split())


def read_duration(text: str) -> timedelta | None:
    """ "2h", "30 min", "9 hours", "1d", "2h30", "un'ora e mezza", "mezz'ora"; None otherwise."""
    text = re.sub(r"^(?:per|for)\s+", "", text)
    text = re.sub(r"(\d)h(\d{1,2})\b", r"\1h \2m", text)  # 2h30 -> 2h 30m
    total, pos, last_unit = 0.0, 0, 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            glue = re.match(r"(?:e|and|,)\s+", text[pos:])
            if glue is None or total == 0:
                return None
            pos += glue.end()
            continue
        if m.group("half"):
            total += (
                1800
                if m.group("half") in ("mezz ora", "mezzora", "half an hour")
                else (last_unit / 2)
            )
        else:
            raw = m.group("n")
            amount = _NUMBER_WORDS.get(raw) or float(raw.replace(",", "."))
            last_unit = _UNIT_SECONDS[m.group("unit")]
            total += amount * last_unit
        pos = m.end()
    return timedelta(seconds=round(total)) if total > 0 else None


def _hour_of(m: re.Match[str]) -> tuple[int, int] | None:
    hour, minute = int(m.group("h")), int(m.group("m") or 0)
    ampm, part = m.group("ampm"), m.group("part") or ""
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    elif part in ("di sera", "stasera", "del pomeriggio", "di pomeriggio", "in the evening"):
        hour = hour + 12 if hour < 12 else hour
    elif part in ("di notte", "at night") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def read_clock(text: str) -> tuple[time, bool] | None:
    """ "8", "8:30", "18.30", "7am", "alle 8 di sera", "7am tomorrow" (after the leading
    "fino alle"/"until"): the time of day and whether "tomorrow" was said."""
    m = _CLOCK.match(text)
    if m is None:
        return None
    hm = _hour_of(m)
    if hm is None:
        return None
    return time(*hm), bool(m.group("day"))


def _local_day_at(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=zone).astimezone(UTC)


def _tomorrow_at(at: time, now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    if local.hour < NIGHT_OWL_HOUR and at.hour >= NIGHT_OWL_HOUR:
        return _local_day_at(local, at, zone)  # at 2 a.m. "domani" is this coming morning
    return _local_day_at(local + timedelta(days=1), at, zone)


def parse_mute(arg: str, now: datetime, zone: ZoneInfo | None = None) -> MuteReading:
    """`/mute` argument to the end of the pause (UTC). Nothing: 8 hours. A time of day is the
    next time the subscriber's clock (Europe/Rome unless set) shows it. At most 30 days."""
    zone = zone or ZoneInfo(DEFAULT_ZONE)
    text = normalise(arg)
    if not text:
        return MuteReading(now + DEFAULT_MUTE)
    if text in _TONIGHT:
        return MuteReading(next_occurrence(MORNING, now, zone))
    if text in _TOMORROW:
        return MuteReading(_tomorrow_at(TOMORROW, now, zone))
    span = read_duration(text)
    if span is not None:
        if span > MAX_MUTE:
            return MuteReading(None, "too_long")
        return MuteReading(now + span)
    bare = _LEAD.sub("", text)
    bare = _LEAD.sub("", bare)  # "fino a" + "alle"
    clock = read_clock(bare)
    if clock is not None and (bare != text or ":" in bare or "." in bare or "m" in bare):
        at, tomorrow = clock
        until = _tomorrow_at(at, now, zone) if tomorrow else next_occurrence(at, now, zone)
        return MuteReading(until)
    return MuteReading(None, "unknown")


def is_off(arg: str) -> bool:
    return normalise(arg) in _OFF


def parse_time_of_day(arg: str) -> time | None:
    """ "8:00", "8", "alle 8", "7am", "20.30": one time of day (for /digest)."""
    text = _LEAD.sub("", normalise(arg))
    clock = read_clock(text)
    return None if clock is None or clock[1] else clock[0]


_RANGE = re.compile(r"^(?:dalle|da|from)?\s*(?P<a>.+?)\s*(?:-|–|alle|to|until|a)\s*(?P<b>[^-–]+)$")


def parse_quiet(arg: str) -> tuple[time, time] | None:
    """ "23-7", "23:30-07:00", "dalle 23 alle 7", "from 11pm to 7am": the daily quiet window."""
    m = _RANGE.match(normalise(arg))
    if m is None:
        return None
    start, end = parse_time_of_day(m.group("a")), parse_time_of_day(m.group("b"))
    if start is None or end is None or start == end:
        return None
    return start, end
