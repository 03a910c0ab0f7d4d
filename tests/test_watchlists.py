"""Watchlist files: what an admin who edits them by hand is told, as `path:line: message`."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match import Matcher
from bot.watchlists import check_watchlists, load_watchlists
from bot.yamlfile import _Loader, parse_yaml
from bot.yamlplain import parse_plain

ROOT = Path(__file__).resolve().parents[1]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def messages(folder: Path) -> list[str]:
    return [str(p) for p in check_watchlists(folder)]


def test_shipped_watchlists_are_valid_and_match_the_seed_example() -> None:
    lists, problems = load_watchlists(ROOT / "watchlists")
    assert problems == []
    names = {wl.name for wl in lists}
    assert {"milan", "inter", "juventus", "atalanta", "mercato", "napoli", "roma", "lazio"} <= names
    matcher = Matcher(lists)
    got = matcher.match_text("Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta")
    pairs = {(m.watchlist, m.term) for m in got}
    assert {("mercato", "Marco Palestra"), ("milan", "Milan"), ("atalanta", "Atalanta")} <= pairs
    assert matcher.match_text("Oggi in palestra per il recupero") == []


def test_contract_example_file_loads_with_defaults(tmp_path: Path) -> None:
    write(tmp_path, "milan.yaml", """\
title: AC Milan
terms:
  - Milan
  - term: Christian Pulisic
    aliases: [Pulisic]
  - term: Como
    exclude: [Lago di Como]
  - term: rossoneri
    fuzzy: false
""")  # fmt: skip
    (wl,), problems = load_watchlists(tmp_path)
    assert problems == []
    assert wl.name == "milan" and wl.display == "AC Milan"
    assert wl.fields == ("title", "summary")
    assert [t.term for t in wl.terms] == ["Milan", "Christian Pulisic", "Como", "rossoneri"]
    assert wl.terms[1].aliases == ("Pulisic",)
    assert wl.terms[2].exclude == ("Lago di Como",)
    assert wl.terms[3].fuzzy is False
    assert [t.line for t in wl.terms] == [3, 4, 6, 8]


def test_unknown_keys_are_reported_at_their_line(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: a\ntitel: A\nterms:\n  - term: X\n    alias: [Y]\n")
    assert messages(tmp_path) == [
        f"{tmp_path}/a.yaml:2: unknown key 'titel'",
        f"{tmp_path}/a.yaml:5: unknown key 'alias'",
    ]


def test_wrong_types_are_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "terms:\n  - term: X\n    fuzzy: maybe\n    aliases: Y\n")
    got = messages(tmp_path)
    assert len(got) == 2
    assert got[0].startswith(f"{tmp_path}/a.yaml:3: terms.0.fuzzy:")
    assert got[1].startswith(f"{tmp_path}/a.yaml:4: terms.0.aliases:")


def test_missing_terms_and_bad_fields(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "title: A\n")
    write(tmp_path, "b.yaml", "fields: [title, body]\nterms: [X]\n")
    write(tmp_path, "c.yaml", "")
    got = messages(tmp_path)
    assert got[0] == f"{tmp_path}/a.yaml:1: missing key 'terms'"
    assert got[1].startswith(f"{tmp_path}/b.yaml:1: fields.1:")
    assert got[2] == f"{tmp_path}/c.yaml:1: empty watchlist file: 'terms' is required"


def test_empty_terms_are_reported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "terms:\n  - Milan\n  - ''\n  - term: '  '\n  - term: X\n    aliases: ['-']\n",
    )
    assert messages(tmp_path) == [
        f"{tmp_path}/a.yaml:3: empty term ''",
        f"{tmp_path}/a.yaml:4: empty term '  '",
        f"{tmp_path}/a.yaml:6: empty term '-'",
    ]  # fmt: skip


def test_duplicate_terms_also_across_aliases_and_spellings(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", """\
terms:
  - Nicolò Barella
  - term: Barella
  - term: Inter
    aliases: [Internazionale, nicolo barella]
  - INTER
""")  # fmt: skip
    assert messages(tmp_path) == [
        f"{tmp_path}/a.yaml:5: duplicate term 'nicolo barella' (already listed at line 2)",
        f"{tmp_path}/a.yaml:6: duplicate term 'INTER' (already listed at line 4)",
    ]


def test_duplicate_list_names_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: milan\nterms: [Milan]\n")
    write(tmp_path, "b.yaml", "title: B\nname: milan\nterms: [Leao]\n")
    write(tmp_path, "milan.yml", "terms: [Pulisic]\n")
    lists, problems = load_watchlists(tmp_path)
    assert [wl.path for wl in lists] == [str(tmp_path / "a.yaml")]
    assert [str(p) for p in problems] == [
        f"{tmp_path}/b.yaml:2: duplicate list name 'milan' (also in {tmp_path}/a.yaml)",
        f"{tmp_path}/milan.yml:1: duplicate list name 'milan' (also in {tmp_path}/a.yaml)",
    ]


def test_bad_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", "terms: [Dybala]\n")
    write(tmp_path, "broken.yaml", "terms: [Dybala\n")
    write(tmp_path, "notes.txt", "not a watchlist")
    lists, problems = load_watchlists(tmp_path)
    assert [wl.name for wl in lists] == ["good"]
    assert len(problems) == 1 and problems[0].path == str(tmp_path / "broken.yaml")
    assert "invalid YAML" in problems[0].message


def test_list_name_must_be_typeable(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "name: AC Milan\nterms: [Milan]\n")
    (problem,) = check_watchlists(tmp_path)
    assert problem.line == 1 and "name must be" in problem.message


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    lists, problems = load_watchlists(tmp_path / "nope")
    assert lists == [] and "not found" in problems[0].message


def test_a_term_that_is_neither_string_nor_mapping(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "terms:\n  - Milan\n  - 1899\n")
    assert messages(tmp_path) == [
        f"{tmp_path}/a.yaml:3: terms.1: a term is a string or a mapping with 'term', not int"
    ]


def test_file_stem_is_the_name_only_when_it_can_be_typed(tmp_path: Path) -> None:
    write(tmp_path, "Serie A.yaml", "terms: [Milan]\n")
    write(tmp_path, "Napoli.yaml", "terms: [Napoli]\n")
    lists, problems = load_watchlists(tmp_path)
    assert [wl.name for wl in lists] == ["napoli"]
    assert [(p.line, "add a 'name:'" in p.message) for p in problems] == [(1, True)]


# Pieces of watchlist lines, plain and not: the plain reader must either give up (None) or
# read exactly what YAML reads, line table included.
_KEYS = ["name", "title", "terms", "term", "aliases", "exclude", "fuzzy", "place", "on", "null"]
_VALUES = [
    "Milan",
    "Leão",
    "de Roon",
    "Dell’Acqua",
    "N'Dicka",
    "Inter-Milan",
    "Milan.",
    "2024",
    "1.5",
    "2024-01-01",
    "1_000",
    "~",
    "null",
    "true",
    "No",
    "yes",
    "Off",
    ".inf",
    "y",
    "'quoted'",
    '"dq"',
    "[Leao, Leão]",
    "[]",
    "[ a ,b ]",
    "[a,]",
    "[a, [b]]",
    "a: b",
    "x # c",
    "x#c",
    "*ref",
    "&a x",
    "!!str x",
    "Milan ",
    "A  B",
    "- x",
    "?x",
    "|",
    "",
]


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """A watchlist in block layout (values drawn plain and not), sometimes with a line of
    random pieces put in."""
    plain = ["Milan", "Leão", "de Roon", "N'Dicka", "Inter-Milan", "[Leao, Leão]", "No"]
    value = st.sampled_from(plain * 8 + _VALUES)
    step = draw(st.sampled_from([2, 4]))
    lines = [f"name: {draw(value)}"] if draw(st.booleans()) else []
    lines.append("terms:" + draw(st.sampled_from(["", "  # the terms"])))
    seq = " " * draw(st.sampled_from([0, step]))
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.booleans()):
            lines.append(f"{seq}- {draw(value)}")
            continue
        lines.append(f"{seq}- term: {draw(value)}")
        inner = seq + "  "
        for key in draw(st.lists(st.sampled_from(_KEYS[3:]), max_size=3)):
            if draw(st.booleans()):
                lines.append(f"{inner}{key}: {draw(value)}")
            else:
                lines.append(f"{inner}{key}:")
                dash = inner + " " * draw(st.sampled_from([0, 2]))
                lines += [f"{dash}- {draw(value)}" for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        lines.append(f"title: {draw(value)}")
    if draw(st.integers(0, 3)) == 0:  # a random line somewhere
        indent = " " * draw(st.sampled_from([0, 1, 2, 4, 6]))
        dash = draw(st.sampled_from(["", "- "]))
        piece = draw(st.sampled_from([f"{k}:" for k in _KEYS] + _VALUES + ["# note"]))
        tail = draw(st.sampled_from(["", f" {draw(value)}"]))
        lines.insert(draw(st.integers(0, len(lines))), f"{indent}{dash}{piece}{tail}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "# note"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=600, deadline=None)
@given(_documents())
def test_the_plain_reader_reads_what_yaml_reads_or_nothing(text: str) -> None:
    plain = parse_plain(text, _Loader.yaml_implicit_resolvers)
    if plain is None:
        return
    doc = parse_yaml(text, "list.yaml")  # a ConfigError here: plain accepted a bad file
    assert plain == (doc.data, doc.lines)


def test_the_plain_reader_reads_the_shipped_lists_as_yaml_does() -> None:
    for path in sorted((ROOT / "watchlists").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        doc = parse_yaml(text, str(path))
        assert parse_plain(text, _Loader.yaml_implicit_resolvers) == (doc.data, doc.lines), path
