"""Every Prometheus metric newsbot exports, defined once so each stage just imports and counts.

Usage from any stage: ``from bot import metrics`` then e.g.
``metrics.POLLS.labels(feed=feed.name, outcome="ok").inc()``.

The metrics live in prometheus-client's *default* registry (``prometheus_client.REGISTRY``) on
purpose: it already carries the process and platform collectors (memory, CPU, open file
descriptors, Python GC), which are what an operator checks first when a long-running bot
misbehaves. ``bot.health`` serves exactly that registry on ``/metrics``. Label values are feed
names and watchlist names (bounded, admin-controlled); never put a chat id, a URL or a token in a
label.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

#: The registry ``/metrics`` serves (the default one, see the module docstring).
METRICS_REGISTRY: CollectorRegistry = REGISTRY

#: Allowed label values, documented here so callers and tests agree on the spelling.
POLL_OUTCOMES = ("ok", "not_modified", "error")
ITEM_KINDS = ("new", "known", "backlog")
ALERT_OUTCOMES = ("sent", "failed", "retried", "dropped", "updated")
RELOAD_OUTCOMES = ("ok", "invalid")

# A feed poll is one HTTP request plus parsing: usually under a second, up to the fetch timeout.
_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
# One delivery attempt is one Bot API call; a 429 wait (retry_after) can stretch it to a minute.
_DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

POLLS = Counter(
    "newsbot_polls",
    "Feed polls, by feed and outcome (ok, not_modified, error).",
    ["feed", "outcome"],
)
FETCH_ERRORS = Counter(
    "newsbot_fetch_errors",
    "Feed polls that failed (network, HTTP status, unparseable body), by feed.",
    ["feed"],
)
ITEMS = Counter(
    "newsbot_items",
    "Feed items seen, by feed and kind: new, known (seen before), backlog (first poll of a feed).",
    ["feed", "kind"],
)
MATCHES = Counter(
    "newsbot_matches",
    "Items that matched a watchlist, by watchlist.",
    ["watchlist"],
)
ALERTS = Counter(
    "newsbot_alerts",
    "Alert delivery attempts by outcome: sent, failed, retried, dropped, updated (message edited).",
    ["outcome"],
)
OUTBOX_DEPTH = Gauge(
    "newsbot_outbox_depth",
    "Alerts waiting in the store to be delivered.",
)
POLL_SECONDS = Histogram(
    "newsbot_poll_seconds",
    "Duration of one feed poll (fetch and parse), in seconds.",
    buckets=_POLL_BUCKETS,
)
DELIVERY_SECONDS = Histogram(
    "newsbot_delivery_seconds",
    "Duration of one alert delivery attempt (the Bot API call, including rate-limit waits).",
    buckets=_DELIVERY_BUCKETS,
)
RELOADS = Counter(
    "newsbot_reloads",
    "Reloads of feeds file and watchlists by outcome: ok, or invalid (refused, last good kept).",
    ["outcome"],
)
SKIPPED_RUNS = Counter(
    "newsbot_skipped_runs",
    "Scheduler runs that were missed or skipped (previous run still going, or too late), by job.",
    ["job"],
)
ALERT_DELAY = Histogram(
    "newsbot_alert_delay_seconds",
    "From an item's first appearance in its feed (its publication time, else when first seen)"
    " to its alert being delivered; real-time alerts only (digests wait on purpose).",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600),
)
FEED_INTERVAL = Gauge(
    "newsbot_feed_interval_seconds",
    "The current wait before the next poll of a feed (adaptive, see bot/freshness.py).",
    ["feed"],
)
LEADER = Gauge(
    "newsbot_leader",
    "1 when this replica holds the leader lock, else 0 (SQLite: the leader alone polls the feeds;"
    " PostgreSQL: every replica polls its share, see newsbot_feeds_leased).",
)
FEEDS_LEASED = Gauge(
    "newsbot_feeds_leased",
    "PostgreSQL replicas: feeds whose latest lease is this replica's (it polls them now or polled"
    " them last): its share of the polling. 0 on SQLite.",
)
WEBSUB_PUSHES = Counter(
    "newsbot_websub_pushes",
    "WebSub pushes received, by outcome: accepted (signature right, stored like a poll),"
    " rejected (signature missing or wrong: ignored), unknown (no such subscription).",
    ["outcome"],
)
WEBSUB_REQUESTS = Counter(
    "newsbot_websub_requests",
    "Subscribe and unsubscribe requests sent to WebSub hubs, by mode and outcome (ok, error).",
    ["mode", "outcome"],
)
WEBSUB_ACTIVE = Gauge(
    "newsbot_websub_subscriptions",
    "Feeds with a WebSub subscription in force (pushed to us), as the leader replica last saw.",
)


def forget_feed(feed: str) -> None:
    """Drop every series labelled with `feed`.

    Called after a reload removes a feed, so dashboards stop showing a feed that no longer exists
    instead of carrying its last values forever.
    """
    for outcome in POLL_OUTCOMES:
        _remove(POLLS, feed, outcome)
    _remove(FETCH_ERRORS, feed)
    _remove(FEED_INTERVAL, feed)
    for kind in ITEM_KINDS:
        _remove(ITEMS, feed, kind)


def observe_alert_delay(published: datetime | None, delivered: datetime) -> None:
    """Record how long a real-time alert took from its item's publication to delivery.

    Times in the future (an outlet's clock ahead) count as no delay; news older than a day
    is not "delivered late", it was first seen late (a new feed, stale news): left out."""
    if published is None:
        return
    seconds = (delivered - published).total_seconds()
    if seconds <= 86_400:
        ALERT_DELAY.observe(max(0.0, seconds))


def forget_watchlist(watchlist: str) -> None:
    """Drop the match series of a watchlist that a reload removed."""
    _remove(MATCHES, watchlist)


def _remove(metric: Counter | Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # that combination was never recorded
        metric.remove(*labels)
