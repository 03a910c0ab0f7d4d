"""The metric names other stages and dashboards rely on, as a scraper sees them."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics


def scrape() -> dict[str, object]:
    text = generate_latest(metrics.METRICS_REGISTRY).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(name: str, **labels: str) -> float:
    value = metrics.METRICS_REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.mark.parametrize(
    ("metric", "family", "kind", "labels"),
    [
        (metrics.POLLS, "newsbot_polls", "counter", ("feed", "outcome")),
        (metrics.FETCH_ERRORS, "newsbot_fetch_errors", "counter", ("feed",)),
        (metrics.ITEMS, "newsbot_items", "counter", ("feed", "kind")),
        (metrics.MATCHES, "newsbot_matches", "counter", ("watchlist",)),
        (metrics.ALERTS, "newsbot_alerts", "counter", ("outcome",)),
        (metrics.RELOADS, "newsbot_reloads", "counter", ("outcome",)),
        (metrics.SKIPPED_RUNS, "newsbot_skipped_runs", "counter", ("job",)),
        (metrics.OUTBOX_DEPTH, "newsbot_outbox_depth", "gauge", ()),
        (metrics.LEADER, "newsbot_leader", "gauge", ()),
        (metrics.FEEDS_LEASED, "newsbot_feeds_leased", "gauge", ()),
        (metrics.POLL_SECONDS, "newsbot_poll_seconds", "histogram", ()),
        (metrics.DELIVERY_SECONDS, "newsbot_delivery_seconds", "histogram", ()),
    ],
)
def test_every_documented_metric_is_exported_with_its_labels(
    metric: Any, family: str, kind: str, labels: tuple[str, ...]
) -> None:
    families = scrape()
    assert family in families, f"{family} missing from /metrics"
    assert families[family].type == kind
    if labels:
        metric.labels(**dict.fromkeys(labels, "test"))  # raises if the label names differ
        with pytest.raises(ValueError):
            metric.labels(**dict.fromkeys((*labels, "extra"), "test"))
    else:
        with pytest.raises(ValueError):
            metric.labels(feed="x")  # unlabelled: callers use .set()/.observe() directly


def test_counting_a_poll_shows_up_as_newsbot_polls_total() -> None:
    before = sample("newsbot_polls_total", feed="Gazzetta - Calcio", outcome="not_modified")
    metrics.POLLS.labels(feed="Gazzetta - Calcio", outcome="not_modified").inc()
    metrics.POLLS.labels(feed="Gazzetta - Calcio", outcome="not_modified").inc()
    after = sample("newsbot_polls_total", feed="Gazzetta - Calcio", outcome="not_modified")
    assert after - before == 2


def test_histograms_count_observations_into_buckets() -> None:
    count = sample("newsbot_poll_seconds_count")
    fast = sample("newsbot_poll_seconds_bucket", le="0.5")
    metrics.POLL_SECONDS.observe(0.3)
    metrics.POLL_SECONDS.observe(12.0)
    assert sample("newsbot_poll_seconds_count") - count == 2
    assert sample("newsbot_poll_seconds_bucket", le="0.5") - fast == 1


def test_gauges_report_the_current_value() -> None:
    metrics.OUTBOX_DEPTH.set(7)
    metrics.LEADER.set(1)
    assert sample("newsbot_outbox_depth") == 7
    assert sample("newsbot_leader") == 1
    metrics.OUTBOX_DEPTH.set(0)
    metrics.LEADER.set(0)
    assert sample("newsbot_outbox_depth") == 0


def test_forget_feed_removes_a_deleted_feed_from_the_scrape() -> None:
    metrics.POLLS.labels(feed="Old Feed", outcome="ok").inc()
    metrics.FETCH_ERRORS.labels(feed="Old Feed").inc()
    metrics.ITEMS.labels(feed="Old Feed", kind="new").inc(3)
    metrics.POLLS.labels(feed="Kept Feed", outcome="ok").inc()
    metrics.forget_feed("Old Feed")
    text = generate_latest(metrics.METRICS_REGISTRY).decode()
    assert 'feed="Old Feed"' not in text
    assert 'feed="Kept Feed"' in text
    metrics.forget_feed("Never Seen")  # forgetting an unknown feed is harmless


def test_forget_watchlist_removes_its_matches() -> None:
    metrics.MATCHES.labels(watchlist="gone").inc()
    metrics.forget_watchlist("gone")
    assert 'watchlist="gone"' not in generate_latest(metrics.METRICS_REGISTRY).decode()


def test_process_metrics_are_served_from_the_same_registry() -> None:
    """The default registry was chosen for its process collector; make sure it is there."""
    families = scrape()
    assert "process_resident_memory_bytes" in families or "python_info" in families
