"""`newsbot subscribers export|import`: backups and migrations an admin can trust.

Run through the real command: a bad line is reported with its line number and skipped while the
rest is imported, importing twice changes nothing, and what is exported imports back unchanged.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.store import Store
from bot.subscribers import SubscriberRecord, parse_line
from tests.conftest import ROOT, subprocess_env

GOOD = [
    {
        "chat_id": 123456,
        "type": "private",
        "language": "it",
        "lists": ["milan"],
        "terms": ["Palestra"],
        "muted_until": None,
        "active": True,
    },
    {
        "chat_id": -1001234,
        "type": "supergroup",
        "language": "en",
        "lists": ["inter", "juventus"],
        "terms": [],
        "muted_until": "2026-12-02T07:00:00+00:00",
        "active": True,
    },
    {
        "chat_id": 42,
        "type": "private",
        "language": "it",
        "lists": [],
        "terms": ["Nicolò Barella", "Dovbyk"],
        "muted_until": None,
        "active": False,
        "quiet_hours": "23:00-07:00",
        "digest_at": "08:00",
        "timezone": "Europe/London",
    },
]


def newsbot(*args: str, db: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args, "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        input=stdin,
        env=subprocess_env(NEWSBOT_WATCHLISTS=str(ROOT / "watchlists")),
        timeout=60,
        check=False,
    )


def lines(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def exported(db: Path) -> list[dict[str, object]]:
    result = newsbot("subscribers", "export", db=db)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_export_imports_back_unchanged_and_twice_changes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "subs.jsonl"
    source.write_text(lines(GOOD), encoding="utf-8")
    first = newsbot("subscribers", "import", str(source), db=tmp_path / "a.db")
    assert first.returncode == 0, first.stderr
    assert "imported 3 subscribers (3 new, 0 updated)" in first.stderr
    assert exported(tmp_path / "a.db") == GOOD

    again = newsbot("subscribers", "import", str(source), db=tmp_path / "a.db")
    assert again.returncode == 0
    assert "(0 new, 3 updated)" in again.stderr
    backup = exported(tmp_path / "a.db")
    assert backup == GOOD

    restored = newsbot("subscribers", "import", "-", db=tmp_path / "b.db", stdin=lines(backup))
    assert restored.returncode == 0, restored.stderr
    assert exported(tmp_path / "b.db") == GOOD


def test_an_import_replaces_what_a_subscriber_follows(store: Store) -> None:
    """A restore makes the subscriber exactly as the file says: lists dropped there are gone."""
    store.import_subscribers([SubscriberRecord.model_validate(row) for row in GOOD])
    changed = SubscriberRecord.model_validate(
        {**GOOD[0], "lists": ["napoli"], "terms": [], "active": False}
    )
    store.import_subscribers([changed])
    assert next(iter(store.export_subscribers())) == changed


def test_bad_lines_are_named_and_skipped_the_rest_imported(tmp_path: Path) -> None:
    db = tmp_path / "bad.db"
    source = tmp_path / "subs.jsonl"
    body = (
        (
            lines([{**GOOD[0], "lists": ["milan", "curling"], "future": 1}])
            + "not json at all\n"
            + '{"chat_id": "somebody"}\n'
            + '{"chat_id": 5, "type": "robot"}\n'
            + "\n"
            + '{"chat_id": 6, "muted_until": "2026-12-02T08:00:00"}\n'
            + "[1, 2]\n"
        ).encode()
        + b'{"chat_id": 7, "terms": ["Nicol\xf2"]}\n'
        + lines([GOOD[1]]).encode()
    )
    source.write_bytes(body)
    result = newsbot("subscribers", "import", str(source), db=db)
    assert result.returncode == 1
    err = result.stderr
    assert f"{source}:2: not JSON" in err
    assert f"{source}:3: chat_id: must be an integer chat id or an @channel name" in err
    assert f"{source}:4: type:" in err
    assert f"{source}:6: muted_until:" in err
    assert f"{source}:7: not a JSON object" in err
    assert f"{source}:8: not UTF-8" in err
    assert ":5:" not in err  # a blank line is not a problem
    # Unknown keys and lists are warnings: the line is imported, the list kept for later.
    assert f"{source}:1: warning: unknown key 'future' ignored" in err
    assert f"{source}:1: warning: list 'curling' is not defined by any watchlist" in err
    assert "imported 2 subscribers" in err and "6 bad lines skipped" in err
    rows = exported(db)
    assert [row["chat_id"] for row in rows] == [GOOD[0]["chat_id"], GOOD[1]["chat_id"]]
    assert rows[0]["lists"] == ["milan", "curling"]


def test_import_needs_a_readable_file(tmp_path: Path) -> None:
    result = newsbot("subscribers", "import", str(tmp_path / "missing.jsonl"), db=tmp_path / "m.db")
    assert result.returncode == 2
    assert "missing.jsonl: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_imported_subscribers_receive_what_they_follow(store: Store) -> None:
    """The import is not only a file round trip: the store's fan-out sees the followers."""
    store.import_subscribers([SubscriberRecord.model_validate(row) for row in GOOD])
    followers = store.subscribers_for(["milan", "inter", "watch:palestra", "watch:dovbyk"])
    ids = {chat: store.subscriber(chat, create=False) for chat in ("123456", "-1001234", "42")}
    assert followers == {
        ids["123456"].id: {"milan", "watch:palestra"},
        ids["-1001234"].id: {"inter"},
    }  # chat 42 is inactive: its terms are not watched either
    assert store.watched_terms() == ["Palestra"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"chat_id": 1, "lists": ["' + "x" * 101 + '"]}', "lists: "),
        ('{"chat_id": true}', "chat_id: "),
        ('{"chat_id": 1, "language": "it alian"}', "language: "),
        ('{"type": "private"}', "chat_id: missing"),
        ('{"chat_id": 1, "quiet_hours": "23-7"}', "quiet_hours: "),
        ('{"chat_id": 1, "digest_at": "25:00"}', "digest_at: "),
        ('{"chat_id": 1, "timezone": "Europe/Milano"}', "timezone: "),
    ],
)
def test_line_problems_name_the_key(line: str, problem: str) -> None:
    record, problems = parse_line(9, line)
    assert record is None
    assert problems[0].line == 9 and problems[0].message.startswith(problem)


def test_a_channel_may_be_its_public_name() -> None:
    record, problems = parse_line(1, '{"chat_id": "@calciolive", "type": "channel"}')
    assert problems == [] and record is not None and record.chat_id == "@calciolive"


@pytest.mark.postgres
def test_round_trip_on_postgresql(pg_url: str) -> None:
    db = Store.open(pg_url)
    try:
        records = [SubscriberRecord.model_validate(row) for row in GOOD]
        assert db.import_subscribers(records).created == 3
        assert db.import_subscribers(records).created == 0
        assert [r.model_dump() for r in db.export_subscribers()] == [
            r.model_dump() for r in records
        ]
    finally:
        db.close()
