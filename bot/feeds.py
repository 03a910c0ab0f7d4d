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


class _FeedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    url: str
    interval: Interval | None = None
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
    problems = _duplicates(parsed, doc)
    if problems:
        raise ConfigError(problems)
    default = parsed.defaults.interval
    return [
        Feed(
            name=entry.name,
            url=entry.url,
            interval=entry.interval or default,
            sport=entry.sport,
            line=doc.line_of(("feeds", i)),
        )
        for i, entry in enumerate(parsed.feeds)
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
