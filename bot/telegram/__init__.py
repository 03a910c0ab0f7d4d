"""Telegram delivery and commands: rendering, rate-limited sending, subscriber commands.

`app.TelegramService` is what the service runs; `sender.Sender` drains the outbox on its own and
is usable without an Application (e.g. `newsbot poll --once`).
"""
