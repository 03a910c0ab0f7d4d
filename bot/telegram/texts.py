"""Every text the bot shows, in Italian (the default) and English.

Why one table: a subscriber whose Telegram `language_code` starts with "en" gets English, everyone
else Italian, and a missing translation must be a test failure rather than a KeyError in front of
a user. Texts are HTML (the bot sends with parse_mode HTML): placeholders are escaped by `t()`
unless the caller passes markup on purpose through `Markup`.
"""

from __future__ import annotations

from html import escape

LANGUAGES = ("it", "en")


class Markup(str):
    """A string that is already HTML: `t()` inserts it without escaping."""


def speaks(code: str | None) -> bool:
    """Whether Telegram's `language_code` is one of LANGUAGES ("it", "en-GB"…)."""
    return (code or "it").lower()[:2] in LANGUAGES


def language_of(code: str | None) -> str:
    """Telegram's `language_code` ("en", "en-GB", "it", "es", None…) to one of LANGUAGES:
    Italian and English as such, no code Italian (the bot's home), any other English."""
    code = (code or "it").lower()
    return code[:2] if code[:2] in LANGUAGES else "en"


class Voice(str):
    """A language code that also knows whether the chat is a group: then texts that address
    the reader take their plural form ("Vi avviso", not "Ti avviso") from GROUP_TEXTS."""

    plural: bool

    def __new__(cls, code: str, plural: bool = False) -> Voice:
        voice = super().__new__(cls, code)
        voice.plural = plural
        return voice


def t(key: str, lang: str = "it", /, **values: object) -> str:
    """The text `key` in `lang`, with `values` HTML-escaped (except `Markup`) and filled in."""
    entry = TEXTS[key]
    if getattr(lang, "plural", False) and key in GROUP_TEXTS:
        entry = {**entry, **GROUP_TEXTS[key]}
    template = entry.get(lang) or entry["it"]
    safe = {
        k: v if isinstance(v, Markup) else escape(str(v), quote=False) for k, v in values.items()
    }
    return template.format(**safe)


TEXTS: dict[str, dict[str, str]] = {
    # --- alerts -------------------------------------------------------------------------
    "also_on": {"it": "anche su: {outlets}", "en": "also on: {outlets}"},
    "unfollow_button": {"it": "🔕 Non seguire più {name}", "en": "🔕 Stop following {name}"},
    "exclude_button": {"it": "🚫 Escludi {name}", "en": "🚫 Skip {name}"},
    "leave_button": {"it": "🔕 Lascia {name}", "en": "🔕 Leave {name}"},
    "silence_button": {"it": "🔇 Silenzia la notizia", "en": "🔇 Mute this story"},
    "undo_button": {"it": "↩️ Annulla: {name}", "en": "↩️ Undo: {name}"},
    "undo_silence": {"it": "↩️ Annulla: notizia silenziata", "en": "↩️ Undo: story muted"},
    "why_terms": {"it": "Segui: {names}", "en": "You follow: {names}"},
    "why_lists": {"it": "Lista: {names}", "en": "List: {names}"},
    "digest_head": {
        "it": "📰 <b>{count} notizie per te</b>",
        "en": "📰 <b>{count} stories for you</b>",
    },
    "digest_open": {"it": "📋 Elenco completo ({count})", "en": "📋 Full list ({count})"},
    "digest_back": {"it": "↩ Riepilogo", "en": "↩ Digest"},
    "digest_page_head": {
        "it": "📰 <b>{count} notizie per te</b> · pagina {page}/{pages}",
        "en": "📰 <b>{count} stories for you</b> · page {page}/{pages}",
    },
    "digest_more": {
        "it": "…e altre {count} in arrivo.",
        "en": "…and {count} more on the way.",
    },
    # --- commands -----------------------------------------------------------------------
    "start": {
        "it": "👋 Ciao! Ti avviso quando le notizie sportive parlano di chi segui.\n\n"
        "• /watch <i>nome</i> — segui un giocatore, un allenatore, una squadra\n"
        "• /lists — liste già pronte (es. una squadra intera)\n"
        "• /list — cosa segui\n• /help — tutti i comandi",
        "en": "👋 Hi! I alert you when sports news mentions who you follow.\n\n"
        "• /watch <i>name</i> — follow a player, a coach, a club\n"
        "• /lists — ready-made lists (e.g. a whole club)\n"
        "• /list — what you follow\n• /help — every command",
    },
    "help": {
        "it": "<b>Comandi</b>\n"
        "/watch <i>nome</i> — segui un nome (es. /watch Palestra)\n"
        "/unwatch <i>nome</i> — smetti di seguirlo\n"
        "/list — cosa segui (con i pulsanti per togliere)\n"
        "/lists — le liste disponibili\n"
        "/subscribe <i>lista</i> — segui una lista\n"
        "/unsubscribe <i>lista</i> — lascia una lista\n"
        "/mute [2h|stanotte|fino alle 8|domani] — pausa: gli avvisi arrivano dopo, "
        "in un riepilogo\n"
        "/unmute — riprendi subito\n"
        "/quiet 23-7 — ore di silenzio ogni giorno\n"
        "/digest 8:00 — un solo riepilogo al giorno\n"
        "/impostazioni — lingua, pause, riepilogo\n"
        "/stop — non ricevere più nulla\n"
        "/lingua — italiano o English\n\n"
        "Maiuscole contano: «Palestra» è il giocatore, non «in palestra».",
        "en": "<b>Commands</b>\n"
        "/watch <i>name</i> — follow a name (e.g. /watch Palestra)\n"
        "/unwatch <i>name</i> — stop following it\n"
        "/list — what you follow (with buttons to remove)\n"
        "/lists — the available lists\n"
        "/subscribe <i>list</i> — follow a list\n"
        "/unsubscribe <i>list</i> — leave a list\n"
        "/mute [2h|tonight|until 7am|tomorrow] — pause: alerts arrive later, in a digest\n"
        "/unmute — resume now\n"
        "/quiet 23-7 — quiet hours every day (Rome time)\n"
        "/digest 8:00 — one digest a day\n"
        "/settings — language, pauses, digest\n"
        "/stop — receive nothing more\n"
        "/language — English or Italiano\n\n"
        "Capitals matter: “Palestra” is the player, not “in palestra” (the gym).",
    },
    "admin_help": {
        "it": "\n\n<b>Admin</b>: /stats — stato del servizio · /reload — ricarica le liste",
        "en": "\n\n<b>Admin</b>: /stats — service status · /reload — reload the lists",
    },
    "watch_usage": {
        "it": "Scrivi il nome da seguire dopo il comando, ad esempio:\n/watch Palestra",
        "en": "Write the name to follow after the command, for example:\n/watch Palestra",
    },
    "watch_too_long": {
        "it": "Troppo lungo: al massimo {limit} caratteri.",
        "en": "Too long: at most {limit} characters.",
    },
    "watch_no_words": {
        "it": "«{term}» non contiene lettere o cifre da cercare.",
        "en": "“{term}” has no letters or digits to look for.",
    },
    "watch_control": {
        "it": "Il nome contiene caratteri non validi.",
        "en": "The name contains invalid characters.",
    },
    "watch_too_many": {
        "it": "Segui già {limit} nomi, il massimo. Togline qualcuno con /list.",
        "en": "You already follow {limit} names, the maximum. Remove some with /list.",
    },
    "watch_added": {
        "it": "✅ Ora segui <b>{term}</b>.\n{how}",
        "en": "✅ You now follow <b>{term}</b>.\n{how}",
    },
    "watch_already": {
        "it": "Segui già <b>{term}</b>.\n{how}",
        "en": "You already follow <b>{term}</b>.\n{how}",
    },
    "watch_recent": {
        "it": "Le ultime notizie su {term} (24 ore):",
        "en": "The latest stories about {term} (24 hours):",
    },
    "watch_no_recent": {
        "it": "Nessuna notizia su {term} nelle ultime 24 ore: ti avviso alla prossima.",
        "en": "No story about {term} in the last 24 hours: I'll tell you about the next one.",
    },
    "unwatch_usage": {
        "it": "Scrivi il nome dopo il comando, ad esempio:\n/unwatch Palestra\n"
        "Oppure usa i pulsanti di /list.",
        "en": "Write the name after the command, for example:\n/unwatch Palestra\n"
        "Or use the buttons of /list.",
    },
    "unwatch_done": {
        "it": "🔕 Non segui più <b>{term}</b>.",
        "en": "🔕 You no longer follow <b>{term}</b>.",
    },
    "unwatch_unknown": {
        "it": "Non seguivi <b>{term}</b>. Vedi /list.",
        "en": "You were not following <b>{term}</b>. See /list.",
    },
    "list_empty": {
        "it": "Non segui ancora niente. Prova /watch Palestra oppure /lists.",
        "en": "You follow nothing yet. Try /watch Palestra or /lists.",
    },
    "list_head": {
        "it": "<b>Cosa segui</b> (tocca per togliere):",
        "en": "<b>What you follow</b> (tap to remove):",
    },
    "list_muted": {"it": "🔇 In pausa fino a {until}.", "en": "🔇 Paused until {until}."},
    "lists_empty": {
        "it": "Non ci sono liste disponibili al momento.",
        "en": "There are no lists available right now.",
    },
    "lists_head": {
        "it": "<b>Liste disponibili</b> (tocca per seguire o lasciare):",
        "en": "<b>Available lists</b> (tap to follow or leave):",
    },
    "subscribe_usage": {
        "it": "Scrivi il nome della lista, ad esempio /subscribe {example}. Vedi /lists.",
        "en": "Write the name of the list, for example /subscribe {example}. See /lists.",
    },
    "subscribe_unknown": {
        "it": "Non conosco la lista «{name}». Vedi /lists.",
        "en": "I don't know the list “{name}”. See /lists.",
    },
    "subscribe_done": {
        "it": "✅ Ora segui la lista <b>{name}</b>.",
        "en": "✅ You now follow the list <b>{name}</b>.",
    },
    "subscribe_already": {
        "it": "Segui già la lista <b>{name}</b>.",
        "en": "You already follow the list <b>{name}</b>.",
    },
    "unsubscribe_done": {
        "it": "🔕 Hai lasciato la lista <b>{name}</b>.",
        "en": "🔕 You left the list <b>{name}</b>.",
    },
    "unsubscribe_unknown": {
        "it": "Non seguivi la lista «{name}».",
        "en": "You were not following the list “{name}”.",
    },
    "mute_usage": {
        "it": "Non ho capito per quanto. Prova: /mute 2h, /mute 30 min, /mute stanotte, "
        "/mute fino alle 8, /mute domani, /mute 1d (al massimo {days} giorni; "
        "/mute da solo: 8 ore).",
        "en": "I didn't get for how long. Try: /mute 2h, /mute 30 min, /mute tonight, "
        "/mute until 7am, /mute tomorrow, /mute 1d (at most {days} days; "
        "/mute alone: 8 hours).",
    },
    "mute_too_long": {
        "it": "Una pausa dura al massimo {days} giorni. Per smettere del tutto: /stop.",
        "en": "A pause lasts at most {days} days. To stop altogether: /stop.",
    },
    "zone_rome": {"it": "", "en": " (Rome time)"},
    "mute_done": {
        "it": "🔇 In pausa fino a {until}{zone}. Quello che arriva nel frattempo ti arriverà "
        "dopo, in un solo riepilogo. /unmute per riprendere subito.",
        "en": "🔇 Paused until {until}{zone}. What arrives meanwhile will come afterwards, "
        "in one digest. /unmute to resume now.",
    },
    "unmute_done": {"it": "🔔 Avvisi di nuovo attivi.", "en": "🔔 Alerts are on again."},
    "unmute_digest": {
        "it": "Le notizie arrivate durante la pausa ({count}) ti arrivano ora in un riepilogo.",
        "en": "The stories that arrived during the pause ({count}) are coming now, in one digest.",
    },
    "unmute_nothing": {
        "it": "Non eri in pausa: gli avvisi sono già attivi.",
        "en": "You were not paused: alerts are already on.",
    },
    "unmute_but_quiet": {
        "it": "🌙 Ma ora sei nelle ore di silenzio: gli avvisi aspettano fino a {until} "
        "(/quiet off per toglierle).",
        "en": "🌙 But these are your quiet hours: alerts wait until {until} "
        "(/quiet off to remove them).",
    },
    "quiet_usage": {
        "it": "Scrivi l'intervallo di ogni giorno, ad esempio /quiet 23-7 (dalle 23 alle 7) "
        "oppure /quiet off per toglierlo.",
        "en": "Write the daily window, for example /quiet 23-7 (from 11 pm to 7 am) "
        "or /quiet off to remove it.",
    },
    "quiet_none": {
        "it": "Nessuna ora di silenzio. Ad esempio /quiet 23-7: di notte gli avvisi aspettano "
        "e arrivano al mattino in un riepilogo.",
        "en": "No quiet hours. For example /quiet 23-7: at night alerts wait and arrive in "
        "the morning, in one digest.",
    },
    "quiet_status": {
        "it": "🌙 Ore di silenzio: ogni giorno dalle {start} alle {end}{zone}. /quiet off per "
        "toglierle.",
        "en": "🌙 Quiet hours: every day from {start} to {end}{zone}. /quiet off to remove them.",
    },
    "quiet_done": {
        "it": "🌙 Ogni giorno dalle {start} alle {end}{zone} gli avvisi aspettano; alle {end} "
        "arrivano in un solo riepilogo. /quiet off per toglierle.",
        "en": "🌙 Every day from {start} to {end}{zone} alerts wait; at {end} they arrive in "
        "one digest. /quiet off to remove them.",
    },
    "quiet_off": {"it": "🔔 Ore di silenzio tolte.", "en": "🔔 Quiet hours removed."},
    "digest_usage": {
        "it": "Scrivi l'ora del riepilogo, ad esempio /digest 8:00, oppure /digest off per "
        "tornare agli avvisi in tempo reale.",
        "en": "Write the digest's time, for example /digest 8:00, or /digest off to go back "
        "to real-time alerts.",
    },
    "digest_none": {
        "it": "Ricevi gli avvisi in tempo reale. Con /digest 8:00 ricevi invece un solo "
        "riepilogo al giorno.",
        "en": "You get alerts in real time. With /digest 8:00 you get one digest a day instead.",
    },
    "digest_status": {
        "it": "📰 Un riepilogo al giorno alle {at}{zone}. /digest off per il tempo reale.",
        "en": "📰 One digest a day at {at}{zone}. /digest off for real time.",
    },
    "digest_done": {
        "it": "📰 D'ora in poi un solo riepilogo al giorno, alle {at}{zone}, invece degli avvisi "
        "in tempo reale. /digest off per tornare al tempo reale.",
        "en": "📰 From now on one digest a day, at {at}{zone}, instead of real-time alerts. "
        "/digest off to go back to real time.",
    },
    "digest_off": {
        "it": "🔔 Di nuovo avvisi in tempo reale.",
        "en": "🔔 Back to real-time alerts.",
    },
    "stop_done": {
        "it": "👋 Non ti invierò più nulla. /start per ricominciare: "
        "quello che segui resta salvato.",
        "en": "👋 I will send you nothing more. /start to begin again: what you follow is kept.",
    },
    "unknown_command": {
        "it": "Non conosco questo comando. /help per l'elenco.",
        "en": "I don't know that command. /help for the list.",
    },
    "free_text": {
        "it": "Per seguire un nome scrivi /watch seguito dal nome, ad esempio:\n/watch {example}",
        "en": "To follow a name write /watch followed by the name, for example:\n/watch {example}",
    },
    "group_admins_only": {
        "it": "In un gruppo solo gli amministratori possono cambiare cosa segue il gruppo.",
        "en": "In a group only its administrators can change what the group follows.",
    },
    "admins_only": {
        "it": "Comando riservato agli amministratori del bot.",
        "en": "Command reserved to the bot's administrators.",
    },
    "stats": {
        "it": "<b>Stato</b>\nIscritti attivi: {subscribers}\nFeed: {feeds}\n"
        "Avvisi oggi: {alerts_today}\nIn coda: {outbox}",
        "en": "<b>Status</b>\nActive subscribers: {subscribers}\nFeeds: {feeds}\n"
        "Alerts today: {alerts_today}\nQueued: {outbox}",
    },
    "config_refused": {
        "it": "⚠️ <b>Configurazione</b>: {summary}\n<code>{problems}</code>",
        "en": "⚠️ <b>Configuration</b>: {summary}\n<code>{problems}</code>",
    },
    "feeds_health": {"it": "{ok} ok, {failing} in errore", "en": "{ok} ok, {failing} failing"},
    "list_size": {"it": "{count} nomi", "en": "{count} names"},
    "reload_ok": {"it": "✅ Ricaricato: {summary}", "en": "✅ Reloaded: {summary}"},
    "reload_problems": {
        "it": "⚠️ {summary}\n{problems}",
        "en": "⚠️ {summary}\n{problems}",
    },
    "reload_unavailable": {"it": "Ricarica non disponibile.", "en": "Reload is not available."},
    "removed_term": {"it": "Tolto: {term}", "en": "Removed: {term}"},
    "language_ask": {
        "it": "🌐 Scrivo in italiano. Scegli la lingua:",
        "en": "🌐 I write in English. Choose the language:",
    },
    "language_set": {
        "it": "✅ D'ora in poi ti scrivo in italiano.",
        "en": "✅ From now on I write to you in English.",
    },
    "language_fallback": {
        "it": "ℹ️ I don't speak your language yet, so I'll write in English. "
        "Preferisci l'italiano? /lingua",
        "en": "ℹ️ I don't speak your language yet, so I'll write in English. "
        "Preferisci l'italiano? /lingua",
    },
    "reload_counts": {
        "it": "{feeds} feed, {lists} liste",
        "en": "{feeds} feeds, {lists} lists",
    },
    "reload_problem_count": {"it": "; {count} problemi", "en": "; {count} problem(s)"},
    "reload_kept": {
        "it": "; resta in vigore l'ultima versione valida di: {names}",
        "en": "; the last good version stays for: {names}",
    },
    "group_welcome": {
        "it": "👋 Ciao a tutti! Vi avviso quando le notizie sportive parlano di chi segue "
        "il gruppo.\n\nGli amministratori scelgono cosa seguire:\n"
        "• /watch <i>nome</i> — un giocatore, un allenatore, una squadra\n"
        "• /lists — liste già pronte · /list — cosa segue il gruppo\n"
        "• /lingua — italiano o English",
        "en": "👋 Hi everyone! I alert you when sports news mentions who this group "
        "follows.\n\nAdmins choose what to follow:\n"
        "• /watch <i>name</i> — a player, a coach, a club\n"
        "• /lists — ready-made lists · /list — what the group follows\n"
        "• /lingua — Italiano or English",
    },
    "admin_private": {
        "it": "Ti rispondo in privato: i comandi di amministrazione non si usano nei gruppi. "
        "Scrivimi prima in privato (/start), poi riprova.",
        "en": "I answer admin commands in private only. Write to me in private first "
        "(/start), then try again.",
    },
    "restored": {"it": "Ripristinato: {name}", "en": "Restored: {name}"},
    "excluded": {
        "it": "Niente più avvisi su {term} dalla lista {name}.",
        "en": "No more alerts about {term} from the list {name}.",
    },
    "included": {"it": "Di nuovo: {term}", "en": "Back again: {term}"},
    "silenced": {
        "it": "Notizia silenziata: niente più aggiornamenti.",
        "en": "Story muted: no more updates.",
    },
    "unsilenced": {"it": "Aggiornamenti di nuovo attivi.", "en": "Updates are on again."},
    "list_excluded": {"it": "🚫 {term} (escluso da {name})", "en": "🚫 {term} (skipped in {name})"},
    "list_page": {"it": "Pagina {page} di {pages}", "en": "Page {page} of {pages}"},
    "list_head_group": {
        "it": "<b>Cosa segue il gruppo</b> (gli amministratori tolgono con /unwatch <i>nome</i> "
        "e /unsubscribe <i>lista</i>):",
        "en": "<b>What this group follows</b> (admins remove with /unwatch <i>name</i> "
        "and /unsubscribe <i>list</i>):",
    },
    "gone": {"it": "Già tolto.", "en": "Already removed."},
    "subscribed_list": {"it": "Segui: {name}", "en": "Following: {name}"},
    "unsubscribed_list": {"it": "Lasciata: {name}", "en": "Left: {name}"},
}

COMMANDS: dict[str, list[tuple[str, str]]] = {
    "it": [
        ("watch", "Segui un nome: /watch Palestra"),
        ("unwatch", "Smetti di seguire un nome"),
        ("list", "Cosa segui"),
        ("lists", "Liste disponibili"),
        ("subscribe", "Segui una lista"),
        ("unsubscribe", "Lascia una lista"),
        ("mute", "Pausa: /mute 2h, stanotte, fino alle 8"),
        ("unmute", "Riprendi gli avvisi"),
        ("quiet", "Ore di silenzio: /quiet 23-7"),
        ("digest", "Un riepilogo al giorno: /digest 8:00"),
        ("impostazioni", "Impostazioni"),
        ("stop", "Non ricevere più nulla"),
        ("lingua", "Lingua: italiano o English"),
        ("help", "Aiuto"),
        ("start", "Inizia"),
    ],
    "en": [
        ("watch", "Follow a name: /watch Palestra"),
        ("unwatch", "Stop following a name"),
        ("list", "What you follow"),
        ("lists", "Available lists"),
        ("subscribe", "Follow a list"),
        ("unsubscribe", "Leave a list"),
        ("mute", "Pause: /mute 2h, tonight, until 7am"),
        ("unmute", "Resume alerts"),
        ("quiet", "Quiet hours: /quiet 23-7"),
        ("digest", "One digest a day: /digest 8:00"),
        ("settings", "Settings"),
        ("stop", "Receive nothing more"),
        ("language", "Language: English or Italiano"),
        ("help", "Help"),
        ("start", "Start"),
    ],
}

# Plural forms for groups and channels: the bot speaks to everyone in the chat ("Vi avviso",
# "Il gruppo segue"). A key missing here reads the same in a group; t() picks these when its
# language is a plural Voice.
GROUP_TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "it": "<b>Comandi</b> (cambiano cosa segue il gruppo solo gli amministratori)\n"
        "/watch <i>nome</i> — il gruppo segue un nome (es. /watch Palestra)\n"
        "/unwatch <i>nome</i> — il gruppo smette di seguirlo\n"
        "/list — cosa segue il gruppo\n"
        "/lists — le liste disponibili\n"
        "/subscribe <i>lista</i> — il gruppo segue una lista\n"
        "/unsubscribe <i>lista</i> — il gruppo lascia una lista\n"
        "/mute [2h|stanotte|fino alle 8|domani] — pausa: gli avvisi arrivano dopo, "
        "in un riepilogo\n"
        "/unmute — riprendete subito\n"
        "/quiet 23-7 — ore di silenzio ogni giorno\n"
        "/digest 8:00 — un solo riepilogo al giorno\n"
        "/stop — il gruppo non riceve più nulla\n"
        "/lingua — italiano o English\n\n"
        "Maiuscole contano: «Palestra» è il giocatore, non «in palestra».",
        "en": "<b>Commands</b> (only the group's admins change what it follows)\n"
        "/watch <i>name</i> — the group follows a name (e.g. /watch Palestra)\n"
        "/unwatch <i>name</i> — the group stops following it\n"
        "/list — what this group follows\n"
        "/lists — the available lists\n"
        "/subscribe <i>list</i> — the group follows a list\n"
        "/unsubscribe <i>list</i> — the group leaves a list\n"
        "/mute [2h|tonight|until 7am|tomorrow] — pause: alerts arrive later, in a digest\n"
        "/unmute — resume now\n"
        "/quiet 23-7 — quiet hours every day (Rome time)\n"
        "/digest 8:00 — one digest a day\n"
        "/stop — the group receives nothing more\n"
        "/language — English or Italiano\n\n"
        "Capitals matter: “Palestra” is the player, not “in palestra” (the gym).",
    },
    "watch_too_many": {
        "it": "Il gruppo segue già {limit} nomi, il massimo. Toglietene qualcuno con /unwatch.",
        "en": "This group already follows {limit} names, the maximum. Remove some with /unwatch.",
    },
    "watch_added": {
        "it": "✅ Ora il gruppo segue <b>{term}</b>.\n{how}",
        "en": "✅ This group now follows <b>{term}</b>.\n{how}",
    },
    "watch_already": {
        "it": "Il gruppo segue già <b>{term}</b>.\n{how}",
        "en": "This group already follows <b>{term}</b>.\n{how}",
    },
    "watch_no_recent": {
        "it": "Nessuna notizia su {term} nelle ultime 24 ore: vi avviso alla prossima.",
        "en": "No story about {term} in the last 24 hours: I'll tell you about the next one.",
    },
    "unwatch_done": {
        "it": "🔕 Il gruppo non segue più <b>{term}</b>.",
        "en": "🔕 This group no longer follows <b>{term}</b>.",
    },
    "unwatch_unknown": {
        "it": "Il gruppo non seguiva <b>{term}</b>. Vedete /list.",
        "en": "This group was not following <b>{term}</b>. See /list.",
    },
    "list_empty": {
        "it": "Il gruppo non segue ancora niente. Gli amministratori: /watch Palestra oppure "
        "/lists.",
        "en": "This group follows nothing yet. Admins: /watch Palestra or /lists.",
    },
    "subscribe_done": {
        "it": "✅ Ora il gruppo segue la lista <b>{name}</b>.",
        "en": "✅ This group now follows the list <b>{name}</b>.",
    },
    "subscribe_already": {
        "it": "Il gruppo segue già la lista <b>{name}</b>.",
        "en": "This group already follows the list <b>{name}</b>.",
    },
    "unsubscribe_done": {
        "it": "🔕 Il gruppo ha lasciato la lista <b>{name}</b>.",
        "en": "🔕 This group left the list <b>{name}</b>.",
    },
    "unsubscribe_unknown": {
        "it": "Il gruppo non seguiva la lista «{name}».",
        "en": "This group was not following the list “{name}”.",
    },
    "mute_done": {
        "it": "🔇 In pausa fino a {until}{zone}. Quello che arriva nel frattempo vi arriverà "
        "dopo, in un solo riepilogo. /unmute per riprendere subito.",
        "en": "🔇 Paused until {until}{zone}. What arrives meanwhile will come afterwards, "
        "in one digest. /unmute to resume now.",
    },
    "unmute_digest": {
        "it": "Le notizie arrivate durante la pausa ({count}) vi arrivano ora in un riepilogo.",
        "en": "The stories that arrived during the pause ({count}) are coming now, in one digest.",
    },
    "unmute_nothing": {
        "it": "Il gruppo non era in pausa: gli avvisi sono già attivi.",
        "en": "This group was not paused: alerts are already on.",
    },
    "stop_done": {
        "it": "👋 Non vi invierò più nulla. /start per ricominciare: "
        "quello che il gruppo segue resta salvato.",
        "en": "👋 I will send this group nothing more. /start to begin again: what it follows "
        "is kept.",
    },
    "start": {
        "it": "👋 Ciao a tutti! Vi avviso quando le notizie sportive parlano di chi segue il "
        "gruppo.\n\n• /watch <i>nome</i> — seguite un giocatore, un allenatore, una squadra\n"
        "• /lists — liste già pronte\n• /list — cosa segue il gruppo\n• /help — tutti i comandi",
        "en": "👋 Hi everyone! I alert you when sports news mentions who this group follows."
        "\n\n• /watch <i>name</i> — follow a player, a coach, a club\n"
        "• /lists — ready-made lists\n• /list — what the group follows\n"
        "• /help — every command",
    },
    "digest_head": {
        "it": "📰 <b>{count} notizie per voi</b>",
        "en": "📰 <b>{count} stories for you</b>",
    },
    "language_set": {
        "it": "✅ D'ora in poi vi scrivo in italiano.",
        "en": "✅ From now on I write to this group in English.",
    },
}

# --- free text, near misses, onboarding and settings (bot/telegram/helpful.py) -----------------
TEXTS.update(
    {
        "you_are_welcome": {
            "it": "Prego! 😊 Ti avviso appena esce qualcosa su chi segui.",
            "en": "You're welcome! 😊 I'll tell you as soon as there is news about who you follow.",
        },
        "free_text_unknown": {
            "it": "Non ho capito. Per seguire un giocatore scrivi il suo nome, ad esempio "
            "«Palestra», oppure /watch Palestra. /help per tutti i comandi.",
            "en": "I didn't understand. To follow a player write the name, for example "
            "“Palestra”, or /watch Palestra. /help for every command.",
        },
        "free_text_offer": {
            "it": "Vuoi seguire «{name}»? Tocca il pulsante (oppure /help per i comandi).",
            "en": "Do you want to follow “{name}”? Tap the button (or /help for the commands).",
        },
        "follow_found": {
            "it": "Ecco cosa ho trovato per «{name}»: tocca per seguire.",
            "en": "Here is what I found for “{name}”: tap to follow.",
        },
        "follow_as_typed": {
            "it": "«{name}» non è in nessuna lista, ma posso seguirlo come nome: tocca per "
            "confermare.",
            "en": "“{name}” is in no list, but I can follow it as a name: tap to confirm.",
        },
        "suggest_list_button": {"it": "📋 Lista {name}", "en": "📋 List {name}"},
        "suggest_term_button": {"it": "➕ {name}", "en": "➕ {name}"},
        "suggest_as_typed": {"it": "➕ «{name}» così", "en": "➕ “{name}” as typed"},
        "did_you_mean": {
            "it": "Non conosco «{term}». Forse cercavi uno di questi? Tocca per seguirlo, "
            "oppure segui «{term}» così com'è.",
            "en": "I don't know “{term}”. Did you mean one of these? Tap to follow it, or "
            "follow “{term}” as typed.",
        },
        "watch_covered": {
            "it": "Segui già <b>{term}</b>: è nella lista <b>{name}</b> che segui. "
            "Vuoi seguirlo anche da solo?",
            "en": "You already follow <b>{term}</b>: it is in the list <b>{name}</b> you "
            "follow. Follow it on its own too?",
        },
        "watch_common_word": {
            "it": "⚠️ «{term}» in minuscolo è anche una parola comune: troverei anche le "
            "notizie che la usano come parola (es. «in {term}»). Se intendi il nome, "
            "scegli «{proper}».",
            "en": "⚠️ “{term}” in lower case is also an ordinary word: I would also find news "
            "using it as a word. If you mean the name, choose “{proper}”.",
        },
        "watch_list_too": {
            "it": "📋 C'è anche la lista {name}: squadra, giocatori e allenatore insieme.",
            "en": "📋 There is also the list {name}: club, players and coach together.",
        },
        "unwatch_did_you_mean": {
            "it": "Non seguivi «{term}». Forse intendevi <b>{value}</b>?",
            "en": "You were not following “{term}”. Did you mean <b>{value}</b>?",
        },
        "unwatch_button": {"it": "🔕 Non seguire più {term}", "en": "🔕 Stop following {term}"},
        "subscribe_did_you_mean": {
            "it": "Non conosco la lista «{name}». Forse cercavi:",
            "en": "I don't know the list “{name}”. Did you mean:",
        },
        "subscribed_term": {"it": "Segui: {term}", "en": "Following: {term}"},
        "unknown_command_near": {
            "it": "Non conosco /{typed}. Forse intendevi /{meant}? /help per l'elenco.",
            "en": "I don't know /{typed}. Did you mean /{meant}? /help for the list.",
        },
        "start_follow_player": {"it": "⚽ Segui un giocatore", "en": "⚽ Follow a player"},
        "start_all_lists": {"it": "📋 Tutte le liste", "en": "📋 All lists"},
        "start_help": {"it": "❓ Aiuto", "en": "❓ Help"},
        "start_language": {"it": "🌐 Lingua / Language", "en": "🌐 Language / Lingua"},
        "start_player_howto": {
            "it": "Scrivimi il nome del giocatore, ad esempio <b>Palestra</b> o "
            "<b>Christian Pulisic</b> (oppure /watch Palestra).",
            "en": "Send me the player's name, for example <b>Palestra</b> or "
            "<b>Christian Pulisic</b> (or /watch Palestra).",
        },
        "start_language_howto": {
            "it": "🌐 /lingua per scegliere la lingua (italiano o inglese).",
            "en": "🌐 /language to choose the language (Italian or English).",
        },
        "start_deep_link": {
            "it": "✅ Ora segui la lista <b>{name}</b>.",
            "en": "✅ You now follow the list <b>{name}</b>.",
        },
        "start_deep_link_unknown": {
            "it": "Il link chiedeva la lista «{name}», che non conosco. Eccole tutte: /lists.",
            "en": "The link asked for the list “{name}”, which I don't know. Here are all: /lists.",
        },
        "start_again": {
            "it": "👋 Bentornato! Gli avvisi sono di nuovo attivi.",
            "en": "👋 Welcome back! Alerts are on again.",
        },
        "start_again_follows": {"it": "Segui: {names}.", "en": "You follow: {names}."},
        "start_still_muted": {
            "it": "🔇 Ma sei ancora in pausa fino a {until} (/unmute per riprendere subito).",
            "en": "🔇 But you are still paused until {until} (/unmute to resume now).",
        },
        "settings": {
            "it": "⚙️ <b>Impostazioni</b>\nLingua: {language} (/lingua)\n"
            "Segui: {terms} nomi, {lists} liste (/list)\nPausa: {pause}\n"
            "Ore di silenzio: {quiet}\nRiepilogo: {digest}\nFuso orario: {zone}",
            "en": "⚙️ <b>Settings</b>\nLanguage: {language} (/language)\n"
            "You follow: {terms} names, {lists} lists (/list)\nPause: {pause}\n"
            "Quiet hours: {quiet}\nDigest: {digest}\nTime zone: {zone}",
        },
        "language_name": {"it": "italiano", "en": "English"},
        "settings_paused": {"it": "fino a {until}{zone}", "en": "until {until}{zone}"},
        "settings_not_paused": {"it": "no", "en": "no"},
        "settings_none": {"it": "nessuna", "en": "none"},
        "settings_quiet": {"it": "dalle {start} alle {end}", "en": "from {start} to {end}"},
        "settings_digest": {
            "it": "uno al giorno alle {at}",
            "en": "one a day at {at}",
        },
        "settings_real_time": {"it": "no, avvisi in tempo reale", "en": "no, real-time alerts"},
        "settings_mute": {"it": "🔇 Pausa 8 ore", "en": "🔇 Pause 8 hours"},
        "settings_unmute": {"it": "🔔 Riprendi gli avvisi", "en": "🔔 Resume alerts"},
        "settings_quiet_on": {"it": "🌙 Silenzio 23–7", "en": "🌙 Quiet 23–7"},
        "settings_quiet_off": {"it": "🌙 Togli il silenzio", "en": "🌙 Remove quiet hours"},
        "settings_digest_on": {"it": "📰 Un riepilogo alle 8", "en": "📰 One digest at 8"},
        "settings_digest_off": {"it": "⚡ Tempo reale", "en": "⚡ Real time"},
        "settings_list": {"it": "📋 Cosa segui", "en": "📋 What you follow"},
        "settings_saved": {"it": "Fatto", "en": "Done"},
        "bot_description": {
            "it": "Ti avviso quando le notizie sportive italiane (Gazzetta, Corriere dello Sport, "
            "Tuttosport, Tuttomercatoweb, Sky Sport…) parlano dei giocatori e delle squadre che "
            "segui: un solo avviso per notizia. Tocca Avvia, poi scegli una squadra o scrivi il "
            "nome di un giocatore.",
            "en": "I alert you when Italian sports news (Gazzetta, Corriere dello Sport, "
            "Tuttosport, Tuttomercatoweb, Sky Sport…) mentions the players and clubs you follow: "
            "one alert per story. Tap Start, then pick a club or send a player's name.",
        },
        "bot_short_description": {
            "it": "Notizie sportive italiane sui giocatori e le squadre che segui, una volta sola.",
            "en": "Italian sports news about the players and clubs you follow, once per story.",
        },
    }
)
