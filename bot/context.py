"""Matching in context: the right word with the wrong meaning does not count.

The matcher finds words; this stage asks what they mean in the item, and rules a match out
when (first reason wins):

- **outlet name**: it lies in an outlet's name appended to the title (" - Tutto Napoli",
  " | CM"; see `bot.outlets`). Titles from feeds lose the suffix at normalisation already;
  this covers text given to `newsbot match` and anything that slipped through;
- **another sport**: its list declares a sport and the item is recognised as another one
  (`bot.sport`): the tennis in Rome is not news for a `sport: calcio` Roma list;
- **place**: the mention is a place that names a club, and the grammar makes it the place
  ("a Torino", "allo stadio di Monza"; `bot.place`), unless its entry says `place: false`.

Pure: plain data in, the kept matches and the rejected ones (with their reason) out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from bot.models import ItemContext, Match, Rejection
from bot.outlets import outlet_suffix_start
from bot.place import MASCULINE, PLACE, PlaceName, place_name, role
from bot.sport import SportVerdict, recognise_sport
from bot.text import tokenize

OUTLET = "outlet name"


def judge(
    matches: Sequence[Match],
    title: str,
    summary: str = "",
    context: ItemContext | None = None,
    *,
    list_sports: Mapping[str, str | None],
    term_places: Mapping[tuple[str, str], bool | None],
) -> tuple[list[Match], list[Rejection]]:
    """Split `matches` into those that stand in this item's context and those ruled out.

    `list_sports` maps a watchlist to its declared sport (None: any), `term_places` a
    (watchlist, term) to its `place` option (missing or None: decided by the gazetteer).
    """
    if not matches:
        return [], []
    context = context or ItemContext()
    suffix = outlet_suffix_start(title)
    # The grammar of a mention is read without the outlet's name ("a Bologna - La Repubblica").
    texts = {"title": title if suffix is None else title[:suffix], "summary": summary}
    sport = _lazy_sport(title, summary, context)
    kept: list[Match] = []
    rejected: list[Rejection] = []
    for m in matches:
        reason = _reason(m, texts, suffix, sport, list_sports, term_places)
        if reason:
            rejected.append(Rejection(m, reason))
        else:
            kept.append(m)
    return kept, rejected


def _lazy_sport(title: str, summary: str, context: ItemContext) -> Callable[[], SportVerdict]:
    """The item's sport, recognised at most once and only when a list with a sport asks."""
    cache: list[SportVerdict] = []

    def verdict() -> SportVerdict:
        if not cache:
            cache.append(
                recognise_sport(
                    title,
                    summary,
                    link=context.link,
                    categories=context.categories,
                    feed_sport=context.sport,
                )
            )
        return cache[0]

    return verdict


def _reason(
    m: Match,
    texts: Mapping[str, str],
    suffix: int | None,
    sport: Callable[[], SportVerdict],
    list_sports: Mapping[str, str | None],
    term_places: Mapping[tuple[str, str], bool | None],
) -> str:
    if m.field == "title" and suffix is not None and m.start >= suffix:
        return OUTLET
    wanted = list_sports.get(m.watchlist)
    if wanted:
        found = sport().sport
        if found and found != wanted:
            return f"another sport: {found}"
    entry = _place_entry(m, term_places.get((m.watchlist, m.term)))
    if entry is not None:
        text = texts.get(m.field, "")
        verdict, cue = role(text, m.start, m.end, entry)
        if verdict == PLACE:
            return f"place ({cue})"
    return ""


def _place_entry(m: Match, option: bool | None) -> PlaceName | None:
    """The gazetteer entry to judge the mention by, or None when it cannot be a place."""
    if option is False:
        return None
    words = tokenize(m.matched)
    if len(words) != 1:
        return None  # "AS Roma", "Hellas Verona": a club's full name is never a place
    entry = place_name(words[0].text)
    if entry is None and option:
        entry = PlaceName(MASCULINE)
    return entry
