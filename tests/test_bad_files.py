"""Hostile or damaged configuration files: each is a `path:line` message, never an exit.

A NUL byte, a Latin-1 letter, a file saved as UTF-16, an alias bomb, a huge or unreadable file:
`newsbot check` names each at its line, `poll --once` polls with the valid lists, and a live
reload in `run` keeps the last good version of the broken list.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import subprocess_env
from feedserver import FeedServer
from test_cli import (
    NEW,
    OLD,
    RUN,
    WATCHLISTS,
    LineReader,
    _wait_for_health,
    feeds_file,
    free_port,
    json_lines,
    newsbot,
    rss,
)

from bot.registry import Registry
from bot.yamlfile import MAX_FILE_BYTES


def alias_bomb(name: str = "bomb") -> str:
    """The "billion laughs" of the report: nine levels of nine aliases, 9**9 strings in all."""
    lines = [f"name: {name}", "a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for prev, key in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{key}: &{key} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("terms: [" + ",".join(["*i"] * 9) + "]")
    return "\n".join(lines) + "\n"


ALIAS_BOMB = alias_bomb()

MILAN = "name: milan\nterms:\n  - Milan\n  - Palestra\n"


def bad_lists(folder: Path) -> dict[str, tuple[int, str]]:
    """Write one damaged file per fault next to a valid one; return file -> (line, fragment)."""
    folder.mkdir()
    (folder / "milan.yaml").write_text(MILAN, encoding="utf-8")
    files: dict[str, tuple[bytes, int, str]] = {
        "nul.yaml": (b"name: nul\nterms:\n  - Le\x00ao\n", 3, "NUL byte at column 7"),
        "escape.yaml": (b"terms:\n  - Leao\n  - \x1b[31mInter\n", 3, "control character U+001B"),
        "latin1.yaml": ("terms:\n  - Leão\n  - Nicolò\n".encode("latin-1"), 2, "not UTF-8"),
        "utf16.yaml": ("terms: [Leao]\n".encode("utf-16"), 1, "UTF-16"),
        "bomb.yaml": (ALIAS_BOMB.encode(), 3, "YAML alias *a is not accepted"),
        "date.yaml": (b"name: date\ntitle: 2026-13-45\nterms: [A]\n", 2, "invalid value"),
        "digits.yaml": (b"terms:\n  - " + b"9" * 5000 + b"\n", 2, "invalid value"),
        "key.yaml": (b"terms: [A]\n? [a, b]\n: c\n", 2, "a key must be a plain value"),
        "deep.yaml": (b"terms: " + b"[" * 5000 + b"\n", 1, "invalid YAML"),
        "huge.yaml": (b"terms:\n" + b"  - Leao\n" * (MAX_FILE_BYTES // 9 + 1), 1, "too large"),
    }
    for name, (data, _, _) in files.items():
        (folder / name).write_bytes(data)
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    os.mkfifo(folder / "fifo.yaml")  # reading it would wait for a writer for ever
    expected = {name: (line, fragment) for name, (_, line, fragment) in files.items()}
    expected["loop.yaml"] = (1, "cannot read file")
    expected["fifo.yaml"] = (1, "not a regular file")
    return expected


def test_check_names_every_damaged_file_at_its_line(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    expected = bad_lists(lists)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_bytes(b"feeds:\n  - name: A\x00\n    url: https://a.test/rss\n")
    out = newsbot(["check", "--feeds", str(feeds), "--watchlists", str(lists)], cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr, out.stderr
    assert f"{feeds}:2: NUL byte at column 12" in out.stdout
    for name, (line, fragment) in expected.items():
        found = [r for r in out.stdout.splitlines() if r.startswith(f"{lists / name}:")]
        assert found, (name, out.stdout)
        assert found[0].startswith(f"{lists / name}:{line}: ") and fragment in found[0], found
    assert f"{lists / 'milan.yaml'}" not in out.stdout


def test_alias_bomb_is_refused_in_a_fraction_of_a_second_and_a_few_mb(tmp_path: Path) -> None:
    """Compared with `check` of a valid list in the same conditions: the bomb once took 2 GB.

    The child runs under a 1 GiB address-space limit, so a regression fails fast instead of
    taking the machine's memory.
    """
    assert len(ALIAS_BOMB) <= 454
    plain, bombed = tmp_path / "plain", tmp_path / "bombed"
    for folder in (plain, bombed):
        folder.mkdir()
        (folder / "milan.yaml").write_text(MILAN, encoding="utf-8")
    (bombed / "bomb.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
    base_rss, base_cpu, _ = check_usage(plain, tmp_path)
    rss_kib, cpu_s, out = check_usage(bombed, tmp_path)
    assert f"{bombed / 'bomb.yaml'}:3: YAML alias *a is not accepted" in out
    assert rss_kib - base_rss < 8 * 1024, (rss_kib, base_rss)
    assert cpu_s - base_cpu < 1.0, (cpu_s, base_cpu)


def check_usage(lists: Path, cwd: Path) -> tuple[int, float, str]:
    """Peak RSS (KiB), CPU seconds and output of one `newsbot check` child process."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    feeds = cwd / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: A\n    url: https://a.test/rss\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "check", "--feeds", str(feeds), "--watchlists", str(lists)],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=limit_memory,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert "Traceback" not in output, output
    return usage.ru_maxrss, usage.ru_utime + usage.ru_stime, output


def test_poll_once_uses_the_valid_lists_beside_a_damaged_one(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    lists = tmp_path / "lists"
    shutil.copytree(WATCHLISTS, lists)
    (lists / "zz-nul.yaml").write_bytes(b"name: zz\nterms:\n  - Palestra\x00\n")
    (lists / "bomb.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
    feed_server.set("/tmw.xml", rss(*OLD))
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    args = ["poll", "--once", "--console", "--json", "--feeds", str(feeds)]
    args += ["--watchlists", str(lists), "--db", f"sqlite:///{tmp_path / 'state.db'}"]
    first = newsbot(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"{lists / 'zz-nul.yaml'}:3: NUL byte" in first.stderr
    assert f"{lists / 'bomb.yaml'}:3: YAML alias" in first.stderr
    feed_server.set("/tmw.xml", rss(NEW, *OLD))
    second = newsbot(args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    (alert,) = json_lines(second.stdout)
    assert {"milan", "mercato"} <= {m["watchlist"] for m in alert["matches"]}  # type: ignore[union-attr]
    assert "Traceback" not in first.stderr + second.stderr


def test_run_reload_names_a_damaged_list_once_and_keeps_its_last_good_version(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw.xml", rss(*OLD))
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    lists = tmp_path / "watchlists"
    lists.mkdir()
    (lists / "milan.yaml").write_text(MILAN, encoding="utf-8")
    port = free_port()
    db = f"sqlite:///{tmp_path / 'state.db'}"
    proc = subprocess.Popen(
        [*RUN, "--feeds", str(feeds), "--watchlists", str(lists), "--db", db],
        cwd=tmp_path,
        env=subprocess_env(NEWSBOT_HTTP=f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = LineReader(proc.stderr)
    try:
        _wait_for_health(port, proc)
        (lists / "milan.yaml").write_bytes(MILAN.encode() + b"  - Le\x00ao\n")
        assert log.wait_for(f"{lists / 'milan.yaml'}:5: NUL byte at column 7", 5), log.text()
        assert log.wait_for(
            "reloaded with problems: 1 feeds, 1 watchlists; 1 problem(s); "
            "the last good version stays: milan",
            5,
        ), log.text()
        before = log.text()
        reloads = before.count("configuration reloaded with problems")
        assert before.count(f"{lists / 'milan.yaml'}:5: NUL byte") == reloads, "logged once"
        started = time.monotonic()
        (lists / "milan.yaml").write_text(alias_bomb("milan"), encoding="utf-8")
        assert log.wait_for(f"{lists / 'milan.yaml'}:3: YAML alias *a", 5), log.text()
        assert time.monotonic() - started < 5  # not 69 s and 2 GB
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.returncode == 0, log.text()
        assert "Traceback" not in log.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_reload_applies_valid_lists_and_keeps_the_last_good_version_of_broken_ones(
    tmp_path: Path,
) -> None:
    feeds = feeds_file(tmp_path, {"TMW": "https://www.tuttomercatoweb.com/rss/"})
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "milan.yaml").write_text(MILAN, encoding="utf-8")
    (lists / "inter.yaml").write_text("name: inter\nterms: [Inter]\n", encoding="utf-8")
    registry = Registry(feeds, lists)
    assert registry.load().ok

    (lists / "milan.yaml").write_bytes(b"name: milan\nterms:\n  - Milan\n  - Le\x00ao\n")
    (lists / "inter.yaml").write_text("name: inter\nterms: [Inter, Lautaro]\n", encoding="utf-8")
    (lists / "new.yaml").write_text(alias_bomb("new"), encoding="utf-8")
    feeds.write_bytes(b"feeds:\n  - name: A\xe8\n    url: https://a.test/rss\n")
    outcome = registry.load()
    assert not outcome.ok
    assert {(Path(p.path).name, p.line) for p in outcome.problems} >= {
        ("milan.yaml", 4),
        ("new.yaml", 3),
        ("feeds.yaml", 2),
    }
    assert "the last good version stays: the feeds file, milan" in outcome.summary
    assert [f.name for f in registry.feeds] == ["TMW"]
    assert [w.name for w in registry.watchlists] == ["inter", "milan"]
    found = {(m.watchlist, m.term) for m in registry.matcher().match("Lautaro e Palestra")}
    assert found == {("inter", "Lautaro"), ("milan", "Palestra")}


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions")
def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    locked = lists / "locked.yaml"
    locked.write_text(MILAN, encoding="utf-8")
    locked.chmod(0)
    out = newsbot(["check", "--watchlists", str(lists)], cwd=tmp_path)
    assert out.returncode == 1 and f"{locked}:1: cannot read file: Permission denied" in out.stdout
