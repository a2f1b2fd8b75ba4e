"""The demo data generator: determinism, the import contract, realism and the two scenarios."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clameur.demo import (
    DEMO_TENANTS,
    SOURCES,
    DemoBrand,
    DemoTenant,
    generate_mentions,
    write_jsonl,
)
from clameur.demo.fragments import BODIES, GENERIC_BODIES, SECTOR_BODIES, WAVE_BODIES

COUNT = 3000
BRANDS = [brand for tenant in DEMO_TENANTS for brand in tenant.brands]


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return list(generate_mentions(count=COUNT, seed=7))


def _norm(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _matches(brand: DemoBrand, text: str) -> bool:
    """What a simple case- and accent-insensitive whole-word term matcher would say."""
    body = _norm(text)
    return any(
        re.search(rf"(?<!\w){re.escape(_norm(query))}(?!\w)", body) for query in brand.queries
    )


def _at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def test_tenants_and_brands() -> None:
    assert [t.slug for t in DEMO_TENANTS] == ["volta", "maisonlune"]
    slugs = ["volta-mobile", "volta-energie", "maison-lune", "lune-express"]
    assert [b.slug for b in BRANDS] == slugs
    assert {b.sector for b in BRANDS} == {"telecom", "energy", "retail", "delivery"}
    for brand in BRANDS:
        assert _matches(brand, brand.name)
        assert sum(_matches(other, brand.name) for other in BRANDS) == 1


def test_every_body_template_mentions_the_brand() -> None:
    templates = [t for pool in BODIES.values() for t in pool] + list(WAVE_BODIES["fr"])
    templates += [t for lang in GENERIC_BODIES.values() for pool in lang.values() for t in pool]
    for lang in SECTOR_BODIES.values():
        templates += [t for sector in lang.values() for pool in sector.values() for t in pool]
    assert templates
    assert all("{brand}" in t for t in templates)


def test_deterministic() -> None:
    first = list(generate_mentions(count=500, seed=11))
    second = list(generate_mentions(count=500, seed=11))
    assert first == second
    assert json.dumps(first, ensure_ascii=False) == json.dumps(second, ensure_ascii=False)
    other = list(generate_mentions(count=500, seed=12))
    assert [r["text"] for r in other] != [r["text"] for r in first]


def test_exact_count_and_small_counts() -> None:
    for count in (0, 1, 7, 59, 60, 250):
        assert sum(1 for _ in generate_mentions(count=count)) == count


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate_mentions(start=datetime(2026, 11, 16))  # noqa: DTZ001
    with pytest.raises(ValueError, match="days"):
        generate_mentions(days=0)
    with pytest.raises(ValueError, match="count"):
        generate_mentions(count=-1)


def test_ordered_by_created_at_within_the_window(records: list[dict[str, Any]]) -> None:
    assert len(records) == COUNT
    moments = [_at(r["created_at"]).astimezone(UTC) for r in records]
    assert moments == sorted(moments)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    assert start <= moments[0]
    assert moments[-1] < start + timedelta(days=7)


def test_records_follow_the_import_contract(records: list[dict[str, Any]]) -> None:
    allowed = {
        "source",
        "external_id",
        "text",
        "created_at",
        "author",
        "url",
        "in_reply_to",
        "rating",
        "lang",
        "metrics",
    }
    seen: dict[str, set[str]] = defaultdict(set)
    for r in records:
        assert set(r) <= allowed, r
        assert r["source"] in SOURCES
        assert isinstance(r["external_id"], str)
        assert r["external_id"]
        assert r["external_id"] not in seen[r["source"]], "external_id must be unique per source"
        assert isinstance(r["text"], str)
        assert r["text"].strip()
        created = _at(r["created_at"])
        author = r["author"]
        assert isinstance(author["handle"], str)
        assert author["handle"]
        if "created_at" in author:
            assert _at(author["created_at"]) < created
        if "followers" in author:
            assert isinstance(author["followers"], int)
            assert author["followers"] >= 0
        if "verified" in author:
            assert isinstance(author["verified"], bool)
        if "url" in r:
            assert r["url"].startswith("https://")
            assert ".example" in r["url"]
        if "rating" in r:
            assert r["source"] == "review"
            assert isinstance(r["rating"], int)
            assert 1 <= r["rating"] <= 5
        elif r["source"] == "review":
            pytest.fail(f"review without rating: {r}")
        if "in_reply_to" in r:
            assert r["in_reply_to"] in seen[r["source"]], "parent must come earlier, same source"
        assert r.get("lang") in ("fr", "en")
        if "metrics" in r:
            assert set(r["metrics"]) == {"likes", "shares", "replies"}
            assert all(isinstance(v, int) and v >= 0 for v in r["metrics"].values())
        seen[r["source"]].add(r["external_id"])
        json.dumps(r)  # plain JSON-serialisable data


def test_every_record_mentions_exactly_one_brand(records: list[dict[str, Any]]) -> None:
    for r in records:
        matched = [b.slug for b in BRANDS if _matches(b, r["text"])]
        assert len(matched) == 1, (matched, r["text"])


def test_mix_of_languages_sources_and_authors(records: list[dict[str, Any]]) -> None:
    langs = Counter(r["lang"] for r in records)
    assert 0.58 <= langs["fr"] / COUNT <= 0.72
    sources = Counter(r["source"] for r in records)
    assert sources.most_common(1)[0][0] == "twitter"
    assert sources["facebook"] > sources["email"] > 0
    assert {"review", "forum", "instagram", "reddit", "mastodon", "bluesky", "blog", "news"} <= set(
        sources
    )
    handles = Counter(r["author"]["handle"] for r in records if r["source"] == "twitter")
    assert handles.most_common(1)[0][1] >= 5, "authors are re-used"
    assert sum(1 for r in records if "in_reply_to" in r) >= COUNT // 10
    texts = [r["text"] for r in records]
    assert len(set(texts)) >= 0.85 * len(texts), "texts are varied"
    assert any("é" in t for t in texts)
    assert any("’" in t or "'" in t for t in texts)


def test_reviews_rating_matches_tone(records: list[dict[str, Any]]) -> None:
    reviews = [r for r in records if r["source"] == "review"]
    ratings = Counter(r["rating"] for r in reviews)
    assert set(ratings) == {1, 2, 3, 4, 5}
    praise = [r for r in reviews if "Je recommande vivement" in r["text"]]
    assert praise
    assert all(r["rating"] >= 4 for r in praise)


def test_emails_are_long_and_formal(records: list[dict[str, Any]]) -> None:
    emails = [r for r in records if r["source"] == "email"]
    assert emails
    assert all("url" not in r and "metrics" not in r for r in emails)
    assert all(r["text"].count("\n") >= 6 and len(r["text"]) > 200 for r in emails)


def test_daily_rhythm(records: list[dict[str, Any]]) -> None:
    paris = [_at(r["created_at"]) for r in records if r["created_at"].endswith("+01:00")]
    by_hour = Counter(moment.hour for moment in paris)
    night = sum(by_hour[h] for h in (2, 3, 4))
    late_morning = sum(by_hour[h] for h in (10, 11, 12))
    assert late_morning > 5 * night


def test_influencer_outage_wave(records: list[dict[str, Any]]) -> None:
    big = [
        r
        for r in records
        if r["author"].get("followers", 0) > 100_000
        and r["author"].get("verified")
        and r["source"] == "twitter"
        and _matches(BRANDS[0], r["text"])
        and "panne" in r["text"].lower()
    ]
    assert big, "an influencer complains about the Volta Mobile outage"
    replies_to = Counter(r.get("in_reply_to") for r in records)
    post = max(big, key=lambda r: replies_to[r["external_id"]])
    assert 400_000 <= post["author"]["followers"] <= 500_000
    when = _at(post["created_at"])
    assert when.date() == datetime(2026, 11, 18).date()  # noqa: DTZ001 - a calendar date
    replies = [r for r in records if r.get("in_reply_to") == post["external_id"]]
    assert len(replies) >= 100
    distinct = {r["author"]["handle"] for r in replies}
    assert len(distinct) >= 0.9 * len(replies), "the wave comes from distinct customers"
    later = [
        r
        for r in records
        if when < _at(r["created_at"]) <= when + timedelta(hours=10)
        and _matches(BRANDS[0], r["text"])
    ]
    assert len(later) >= 200


def test_review_burst_from_fresh_accounts(records: list[dict[str, Any]]) -> None:
    suspicious = sorted(
        _at(r["created_at"])
        for r in records
        if r["source"] == "review"
        and r["rating"] == 1
        and _at(r["created_at"]) - _at(r["author"]["created_at"]) < timedelta(days=30)
        and _matches(BRANDS[2], r["text"])
    )
    best = max(
        sum(1 for other in suspicious if moment <= other < moment + timedelta(hours=1))
        for moment in suspicious
    )
    assert best >= 20


def test_stream_is_lazy() -> None:
    stream = generate_mentions(count=1_000_000, seed=3)
    first = [next(stream) for _ in range(50)]
    assert len(first) == 50


def test_custom_tenants_and_window() -> None:
    shop = DemoBrand("potiron", "Potiron Déco", ("Potiron Déco", "@PotironDeco"), "retail")
    tenant = DemoTenant("potiron", "Potiron", (shop,))
    start = datetime(2027, 3, 1, 6, 30, tzinfo=UTC)
    got = list(generate_mentions(count=400, seed=1, start=start, days=2, tenants=[tenant]))
    assert len(got) == 400
    assert all(_matches(shop, r["text"]) for r in got)
    moments = [_at(r["created_at"]) for r in got]
    assert start <= min(moments)
    assert max(moments) < start + timedelta(days=2)


def test_write_jsonl_round_trips(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    path = tmp_path / "demo.jsonl"
    assert write_jsonl(path, iter(records[:400])) == 400
    raw = path.read_bytes()
    assert raw.decode("utf-8").count("\n") == 400
    assert "é".encode() in raw, "UTF-8, not ASCII escapes"
    back = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert back == records[:400]
    again = tmp_path / "again.jsonl"
    write_jsonl(again, generate_mentions(count=400, seed=7))
    write_jsonl(path, generate_mentions(count=400, seed=7))
    assert again.read_bytes() == path.read_bytes()
