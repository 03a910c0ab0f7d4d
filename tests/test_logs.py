"""Log lines as an operator reads them: one line per event, and never the bot token."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest

from bot import logs

TOKEN = "7312345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
OTHER_TOKEN = "5550001111:ZZZdqTcvCH1vGWJxfSeofSAs0K5PALDzzzz"


@pytest.fixture(autouse=True)
def _restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """setup_logging changes process-wide state; give it back so other tests are unaffected."""
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    quiet = {name: logging.getLogger(name).level for name in logs._QUIET_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)
    logging.captureWarnings(False)
    sys.excepthook = hook


def configure(**kwargs: object) -> io.StringIO:
    out = io.StringIO()
    logs.setup_logging(stream=out, **kwargs)  # type: ignore[arg-type]
    return out


def test_httpx_request_log_does_not_show_the_token() -> None:
    """httpx logs every request URL; a Bot API URL carries the token in its path."""
    out = configure(level="DEBUG", secrets=[TOKEN])
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    with httpx.Client(transport=transport) as client:
        client.post(f"https://api.telegram.org/bot{TOKEN}/sendMessage", json={"text": "ciao"})
    text = out.getvalue()
    assert "HTTP Request: POST https://api.telegram.org/bot[REDACTED]/sendMessage" in text
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text


def test_exception_with_the_token_is_redacted_in_message_and_traceback() -> None:
    out = configure(secrets=[TOKEN])
    log = logging.getLogger("bot.deliver")
    try:
        raise httpx.ConnectError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe")
    except httpx.ConnectError as exc:
        log.error("delivery failed: %s", exc, exc_info=True)
    text = out.getvalue()
    assert "delivery failed" in text
    assert "Traceback" in text and "ConnectError" in text  # the traceback is still there
    assert TOKEN not in text
    assert TOKEN.split(":")[1] not in text


def test_an_uncaught_exception_is_logged_redacted_not_printed_raw() -> None:
    out = configure(secrets=[TOKEN])
    try:
        raise RuntimeError(f"polling https://api.telegram.org/bot{TOKEN}/getUpdates died")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    text = out.getvalue()
    assert "level=CRITICAL" in text and "RuntimeError" in text
    assert TOKEN not in text


def test_a_token_that_was_never_registered_is_still_redacted_by_shape() -> None:
    out = configure()
    logging.getLogger("telegram.ext").warning(
        "bad url https://api.telegram.org/bot%s/getUpdates and bare %s", OTHER_TOKEN, OTHER_TOKEN
    )
    text = out.getvalue()
    assert OTHER_TOKEN not in text
    assert text.count(logs.REDACTED) == 2


def test_url_encoded_token_and_database_password_are_redacted() -> None:
    out = configure(secrets=[TOKEN])
    logging.getLogger("bot.store").warning(
        "connect %s failed; webhook secret path %s",
        "postgresql+psycopg://newsbot:hunter2@db:5432/newsbot",
        "/hook?t=" + TOKEN.replace(":", "%3A"),
    )
    text = out.getvalue()
    assert "hunter2" not in text
    assert "postgresql+psycopg://newsbot:[REDACTED]@db:5432/newsbot" in text
    assert "/hook?t=[REDACTED]" in text
    assert TOKEN.split(":")[1] not in text


def test_extra_fields_are_printed_and_redacted() -> None:
    out = configure(secrets=[TOKEN])
    logging.getLogger("bot.fetch").info(
        "poll done", extra={"feed": "Gazzetta - Calcio", "status": 304, "url": f"x/bot{TOKEN}/"}
    )
    line = out.getvalue().strip()
    assert 'feed="Gazzetta - Calcio"' in line
    assert "status=304" in line
    assert 'msg="poll done"' in line
    assert "logger=bot.fetch" in line and "level=INFO" in line
    assert TOKEN not in line


def test_key_value_format_keeps_a_traceback_on_one_line() -> None:
    out = configure()
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("bot").exception("boom")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert "ZeroDivisionError" in lines[0]


def test_json_format_is_one_object_per_line() -> None:
    out = configure(fmt="json", secrets=[TOKEN])
    log = logging.getLogger("bot.deliver")
    log.info("sent", extra={"chat": 42})
    try:
        raise RuntimeError(f"token {TOKEN} refused")
    except RuntimeError:
        log.exception("failed")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["msg"] for r in records] == ["sent", "failed"]
    assert records[0]["chat"] == 42 and records[0]["level"] == "INFO"
    assert "RuntimeError: token [REDACTED] refused" in records[1]["exc"]
    assert TOKEN not in out.getvalue()


def test_log_format_and_level_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    out = configure()
    logging.getLogger("bot").info("hidden")
    logging.getLogger("bot").warning("shown")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["msg"] for r in records] == ["shown"]


def test_token_from_the_environment_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "short:butsecretvalue")
    out = configure()
    logging.getLogger("bot").warning("config token=short:butsecretvalue")
    assert "butsecretvalue" not in out.getvalue()


def test_httpx_request_lines_are_quiet_at_info() -> None:
    out = configure(level="INFO")
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=transport) as client:
        client.get("https://www.gazzetta.it/rss/calcio.xml")
    assert "HTTP Request" not in out.getvalue()


def test_calling_setup_twice_does_not_duplicate_lines() -> None:
    configure()
    out = configure()
    logging.getLogger("bot").warning("once")
    assert out.getvalue().count("once") == 1


@pytest.mark.parametrize("bad", ["LOUD", "-"])
def test_unknown_level_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        logs.setup_logging(level=bad, stream=io.StringIO())


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.setup_logging(fmt="xml", stream=io.StringIO())


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "Milan 2-1 Inter alle 20:45, http://127.0.0.1:8080/healthz, id 12345:abc"
    assert logs.redact(text) == text
