"""WebSub (W3C Recommendation, 2018) as a subscriber: the rules, without sockets or SQL.

A feed that advertises a hub (an HTTP `Link: <…>; rel="hub"` header or
`<atom:link rel="hub">`, with its own address as `rel="self"`, the topic) can push its new items
to us instead of waiting for the next poll. The protocol, as this module applies it:

- we ask the hub by POST (`hub.mode=subscribe`, `hub.topic`, `hub.callback`, `hub.secret`,
  `hub.lease_seconds`); the callback is `NEWSBOT_WEBSUB_URL` + a random token per feed, so a
  stranger can neither guess it nor tell which feed it is;
- the hub confirms by GET on the callback with `hub.challenge`; we echo it only when we really
  asked for that mode and topic on that callback (`verify_intent`), else 404, so nobody can
  subscribe us to anything, nor unsubscribe us;
- a push is a POST of the feed document signed with the secret (`X-Hub-Signature:
  sha256=…`); a push whose signature is missing or wrong is ignored (`check_signature`);
- the subscription lasts the lease the hub grants; it is renewed before it ends (`renew_at`)
  and undone (`hub.mode=unsubscribe`) when the feed leaves the feeds file.

Polling goes on beside it as the safety net (a hub can fail silently); dedup makes an item that
arrives by push and again by poll alert once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

LEASE_SECONDS = 5 * 86_400  # asked for; the hub may grant less (or more), we keep what it says
MAX_LEASE_SECONDS = 366 * 86_400  # a longer grant is taken as a year (and renewed by then)
MIN_LEASE_SECONDS = 300  # a shorter grant is renewed as if it were this long (no busy loop)
VERIFY_WAIT = timedelta(minutes=10)  # a request the hub has not confirmed by then is asked again
RETRY_FIRST = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
TOKEN_BYTES = 24
SECRET_BYTES = 32  # the spec caps hub.secret at 200 bytes; 64 hex characters
# X-Hub-Signature methods the spec allows; sha1 is still what many hubs send.
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a feed document advertises: its hub and its own address (the topic)."""

    hub: str
    topic: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """What the store keeps per feed: where it is pushed from and how far we got.

    `pending` is the mode we asked the hub for and it has not confirmed yet ("subscribe",
    "unsubscribe" or None); `expires_at` is the end of the lease the hub granted (None: no
    subscription in force).
    """

    feed_url: str
    hub: str
    topic: str
    callback: str  # the random token, the last segment of the callback URL
    secret: str
    pending: str | None = None
    requested_at: datetime | None = None
    expires_at: datetime | None = None
    lease_seconds: int | None = None
    failures: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class Verdict:
    """How to answer one verification GET, and what it changes in the store.

    `change` is "activate" (the hub confirmed our subscribe), "forget" (our unsubscribe, or the
    hub's denial) or None (a 404: nothing we asked for)."""

    status: int
    body: str
    change: str | None = None
    lease_seconds: int | None = None
    reason: str | None = None


NOT_OURS = Verdict(404, "no such subscription request\n")


def discover(feed_meta: Mapping[str, Any], fallback_topic: str) -> Discovery | None:
    """The hub a parsed feed (feedparser's `feed` mapping) advertises, or None.

    Only http(s) hubs count. The topic is the feed's `rel="self"` link; a feed that names a hub
    but not itself is taken to be at the address we fetched it from.
    """
    hub = self_url = None
    for link in feed_meta.get("links") or ():
        rel = str(link.get("rel") or "").strip().lower()
        href = str(link.get("href") or "").strip()
        if rel == "hub" and hub is None and _http_url(href):
            hub = href
        elif rel == "self" and self_url is None and _http_url(href):
            self_url = href
    if hub is None:
        return None
    return Discovery(hub, self_url or fallback_topic)


def advertised(
    link_hub: str | None, link_self: str | None, document: Discovery | None, address: str
) -> Discovery | None:
    """The hub and topic a fetched feed advertises: its HTTP `Link` headers (`rel="hub"`,
    `rel="self"`, where the spec puts them first) over its document's atom:links (`document`,
    from `discover`); a feed that names no topic is the address we fetched it from."""
    hub = link_hub if link_hub and _http_url(link_hub) else None
    topic = link_self if link_self and _http_url(link_self) else None
    if document is not None:
        hub = hub or document.hub
        topic = topic or document.topic
    if hub is None:
        return None
    return Discovery(hub, topic or address)


def _http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def secure_hub(url: str) -> bool:
    """Whether our secret may be sent to this hub: over HTTPS only (the spec's SHOULD), as a
    secret read on the way lets anyone forge pushes; a hub on this machine may be plain http."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    return host == "localhost" or host == "::1" or host.startswith("127.")


def new_token() -> str:
    """A callback token: unguessable, URL-safe, one per subscription."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_secret() -> str:
    return secrets.token_hex(SECRET_BYTES)


def callback_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/{token}"


def callback_path(base: str) -> str:
    """The local path under which callbacks are served: the public URL's path (as for the
    Telegram webhook, a reverse proxy forwards it unchanged)."""
    return urlsplit(base).path.rstrip("/") or ""


def request_form(sub: Subscription, mode: str, base: str) -> dict[str, str]:
    """The body of a subscribe or unsubscribe POST to the hub."""
    form = {
        "hub.mode": mode,
        "hub.topic": sub.topic,
        "hub.callback": callback_url(base, sub.callback),
    }
    if mode == "subscribe":
        form["hub.secret"] = sub.secret
        form["hub.lease_seconds"] = str(LEASE_SECONDS)
    return form


def verify_intent(sub: Subscription | None, params: Mapping[str, str]) -> Verdict:
    """Answer the hub's GET on a callback: echo the challenge only for what we asked.

    A subscribe or unsubscribe is confirmed when this callback has that request pending for
    that very topic; a denial ("denied") of that topic is acknowledged. Anything else,
    an unknown callback included, is a 404, which tells the hub we do not want it.
    """
    if sub is None:
        return NOT_OURS
    mode = params.get("hub.mode", "")
    topic = params.get("hub.topic", "")
    if topic != sub.topic:
        return NOT_OURS
    if mode == "denied":  # refused, or ended later by the hub: we ask again after a backoff
        return Verdict(200, "ok\n", "forget", reason=params.get("hub.reason") or "denied")
    challenge = params.get("hub.challenge", "")
    if mode not in ("subscribe", "unsubscribe") or mode != sub.pending or not challenge:
        return NOT_OURS
    if mode == "unsubscribe":
        return Verdict(200, challenge, "forget")
    lease = min(_int(params.get("hub.lease_seconds")) or LEASE_SECONDS, MAX_LEASE_SECONDS)
    return Verdict(200, challenge, "activate", lease_seconds=lease)


def _int(value: str | None) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def check_signature(secret: str, body: bytes, header: str | None) -> str | None:
    """Why a push must be ignored (a one-line reason), or None when its signature is right.

    `X-Hub-Signature: method=hexdigest`, the HMAC of the exact body with our secret; compared in
    constant time.
    """
    if not header:
        return "no X-Hub-Signature"
    method, sep, digest = header.strip().partition("=")
    algorithm = SIGNATURE_METHODS.get(method.strip().lower())
    if not sep or algorithm is None:
        return f"unsupported signature method {method.strip()[:20]!r}"
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    if not hmac.compare_digest(expected, digest.strip().lower()):
        return f"{method.strip().lower()} signature does not match"
    return None


def renew_at(expires_at: datetime, lease_seconds: int | None) -> datetime:
    """When to renew: a tenth of the lease before it ends (at least a minute, at most a day)."""
    lease = max(lease_seconds or LEASE_SECONDS, MIN_LEASE_SECONDS)
    margin = min(max(lease / 10, 60), 86_400)
    return expires_at - timedelta(seconds=margin)


def retry_delay(failures: int) -> timedelta:
    """Back off after a hub refused or could not be reached: 5 min, 10, 20 … up to 6 h."""
    return min(RETRY_FIRST * (2 ** max(failures - 1, 0)), RETRY_MAX)


def next_action(sub: Subscription, wanted: bool, now: datetime) -> str | None:
    """What the manager should ask the hub now: "subscribe", "unsubscribe" or nothing.

    `wanted` is whether the feed is still in the feeds file. A request the hub has not
    confirmed within VERIFY_WAIT is asked again; a failed one waits for its backoff.
    """
    if sub.retry_at is not None and sub.retry_at > now:
        return None
    waiting = sub.pending is not None and sub.requested_at is not None
    if waiting and now - sub.requested_at < VERIFY_WAIT:  # type: ignore[operator]
        return None
    if not wanted:
        return "unsubscribe"
    if sub.pending == "subscribe":
        return "subscribe"  # asked, never confirmed: ask again
    if not sub.active(now):
        return "subscribe"
    assert sub.expires_at is not None
    return "subscribe" if now >= renew_at(sub.expires_at, sub.lease_seconds) else None


def safe_error(text: str) -> str:
    """One short line for the store and the log."""
    line = " ".join(text.split())
    return line[:300]
