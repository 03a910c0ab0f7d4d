"""Fetching feeds over real loopback sockets: validators, faults, redirects, caps and backoff."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import brotli
import httpx
import pytest
from feedserver import FeedServer

from bot.fetch import (
    MAX_BACKOFF,
    USER_AGENT,
    FetchResult,
    fetch,
    is_due,
    make_client,
    next_state,
)
from bot.models import Feed, FeedState

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>T</title>
<item><title>Barella rinnova</title><link>https://www.example-sport.it/1</link></item>
</channel></rss>"""
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
LAST_MODIFIED = "Fri, 06 Mar 2026 07:00:00 GMT"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(connect_timeout=1, read_timeout=0.2) as http:
        yield http


def feed_at(server: FeedServer, path: str, name: str = "Test") -> Feed:
    return Feed(name=name, url=server.url(path), interval=120)


async def test_ok_fetch_returns_body_validators_and_sends_a_real_user_agent(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/rss", RSS, etag='"v1"', last_modified=LAST_MODIFIED)
    result = await fetch(client, feed_at(feed_server, "/rss"), None)

    assert result.status == "ok"
    assert result.body == RSS
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)
    assert result.http_status == 200
    assert result.content_type == "application/rss+xml"
    assert result.final_url == feed_server.url("/rss")
    assert result.error is None
    sent = feed_server.requests("/rss")[0]
    assert sent["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("newsbot/") and "(+https://" in USER_AGENT


async def test_second_poll_is_conditional_and_304_means_not_modified_without_body(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/rss", RSS, etag='"v1"', last_modified=LAST_MODIFIED)
    feed = feed_at(feed_server, "/rss")
    first = await fetch(client, feed, None)
    state = next_state(None, first, NOW, feed.interval)
    assert (state.etag, state.last_modified, state.polled_at) == ('"v1"', LAST_MODIFIED, NOW)

    second = await fetch(client, feed, state)

    assert second.status == "not_modified"
    assert second.body == b""
    assert second.http_status == 304
    sent = feed_server.requests("/rss")[1]
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == LAST_MODIFIED
    later = next_state(state, second, NOW + timedelta(minutes=2), feed.interval)
    assert (later.etag, later.last_modified) == ('"v1"', LAST_MODIFIED)
    assert later.polled_at == NOW + timedelta(minutes=2)


async def test_changed_feed_answers_200_to_stale_validators(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed = feed_at(feed_server, "/rss")
    stale = FeedState(url=feed.url, etag='"v1"')
    feed_server.set("/rss", RSS + b" ", etag='"v2"')

    result = await fetch(client, feed, stale)

    assert result.status == "ok" and result.etag == '"v2"'
    assert next_state(stale, result, NOW, 120).etag == '"v2"'


async def test_last_modified_alone_gives_304(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/rss", RSS, last_modified=LAST_MODIFIED)
    feed = feed_at(feed_server, "/rss")
    state = FeedState(url=feed.url, last_modified=LAST_MODIFIED)

    result = await fetch(client, feed, state)

    assert result.status == "not_modified"
    assert "if-none-match" not in feed_server.requests("/rss")[0]


async def test_slow_server_times_out_with_a_clear_message(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/slow", RSS, delay=1.0)

    result = await fetch(client, feed_at(feed_server, "/slow"), None)

    assert result.status == "error"
    assert result.error == "timeout after 0.2s"
    assert result.elapsed < 0.9


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error"), (410, "HTTP 410 Gone")],
)
async def test_http_errors_are_one_line_messages(
    feed_server: FeedServer, client: httpx.AsyncClient, status: int, message: str
) -> None:
    feed_server.set("/rss", b"<html>oops</html>", status=status)

    result = await fetch(client, feed_at(feed_server, "/rss"), None)

    assert (result.status, result.error, result.http_status) == ("error", message, status)
    assert result.body == b""


async def test_refused_connection(feed_server: FeedServer, client: httpx.AsyncClient) -> None:
    feed = Feed(name="Down", url=feed_server.closed_url())

    result = await fetch(client, feed, None)

    assert (result.status, result.error) == ("error", "connection refused")


async def test_invalid_address_is_an_error_not_an_exception(client: httpx.AsyncClient) -> None:
    result = await fetch(client, Feed(name="Bad", url="ftp://example-sport.it/rss"), None)

    assert result.status == "error"
    assert result.error and result.error.startswith("invalid URL")


async def test_declared_oversized_body_is_refused(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/big", b"x" * 2_000_001)

    result = await fetch(client, feed_at(feed_server, "/big"), None, max_bytes=2_000_000)

    assert (result.status, result.error) == ("error", "body larger than 2 MB")
    assert result.body == b""


async def test_size_cap_is_enforced_while_streaming(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    limit = 64_000_000
    feed_server.stream("/endless", limit=limit)

    result = await fetch(client, feed_at(feed_server, "/endless"), None, max_bytes=1_000_000)

    assert (result.status, result.error) == ("error", "body larger than 1 MB")
    # The client hung up early: the server could not push anywhere near the whole body.
    assert feed_server.sent("/endless") < limit // 4


async def test_each_fault_is_one_clear_error_and_good_feeds_are_unaffected(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/a", RSS)
    feed_server.set("/b", RSS.replace(b"Barella", b"Bastoni"))
    feed_server.set("/missing", b"", status=404)
    feed_server.set("/slow", RSS, delay=1.0)
    feed_server.set("/big", b"x" * 50_000)
    feeds = [
        feed_at(feed_server, "/a", "A"),
        feed_at(feed_server, "/missing", "Missing"),
        Feed(name="Down", url=feed_server.closed_url()),
        feed_at(feed_server, "/slow", "Slow"),
        feed_at(feed_server, "/big", "Big"),
        feed_at(feed_server, "/b", "B"),
    ]

    results = await asyncio.gather(*(fetch(client, f, None, max_bytes=10_000) for f in feeds))

    assert [r.feed.name for r in results] == [f.name for f in feeds]
    assert [r.status for r in results] == ["ok", "error", "error", "error", "error", "ok"]
    assert results[0].body == RSS
    assert b"Bastoni" in results[5].body
    assert [r.error for r in results[1:5]] == [
        "HTTP 404 Not Found",
        "connection refused",
        "timeout after 0.2s",
        "body larger than 10 kB",
    ]


async def test_permanent_redirect_is_reported_but_adopted_only_once_confirmed(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.redirect("/old", "/new", status=301)
    feed_server.set("/new", RSS, etag='"n1"')
    feed = feed_at(feed_server, "/old")

    result = await fetch(client, feed, None)
    state = next_state(None, result, NOW, feed.interval)

    assert result.status == "ok" and result.body == RSS
    assert result.moved_to == feed_server.url("/new") == result.final_url
    assert state.url == feed.url  # one answer moves nothing (tests/test_redirects.py: when)


@pytest.mark.parametrize("status", [302, 303, 307])
async def test_temporary_redirect_is_followed_but_not_remembered(
    feed_server: FeedServer, client: httpx.AsyncClient, status: int
) -> None:
    feed_server.redirect("/rss", "/today", status=status)
    feed_server.set("/today", RSS)
    feed = feed_at(feed_server, "/rss")

    result = await fetch(client, feed, None)

    assert result.status == "ok" and result.body == RSS
    assert result.moved_to is None
    assert result.final_url == feed_server.url("/today")
    assert next_state(None, result, NOW, 120).url == feed.url


async def test_308_then_302_remembers_only_the_permanent_hop(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.redirect("/a", "/b", status=308)
    feed_server.redirect("/b", "/c", status=302)
    feed_server.set("/c", RSS)

    result = await fetch(client, feed_at(feed_server, "/a"), None)

    assert result.status == "ok"
    assert result.moved_to == feed_server.url("/b")


async def test_redirect_loop_is_bounded(feed_server: FeedServer, client: httpx.AsyncClient) -> None:
    feed_server.redirect("/ping", "/pong", status=301)
    feed_server.redirect("/pong", "/ping", status=301)

    result = await fetch(client, feed_at(feed_server, "/ping"), None, max_redirects=3)

    assert (result.status, result.error) == ("error", "too many redirects (more than 3)")
    assert result.moved_to is None
    hops = len(feed_server.requests("/ping")) + len(feed_server.requests("/pong"))
    assert hops == 4


async def test_permanent_redirect_to_a_dead_page_is_not_remembered(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.redirect("/old", "/gone", status=301)
    feed = feed_at(feed_server, "/old")

    result = await fetch(client, feed, None)

    assert (result.status, result.error, result.moved_to) == ("error", "HTTP 404 Not Found", None)
    assert next_state(None, result, NOW, 120).url == feed.url


def _error_result(feed: Feed) -> FetchResult:
    return FetchResult(feed=feed, status="error", error="HTTP 503 Service Unavailable")


def test_backoff_grows_exponentially_is_capped_and_success_resets() -> None:
    feed = Feed(name="Flaky", url="https://www.example-sport.it/rss", interval=120)
    state = FeedState(url=feed.url, etag='"v1"', polled_at=NOW - timedelta(hours=1))
    delays = []
    now = NOW
    for _ in range(10):
        state = next_state(state, _error_result(feed), now, feed.interval)
        assert state.retry_at is not None
        delays.append(state.retry_at - now)
        assert not is_due(state, now)
        assert not is_due(state, state.retry_at - timedelta(seconds=1))
        assert is_due(state, state.retry_at)
        now = state.retry_at

    assert [d.total_seconds() for d in delays[:4]] == [240, 480, 960, 1920]
    assert delays[-1] == MAX_BACKOFF == timedelta(hours=6)
    assert state.failures == 10 and state.last_error == "HTTP 503 Service Unavailable"
    assert state.etag == '"v1"'  # failures keep the validators
    assert state.polled_at == NOW - timedelta(hours=1)  # and the last good poll

    ok = FetchResult(feed=feed, status="ok", body=RSS, etag='"v2"')
    recovered = next_state(state, ok, now, feed.interval)
    assert (recovered.failures, recovered.retry_at, recovered.last_error) == (0, None, None)
    assert recovered.polled_at == now and recovered.etag == '"v2"'
    assert is_due(recovered, now)


def test_jitter_spreads_retries_within_bounds() -> None:
    feed = Feed(name="Flaky", url="https://www.example-sport.it/rss", interval=100)
    retries = {
        next_state(None, _error_result(feed), NOW, 100, jitter=0.5).retry_at for _ in range(20)
    }
    assert len(retries) > 1
    assert all(NOW + timedelta(seconds=200) <= r <= NOW + timedelta(seconds=300) for r in retries)


def test_new_feed_is_due_and_first_state_uses_the_configured_url() -> None:
    feed = Feed(name="New", url="https://www.example-sport.it/rss")
    assert is_due(None, NOW)
    state = next_state(None, _error_result(feed), NOW, 120)
    assert state.url == feed.url and state.failures == 1 and state.polled_at is None


async def test_gzip_body_is_decoded_and_a_gzip_bomb_hits_the_cap(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    feed_server.set("/bomb", gzip.compress(b" " * 5_000_000), headers={"Content-Encoding": "gzip"})

    small = await fetch(client, feed_at(feed_server, "/gz"), None)
    bomb = await fetch(client, feed_at(feed_server, "/bomb"), None, max_bytes=1_000_000)

    assert (small.status, small.body) == ("ok", RSS)
    assert (bomb.status, bomb.error) == ("error", "body larger than 1 MB once inflated (gzip)")


async def test_overall_deadline_bounds_a_slow_answer(feed_server: FeedServer) -> None:
    feed_server.set("/slow", RSS, delay=1.0)

    async with make_client(read_timeout=5) as http:
        result = await fetch(http, feed_at(feed_server, "/slow"), None, deadline=0.3)

    assert (result.status, result.error) == ("error", "no complete answer within 0.3s")
    assert result.elapsed < 0.9


async def test_an_outlets_retry_after_is_honoured(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    """A 429 or 503 with Retry-After (seconds or an HTTP date) keeps us away at least that long,
    even when our own backoff would come back sooner."""
    feed = feed_at(feed_server, "/busy")
    feed_server.set("/busy", b"slow down", status=429, headers={"Retry-After": "3600"})
    result = await fetch(client, feed, None)
    assert (result.status, result.retry_after) == ("error", 3600.0)
    state = next_state(None, result, NOW, feed.interval)
    assert state.retry_at == NOW + timedelta(hours=1)  # not the 240 s of the first backoff

    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    feed_server.set("/busy", b"down", status=503, headers={"Retry-After": later})
    result = await fetch(client, feed, None)
    assert result.retry_after is not None and 7100 < result.retry_after <= 7200

    feed_server.set("/busy", b"gone", status=404, headers={"Retry-After": "3600"})
    assert (await fetch(client, feed, None)).retry_after is None  # only 429 and 503 ask to wait


GIB = 1 << 30


def zlib_bomb(inflated: int, wbits: int) -> bytes:
    """`inflated` zero bytes compressed (gzip: wbits 31, zlib: 15) without compressing them all.

    Each MiB is compressed after a full flush, so every block after the first is byte-identical
    and is simply repeated. The trailer is left off: a reader that honours the cap stops long
    before it (and one that does not would run out of memory first).
    """
    block = bytes(1 << 20)
    deflater = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    steady = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
    return head + steady * (inflated // len(block) - 1)


def brotli_bomb(inflated: int) -> bytes:
    """`inflated` zero bytes as brotli, built the same way (identical flushed meta-blocks)."""
    block = bytes(1 << 20)
    compressor = brotli.Compressor(quality=1)
    head = compressor.process(block) + compressor.flush()
    steady = compressor.process(block) + compressor.flush()
    return head + steady * (inflated // len(block) - 1) + compressor.finish()


async def _peak_of(coroutine: Awaitable[FetchResult]) -> tuple[FetchResult, int]:
    tracemalloc.start()
    try:
        result = await coroutine
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_a_2_gib_compression_bomb_is_refused_within_the_cap(
    feed_server: FeedServer, client: httpx.AsyncClient, encoding: str
) -> None:
    bomb = {
        "gzip": lambda: zlib_bomb(2 * GIB, 31),
        "deflate": lambda: zlib_bomb(2 * GIB, 15),
        "br": lambda: brotli_bomb(2 * GIB),
    }[encoding]()
    assert len(bomb) < 2_500_000  # about 2 MB on the wire
    feed_server.set("/bomb", bomb, headers={"Content-Encoding": encoding})
    cap = 5_000_000

    result, peak = await _peak_of(fetch(client, feed_at(feed_server, "/bomb"), None, max_bytes=cap))

    assert (result.status, result.error) == (
        "error",
        f"body larger than 5 MB once inflated ({encoding})",
    )
    assert peak < 3 * cap, f"peak {peak / 1e6:.1f} MB for a {cap / 1e6:g} MB cap"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw deflate, as some servers send
        ("br", brotli.compress),
        ("gzip, br", lambda body: brotli.compress(gzip.compress(body))),
        ("identity", lambda body: body),
    ],
)
async def test_every_offered_encoding_is_decoded(
    feed_server: FeedServer,
    client: httpx.AsyncClient,
    encoding: str,
    encode: Callable[[bytes], bytes],
) -> None:
    big = RSS.replace(b"</channel>", b"<!--" + b"pad " * 100_000 + b"--></channel>")
    feed_server.set("/feed", encode(big), headers={"Content-Encoding": encoding})

    result = await fetch(client, feed_at(feed_server, "/feed"), None)

    assert (result.status, result.body) == ("ok", big)
    assert feed_server.requests("/feed")[-1]["accept-encoding"] == "gzip, deflate, br"


async def test_a_corrupt_or_unknown_encoding_is_one_clear_error(
    feed_server: FeedServer, client: httpx.AsyncClient
) -> None:
    feed_server.set(
        "/corrupt", b"\x1f\x8b\x08\x00garbage" * 10, headers={"Content-Encoding": "gzip"}
    )
    feed_server.set("/zstd", b"(\xb5/\xfd", headers={"Content-Encoding": "zstd"})

    corrupt = await fetch(client, feed_at(feed_server, "/corrupt"), None)
    unknown = await fetch(client, feed_at(feed_server, "/zstd"), None)

    assert corrupt.status == "error" and str(corrupt.error).startswith("corrupt gzip body: ")
    assert (unknown.status, unknown.error) == ("error", "unsupported Content-Encoding 'zstd'")
