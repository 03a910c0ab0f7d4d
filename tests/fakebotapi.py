"""A fake Telegram Bot API server on 127.0.0.1, reached by python-telegram-bot via TELEGRAM_API_URL.

Why our own: the tests must prove what Telegram would *see* (every call, its parameters, the
moment it arrived) and must make Telegram misbehave on demand (429 with retry_after, 403, 400
"can't parse entities", group migration, 5xx, slow answers) without touching the internet.

It is a `ThreadingHTTPServer` in a daemon thread, speaking HTTP/1.1 keep-alive so that thousands
of requests stay cheap. Each call is recorded as a `Call` with `at` = the injectable `clock()` at
arrival (tests that fake time pass their virtual clock, so limits are checked in the sender's
time) and `wall` = `time.monotonic()`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

TOKEN = "123456:TEST-token"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Newsbot",
    "username": "newsbot_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass(frozen=True)
class Call:
    """One request the fake received: the Bot API method, its decoded parameters, when."""

    method: str
    params: dict[str, Any]
    at: float
    wall: float
    status: int = 200
    result: Any = None
    via: str = ""  # the path before /bot<token>: which client called, when each has its own

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id", ""))


@dataclass
class Fault:
    """A scripted failure: answer `status` + `description` (+ `parameters`) to matching calls."""

    method: str | None
    chat_id: str | None
    status: int
    description: str
    parameters: dict[str, Any] | None = None
    times: int | None = 1
    delay: float = 0.0

    def applies(self, method: str, chat_id: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[tuple[str, int], str] = field(default_factory=dict)
    admins: dict[str, set[int]] = field(default_factory=dict)
    chat_types: dict[str, str] = field(default_factory=dict)
    descriptions: dict[tuple[str, str | None], str] = field(default_factory=dict)
    confirmed: int = 0  # getUpdates' highest offset: the updates below it are confirmed


class FakeBotApi:
    """The server plus helpers to script updates and failures and to inspect what was sent."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, poll_wait: float = 0.2):
        self.clock = clock
        self.poll_wait = poll_wait
        self.token = TOKEN
        self._state = _State()
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBotApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- inspection -----------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str, chat_id: object | None = None) -> list[Call]:
        """Successful-or-not calls of `method` (optionally to one chat), in arrival order."""
        return [
            c
            for c in self.calls
            if c.method == method and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def sent(self, chat_id: object | None = None) -> list[Call]:
        """sendMessage calls that succeeded: what users actually received."""
        return [c for c in self.calls_to("sendMessage", chat_id) if c.status == 200]

    def message_text(self, chat_id: object, message_id: int) -> str | None:
        with self._lock:
            return self._state.messages.get((str(chat_id), message_id))

    def clear_calls(self) -> None:
        with self._lock:
            self._state.calls.clear()

    # -- scripting ------------------------------------------------------------------------
    def fail(
        self,
        method: str | None,
        *,
        status: int,
        description: str,
        chat_id: object | None = None,
        parameters: dict[str, Any] | None = None,
        times: int | None = 1,
        delay: float = 0.0,
    ) -> Fault:
        fault = Fault(
            method,
            None if chat_id is None else str(chat_id),
            status,
            description,
            parameters,
            times,
            delay,
        )
        with self._lock:
            self._state.faults.append(fault)
        return fault

    def too_many_requests(self, retry_after: int, **kw: Any) -> Fault:
        desc = f"Too Many Requests: retry after {retry_after}"
        return self.fail(
            kw.pop("method", "sendMessage"),
            status=429,
            description=desc,
            parameters={"retry_after": retry_after},
            **kw,
        )

    def block(self, chat_id: object, times: int | None = None) -> Fault:
        """The user blocked the bot: every send to the chat gets 403."""
        desc = "Forbidden: bot was blocked by the user"
        return self.fail(None, status=403, description=desc, chat_id=chat_id, times=times)

    def migrate(self, chat_id: object, new_chat_id: int) -> Fault:
        desc = "Bad Request: group chat was upgraded to a supergroup chat"
        params = {"migrate_to_chat_id": new_chat_id}
        return self.fail(None, status=400, description=desc, chat_id=chat_id, parameters=params)

    def slow(self, method: str, seconds: float, times: int | None = 1) -> Fault:
        """Answer normally, but only after `seconds` (status 0 means 'no failure')."""
        return self.fail(method, status=0, description="", times=times, delay=seconds)

    def set_admins(self, chat_id: object, user_ids: set[int], chat_type: str = "group") -> None:
        with self._lock:
            self._state.admins[str(chat_id)] = set(user_ids)
            self._state.chat_types[str(chat_id)] = chat_type

    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update for getUpdates; returns it (with its update_id)."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            self._state.updates.append(update)
            self._lock.notify_all()
            return update

    def user_message(
        self,
        text: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        language: str = "it",
    ) -> dict[str, Any]:
        """Queue a message (command or free text) typed by a user in a chat."""
        chat_id = user_id if chat_id is None else chat_id
        user = {"id": user_id, "is_bot": False, "first_name": "Utente", "language_code": language}
        message = {**self._message_base(chat_id, chat_type, text), "from": user}
        return self.add_update({"message": message})

    def channel_post(self, text: str, *, chat_id: int, title: str = "Canale") -> dict[str, Any]:
        """Queue a post in a channel (channels have no `from`; the poster is an admin)."""
        message = self._message_base(chat_id, "channel", text, title=title)
        message["sender_chat"] = dict(message["chat"])
        return self.add_update({"channel_post": message})

    def callback(
        self,
        data: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        message_id: int = 1,
        reply_markup: dict[str, Any] | None = None,
        chat_type: str = "private",
        language: str = "it",
    ) -> dict[str, Any]:
        """Queue an inline-keyboard button press (on a message that carries `reply_markup`)."""
        chat_id = user_id if chat_id is None else chat_id
        user = {"id": user_id, "is_bot": False, "first_name": "Utente", "language_code": language}
        message = self._message_base(chat_id, chat_type, "…")
        message["message_id"] = message_id
        message["from"] = BOT_USER
        if reply_markup is not None:
            message["reply_markup"] = reply_markup
        query = {"id": str(next(self._ids)), "from": user, "chat_instance": "ci", "data": data}
        return self.add_update({"callback_query": {**query, "message": message}})

    def _message_base(
        self, chat_id: int, chat_type: str, text: str, title: str | None = None
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = title or "Gruppo"
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": chat,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return message

    # -- request handling (server threads) -----------------------------------------------
    def handle(
        self, method: str, params: dict[str, Any], via: str = ""
    ) -> tuple[int, dict[str, Any]]:
        chat_id = str(params.get("chat_id", ""))
        fault = self._take_fault(method, chat_id)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": fault.status,
                "description": fault.description,
            }
            if fault.parameters:
                body["parameters"] = fault.parameters
            self._record(method, params, fault.status, via=via)
            return fault.status, body
        if method == "getUpdates":
            self._record(method, params, 200, via=via)
            return 200, {"ok": True, "result": self._get_updates(params)}
        handler = getattr(self, f"_api_{method}", None)
        result = handler(params) if handler else True
        if isinstance(result, tuple):
            self._record(method, params, result[0], via=via)
            return result
        self._record(method, params, 200, result, via=via)
        return 200, {"ok": True, "result": result}

    def _take_fault(self, method: str, chat_id: str) -> Fault | None:
        with self._lock:
            for fault in self._state.faults:
                if fault.applies(method, chat_id):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _record(
        self, method: str, params: dict[str, Any], status: int, result: Any = None, via: str = ""
    ) -> None:
        call = Call(method, params, self.clock(), time.monotonic(), status, result, via)
        with self._lock:
            self._state.calls.append(call)

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """As Telegram: an offset confirms every update below it, which no caller (a restarted
        process, another replica) gets again."""
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), self.poll_wait)
        with self._lock:
            self._state.confirmed = max(self._state.confirmed, offset)
            self._lock.wait_for(self._pending, timeout=wait)
            return self._pending()

    def _pending(self) -> list[dict[str, Any]]:
        return [u for u in self._state.updates if u["update_id"] >= self._state.confirmed]

    def _chat(self, chat_id: str) -> dict[str, Any]:
        kind = self._state.chat_types.get(chat_id)
        try:
            number = int(chat_id)
        except ValueError:
            return {"id": -1000000000001, "type": "channel", "title": chat_id}
        kind = kind or ("private" if number > 0 else "supergroup")
        chat: dict[str, Any] = {"id": number, "type": kind}
        if kind != "private":
            chat["title"] = "Gruppo"
        return chat

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _api_setMyDescription(self, params: dict[str, Any]) -> Any:
        return self._set_text("description", params, 512)

    def _api_setMyShortDescription(self, params: dict[str, Any]) -> Any:
        return self._set_text("short_description", params, 120)

    def _set_text(self, field_name: str, params: dict[str, Any], limit: int) -> Any:
        """Telegram refuses a description over its limit (512, 120 characters)."""
        text = str(params.get(field_name, ""))
        if len(text) > limit:
            desc = f"Bad Request: {field_name} is too long"
            return 400, {"ok": False, "error_code": 400, "description": desc}
        with self._lock:
            self._state.descriptions[(field_name, params.get("language_code"))] = text
        return True

    def description(self, field_name: str, language_code: str | None = None) -> str | None:
        """What the bot set as its description or short_description for a language."""
        with self._lock:
            return self._state.descriptions.get((field_name, language_code))

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = str(params["chat_id"])
        message_id = next(self._ids)
        with self._lock:
            self._state.messages[(chat_id, message_id)] = str(params.get("text", ""))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": BOT_USER,
            "text": params.get("text", ""),
        }

    def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        key = (str(params.get("chat_id")), int(params.get("message_id") or 0))
        with self._lock:
            if key not in self._state.messages:
                desc = "Bad Request: message to edit not found"
                return 400, {"ok": False, "error_code": 400, "description": desc}
            self._state.messages[key] = str(params.get("text", ""))
        return {
            "message_id": key[1],
            "date": int(time.time()),
            "edit_date": int(time.time()),
            "chat": self._chat(key[0]),
            "from": BOT_USER,
            "text": params.get("text", ""),
        }

    def _api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = str(params["chat_id"]), int(params["user_id"])
        with self._lock:
            is_admin = user_id in self._state.admins.get(chat_id, set())
        user = {"id": user_id, "is_bot": False, "first_name": "Utente"}
        if not is_admin:
            return {"status": "member", "user": user}
        rights = dict.fromkeys(
            (
                "can_be_edited",
                "is_anonymous",
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_promote_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
            ),
            True,
        )
        return {"status": "administrator", "user": user, **rights}


def _decode(headers: Any, body: bytes) -> dict[str, Any]:
    """Parameters as python-telegram-bot sends them: form fields whose values are JSON-encoded
    unless they are plain strings; multipart when files are attached; JSON bodies too."""
    ctype = headers.get("Content-Type", "")
    if not body:
        return {}
    if ctype.startswith("application/json"):
        return dict(json.loads(body))
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
        )
        pairs = [
            (part.get_param("name", header="content-disposition"), part.get_content())
            for part in msg.iter_parts()
        ]
    else:
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
    return {str(k): _json_or_str(v) for k, v in pairs}


def _json_or_str(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _handler_for(fake: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else each answer waits 40 ms for a delayed ACK

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            via, _, rest = self.path.partition("/bot")
            token, _, method = rest.partition("/")
            if token != fake.token:
                self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            status, answer = fake.handle(method, _decode(self.headers, body), via.strip("/"))
            self._reply(status, answer)

        do_GET = do_POST

        def _reply(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            # The client may have given up (a long poll cancelled at shutdown).
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request log lines."""

    return Handler


@pytest.fixture
def fake_bot_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotApi]:
    """A running fake Bot API; TELEGRAM_API_URL points at it for the duration of the test."""
    fake = FakeBotApi().start()
    monkeypatch.setenv("TELEGRAM_API_URL", fake.url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", fake.token)
    try:
        yield fake
    finally:
        fake.stop()


class VirtualClock:
    """Monotonic time that only moves when the code under test sleeps.

    Why: rate limits span seconds and minutes, and 5,000 messages at 30 a second are 167 s of
    real time. With this clock the sender runs at the real limits while the test takes as long
    as the HTTP round trips do. Before time moves, `settle()` (e.g. `Sender.wait_idle`) lets the
    requests already started reach the fake server, so each is stamped with the virtual moment it
    was sent at (network latency counts as zero virtual time).
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.settle: Callable[[], Any] | None = None
        # With several tasks sending at once: "is a request still in flight?", checked right
        # before time moves (no other task can start one in between).
        self.busy: Callable[[], bool] | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.settle is not None:
            await self.settle()
            while self.busy is not None and self.busy():
                await self.settle()
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def max_in_window(times: list[float], period: float) -> int:
    """The most events found in any half-open window [t, t + period)."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - period:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
