"""/mute, /unmute, /quiet and /digest: when alerts wait, said on the subscriber's clock.

Mixed into `Commands` (it uses its plumbing: `_guarded`, `_reply`, `_db`, `now`). Parsing is in
`timeparse` (pure), the schedule rules in `bot.schedule`; here we only store and answer, always
naming times on the subscriber's clock (Europe/Rome unless set) and saying whose clock it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.models import Subscriber
from bot.schedule import DEFAULT_ZONE, Schedule, hhmm, paused_until, zone_of
from bot.telegram.texts import t
from bot.telegram.timeparse import MAX_MUTE, is_off, parse_mute, parse_quiet, parse_time_of_day
from bot.timefmt import short_local_time

if TYPE_CHECKING:
    from telegram import Update

    from bot.telegram.commands import Commands, Context, Who


def schedule_of(sub: Subscriber) -> Schedule:
    return Schedule(sub.muted_until, sub.quiet_start, sub.quiet_end, sub.digest_at, sub.timezone)


def zone_note(sub: Subscriber, lang: str) -> str:
    """Whose clock the times are on: said in English for Rome, always for another zone."""
    name = sub.timezone or DEFAULT_ZONE
    if name == DEFAULT_ZONE:
        return t("zone_rome", lang)
    return f" ({name})"


def local_time(sub: Subscriber, when: datetime, lang: str) -> str:
    return short_local_time(when, lang, zone_of(sub.timezone))


class PauseCommands:
    """The pause commands of `Commands`."""

    async def mute(self: Commands, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        sub = who.subscriber
        reading = parse_mute(self.argument(update), self.now(), zone_of(sub.timezone))
        if reading.until is None:
            key = "mute_too_long" if reading.problem == "too_long" else "mute_usage"
            await self._reply(update, context, t(key, who.lang, days=MAX_MUTE.days))
            return
        await self._db(self.store.mute, sub.id, reading.until)
        until = local_time(sub, reading.until, who.lang)
        text = t("mute_done", who.lang, until=until, zone=zone_note(sub, who.lang))
        await self._reply(update, context, text)

    async def unmute(self: Commands, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        sub, now = who.subscriber, self.now()
        if sub.muted_until is None or sub.muted_until <= now:
            await self._reply(update, context, self.not_muted(who))
            return
        # The end of the pause is recorded (not erased): what waited goes out as one digest.
        await self._db(self.store.mute, sub.id, now)
        self.on_change()
        text = t("unmute_done", who.lang)
        owed = await self._db(self.store.owed, sub.id)
        if owed:
            text += "\n" + t("unmute_digest", who.lang, count=owed)
        after = schedule_of(sub)
        quiet_end = paused_until(Schedule(None, *_recurring(after)), now)
        if quiet_end is not None:
            until = local_time(sub, quiet_end, who.lang)
            text += "\n" + t("unmute_but_quiet", who.lang, until=until)
        await self._reply(update, context, text)

    async def pause_ended(self: Commands, sub: Subscriber) -> None:
        """Quiet hours or the daily digest were switched off: what they held goes out now, as
        one digest (a past `muted_until` marks where the pause ended; a running mute stays)."""
        now = self.now()
        if sub.muted_until is None or sub.muted_until <= now:
            await self._db(self.store.mute, sub.id, now)

    def not_muted(self: Commands, who: Who) -> str:
        """/unmute with no mute: say so, and what else may be holding alerts."""
        sub, lang, now = who.subscriber, who.lang, self.now()
        schedule = schedule_of(sub)
        lines = [t("unmute_nothing", lang)]
        quiet_end = paused_until(schedule, now)
        if quiet_end is not None:
            lines.append(t("unmute_but_quiet", lang, until=local_time(sub, quiet_end, lang)))
        elif schedule.digest is not None:
            lines.append(
                t("digest_status", lang, at=hhmm(schedule.digest), zone=zone_note(sub, lang))
            )
        return "\n".join(lines)

    async def quiet(self: Commands, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        sub, lang, arg = who.subscriber, who.lang, self.argument(update)
        zone = zone_note(sub, lang)
        if not arg:
            window = schedule_of(sub).quiet
            if window is None:
                await self._reply(update, context, t("quiet_none", lang))
            else:
                start, end = hhmm(window[0]), hhmm(window[1])
                await self._reply(
                    update, context, t("quiet_status", lang, start=start, end=end, zone=zone)
                )
            return
        if is_off(arg):
            await self._pause_off(update, context, who, self.store.set_quiet, "quiet_off")
            return
        window = parse_quiet(arg)
        if window is None:
            await self._reply(update, context, t("quiet_usage", lang))
            return
        await self._db(self.store.set_quiet, sub.id, window)
        start, end = hhmm(window[0]), hhmm(window[1])
        await self._reply(update, context, t("quiet_done", lang, start=start, end=end, zone=zone))

    async def _pause_off(
        self: Commands,
        update: Update,
        context: Context,
        who: Who,
        setter: Callable[[int, None], None],
        said: str,
    ) -> None:
        """`/quiet off`, `/digest off`: clear the setting, release what it held as one digest."""
        await self._db(setter, who.subscriber.id, None)
        await self.pause_ended(who.subscriber)
        self.on_change()
        await self._reply(update, context, t(said, who.lang))

    async def digest(self: Commands, update: Update, context: Context) -> None:
        who = await self._guarded(update, context)
        if who is None:
            return
        sub, lang, arg = who.subscriber, who.lang, self.argument(update)
        zone = zone_note(sub, lang)
        if not arg:
            at = schedule_of(sub).digest
            if at is None:
                await self._reply(update, context, t("digest_none", lang))
            else:
                await self._reply(update, context, t("digest_status", lang, at=hhmm(at), zone=zone))
            return
        if is_off(arg):
            await self._pause_off(update, context, who, self.store.set_digest, "digest_off")
            return
        at = parse_time_of_day(arg)
        if at is None:
            await self._reply(update, context, t("digest_usage", lang))
            return
        await self._db(self.store.set_digest, sub.id, at)
        await self._reply(update, context, t("digest_done", lang, at=hhmm(at), zone=zone))


def _recurring(schedule: Schedule) -> tuple[str | None, str | None, str | None, str | None]:
    return schedule.quiet_start, schedule.quiet_end, schedule.digest_at, schedule.timezone
