"""The plain data that flows through the pipeline.

fetch -> parse -> normalise -> match -> dedup/story -> outbox -> deliver. Every stage takes and
returns these frozen dataclasses, so the pure stages (matching, story clustering) are testable
without a loop, a socket or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FIELDS = ("title", "summary")


@dataclass(frozen=True, slots=True)
class Feed:
    """One entry of the feeds file: an outlet's RSS/Atom address and how often to poll it."""

    name: str
    url: str
    interval: int = 120
    line: int = 0
    sport: str | None = None  # every item of this feed is about this sport (bot.sport.SPORTS)
    # Adaptive polling (bot/freshness.py) stays within these; both None: a fixed `interval`.
    min_interval: int | None = None
    max_interval: int | None = None

    @property
    def adaptive(self) -> bool:
        return self.min_interval is not None or self.max_interval is not None


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of one feed, normalised: plain-text title and summary, UTC time.

    `keys` are the identities the item can be recognised by, best first (a guid scoped to the
    outlet's site, the canonical link, a title fingerprint as last resort). The store treats an
    item as known when any of its keys is known, so a feed that drops its guids or adds tracking
    parameters to its links does not make an old item new.
    """

    keys: tuple[str, ...]
    title: str
    summary: str
    link: str
    source: str
    feed_url: str
    published: datetime | None = None
    categories: tuple[str, ...] = ()  # the item's RSS categories, as written

    @property
    def key(self) -> str:
        return self.keys[0]


@dataclass(frozen=True, slots=True)
class ItemContext:
    """What an item carries besides its words, for matching in context: its link (the section
    in its path names a sport), its RSS categories and its feed's declared sport."""

    link: str = ""
    categories: tuple[str, ...] = ()
    sport: str | None = None


@dataclass(frozen=True, slots=True)
class Term:
    """What a watchlist entry asks for: the canonical form, its aliases and options."""

    term: str
    aliases: tuple[str, ...] = ()
    fuzzy: bool = True
    exclude: tuple[str, ...] = ()
    line: int = 0
    # Whether the term can be a place (Torino the city): None decides by bot.place.PLACES,
    # False never (the entry opted out), True always checks the grammar of place and club.
    place: bool | None = None


@dataclass(frozen=True, slots=True)
class Watchlist:
    """A named set of terms (one file of the watchlists folder, or one subscriber's /watch term)."""

    name: str
    terms: tuple[Term, ...]
    title: str = ""
    fields: tuple[str, ...] = FIELDS
    path: str = ""
    sport: str | None = None  # news recognised as another sport does not match this list

    @property
    def display(self) -> str:
        return self.title or self.name


@dataclass(frozen=True, slots=True)
class Match:
    """One mention of a term in one field of an item: what matched, where, and how well."""

    watchlist: str
    term: str
    matched: str
    score: float
    field: str = "title"
    start: int = 0
    end: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "watchlist": self.watchlist,
            "term": self.term,
            "matched": self.matched,
            "score": round(self.score, 1),
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """A match the context ruled out, and why: "another sport: tennis", "place ('a Torino')",
    "outlet name". `newsbot match` shows them so an admin sees the rules at work."""

    match: Match
    reason: str

    def as_json(self) -> dict[str, object]:
        return {**self.match.as_json(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Alert:
    """One message owed to one subscriber about one story (a row of the outbox).

    `kind` is "alert" for the first message and "update" when later outlets joined a story that
    was already delivered. `also` lists those later outlets.
    """

    id: int
    subscriber_id: int
    chat_id: str
    kind: str
    story_id: str
    title: str
    url: str
    source: str
    published: datetime | None
    matches: tuple[Match, ...]
    also: tuple[str, ...] = ()
    message_id: int | None = None
    language: str = "it"
    extra: dict[str, object] = field(default_factory=dict)
    summary: str = ""  # the story's first item's summary (plain text)
    links: tuple[tuple[str, str], ...] = ()  # (outlet, its article's address) for `also`


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the store remembers of a feed between polls.

    `url` is where to fetch it now (a permanent redirect replaces the configured address once
    confirmed: `moved_to` is the pending target, `moved_hits` the good polls through it so far),
    `etag`/`last_modified` make the next request conditional, and `failures`/`retry_at` hold the
    exponential backoff. `polled_at` is None until the first successful poll: the items a feed
    lists at that first poll are its backlog and alert no one.
    """

    url: str
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    retry_at: datetime | None = None
    polled_at: datetime | None = None
    last_error: str | None = None
    moved_to: str | None = None
    moved_hits: int = 0


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Someone alerts are delivered to: a Telegram chat (private, group, channel) or the console."""

    id: int
    chat_id: str
    kind: str = "private"
    language: str = "it"
    active: bool = True
    muted_until: datetime | None = None
    quiet_start: str | None = None  # "HH:MM" on the subscriber's clock; with quiet_end
    quiet_end: str | None = None
    digest_at: str | None = None  # "HH:MM": one digest a day instead of real-time alerts
    timezone: str | None = None  # None: Europe/Rome
    last_seen: datetime | None = None  # the last time the chat wrote to the bot
    # None: `language` follows the user's Telegram language; "chosen": set with /lingua;
    # "fallback": Telegram's language is not one we speak, so English (the user was told once).
    language_origin: str | None = None
