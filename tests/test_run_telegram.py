"""`newsbot run` with a token, end to end: the real process, a loopback feed server and the fake
Bot API. A subscriber follows Palestra, the story breaks, exactly one alert arrives; after a
restart over the same feed, still exactly one."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import WATCHLISTS, poll_once, subprocess_env
from fakebotapi import FakeBotApi
from feedserver import FeedServer, rss

USER = 1001
TITLE = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"
OLD = ("Juventus, seduta di scarico", "https://www.tuttomercatoweb.com/juve-1")
NEWS = (TITLE, "https://www.tuttomercatoweb.com/palestra-1")


def feed(*items: tuple[str, str]) -> bytes:
    """Items of the contract's example day."""
    return rss(*items, published="Fri, 10 Oct 2025 11:12:00 +0200")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    """Bounded wait for the process under test to do something observable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Service:
    """Starts and stops `newsbot run` processes over one state store and one feeds file."""

    def __init__(self, tmp_path: Path, fake: FakeBotApi, feeds: Path) -> None:
        self.tmp_path = tmp_path
        self.feeds = feeds
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.env = {
            **subprocess_env(),
            "TELEGRAM_BOT_TOKEN": fake.token,
            "TELEGRAM_API_URL": fake.url,
            "NEWSBOT_HTTP": f"127.0.0.1:{self.port}",
        }
        self.args = [
            *("--feeds", str(feeds), "--watchlists", str(WATCHLISTS)),
            *("--db", f"sqlite:///{tmp_path / 'state.db'}"),
        ]
        self.proc: subprocess.Popen[str] | None = None

    def start(self, *, wait: bool = True) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *self.args],
            cwd=self.tmp_path,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if wait:
            wait_until(self.healthy, "the service to poll its feed and report healthy")

    def healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"newsbot run exited: {self.proc.communicate()[1]}")
        try:
            body = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).json()
        except (httpx.TransportError, ValueError):
            return False
        return body.get("status") == "ok" and all(
            f["last_poll"] for f in body.get("feeds", {}).values()
        )

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture
def service(tmp_path: Path, fake: FakeBotApi, feed_server: FeedServer) -> Iterator[Service]:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - name: Tuttomercatoweb\n    url: {feed_server.url('/tmw')}\n")
    svc = Service(tmp_path, fake, feeds)
    yield svc
    if svc.proc is not None and svc.proc.poll() is None:
        svc.proc.kill()
        svc.proc.communicate()


def alerts(fake: FakeBotApi) -> list[str]:
    return [
        str(c.params["text"]) for c in fake.sent(USER) if str(c.params["text"]).startswith("⚽")
    ]


def test_follow_story_breaks_one_alert_restart_still_one(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw", feed(OLD))
    service.start()  # first poll: the feed's backlog, no alert
    fake.user_message("/start")
    fake.user_message("/watch Palestra")
    wait_until(
        lambda: any("Ora segui" in str(c.params["text"]) for c in fake.sent(USER)),
        "the /watch reply",
    )
    assert "Traceback" not in service.stop()

    feed_server.set("/tmw", feed(NEWS, OLD))
    service.start()  # polls at once: the story breaks
    wait_until(lambda: len(alerts(fake)) >= 1, "the alert")
    service.stop()
    (alert,) = alerts(fake)
    assert alert.splitlines() == [
        f'⚽ <a href="{NEWS[1]}"><b>{TITLE}</b></a>',
        "Tuttomercatoweb · 10 ott, 11:12",
        "Segui: Palestra",
    ]

    requests_before = len(feed_server.requests("/tmw"))
    service.start()  # the same feed again after a restart
    wait_until(lambda: len(feed_server.requests("/tmw")) > requests_before, "a new poll")
    service.stop()
    assert len(alerts(fake)) == 1, "still exactly one after the restart"
    menus = fake.calls_to("setMyCommands")
    assert {c.params.get("language_code") for c in menus} >= {"it", "en"}


def test_telegram_down_at_start_up_delays_alerts_never_loses_them(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw", feed(OLD))
    service.start()
    fake.user_message("/watch Palestra")
    wait_until(lambda: any("Ora segui" in str(c.params["text"]) for c in fake.sent(USER)), "reply")
    service.stop()

    feed_server.set("/tmw", feed(NEWS, OLD))
    fake.fail("getMe", status=502, description="Bad Gateway", times=2)
    service.start()  # Telegram answers only at the third try; the feed is polled meanwhile
    wait_until(lambda: len(alerts(fake)) == 1, "the alert once Telegram is back")
    log = service.stop()
    assert log.count("Telegram unreachable") == 2
    assert "Traceback" not in log
    assert len(alerts(fake)) == 1


def test_a_refused_token_is_one_clear_line_and_exit_2(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw", feed(OLD))
    fake.fail("getMe", status=401, description="Unauthorized", times=None)
    service.start(wait=False)
    assert service.proc is not None
    _, err = service.proc.communicate(timeout=30)
    assert service.proc.returncode == 2
    assert "Telegram refused the bot token" in err and "TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err and fake.token not in err


def test_poll_once_keeps_alerts_queued_when_telegram_is_down_and_names_a_bad_token(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw", feed(OLD))

    def poll(**env: str) -> subprocess.CompletedProcess[str]:
        return poll_once(service.tmp_path, service.feeds, {**service.env, **env})

    down = poll(TELEGRAM_API_URL="http://127.0.0.1:9")  # nothing listens there
    assert down.returncode == 0, down.stderr
    assert "Telegram unreachable" in down.stderr and "stay queued" in down.stderr

    fake.fail("getMe", status=401, description="Unauthorized", times=None)
    refused = poll()
    assert refused.returncode == 2
    assert "Telegram refused the bot token" in refused.stderr
    assert fake.token not in refused.stderr and "Traceback" not in refused.stderr


def test_a_malformed_update_is_skipped_and_logged_once_and_the_others_are_served(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    feed_server.set("/tmw", feed(OLD))
    service.start()
    fake.user_message("/start", user_id=USER)
    bad = fake.add_update({"message": {"message_id": 7}})  # no date, no chat: cannot be parsed
    fake.user_message("/start", user_id=USER + 1)
    wait_until(lambda: fake.sent(USER) and fake.sent(USER + 1), "both users' replies")
    fake.user_message("/help", user_id=USER + 1)  # and the updates after it keep flowing
    wait_until(lambda: len(fake.sent(USER + 1)) >= 2, "the reply to the next update")
    log = service.stop()  # exit code 0, checked by stop()
    assert "CRITICAL" not in log and "Traceback" not in log
    skipped = [line for line in log.splitlines() if f"update {bad['update_id']}" in line]
    assert len(skipped) == 1, log


def test_the_token_can_come_from_a_file(
    service: Service, fake: FakeBotApi, feed_server: FeedServer
) -> None:
    """TELEGRAM_BOT_TOKEN_FILE (a Docker secret): the bot talks to Telegram with the file's
    token (the fake Bot API refuses any other) and never prints it."""
    feed_server.set("/tmw", feed(OLD))
    secret = service.tmp_path / "telegram_bot_token"
    secret.write_text(fake.token + "\n")
    env = {k: v for k, v in service.env.items() if k != "TELEGRAM_BOT_TOKEN"}
    out = poll_once(
        service.tmp_path, service.feeds, {**env, "TELEGRAM_BOT_TOKEN_FILE": str(secret)}
    )
    assert out.returncode == 0, out.stderr
    assert fake.calls_to("getMe"), "Telegram was never asked: console mode?"
    assert fake.token not in out.stderr + out.stdout
