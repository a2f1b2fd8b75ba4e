"""Evaluation of listening queries against mentions, feature by feature."""

from __future__ import annotations

import pytest

from clameur.listening.query import Document, evaluate, parse, prepare, required_terms, tokenize


def matches(query: str, text: str, **meta: object) -> bool:
    return evaluate(parse(query), Document(text, **meta))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # terms: case- and accent-insensitive, whole words
        ("energie", "Quelle ÉNERGIE !", True),
        ("Énergie", "energie verte", True),
        ("ENERGIE", "Énergie", True),
        ("energie", "énergies", False),
        ("volta", "voltage élevé", False),
        ("l'énergie", "Toute l’énergie du monde", True),
        ("énergie", "l'énergie", True),
        ("aujourd'hui", "Aujourd'hui, panne", True),
        ("porte-monnaie", "mon porte monnaie", True),
        ("4g", "Pas de 4G depuis hier", True),
        ("ß", "Straße", False),
        ("strasse", "Straße", True),
        # phrases
        ('"service client"', "Le SERVICE-client est nul", True),
        ('"service client"', "service du client", False),
        ('"client service"', "service client", False),
        # implicit AND, OR, NOT, precedence
        ("volta panne", "panne chez Volta", True),
        ("volta panne", "Volta au top", False),
        ("volta OR panne", "une panne", True),
        ("volta -spam", "Volta super", True),
        ("volta -spam", "Volta spam", False),
        ('volta -"code promo"', "Volta code promo", False),
        ('volta -"code promo"', "Volta promo code", True),
        ("volta -(promo OR concours)", "Volta concours", False),
        ("volta NOT promo", "Volta promo", False),
        ("panne OR volta reseau", "panne", True),  # panne OR (volta AND reseau)
        ("panne OR volta reseau", "volta", False),
        ("(panne OR volta) reseau", "panne", False),
        ("volta OR -spam", "rien", True),
        ("rock and roll", "rock and roll", True),
        ("rock and roll", "rock roll", False),  # lower-case 'and' is a word
    ],
)
def test_text_matching(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("volta NEAR/1 panne", "volta panne", True),
        ("volta NEAR/1 panne", "panne volta", True),
        ("volta NEAR/1 panne", "volta en panne", False),
        ("volta NEAR/2 panne", "volta en panne", True),
        ("volta NEAR/3 panne", "panne totale chez volta", True),
        ("volta NEAR/2 panne", "panne totale chez volta", False),
        ("volta NEAR/3f panne", "volta est en panne", True),
        ("volta NEAR/3f panne", "panne chez volta", False),
        ("volta NEAR/2f panne", "volta est toujours en panne", False),
        ('"volta mobile" NEAR/2 panne', "Volta Mobile encore panne", True),
        ('"volta mobile" NEAR/2 panne', "panne de Volta Mobile", True),
        ('"volta mobile" NEAR/1 panne', "panne de Volta Mobile", False),
        ("volta NEAR/3 volta", "volta", False),
        ("volta NEAR/3 volta", "volta et volta", True),
        ("(volta OR #volta) NEAR/2 (panne OR bug*)", "#volta buggé", True),
        ("(volta OR #volta) NEAR/2 (panne OR bug*)", "#volta est vraiment buggé", False),
        ('"service client"~3', "client du service", True),
        ('"service client"~3', "client et du service", False),
        ('"service client"~4', "client et du service", True),
        ('"service service"~3', "service client", False),
        ('"service service"~3', "service client service", True),
    ],
)
def test_proximity(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("energ*", "Énergies renouvelables", True),
        ("energ*", "energ", True),
        ("energ*", "synergie", False),
        ("colo?r", "colour and color", True),
        ("colo?r", "colr", False),
        ("colo?r", "colouur", False),
        ("r?seau", "réseau coupé", True),
        ("volt*", "#voltamobile", True),
        ("raw:Volt*", "voltage", False),
        ("raw:Volt*", "Voltage", True),
    ],
)
def test_wildcards(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("#voltamobile", "J'adore #VoltaMobile", True),
        ("#voltamobile", "J'adore voltamobile", False),
        ("#voltamobile", "écrivez à @voltamobile", False),
        ("@voltamobile", "écrivez à @VoltaMobile", True),
        ("@voltamobile", "écrivez à voltamobile", False),
        ("@voltamobile", "mail à contact@voltamobile.fr", False),
        ("voltamobile", "J'adore #VoltaMobile", True),  # a word also matches inside tags
        ("#volta_mobile", "#Volta_Mobile rocks", True),
        ('"#volta panne"', "#volta panne", True),
        ('"#volta panne"', "volta panne", False),
        ("#énergie", "#Energie", True),
    ],
)
def test_hashtags_and_mentions(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("raw:Volta", "Volta", True),
        ("raw:Volta", "volta", False),
        ("raw:Volta", "VOLTA", False),
        ("raw:Énergie", "Énergie", True),
        ("raw:Énergie", "Energie", False),
        ("raw:Énergie", "énergie", False),
        ("raw:Énergie", "E\u0301nergie", True),  # decomposed accent, same letters
        ('raw:"Volta Mobile"', "chez Volta Mobile", True),
        ('raw:"Volta Mobile"', "chez Volta mobile", False),
        ("raw:Orange -raw:orange", "Orange et orange", False),
        ("raw:Orange -raw:orange", "Orange", True),
    ],
)
def test_raw_mode(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "meta", "expected"),
    [
        ("volta author:jdupont", {"author": "JDupont"}, True),
        ("volta author:@jdupont", {"author": "jdupont"}, True),
        ("volta author:jdupont", {"author": "jdupond"}, False),
        ("volta author:jdupont", {}, False),
        ("volta source:twitter", {"source": "Twitter"}, True),
        ("volta source:(twitter OR facebook)", {"source": "facebook"}, True),
        ("volta source:(twitter OR facebook)", {"source": "trustpilot"}, False),
        ("volta -source:twitter", {"source": "twitter"}, False),
        ("volta -source:twitter", {}, True),
        ("volta lang:fr", {"lang": "fr"}, True),
        ("volta lang:fr", {"lang": "fr-CA"}, True),
        ("volta lang:fr", {"lang": "fro"}, False),
        ("volta country:FR", {"country": "fr"}, True),
        ("volta country:FR", {"country": "BE"}, False),
        ("volta site:example.com", {"url": "https://example.com/a"}, True),
        ("volta site:example.com", {"url": "https://forum.example.com/t/1"}, True),
        ("volta site:example.com", {"url": "https://notexample.com/"}, False),
        ("volta site:example.com", {"url": "https://example.com.evil.io/"}, False),
        ("volta site:https://www.example.com/x", {"url": "http://www.example.com"}, True),
        ("volta site:example.com", {}, False),
        ('volta url:"/forum/"', {"url": "https://x.fr/FORUM/t"}, True),
        ('volta url:"/forum/"', {"url": "https://x.fr/blog"}, False),
        ("volta rating:5", {"rating": 5}, True),
        ("volta rating:5", {"rating": 4}, False),
        ("volta rating:<3", {"rating": 2}, True),
        ("volta rating:<3", {"rating": 3}, False),
        ("volta rating:<=3", {"rating": 3}, True),
        ("volta rating:>4", {"rating": 4}, False),
        ("volta rating:>=4", {"rating": 4}, True),
        ("volta rating:1..2", {"rating": 2}, True),
        ("volta rating:1..2", {"rating": 3}, False),
        ("volta rating:(1 OR 5)", {"rating": 5}, True),
        ("volta rating:<3", {}, False),
        ("volta -rating:<3", {}, True),
    ],
)
def test_fields(query: str, meta: dict[str, object], expected: bool) -> None:
    assert matches(query, "Volta encore", **meta) is expected


def test_field_alone_is_a_valid_query() -> None:
    assert matches("source:trustpilot rating:<2", "nul", source="trustpilot", rating=1)


def test_prepared_document_is_reused() -> None:
    prepared = prepare(Document("Panne réseau chez #Volta ce matin", source="twitter"))
    queries = ["volta panne", "#volta", "@volta", "reseau NEAR/1f volta", "source:facebook volta"]
    assert [evaluate(parse(q), prepared) for q in queries] == [True, True, False, False, False]
    assert {"panne", "reseau", "volta", "#volta"} <= prepared.keys


def test_tokenize() -> None:
    kinds = [(t.raw, t.norm, t.kind) for t in tokenize("L'Énergie d'@Volta_FR: #Top3 !")]
    assert kinds == [
        ("L", "l", "word"),
        ("Énergie", "energie", "word"),
        ("d", "d", "word"),
        ("Volta_FR", "volta_fr", "mention"),
        ("Top3", "top3", "hashtag"),
    ]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("volta", {"volta"}),
        ("Énergie", {"energie"}),
        ('"service client"', {"service"}),
        ("volta panne", {"panne"}),  # equal length: alphabetical
        ("volta OR #volta OR @volta", {"volta", "#volta", "@volta"}),
        ("volta -spam", {"volta"}),
        ("energ* volta", {"volta"}),
        ("energ*", None),
        ("volta OR -spam", None),
        ("source:twitter", None),
        ("source:twitter (a OR b)", {"a", "b"}),
        ("volta NEAR/3 reseau", {"reseau"}),
    ],
)
def test_required_terms(query: str, keys: set[str] | None) -> None:
    found = required_terms(parse(query))
    assert found == (None if keys is None else frozenset(keys))
