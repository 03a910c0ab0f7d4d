"""The feeds file: which outlets to poll and how often, validated with `path:line` problems."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.models import Feed
from bot.sport import Sport
from bot.yamlfile import ConfigError, Located, Problem, load_file, validate

MIN_INTERVAL = 10
Interval = Annotated[int, Field(ge=MIN_INTERVAL, le=86_400, strict=True)]


class _Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval: Interval = 120
    min_interval: Interval | None = None
    max_interval: Interval | None = None


class _FeedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    url: str
    interval: Interval | None = None
    min_interval: Interval | None = None
    max_interval: Interval | None = None
    sport: Sport | None = None

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")) or " " in value:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value


class _FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    defaults: _Defaults = _Defaults()
    feeds: list[_FeedEntry] = Field(min_length=1)


def load_feeds(path: Path | str) -> list[Feed]:
    """Read and validate the feeds file; raise ConfigError listing every problem with its line."""
    doc = load_file(path)
    if doc.data is None:
        raise ConfigError([Problem(str(path), 1, "the feeds file is empty")])
    parsed = validate(_FeedsFile, doc)
    feeds = [
        _feed(entry, parsed.defaults, doc.line_of(("feeds", i)))
        for i, entry in enumerate(parsed.feeds)
    ]
    problems = _duplicates(parsed, doc) + _bad_bounds(feeds, doc)
    if problems:
        raise ConfigError(problems)
    return feeds


def _feed(entry: _FeedEntry, defaults: _Defaults, line: int) -> Feed:
    """A feed with its defaults applied. Adaptive polling is on when either bound is set (on
    the feed or in `defaults`); the other bound then defaults to 30 s or 900 s, widened to
    include the feed's interval."""
    interval = entry.interval or defaults.interval
    low = entry.min_interval or defaults.min_interval
    high = entry.max_interval or defaults.max_interval
    if low is not None or high is not None:
        low = low if low is not None else min(30, interval)
        high = high if high is not None else max(900, interval)
    return Feed(
        name=entry.name,
        url=entry.url,
        interval=interval,
        sport=entry.sport,
        line=line,
        min_interval=low,
        max_interval=high,
    )


def _bad_bounds(feeds: list[Feed], doc: Located) -> list[Problem]:
    """The adaptive range must hold the feed's usual interval."""
    return [
        Problem(
            doc.path,
            feed.line,
            f"feed {feed.name!r}: interval {feed.interval} is outside min_interval "
            f"{feed.min_interval} .. max_interval {feed.max_interval}",
        )
        for feed in feeds
        if feed.adaptive
        and not (feed.min_interval or 0) <= feed.interval <= (feed.max_interval or 0)
    ]


def check_feeds(path: Path | str) -> list[Problem]:
    """Every problem of the feeds file (empty when it is valid), for `newsbot check`."""
    try:
        load_feeds(path)
    except ConfigError as exc:
        return exc.problems
    return []


def _duplicates(parsed: _FeedsFile, doc: Located) -> list[Problem]:
    """Two entries with one name or one URL would poll twice and confuse subscribers."""
    problems: list[Problem] = []
    seen_names: dict[str, int] = {}
    seen_urls: dict[str, int] = {}
    for i, entry in enumerate(parsed.feeds):
        for seen, value, what in (
            (seen_names, entry.name.casefold(), "name"),
            (seen_urls, entry.url.rstrip("/").lower(), "url"),
        ):
            if value in seen:
                first = doc.line_of(("feeds", seen[value]))
                problems.append(
                    doc.problem(
                        ("feeds", i, what), f"duplicate feed {what} (first at line {first})"
                    )
                )
            else:
                seen[value] = i
    return problems
