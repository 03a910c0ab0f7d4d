"""Adaptive polling: busy outlets and bursts are polled sooner, quiet ones later, within the
admin's bounds and never sooner than the outlet asks (`<ttl>`, `sy:updatePeriod`, HTTP caching).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot import metrics
from bot.feeds import load_feeds
from bot.fetch import make_client
from bot.freshness import Bounds, merge_times, next_interval, outlet_floor, publishing_rate
from bot.models import Feed
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler, feed_job_id
from bot.store import Store
from bot.yamlfile import ConfigError

NOW = datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
BOUNDS = Bounds(interval=120, min_interval=30, max_interval=900)


def minutes_ago(*minutes: float) -> list[datetime]:
    return sorted(NOW - timedelta(minutes=m) for m in minutes)


def test_nothing_known_polls_at_the_configured_interval() -> None:
    assert publishing_rate([], NOW) is None
    assert next_interval([], NOW, BOUNDS) == 120


def test_a_burst_in_progress_is_polled_at_the_floor() -> None:
    """TMW's morning review: items every few minutes. The next one is minutes away."""
    burst = minutes_ago(1, 3, 6, 8)
    assert next_interval(burst, NOW, BOUNDS) == 30


def test_a_quiet_feed_is_polled_rarely_but_within_the_ceiling() -> None:
    """Two items yesterday afternoon, nothing since: no need to ask every two minutes."""
    quiet = [NOW - timedelta(hours=16), NOW - timedelta(hours=15)]
    wait = next_interval(quiet, NOW, BOUNDS)
    assert 120 < wait <= 900
    assert next_interval(quiet, NOW, Bounds(120, 30, 300)) == 300


def test_the_time_of_day_an_outlet_is_busy_is_remembered() -> None:
    """An outlet that publishes its press review at 7 every morning is polled sooner at 7
    than at 3 in the afternoon, before today's first item arrives."""
    mornings = [
        NOW - timedelta(days=d) + timedelta(minutes=m) for d in (1, 2, 3) for m in (-20, -10, 0, 10)
    ]
    at_seven = next_interval(mornings, NOW, BOUNDS)
    at_three = next_interval(mornings, NOW + timedelta(hours=8), BOUNDS)
    assert at_seven < at_three


def test_the_outlet_floor_wins_but_never_past_the_ceiling() -> None:
    burst = minutes_ago(1, 2)
    assert next_interval(burst, NOW, BOUNDS, outlet_floor=300) == 300
    assert next_interval(burst, NOW, BOUNDS, outlet_floor=86_400) == 900


@pytest.mark.parametrize(
    ("kwargs", "seconds"),
    [
        ({"ttl_minutes": "15"}, 900),
        ({"update_period": "hourly", "update_frequency": "4"}, 900),
        ({"update_period": "daily"}, 86_400),
        ({"cache_control": "public, max-age=600"}, 600),
        ({"cache_control": "no-cache, max-age=600"}, None),
        (
            {
                "expires": "Fri, 06 Mar 2026 07:05:00 GMT",
                "date": "Fri, 06 Mar 2026 07:00:00 GMT",
            },
            300,
        ),
        (
            {"ttl_minutes": "soon", "update_period": "fortnightly", "cache_control": "max-age=x"},
            None,
        ),
        ({"ttl_minutes": "5", "cache_control": "max-age=60"}, 300),
    ],
)
def test_what_the_outlet_asks_for(kwargs: dict[str, str], seconds: float | None) -> None:
    assert outlet_floor(**kwargs) == seconds


def test_history_keeps_one_week_once() -> None:
    old = NOW - timedelta(days=9)
    kept = merge_times([old, NOW - timedelta(hours=1)], [NOW - timedelta(hours=1), NOW], NOW)
    assert kept == [NOW - timedelta(hours=1), NOW]


def test_feeds_file_turns_adaptive_polling_on_with_a_bound(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "defaults:\n  interval: 120\n  min_interval: 30\nfeeds:\n"
        "  - name: TMW\n    url: https://www.tuttomercatoweb.com/rss/\n"
        "  - name: Slow\n    url: https://slow.example/rss\n    interval: 1800\n"
    )
    tmw, slow = load_feeds(path)
    assert (tmw.adaptive, tmw.min_interval, tmw.max_interval) == (True, 30, 900)
    assert (slow.min_interval, slow.max_interval) == (30, 1800)  # widened to its interval
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text("feeds:\n  - name: TMW\n    url: https://www.tuttomercatoweb.com/rss/\n")
    assert not load_feeds(fixed)[0].adaptive


def test_bounds_that_exclude_the_interval_are_a_path_line_problem(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "feeds:\n  - name: TMW\n    url: https://www.tuttomercatoweb.com/rss/\n"
        "    interval: 60\n    min_interval: 90\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_feeds(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:2: feed 'TMW': interval 60 is outside min_interval 90 .. max_interval 900"
    ]


def rss(published: list[datetime], ttl: int | None = None) -> bytes:
    items = "".join(
        f"<item><title>Notizia {n}</title><link>https://tmw.example/{n}</link>"
        f"<pubDate>{format_datetime(when)}</pubDate></item>"
        for n, when in enumerate(published)
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>TMW</title>{ttl_tag}'
        f"{items}</channel></rss>"
    ).encode()


async def test_a_real_poll_moves_the_next_one(feed_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through the real pipeline: a feed in the middle of a burst is asked again in 30 s; one
    whose items are old and whose <ttl> and Cache-Control ask for 10 minutes waits 10."""
    now = datetime.now(UTC)
    feed_server.set("/burst.xml", rss([now - timedelta(minutes=m) for m in (1, 4, 7)]))
    feed_server.set(
        "/calm.xml",
        rss([now - timedelta(days=2)], ttl=10),
        headers={"Cache-Control": "max-age=300"},
    )
    burst = Feed("Burst", feed_server.url("/burst.xml"), 120, min_interval=30, max_interval=900)
    calm = Feed("Calm", feed_server.url("/calm.xml"), 120, min_interval=30, max_interval=900)
    store = Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    async with make_client() as client:
        pipeline = Pipeline(store, client, lambda: _NoMatch(), max_age=None)
        scheduler = Scheduler(pipeline.poll_feed)
        scheduler.start()
        try:
            scheduler.set_feeds([burst, calm], now=datetime(2099, 1, 1, tzinfo=UTC))
            for feed in (burst, calm):
                await scheduler._poll_and_retime(feed)
            waits = {
                f.name: (scheduler.aps.get_job(feed_job_id(f)).next_run_time - now).total_seconds()
                for f in (burst, calm)
            }
        finally:
            scheduler.shutdown()
            store.close()
    assert 25 <= waits["Burst"] <= 40
    assert 595 <= waits["Calm"] <= 615  # the <ttl> of 10 minutes beats max-age=300
    assert REGISTRY.get_sample_value(
        "newsbot_feed_interval_seconds", {"feed": "Calm"}
    ) == pytest.approx(600)


def test_alert_delay_is_measured_from_publication() -> None:
    before = REGISTRY.get_sample_value("newsbot_alert_delay_seconds_count") or 0
    low = REGISTRY.get_sample_value("newsbot_alert_delay_seconds_bucket", {"le": "30.0"}) or 0
    metrics.observe_alert_delay(NOW - timedelta(seconds=20), NOW)
    metrics.observe_alert_delay(NOW - timedelta(days=3), NOW)  # first seen late: left out
    metrics.observe_alert_delay(None, NOW)
    assert REGISTRY.get_sample_value("newsbot_alert_delay_seconds_count") == before + 1
    assert (
        REGISTRY.get_sample_value("newsbot_alert_delay_seconds_bucket", {"le": "30.0"}) == low + 1
    )


class _NoMatch:
    def match(self, title: str, summary: str = "", context: object = None) -> list[object]:
        return []
