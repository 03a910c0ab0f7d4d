"""The four commands as a user runs them: real processes, a loopback feed server, a temp store."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import IO

import httpx
import pytest
from conftest import subprocess_env
from feedserver import FeedServer

ROOT = Path(__file__).resolve().parents[1]
WATCHLISTS = ROOT / "watchlists"
RUN = [sys.executable, "-m", "bot", "run", "--console", "--json"]
SEED = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"


def rss(*items: tuple[str, str, str]) -> bytes:
    """A small RSS 2.0 document; each item is (title, link, pubDate)."""
    body = "".join(
        f"<item><title>{t}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><description>{t}.</description></item>"
        for t, link, date in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Test</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


OLD = [
    (
        "Juventus, allenamento a porte chiuse",
        "https://www.tmw.example/juve-1",
        "Fri, 10 Oct 2025 08:00:00 +0200",
    ),
    (
        "Napoli, Conte studia il turnover",
        "https://www.tmw.example/napoli-1",
        "Fri, 10 Oct 2025 08:30:00 +0200",
    ),
    (
        "Palestra, il Milan ci pensa ancora",
        "https://www.tmw.example/old-palestra",
        "Fri, 10 Oct 2025 07:00:00 +0200",
    ),
]
NEW = (
    "Milan, Allegri indica il nome: assalto a Palestra dell&#8217;Atalanta",
    "https://www.tmw.example/palestra?utm_source=rss",
    "Fri, 10 Oct 2025 11:12:00 +0200",
)


def newsbot(
    args: Sequence[str],
    *,
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    full_env = subprocess_env(**(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def feeds_file(tmp_path: Path, feeds: dict[str, str], interval: int = 60) -> Path:
    lines = [f"defaults:\n  interval: {interval}\nfeeds:"]
    for name, url in feeds.items():
        lines.append(f"  - name: {name}\n    url: {url}")
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def poll(
    tmp_path: Path, feeds: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return newsbot(
        [
            "poll",
            "--once",
            "--console",
            "--json",
            "--feeds",
            str(feeds),
            "--watchlists",
            str(WATCHLISTS),
            "--db",
            f"sqlite:///{tmp_path / 'state.db'}",
            *extra,
        ],
        cwd=tmp_path,
        env=env,
    )


def start_run(tmp_path: Path, feeds: Path, lists: Path, *, http: str) -> subprocess.Popen[str]:
    """`newsbot run --console --json` over a store in tmp_path; output captured."""
    db = f"sqlite:///{tmp_path / 'state.db'}"
    return subprocess.Popen(
        [*RUN, "--feeds", str(feeds), "--watchlists", str(lists), "--db", db],
        cwd=tmp_path,
        env=subprocess_env(NEWSBOT_HTTP=http),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def json_lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_help_lists_commands_and_options(tmp_path: Path) -> None:
    top = newsbot(["--help"], cwd=tmp_path)
    assert top.returncode == 0
    for command in ("run", "poll", "match", "check"):
        assert command in top.stdout
    sub = newsbot(["poll", "--help"], cwd=tmp_path)
    for option in ("--once", "--feeds", "--watchlists", "--db", "--console", "--json"):
        assert option in sub.stdout
    assert "TELEGRAM_BOT_TOKEN" in sub.stdout


def test_check_passes_on_shipped_files_and_reports_path_line(tmp_path: Path) -> None:
    ok = newsbot(["check", "--watchlists", str(WATCHLISTS)], cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad_dir = tmp_path / "lists"
    bad_dir.mkdir()
    (bad_dir / "milan.yaml").write_text("name: milan\nterms:\n  - Milan\n  - colour: red\n")
    bad_feeds = tmp_path / "bad.yaml"
    bad_feeds.write_text("feeds:\n  - name: A\n    url: notaurl\n")
    bad = newsbot(["check", "--feeds", str(bad_feeds), "--watchlists", str(bad_dir)], cwd=tmp_path)
    assert bad.returncode == 1
    assert f"{bad_feeds}:3: " in bad.stdout
    assert f"{bad_dir / 'milan.yaml'}:4: " in bad.stdout


def test_check_json_ends_with_a_summary_and_names_duplicates_and_link_loops(
    tmp_path: Path,
) -> None:
    """`check --json` always ends with a summary line (valid is not silence); two feeds with
    one name and a watchlist link that loops are `path:line` problems, not skipped."""
    ok = newsbot(["check", "--json", "--watchlists", str(WATCHLISTS)], cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json_lines(ok.stdout) == [
        {
            "ok": True,
            "problems": 0,
            "feeds": str(ROOT / "bot" / "feeds.yaml"),
            "watchlists": str(WATCHLISTS),
        }
    ]
    feeds = feeds_file(tmp_path, {"A": "https://a.example/rss"})
    feeds.write_text(feeds.read_text() + "  - name: A\n    url: https://b.example/rss\n")
    lists = tmp_path / "lists"
    lists.mkdir()
    shutil.copy(WATCHLISTS / "milan.yaml", lists)
    (lists / "loop.yaml").symlink_to("loop.yaml")
    bad = newsbot(
        ["check", "--json", "--feeds", str(feeds), "--watchlists", str(lists)], cwd=tmp_path
    )
    assert bad.returncode == 1
    *problems, summary = json_lines(bad.stdout)
    assert {(p["path"], p["line"]) for p in problems} == {
        (str(feeds), 6),
        (str(lists / "loop.yaml"), 1),
    }
    assert any("duplicate feed name" in str(p["message"]) for p in problems)
    assert any("cannot read file" in str(p["message"]) for p in problems)
    assert summary["ok"] is False and summary["problems"] == 2


def test_match_json_reports_canonical_terms(tmp_path: Path) -> None:
    out = newsbot(
        [
            "match",
            "--json",
            "--watchlists",
            str(WATCHLISTS),
            SEED,
            "Oggi seduta in palestra per i rossoneri",
        ],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    first, second = json_lines(out.stdout)
    assert first["text"] == SEED
    terms = {m["term"] for m in first["matches"]}  # type: ignore[union-attr]
    assert {"Milan", "Atalanta"} <= terms
    assert any("Palestra" in str(t) for t in terms)
    assert all(set(m) == {"watchlist", "term", "matched", "score"} for m in first["matches"])  # type: ignore[union-attr]
    assert not any("Palestra" in str(m["term"]) for m in second["matches"])  # type: ignore[union-attr]


def test_common_options_work_before_the_command_too(tmp_path: Path) -> None:
    """`newsbot --watchlists DIR --json match …` is how many admins type it; it must not be
    refused as an unknown command, and an option after the command still wins."""
    before = newsbot(["--watchlists", str(WATCHLISTS), "--json", "match", SEED], cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    (match,) = json_lines(before.stdout)
    assert {"Milan", "Atalanta"} <= {m["term"] for m in match["matches"]}  # type: ignore[union-attr]
    empty = tmp_path / "none"
    empty.mkdir()
    after = newsbot(
        ["--watchlists", str(empty), "match", "--watchlists", str(WATCHLISTS), "--json", SEED],
        cwd=tmp_path,
    )
    assert json_lines(after.stdout) == json_lines(before.stdout)


def test_match_reads_stdin_and_prints_a_table(tmp_path: Path) -> None:
    out = newsbot(
        ["match", "--watchlists", str(WATCHLISTS)],
        cwd=tmp_path,
        stdin=SEED + "\nNessuna squadra qui\nDOVBIK e Pulisic, nerazzurro in crisi\n",
    )
    assert out.returncode == 0, out.stderr
    seed, nothing, variants = out.stdout.strip().split("\n\n")
    assert seed.splitlines()[1].split() == ["watchlist", "term", "matched", "score", "span", "why"]
    assert any(r.split()[-1] == "exact" and "Milan" in r for r in seed.splitlines()[2:])
    assert nothing.endswith("(no match)")
    rows = variants.splitlines()[2:]
    assert any("DOVBIK" in r and r.endswith("variant of Dovbyk") for r in rows)
    assert any("Pulisic" in r and r.endswith("alias Pulisic") for r in rows)
    assert any("nerazzurro" in r and r.endswith("variant of nerazzurri") for r in rows)


def test_backlog_then_one_alert_then_nothing(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.set("/tmw.xml", rss(*OLD), etag='"v1"')
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})

    first = poll(tmp_path, feeds)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "", "a new feed's backlog alerts no one"

    feed_server.set("/tmw.xml", rss(NEW, *OLD), etag='"v2"')
    second = poll(tmp_path, feeds)
    assert second.returncode == 0, second.stderr
    (alert,) = json_lines(second.stdout)
    assert alert["event"] == "alert" and alert["subscriber"] == "console"
    assert alert["title"] == SEED
    assert alert["source"] == "Tuttomercatoweb"
    assert alert["published"] == "2025-10-10T09:12:00+00:00"
    assert str(alert["url"]).startswith("https://www.tmw.example/palestra")
    assert alert["story"]
    assert {"Palestra", "Milan", "Atalanta"} <= {
        str(m["term"]).split()[-1] for m in alert["matches"]
    }  # type: ignore[union-attr]

    third = poll(tmp_path, feeds)
    assert third.returncode == 0 and third.stdout == "", "unchanged feeds print nothing"
    assert feed_server.requests("/tmw.xml")[-1].get("if-none-match") == '"v2"'

    feed_server.set("/tmw.xml", rss(NEW, *OLD[1:]), etag='"v3"')  # reordered, an item dropped
    assert poll(tmp_path, feeds).stdout == ""


def cp1252_rss(title: str, link: str) -> bytes:
    """A feed whose bytes are Windows-1252 while its prolog claims UTF-8 (a real-world lie)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<item><title>{title}</title><link>{link}</link></item></channel></rss>"
    ).encode("cp1252")


def test_failing_feeds_warn_and_others_still_deliver(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Timeout, 404, 500, refused, oversized, malformed, wrong charset: one warning line each,
    exit code 0, and every other feed still delivers."""
    feed_server.set("/ok.xml", rss(*OLD))
    feed_server.set("/gone.xml", b"not here", status=404)
    feed_server.set("/broken.xml", b"oops", status=500)
    feed_server.set("/garbage.xml", b"<rss><channel><item><title>Milan")
    feed_server.set("/slow.xml", rss(*OLD), delay=3)
    feed_server.set("/huge.xml", rss(*OLD) + b"<!--" + b"x" * 200_000 + b"-->")
    feed_server.set("/latin.xml", cp1252_rss("Juventus, seduta", "https://a.example/juve"))
    feeds = feeds_file(
        tmp_path,
        {
            "Good": feed_server.url("/ok.xml"),
            "Gone": feed_server.url("/gone.xml"),
            "Broken": feed_server.url("/broken.xml"),
            "Garbage": feed_server.url("/garbage.xml"),
            "Refused": feed_server.closed_url("/x.xml"),
            "Slow": feed_server.url("/slow.xml"),
            "Huge": feed_server.url("/huge.xml"),
            "Latin": feed_server.url("/latin.xml"),
        },
    )
    limits = {"NEWSBOT_FETCH_TIMEOUT": "0.5", "NEWSBOT_MAX_FEED_BYTES": "100000"}
    first = poll(tmp_path, feeds, env=limits)
    assert first.returncode == 0, first.stderr
    feed_server.set("/ok.xml", rss(NEW, *OLD))
    barella = "Nicolò Barella: «L’Inter è più forte»"
    feed_server.set("/latin.xml", cp1252_rss(barella, "https://a.example/barella"))
    second = poll(tmp_path, feeds, env=limits)
    assert second.returncode == 0
    titles = sorted(str(a["title"]) for a in json_lines(second.stdout))
    assert titles == sorted([SEED, barella]), "good feeds deliver, accents intact"
    warnings = [line for line in second.stderr.splitlines() if "level=WARNING" in line]
    for name, reason in [
        ("Gone", "404"),
        ("Broken", "500"),
        ("Refused", "refused"),
        ("Slow", "timeout"),
        ("Huge", "larger than"),
        ("Garbage", ""),
        ("Latin", "windows-1252"),
    ]:
        lines = [w for w in warnings if f"'{name}'" in w]
        assert len(lines) == 1 and reason in lines[0], (name, lines)
    assert "Traceback" not in first.stderr + second.stderr


def test_bad_feeds_file_exits_2_with_path_line(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: A\n    url: nope\n")
    out = poll(tmp_path, feeds)
    assert out.returncode == 2
    assert out.stderr.count(f"{feeds}:3:") == 1
    assert "last good version" not in out.stderr  # there is none at start-up


def test_real_snapshots_poll_cleanly(
    tmp_path: Path, feed_server: FeedServer, real_feeds: Path
) -> None:
    """Each real outlet snapshot, served as a feed: backlog first, then a later snapshot alerts."""
    pairs = {
        "Tuttomercatoweb": (
            "prospect-tuttomercatoweb-2026-02-23.xml",
            "prospect-tuttomercatoweb-2026-03-06.xml",
        ),
        "Corriere dello Sport": (
            "prospect-corrieredellosport-2026-02-15.xml",
            "prospect-corrieredellosport-2026-03-06.xml",
        ),
        "Tuttosport": ("prospect-tuttosport-2026-02-05.xml", "prospect-tuttosport-2026-03-03.xml"),
        "Il Napolista": (
            "prospect-ilnapolista-2026-02-15.xml",
            "prospect-ilnapolista-2026-03-06.xml",
        ),
    }
    for name, (before, _) in pairs.items():
        feed_server.set(f"/{slug(name)}.xml", (real_feeds / before).read_bytes())
    feeds = feeds_file(tmp_path, {n: feed_server.url(f"/{slug(n)}.xml") for n in pairs})
    first = poll(tmp_path, feeds)
    assert first.returncode == 0 and first.stdout == "", first.stderr
    for name, (_, after) in pairs.items():
        feed_server.set(f"/{slug(name)}.xml", (real_feeds / after).read_bytes())
    out = poll(tmp_path, feeds)
    assert out.returncode == 0, out.stderr
    alerts = json_lines(out.stdout)
    assert alerts, "later snapshots mention followed clubs"
    for alert in alerts:
        assert "<p>" not in str(alert["title"]) and "&lt;" not in str(alert["title"])
    titles = " ".join(str(a["title"]) for a in alerts)
    assert "Palestra" in titles or "Dybala" in titles
    assert poll(tmp_path, feeds).stdout == ""


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_health_reloads_live_and_stops_on_sigterm(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw.xml", rss(*OLD))
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    lists = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, lists)
    port = free_port()
    proc = start_run(tmp_path, feeds, lists, http=f"127.0.0.1:{port}")
    log = LineReader(proc.stderr)
    try:
        health = _wait_for_health(port, proc)
        assert health["store"] is True and "Tuttomercatoweb" in health["feeds"]
        assert log.wait_for("feed=Tuttomercatoweb status=ok", 5)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert 'newsbot_polls_total{feed="Tuttomercatoweb",outcome="ok"} 1.0' in metrics

        (lists / "milan.yaml").write_text("name: milan\nterms:\n  - Milan\n  - {term: ''}\n")
        assert log.wait_for(f"{lists / 'milan.yaml'}:4:", 5), "a bad edit is refused at its line"
        assert log.wait_for("last good version stays", 5)
        assert log.text().count(f"{lists / 'milan.yaml'}:4:") == 1, "each problem logged once"
        (lists / "milan.yaml").write_text("name: milan\nterms:\n  - Milan\n  - Leão\n")
        assert log.wait_for("configuration reloaded", 5), "a valid edit applies within 5 s"

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - started < 10
        assert proc.returncode == 0, log.text()
        assert "Traceback" not in log.text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class LineReader:
    """Collects a stream's lines in a thread, so a test can wait (bounded) for one to appear."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._new = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._new:
                self.lines.append(line)
                self._new.notify_all()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, fragment: str, timeout: float) -> bool:
        with self._new:
            return self._new.wait_for(lambda: fragment in self.text(), timeout)


def _wait_for_health(port: int, proc: subprocess.Popen[str]) -> dict[str, object]:
    """Wait (bounded) until the service answers /healthz 200 with the feed polled once."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"newsbot run exited early: {proc.communicate()[1]}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            body = answer.json()
            feeds = body.get("feeds", {})
            if answer.status_code == 200 and all(f.get("last_poll") for f in feeds.values()):
                return body  # type: ignore[no-any-return]
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("newsbot run never became healthy")


@pytest.mark.parametrize(
    ("db", "reason"),
    [
        ("postgresql://newsbot:hunter2@127.0.0.1:1/newsbot", "Connection refused"),
        ("nonsense", "Could not parse"),
        ("sqlite:////proc/no-such-dir/state.db", "unable to open database file"),
        ("mysql://newsbot:hunter2@127.0.0.1/newsbot", "unsupported database 'mysql'"),
    ],
)
@pytest.mark.parametrize("command", [["poll", "--once"], ["run"]])
def test_unusable_store_is_one_clear_line_and_exit_2(
    tmp_path: Path, db: str, reason: str, command: list[str]
) -> None:
    feeds = feeds_file(tmp_path, {"A": "https://a.example/rss"})
    out = newsbot(
        [*command, "--console", "--feeds", str(feeds), "--watchlists", str(WATCHLISTS), "--db", db],
        cwd=tmp_path,
        env={"NEWSBOT_HTTP": "off"},
    )
    assert out.returncode == 2
    assert "cannot open the store" in out.stderr and reason in out.stderr
    assert "hunter2" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSBOT_HTTP", "garbage:xx", "port must be 0-65535"),
        ("NEWSBOT_POLL_CONCURRENCY", "many", "valid integer"),
        ("NEWSBOT_FETCH_TIMEOUT", "-1", "greater than 0"),
        ("LOG_LEVEL", "VERBOSE", "unknown level 'VERBOSE' (use DEBUG, INFO, WARNING, ERROR)"),
        ("LOG_FORMAT", "xml", "unknown format 'xml' (use text or json)"),
        ("NEWSBOT_CONSOLE", "maybe", "valid boolean"),
        ("NEWSBOT_ADMINS", "42,4O", "'4O' is not a Telegram user id"),
        ("TELEGRAM_API_URL", "api.telegram.org", "not an http(s) URL"),
        ("NEWSBOT_WEBHOOK_URL", "ftp://bot.example.org/hook", "not an http(s) URL"),
        ("TELEGRAM_BOT_TOKEN_FILE", "/nonexistent/token", "cannot read /nonexistent/token"),
    ],
)
def test_a_bad_setting_is_named_not_a_traceback(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    out = newsbot(["poll", "--once"], cwd=tmp_path, env={variable: value})
    assert out.returncode == 2
    assert out.stderr.startswith(f"invalid setting {variable}: ") and message in out.stderr
    assert len(out.stderr.splitlines()) == 1 and "Traceback" not in out.stderr


def test_sigterm_lets_a_poll_in_progress_finish(tmp_path: Path, feed_server: FeedServer) -> None:
    """Stopping waits for the poll in flight (bounded) instead of cancelling it: its backlog is
    recorded, so the next poll alerts only on what is really new."""
    feed_server.set("/tmw.xml", rss(*OLD), delay=1.5)
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    proc = start_run(tmp_path, feeds, WATCHLISTS, http="off")
    try:
        deadline = time.monotonic() + 20
        while not feed_server.requests("/tmw.xml") and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # the poll is in flight now
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "feed=Tuttomercatoweb status=ok" in err and "Traceback" not in err

    feed_server.set("/tmw.xml", rss(NEW, *OLD))
    (alert,) = json_lines(poll(tmp_path, feeds).stdout)
    assert alert["title"] == SEED


def test_old_news_first_seen_now_alerts_no_one(tmp_path: Path, feed_server: FeedServer) -> None:
    """An item published days ago that appears only now (a re-post under a new address, a
    feed back after days away) is recorded but alerts no one; today's news does."""
    now = datetime.now(UTC)
    fresh = ("Milan, Leão torna in gruppo", "https://tmw.example/leao", format_datetime(now))
    old = (
        "Milan, Leão si ferma",
        "https://tmw.example/leao-old",
        format_datetime(now - timedelta(days=5)),
    )
    feed_server.set("/tmw.xml", rss(*OLD))
    feeds = feeds_file(tmp_path, {"Tuttomercatoweb": feed_server.url("/tmw.xml")})
    default_age = {"NEWSBOT_MAX_AGE_HOURS": "48"}  # the default, which the other tests turn off
    assert poll(tmp_path, feeds, env=default_age).stdout == ""
    feed_server.set("/tmw.xml", rss(fresh, old, *OLD))
    (alert,) = json_lines(poll(tmp_path, feeds, env=default_age).stdout)
    assert alert["title"] == fresh[0]


def test_match_says_why_context_ruled_a_mention_out(tmp_path: Path) -> None:
    """Another sport, a place, an outlet's name: the admin sees each rule at work."""
    headlines = [
        "Internazionali Tennis Roma 2021: Berrettini e Sonego al 2° turno, eliminato Musetti",
        'Disfatta a Torino, la Juve vince 3-0. Il Mattino in apertura sul Napoli: "Al tappeto"',
        "Furia Vigorito a Sky: “Mazzoleni ammazza noi ed il Napoli!” - Tutto Napoli",
    ]
    out = newsbot(
        ["match", "--json", "--watchlists", str(WATCHLISTS)],
        cwd=tmp_path,
        stdin="\n".join(headlines) + "\n",
    )
    assert out.returncode == 0, out.stderr
    tennis, turin, outlet = json_lines(out.stdout)
    assert tennis["matches"] == []
    assert [(r["term"], r["reason"]) for r in tennis["rejected"]] == [  # type: ignore[union-attr]
        ("Roma", "another sport: tennis")
    ]
    assert {m["term"] for m in turin["matches"]} == {"Juventus", "Napoli"}  # type: ignore[union-attr]
    assert [(r["term"], r["reason"]) for r in turin["rejected"]] == [  # type: ignore[union-attr]
        ("Torino", "place ('a Torino')")
    ]
    assert [m["term"] for m in outlet["matches"]] == ["Napoli"]  # type: ignore[index]
    assert [r["reason"] for r in outlet["rejected"]] == ["outlet name"]  # type: ignore[union-attr]

    text = newsbot(["match", "--watchlists", str(WATCHLISTS), headlines[0]], cwd=tmp_path)
    lines = [line for line in text.stdout.splitlines() if line.strip()]
    assert lines[1] == "  (no match)"
    assert lines[-1].split()[:2] == ["roma", "Roma"]
    assert lines[-1].endswith("not matched: another sport: tennis")


def test_poll_alerts_in_context(tmp_path: Path, feed_server: FeedServer) -> None:
    """A general sports feed through a whole `poll --once`: the tennis in Rome, a Juventus win
    in Turin and a volley feed alert no club named after a city; an outlet's name is cut from
    the alert's title and matches nothing."""
    date = "Fri, 10 Oct 2025 11:12:00 +0200"
    general = [
        ("Internazionali di Roma, Sinner in finale", "https://www.sport.example/tennis/sinner"),
        (
            'Disfatta a Torino, la Juve vince 3-0. Il Mattino in apertura sul Napoli: "Al tappeto"',
            "https://www.tmw.example/rassegna-stampa/juve-napoli",
        ),
        ("Lukaku torna ad allenarsi - Tutto Napoli", "https://www.tuttonapoli.example/lukaku"),
    ]
    volley = [("Monza, impresa in casa di Scandicci", "https://www.volley.example/monza")]
    feed_server.set("/general.xml", rss(*OLD))
    feed_server.set("/volley.xml", rss(*OLD[:1]))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        f"  - name: Generale\n    url: {feed_server.url('/general.xml')}\n"
        f"  - name: Volley\n    url: {feed_server.url('/volley.xml')}\n    sport: volley\n",
        encoding="utf-8",
    )
    assert poll(tmp_path, feeds).stdout == ""  # the backlog
    feed_server.set("/general.xml", rss(*[(t, link, date) for t, link in general], *OLD))
    feed_server.set("/volley.xml", rss(*[(t, link, date) for t, link in volley], *OLD[:1]))
    out = poll(tmp_path, feeds)
    assert out.returncode == 0, out.stderr
    alerts = {a["title"]: {m["term"] for m in a["matches"]} for a in json_lines(out.stdout)}  # type: ignore[union-attr]
    assert alerts == {
        general[1][0]: {"Juventus", "Napoli"},
        "Lukaku torna ad allenarsi": {"Romelu Lukaku"},
    }
