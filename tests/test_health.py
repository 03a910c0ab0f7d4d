"""/healthz and /metrics over a real socket on 127.0.0.1, as a probe or a scraper sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.health import Request, Response, bound_port, parse_listen, serve

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


class Probe:
    """A health callback whose answer each test sets."""

    def __init__(self) -> None:
        self.ok = True
        self.details: dict[str, Any] = {
            "feeds": {
                "Gazzetta - Calcio": {
                    "last_poll": datetime(2025, 10, 10, 9, 12, tzinfo=UTC),
                    "failures": 0,
                }
            },
            "outbox_depth": 3,
        }
        self.error: Exception | None = None
        self.hang = False

    async def __call__(self) -> tuple[bool, dict[str, Any]]:
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.Event().wait()
        return self.ok, self.details


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
async def base_url(probe: Probe) -> AsyncIterator[str]:
    server = await serve("127.0.0.1", 0, probe, timeout=0.2)
    try:
        yield f"http://127.0.0.1:{bound_port(server)}"
    finally:
        server.close()
        await server.wait_closed()


async def get(url: str, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.request(method, url)


async def raw(base_url: str, payload: bytes) -> bytes:
    """Send bytes as they are (httpx cannot send a malformed request) and read the answer."""
    port = int(base_url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    writer.write_eof()  # we are done sending: the server must not wait for more
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return data


async def test_healthz_is_200_with_feed_details_when_healthy(base_url: str) -> None:
    response = await get(base_url + "/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    assert body["outbox_depth"] == 3
    feed = body["feeds"]["Gazzetta - Calcio"]
    assert feed == {"last_poll": "2025-10-10T09:12:00+00:00", "failures": 0}


async def test_healthz_is_503_when_the_check_says_unhealthy(base_url: str, probe: Probe) -> None:
    probe.ok = False
    probe.details = {"scheduler": "stopped"}
    response = await get(base_url + "/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "scheduler": "stopped"}


async def test_a_crashing_check_is_a_503_without_leaking_the_token(
    base_url: str, probe: Probe
) -> None:
    probe.error = RuntimeError(f"store down at https://api.telegram.org/bot{TOKEN}/getMe")
    response = await get(base_url + "/healthz")
    assert response.status_code == 503
    assert "RuntimeError" in response.json()["error"]
    assert TOKEN not in response.text


async def test_a_hanging_check_is_a_503_not_a_hanging_probe(base_url: str, probe: Probe) -> None:
    probe.hang = True
    response = await get(base_url + "/healthz")
    assert response.status_code == 503
    assert "timed out" in response.json()["error"]


async def test_healthz_ignores_query_strings_and_trailing_slash(base_url: str) -> None:
    assert (await get(base_url + "/healthz?probe=docker")).status_code == 200
    assert (await get(base_url + "/healthz/")).status_code == 200


async def test_metrics_are_in_prometheus_text_format(base_url: str) -> None:
    metrics.ALERTS.labels(outcome="sent").inc()
    metrics.OUTBOX_DEPTH.set(5)
    response = await get(base_url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    sent = [s for s in families["newsbot_alerts"].samples if s.labels == {"outcome": "sent"}]
    assert sent and sent[0].value >= 1
    assert families["newsbot_outbox_depth"].samples[0].value == 5
    metrics.OUTBOX_DEPTH.set(0)


async def test_head_answers_headers_only(base_url: str) -> None:
    response = await get(base_url + "/healthz", method="HEAD")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


async def test_unknown_path_is_404(base_url: str) -> None:
    response = await get(base_url + "/admin")
    assert response.status_code == 404


async def test_other_methods_are_405_with_allow(base_url: str) -> None:
    response = await get(base_url + "/metrics", method="POST")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage\r\n\r\n",
        b"GET /healthz\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello by mistake
        b"\r\n",
    ],
)
async def test_malformed_requests_get_400_and_the_server_keeps_serving(
    base_url: str, payload: bytes
) -> None:
    answer = await raw(base_url, payload)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert (await get(base_url + "/healthz")).status_code == 200


async def test_oversized_request_line_is_refused(base_url: str) -> None:
    answer = await raw(base_url, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert (await get(base_url + "/metrics")).status_code == 200


async def test_a_client_that_hangs_up_does_not_break_the_server(base_url: str) -> None:
    port = int(base_url.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()  # connect and leave without a word
    await writer.wait_closed()
    assert (await raw(base_url, b"GET /heal")).startswith(b"HTTP/1.1 400 ")  # truncated request
    assert (await get(base_url + "/healthz")).status_code == 200


async def test_json_body_is_valid_for_datetime_and_set_details(base_url: str, probe: Probe) -> None:
    probe.details = {"at": datetime(2025, 1, 2, tzinfo=UTC), "leaders": {"a"}}
    body = json.loads((await get(base_url + "/healthz")).text)
    assert body["at"] == "2025-01-02T00:00:00+00:00"
    assert body["leaders"] == ["a"]


async def test_closing_the_server_hangs_up_on_idle_clients(probe: Probe) -> None:
    """An idle connection must not hold up shutdown (SIGTERM has a 10 s budget)."""
    server = await serve("127.0.0.1", 0, probe)
    base = f"http://127.0.0.1:{bound_port(server)}"
    reader, writer = await asyncio.open_connection("127.0.0.1", bound_port(server))
    writer.write(b"GET /healthz HTTP/1.1\r\n")  # headers never finished
    await writer.drain()
    # A later request being answered proves the idle connection was accepted before it.
    assert (await get(base + "/healthz")).status_code == 200
    server.close()
    await asyncio.wait_for(server.wait_closed(), 2)
    try:
        hung_up = await asyncio.wait_for(reader.read(), 2) == b""
    except ConnectionResetError:
        hung_up = True
    assert hung_up
    writer.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("[::1]:9100", ("::1", 9100)),
        (":9100", ("0.0.0.0", 9100)),
        ("8080", ("127.0.0.1", 8080)),
        (" localhost:0 ", ("localhost", 0)),
        ("off", None),
        ("OFF", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_listen(value: str | None, expected: tuple[str, int] | None) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["localhost", "host:http", "host:70000", "[::1]9100", "a b:80"])
def test_parse_listen_rejects_nonsense_with_the_variable_name(value: str) -> None:
    with pytest.raises(ValueError, match="NEWSBOT_HTTP"):
        parse_listen(value)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:  # no length known: httpx sends Transfer-Encoding: chunked
        yield part


async def test_a_routed_path_gets_its_body_whole_and_an_oversized_one_is_413(probe: Probe) -> None:
    """Routed handlers (WebSub callbacks) see method, query, headers and the exact body, sent
    with a length or in chunks; the health paths are unchanged beside them."""
    seen: list[Request] = []

    async def echo(request: Request) -> Response:
        seen.append(request)
        return Response(HTTPStatus.ACCEPTED, request.body[::-1])

    server = await serve("127.0.0.1", 0, probe, routes={"/hook/": echo}, max_body=64)
    base = f"http://127.0.0.1:{bound_port(server)}"
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            sized = await client.post(
                base + "/hook/abc?x=1", content=b"<rss/>", headers={"X-Hub-Signature": "sha1=00"}
            )
            chunked = await client.post(base + "/hook/abc", content=_chunks(b"ab", b"cd"))
            too_big = await client.post(base + "/hook/abc", content=b"x" * 65)
            health = await client.get(base + "/healthz")
    finally:
        server.close()
        await server.wait_closed()
    assert (sized.status_code, sized.content) == (202, b">/ssr<")
    assert (seen[0].method, seen[0].path, seen[0].query) == ("POST", "/hook/abc", "x=1")
    assert seen[0].headers["x-hub-signature"] == "sha1=00"
    assert (chunked.status_code, chunked.content) == (202, b"dcba")
    assert too_big.status_code == 413 and len(seen) == 2
    assert health.status_code == 200


async def test_health_paths_stay_health_under_a_route_at_the_root(probe: Probe) -> None:
    """NEWSBOT_WEBSUB_URL with no path routes "/…" to WebSub: /healthz must still be health."""

    async def hook(request: Request) -> Response:
        return Response(HTTPStatus.NOT_FOUND)

    server = await serve("127.0.0.1", 0, probe, routes={"/": hook})
    try:
        response = await get(f"http://127.0.0.1:{bound_port(server)}/healthz")
    finally:
        server.close()
        await server.wait_closed()
    assert response.status_code == 200 and response.json()["status"] == "ok"
