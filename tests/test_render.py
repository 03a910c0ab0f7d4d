"""What a subscriber sees in an alert or a digest: content, escaping, time zone, size."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.models import Alert, Match
from bot.telegram.render import (
    MAX_MESSAGE,
    callback_data,
    render_alert,
    render_digest,
    resolve_value,
    tg_len,
)
from bot.telegram.texts import COMMANDS, GROUP_TEXTS, LANGUAGES, TEXTS, language_of, t

PUBLISHED = datetime(2025, 10, 10, 9, 12, tzinfo=UTC)  # 11:12 in Rome (CEST)
TITLE = "Milan, Allegri indica il nome: assalto a Palestra dell’Atalanta"
URL = "https://www.tuttomercatoweb.com/serie-a/milan-allegri-palestra-123"


def make_alert(**changes: object) -> Alert:
    base: dict[str, object] = {
        "id": 1,
        "subscriber_id": 7,
        "chat_id": "1001",
        "kind": "alert",
        "story_id": "s1",
        "title": TITLE,
        "url": URL,
        "source": "Tuttomercatoweb",
        "published": PUBLISHED,
        "matches": (Match("watch:palestra", "Palestra", "Palestra", 100.0),),
        "also": ("Calciomercato.com",),
    }
    base.update(changes)
    return Alert(**base)  # type: ignore[arg-type]


def button_texts(alert: Alert, titles: dict[str, str] | None = None) -> list[list[str]]:
    keyboard = render_alert(alert, titles).keyboard
    assert keyboard is not None
    return [[b.text for b in row] for row in keyboard.inline_keyboard]


def test_alert_shows_the_example_of_the_contract() -> None:
    alert = make_alert(
        url=URL + "?utm_source=rss&utm_medium=feed#commenti",
        links=(("Calciomercato.com", "https://www.calciomercato.com/news/palestra-1?fbclid=x"),),
    )
    rendered = render_alert(alert)
    assert rendered.plain.splitlines() == [
        f"⚽ {TITLE}",
        "Tuttomercatoweb · 10 ott, 11:12 · anche su: Calciomercato.com",
        "Segui: Palestra",
    ]
    first, meta, _ = rendered.html.splitlines()
    assert first == f'⚽ <a href="{URL}"><b>{TITLE}</b></a>'  # the title is the link, cleaned
    assert 'anche su: <a href="https://www.calciomercato.com/news/palestra-1">' in meta
    assert "🔎" not in rendered.html and "http" not in rendered.plain
    assert button_texts(alert) == [["🔕 Non seguire più Palestra", "🔇 Silenzia la notizia"]]


def test_the_summary_line_appears_only_when_it_adds_something() -> None:
    news = "L'esterno dell'Atalanta è il primo nome per gennaio.\nSecondo paragrafo."
    lines = render_alert(make_alert(summary=news)).plain.splitlines()
    assert lines[1] == "L'esterno dell'Atalanta è il primo nome per gennaio."
    assert "<i>L'esterno dell'Atalanta" in render_alert(make_alert(summary=news)).html
    for useless in (
        TITLE,  # the title again
        "Milan, Allegri indica il nome",  # its start
        "L'articolo Milan, Allegri indica il nome proviene da CalcioMercato.it.",
        "The post Milan appeared first on Football Italia.",
        "",
    ):
        assert len(render_alert(make_alert(summary=useless)).plain.splitlines()) == 3, useless


def test_outlet_tags_appended_to_titles_are_dropped() -> None:
    tagged = make_alert(title="La Juventus blinda Thuram: respinto l’assalto dell’Inter | CM")
    assert render_alert(tagged).plain.splitlines()[0] == (
        "⚽ La Juventus blinda Thuram: respinto l’assalto dell’Inter"
    )
    named = make_alert(title="Napoli, Conte: «Siamo pronti» - Tutto Napoli", source="Tutto Napoli")
    assert render_alert(named).plain.splitlines()[0] == "⚽ Napoli, Conte: «Siamo pronti»"
    joined = make_alert(title="Inter-Milan 2-1 - Lautaro decide il derby")  # not an outlet
    assert "Lautaro decide il derby" in render_alert(joined).plain


def test_english_subscriber_reads_english_and_rome_time_in_winter() -> None:
    winter = datetime(2025, 1, 5, 20, 30, tzinfo=UTC)  # 21:30 in Rome (CET)
    alert = make_alert(language="en", published=winter)
    rendered = render_alert(alert)
    assert "Tuttomercatoweb · 5 Jan, 21:30 · also on: Calciomercato.com" in rendered.plain
    assert "You follow: Palestra" in rendered.plain
    assert button_texts(alert) == [["🔕 Stop following Palestra", "🔇 Mute this story"]]


def test_feed_text_is_escaped_and_cannot_inject_markup() -> None:
    alert = make_alert(
        title="<b>Inter</b> & <script>x</script>",
        source="A<i>B",
        url='https://x.it/?a=1&b=<2>"',
        matches=(Match("watch:<b>", "<b>", "<b>", 100.0),),
    )
    html = render_alert(alert).html
    assert "&lt;b&gt;Inter&lt;/b&gt; &amp; &lt;script&gt;" in html
    assert "A&lt;i&gt;B" in html
    assert 'href="https://x.it/?a=1&amp;b=&lt;2&gt;&quot;"' in html
    assert "Segui: &lt;b&gt;" in html
    assert render_alert(alert).plain.splitlines()[0] == "⚽ <b>Inter</b> & <script>x</script>"
    assert "javascript" not in render_alert(make_alert(url="javascript:alert(1)")).html


def test_a_list_match_offers_not_this_player_leave_the_list_and_silence() -> None:
    alert = make_alert(matches=(Match("milan", "Christian Pulisic", "Pulisic", 100.0),))
    rendered = render_alert(alert, {"milan": "AC Milan"})
    assert rendered.plain.splitlines()[-1] == "Lista: AC Milan"  # no spelling, no score
    keyboard = rendered.keyboard
    assert keyboard is not None
    assert [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard] == [
        [
            ("🚫 Escludi Christian Pulisic", "xp|milan|Christian Pulisic"),
            ("🔕 Lascia AC Milan", "uf|list|milan"),
        ],
        [("🔇 Silenzia la notizia", "ss|story|s1")],
    ]


def test_a_personal_term_wins_over_the_list_that_also_matched() -> None:
    """Following Palestra personally and the Milan list: the button removes Palestra, never
    the whole list; the why line names both."""
    alert = make_alert(
        matches=(
            Match("milan", "Milan", "Milan", 100.0),
            Match("watch:palestra", "Palestra", "Palestra", 100.0),
        )
    )
    rendered = render_alert(alert, {"milan": "AC Milan"})
    assert rendered.plain.splitlines()[-1] == "Segui: Palestra · Lista: AC Milan"
    assert button_texts(alert, {"milan": "AC Milan"}) == [
        ["🔕 Non seguire più Palestra", "🔇 Silenzia la notizia"]
    ]


def test_group_and_channel_alerts_carry_no_buttons_members_cannot_use() -> None:
    for chat in ("-5005", "-1009009"):
        assert render_alert(make_alert(chat_id=chat)).keyboard is None


def test_worst_case_alert_stays_under_telegram_limit() -> None:
    """Feeds control the title, URL, summary, outlets and matches: measured in UTF-16 units,
    the worst case (emoji everywhere, huge everything) still fits in 4096."""
    for huge in ("⚽💥" * 5000, "&<" * 5000, "a" * 10000):
        url = "https://x.it/" + huge[:990]
        alert = make_alert(
            title=huge,
            url=url,
            summary=huge,
            source=huge,
            also=tuple(f"{huge}{i}" for i in range(100)),
            links=tuple((f"{huge}{i}", url[:180]) for i in range(100)),
            matches=tuple(Match(f"list{i}", huge + str(i), huge, 90.0) for i in range(50))
            + tuple(Match(f"watch:{i}", huge + str(i), huge, 90.0) for i in range(50)),
        )
        rendered = render_alert(alert, {f"list{i}": huge + str(i) for i in range(100)})
        assert tg_len(rendered.html) < MAX_MESSAGE
        assert tg_len(render_alert(alert, short=True).html) < tg_len(rendered.html)


def test_digest_lists_every_story_and_splits_when_full() -> None:
    few = [make_alert(id=i, story_id=f"s{i}", title=f"Notizia {i}") for i in range(8)]
    rendered, included = render_digest(few)
    assert included == few
    assert rendered.plain.startswith("📰 8 notizie per te")
    assert all(f"Notizia {i}" in rendered.plain for i in range(8))

    many = [make_alert(id=i, story_id=f"s{i}", title="T" * 300) for i in range(60)]
    rendered, included = render_digest(many)
    assert 1 < len(included) < 60
    assert tg_len(rendered.html) <= MAX_MESSAGE
    assert f"…e altre {60 - len(included)} in arrivo." in rendered.plain


def test_callback_data_fits_64_bytes_and_resolves_back() -> None:
    term = "Ødegaard Ødegaard Ødegaard Ødegaard Ødegaard Ødegaard"
    data = callback_data("uf", "term", term)
    assert len(data.encode()) <= 64
    token = data.split("|", 2)[2]
    assert resolve_value(token, ["Milan", term]) == term
    assert resolve_value("palestra", ["Milan", "Palestra"]) == "Palestra"
    assert resolve_value("Inter", ["Milan"]) is None


def test_every_text_exists_in_both_languages() -> None:
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
    aliases = {"lingua": "language", "impostazioni": "settings"}  # each menu in its language
    assert [aliases.get(c, c) for c, _ in COMMANDS["it"]] == [c for c, _ in COMMANDS["en"]]
    assert language_of("en-GB") == "en"
    assert language_of("it") == "it"
    assert language_of(None) == "it"
    assert language_of("es") == "en"  # other languages: English (the user is told once)
    for key, entry in GROUP_TEXTS.items():
        assert key in TEXTS and set(entry) == set(LANGUAGES), key
    assert t("watch_added", "it", term="<x>", how="ok").startswith("✅ Ora segui <b>&lt;x&gt;</b>")
