"""Outlet names appended to a headline: " - Tutto Napoli", " - Milan News", " | CM".

Aggregated titles (the TMW network's club sites, Calciomercato.it, Google News, Football
Italia) end with the outlet's name after a dash or a bar. That name is no part of the news: a
"Tutto Napoli" suffix must not alert Napoli fans. A suffix is recognised when what follows the
last " - ", " – ", " — " or " | " is the feed's own channel title (or its first part:
"Tuttosport" of "Tuttosport - Calcio"), spacing, case and ".com" aside, or one of
`KNOWN_OUTLETS`. A club is never an outlet: "Inter - Napoli" is a fixture; it is then cut from the
title at normalisation, so every consumer (matching, alerts, console JSON) sees the clean title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.text import fold

# Italian sports outlets and their usual short forms, as titles carry them.
KNOWN_OUTLETS = (
    "Tutto Napoli",
    "TuttoNapoli",
    "TuttoNapoli.net",
    "Milan News",
    "MilanNews",
    "MilanNews.it",
    "Tutto Juve",
    "TuttoJuve",
    "TuttoJuve.com",
    "FC Inter News",
    "FCInterNews",
    "FC Inter 1908",
    "FCInter1908",
    "Inter-News",
    "Inter News",
    "Lazio Siamo Noi",
    "LaLazioSiamoNoi",
    "Voce Giallorossa",
    "Forzaroma",
    "Forza Roma",
    "Roma News",
    "Toro News",
    "Toro.it",
    "Tutto Bologna Web",
    "TuttoBolognaWeb",
    "Firenze Viola",
    "Fiorentina.it",
    "Tutto Atalanta",
    "TuttoAtalanta",
    "Tutto Mercato Web",
    "TuttoMercatoWeb",
    "TuttoMercatoWeb.com",
    "TMW",
    "TMW Radio",
    "CM",
    "CM.IT",
    "Calciomercato.it",
    "Calciomercato.com",
    "Gazzetta",
    "La Gazzetta dello Sport",
    "Gazzetta dello Sport",
    "Gazzetta.it",
    "Corriere dello Sport",
    "CdS",
    "Corriere dello Sport.it",
    "Tuttosport",
    "Tuttosport.com",
    "Sky Sport",
    "Sky Sport Italia",
    "SkySport",
    "Sky TG24",
    "Sportmediaset",
    "Goal.com",
    "Goal Italia",
    "Eurosport",
    "DAZN",
    "Rai Sport",
    "RaiNews",
    "ANSA",
    "ANSA.it",
    "Virgilio Sport",
    "Calcio e Finanza",
    "Calcioefinanza",
    "Il Napolista",
    "ilNapolista",
    "Spazio Napoli",
    "CalcioNapoli24",
    "Calcio Napoli 24",
    "IamNaples",
    "Juventus News 24",
    "JuventusNews24",
    "Juvenews",
    "Inter Live",
    "Milan Live",
    "MilanLive",
    "Roma Live",
    "Il Milanista",
    "SempreMilan",
    "Pianeta Milan",
    "PianetaMilan",
    "Lazionews",
    "Lazio News 24",
    "Gianluca Di Marzio",
    "GianlucaDiMarzio.com",
    "Di Marzio",
    "Alfredo Pedullà",
    "Pedullà",
    "Calcionews24",
    "Fantacalcio.it",
    "SOS Fanta",
    "Football Italia",
    "Il Posticipo",
    "Il Fatto Quotidiano",
    "la Repubblica",
    "Repubblica",
    "Corriere della Sera",
    "Corriere.it",
    "Il Messaggero",
    "Il Mattino",
    "Il Resto del Carlino",
    "La Stampa",
    "Il Giorno",
    "Il Secolo XIX",
    "L'Eco di Bergamo",
    "Fanpage",
    "Fanpage.it",
    "Il Giornale",
    "TGcom24",
    "OA Sport",
    "Ultimo Uomo",
    "Rivista Undici",
    "ANSA Nuova Europa",
    "Agenzia ANSA",
    "Il Sole 24 Ore",
    "Il Tempo",
    "Il Post",
    "Rai News",
    "TGCOM",
    "Quotidiano Nazionale",
    "Adnkronos",
    "Pianeta Milan",
    "AreaNapoli",
    "LaC news24",
)
SEPARATOR = re.compile(r"\s+(?:[-–—]|\|)\s+")
# A web address as a name: "ForzaRoma.info", "ilGiornale.it", "FormulaPassion.it".
DOMAIN = re.compile(r"^[\w'-]+(?:\.[\w-]+)*\.(?:it|com|net|info|eu|org)$", re.IGNORECASE)
# What aggregators put between the headline and the outlet: "… - Sport - ANSA Nuova Europa".
SECTIONS = frozenset(
    {"sport", "calcio", "tennis", "moto", "motori", "politica", "cronaca", "economia", "mondo"}
    | {"esteri", "sanita", "sicilia", "ultima ora", "spettacoli", "cultura", "serie a"}
)
MAX_SUFFIX_WORDS = 6


def _key(text: str) -> str:
    """Letters and digits only: "Tutto Napoli", "TuttoNapoli" and "TUTTONAPOLI.net" agree."""
    return re.sub(r"[^0-9a-z]+", "", fold(text)).removesuffix("net").removesuffix("com")


_KNOWN = frozenset(k for k in (_key(o) for o in KNOWN_OUTLETS) if k)


def is_outlet_name(text: str, channels: Sequence[str] = ()) -> bool:
    """Whether `text` names the outlet: a known outlet, or the feed's own channel title."""
    key = _key(text)
    if not key or len(text.split()) > MAX_SUFFIX_WORDS:
        return False
    if key in _KNOWN or DOMAIN.match(text.strip()):
        return True
    for channel in channels:
        # "Tuttosport - Calcio": the whole title or its first part is the outlet's name.
        names = {_key(channel), _key(SEPARATOR.split(channel)[0])}
        if key in names - {""}:
            return True
    return False


def outlet_suffix_start(title: str, channels: Sequence[str] = ()) -> int | None:
    """Where an appended outlet name begins (its separator included), or None.

    The outlet's name follows the last separator; an aggregator's section just before it
    ("- Sport", "- Politica") goes with it. What remains must still be a headline.
    """
    separators = list(SEPARATOR.finditer(title))
    if not separators or not is_outlet_name(title[separators[-1].end() :].strip(), channels):
        return None
    start = separators[-1].start()
    for before in reversed(separators[:-1]):  # "… - Sport - ANSA Nuova Europa"
        if fold(title[before.end() : start]).strip() not in SECTIONS:
            break
        start = before.start()
    return start if title[:start].strip() else None


def strip_outlet(title: str, channels: Sequence[str] = ()) -> str:
    """`title` without an appended outlet name (unchanged when there is none)."""
    start = outlet_suffix_start(title, channels)
    return title if start is None else title[:start].rstrip()
