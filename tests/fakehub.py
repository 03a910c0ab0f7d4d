"""A WebSub hub for tests, on a real loopback socket: it takes subscribe/unsubscribe requests
(answering 202, or the status a test sets), then does what a hub does from its side when the
test asks: verify intent by GET on the callback, and push a signed feed document by POST.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx


class FakeHub:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.status = 202
        self._arrived = threading.Condition()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                with hub._arrived:
                    hub.requests.append(form)
                    hub._arrived.notify_all()
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hub"

    def wait_for(self, count: int, timeout: float = 10.0) -> dict[str, str]:
        """The `count`-th request received (1-based), waiting for it to arrive."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"the hub got {len(self.requests)} requests, not {count}")
            return self.requests[count - 1]

    async def verify(
        self, form: dict[str, str], *, challenge: str = "ch-4711", **override: str
    ) -> httpx.Response:
        """Verify intent as a hub does: GET the callback with the request's mode and topic."""
        params = {
            "hub.mode": form["hub.mode"],
            "hub.topic": form["hub.topic"],
            "hub.challenge": challenge,
        }
        if form["hub.mode"] == "subscribe":
            params["hub.lease_seconds"] = form.get("hub.lease_seconds", "3600")
        params.update({f"hub.{k}": v for k, v in override.items()})
        async with httpx.AsyncClient() as client:
            return await client.get(form["hub.callback"], params=params)

    async def publish(
        self,
        form: dict[str, str],
        body: bytes,
        *,
        secret: str | None = None,
        method: str = "sha256",
    ) -> httpx.Response:
        """Push `body` to the subscriber, signed with its secret (or another one)."""
        key = (secret if secret is not None else form["hub.secret"]).encode()
        signature = hmac.new(key, body, getattr(hashlib, method)).hexdigest()
        headers = {
            "Content-Type": "application/rss+xml",
            "X-Hub-Signature": f"{method}={signature}",
            "Link": f'<{self.url}>; rel="hub", <{form["hub.topic"]}>; rel="self"',
        }
        async with httpx.AsyncClient() as client:
            return await client.post(form["hub.callback"], content=body, headers=headers)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
