"""newsbot: alerts for Italian sports news, delivered on Telegram."""

__version__ = "0.1.0"
