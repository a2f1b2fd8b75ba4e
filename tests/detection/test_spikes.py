"""Spikes and influencer triggers on synthetic replays the tests generate, in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scipy.stats import nbinom

from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo import replays
from clameur.detection import alerts_of
from clameur.detection.spikes import threshold
from clameur.detection.spikes_terms import brand_words, distinctive
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant

MONDAY = datetime(2030, 3, 4, tzinfo=UTC)
SPIKES = {"volume_spike", "negative_spike"}


def _run(
    db: Database, records: list[dict[str, Any]], batch_size: int = 500
) -> list[dict[str, Any]]:
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))  # wall clock: irrelevant to detection
    tenant = make_tenant(db, clock, "acme", {"volta": ["volta"]})
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=batch_size), clock=clock)
    result = pipeline.ingest(records, tenant.id)
    assert result.rejected == 0, result.errors[:3]
    with session_scope(db.factory) as session:
        return alerts_of(session, tenant.id)


@pytest.mark.parametrize("seed", [11, 12])
def test_an_ordinary_week_with_a_daily_rhythm_raises_no_spike(db: Database, seed: int) -> None:
    week = replays.ordinary_traffic(MONDAY, days=7, peak_per_hour=20, seed=seed)
    alerts = _run(db, week)
    assert [a for a in alerts if a["kind"] in SPIKES] == []
    assert len(week) > 1500  # a real week of traffic went through


@pytest.mark.parametrize("seed", [21, 22])
def test_a_wave_of_complaints_raises_one_spike_within_twenty_minutes(
    db: Database, seed: int
) -> None:
    history = replays.ordinary_traffic(MONDAY, days=3, peak_per_hour=20, seed=seed)
    start = MONDAY + timedelta(days=3, hours=10, minutes=7)
    wave = replays.complaint_wave(start, count=120, minutes=180, seed=seed + 100)
    alerts = _run(db, replays.merged(history, wave))
    spikes = [a for a in alerts if a["kind"] in SPIKES]
    assert len(spikes) == 1, [(a["kind"], a["triggered_at"], a["summary"]) for a in spikes]
    spike = spikes[0]
    triggered = datetime.fromisoformat(spike["triggered_at"])
    assert start <= triggered <= start + timedelta(minutes=20)
    assert spike["kind"] == "negative_spike"
    assert spike["brand"] == "volta"
    # The evidence is the wave: its mentions and authors, and what they talk about.
    wave_ids = {r["external_id"] for r in wave}
    members = set(spike["evidence"]["mentions"])
    assert len(members & wave_ids) >= 0.8 * len(members)
    assert spike["evidence"]["authors"]
    top = set(spike["evidence"]["top_terms"])
    assert len(top) >= 5
    assert not top & {"rien", "aucune", "depuis", "plus"}  # what it is about, not its fillers
    assert "volta" not in top, "every member names the brand: it is not what it is about"
    assert spike["count"] == len(members) > 30


def test_an_influential_complaint_alerts_at_once_and_gathers_its_replies(db: Database) -> None:
    history = replays.ordinary_traffic(MONDAY, days=2, peak_per_hour=12, seed=5)
    at = MONDAY + timedelta(days=2, hours=9, minutes=30)
    post = replays.influencer_post(at, followers=452_000, external_id="inf-1")
    replies = replays.complaint_wave(
        at + timedelta(minutes=2),
        count=60,
        minutes=240,
        seed=6,
        in_reply_to="inf-1",
        source="twitter",
        prefix="r",
    )
    # The same words from a small account, and a big account's praise: no influencer alert.
    small = replays.influencer_post(at, followers=80, external_id="small-1", handle="nobody")
    happy = {
        **replays.influencer_post(at, followers=900_000, external_id="happy-1", handle="star"),
        "text": "Merci Volta, la fibre est parfaite et le service client au top, bravo !",
    }
    alerts = _run(db, replays.merged(history, [post, small, happy], replies))
    influencer = [a for a in alerts if a["kind"] == "influencer"]
    assert len(influencer) == 1
    alert = influencer[0]
    assert datetime.fromisoformat(alert["triggered_at"]) == at
    assert alert["severity"] in {"high", "critical"}
    assert "452k followers" in alert["summary"]
    assert alert["evidence"]["mentions"][0] == "inf-1"
    assert set(alert["evidence"]["mentions"]) == {"inf-1"} | {r["external_id"] for r in replies}
    assert alert["evidence"]["replies"] == len(replies)
    assert alert["count"] == 1 + len(replies)


def test_replays_give_the_same_alerts_whatever_the_batch_size(tmp_path: Any) -> None:
    from clameur.db import create_engine_for, make_session_factory, upgrade

    history = replays.ordinary_traffic(MONDAY, days=2, peak_per_hour=15, seed=31)
    wave = replays.complaint_wave(MONDAY + timedelta(days=2, hours=11), count=90, seed=32)
    records = replays.merged(history, wave)
    found = []
    for size in (7, 1000):
        engine = create_engine_for(f"sqlite:///{tmp_path}/b{size}.db")
        upgrade(engine)
        db = Database(str(engine.url), engine, make_session_factory(engine))
        found.append([{k: v for k, v in a.items() if k != "id"} for a in _run(db, records, size)])
        engine.dispose()
    assert found[0] == found[1]
    assert found[0]


@pytest.mark.parametrize("mean", [0.05, 0.8, 3.0, 25.0, 400.0])
@pytest.mark.parametrize("shape", [0.5, 2.0, 8.0])
def test_the_negative_binomial_threshold_is_the_exact_tail_quantile(
    mean: float, shape: float
) -> None:
    alpha = 1e-5
    x = threshold(mean, shape, alpha)
    p = shape / (shape + mean)
    assert nbinom.sf(x - 1, shape, p) < alpha <= nbinom.sf(x - 2, shape, p)


@pytest.mark.parametrize(
    ("name", "value"), [("min_count", 1e400), ("min_count", "9" * 5000), ("dispersion", "nan")]
)
def test_alert_rules_refuse_numbers_that_do_not_fit(name: str, value: object) -> None:
    from clameur.detection.rules import Rules, apply
    from clameur.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=name):
        apply(Rules(), {name: value})


def test_a_later_wave_is_its_own_alert_with_its_own_evidence(db: Database) -> None:
    # The first alert stays open on the page (nobody closed it): the wave three days later
    # is another incident, and nothing of the first one's evidence leaks into it.
    history = replays.ordinary_traffic(MONDAY, days=7, peak_per_hour=20, seed=23)
    first_at = MONDAY + timedelta(days=3, hours=10, minutes=7)
    second_at = MONDAY + timedelta(days=6, hours=15, minutes=41)
    first = replays.complaint_wave(first_at, count=120, minutes=180, seed=123, prefix="a")
    second = replays.complaint_wave(second_at, count=120, minutes=180, seed=124, prefix="b")
    alerts = [a for a in _run(db, replays.merged(history, first, second)) if a["kind"] in SPIKES]
    assert len(alerts) == 2, [(a["kind"], a["triggered_at"]) for a in alerts]
    later = max(alerts, key=lambda a: a["triggered_at"])
    assert datetime.fromisoformat(later["triggered_at"]) >= second_at
    assert datetime.fromisoformat(later["started_at"]) >= second_at - timedelta(minutes=15)
    evidence = later["evidence"]
    assert sum(evidence["sources"].values()) == later["count"]
    assert "negative_at" not in evidence or evidence["negative_at"] >= second_at.isoformat()
    first_ids = {r["external_id"] for r in first}
    assert not first_ids & set(evidence["mentions"])


def test_a_brands_own_words_are_folded_like_search_keys() -> None:
    words = brand_words(["Volta Énergie", "volta-energie"])
    assert words == {"volta", "energie", "voltaenergie"}
    assert distinctive(["panne", "energie", "voltaenergie", "coupure"], words) == [
        "panne",
        "coupure",
    ]
