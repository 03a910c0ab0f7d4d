"""What people type after /mute, /quiet and /digest, pinned phrase by phrase (no wall clock)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import Schedule, last_release, paused_until, release_cutoff, was_held
from bot.telegram.timeparse import parse_mute, parse_quiet, parse_time_of_day

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2025, 10, 10, 15, 0, tzinfo=UTC)  # Friday 17:00 in Rome (UTC+2)
NIGHT = datetime(2025, 10, 10, 0, 30, tzinfo=UTC)  # 02:30 in Rome


def rome(day: int, hour: int, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=ROME).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "now", "until"),
    [
        ("", NOW, NOW + timedelta(hours=8)),
        ("2h", NOW, NOW + timedelta(hours=2)),
        ("2 ore", NOW, NOW + timedelta(hours=2)),
        ("9 hours", NOW, NOW + timedelta(hours=9)),
        ("per 3 ore", NOW, NOW + timedelta(hours=3)),
        ("for 1 hour", NOW, NOW + timedelta(hours=1)),
        ("un'ora", NOW, NOW + timedelta(hours=1)),
        ("un’ora e mezza", NOW, NOW + timedelta(minutes=90)),
        ("mezz'ora", NOW, NOW + timedelta(minutes=30)),
        ("30 min", NOW, NOW + timedelta(minutes=30)),
        ("30m", NOW, NOW + timedelta(minutes=30)),
        ("45 minuti", NOW, NOW + timedelta(minutes=45)),
        ("2h30", NOW, NOW + timedelta(minutes=150)),
        ("1h 15m", NOW, NOW + timedelta(minutes=75)),
        ("1,5 ore", NOW, NOW + timedelta(minutes=90)),
        ("1d", NOW, NOW + timedelta(days=1)),
        ("2 giorni", NOW, NOW + timedelta(days=2)),
        ("3 days", NOW, NOW + timedelta(days=3)),
        ("1 settimana", NOW, NOW + timedelta(days=7)),
        ("stanotte", NOW, rome(11, 7)),
        ("tonight", NOW, rome(11, 7)),
        ("stanotte", NIGHT, rome(10, 7)),
        ("fino alle 8", NOW, rome(11, 8)),
        ("fino alle 18", NOW, rome(10, 18)),
        ("fino alle 18:30", NOW, rome(10, 18, 30)),
        ("fino 18:30", NOW, rome(10, 18, 30)),
        ("alle 8 di sera", NOW, rome(10, 20)),
        ("fino alle 9 di domani", NOW, rome(11, 9)),
        ("18:30", NOW, rome(10, 18, 30)),
        ("18.30", NOW, rome(10, 18, 30)),
        ("until 7am", NOW, rome(11, 7)),
        ("until 7 am", NOW, rome(11, 7)),
        ("until 7 p.m.", NOW, rome(10, 19)),
        ("till 9:00", NOW, rome(11, 9)),
        ("until 7am tomorrow", NOW, rome(11, 7)),
        ("fino a domani", NOW, rome(11, 8)),
        ("domani", NOW, rome(11, 8)),
        ("tomorrow", NOW, rome(11, 8)),
        ("domani", NIGHT, rome(10, 8)),  # at 2:30 a.m. "domani" is this morning
        ("Fino alle 8!", NOW, rome(11, 8)),
        # daylight saving ends on 26 Oct 2025: the wall clock still says 8:00
        ("fino alle 8", datetime(2025, 10, 25, 20, 0, tzinfo=UTC), rome(26, 8)),
    ],
)
def test_mute_understands_durations_and_times(text: str, now: datetime, until: datetime) -> None:
    reading = parse_mute(text, now, ROME)
    assert (reading.until, reading.problem) == (until, None)


def test_mute_times_are_read_on_the_subscribers_clock() -> None:
    reading = parse_mute("until 7am", NOW, ZoneInfo("Europe/London"))
    assert reading.until == datetime(2025, 10, 11, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("31 giorni", "too_long"),
        ("1000h", "too_long"),
        ("0h", "unknown"),
        ("25:00", "unknown"),
        ("fino alle 25", "unknown"),
        ("domani forse", "unknown"),
        ("8", "unknown"),  # eight hours or eight o'clock? ask
        ("banana", "unknown"),
        ("13pm", "unknown"),
    ],
)
def test_mute_refuses_what_it_cannot_read(text: str, problem: str) -> None:
    assert parse_mute(text, NOW, ROME) == type(parse_mute("", NOW))(None, problem)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("23-7", (time(23), time(7))),
        ("23:30-07:00", (time(23, 30), time(7))),
        ("23 - 7", (time(23), time(7))),
        ("dalle 23 alle 7", (time(23), time(7))),
        ("from 11pm to 7am", (time(23), time(7))),
        ("13-15", (time(13), time(15))),
        ("7-7", None),
        ("23", None),
        ("sempre", None),
    ],
)
def test_quiet_hours(text: str, window: tuple[time, time] | None) -> None:
    assert parse_quiet(text) == window


@pytest.mark.parametrize(
    ("text", "at"),
    [("8:00", time(8)), ("8", time(8)), ("alle 8", time(8)), ("7:30pm", time(19, 30)),
     ("20.30", time(20, 30)), ("at 9am", time(9)), ("25:00", None), ("mai", None)],
)  # fmt: skip
def test_digest_time(text: str, at: time | None) -> None:
    assert parse_time_of_day(text) == at


def test_quiet_hours_hold_alerts_and_release_them_at_the_end() -> None:
    quiet = Schedule(quiet_start="23:00", quiet_end="07:00")
    at_midnight = rome(11, 0)
    assert paused_until(quiet, at_midnight) == rome(11, 7)
    assert release_cutoff(quiet, at_midnight) is None
    after = rome(11, 7, 1)
    assert release_cutoff(quiet, after) == after
    assert was_held(quiet, rome(11, 1), after)  # created at 1:00, sent at 7:01: held
    assert not was_held(quiet, rome(11, 7, 0) + timedelta(seconds=30), after)


def test_a_mute_ending_inside_quiet_hours_lasts_until_they_end() -> None:
    both = Schedule(muted_until=rome(11, 1), quiet_start="23:00", quiet_end="07:00")
    assert paused_until(both, rome(10, 20)) == rome(11, 7)


def test_daily_digest_releases_what_came_before_its_time() -> None:
    digest = Schedule(digest_at="08:00")
    assert release_cutoff(digest, rome(11, 7, 59)) == rome(10, 8)
    assert release_cutoff(digest, rome(11, 8, 0)) == rome(11, 8)
    assert last_release(digest, rome(11, 9)) == rome(11, 8)
    assert was_held(digest, rome(10, 23), rome(11, 8, 1))


def test_unmuted_by_hand_the_held_alerts_are_those_before_the_unmute() -> None:
    unmuted = Schedule(muted_until=NOW)
    assert release_cutoff(unmuted, NOW) == NOW
    assert was_held(unmuted, NOW - timedelta(minutes=5), NOW + timedelta(seconds=1))
    assert not was_held(Schedule(), NOW - timedelta(days=1), NOW)
