"""Settings: environment and .env resolve the contract's defaults; flags win."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings


def test_defaults_without_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.token is None and s.console()
    assert s.db_url() == "sqlite:///newsbot.db"
    assert s.watchlists_dir() == Path("watchlists")
    assert s.feeds_path().name == "feeds.yaml" and s.feeds_path().is_file()
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.newsbot_http == "127.0.0.1:8080"
    assert s.max_age is not None and s.max_age.total_seconds() == 48 * 3600


def test_data_folder_and_local_feeds_file_are_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    s = Settings()
    assert s.db_url() == "sqlite:///data/newsbot.db"
    assert s.feeds_path() == Path("feeds.yaml")


def test_flags_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///env.db")
    monkeypatch.setenv("NEWSBOT_FEEDS", "/env/feeds.yaml")
    s = Settings()
    assert s.db_url() == "sqlite:///env.db"
    assert s.db_url("sqlite:///flag.db") == "sqlite:///flag.db"
    assert s.feeds_path() == Path("/env/feeds.yaml")
    assert s.feeds_path(Path("flag.yaml")) == Path("flag.yaml")


def test_token_from_dotenv_turns_console_off_and_stays_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={token}\nNEWSBOT_ADMINS=42, 7,\n")
    s = Settings()
    assert s.token == token
    assert not s.console() and s.console(True)
    assert token not in repr(s) and token not in str(s.model_dump())
    assert s.admins == frozenset({42, 7})


def test_console_env_and_blank_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "  ")
    assert Settings().token is None
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:x")
    monkeypatch.setenv("NEWSBOT_CONSOLE", "1")
    assert Settings().console()


def test_token_from_a_file_for_docker_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789"
    secret = tmp_path / "telegram_bot_token"
    secret.write_text(token + "\n")  # a trailing newline, as `echo` or an editor leaves it
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret))
    s = Settings()
    assert s.token == token and not s.console()
    assert token not in repr(s)


@pytest.mark.parametrize(
    ("content", "token", "message"),
    [
        (None, None, "cannot read"),
        ("", None, "is empty"),
        ("123456:FromTheFile", "123456:FromTheEnvironment", "set only one of them"),
    ],
)
def test_a_bad_token_file_is_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: str | None,
    token: str | None,
    message: str,
) -> None:
    secret = tmp_path / "token"
    if content is not None:
        secret.write_text(content)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN_FILE", str(secret))
    if token:
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ValueError, match=message) as raised:
        Settings()
    assert "FromThe" not in str(raised.value)


def test_env_example_lists_every_setting_and_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """.env.example names every setting, and used as it is (copied to .env) it is valid."""
    example = Path(__file__).resolve().parents[1] / ".env.example"
    text = example.read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert listed == {name.upper() for name in Settings.model_fields}
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(text)
    assert Settings().console()  # no token in the example: console mode
