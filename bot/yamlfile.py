"""YAML loading that remembers where every value was written, and refuses hostile files.

Admins edit the feeds file and the watchlists by hand; every problem must be reported as
`path:line: message`, never as a traceback or an exit. PyYAML knows the line of each node, so we
build the data and, beside it, a table from each value's location (the tuple of keys and indexes
pydantic reports in `ValidationError.loc`) to its 1-based line.

Before YAML sees a file, its bytes are checked: a size cap, UTF-8, no NUL or other control
characters (each reported at its line). YAML aliases (`*name`) are refused: they are the one way
a few hundred bytes expand into gigabytes (the "billion laughs"), and a watchlist never needs
them. Composition runs in libyaml (PyYAML's C parser) when available: it keeps line marks and is
an order of magnitude faster than the pure-Python parser on large lists.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.yamlplain import parse_plain

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


# A watchlist of 100,000 terms is about 3 MB; a file ten times larger is a mistake (a log or a
# dump saved under the wrong name), and reading it whole would cost memory for nothing.
MAX_FILE_BYTES = 10_000_000
MAX_BYTE_PROBLEMS = 10  # a binary file has thousands of bad bytes: the first few say enough

# What YAML 1.1 accepts in a stream (PyYAML's Reader.NON_PRINTABLE): anything else is a control
# character (NUL from a bad copy, ESC from a terminal) that the parser would refuse with no line.
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF8_BOM = b"\xef\xbb\xbf"

try:  # libyaml: same nodes and marks as the pure-Python parser, an order of magnitude faster
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

WITH_LIBYAML = _BaseLoader.__name__ == "CSafeLoader"
_STR_TAG = "tag:yaml.org,2002:str"


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, minus Python work libyaml asks for on every node that a safe loader
    does not need: tag resolution of a plain word that no implicit type can begin with, and
    path resolvers (a safe loader has none). Same tags, same nodes, a third less time."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        resolvers = self.yaml_implicit_resolvers
        if (
            kind is yaml.ScalarNode
            and implicit[0]
            and value
            and value[0] not in resolvers
            and None not in resolvers
        ):
            return _STR_TAG  # what resolve() returns when no resolver starts with value[0]
        return super().resolve(kind, value, implicit)

    if not _BaseLoader.yaml_path_resolvers:  # a safe loader has none: nothing to track

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            return None

        def ascend_resolver(self) -> None:
            return None


class _Refused(Exception):
    """A value the loader will not build: carries the node's mark for the `path:line`."""

    def __init__(self, mark: Any, message: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message


def _line_col(text: str | bytes, pos: int) -> tuple[int, int]:
    """1-based line and column of offset `pos` in `text`."""
    newline = "\n" if isinstance(text, str) else b"\n"
    start = text.rfind(newline, 0, pos) + 1  # type: ignore[arg-type]
    return text.count(newline, 0, pos) + 1, pos - start + 1  # type: ignore[arg-type]


def decode(data: bytes, path: str) -> str:
    """The file's text: UTF-8 (a BOM is allowed) with no control characters.

    Every refusal names the line, so the admin can find a byte an editor may not even show.
    """
    if data.startswith(_UTF16_BOMS):
        raise ConfigError([Problem(path, 1, "the file is UTF-16: save it as UTF-8")])
    data = data.removeprefix(_UTF8_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_col(data, exc.start)
        message = (
            f"not UTF-8: byte 0x{data[exc.start]:02X} at column {column} (save the file as UTF-8)"
        )
        raise ConfigError([Problem(path, line, message)]) from None
    _refuse_control_characters(text, path)
    return text


def _refuse_control_characters(text: str, path: str) -> None:
    """NUL and other control characters, reported once per line (the first few lines)."""
    problems: list[Problem] = []
    for found in _NON_PRINTABLE.finditer(text):
        line, column = _line_col(text, found.start())
        if problems and problems[-1].line == line:
            continue
        char = found.group()
        what = "NUL byte" if char == "\0" else f"control character U+{ord(char):04X}"
        problems.append(Problem(path, line, f"{what} at column {column}: remove it"))
        if len(problems) >= MAX_BYTE_PROBLEMS:
            break
    if problems:
        raise ConfigError(problems)


def _refuse_aliases(text: str, path: str) -> None:
    """Refuse every alias (`*name`) with its line, before anything is built from the file.

    Expanding aliases is how a 454-byte file becomes gigabytes; no file of ours needs them. An
    alias token starts with `*`, so a file without one is accepted without a second parse. A
    syntax error met on the way is left to the loader, which reports it with its line.
    """
    if "*" not in text:
        return
    problems: list[Problem] = []
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent) and (not problems or problems[-1].line != line):
                message = f"YAML alias *{event.anchor} is not accepted: write the value out in full"
                problems.append(Problem(path, line, message))
    except yaml.YAMLError:
        pass
    if problems:
        raise ConfigError(problems[:MAX_BYTE_PROBLEMS])


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], loader: Any) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader)
            try:
                seen = key in out
            except TypeError:
                raise _Refused(key_node.start_mark, "a key must be a plain value") from None
            if seen:
                raise _Refused(key_node.start_mark, f"duplicate key {key!r}")
            out[key] = _walk(value_node, (*loc, key), lines, loader)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(child, (*loc, i), lines, loader) for i, child in enumerate(node.value)]
    return _scalar(node, loader)


def _scalar(node: yaml.Node, loader: Any) -> Any:
    """Build one value; a string (nearly every value of ours) is taken as it is."""
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # a date like 2026-13-45, a 5,000-digit number
        raise _Refused(node.start_mark, f"invalid value {node.value!r:.60}: {exc}") from None


def load_text(text: str, path: str = "<string>") -> Located:
    """Parse YAML text; every problem becomes a ConfigError with the line it was found on."""
    _refuse_control_characters(text, path)
    return _parse(text, path)


def load_file(path: Path | str) -> Located:
    """Read and parse one YAML file; unreadable, oversized or undecodable files are reported
    as problems, never raised raw."""
    p = Path(path)
    try:
        if not stat.S_ISREG(p.stat().st_mode):  # a FIFO would block the reader for good
            raise ConfigError([Problem(str(p), 1, "cannot read file: not a regular file")])
        with p.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([Problem(str(p), 1, f"cannot read file: {reason}")]) from None
    if len(data) > MAX_FILE_BYTES:
        message = f"file too large: more than {MAX_FILE_BYTES:,} bytes (is it the right file?)"
        raise ConfigError([Problem(str(p), 1, message)])
    return _parse(decode(data, str(p)), str(p))


def _parse(text: str, path: str) -> Located:
    """Compose and build printable text; aliases are refused before anything is built.

    A file in the plain layout of `bot.yamlplain` (nearly every watchlist) is read without
    composing YAML nodes, into the same data and lines; any other goes through libyaml."""
    plain = parse_plain(text, _Loader.yaml_implicit_resolvers)
    if plain is not None:
        return Located(data=plain[0], lines=plain[1], path=path)
    return parse_yaml(text, path)


def parse_yaml(text: str, path: str) -> Located:
    """`_parse` through libyaml, whatever the layout."""
    _refuse_aliases(text, path)
    loader = _Loader(text)
    lines: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        data = None if node is None else _walk(node, (), lines, loader)
    except _Refused as exc:
        problem = Problem(path, exc.mark.line + 1, f"invalid YAML: {exc.message}")
        raise ConfigError([problem]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([Problem(path, line, f"invalid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(path, 1, f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError([Problem(path, 1, "invalid YAML: nested too deeply")]) from None
    finally:
        loader.dispose()
    return Located(data=data, lines=lines, path=path)


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
