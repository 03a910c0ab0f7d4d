"""The watchlists folder: one YAML file per list, validated so admins see `path:line: message`.

A broken file must not take the bot down: `load_watchlists` returns the lists that are valid and
the problems of the others (which are skipped). `newsbot check` prints the same problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from bot.gcpause import paused_gc
from bot.models import FIELDS, Term, Watchlist
from bot.sport import Sport
from bot.text import fold, word_texts
from bot.yamlfile import ConfigError, Loc, Located, Problem, load_file, validate

SUFFIXES = (".yaml", ".yml")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class TermEntry(BaseModel):
    """A mapping entry of `terms:`; a plain string entry is read as `{term: <string>}`."""

    model_config = ConfigDict(extra="forbid")

    term: StrictStr
    aliases: list[StrictStr] = Field(default_factory=list)
    fuzzy: StrictBool = True
    exclude: list[StrictStr] = Field(default_factory=list)
    place: StrictBool | None = None

    @model_validator(mode="before")
    @classmethod
    def _mapping_or_string(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(
                f"a term is a string or a mapping with 'term', not {type(value).__name__}"
            )
        return value


class WatchlistFile(BaseModel):
    """The whole file. Unknown keys are errors: a typo like `alias:` must not be ignored."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = None
    title: StrictStr = ""
    sport: Sport | None = None
    fields: list[Literal["title", "summary"]] = Field(default_factory=lambda: list(FIELDS))
    terms: list[TermEntry]

    @field_validator("terms", mode="before")
    @classmethod
    def _plain_strings_are_terms(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"term": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("name")
    @classmethod
    def _simple_name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_PATTERN.match(value):
            raise ValueError(
                "name must be lower-case letters, digits, '-', '_' or '.' (it is typed in "
                "/subscribe)"
            )
        return value

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("fields must list at least one of: title, summary")
        return list(dict.fromkeys(value))


def _spelling_key(text: str) -> tuple[str, ...]:
    """Two spellings that fold to the same words are the same term for the matcher."""
    return tuple(word_texts(text))


def _entry_problems(doc: Located, model: WatchlistFile) -> list[Problem]:
    """Empty terms, aliases or excludes, and spellings repeated anywhere in the list."""
    problems: list[Problem] = []
    seen: dict[tuple[str, ...], Loc] = {}  # lines looked up only for a problem: 100,000 terms
    raw_terms = doc.data["terms"]
    for i, entry in enumerate(model.terms):
        first: Loc = ("terms", i) if isinstance(raw_terms[i], str) else ("terms", i, "term")
        spellings = [(first, entry.term)]
        spellings += [(("terms", i, "aliases", j), a) for j, a in enumerate(entry.aliases)]
        for loc, text in spellings:
            key = _spelling_key(text)
            if not key:
                problems.append(doc.problem(loc, f"empty term {text!r}"))
            elif key in seen:
                earlier = doc.line_of(seen[key])
                message = f"duplicate term {text!r} (already listed at line {earlier})"
                problems.append(doc.problem(loc, message))
            else:
                seen[key] = loc
        for j, phrase in enumerate(entry.exclude):
            if not _spelling_key(phrase):
                loc = ("terms", i, "exclude", j)
                problems.append(doc.problem(loc, f"empty exclude phrase {phrase!r}"))
    return problems


def _to_watchlist(path: Path, model: WatchlistFile, doc: Located) -> Watchlist:
    """The validated file as a Watchlist; each term remembers its line (built once: a list can
    hold many thousands of terms)."""
    return Watchlist(
        name=model.name or fold(path.stem),
        title=model.title,
        fields=tuple(model.fields),
        path=str(path),
        sport=model.sport,
        terms=tuple(
            Term(
                term=_squash(e.term),
                aliases=tuple(map(_squash, e.aliases)) if e.aliases else (),
                fuzzy=e.fuzzy,
                exclude=tuple(map(_squash, e.exclude)) if e.exclude else (),
                place=e.place,
                line=doc.lines.get(("terms", i)) or doc.line_of(("terms", i)),
            )
            for i, e in enumerate(model.terms)
        ),
    )


def _squash(text: str) -> str:
    """Runs of spaces as one, none at the ends: how a spelling is kept and shown."""
    return " ".join(text.split())


def load_watchlist_file(path: Path) -> tuple[Watchlist, int]:
    """One file as a Watchlist plus the line of its name; ConfigError lists all its problems."""
    doc = load_file(path)
    if doc.data is None:
        raise ConfigError([Problem(str(path), 1, "empty watchlist file: 'terms' is required")])
    model = validate(WatchlistFile, doc)
    problems = _entry_problems(doc, model)
    if model.name is None and not NAME_PATTERN.match(fold(path.stem)):
        problems.insert(
            0,
            Problem(
                str(path),
                1,
                f"the file name {path.stem!r} cannot be typed in /subscribe: add a 'name:' "
                "of lower-case letters, digits, '-', '_' or '.'",
            ),
        )
    if problems:
        raise ConfigError(problems)
    return _to_watchlist(path, model, doc), doc.line_of(("name",))


def watchlist_files(folder: Path) -> list[Path]:
    """The list files of `folder`, in name order (hidden and backup files ignored).

    A broken link or a link loop is listed too: reading it then reports why it cannot be read,
    where skipping it would silently lose a list.
    """
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in SUFFIXES and not p.name.startswith(".") and not p.is_dir()
    )


# One file read: its list (None when invalid), its problems, the line of its name.
FileResult = tuple[Watchlist | None, list[Problem], int]


def read_watchlist_file(path: Path) -> FileResult:
    """`load_watchlist_file`, with the problems returned rather than raised."""
    try:
        watchlist, name_line = load_watchlist_file(path)
    except ConfigError as exc:
        return None, sorted(exc.problems, key=lambda p: p.line), 0
    return watchlist, [], name_line


def load_watchlists(
    folder: Path, read: Callable[[Path], FileResult] = read_watchlist_file
) -> tuple[list[Watchlist], list[Problem]]:
    """Every valid list of `folder`, plus the problems of the files that were skipped.

    Files are read in name order; when two files declare the same list name the later one is
    the problem (subscribers subscribe by name, so one of them would be unreachable). `read`
    reads one file (`bot.indexcache` passes one that reuses what it cached).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [], [Problem(str(folder), 1, "watchlists folder not found")]
    try:
        paths = watchlist_files(folder)
    except OSError as exc:
        return [], [Problem(str(folder), 1, f"cannot read folder: {exc.strerror or exc}")]
    with paused_gc():  # thousands of terms stay alive: see bot.gcpause
        return _load_files(paths, read)


def _load_files(
    paths: list[Path], read: Callable[[Path], FileResult]
) -> tuple[list[Watchlist], list[Problem]]:
    lists: list[Watchlist] = []
    problems: list[Problem] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        watchlist, file_problems, name_line = read(path)
        if watchlist is None:
            problems.extend(file_problems)
            continue
        if watchlist.name in first_seen:
            problems.append(
                Problem(
                    str(path),
                    name_line,
                    f"duplicate list name {watchlist.name!r} "
                    f"(also in {first_seen[watchlist.name]})",
                )
            )
            continue
        first_seen[watchlist.name] = str(path)
        lists.append(watchlist)
    return lists, problems


def check_watchlists(folder: Path) -> list[Problem]:
    """Problems of the watchlists folder, for `newsbot check` (empty when all is well)."""
    return load_watchlists(folder)[1]
