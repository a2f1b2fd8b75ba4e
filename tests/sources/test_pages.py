"""Web pages and review sites against a loopback HTTP server: the main text of a page, a
changed page updating its mention, conditional GET, schema.org reviews in JSON-LD and
microdata, a failing page beside good ones, the SSRF rule."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.pipeline import Pipeline
from clameur.sources.base import PollContext, SourceConfig, TransientSourceError
from clameur.sources.pages import PagesConnector, PagesOptions
from clameur.sources.reviews import reviews_in
from clameur.sources.service import add_source
from tests.conftest import Database, make_tenant
from tests.sources.feed_server import Doc, FeedServer, serve_feeds
from tests.sources.helpers import mention_ids, poller

PRIVATE = Settings(allow_private_fetch=True)
HTML = "text/html; charset=utf-8"
FILLER = (
    "Le service client de Volta a mis trois semaines à corriger ma facture d'électricité, "
    "malgré cinq appels et deux courriers recommandés. "
)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    yield from serve_feeds()


def article(title: str, body: str, filler: str = FILLER) -> bytes:
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        "<nav><a href='/'>Accueil</a> <a href='/contact'>Contact</a> Menu du site</nav>"
        f"<article><h1>{title}</h1><p>{body}</p><p>{filler * 3}</p></article>"
        "<footer>© 2026 Le blog — mentions légales — cookies</footer>"
        "<script>document.write('tracker')</script></body></html>"
    ).encode()


def json_ld(*reviews: dict[str, Any]) -> bytes:
    product = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": "Volta Énergie",
        "review": list(reviews),
    }
    return (
        f"<html><head><script type='application/ld+json'>{json.dumps(product)}</script></head>"
        "<body><h1>Avis clients</h1></body></html>"
    ).encode()


def ld_review(
    author: str, text: str, rating: Any, date: str = "2029-12-20", **more: Any
) -> dict[str, Any]:
    return {
        "@type": "Review",
        "author": {"@type": "Person", "name": author},
        "reviewBody": text,
        "datePublished": date,
        "reviewRating": {"@type": "Rating", "ratingValue": rating, **more},
    }


def config(*urls: str, **options: Any) -> SourceConfig:
    return SourceConfig(
        id=1,
        tenant_id=1,
        kind="pages",
        name="pages",
        url=None,
        source="blog",
        options={"urls": list(urls), **options},
    )


def poll(clock: FrozenClock, cfg: SourceConfig, cursor: Any = None, **kw: Any) -> Any:
    context = PollContext(kw.pop("settings", PRIVATE), clock)
    return PagesConnector().poll(cfg, cursor, context)


def test_a_page_becomes_one_mention_of_its_main_text(
    server: FeedServer, clock: FrozenClock
) -> None:
    server.docs["/post"] = Doc(article("Volta, trois semaines", "Quelle attente !"), HTML)
    polled = poll(clock, config(server.url("/post")))
    assert polled.problems == []
    [record] = polled.records
    assert record["external_id"] == server.url("/post")
    assert record["source"] == "blog"
    assert record["url"] == server.url("/post")
    assert record["author"]["handle"] == "127.0.0.1"
    assert record["title"] == "Volta, trois semaines"
    assert "Quelle attente !" in record["text"]
    assert "trois semaines à corriger" in record["text"]
    for boilerplate in ("Menu du site", "mentions légales", "tracker"):
        assert boilerplate not in record["text"]


def test_an_unchanged_page_yields_nothing_and_a_changed_one_again(
    server: FeedServer, clock: FrozenClock
) -> None:
    server.docs["/post"] = Doc(article("Titre", "Version une."), HTML, etag='"v1"')
    server.docs["/plain"] = Doc(article("Autre", "Sans validateur."), HTML)
    cfg = config(server.url("/post"), server.url("/plain"))
    first = poll(clock, cfg)
    assert len(first.records) == 2
    second = poll(clock, cfg, first.cursor)
    assert second.records == [], "304 for one, the same text for the other"
    assert server.gets("/post", 304) == 1
    server.docs["/post"] = Doc(article("Titre", "Version deux, corrigée."), HTML, etag='"v2"')
    third = poll(clock, cfg, second.cursor)
    [changed] = third.records
    assert changed["external_id"] == server.url("/post")
    assert "Version deux" in changed["text"]
    assert third.cursor["pages"][server.url("/post")]["etag"] == '"v2"'


def test_json_ld_reviews_become_one_mention_each_with_rating_and_date(
    server: FeedServer, clock: FrozenClock
) -> None:
    page = json_ld(
        ld_review("Zoé", "Facture fausse, personne ne répond.", 1),
        ld_review("Marc", "Technicien <b>au top</b>.", "9", bestRating=10),
        ld_review("Ana", "Correct sans plus.", 3, date="2029-12-21T08:30:00+01:00"),
    )
    server.docs["/avis"] = Doc(page, HTML)
    polled = poll(clock, config(server.url("/avis")))
    assert polled.problems == []
    zoe, marc, ana = polled.records
    assert {r["source"] for r in polled.records} == {"review"}
    assert (zoe["author"], zoe["rating"]) == ({"handle": "Zoé"}, 1)
    assert zoe["created_at"] == "2029-12-20T00:00:00+00:00"
    assert (marc["text"], marc["rating"]) == ("Technicien au top.", 5)
    assert ana["created_at"] == "2029-12-21T08:30:00+01:00"
    assert zoe["external_id"].startswith(server.url("/avis") + "#review-")
    assert len({r["external_id"] for r in polled.records}) == 3
    again = poll(clock, config(server.url("/avis")))
    assert [r["external_id"] for r in again.records] == [r["external_id"] for r in polled.records]


def test_microdata_reviews_are_read() -> None:
    html = """
    <div itemscope itemtype="https://schema.org/Product"><span itemprop="name">Volta</span>
      <div itemscope itemtype="https://schema.org/Review" id="r-77">
        <span itemprop="author" itemscope itemtype="https://schema.org/Person">
          <span itemprop="name">Jeanne D.</span></span>
        <meta itemprop="datePublished" content="2029-11-02">
        <div itemprop="reviewRating" itemscope itemtype="https://schema.org/Rating">
          <meta itemprop="worstRating" content="0"><span itemprop="ratingValue">2</span>/
          <span itemprop="bestRating">10</span></div>
        <p itemprop="reviewBody">Compteur   changé   deux fois.</p>
      </div>
    </div>"""
    [review] = reviews_in(html, "https://avis.example/volta")
    assert (review.author, review.text, review.rating) == (
        "Jeanne D.",
        "Compteur changé deux fois.",
        2,
    )
    assert review.published is not None
    assert review.published.isoformat() == "2029-11-02T00:00:00+00:00"
    assert review.key == "r-77"


def test_hostile_review_markup_is_data_not_code() -> None:
    broken = "<script type='application/ld+json'>{not json</script>"
    deep = "<script type='application/ld+json'>" + "[" * 5000 + "]" * 5000 + "</script>"
    evil = json.dumps(
        {"@type": "Review", "reviewBody": "<script>alert(1)</script>Bien", "author": 7}
    ).replace("</", "<\\/")  # as a page escapes it inside <script>
    html = broken + deep + f"<script type='application/ld+json'>{evil}</script>"
    [review] = reviews_in(html, "https://x.example/")
    assert review.text == "Bien"
    assert review.author == "7"
    assert review.rating is None


def test_a_failing_page_is_a_problem_beside_the_good_ones(
    server: FeedServer, clock: FrozenClock
) -> None:
    server.docs["/ok"] = Doc(article("Bon", "Lisible."), HTML)
    server.docs["/gone"] = Doc(b"", HTML, status=410)
    polled = poll(clock, config(server.url("/ok"), server.url("/gone")))
    assert [r["external_id"] for r in polled.records] == [server.url("/ok")]
    [problem] = polled.problems
    assert problem == (server.url("/gone"), "HTTP 410")
    assert server.url("/gone") not in polled.cursor["pages"]
    with pytest.raises(TransientSourceError, match="every page failed"):
        poll(clock, config(server.url("/gone")))


def test_private_pages_are_refused_unless_allowed(server: FeedServer, clock: FrozenClock) -> None:
    server.docs["/ok"] = Doc(article("Bon", "Lisible."), HTML)
    with pytest.raises(TransientSourceError) as refused:
        poll(clock, config(server.url("/ok")), settings=Settings(allow_private_fetch=False))
    assert "127.0.0.1 is a loopback" in str(refused.value)
    assert "CLAMEUR_ALLOW_PRIVATE_FETCH=1" in str(refused.value)
    assert server.hits == []


def test_options_refuse_other_schemes() -> None:
    with pytest.raises(ValueError, match="only http:// and https://"):
        PagesOptions.model_validate({"urls": ["file:///etc/passwd"]})
    with pytest.raises(ValueError, match="at least 1"):
        PagesOptions.model_validate({"urls": []})


def test_pages_are_polled_into_the_tenant_and_replayed_without_doubles(
    db: Database, pipeline: Pipeline, clock: FrozenClock, server: FeedServer
) -> None:
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    server.docs["/avis"] = Doc(json_ld(ld_review("Zoé", "Volta ne répond jamais.", 1)), HTML)
    server.docs["/blog"] = Doc(
        article("Rien à voir", "Un billet sur le jardinage.", "Les tomates aiment le soleil. "),
        HTML,
    )
    with session_scope(db.factory) as session:
        source_id = add_source(
            session,
            clock,
            tenant_id=tenant.id,
            kind="pages",
            name="avis",
            options={"urls": [server.url("/avis"), server.url("/blog")]},
        ).id
    polls = poller(db, pipeline, clock, settings=PRIVATE)
    first = polls.poll_source(source_id)
    assert first is not None
    assert first.status == "ok", first.error
    assert (first.counts["imported"], first.counts["unmatched"]) == (1, 1)
    assert mention_ids(db) == [server.url("/avis") + "#review-" + _key(first, db)]
    second = polls.poll_source(source_id)
    assert second is not None
    assert sum(second.counts.values()) == 0  # nothing new was said
    assert len(mention_ids(db)) == 1


def _key(outcome: Any, db: Database) -> str:
    return mention_ids(db)[0].rsplit("#review-", 1)[1]


def test_a_long_url_still_makes_a_valid_and_unique_external_id() -> None:
    from clameur.sources.pages import bounded_id

    base = "https://avis.example/" + "x" * 400
    one, two = bounded_id(base + "?page=1"), bounded_id(base + "?page=2")
    assert len(one) == len(two) == 300
    assert one != two
    assert bounded_id("https://short.example/") == "https://short.example/"


def test_a_long_list_of_pages_keeps_its_lease(server: FeedServer, clock: FrozenClock) -> None:
    for n in range(3):
        server.docs[f"/p{n}"] = Doc(article(f"Page {n}", "Texte."), HTML)
    kept: list[int] = []
    context = PollContext(PRIVATE, clock, keep_alive=lambda: kept.append(1))
    cfg = config(*(server.url(f"/p{n}") for n in range(3)))
    assert len(PagesConnector().poll(cfg, None, context).records) == 3
    assert len(kept) == 2
