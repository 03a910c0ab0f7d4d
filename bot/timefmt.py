"""Times as Italian (or English) readers expect them: Europe/Rome, "10 ott, 11:12"."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")
_MONTHS = {
    "it": ("gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def short_local_time(when: datetime, language: str = "it", zone: tzinfo | None = None) -> str:
    """Day, month abbreviation and 24-hour time in Rome (or `zone`), whatever zone `when` is in."""
    local = when.astimezone(zone or ROME)
    months = _MONTHS.get(language[:2], _MONTHS["it"])
    return f"{local.day} {months[local.month - 1]}, {local:%H:%M}"
