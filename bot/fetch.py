"""The fetch stage: every feed of a cycle over HTTP, concurrently, politely and within bounds.

Outlets are slow, move their feeds, answer 5xx for hours and occasionally serve a video instead
of XML. So every request has connect/read timeouts and an overall deadline, the body is capped
while it streams (a huge or endless body is cut off, not downloaded first), validators make the
next request conditional (a 304 costs no parsing), redirects are followed by hand so that a
permanent one can be remembered, and a failing feed backs off exponentially instead of being
hammered every cycle. No fault of the network or the server raises: it becomes an "error"
result with a one-line message that the operator can read.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal
from urllib.parse import urljoin

import httpx

from bot.freshness import outlet_floor
from bot.inflate import ACCEPT_ENCODING, Decoder, EncodingError
from bot.models import Feed, FeedState
from bot.redirects import Kind, Resolver, address_kinds, redirect_refusal, system_resolve

MAX_BACKOFF = timedelta(hours=6)
# A permanent redirect replaces the feed's address only after this many good polls through it:
# one answer from a hijacked or misconfigured server must not move the feed for good.
MOVE_CONFIRMATIONS = 3
MAX_RETRY_AFTER = timedelta(hours=24)  # a Retry-After beyond this is taken as a day
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)


def _version() -> str:
    try:
        return version("newsbot")
    except PackageNotFoundError:
        return "0"


USER_AGENT = f"newsbot/{_version()} (+https://github.com/newsbot)"


@dataclass(frozen=True)
class FetchResult:
    """What one poll of one feed brought back.

    `moved_to` is set when the feed answered with a permanent redirect (301/308) and the new
    address worked (`confirm_move` decides when the feed adopts it). `error` is a one-line
    human message.
    """

    feed: Feed
    status: Literal["ok", "not_modified", "error"]
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str = ""
    moved_to: str | None = None
    http_status: int | None = None
    error: str | None = None
    elapsed: float = 0.0
    retry_after: float | None = None  # seconds the server asked us to wait (429/503)
    cache_floor: float | None = None  # seconds the response says it stays fresh (max-age, Expires)
    link_hub: str | None = None  # the WebSub hub named by a `Link: <…>; rel="hub"` header
    link_self: str | None = None  # the feed's own address by `Link: <…>; rel="self"`


class _BodyTooLarge(Exception):
    """The body passed the size cap while streaming (`encoding`: it did so once inflated)."""

    def __init__(self, encoding: str | None = None) -> None:
        super().__init__(encoding)
        self.encoding = encoding


def make_client(*, connect_timeout: float = 5, read_timeout: float = 15) -> httpx.AsyncClient:
    """An HTTP client for feeds: real User-Agent, timeouts, no automatic redirects.

    Redirects are followed by `fetch` itself, which needs to see each hop to tell permanent
    moves from temporary ones. Content-Encoding is undone by `fetch` too (bot.inflate), in
    bounded pieces, so only the encodings it can decode are offered.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
    )
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
    )


def _megabytes(size: int) -> str:
    value = size / 1_000_000
    return f"{value:g} MB" if value >= 1 else f"{size // 1000} kB"


def _conditional_headers(state: FeedState | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state and state.etag:
        headers["If-None-Match"] = state.etag
    if state and state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def describe_error(exc: BaseException, client: httpx.AsyncClient | None = None) -> str:
    """One line an operator understands: "timeout after 15s", "connection refused", ..."""
    timeout = client.timeout if client is not None else None
    if isinstance(exc, httpx.ConnectTimeout):
        seconds = f" after {timeout.connect:g}s" if timeout and timeout.connect else ""
        return f"connect timeout{seconds}"
    if isinstance(exc, httpx.TimeoutException):
        seconds = f" after {timeout.read:g}s" if timeout and timeout.read else ""
        return f"timeout{seconds}"
    if isinstance(exc, httpx.ConnectError | OSError):
        return _describe_connect_error(exc)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL: {exc}".splitlines()[0]
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {exc}".splitlines()[0]
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe_connect_error(exc: BaseException) -> str:
    text = str(exc)
    chain: BaseException | None = exc
    while chain is not None:
        if isinstance(chain, OSError) and chain.errno == errno.ECONNREFUSED:
            return "connection refused"
        chain = chain.__cause__ or chain.__context__
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return "host name not found"
    if "temporary failure in name resolution" in lowered:
        return "host name not found (DNS)"
    return f"connection failed: {text}".splitlines()[0] if text else "connection failed"


def _error(feed: Feed, started: float, message: str, **kw: Any) -> FetchResult:
    return FetchResult(
        feed=feed, status="error", error=message, elapsed=time.monotonic() - started, **kw
    )


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, or _BodyTooLarge as soon as it passes `max_bytes` on the wire or inflated.

    The raw bytes are inflated here in bounded pieces (httpx's own decoding inflates a whole
    network chunk at once: 64 kB of a gzip bomb would be 64 MB before any check), so a bomb
    is refused having cost about the cap in memory.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _BodyTooLarge
    encoding = response.headers.get("content-encoding")
    decoder = Decoder(encoding)
    body = bytearray()
    wire = 0
    async for raw in response.aiter_raw():
        wire += len(raw)
        if wire > max_bytes:
            raise _BodyTooLarge
        for piece in decoder.decode(raw):
            body += piece
            if len(body) > max_bytes:
                raise _BodyTooLarge(encoding)
    for piece in decoder.finish():
        body += piece
        if len(body) > max_bytes:
            raise _BodyTooLarge(encoding)
    return bytes(body)


async def fetch(
    client: httpx.AsyncClient,
    feed: Feed,
    state: FeedState | None,
    *,
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
    deadline: float | None = 60.0,
    resolve: Resolver = system_resolve,
) -> FetchResult:
    """Poll one feed at its current address; never raises for network, HTTP or size faults.

    Sends the saved validators, follows at most `max_redirects` redirects (only those
    bot.redirects allows; `resolve` turns host names into addresses for that check), caps the
    body at `max_bytes` while streaming, and gives up after `deadline` seconds in total (a server
    that drips one byte per read timeout would otherwise hold the feed forever).
    """
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            return await _fetch(client, feed, state, max_bytes, max_redirects, started, resolve)
    except TimeoutError:
        return _error(feed, started, f"no complete answer within {deadline:g}s")
    except _BodyTooLarge as too_large:
        inflated = f" once inflated ({too_large.encoding})" if too_large.encoding else ""
        return _error(feed, started, f"body larger than {_megabytes(max_bytes)}{inflated}")
    except EncodingError as exc:
        return _error(feed, started, str(exc).splitlines()[0])
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return _error(feed, started, describe_error(exc, client))


async def _fetch(
    client: httpx.AsyncClient,
    feed: Feed,
    state: FeedState | None,
    max_bytes: int,
    max_redirects: int,
    started: float,
    resolve: Resolver,
) -> FetchResult:
    url = state.url if state and state.url else feed.url
    headers = _conditional_headers(state)
    moved_to: str | None = None
    still_permanent = True
    origin_kinds: frozenset[Kind] | None = None
    for _hop in range(max_redirects + 1):
        async with client.stream("GET", url, headers=headers) as response:
            location = response.headers.get("location")
            if not (response.status_code in REDIRECT_STATUSES and location):
                return await _final_result(feed, response, url, moved_to, max_bytes, started)
            still_permanent = still_permanent and response.status_code in PERMANENT_REDIRECTS
            url = urljoin(url, location.strip())
        if origin_kinds is None:  # resolved once, and only for feeds that redirect
            origin_kinds = await address_kinds(feed.url, resolve)
        refusal = redirect_refusal(url, await address_kinds(url, resolve), origin_kinds)
        if refusal:
            return _error(feed, started, refusal)
        moved_to = url if still_permanent else moved_to
    return _error(feed, started, f"too many redirects (more than {max_redirects})")


async def _final_result(
    feed: Feed,
    response: httpx.Response,
    url: str,
    moved_to: str | None,
    max_bytes: int,
    started: float,
) -> FetchResult:
    code = response.status_code
    common: dict[str, Any] = {
        "final_url": url,
        "http_status": code,
        "etag": response.headers.get("etag"),
        "last_modified": response.headers.get("last-modified"),
        "content_type": response.headers.get("content-type"),
        "link_hub": _link(response, "hub"),
        "link_self": _link(response, "self"),
        "cache_floor": outlet_floor(
            cache_control=response.headers.get("cache-control"),
            expires=response.headers.get("expires"),
            date=response.headers.get("date"),
        ),
    }
    if code == 304:
        elapsed = time.monotonic() - started
        return FetchResult(feed, "not_modified", moved_to=moved_to, elapsed=elapsed, **common)
    if code >= 400 or code < 200 or code in REDIRECT_STATUSES:
        reason = response.reason_phrase or httpx.codes.get_reason_phrase(code)
        wait = (
            retry_after_seconds(response.headers.get("retry-after")) if code in (429, 503) else None
        )
        return _error(feed, started, f"HTTP {code} {reason}".strip(), retry_after=wait, **common)
    body = await _read_capped(response, max_bytes)
    elapsed = time.monotonic() - started
    return FetchResult(feed, "ok", body=body, moved_to=moved_to, elapsed=elapsed, **common)


def _link(response: httpx.Response, rel: str) -> str | None:
    """The URL of the response's `Link` header with this `rel`, if any (resolved against the
    address fetched; a malformed header counts as none)."""
    try:
        target = response.links.get(rel, {}).get("url")
    except Exception:  # a header a server got wrong is no reason to fail a poll
        return None
    return str(response.url.join(target)) if target else None


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (delay in seconds, or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_delay(failures: int, interval: int) -> timedelta:
    """The rest after `failures` consecutive failures: interval x 2^failures, at most 6 h."""
    if failures <= 0:
        return timedelta(0)
    seconds = max(1, interval) * 2 ** min(failures, 30)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def next_state(
    state: FeedState | None,
    result: FetchResult,
    now: datetime,
    interval: int,
    *,
    jitter: float = 0.0,
) -> FeedState:
    """The feed's state after `result`.

    ok: new validators saved, failures cleared, polled_at set. not_modified: the same, keeping
    the old validators the 304 did not repeat. error: one more failure and a retry time that
    grows exponentially from `interval`, capped at 6 h (plus up to `jitter` x delay at random,
    so feeds that failed together do not retry together). The address changes only through
    `confirm_move`; an error ends the count of a pending move, and a 304 through the pending
    move counts as one more good answer from it.
    """
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    base = state or FeedState(url=result.feed.url)
    if result.status == "ok":
        return replace(
            base,
            etag=result.etag,
            last_modified=result.last_modified,
            failures=0,
            retry_at=None,
            polled_at=now,
            last_error=None,
        )
    if result.status == "not_modified":
        if result.moved_to != base.moved_to:
            base = replace(base, moved_to=None, moved_hits=0)
        elif base.moved_to:
            base = confirm_move(base, result.moved_to)
        return replace(
            base,
            etag=result.etag or base.etag,
            last_modified=result.last_modified or base.last_modified,
            failures=0,
            retry_at=None,
            polled_at=now,
            last_error=None,
        )
    failures = base.failures + 1
    delay = backoff_delay(failures, interval)
    if jitter > 0:
        delay += delay * random.uniform(0, jitter)
    if result.retry_after:  # the outlet said how long to stay away: never come back sooner
        delay = max(delay, min(timedelta(seconds=result.retry_after), MAX_RETRY_AFTER))
    return replace(
        base,
        failures=failures,
        retry_at=now + delay,
        last_error=result.error,
        moved_to=None,
        moved_hits=0,
    )


def confirm_move(state: FeedState, moved_to: str | None) -> FeedState:
    """The state after one good answer (a readable feed) that came via `moved_to`.

    A permanent redirect is adopted as the feed's address after `MOVE_CONFIRMATIONS`
    consecutive good answers through the same target; a poll without it ends the count.
    """
    if not moved_to or moved_to == state.url:
        return replace(state, moved_to=None, moved_hits=0)
    hits = state.moved_hits + 1 if state.moved_to == moved_to else 1
    if hits >= MOVE_CONFIRMATIONS:
        return replace(state, url=moved_to, moved_to=None, moved_hits=0)
    return replace(state, moved_to=moved_to, moved_hits=hits)


def is_due(state: FeedState | None, now: datetime) -> bool:
    """False while the feed is resting after failures; the poll interval is the scheduler's job."""
    if state is None or state.retry_at is None:
        return True
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    retry_at = state.retry_at if state.retry_at.tzinfo else state.retry_at.replace(tzinfo=UTC)
    return now >= retry_at
