"""The feed-to-records half of the RSS connector, and HTML reduced to text (no server)."""

from __future__ import annotations

from datetime import UTC, datetime

from clameur.sources.html_text import html_to_text
from clameur.sources.rss import parse_feed

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


def _parse(body: bytes, cursor: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return parse_feed(
        body,
        headers=HEADERS,
        url="https://blog.example/feed",
        source="blog",
        now=NOW,
        cursor=cursor,
    )


def test_html_is_reduced_to_its_text() -> None:
    html = (
        "<div><h1>Titre</h1><p>Un <a href='javascript:x'>lien</a> &amp; du <b>gras</b></p>"
        "<script>document.cookie</script><style>p{}</style><p>Ligne<br>suivante</p>"
        "<iframe src='x'>cadre</iframe>\x1b[2J&#8238;</div>"
    )
    text = html_to_text(html)
    assert text == "Titre\n\nUn lien & du gras\n\nLigne\nsuivante\n[2J\u202e"
    assert "<" not in text
    assert "document.cookie" not in text
    assert "cadre" not in text
    assert "\x1b" not in text


def test_long_ids_are_hashed_and_authors_fall_back_to_the_feed() -> None:
    long_id = "https://blog.example/" + "x" * 400
    body = (
        '<rss version="2.0"><channel><title>Mon &lt;b&gt;blog&lt;/b&gt;</title>'
        f"<item><guid>{long_id}</guid><title>Volta</title></item></channel></rss>"
    ).encode()
    [record] = _parse(body).records
    assert record["external_id"].startswith("sha256:")
    assert len(record["external_id"]) == len("sha256:") + 64
    assert record["author"] == {"handle": "Mon blog"}
    assert record["created_at"] == NOW.isoformat()
    assert _parse(body).records[0]["external_id"] == record["external_id"], "stable"


def test_seen_entries_are_skipped_and_changed_ones_sent_again() -> None:
    def feed(text: str) -> bytes:
        return (
            '<rss version="2.0"><channel><title>B</title>'
            "<item><guid>1</guid><title>Un</title><pubDate>Mon, 30 Dec 2029 10:00:00 GMT</pubDate>"
            f"</item><item><guid>2</guid><title>{text}</title>"
            "<pubDate>Mon, 30 Dec 2029 11:00:00 GMT</pubDate></item></channel></rss>"
        ).encode()

    first = _parse(feed("Deux"))
    assert [r["external_id"] for r in first.records] == ["1", "2"]
    assert first.cursor is not None
    assert first.cursor["newest"] == "2029-12-30T11:00:00+00:00"
    assert _parse(feed("Deux"), first.cursor).records == []
    edited = _parse(feed("Deux, corrigé"), first.cursor)
    assert [r["text"] for r in edited.records] == ["Deux, corrigé"]


def test_an_entry_without_text_is_a_problem() -> None:
    body = b'<rss version="2.0"><channel><item><guid>e</guid></item></channel></rss>'
    polled = _parse(body)
    assert polled.records == []
    assert [(p.where, p.reason) for p in polled.problems] == [
        ("entry 1 (e)", "no title nor content")
    ]


def test_an_undated_entry_seen_before_is_skipped_too() -> None:
    body = b'<rss version="2.0"><channel><item><guid>u</guid><title>Volta</title></item>'
    body += b"</channel></rss>"
    first = _parse(body)
    assert len(first.records) == 1
    later = parse_feed(
        body,
        headers=HEADERS,
        url="https://blog.example/feed",
        source="blog",
        now=NOW.replace(hour=13),
        cursor=first.cursor,
    )
    assert later.records == [], "the poll's time is not a change"
