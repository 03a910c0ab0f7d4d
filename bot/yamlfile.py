"""YAML loading that remembers where every value was written.

Admins edit the feeds file and the watchlists by hand; every problem must be reported as
`path:line: message`. PyYAML's SafeLoader knows the line of each node, so we build the data and,
beside it, a table from each value's location (the tuple of keys and indexes pydantic reports in
`ValidationError.loc`) to its 1-based line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Loc = tuple[int | str, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of `newsbot check`: where it is and what is wrong."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ConfigError(Exception):
    """A file the bot cannot use; carries every problem found in it."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(slots=True)
class Located:
    """Parsed YAML data plus the line of each location within it."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    path: str = ""

    def line_of(self, loc: Iterable[int | str]) -> int:
        """Line of `loc`, or of its nearest enclosing value when `loc` itself was not written."""
        parts = tuple(loc)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Iterable[int | str], message: str) -> Problem:
        return Problem(self.path, self.line_of(loc), message)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], loader: yaml.SafeLoader) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
                )
            out[key] = _walk(value_node, (*loc, key), lines, loader)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(child, (*loc, i), lines, loader) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_text(text: str, path: str = "<string>") -> Located:
    """Parse YAML text; a syntax error becomes a ConfigError with the line it was found on."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        data = None if node is None else _walk(node, (), lines, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([Problem(path, line, f"invalid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path, 1, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return Located(data=data, lines=lines, path=path)


def load_file(path: Path | str) -> Located:
    """Read and parse one YAML file; unreadable or non-UTF-8 files are reported, not raised raw."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(p), 1, f"cannot read file: {exc}")]) from None
    return load_text(text, str(p))


def validate(model: type[M], doc: Located) -> M:
    """Validate `doc.data` with a pydantic model; each error is reported at its own line."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(
            [doc.problem(err["loc"], _describe(err)) for err in exc.errors()]
        ) from None


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if kind == "missing":
        return f"missing key {err['loc'][-1]!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg
