"""A tiny HTTP server for ``/healthz`` and ``/metrics``.

Why not a web framework: two read-only GET endpoints do not justify another dependency, and the
server must run inside the bot's own event loop so ``/healthz`` reflects the live scheduler and
store. It speaks just enough HTTP/1.1 for curl, Docker's HEALTHCHECK and a Prometheus scraper:
one request per connection, then close. Anything else gets a proper 4xx instead of an exception.

The health check itself is injected: ``health()`` returns ``(ok, details)``; the caller (``run``)
decides what "healthy" means (scheduler running, store answering) and what details to show.

Other paths can be routed to injected handlers (``routes``: a path prefix -> handler): WebSub
callbacks (bot/pushes.py) are served here, so a push needs no second port. Only those requests
have their body read (Content-Length or chunked, at most ``max_body`` bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http import HTTPStatus
from typing import Any

from prometheus_client import generate_latest

from bot import metrics
from bot.logs import redact

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


@dataclass(frozen=True, slots=True)
class Request:
    """One request to a routed path: header names in lower case, the query string raw."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    status: HTTPStatus
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


Handler = Callable[[Request], Awaitable[Response]]

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

OFF_VALUES = frozenset({"off", "no", "false", "none", "disabled", ""})
DEFAULT_HOST = "127.0.0.1"

_MAX_LINE = 8 * 1024  # longer request or header lines are refused with 400/431
_MAX_HEADERS = 100
_READ_TIMEOUT = 10.0  # a client that never finishes its request is dropped
_ALLOWED = ("GET", "HEAD")
_OWN_PATHS = ("/healthz", "/metrics")  # never routed elsewhere, whatever prefix a route has


def parse_listen(value: str | None) -> tuple[str, int] | None:
    """Parse NEWSBOT_HTTP: ``host:port``, ``[v6addr]:port``, ``:port`` (all interfaces),
    a bare ``port`` (loopback), or ``off`` -> None (server disabled).

    Raises ValueError with a message fit for the admin when the value makes no sense.
    """
    text = (value or "").strip()
    if text.lower() in OFF_VALUES:
        return None
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"NEWSBOT_HTTP: expected [address]:port, got {value!r}")
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
        host = host or "0.0.0.0"
    else:
        host, port_text = DEFAULT_HOST, text
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"NEWSBOT_HTTP: port must be 0-65535 in {value!r} (or 'off')")
    if not host or any(c.isspace() for c in host):
        raise ValueError(f"NEWSBOT_HTTP: bad host in {value!r}")
    return host, int(port_text)


async def serve(
    host: str,
    port: int,
    health: HealthCheck,
    timeout: float = 5.0,
    *,
    routes: Mapping[str, Handler] | None = None,
    max_body: int = 5_000_000,
) -> asyncio.Server:
    """Start listening on host:port and return the running server.

    Stop it with ``server.close(); await server.wait_closed()``. `timeout` bounds the health
    callback: a store that hangs must turn /healthz into a 503, not into a hanging probe.
    Port 0 picks a free port; read it back with `bound_port(server)`. A request whose path
    starts with a key of `routes` goes to that handler (its body read, up to `max_body`).
    """
    routed = _Routes(dict(routes or {}), max_body)

    open_writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.add(writer)
        # A connection still open at shutdown is cancelled; ending quietly avoids asyncio
        # logging a spurious "Exception in callback" for it (Python 3.11 streams quirk).
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await _handle_connection(reader, writer, health, timeout, routed)
        finally:
            open_writers.discard(writer)

    server = await asyncio.start_server(handle, host, port, limit=_MAX_LINE)
    _close_connections_with(server, open_writers)
    log.info("health endpoint listening", extra={"listen": f"{host}:{bound_port(server)}"})
    return server


def _close_connections_with(server: asyncio.Server, writers: set[asyncio.StreamWriter]) -> None:
    """Make ``server.close()`` also hang up on clients still connected.

    Since Python 3.12 ``wait_closed()`` waits for every open connection, so one idle client
    (a stuck probe) could hold SIGTERM past its 10 s budget. Nothing a probe is owed is lost:
    a request being answered finishes its write or the client retries.
    """
    close_listener = server.close

    def close() -> None:
        close_listener()
        for writer in list(writers):
            writer.close()

    server.close = close  # type: ignore[method-assign]


def bound_port(server: asyncio.Server) -> int:
    """The TCP port the server actually listens on (useful after binding port 0)."""
    return int(server.sockets[0].getsockname()[1])


class _BadRequest(Exception):
    def __init__(self, status: HTTPStatus, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Routes:
    handlers: dict[str, Handler]
    max_body: int

    def find(self, path: str) -> Handler | None:
        for prefix, handler in self.handlers.items():
            if path.startswith(prefix):
                return handler
        return None


async def _handle_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    health: HealthCheck,
    timeout: float,
    routes: _Routes,
) -> None:
    method = "GET"
    try:
        try:
            request = await asyncio.wait_for(_read_request(reader), _READ_TIMEOUT)
            method = request.method
            handler = routes.find(request.path)
            if handler is not None and request.path.rstrip("/") not in _OWN_PATHS:
                status, content_type, body, extra = await _call(
                    handler, request, reader, routes.max_body
                )
            else:
                status, content_type, body, extra = await _route(
                    method, request.path, health, timeout
                )
        except _BadRequest as exc:
            status, content_type, extra = exc.status, TEXT_CONTENT_TYPE, {}
            body = f"{exc.status.value} {exc.status.phrase}: {exc}\n".encode()
            if exc.status == HTTPStatus.METHOD_NOT_ALLOWED:
                extra = {"Allow": ", ".join(_ALLOWED)}
        except TimeoutError:
            return  # the client never sent a full request; nothing useful to answer
        await _respond(writer, status, content_type, body, extra, head_only=method == "HEAD")
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the client went away; not our problem
    except Exception:
        log.exception("health endpoint: unexpected error while answering")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> Request:
    """Read the request line and the headers (not the body): method, path, query, headers."""
    line = await _read_line(reader)
    if not line:
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "empty request")
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/") or not parts[0].isalpha():
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "malformed request line")
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADERS):
        header = await _read_line(reader)
        if not header:
            break
        name, sep, value = header.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    else:
        raise _BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "too many headers")
    target = parts[1]
    if target.startswith(("http://", "https://")):  # absolute-form target
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    target = target.split("#", 1)[0]
    path, _, query = target.partition("?")
    return Request(parts[0].upper(), path, query, headers)


async def _call(
    handler: Handler, request: Request, reader: asyncio.StreamReader, max_body: int
) -> tuple[HTTPStatus, str, bytes, dict[str, str]]:
    """Read the body of a routed request, then let its handler answer."""
    body = await asyncio.wait_for(_read_body(reader, request.headers, max_body), _READ_TIMEOUT)
    response = await handler(
        Request(request.method, request.path, request.query, request.headers, body)
    )
    return HTTPStatus(response.status), response.content_type, response.body, {}


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str], limit: int) -> bytes:
    too_large = _BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size = 0
        while True:
            line = await _read_line(reader)
            try:
                length = int(line.split(";", 1)[0].strip() or "x", 16)
            except ValueError:
                raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad chunk size") from None
            if length == 0:
                while await _read_line(reader):  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            size += length
            if size > limit:
                raise too_large
            chunks.append(await reader.readexactly(length))
            await reader.readexactly(2)  # the CRLF after each chunk
    text = headers.get("content-length", "0").strip() or "0"
    if not text.isdigit():
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "bad Content-Length")
    if int(text) > limit:
        raise too_large
    return await reader.readexactly(int(text)) if int(text) else b""


async def _read_line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "line too long") from None
    except asyncio.IncompleteReadError as exc:
        raw = exc.partial  # client closed without a final newline
        if not raw:
            return ""
    try:
        return raw.decode("latin-1").strip()
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise _BadRequest(HTTPStatus.BAD_REQUEST, "undecodable request") from None


async def _route(
    method: str, path: str, health: HealthCheck, timeout: float
) -> tuple[HTTPStatus, str, bytes, dict[str, str]]:
    path = path.rstrip("/") or "/"
    if path not in ("/healthz", "/metrics"):
        raise _BadRequest(HTTPStatus.NOT_FOUND, "try /healthz or /metrics")
    if method not in _ALLOWED:
        raise _BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} not allowed")
    no_cache = {"Cache-Control": "no-store"}
    if path == "/metrics":
        body = generate_latest(metrics.METRICS_REGISTRY)
        return HTTPStatus.OK, METRICS_CONTENT_TYPE, body, no_cache
    ok, details = await _run_health(health, timeout)
    payload = {"status": "ok" if ok else "unavailable", **details}
    body = (json.dumps(payload, ensure_ascii=False, default=_json_default) + "\n").encode()
    status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
    return status, JSON_CONTENT_TYPE, body, no_cache


async def _run_health(health: HealthCheck, timeout: float) -> tuple[bool, dict[str, Any]]:
    """Call the injected check; a crash or a hang is itself an unhealthy answer, never a 500."""
    try:
        ok, details = await asyncio.wait_for(health(), timeout)
    except TimeoutError:
        log.warning("health check timed out", extra={"timeout_s": timeout})
        return False, {"error": f"health check timed out after {timeout:g}s"}
    except Exception as exc:
        log.warning("health check failed", exc_info=True)
        return False, {"error": redact(f"{type(exc).__name__}: {exc}")}
    return bool(ok), dict(details)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


async def _respond(
    writer: asyncio.StreamWriter,
    status: HTTPStatus,
    content_type: str,
    body: bytes,
    extra: dict[str, str],
    head_only: bool = False,
) -> None:
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
        "Connection": "close",
        **extra,
    }
    head = f"HTTP/1.1 {status.value} {status.phrase}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    writer.write(head.encode("latin-1") + (b"" if head_only else body))
    await writer.drain()
