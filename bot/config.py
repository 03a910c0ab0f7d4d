"""Runtime settings: environment variables (and `.env`), overridden by command-line flags.

Every option of the contract is one field here, so the CLI, `run` and the tests resolve defaults
in one place. The token is a SecretStr: it never prints, in a repr or a log line.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "https://api.telegram.org"


class Settings(BaseSettings):
    """The environment as the contract names it (`TELEGRAM_BOT_TOKEN`, `DATABASE_URL`, …)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    telegram_bot_token: SecretStr | None = None
    telegram_bot_token_file: Path | None = None
    telegram_api_url: str = DEFAULT_API_URL
    newsbot_admins: str = ""
    newsbot_http: str = "127.0.0.1:8080"
    newsbot_feeds: Path | None = None
    newsbot_watchlists: Path = Path("watchlists")
    newsbot_console: bool = False
    newsbot_webhook_url: str | None = None
    newsbot_webhook_listen: str = "0.0.0.0:8443"
    # Public URL (behind the HTTPS proxy) of NEWSBOT_HTTP's path for WebSub callbacks: feeds
    # that advertise a hub push their news here (bot/pushes.py). None: polling only.
    newsbot_websub_url: str | None = None
    database_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"
    newsbot_poll_concurrency: int = Field(default=8, ge=1, le=64)
    newsbot_fetch_timeout: float = Field(default=15.0, gt=0, le=300)
    newsbot_max_feed_bytes: int = Field(default=5_000_000, ge=10_000)
    newsbot_max_age_hours: float = Field(default=48.0, ge=0)
    # Telegram's paid broadcasts: up to 1,000 messages a second instead of 30, for a fee per
    # message above the free limit, paid from the bot's Telegram Stars balance.
    newsbot_paid_broadcast: bool = False

    @property
    def max_age(self) -> timedelta | None:
        """How old news may be, when first seen, to alert anyone (0 in the setting: any age)."""
        hours = self.newsbot_max_age_hours
        return timedelta(hours=hours) if hours else None

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_api_url", "newsbot_webhook_url", "newsbot_websub_url", mode="before")
    @classmethod
    def _http_url(cls, value: object, info: ValidationInfo) -> object:
        """An address Telegram or the Bot API client can use: http(s), with a host."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return DEFAULT_API_URL if info.field_name == "telegram_api_url" else None
        text = str(value).strip()
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {text!r}")
        return text

    @field_validator("newsbot_admins")
    @classmethod
    def _user_ids(cls, value: str) -> str:
        """Every entry a Telegram user id: a typo must not silently drop an admin."""
        for part in value.split(","):
            entry = part.strip()
            if entry and not entry.lstrip("-").isdigit():
                raise ValueError(
                    f"{entry!r} is not a Telegram user id (use comma-separated numbers)"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        from bot.logs import parse_level

        parse_level(value)  # raises ValueError naming the accepted levels
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        from bot.logs import parse_format

        return parse_format(value)

    @model_validator(mode="after")
    def _token_from_file(self) -> Settings:
        """TELEGRAM_BOT_TOKEN_FILE: the token read from a file (a Docker or Kubernetes secret),
        so that it never sits in the container's environment."""
        path = self.telegram_bot_token_file
        if path is None or not str(path).strip():
            return self
        if self.telegram_bot_token is not None:
            raise ValueError(
                "TELEGRAM_BOT_TOKEN_FILE: TELEGRAM_BOT_TOKEN is set too; set only one of them"
            )
        try:
            token = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ValueError(f"TELEGRAM_BOT_TOKEN_FILE: cannot read {path}: {reason}") from None
        if not token:
            raise ValueError(f"TELEGRAM_BOT_TOKEN_FILE: {path} is empty")
        self.telegram_bot_token = SecretStr(token)
        return self

    @field_validator("newsbot_http", "newsbot_webhook_listen")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        from bot.health import parse_listen

        parse_listen(value)  # raises ValueError with a message naming the variable
        return value

    @property
    def token(self) -> str | None:
        return self.telegram_bot_token.get_secret_value() if self.telegram_bot_token else None

    @property
    def admins(self) -> frozenset[int]:
        """Telegram user ids allowed to use admin commands (each entry checked at start-up)."""
        ids = (part.strip() for part in self.newsbot_admins.split(","))
        return frozenset(int(p) for p in ids if p.lstrip("-").isdigit())

    def feeds_path(self, flag: Path | None = None) -> Path:
        """The feeds file: the flag, NEWSBOT_FEEDS, ./feeds.yaml, else the list shipped with us."""
        if flag is not None:
            return flag
        if self.newsbot_feeds is not None:
            return self.newsbot_feeds
        local = Path("feeds.yaml")
        if local.is_file():
            return local
        return Path(str(resources.files("bot") / "feeds.yaml"))

    def watchlists_dir(self, flag: Path | None = None) -> Path:
        return flag if flag is not None else self.newsbot_watchlists

    def db_url(self, flag: str | None = None) -> str:
        """The store: the flag, DATABASE_URL, else SQLite in ./data/ when that folder exists."""
        if flag:
            return flag
        if self.database_url:
            return self.database_url
        if Path("data").is_dir():
            return "sqlite:///data/newsbot.db"
        return "sqlite:///newsbot.db"

    def console(self, flag: bool = False) -> bool:
        """Console delivery when asked for, and always when there is no Telegram token."""
        return flag or self.newsbot_console or self.token is None
