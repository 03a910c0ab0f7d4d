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
from bot.telegram.texts import COMMANDS, LANGUAGES, TEXTS, language_of, t

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


def button_texts(alert: Alert) -> list[str]:
    keyboard = render_alert(alert).keyboard
    assert keyboard is not None
    return [b.text for row in keyboard.inline_keyboard for b in row]


def test_alert_shows_the_example_of_the_contract() -> None:
    rendered = render_alert(make_alert())
    assert rendered.plain.splitlines() == [
        f"⚽ {TITLE}",
        "Tuttomercatoweb · 10 ott, 11:12 · anche su: Calciomercato.com",
        "🔎 Palestra",
        URL,
    ]
    assert f"<b>{TITLE}</b>" in rendered.html
    assert button_texts(make_alert()) == ["🔕 Non seguire più Palestra"]


def test_english_subscriber_reads_english_and_rome_time_in_winter() -> None:
    winter = datetime(2025, 1, 5, 20, 30, tzinfo=UTC)  # 21:30 in Rome (CET)
    alert = make_alert(language="en", published=winter)
    rendered = render_alert(alert)
    assert "Tuttomercatoweb · 5 Jan, 21:30 · also on: Calciomercato.com" in rendered.plain
    assert button_texts(alert) == ["🔕 Stop following Palestra"]


def test_feed_text_is_escaped_and_cannot_inject_markup() -> None:
    alert = make_alert(
        title="<b>Inter</b> & <script>x</script>",
        source="A<i>B",
        url="https://x.it/?a=1&b=<2>",
        matches=(Match("watch:<b>", "<b>", "<b>", 100.0),),
    )
    html = render_alert(alert).html
    assert "&lt;b&gt;Inter&lt;/b&gt; &amp; &lt;script&gt;" in html
    assert "A&lt;i&gt;B" in html
    assert "https://x.it/?a=1&amp;b=&lt;2&gt;" in html
    assert "🔎 &lt;b&gt;" in html
    assert render_alert(alert).plain.splitlines()[0] == "⚽ <b>Inter</b> & <script>x</script>"


def test_list_match_names_the_list_and_the_spelling_that_matched() -> None:
    alert = make_alert(matches=(Match("milan", "Christian Pulisic", "Pulisic", 100.0),))
    rendered = render_alert(alert, {"milan": "AC Milan"})
    assert "🔎 Christian Pulisic (Pulisic) · AC Milan" in rendered.plain
    keyboard = rendered.keyboard
    assert keyboard is not None
    button = keyboard.inline_keyboard[0][0]
    assert button.text == "🔕 Non seguire più AC Milan"
    assert button.callback_data == "uf|list|milan"


def test_worst_case_alert_stays_under_telegram_limit() -> None:
    """Feeds control the title, URL, outlets and matches: measured in UTF-16 units, the worst
    case (emoji everywhere, huge everything) is still far from 4096."""
    for huge in ("⚽💥" * 5000, "&<" * 5000):
        alert = make_alert(
            title=huge,
            url="https://x.it/" + huge,
            source=huge,
            also=tuple(f"{huge}{i}" for i in range(100)),
            matches=tuple(Match(f"list{i}", huge + str(i), huge, 90.0) for i in range(100)),
        )
        rendered = render_alert(alert, {f"list{i}": huge for i in range(100)})
        assert tg_len(rendered.html) < 3000
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
    assert [c for c, _ in COMMANDS["it"]] == [c for c, _ in COMMANDS["en"]]
    assert language_of("en-GB") == "en"
    assert language_of("it") == "it"
    assert language_of(None) == "it"
    assert t("watch_added", "it", term="<x>", how="ok").startswith("✅ Ora segui <b>&lt;x&gt;</b>")
