"""Subscribers as JSON lines: the format `newsbot subscribers export` writes and `import` reads.

One subscriber a line (see the contract):
`{"chat_id": 123456, "type": "private", "language": "it", "lists": ["milan"],
"terms": ["Palestra"], "muted_until": null, "active": true}`

Pure parsing and formatting, no database: a bad line becomes a `LineProblem` naming its line,
so an import can report it and go on with the rest. Unknown keys are kept out of the record and
reported as warnings, so a file written by a newer newsbot still imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, field_validator

from bot.schedule import hhmm, read_hhmm

ChatType = Literal["private", "group", "supergroup", "channel"]
MAX_LINE = 1_000_000  # characters; a longer line is refused before JSON parsing
MAX_ENTRIES = 1_000  # lists or terms of one subscriber
MAX_TERM = 100  # characters of one term, as /watch allows


class SubscriberRecord(BaseModel):
    """One subscriber as exported: who, in which language, following what, paused or not."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    chat_id: int | str
    type: ChatType = "private"
    language: str = "it"
    lists: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    muted_until: AwareDatetime | None = None
    active: bool = True
    # Optional keys (exported only when set): recurring quiet hours "23:00-07:00", a daily
    # digest time "08:00" (both on the subscriber's clock), and that clock's zone.
    quiet_hours: str | None = None
    digest_at: str | None = None
    timezone: str | None = None
    # Players a subscriber excluded from a list it follows ({"milan": ["Christian Pulisic"]}),
    # and whether its language was chosen with /lingua (else Telegram's language applies).
    exclusions: dict[str, tuple[str, ...]] = {}
    language_chosen: bool = False

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: object) -> int | str:
        """Telegram chat ids are integers; a channel may also be its public @username."""
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("must be an integer chat id or an @channel name")
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return int(text)
            if not text.startswith("@") or len(text) < 2 or len(text) > 100:
                raise ValueError("must be an integer chat id or an @channel name")
            return text
        return value

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        code = value.strip().lower()
        if not code or len(code) > 10 or not code.replace("-", "").isalpha():
            raise ValueError("must be a language code such as 'it' or 'en'")
        return code

    @field_validator("lists", "terms")
    @classmethod
    def _names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(values) > MAX_ENTRIES:
            raise ValueError(f"at most {MAX_ENTRIES} entries")
        cleaned: list[str] = []
        for value in values:
            text = " ".join(value.split())
            if not text or len(text) > MAX_TERM:
                raise ValueError(f"entries must be 1 to {MAX_TERM} characters")
            if text not in cleaned:
                cleaned.append(text)
        return tuple(cleaned)

    @field_validator("exclusions")
    @classmethod
    def _exclusions(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        cleaned = {" ".join(k.split()): cls._names(v) for k, v in value.items() if v}
        if any(not name or len(name) > MAX_TERM for name in cleaned):
            raise ValueError(f"list names must be 1 to {MAX_TERM} characters")
        return cleaned

    @field_validator("muted_until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return value.astimezone(UTC) if value else None

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is None:
            return None
        start, _, end = value.partition("-")
        times = (read_hhmm(start), read_hhmm(end))
        if times[0] is None or times[1] is None or times[0] == times[1]:
            raise ValueError("must be two different times as HH:MM-HH:MM, e.g. 23:00-07:00")
        return f"{hhmm(times[0])}-{hhmm(times[1])}"

    @field_validator("digest_at")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is None:
            return None
        at = read_hhmm(value)
        if at is None:
            raise ValueError("must be a time as HH:MM, e.g. 08:00")
        return hhmm(at)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Rome") from None
        return value

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "chat_id": self.chat_id,
            "type": self.type,
            "language": self.language,
            "lists": list(self.lists),
            "terms": list(self.terms),
            "muted_until": self.muted_until.isoformat() if self.muted_until else None,
            "active": self.active,
        }
        for key in ("quiet_hours", "digest_at", "timezone"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.exclusions:
            data["exclusions"] = {k: list(v) for k, v in self.exclusions.items()}
        if self.language_chosen:
            data["language_chosen"] = True
        return json.dumps(data, ensure_ascii=False)


KNOWN_KEYS = frozenset(SubscriberRecord.model_fields)


@dataclass(frozen=True, slots=True)
class LineProblem:
    """What is wrong with one line of a subscribers file; `fatal` lines are not imported."""

    line: int
    message: str
    fatal: bool = True


@dataclass(slots=True)
class ParsedLines:
    """The records of a file, with the line each came from, and its problems."""

    records: list[tuple[int, SubscriberRecord]] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)


def parse_line(number: int, line: str | bytes) -> tuple[SubscriberRecord | None, list[LineProblem]]:
    """One line → its record (None for a blank or bad line) and what to report about it."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            return None, [LineProblem(number, f"not UTF-8 (byte {exc.start + 1})")]
    text = line.strip()
    if not text:
        return None, []
    if len(text) > MAX_LINE:
        return None, [LineProblem(number, f"line longer than {MAX_LINE} characters")]
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, [LineProblem(number, f"not JSON: {exc}")]
    if not isinstance(data, dict):
        return None, [LineProblem(number, "not a JSON object")]
    try:
        record = SubscriberRecord.model_validate(data)
    except ValidationError as exc:
        return None, [LineProblem(number, _explain(exc))]
    warnings = [
        LineProblem(number, f"unknown key {key!r} ignored", fatal=False)
        for key in sorted(set(data) - KNOWN_KEYS)
    ]
    return record, warnings


def parse_lines(lines: Iterable[str | bytes]) -> Iterator[ParsedLines]:
    """Parse a file in batches of 1,000 good lines, so a huge file never sits in memory."""
    batch = ParsedLines()
    for number, line in enumerate(lines, start=1):
        record, problems = parse_line(number, line)
        batch.problems.extend(problems)
        if record is not None:
            batch.records.append((number, record))
        if len(batch.records) >= 1_000:
            yield batch
            batch = ParsedLines()
    yield batch


def _explain(exc: ValidationError) -> str:
    """The first validation error as `key: message`, in the words an admin reads."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "line"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "missing"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
