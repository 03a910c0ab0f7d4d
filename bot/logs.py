"""Logging setup: one line per record, secrets redacted everywhere.

Why a redaction layer at all: python-telegram-bot and httpx put the bot token in every request
URL (``https://api.telegram.org/bot<TOKEN>/sendMessage``) and those URLs end up in log lines,
exception messages and tracebacks. Anyone who reads the logs could then drive the bot. So every
record that reaches our handlers is scrubbed: the configured token (also URL-encoded), anything
shaped like a Telegram token, and passwords embedded in URLs (``postgresql://user:pw@host``).

Two formats, chosen with ``LOG_FORMAT``: ``text`` (default, ``key=value`` pairs, easy to grep) and
``json`` (one object per line, for log shippers). The level comes from ``LOG_LEVEL``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote

REDACTED = "[REDACTED]"

# `bot<digits>:<secret>` as it appears in Bot API URLs, and a bare `<digits>:<secret>` token.
_BOT_URL_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]{30,}")
_BARE_TOKEN = re.compile(r"(?<![\w:])\d{5,}:[A-Za-z0-9_-]{30,}")
# scheme://user:password@host -> scheme://user:[REDACTED]@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@")

_secrets: set[str] = set()

# Attributes every LogRecord has; anything else on a record came from `extra=` and is printed.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

# Chatty third-party loggers: httpx logs every request (one per poll and per message) at INFO.
_QUIET_LOGGERS = ("httpx", "httpcore", "apscheduler.executors.default", "apscheduler.scheduler")


def register_secret(secret: str | None) -> None:
    """Redact `secret` (and its URL-encoded form) from every record from now on.

    Call with the bot token as soon as the configuration is loaded: the token may come from a
    `.env` file that never touched `os.environ`, so the environment alone is not enough.
    """
    if not secret or len(secret) < 6:
        return  # redacting a tiny string would mangle ordinary text
    _secrets.add(secret)
    _secrets.add(quote(secret, safe=""))


def redact(text: str) -> str:
    """Return `text` with every known secret and token-shaped string replaced by [REDACTED]."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _BOT_URL_TOKEN.sub("bot" + REDACTED, text)
    text = _BARE_TOKEN.sub(REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED + "@", text)


class RedactingFilter(logging.Filter):
    """Scrubs a record in place before any handler formats it.

    The message is rendered (``msg % args``) and redacted, and the traceback text is rendered and
    redacted into ``exc_text``, which ``logging.Formatter`` then prints instead of re-rendering
    the exception. Returning True: we never drop records, we only clean them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_FIELDS}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """``ts=… level=INFO logger=bot.fetch msg="…" feed=Gazzetta`` on one line.

    Tracebacks are folded into an ``exc`` field (newlines escaped) so one event stays one line.
    The output is redacted again as a last line of defence (extras, odd reprs).
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(self, record)
        return redact(" ".join(f"{k}={_kv_value(v)}" for k, v in fields.items()))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, any `extra=` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(json.dumps(_fields(self, record), ensure_ascii=False, default=str))


def _fields(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    """What both formats print, in this order: ts, level, logger, msg, `extra=` fields, exc."""
    fields: dict[str, Any] = {
        "ts": _timestamp(record),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update(_extras(record))
    exc = _exception_text(formatter, record)
    if exc:
        fields["exc"] = exc
    return fields


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    parts = [p for p in (record.exc_text, record.stack_info) if p]
    return "\n".join(parts)


def parse_level(value: str | int | None) -> int:
    """LOG_LEVEL as a logging level: a name (``debug``, ``WARNING``) or a number; INFO if unset."""
    if value is None or value == "":
        return logging.INFO
    if isinstance(value, int):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL: unknown level {value!r} (use DEBUG, INFO, WARNING, ERROR)")
    return level


LOG_FORMATS = ("text", "json")


def parse_format(value: str | None) -> str:
    """LOG_FORMAT as one of LOG_FORMATS; `text` if unset (`kv`, its former name, still works)."""
    name = (value or "text").strip().lower()
    if name == "kv":
        return "text"
    if name not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT: unknown format {value!r} (use text or json)")
    return name


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """Uncaught exceptions go through logging too: Python's default hook would print the
    traceback, token-bearing URLs included, straight to standard error."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    logging.getLogger("newsbot").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def setup_logging(
    level: str | int | None = None,
    fmt: str | None = None,
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Configure the root logger once for the whole process; returns the installed handler.

    `level` and `fmt` default to the LOG_LEVEL and LOG_FORMAT environment variables; `secrets`
    (the bot token) are registered for redaction, as is TELEGRAM_BOT_TOKEN from the environment.
    Calling it again replaces the handler it installed before rather than adding a second one.
    Uncaught exceptions (sys.excepthook) are logged, hence redacted, too.
    """
    resolved_level = parse_level(level if level is not None else os.environ.get("LOG_LEVEL"))
    fmt_name = parse_format(fmt or os.environ.get("LOG_FORMAT"))
    for secret in (*secrets, os.environ.get("TELEGRAM_BOT_TOKEN")):
        register_secret(secret)

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name("newsbot")
    handler.setFormatter(JsonFormatter() if fmt_name == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter())

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "newsbot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(resolved_level)
    quiet = logging.DEBUG if resolved_level <= logging.DEBUG else logging.WARNING
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    return handler
