"""WebSub: a feed that advertises a hub pushes its news; the pushed item alerts once, whether it
later comes again by push or by poll; a forged push alerts nobody; nobody can make us confirm a
subscription we did not ask for."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from bot.config import Settings
from bot.health import Request
from bot.models import Feed
from bot.parse import parse_bytes
from bot.pipeline import Pipeline
from bot.pushes import WebSub
from bot.registry import Registry
from bot.runner import Runner
from bot.store import Store
from bot.websub import (
    Discovery,
    Subscription,
    check_signature,
    next_action,
    renew_at,
    secure_hub,
    verify_intent,
)
from tests.fakehub import FakeHub

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 6, 18, 0, tzinfo=UTC)


def rss(items: list[tuple[str, str]], *, hub: str | None, self_url: str | None) -> bytes:
    """An RSS 2.0 feed whose channel advertises `hub` and `self_url` as atom:links."""
    links = ""
    if hub:
        links += f'<atom:link rel="hub" href="{hub}"/>'
    if self_url:
        links += f'<atom:link rel="self" href="{self_url}" type="application/rss+xml"/>'
    published = format_datetime(datetime.now(UTC) - timedelta(minutes=5))
    entries = "".join(
        f"<item><title>{title}</title><link>https://www.tmw.example/{guid}</link>"
        f"<guid>{guid}</guid><pubDate>{published}</pubDate></item>"
        for guid, title in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>TMW</title><link>https://www.tmw.example/</link>{links}{entries}"
        "</channel></rss>"
    ).encode()


BACKLOG = ("a-1", "Milan, Allegri prepara la trasferta di Lecce")
PUSHED = ("a-2", "Pulisic decide: il Milan vince a Lecce")
FORGED = ("a-3", "Clamoroso: Leão lascia il Milan")


# ---------------------------------------------------------------- the rules


def test_a_feed_names_its_hub_and_itself_and_a_hub_without_self_falls_back_to_its_address() -> None:
    feed = Feed("TMW", "http://127.0.0.1:1/rss")
    body = rss([PUSHED], hub="https://hub.example/", self_url="https://tmw.example/rss")
    found = parse_bytes(body, feed).hub
    assert found is not None and (found.hub, found.topic) == (
        "https://hub.example/",
        "https://tmw.example/rss",
    )
    found = parse_bytes(rss([PUSHED], hub="https://hub.example/", self_url=None), feed).hub
    assert found is not None and found.topic == feed.url
    assert (
        parse_bytes(rss([PUSHED], hub=None, self_url="https://tmw.example/rss"), feed).hub is None
    )
    assert parse_bytes(rss([PUSHED], hub="javascript:alert(1)", self_url=None), feed).hub is None


def test_signatures_in_every_method_the_spec_allows_and_nothing_else() -> None:
    import hashlib
    import hmac

    body = b"<rss/>"
    for method in ("sha1", "sha256", "sha384", "sha512"):
        good = hmac.new(b"s3cret", body, getattr(hashlib, method)).hexdigest()
        assert check_signature("s3cret", body, f"{method}={good}") is None
        assert check_signature("s3cret", body + b" ", f"{method}={good}") is not None
        assert check_signature("other", body, f"{method}={good}") is not None
    assert check_signature("s3cret", body, None) == "no X-Hub-Signature"
    md5 = hmac.new(b"s3cret", body, hashlib.md5).hexdigest()
    assert "unsupported" in (check_signature("s3cret", body, f"md5={md5}") or "")


def _sub(**kw: object) -> Subscription:
    values: dict[str, object] = {
        "feed_url": "http://x/rss",
        "hub": "https://hub.example/",
        "topic": "https://tmw.example/rss",
        "callback": "tok",
        "secret": "s",
    }
    values.update(kw)
    return Subscription(**values)  # type: ignore[arg-type]


def test_only_the_request_we_made_is_confirmed() -> None:
    pending = _sub(pending="subscribe")
    ask = {"hub.mode": "subscribe", "hub.topic": pending.topic, "hub.challenge": "c1"}
    verdict = verify_intent(pending, {**ask, "hub.lease_seconds": "600"})
    assert (verdict.status, verdict.body, verdict.lease_seconds) == (200, "c1", 600)
    assert verify_intent(None, ask).status == 404  # unknown callback
    assert verify_intent(pending, {**ask, "hub.topic": "https://evil/"}).status == 404
    assert verify_intent(pending, {**ask, "hub.mode": "unsubscribe"}).status == 404
    assert verify_intent(_sub(), ask).status == 404  # nothing pending: not asked
    assert verify_intent(pending, {**ask, "hub.challenge": ""}).status == 404
    leaving = _sub(pending="unsubscribe")
    verdict = verify_intent(leaving, {**ask, "hub.mode": "unsubscribe"})
    assert (verdict.status, verdict.body, verdict.change) == (200, "c1", "forget")
    denied = {"hub.mode": "denied", "hub.topic": pending.topic, "hub.reason": "no"}
    assert verify_intent(pending, denied).change == "forget"
    assert verify_intent(_sub(expires_at=NOW), denied).change == "forget"  # ended by the hub
    assert verify_intent(pending, {**denied, "hub.topic": "https://evil/"}).status == 404


def test_renewed_before_the_lease_ends_and_retried_with_backoff() -> None:
    active = _sub(expires_at=NOW + timedelta(days=5), lease_seconds=5 * 86_400)
    assert next_action(active, True, NOW) is None
    renew = renew_at(active.expires_at, active.lease_seconds)  # type: ignore[arg-type]
    assert NOW < renew < active.expires_at  # type: ignore[operator]
    assert next_action(active, True, renew) == "subscribe"
    assert next_action(active, False, NOW) == "unsubscribe"
    asked = _sub(pending="subscribe", requested_at=NOW)
    assert next_action(asked, True, NOW + timedelta(minutes=1)) is None  # the hub may still call
    assert next_action(asked, True, NOW + timedelta(minutes=11)) == "subscribe"
    failed = _sub(failures=1, retry_at=NOW + timedelta(minutes=5))
    assert next_action(failed, True, NOW) is None
    assert next_action(failed, True, NOW + timedelta(minutes=5)) == "subscribe"


def test_the_secret_travels_only_over_https_or_within_this_machine() -> None:
    assert secure_hub("https://pubsubhubbub.appspot.com/")
    assert secure_hub("http://127.0.0.1:8080/hub")
    assert not secure_hub("http://hub.example/")


# ---------------------------------------------------------------- the manager, in-process


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub()
    yield server
    server.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _manager(store: Store, client: httpx.AsyncClient, feeds: list[Feed], clock: Clock) -> WebSub:
    pipeline = Pipeline(store, client, lambda: _Nothing(), clock=clock)

    async def nothing() -> None:
        return None

    return WebSub(
        "https://bot.example/websub", store, client, pipeline, lambda: feeds, nothing, clock=clock
    )


class _Nothing:
    def match(self, *args: object, **kw: object) -> list[object]:
        return []


async def _get(websub: WebSub, form: dict[str, str], challenge: str = "c") -> tuple[int, bytes]:
    token = form["hub.callback"].rsplit("/", 1)[1]
    query = httpx.QueryParams(
        {"hub.mode": form["hub.mode"], "hub.topic": form["hub.topic"], "hub.challenge": challenge}
        | ({"hub.lease_seconds": "1000"} if form["hub.mode"] == "subscribe" else {})
    )
    response = await websub.handle(Request("GET", "/websub/" + token, str(query)))
    return int(response.status), response.body


async def test_subscribed_renewed_and_unsubscribed_when_the_feed_leaves(
    store: Store, client: httpx.AsyncClient, hub: FakeHub
) -> None:
    clock = Clock()
    feed = Feed("TMW", "http://127.0.0.1:1/rss")
    feeds = [feed]
    websub = _manager(store, client, feeds, clock)
    found = parse_bytes(rss([], hub=hub.url, self_url="http://127.0.0.1:1/rss"), feed).hub
    await websub.discovered(feed, found)
    await websub.idle()
    first = hub.wait_for(1)
    assert first["hub.mode"] == "subscribe" and first["hub.topic"] == feed.url
    assert first["hub.callback"].startswith("https://bot.example/websub/")
    assert len(first["hub.secret"]) >= 32 and int(first["hub.lease_seconds"]) > 0
    assert await _get(websub, first, "hello") == (200, b"hello")
    assert websub.active(feed.url)

    await websub.tick()  # in force: nothing to ask
    assert len(hub.requests) == 1
    clock.now += timedelta(seconds=1000 - 60)  # the lease of 1000 s nears its end
    await websub.tick()
    renewal = hub.wait_for(2)
    assert (renewal["hub.mode"], renewal["hub.callback"]) == ("subscribe", first["hub.callback"])
    assert await _get(websub, renewal) == (200, b"c")

    feeds.clear()  # the feed left the feeds file
    await websub.tick()
    leave = hub.wait_for(3)
    assert (leave["hub.mode"], leave["hub.callback"]) == ("unsubscribe", first["hub.callback"])
    assert await _get(websub, leave, "bye") == (200, b"bye")
    assert store.websub_subscriptions() == []
    assert await _get(websub, first) == (404, b"no such subscription request\n")

    feeds.append(feed)  # back in the feeds file: its next poll subscribes afresh
    await websub.tick()
    await websub.discovered(feed, found)
    await websub.idle()
    again = hub.wait_for(4)
    assert again["hub.mode"] == "subscribe" and again["hub.callback"] != first["hub.callback"]


async def test_a_hub_named_only_in_http_link_headers_is_found_and_asked(
    store: Store, client: httpx.AsyncClient, hub: FakeHub, feed_server: object
) -> None:
    server = feed_server  # tests/feedserver.py
    url = server.url("/tmw.xml")  # type: ignore[attr-defined]
    topic = server.url("/canonical.xml")  # type: ignore[attr-defined]
    link = f'<{hub.url}>; rel="hub", </canonical.xml>; rel="self"'
    # The document names another hub and itself: the headers come first, as WebSub says.
    document = rss([BACKLOG], hub="https://elsewhere.example/hub", self_url=url)
    server.set("/tmw.xml", document, headers={"Link": link})  # type: ignore[attr-defined]
    feed = Feed("TMW", url)
    websub = _manager(store, client, [feed], Clock())
    outcome = await websub.pipeline.poll_feed(feed)
    assert outcome.status == "ok" and outcome.hub is not None
    await websub.discovered(feed, outcome.hub)
    await websub.idle()
    asked = hub.wait_for(1)
    assert (asked["hub.mode"], asked["hub.topic"]) == ("subscribe", topic)

    # Only the hub in a header: the topic is the document's rel="self".
    server.set(
        "/tmw.xml",
        rss([BACKLOG], hub=None, self_url=url),
        headers={"Link": f'<{hub.url}>; rel="hub"'},
    )  # type: ignore[attr-defined]
    assert (await websub.pipeline.poll_feed(feed, respect_backoff=False)).hub == Discovery(
        hub.url, url
    )


async def test_a_replica_without_the_leader_lock_records_hubs_but_asks_none(
    store: Store, client: httpx.AsyncClient, hub: FakeHub
) -> None:
    clock = Clock()
    feed = Feed("TMW", "http://127.0.0.1:1/rss", min_interval=30, max_interval=900)
    leader, other = (_manager(store, client, [feed], clock) for _ in range(2))
    other.subscribes = False  # PostgreSQL: it polls its share of the feeds, leads nothing
    found = parse_bytes(rss([], hub=hub.url, self_url=None), feed).hub
    await other.discovered(feed, found)
    await other.idle()
    assert hub.requests == [], "only the leader asks hubs"
    await leader.tick()
    assert await _get(leader, hub.wait_for(1)) == (200, b"c")
    assert not other.active(feed.url)
    await other.refresh()
    assert other.active(feed.url), "its polls of a pushed feed relax too"
    assert len(hub.requests) == 1


async def test_a_hub_that_refuses_is_asked_again_after_a_backoff(
    store: Store, client: httpx.AsyncClient, hub: FakeHub
) -> None:
    clock = Clock()
    feed = Feed("TMW", "http://127.0.0.1:1/rss")
    websub = _manager(store, client, [feed], clock)
    hub.status = 500
    found = parse_bytes(rss([], hub=hub.url, self_url=None), feed).hub
    await websub.discovered(feed, found)
    await websub.idle()
    hub.wait_for(1)
    [sub] = store.websub_subscriptions()
    assert sub.failures == 1 and sub.pending is None and "500" in (sub.last_error or "")
    await websub.tick()
    assert len(hub.requests) == 1  # backing off
    hub.status = 202
    clock.now += timedelta(minutes=5)
    await websub.tick()
    assert hub.wait_for(2)["hub.mode"] == "subscribe"


# ---------------------------------------------------------------- the service, real sockets


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pushes(outcome: str) -> float:
    return REGISTRY.get_sample_value("newsbot_websub_pushes_total", {"outcome": outcome}) or 0.0


def _interval() -> float:
    return REGISTRY.get_sample_value("newsbot_feed_interval_seconds", {"feed": "TMW"}) or 0.0


async def test_a_push_alerts_once_a_forged_one_nobody_and_strangers_get_404(
    tmp_path: Path, feed_server: object, hub: FakeHub
) -> None:
    server = feed_server  # tests/feedserver.py
    topic = server.url("/tmw.xml")  # type: ignore[attr-defined]
    server.set("/tmw.xml", rss([BACKLOG], hub=hub.url, self_url=topic))  # type: ignore[attr-defined]
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text(
        f"feeds:\n  - name: TMW\n    url: {topic}\n    min_interval: 30\n    max_interval: 900\n"
    )
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    registry = Registry(feeds_file, ROOT / "watchlists", store.watched_terms)
    registry.load()
    port = _free_port()
    settings = Settings(
        newsbot_http=f"127.0.0.1:{port}",
        newsbot_websub_url=f"http://127.0.0.1:{port}/websub",
    )
    runner = Runner(settings, argparse.Namespace(console=True, json=True), store, registry)
    out = io.StringIO()
    runner._console_delivery.out = out
    accepted, rejected = _pushes("accepted"), _pushes("rejected")
    try:
        await runner.start()
        form = await asyncio.to_thread(hub.wait_for, 1)  # the first poll found the hub
        assert form["hub.topic"] == topic

        stranger = await hub.verify(form, topic="http://127.0.0.1:1/other.xml")
        assert stranger.status_code == 404  # not a topic we asked for
        unknown = await hub.verify({**form, "hub.callback": form["hub.callback"] + "x"})
        assert unknown.status_code == 404
        confirmed = await hub.verify(form, challenge="sfida-123")
        assert (confirmed.status_code, confirmed.text) == (200, "sfida-123")

        pushed = await hub.publish(form, rss([BACKLOG, PUSHED], hub=hub.url, self_url=topic))
        assert pushed.status_code == 202
        await runner.websub.idle()  # type: ignore[union-attr]
        alerts = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [a["title"] for a in alerts] == [PUSHED[1]]

        forged = rss([FORGED], hub=hub.url, self_url=topic)
        refused = await hub.publish(form, forged, secret="not-the-secret")
        assert refused.status_code == 403
        await hub.publish(form, rss([BACKLOG, PUSHED], hub=hub.url, self_url=topic), method="sha1")
        server.set("/tmw.xml", rss([BACKLOG, PUSHED], hub=hub.url, self_url=topic))  # type: ignore[attr-defined]
        await runner._poll(registry.feeds[0])  # the same item, polled: known
        await runner.websub.idle()  # type: ignore[union-attr]
        await runner._deliver_console()
        alerts = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [a["title"] for a in alerts] == [PUSHED[1]], "one alert, however it arrived"
        assert (_pushes("accepted") - accepted, _pushes("rejected") - rejected) == (2, 1)

        # While pushes come, polling is the safety net: the adaptive feed waits its ceiling.
        assert _interval() < 900  # a busy feed (items minutes old), before the subscription
        assert runner.websub.active(topic)  # type: ignore[union-attr]
        await runner.scheduler._poll_and_retime(registry.feeds[0])
        assert _interval() == 900
    finally:
        await runner.stop()
        store.close()


def test_an_absurd_lease_is_taken_as_a_year() -> None:
    pending = _sub(pending="subscribe")
    ask = {"hub.mode": "subscribe", "hub.topic": pending.topic, "hub.challenge": "c"}
    verdict = verify_intent(pending, {**ask, "hub.lease_seconds": str(10**15)})
    assert verdict.lease_seconds == 366 * 86_400


async def test_a_store_that_fails_makes_the_hub_try_again_later(
    store: Store, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    websub = _manager(store, client, [], Clock())

    def broken(token: str) -> None:
        raise OSError("disk I/O error")

    monkeypatch.setattr(store, "websub_by_callback", broken)
    response = await websub.handle(Request("POST", "/websub/abc", "", {}, b"<rss/>"))
    assert response.status == 503
