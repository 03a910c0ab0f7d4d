"""The news and the subscribers of the scale benchmark (bench/bench_scale.py), generated.

Real feeds in the repository are too few for 100-200 outlets, and reusing the 142 written
headlines of tests/corpus would tell every headline 40 times (every new item would join an old
story). So each piece of news is one headline made of a subject (a person or club of the
shipped watchlists, or an athlete of another sport nobody follows) and an event, and is told by
one outlet or a few, as real outlets do:
- a slot of a feed tells a story already told elsewhere in the last hours with probability
  `SHARED` (about 1.7 outlets per story), otherwise new news;
- half of the news is about the nine lists the subscribers follow, the other half about other
  clubs (some in the shipped lists, followed by no one here) and other sports;
- a subscriber follows 1-3 of the nine lists and 0-5 players of the shipped watchlists.
Deterministic: the same arguments give the same feeds and subscribers.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bot.subscribers import SubscriberRecord
from bot.watchlists import load_watchlists

ITEMS = 50  # a feed lists its 50 latest items
NEW = 5  # the 10%-new cycle: 5 new items per feed
SHARED = 0.4  # a slot tells news already told by another outlet
RECENT = 150  # ... one of the last 150 stories
FOLLOWED_SHARE = 0.5  # news about the lists the subscribers follow; the rest is other clubs
BACKLOG_SPAN = timedelta(hours=24)  # what a feed's 50 items cover
FOLLOWED = ["milan", "inter", "juventus", "napoli", "roma", "lazio", "atalanta", "como", "mercato"]
OTHER_SPORTS = [
    "Jannik Sinner",
    "Lorenzo Musetti",
    "Jasmine Paolini",
    "Matteo Berrettini",
    "Pecco Bagnaia",
    "Marco Bezzecchi",
    "Charles Leclerc",
    "Kimi Antonelli",
    "Max Verstappen",
    "Tadej Pogacar",
    "Filippo Ganna",
    "Jonas Vingegaard",
    "Paola Egonu",
    "Alessia Orro",
    "Simone Fontecchio",
    "Paolo Banchero",
    "Gregorio Paltrinieri",
    "Thomas Ceccon",
    "Gianmarco Tamberi",
    "Marcell Jacobs",
    "Federica Brignone",
    "Sofia Goggia",
    "Dominik Paris",
    "Arianna Fontana",
    "Benedetta Pilato",
    "Nadia Battocletti",
    "Mattia Furlani",
    "Larissa Iapichino",
    "Stefano Oppo",
    "Flavia Pennetta",
    "Fiorentina",
    "Udinese",
    "Lecce",
    "Cagliari",
    "Sassuolo",
    "Cremonese",
    "Pisa",
    "Parma",
    "Palermo",
    "Sampdoria",
    "Bari",
    "Spezia",
]
EVENTS = [
    "{s}, l'annuncio: «Resto qui fino al 2028»",
    "{s} si ferma in allenamento: risentimento muscolare",
    "{s} ko, salta la trasferta di {x}",
    "{s}, la rabbia dopo la sconfitta di {x}",
    "{s} trascina i suoi nella notte di {x}",
    "Le pagelle di {x}: {s} è il migliore in campo",
    "{s}, il retroscena sul rinnovo",
    "{s} premiato a {x}: «Dedico tutto alla famiglia»",
    "{s}, esami strumentali dopo il colpo a {x}",
    "Tegola per {s}: stagione a rischio",
    "{s} torna in gruppo dopo tre settimane",
    "{s} e la frase che fa discutere i tifosi",
    "{s}: «A {x} abbiamo sbagliato l'approccio»",
    "Il caso {s} arriva in Procura federale",
    "{s} a {x}, i numeri di una stagione da record",
    "{s}, il messaggio social dopo la vittoria",
    "Squalifica per {s}: il giudice sportivo decide",
    "{s}, visite mediche fissate per domani a {x}",
    "{s} in conferenza stampa alla vigilia di {x}",
    "Intervista esclusiva a {s}: sogni e obiettivi",
    "{s} sorprende tutti nel test di {x}",
    "Allarme {s}: lascia il ritiro di {x} in anticipo",
    "{s}, firma con lo sponsor e nuovo contratto",
    "{s} festeggia il compleanno con la squadra a {x}",
    "{s} e la lite con l'arbitro a {x}: cosa è successo",
    "{s}, l'agente apre al trasferimento in Premier",
    "{s} in nazionale: la convocazione per {x}",
    "Il ritorno di {s} allo stadio di {x}",
    "{s}, la dedica speciale dopo il gol a {x}",
    "{s} nella top 11 della giornata",
    "{s}, pronto il rinnovo: incontro con gli agenti a {x}",
    "{s} operato a {x}: i tempi di recupero",
    "La moviola di {x}: il rigore su {s} c'era",
    "{s} multato dal club dopo la serata a {x}",
    "{s}, il video dell'allenamento fa il giro del web",
    "{s} ospite del festival dello sport di {x}",
    "{s} e il record di presenze: traguardo a {x}",
    "Sondaggio: {s} è il più amato dai tifosi",
    "{s}, cena con il presidente a {x}",
    "{s} in dubbio per la sfida di {x}",
    "Il tecnico su {s}: «Deve crescere ancora»",
    "{s}, la fidanzata pubblica la foto da {x}",
    "{s} tra i candidati al Pallone d'Oro",
    "{s} visita i bambini dell'ospedale di {x}",
    "{s}, niente convocazione: il motivo",
    "{s} si racconta: l'infanzia a {x} e i primi calci",
    "{s}, la clausola rescissoria spaventa i club inglesi",
    "Ufficiale: {s} rinnova fino al 2029",
    "{s} e il gesto di fair play a {x}",
    "{s} arriva a {x}: bagno di folla all'aeroporto",
    "{s}, ecco il nuovo numero di maglia",
    "{s} ammonito e diffidato: salta la prossima",
    "{s}, il gol più bello della giornata a {x}",
    "{s} lancia la sua linea di abbigliamento",
    "{s} in lacrime dopo il pareggio di {x}",
    "La rinascita di {s}: tre gol nelle ultime tre",
    "{s} respinge le critiche: «Sto bene»",
    "{s}, contatti con l'Arabia Saudita",
    "Doppia seduta a {x}: {s} lavora a parte",
    "{s}, premio di miglior giocatore del mese",
]
PLACES = [
    "Bergamo",
    "Firenze",
    "Udine",
    "Lecce",
    "Cagliari",
    "Empoli",
    "Parma",
    "Venezia",
    "Monaco",
    "Madrid",
    "Londra",
    "Lisbona",
    "Siviglia",
    "Marsiglia",
    "Dortmund",
    "Salisburgo",
]


@dataclass(frozen=True)
class Story:
    title: str


@dataclass(frozen=True)
class Slot:
    feed: int
    index: int  # 0..ITEMS+NEW-1; the last NEW are the new items of the 10%-new cycle
    published: datetime
    story: Story


def _subjects(watchlists: Path) -> tuple[list[str], list[str], list[str]]:
    """(subjects of followed lists, of other shipped lists, of other sports), as headlines
    write them: a club's name, a person's shortest alias (often the surname)."""
    lists, _ = load_watchlists(watchlists)
    followed: list[str] = []
    other: list[str] = []
    for wl in lists:
        for term in wl.terms:
            if not term.term[:1].isupper():
                continue  # nicknames ("rossoneri") are not headline subjects
            name = min((term.term, *term.aliases), key=len)
            (followed if wl.name in FOLLOWED else other).append(name)
    return sorted(set(followed)), sorted(set(other)), list(OTHER_SPORTS)


def personal_terms(watchlists: Path) -> list[str]:
    """Every person of the shipped lists, as a subscriber would /watch them."""
    lists, _ = load_watchlists(watchlists)
    return sorted({t.term for wl in lists for t in wl.terms if " " in t.term})


def news(watchlists: Path, feeds: int, start: datetime) -> list[Slot]:
    """Every item of every feed, backlog and new, oldest first."""
    rng = random.Random(feeds)
    followed, other, sports = _subjects(watchlists)
    pools = {"followed": followed, "other": other + sports}
    pairs = {k: [(subj, ev) for subj in pool for ev in EVENTS] for k, pool in pools.items()}
    drawn = {k: list[tuple[str, str]]() for k in pools}
    step = BACKLOG_SPAN / ITEMS
    times = [
        (start + step * n + timedelta(seconds=37 * f % int(step.total_seconds())), f, n)
        for f in range(feeds)
        for n in range(ITEMS + NEW)
    ]
    times.sort()
    recent: deque[Story] = deque(maxlen=RECENT)
    slots = []
    for when, f, n in times:
        if recent and rng.random() < SHARED:
            story = rng.choice(recent)
        else:
            kind = "followed" if rng.random() < FOLLOWED_SHARE else "other"
            if not drawn[kind]:  # every pair told once: again, somewhere else
                drawn[kind] = rng.sample(pairs[kind], len(pairs[kind]))
            subject, event = drawn[kind].pop()
            story = Story(event.format(s=subject, x=rng.choice(PLACES)))
            recent.append(story)
        slots.append(Slot(f, n, when, story))
    return slots


def write_feeds(folder: Path, feeds: int, slots: list[Slot], listed: int) -> None:
    """Each feed's RSS file listing its items with index < `listed` (the latest ITEMS)."""
    per_feed: dict[int, list[Slot]] = {f: [] for f in range(feeds)}
    for slot in slots:
        if listed - ITEMS <= slot.index < listed:
            per_feed[slot.feed].append(slot)
    for f, rows in per_feed.items():
        items = []
        for slot in reversed(rows):  # newest first, as outlets list them
            link = f"https://outlet{f}.example/news/{slot.index}"
            items.append(
                f"<item><title><![CDATA[{slot.story.title}]]></title><link>{link}</link>"
                f"<guid>{link}</guid><pubDate>{format_datetime(slot.published)}</pubDate>"
                f"<description><![CDATA[<p>{slot.story.title}.</p>]]></description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {f}</title><link>https://outlet{f}.example/</link>"
            f"{''.join(items)}</channel></rss>"
        )
        (folder / f"f{f}.xml").write_text(body, encoding="utf-8")


def subscribers(count: int, terms: list[str]) -> list[SubscriberRecord]:
    rng = random.Random(count)
    return [
        SubscriberRecord(
            chat_id=1_000_000 + n,
            lists=tuple(rng.sample(FOLLOWED, rng.randint(1, 3))),
            terms=tuple(rng.sample(terms, rng.randint(0, 5))),
        )
        for n in range(count)
    ]
