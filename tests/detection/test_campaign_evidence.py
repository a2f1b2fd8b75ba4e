"""Coordination against coincidence: what the campaign detector must not take for a campaign
(common phrasings, sameness spread over days, genuine outage customers with new accounts),
what it must (each campaign shape), and the retro-flagging of a campaign's earlier posts.

Small scenarios from :mod:`clameur.demo.campaign_replays` (its ``DEV`` texts); the full
replays are bench/campaign_replays.py.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest
from sqlalchemy import func, select

from clameur.care import campaigns as care_campaigns
from clameur.care.models import Conversation, ConversationEvent
from clameur.care.teams import add_queue, add_team
from clameur.db import session_scope
from clameur.demo import campaign_replays as cr
from clameur.demo import replays
from clameur.detection.campaign_idf import (
    HORIZON_DAYS,
    Stored,
    batch_counts,
    rare_counts,
    sampled,
)
from clameur.detection.campaign_models import CampaignCluster
from clameur.detection.campaign_score import Facts, burst_seconds, explain
from clameur.detection.campaign_sketch import shingle_text
from clameur.detection.campaign_state import Cluster
from clameur.detection.models import Alert
from clameur.detection.rules import Rules
from clameur.mentions.models import Author
from tests.conftest import Database
from tests.detection.test_campaign import (
    CLOCK,
    DAY,
    campaigns,
    flagged_in_care,
    replay,
    tenant,
)
from tests.factories import acting, lead, member

PHRASE = "Très bien, rien à redire, je recommande vivement ce service."
SENTENCE = "Commande reçue en deux jours, emballage soigné, rien à signaler."
OWN_TEXT = (
    "Le nouveau forfait Volta Horizon m'a séduit dès la première semaine, "
    "débit constant même au fond du jardin."
)


def _reviewers(
    texts: list[str], start: Any, minutes: int, prefix: str, **author: Any
) -> list[dict[str, Any]]:
    rng = random.Random(len(texts) + minutes)
    out = []
    for n, text in enumerate(texts):
        at = start + timedelta(seconds=rng.randrange(minutes * 60))
        out.append(
            {
                "source": "review",
                "external_id": f"{prefix}{n}",
                "text": text,
                "created_at": at.isoformat(),
                "author": {"handle": f"{prefix}{n}", **author},
                "rating": 5,
                "lang": "fr",
            }
        )
    return out


def _largest_cluster(db: Database, tenant_id: int) -> int:
    with session_scope(db.factory) as session:
        return int(
            session.scalar(
                select(func.max(CampaignCluster.accounts)).where(
                    CampaignCluster.tenant_id == tenant_id
                )
            )
            or 0
        )


def test_the_same_sentence_from_many_accounts_days_apart_raises_nothing(db: Database) -> None:
    """Thirty reviewers whose profiles show nothing (each a suspect on its own facts)
    write the same common sentence over four days, among ordinary reviews: they link (a
    two-day window), but sameness spread over days is coincidence, not a burst."""
    records = replays.merged(
        cr.genuine_reviews(DAY, 4, cr.DEV, seed=5, per_day=100),
        _reviewers([SENTENCE] * 30, DAY, 4 * 24 * 60, "s"),
    )
    tenant_id = tenant(db, campaign_window_hours=48)
    step = replay(db, tenant_id, records)
    assert campaigns(db, tenant_id) == []
    assert step.flagged == set()
    assert _largest_cluster(db, tenant_id) >= 20, "they do link"


def _cluster_state(db: Database, tenant_id: int) -> tuple[CampaignCluster, dict[str, Any]]:
    """The tenant's largest cluster, its state's accounts keyed by handle."""
    with session_scope(db.factory) as session:
        row = session.scalars(
            select(CampaignCluster)
            .where(CampaignCluster.tenant_id == tenant_id)
            .order_by(CampaignCluster.members.desc())
        ).first()
        assert row is not None
        handles = {a: h for a, h in session.execute(select(Author.id, Author.handle))}
        session.expunge(row)
    state = dict(row.state)
    state["accounts"] = {handles[int(a)]: r for a, r in state["accounts"].items()}
    state["times"] = {handles[int(a)]: t for a, t in state["times"].items()}
    return row, state


def test_a_cluster_keeps_only_its_window_however_long_it_lives(db: Database) -> None:
    """A genuine phrasing (each reviewer's own small variant, so none is a copy) goes on
    for two days, a reviewer an hour: one cluster throughout, but what it
    stores is its last window (24 h) of accounts and members and running totals, the same
    whatever the batches; its lifetime counts stay."""
    rng = random.Random(11)
    words = ["parfait", "impeccable", "top", "nickel", "super", "excellent", "bravo"]
    texts = [f"{SENTENCE} {rng.choice(words)} {rng.choice(words)} merci {n}" for n in range(48)]
    records = sorted(
        (
            {**r, "created_at": (DAY + timedelta(hours=n, minutes=rng.randrange(50))).isoformat()}
            for n, r in enumerate(_reviewers(texts, DAY, 1, "v"))
        ),
        key=lambda r: r["created_at"],
    )
    big, small = tenant(db, "big"), tenant(db, "small")
    replay(db, big, records, batch_size=500)
    replay(db, small, records, batch_size=10)

    row, state = _cluster_state(db, big)
    assert campaigns(db, big) == []
    assert row.members == 48, "one cluster of every reviewer"
    assert row.accounts == 48
    last = max(datetime.fromisoformat(r["created_at"]) for r in records)
    recent = {
        r["author"]["handle"]
        for r in records
        if datetime.fromisoformat(r["created_at"]) >= last - timedelta(hours=24)
    }
    assert len(recent) <= 25
    assert set(state["accounts"]) == recent, "only the last window"
    assert len(state["post_times"]) == len(recent)
    assert state["evicted"] == 48 - len(recent)
    assert state["units"] == sum(record[-1] for record in state["accounts"].values())

    _, other = _cluster_state(db, small)
    assert other == state, "the same state with batches of 10"


def test_a_cluster_state_round_trips_and_an_unbounded_one_still_loads() -> None:
    """What :meth:`Cluster.dump` stores loads back as it was; a state stored before it was
    bounded (every account ever, members' similarities without their times) loads with
    the same totals, and leaves with the next eviction."""
    at = int(DAY.timestamp())
    records = [
        Facts(1.0, 3, False, True, 1).dump(),
        Facts(900.0, 4_000, False, False, 5).dump(),
        Facts(None, None, False, True, 1).dump(),
    ]

    def fresh() -> Cluster:
        return Cluster("k", None, DAY, DAY + timedelta(hours=2), np.zeros(64, dtype=np.uint32))

    made = fresh()
    for n, record in enumerate(records):
        made.add_post(at + n * 3600, 0.6 + n / 10, n + 2)
        made.add_account(str(n), record, at + n * 3600)
    loaded = fresh()
    loaded.load(orjson.loads(orjson.dumps(made.dump())))
    assert loaded.dump() == made.dump()
    triples = {k: v for k, v in made.dump().items() if not k.startswith("post_")}
    posts = zip(made.post_times, made.post_sims, made.post_rare, strict=True)
    triples["posts"] = [list(p) for p in posts]
    first = fresh()  # the first bounded format, (time, similarity, rare) per member
    first.load(triples)
    assert first.dump() == made.dump()
    assert (loaded.sims, loaded.rare, loaded.order) == (made.sims, made.rare, made.order)
    assert loaded.suspects == 2
    assert loaded.evident == 1

    old = {"accounts": made.accounts, "times": made.times, "sims": made.sims, "rare": made.rare}
    before = fresh()
    before.load(old)
    totals = ("units", "suspects", "evident", "sims", "rare", "sorted_times")
    assert [getattr(before, n) for n in totals] == [getattr(made, n) for n in totals]
    made.evict(at + 3600)
    before.evict(at + 3600)
    assert (made.suspects, made.evicted, len(made.post_times)) == (1, 1, 2)
    evidence, summary = explain(made.view(), made.score(), Rules())
    assert evidence["accounts"] == 3, "accounts over its life"
    assert evidence["signals"]["accounts"] == 2, "signals of the window's"
    assert "3 accounts (2 in the last 24 h, 1 suspect)" in summary
    assert (before.evicted, before.accounts) == (1, made.accounts)
    before.evict(at + 3 * 3600)  # their members had no times: the cluster's last is theirs
    assert (before.accounts, before.sims, before.rare, before.units) == ({}, [], [], 0)


def test_a_common_phrase_in_a_burst_is_no_campaign_but_a_text_of_its_own_is(
    db: Database,
) -> None:
    """Profiles that show nothing, first posts, five stars: each account looks the same
    (a suspect). What differs is the text: one the tenant's reviewers have written again
    and again for days, or one nobody wrote before."""
    history = replays.merged(
        cr.genuine_reviews(DAY, 3, cr.DEV, seed=7, per_day=60),
        _reviewers([PHRASE] * 36, DAY, 3 * 24 * 60, "h"),
    )
    burst_at = DAY + timedelta(days=4, hours=10)  # more than a window after the history
    common = _reviewers([PHRASE] * 8, burst_at, 40, "c")
    own = _reviewers([OWN_TEXT] * 8, burst_at, 40, "o")

    a, b = tenant(db, "common"), tenant(db, "own")
    replay(db, a, replays.merged(history, common))
    replay(db, b, replays.merged(history, own))

    assert campaigns(db, a) == []
    [alert] = campaigns(db, b)
    assert set(alert["evidence"]["mentions"]) == {r["external_id"] for r in own}
    evidence = alert["evidence"]
    assert evidence["rare_shingles"] >= evidence["min_rare_shingles"]
    assert evidence["burst_minutes"] <= 40
    assert any("rare shingles" in why for why in evidence["why"])
    assert f"80 % of the accounts posted within {evidence['burst_minutes']} min" in alert["summary"]


def test_genuine_outage_reviews_by_new_accounts_raise_nothing(db: Database) -> None:
    outage = cr.outage_reviews(DAY + timedelta(hours=9), cr.DEV, seed=3, count=40)
    rng = random.Random(3)
    for n, record in enumerate(outage):  # every one of them opened an account today
        at = datetime.fromisoformat(record["created_at"])
        record["author"] = cr.fresh(rng, at, f"new{n}")
    tenant_id = tenant(db)
    step = replay(db, tenant_id, outage)
    assert campaigns(db, tenant_id) == []
    assert step.flagged == set()


@pytest.mark.parametrize("seed", [4, 5])
def test_a_handful_of_new_accounts_complaining_alike_is_no_campaign(
    db: Database, seed: int
) -> None:
    """Forty one-star reviews of an outage, every one from an account opened for it:
    phrasings from the same few fragments link a handful of them (5–6 accounts, median
    similarity 0.55–0.6, all suspects), which is what customers write, not a template."""
    start = DAY + timedelta(days=1, hours=9)
    wave = replays.complaint_wave(start, count=40, minutes=180, seed=seed, source="review")
    rng = random.Random(seed)
    for n, record in enumerate(wave):
        at = datetime.fromisoformat(record["created_at"])
        record["author"] = cr.fresh(rng, at, f"new{n}")
    tenant_id = tenant(db)
    replay(db, tenant_id, replays.merged(replays.ordinary_traffic(DAY, days=2, seed=seed), wave))
    assert campaigns(db, tenant_id) == []


@pytest.mark.parametrize("shape", cr.SHAPES)
def test_each_campaign_shape_raises_an_alert_with_all_its_members(db: Database, shape: str) -> None:
    start = DAY + timedelta(hours=11)
    genuine = replays.merged(
        cr.genuine_reviews(DAY, 1, cr.DEV, seed=11, per_day=80),
        cr.outage_reviews(start - timedelta(hours=1), cr.DEV, seed=12, count=20),
    )
    posts = cr.campaign(start, cr.DEV, seed=13, shape=shape, accounts=30, minutes=60)
    planted = {r["external_id"] for r in posts}
    tenant_id = tenant(db)
    replay(db, tenant_id, replays.merged(genuine, posts), batch_size=50)

    alerts = campaigns(db, tenant_id)
    assert alerts, f"the {shape} campaign was missed"
    found = {m for a in alerts for m in a["evidence"]["mentions"]}
    assert found == planted
    assert flagged_in_care(db, tenant_id) == planted


def _front_desk(db: Database) -> tuple[int, int]:
    tenant_id = tenant(db)
    with session_scope(db.factory) as session:
        boss = lead(session, CLOCK, tenant_id)
        team = add_team(session, CLOCK, boss, "Front")
        queue = add_queue(session, CLOCK, boss, "All", team_id=team.id)
        return tenant_id, queue.id


def test_earlier_members_leave_the_queues_and_a_rejection_brings_them_back(
    db: Database,
) -> None:
    tenant_id, queue_id = _front_desk(db)
    posts = cr.campaign(
        DAY + timedelta(hours=10), cr.DEV, seed=21, shape="light", accounts=12, minutes=45
    )
    planted = {r["external_id"] for r in posts}
    # a batch of two: the first members are stored, routed and queued before the alert
    step = replay(db, tenant_id, posts[:3], batch_size=2)
    with session_scope(db.factory) as session:
        queued = session.scalars(
            select(Conversation.queue_id).where(Conversation.tenant_id == tenant_id)
        ).all()
    assert queued, "the first posts opened conversations"
    assert set(queued) == {queue_id}, "no alert yet: ordinary work"
    replay(db, tenant_id, posts[3:], batch_size=2, step=step)

    [alert] = campaigns(db, tenant_id)
    assert set(alert["evidence"]["mentions"]) == planted
    assert flagged_in_care(db, tenant_id) == planted  # flagged, none queued
    with session_scope(db.factory) as session:
        rows = session.scalars(
            select(Conversation).where(Conversation.tenant_id == tenant_id)
        ).all()
        assert len({c.incident_id for c in rows}) == 1, "all under the campaign's incident"
        assert None not in {c.incident_id for c in rows}
        retro = session.scalars(
            select(ConversationEvent).where(
                ConversationEvent.tenant_id == tenant_id,
                ConversationEvent.kind == "campaign_flagged",
            )
        ).all()
        assert len(retro) >= 3
        assert {e.data["queue_id"] for e in retro} == {queue_id}
        supervisor = member(session, CLOCK, "sup@acme.example", tenant_id, "supervisor").id
        alert_id = session.scalars(
            select(Alert.id).where(Alert.tenant_id == tenant_id, Alert.kind == "campaign")
        ).one()
    with session_scope(db.factory) as session:
        verdict = care_campaigns.reject_campaign(
            session, CLOCK, acting(session, supervisor, tenant_id), alert_id
        )
    assert len(verdict.conversations) == len(planted)
    assert flagged_in_care(db, tenant_id) == set()
    with session_scope(db.factory) as session:
        back = session.scalars(
            select(Conversation.queue_id).where(Conversation.tenant_id == tenant_id)
        ).all()
    assert set(back) == {queue_id}, "every member is ordinary work again"


# --------------------------------------------------------------------------- pure parts


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = [*cr.DEV.common, *(" ".join(slot[0] for slot in t) for t in cr.DEV.templates)]
    out = []
    for _ in range(n):
        text = shingle_text(rng.choice(pool) + f" {rng.choice(cr.DEV.names)}")
        if text is not None:
            out.append(text)
    return out


def _stored_from(rows: list[tuple[int, int, int]]) -> Stored:
    """What the vocabulary table would answer after earlier batches wrote ``rows``."""

    def stored(day: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        sums: dict[int, int] = {}
        for shingle, d, docs in rows:
            if day - HORIZON_DAYS <= d < day:
                sums[shingle] = sums.get(shingle, 0) + docs
        names = sorted(sums)
        return np.array(names, dtype=np.int64), np.array([sums[n] for n in names], dtype=np.int64)

    return stored


def test_rare_counts_are_the_same_whatever_the_batches() -> None:
    texts = _texts(300, 1)
    rng = random.Random(2)
    days = sorted(rng.randrange(20_000, 20_004) for _ in texts)
    whole = rare_counts(sampled(texts), days, _stored_from([]))
    sizes = [len(set(s)) for s in (_sampled_one(t) for t in texts)]
    for cut in (1, 137, 299):
        first = rare_counts(sampled(texts[:cut]), days[:cut], _stored_from([]))
        written = batch_counts(sampled(texts[:cut]), days[:cut])
        second = rare_counts(sampled(texts[cut:]), days[cut:], _stored_from(written))
        assert first + second == whole
    # the first day knows no history: all rare; later days find the phrasings common
    assert all(w == n for w, n, d in zip(whole, sizes, days, strict=True) if d == days[0])
    later = [w / max(1, n) for w, n, d in zip(whole, sizes, days, strict=True) if d > days[0] + 1]
    assert later
    assert np.mean(later) < 0.5


def _sampled_one(text: str) -> list[int]:
    return sampled([text]).shingle.tolist()


def test_the_burst_is_the_shortest_window_holding_most_accounts() -> None:
    hour = 3600
    times = [0, 10, 20, 30, 40, 50, 60, 70, 5 * 24 * hour, 6 * 24 * hour]
    assert burst_seconds(times) == 70  # 8 of 10
    spread = [k * 24 * hour for k in range(10)]
    assert burst_seconds(spread) == 7 * 24 * hour
    assert burst_seconds([5]) == 0
