"""Redirects a feed may follow, over real loopback sockets, and when a permanent one is adopted.

Every test server listens on 127.0.0.1, and a loopback feed may redirect within loopback. To
see what a *public* feed may do, feeds are configured under made-up host names: `TestDNS`
tells the redirect check what each name resolves to, and its transport connects every name
to the loopback server (the request keeps its Host header). Only name resolution is staged;
the redirects, sockets and HTTP are real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from feedserver import FeedServer
from test_cli import feeds_file, poll

from bot.fetch import ACCEPT, MOVE_CONFIRMATIONS, USER_AGENT, fetch, make_client
from bot.match import Matcher
from bot.models import Feed, Term, Watchlist
from bot.pipeline import Pipeline
from bot.redirects import address_kind, address_kinds, redirect_refusal, system_resolve
from bot.registry import CombinedMatcher
from bot.store import Store

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>Milan, vittoria</title>'
    b"<link>https://tmw.example/1</link></item></channel></rss>"
)
MATCHER = CombinedMatcher((Matcher([Watchlist("milan", (Term("Milan"),))]),))
PUBLIC_IP = "93.184.215.14"


# ------------------------------------------------------------------ the pure policy


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("93.184.215.14", "public"),
        ("2a00:1450:4002:80b::200e", "public"),
        ("127.0.0.1", "loopback"),
        ("127.8.8.8", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "reserved"),
        ("224.0.0.1", "reserved"),
    ],
)
def test_address_kinds(address: str, kind: str) -> None:
    assert address_kind(address) == kind


@pytest.mark.parametrize(
    ("target", "target_kinds", "origin_kinds", "refusal"),
    [
        ("https://cdn.example/rss", {"public"}, {"public"}, None),
        ("https://cdn.example/rss", {"public"}, {"loopback"}, None),
        ("http://127.0.0.1:8080/metrics", {"loopback"}, {"public"}, "a loopback address"),
        ("http://intranet.example/", {"private"}, {"public"}, "a private address"),
        ("http://both.example/", {"public", "private"}, {"public"}, "a private address"),
        ("http://169.254.169.254/latest/", {"link-local"}, {"loopback"}, "a link-local address"),
        ("http://0.0.0.0:8080/", {"reserved"}, {"public"}, "a reserved address"),
        ("http://127.0.0.1:9/feed", {"loopback"}, {"loopback"}, None),
        ("http://10.1.1.1/feed", {"private"}, {"private"}, None),
        ("http://10.1.1.1/feed", {"private"}, {"loopback"}, "a private address"),
        ("file:///etc/passwd", set(), {"loopback"}, "a non-http address refused (file:)"),
        ("ftp://ftp.example/feed", {"public"}, {"public"}, "a non-http address refused (ftp:)"),
        ("javascript:alert(1)", set(), {"public"}, "a non-http address refused (javascript:)"),
        ("http:///nohost", set(), {"public"}, "without a host"),
        ("https://unknown.invalid/", set(), {"public"}, None),  # fails as the request would
    ],
)
def test_redirect_policy(
    target: str, target_kinds: set[str], origin_kinds: set[str], refusal: str | None
) -> None:
    found = redirect_refusal(target, target_kinds, origin_kinds)  # type: ignore[arg-type]
    if refusal is None:
        assert found is None
    else:
        assert found is not None and refusal in found


async def test_host_names_are_resolved_before_deciding() -> None:
    async def resolve(host: str) -> list[str]:
        return {"sneaky.example": ["127.0.0.1"], "mixed.example": [PUBLIC_IP, "10.0.0.1"]}.get(
            host, []
        )

    assert await address_kinds("http://sneaky.example/", resolve) == {"loopback"}
    assert await address_kinds("http://mixed.example/", resolve) == {"public", "private"}
    assert await address_kinds("http://[::1]:80/", resolve) == {"loopback"}
    assert await address_kinds("http://nowhere.example/", resolve) == frozenset()
    assert await address_kinds("http://localhost/") == {"loopback"}  # the system resolver


# ------------------------------------------------------------------ real redirects


class TestDNS(httpx.AsyncBaseTransport):
    """Made-up host names: what the redirect check is told they resolve to, and a transport
    that connects all of them to the loopback feed server."""

    __test__ = False

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self._inner = httpx.AsyncHTTPTransport()

    async def resolve(self, host: str) -> list[str]:
        return [self.names[host]] if host in self.names else await system_resolve(host)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.names:
            request.url = request.url.copy_with(host="127.0.0.1")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def dns() -> AsyncIterator[tuple[TestDNS, httpx.AsyncClient]]:
    names = {
        "news.example": PUBLIC_IP,
        "cdn.example": "93.184.215.15",
        "intranet.example": "127.0.0.1",
        "office.example": "10.0.0.5",
    }
    transport = TestDNS(names)
    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
    async with httpx.AsyncClient(
        transport=transport, headers=headers, follow_redirects=False, timeout=5
    ) as client:
        yield transport, client


def named(server: FeedServer, host: str, path: str) -> str:
    return f"http://{host}:{server.port}{path}"


async def test_a_public_feed_follows_a_redirect_to_another_public_host(
    feed_server: FeedServer, dns: tuple[TestDNS, httpx.AsyncClient]
) -> None:
    transport, client = dns
    feed_server.set("/real.xml", RSS)
    feed_server.redirect("/feed.xml", named(feed_server, "cdn.example", "/real.xml"), status=302)
    feed = Feed("Public", named(feed_server, "news.example", "/feed.xml"))

    result = await fetch(client, feed, None, resolve=transport.resolve)

    assert (result.status, result.body) == ("ok", RSS)
    assert feed_server.requests("/real.xml")[0]["host"].startswith("cdn.example")


@pytest.mark.parametrize(
    ("target", "refusal"),
    [
        ("http://127.0.0.1:{port}/real.xml", "redirect to a loopback address refused"),
        ("http://localhost:{port}/real.xml", "redirect to a loopback address refused"),
        ("http://intranet.example:{port}/real.xml", "redirect to a loopback address refused"),
        ("http://office.example:{port}/real.xml", "redirect to a private address refused"),
        ("http://169.254.169.254/latest/meta-data/", "redirect to a link-local address refused"),
        ("file:///etc/passwd", "redirect to a non-http address refused (file:)"),
    ],
)
async def test_a_public_feed_may_not_redirect_into_the_local_network(
    feed_server: FeedServer, dns: tuple[TestDNS, httpx.AsyncClient], target: str, refusal: str
) -> None:
    transport, client = dns
    feed_server.set("/real.xml", RSS)
    feed_server.redirect("/feed.xml", target.format(port=feed_server.port), status=301)
    feed = Feed("Public", named(feed_server, "news.example", "/feed.xml"))

    result = await fetch(client, feed, None, resolve=transport.resolve)

    assert result.status == "error" and str(result.error).startswith(refusal)
    assert result.moved_to is None
    assert feed_server.requests("/real.xml") == []  # never asked


@pytest.mark.parametrize(
    ("target", "refusal"),
    [
        ("http://169.254.169.254/latest/meta-data/", "redirect to a link-local address refused"),
        ("http://10.0.0.5/feed.xml", "redirect to a private address refused"),
        ("ftp://127.0.0.1/feed.xml", "redirect to a non-http address refused (ftp:)"),
        ("file:///etc/passwd", "redirect to a non-http address refused (file:)"),
    ],
)
async def test_a_loopback_feed_moves_within_loopback_only(
    feed_server: FeedServer, target: str, refusal: str
) -> None:
    feed_server.set("/real.xml", RSS)
    feed_server.redirect("/ok.xml", "/real.xml", status=302)
    feed_server.redirect("/bad.xml", target, status=302)
    local_name = Feed("Local", f"http://localhost:{feed_server.port}/ok.xml")
    async with make_client(connect_timeout=1, read_timeout=1) as client:
        allowed = await fetch(client, local_name, None)
        refused = await fetch(client, Feed("Local", feed_server.url("/bad.xml")), None)

    assert (allowed.status, allowed.body) == ("ok", RSS)  # localhost -> 127.0.0.1: both loopback
    assert refused.status == "error" and str(refused.error).startswith(refusal)


def test_poll_once_reports_a_refused_redirect_and_keeps_the_other_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.redirect("/metadata.xml", "http://169.254.169.254/latest/meta-data/", status=301)
    feed_server.set("/good.xml", RSS)
    feeds = feeds_file(
        tmp_path,
        {"Hijacked": feed_server.url("/metadata.xml"), "Good": feed_server.url("/good.xml")},
    )

    result = poll(tmp_path, feeds)

    assert result.returncode == 0, result.stderr
    assert "Hijacked" in result.stderr
    assert "redirect to a link-local address refused: http://169.254.169.254/" in result.stderr
    assert len(feed_server.requests("/good.xml")) == 1


# ------------------------------------------------------------------ adopting a permanent move


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()


async def test_a_permanent_redirect_is_adopted_after_three_good_polls(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.redirect("/old.xml", "/new.xml", status=301)
    feed_server.set("/new.xml", RSS, etag='"n1"')
    feed = Feed("Moved", feed_server.url("/old.xml"))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER)
        for poll_number in range(1, MOVE_CONFIRMATIONS + 1):
            state = store.feed_state(feed.url)
            assert state is None or state.url == feed.url, f"adopted before poll {poll_number}"
            assert (await pipe.poll_feed(feed, respect_backoff=False)).status in (
                "ok",
                "not_modified",  # a 304 through the same move counts as a good answer too
            )
        state = store.feed_state(feed.url)
        assert state is not None and state.url == feed_server.url("/new.xml")
        assert (state.moved_to, state.moved_hits) == (None, 0)
        await pipe.poll_feed(feed, respect_backoff=False)
    assert len(feed_server.requests("/old.xml")) == MOVE_CONFIRMATIONS  # then straight to /new


async def test_a_move_that_serves_no_feed_or_stops_is_not_adopted(
    store: Store, feed_server: FeedServer
) -> None:
    feed_server.redirect("/old.xml", "/parked.html", status=308)
    feed_server.set(
        "/parked.html",
        b"<html>This domain is for sale</html>",
        headers={"Content-Type": "text/html"},
    )
    feed = Feed("Hijacked", feed_server.url("/old.xml"))
    async with make_client() as client:
        pipe = Pipeline(store, client, lambda: MATCHER)
        for _ in range(MOVE_CONFIRMATIONS + 1):
            await pipe.poll_feed(feed, respect_backoff=False)
        parked = store.feed_state(feed.url)
        assert parked is not None and parked.url == feed.url and parked.moved_hits == 0

        feed_server.set("/new.xml", RSS)
        feed_server.redirect("/old.xml", "/new.xml", status=301)
        for _ in range(MOVE_CONFIRMATIONS - 1):
            await pipe.poll_feed(feed, respect_backoff=False)
        feed_server.set("/old.xml", RSS)  # the outlet changed its mind: the count starts over
        await pipe.poll_feed(feed, respect_backoff=False)
        feed_server.redirect("/old.xml", "/new.xml", status=301)
        await pipe.poll_feed(feed, respect_backoff=False)
    state = store.feed_state(feed.url)
    assert state is not None and state.url == feed.url
    assert (state.moved_to, state.moved_hits) == (feed_server.url("/new.xml"), 1)
