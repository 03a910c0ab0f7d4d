"""A loopback HTTP server that plays feed outlets for tests: real sockets on 127.0.0.1 only.

It runs in a background thread (ThreadingHTTPServer), so async tests in this process and
subprocesses (the CLI) can all reach it. Register it with `pytest_plugins = ["feedserver"]` in
tests/conftest.py, then ask for the `feed_server` fixture:

    feed_server.set("/tmw.xml", body, etag='"v1"')
    url = feed_server.url("/tmw.xml")
    feed_server.redirect("/old.xml", "/tmw.xml", status=301)
    feed_server.requests("/tmw.xml")  # headers of every request received, oldest first
    feed_server.times("/tmw.xml")     # when each arrived (time.monotonic()), oldest first
    feed_server.closed_url()          # an address where nothing listens: connection refused
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

RSS_TYPE = "application/rss+xml"
MARCH_6 = "Fri, 06 Mar 2026 08:00:00 +0100"


def rss(*items: tuple[str, str] | tuple[str, str, str], published: str = MARCH_6) -> bytes:
    """A small RSS 2.0 document for `set()`: each item is (title, link) or (title, link,
    pubDate); an item without its own date carries `published`. Titles go in as written, so
    a test can serve markup or entities the way outlets do."""
    body = "".join(
        f"<item><title>{item[0]}</title><link>{item[1]}</link>"
        f"<pubDate>{item[2] if len(item) > 2 else published}</pubDate></item>"
        for item in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


@dataclass
class Route:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    location: str | None = None
    stream_chunk: bytes = b""
    stream_limit: int = 0
    sent: int = 0


class FeedServer:
    """The routes, the requests received and the server thread."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._requests: dict[str, list[dict[str, str]]] = {}
        self._times: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0  # most requests being answered at once, for concurrency tests
        self._httpd = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def url(self, path: str) -> str:
        """The full http://127.0.0.1:PORT address of `path`."""
        return f"http://127.0.0.1:{self.port}{path if path.startswith('/') else '/' + path}"

    def set(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0,
    ) -> None:
        """Serve `body` at `path`; with etag/last_modified, answer 304 to a matching request.

        `delay` seconds pass before the response starts (pair it with a short client timeout).
        A Content-Type of application/rss+xml is sent unless `headers` name one.
        """
        with self._lock:
            self._routes[path] = Route(
                body=body,
                status=status,
                headers=dict(headers or {}),
                etag=etag,
                last_modified=last_modified,
                delay=delay,
            )

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Answer `path` with a redirect to `to` (a path on this server or a full URL)."""
        with self._lock:
            self._routes[path] = Route(status=status, location=to)

    def stream(self, path: str, *, chunk: bytes = b"x" * 65536, limit: int = 64_000_000) -> None:
        """Serve an endless-looking chunked body (no Content-Length), up to `limit` bytes.

        `sent(path)` then tells how much went out before the client hung up, which shows
        whether a size cap was enforced while streaming.
        """
        with self._lock:
            self._routes[path] = Route(stream_chunk=chunk, stream_limit=limit)

    def sent(self, path: str) -> int:
        """Bytes of body written for `path` by `stream` routes."""
        with self._lock:
            route = self._routes.get(path)
            return route.sent if route else 0

    def requests(self, path: str) -> list[dict[str, str]]:
        """Headers of every request received for `path` (names lower-cased), oldest first."""
        with self._lock:
            return [dict(h) for h in self._requests.get(path, [])]

    def times(self, path: str) -> list[float]:
        """When each request for `path` arrived (time.monotonic()), oldest first."""
        with self._lock:
            return list(self._times.get(path, []))

    def closed_url(self, path: str = "/feed.xml") -> str:
        """An address on 127.0.0.1 where nothing listens (the port was just freed)."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        return f"http://127.0.0.1:{port}{path}"

    def _record(self, target: str, headers: dict[str, str]) -> Route | None:
        """Log the request under its path; the route for "path?query", else for "path"."""
        path = urlsplit(target).path
        with self._lock:
            self._requests.setdefault(path, []).append(headers)
            self._times.setdefault(path, []).append(time.monotonic())
            return self._routes.get(target) or self._routes.get(path)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _add_sent(self, route: Route, size: int) -> None:
        with self._lock:
            route.sent += size


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (timeouts, size caps, closed keep-alives) are normal here."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _not_modified(route: Route, headers: dict[str, str]) -> bool:
    """RFC 9110: If-None-Match wins; else If-Modified-Since at or after Last-Modified."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return route.etag is not None and (route.etag in tags or "*" in tags)
    since = headers.get("if-modified-since")
    if since and route.last_modified:
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(route.last_modified)
        except (TypeError, ValueError):
            return since == route.last_modified
    return False


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # tests stay quiet
            pass

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            server._enter()
            try:
                self._answer()
            finally:
                server._leave()

        def _answer(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            route = server._record(self.path, headers)
            if route is None:
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            if route.delay:
                time.sleep(route.delay)
            if route.location is not None:
                location = route.location
                if location.startswith("/"):
                    location = server.url(location)
                self._send(route.status, b"", {"Location": location})
            elif route.stream_chunk:
                self._stream(route)
            elif _not_modified(route, headers):
                self._send(304, b"", self._validators(route))
            else:
                extra = {"Content-Type": RSS_TYPE, **self._validators(route), **route.headers}
                self._send(route.status, route.body, extra)

        @staticmethod
        def _validators(route: Route) -> dict[str, str]:
            found = {"ETag": route.etag, "Last-Modified": route.last_modified}
            return {k: v for k, v in found.items() if v is not None}

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                lowered = {k.lower() for k in headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if "content-length" not in lowered and status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and status != 304:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _stream(self, route: Route) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", RSS_TYPE)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                written = 0
                while written < route.stream_limit:
                    chunk = route.stream_chunk
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    written += len(chunk)
                    server._add_sent(route, len(chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running loopback feed server, stopped after the test."""
    server = FeedServer().start()
    try:
        yield server
    finally:
        server.stop()
