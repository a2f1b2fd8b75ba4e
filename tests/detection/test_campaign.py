"""Coordinated campaigns on synthetic replays the tests generate, through the real pipeline.

The planted campaign is a template of one-star reviews rewritten by each fake account
(synonyms, typos, swapped words, a name, an emoji, two sentences in the other order),
posted by fresh accounts with almost no followers, inside an ordinary day of traffic that
also holds genuine customers complaining about the same outage in their own words
(:func:`clameur.demo.replays.complaint_wave`, another generator than the campaign's).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import session_scope
from clameur.demo import replays
from clameur.detection import alerts_of
from clameur.detection.campaign import CampaignDetector
from clameur.detection.campaign_models import CampaignCluster, CampaignSignature
from clameur.detection.campaign_score import Facts, suspicion
from clameur.detection.campaign_sketch import (
    NUM_PERM,
    SEED,
    band_hashes,
    candidate_pairs,
    minhash,
    permutations,
    shingle_hashes,
    shingle_text,
    similarity,
)
from clameur.detection.rules import RuleBook, load_rules, set_rule
from clameur.mentions import Draft, StepContext
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from tests.conftest import Database, make_tenant

DAY = datetime(2030, 3, 4, tzinfo=UTC)  # a Monday
OUTAGE = DAY + timedelta(hours=9, minutes=10)

# --------------------------------------------------------------------------- generators

_OPENING = (
    "Panne géante chez {brand} depuis hier soir",
    "Énorme panne chez {brand} depuis hier soir",
    "Panne générale {brand} depuis hier soir",
)
_SERVICE = (
    "et le service client ne répond jamais.",
    "et le service client ne répond toujours pas.",
    "et aucun service client joignable.",
)
_PAYING = (
    "On paie un abonnement pour un réseau qui ne fonctionne pas.",
    "On paie un abonnement pour un réseau qui ne marche pas.",
    "Abonnement payé pour un réseau qui ne fonctionne pas.",
)
_ADVICE = (
    "Opérateur malhonnête, je déconseille à tout le monde.",
    "Opérateur malhonnête, je le déconseille à tout le monde.",
    "Je déconseille à tout le monde cet opérateur malhonnête.",
)
_CLOSING = ("Allez voir ailleurs !", "Fuyez !", "Partez tant qu'il est temps !", "")
_NAMES = ("Marc", "Julie", "Nadia", "Kevin", "Sophie", "Yanis", "Claire", "Bruno", "Léa")
_EMOJIS = ("😡", "👎", "🤬🤬", "💩")


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    edit = rng.choice(("drop", "double", "swap"))
    if edit == "drop":
        return word[:i] + word[i + 1 :]
    if edit == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def fake_review(rng: random.Random, brand: str) -> str:
    """One rewrite of the campaign's template, as a paid or scripted account posts it."""
    sentences = [
        f"{rng.choice(_OPENING).format(brand=brand)} {rng.choice(_SERVICE)}",
        rng.choice(_PAYING),
        rng.choice(_ADVICE),
    ]
    if rng.random() < 0.25:
        sentences[1], sentences[2] = sentences[2], sentences[1]
    if closing := rng.choice(_CLOSING):
        sentences.append(closing)
    words = " ".join(sentences).split(" ")
    if rng.random() < 0.35:
        k = rng.randrange(len(words))
        words[k] = _typo(rng, words[k])
    if rng.random() < 0.25:
        k = rng.randrange(len(words) - 1)
        words[k], words[k + 1] = words[k + 1], words[k]
    text = " ".join(words)
    if rng.random() < 0.25:
        text = f"{rng.choice(_NAMES)}, client depuis {rng.randint(2, 9)} ans. {text}"
    if rng.random() < 0.3:
        text = f"{text} {rng.choice(_EMOJIS)}"
    return text


def fresh_account(rng: random.Random, at: datetime, n: int, prefix: str) -> dict[str, Any]:
    created = at - timedelta(minutes=rng.randint(60, 12 * 24 * 60))
    return {
        "handle": f"{prefix}{rng.choice(_NAMES).lower()}{n}{rng.randint(10, 99)}",
        "followers": rng.randint(0, 12),
        "created_at": created.isoformat(),
    }


def planted_campaign(
    start: datetime, *, count: int = 22, minutes: int = 150, seed: int = 1, brand: str = "Volta"
) -> list[dict[str, Any]]:
    """``count`` one-star reviews from fresh accounts within ``minutes`` of ``start``."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        at = start + timedelta(seconds=rng.randrange(minutes * 60))
        out.append(
            {
                "source": "review",
                "external_id": f"fake-{seed}-{n}",
                "text": fake_review(rng, brand),
                "created_at": at.isoformat(),
                "author": fresh_account(rng, at, n, "f"),
                "rating": 1,
                "lang": "fr",
            }
        )
    return sorted(out, key=lambda r: r["created_at"])


def genuine_complaints(start: datetime, *, count: int = 30, seed: int = 1) -> list[dict[str, Any]]:
    """Customers describing the outage in their own words; a few opened an account today
    to do so (fresh and unknown: their profile alone looks like a campaign's)."""
    wave = replays.complaint_wave(start, count=count, minutes=240, seed=seed, prefix="g")
    rng = random.Random(seed)
    for n, record in enumerate(wave):
        if n % 5 == 0:
            record["author"] = fresh_account(
                rng, datetime.fromisoformat(record["created_at"]), n, "g"
            )
    return wave


@dataclass
class Day:
    records: list[dict[str, Any]]
    planted: set[str]
    genuine: set[str]


def ordinary_day_with_a_campaign(seed: int) -> Day:
    traffic = replays.ordinary_traffic(DAY, days=1, peak_per_hour=25, seed=seed)
    genuine = genuine_complaints(OUTAGE, seed=seed + 100)
    campaign = planted_campaign(OUTAGE + timedelta(minutes=40), seed=seed + 200)
    return Day(
        replays.merged(traffic, genuine, campaign),
        {r["external_id"] for r in campaign},
        {r["external_id"] for r in genuine},
    )


# --------------------------------------------------------------------------- the pipeline


@dataclass
class CampaignStep:
    """The detect step with the campaign detector alone (the engine will plug it in)."""

    detector: CampaignDetector = field(default_factory=CampaignDetector)
    flagged: set[str] = field(default_factory=set)

    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None:
        books: dict[int, RuleBook] = {}

        def rulebook_for(tenant_id: int) -> RuleBook:
            if tenant_id not in books:
                books[tenant_id] = load_rules(ctx.session, tenant_id)
            return books[tenant_id]

        self.detector.detect(ctx, drafts, rulebook_for)
        self.flagged |= {d.mention.external_id for d in drafts if "campaign" in d.flags}


CLOCK = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))  # wall clock: irrelevant to detection


def tenant(db: Database, slug: str = "acme", **rules: Any) -> int:
    made = make_tenant(db, CLOCK, slug, {"volta": ["volta"]})
    if rules:
        with session_scope(db.factory) as session:
            set_rule(session, made.id, None, rules, CLOCK.now())
    return made.id


def replay(
    db: Database,
    tenant_id: int,
    records: Sequence[dict[str, Any]],
    *,
    batch_size: int = 500,
    step: CampaignStep | None = None,
) -> CampaignStep:
    step = step or CampaignStep()
    pipeline = Pipeline(
        factory=db.factory, settings=Settings(batch_size=batch_size), clock=CLOCK, detector=step
    )
    result = pipeline.ingest(records, tenant_id)
    assert result.rejected == 0, result.errors[:3]
    return step


def campaigns(db: Database, tenant_id: int) -> list[dict[str, Any]]:
    with session_scope(db.factory) as session:
        return [a for a in alerts_of(session, tenant_id) if a["kind"] == "campaign"]


def flagged_in_care(db: Database, tenant_id: int) -> set[str]:
    """Mentions whose conversation care holds as a suspected campaign's (flag ``campaign``,
    in no queue): flagged on arrival or afterwards (retro-flagging)."""
    with session_scope(db.factory) as session:
        rows = session.execute(
            select(Mention.external_id, Conversation.flags, Conversation.queue_id)
            .join(Conversation, Conversation.id == Mention.conversation_id)
            .where(Mention.tenant_id == tenant_id)
        ).all()
    out = set()
    for external_id, flags, queue_id in rows:
        if "campaign" in (flags or []):
            assert queue_id is None, f"{external_id} is flagged but queued"
            out.add(external_id)
    return out


def _precision_recall(found: set[str], truth: set[str]) -> tuple[float, float]:
    hits = len(found & truth)
    return hits / max(1, len(found)), hits / len(truth)


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_burst_of_fake_reviews_is_one_campaign_alert_and_genuine_customers_are_left_out(
    db: Database, seed: int
) -> None:
    day = ordinary_day_with_a_campaign(seed)
    tenant_id = tenant(db)
    step = replay(db, tenant_id, day.records)

    alerts = campaigns(db, tenant_id)
    assert len(alerts) == 1, [a["summary"] for a in alerts]
    alert = alerts[0]
    members = set(alert["evidence"]["mentions"])
    precision, recall = _precision_recall(members, day.planted)
    assert precision >= 0.9, (precision, alert["summary"])
    assert recall >= 0.9, (recall, alert["summary"])
    assert not step.flagged & day.genuine, "a genuine complaint was flagged"
    assert step.flagged <= day.planted
    # The alert says why, with counts.
    signals = alert["evidence"]["signals"]
    assert signals["under_20_followers"] >= 0.9 * len(day.planted)
    assert signals["one_star"] >= 0.9 * len(day.planted)
    assert "accounts < 7 days old" in alert["summary"] or "< 30 days old" in alert["summary"]
    assert "one-star reviews" in alert["summary"]
    assert alert["evidence"]["median_similarity"] >= 0.5
    assert alert["severity"] in ("medium", "high", "critical")
    assert alert["brand"] == "volta"
    first = min(
        datetime.fromisoformat(r["created_at"])
        for r in day.records
        if r["external_id"] in day.planted
    )
    assert datetime.fromisoformat(alert["triggered_at"]) <= first + timedelta(minutes=90)


def test_the_pipelines_standard_detector_finds_the_campaign(db: Database) -> None:
    day = ordinary_day_with_a_campaign(4)
    tenant_id = tenant(db)
    pipeline = Pipeline(factory=db.factory, settings=Settings(batch_size=500), clock=CLOCK)
    assert pipeline.ingest(day.records, tenant_id).rejected == 0

    [alert] = campaigns(db, tenant_id)
    precision, recall = _precision_recall(set(alert["evidence"]["mentions"]), day.planted)
    assert precision >= 0.9
    assert recall >= 0.9


def test_replays_give_the_same_campaign_whatever_the_batch_size(db: Database) -> None:
    day = ordinary_day_with_a_campaign(7)
    big, small = tenant(db, "big"), tenant(db, "small")
    replay(db, big, day.records, batch_size=1000)
    replay(db, small, day.records, batch_size=7)
    flagged_big, flagged_small = flagged_in_care(db, big), flagged_in_care(db, small)

    def comparable(tenant_id: int) -> list[dict[str, Any]]:
        out = []
        for a in campaigns(db, tenant_id):
            evidence = {k: v for k, v in a["evidence"].items() if k != "cluster"}
            out.append({**a, "id": None, "evidence": evidence})
        return out

    assert comparable(big) == comparable(small)
    assert len(comparable(big)) == 1
    assert flagged_big == flagged_small
    assert flagged_big == set(comparable(big)[0]["evidence"]["mentions"])


def test_members_arriving_after_the_alert_update_it(db: Database) -> None:
    campaign = planted_campaign(OUTAGE, count=20, seed=11)
    tenant_id = tenant(db)
    step = replay(db, tenant_id, campaign[:12], batch_size=3)
    [early] = campaigns(db, tenant_id)
    # (a rewrite or two may not be linked yet: they join when a later one links them in;
    # rewrites this loose need ten accounts in their burst, docs/detection.md)
    assert 5 <= len(early["evidence"]["mentions"]) <= 12

    replay(db, tenant_id, campaign[12:], batch_size=3, step=step)
    [late] = campaigns(db, tenant_id)
    assert late["id"] == early["id"], "one campaign, one alert"
    assert late["count"] > early["count"]
    assert set(late["evidence"]["mentions"]) == {r["external_id"] for r in campaign}
    assert late["triggered_at"] == early["triggered_at"]
    assert late["updated_at"] == campaign[-1]["created_at"]
    assert late["evidence"]["accounts"] == 20
    # Members after the tip are flagged on arrival; the ones stored before it (the fifth
    # account at the earliest tips it: campaign_min_authors) are flagged afterwards.
    assert {r["external_id"] for r in campaign[12:]} <= step.flagged
    assert flagged_in_care(db, tenant_id) == {r["external_id"] for r in campaign}


def test_an_old_cluster_outside_the_window_does_not_link_and_days_apart_is_no_burst(
    db: Database,
) -> None:
    first = planted_campaign(OUTAGE, count=4, minutes=60, seed=21)
    later = planted_campaign(OUTAGE + timedelta(hours=30), count=4, minutes=60, seed=22)
    for record in later:
        record["external_id"] = "late-" + record["external_id"]
    records = replays.merged(first, later)

    day_window = tenant(db, "day")  # 24 h: two groups of four, neither reaches five accounts
    replay(db, day_window, records)
    assert campaigns(db, day_window) == []

    # 48 h: the two groups link into one cluster of eight accounts, but four posted 30 h
    # after the other four: sameness spread over a day and more is no burst, no campaign
    two_days = tenant(db, "twodays", campaign_window_hours=48)
    replay(db, two_days, records)
    assert campaigns(db, two_days) == []
    with session_scope(db.factory) as session:
        [cluster] = session.scalars(
            select(CampaignCluster).where(CampaignCluster.tenant_id == two_days)
        ).all()
    assert cluster.accounts == 8


def test_established_accounts_sharing_a_headline_link_but_do_not_alert(db: Database) -> None:
    rng = random.Random(5)
    headline = (
        "Volta annonce une panne nationale de son réseau mobile, le rétablissement est "
        "prévu en fin de journée selon l'opérateur"
    )
    records = []
    for n in range(25):
        at = OUTAGE + timedelta(minutes=rng.randint(0, 120))
        text = rng.choice(("", "RT ", "À lire : ", "Incroyable. ")) + headline
        author = {
            "handle": f"reader{n}",
            "followers": rng.randint(150, 40_000),
            "created_at": (at - timedelta(days=rng.randint(400, 4000))).isoformat(),
            "verified": n % 6 == 0,
        }
        records.append(
            {
                "source": "twitter",
                "external_id": f"rt-{n}",
                "text": text,
                "created_at": at.isoformat(),
                "author": author,
            }
        )
    tenant_id = tenant(db)
    step = replay(db, tenant_id, replays.merged(records))

    assert campaigns(db, tenant_id) == []
    assert step.flagged == set()
    with session_scope(db.factory) as session:
        [cluster] = session.scalars(select(CampaignCluster)).all()
    assert cluster.accounts == 25, "the copies are near-duplicates…"
    assert cluster.score < 0.25, "…by established accounts"


def test_state_older_than_the_window_is_pruned(db: Database) -> None:
    records = replays.ordinary_traffic(DAY, days=4, peak_per_hour=15, seed=3)
    tenant_id = tenant(db)
    replay(db, tenant_id, records, batch_size=50)
    last = datetime.fromisoformat(records[-1]["created_at"])
    with session_scope(db.factory) as session:
        oldest = session.scalar(select(func.min(CampaignSignature.at_us)))
        left = session.scalar(select(func.count()).select_from(CampaignSignature))
    assert oldest is not None
    # a window (24 h), plus up to a quarter of one between prunings, plus a batch's span
    assert datetime.fromtimestamp(oldest / 1e6, UTC) >= last - timedelta(hours=40)
    assert left < 0.5 * len(records)


def test_short_edited_and_unmatched_mentions_do_not_break_a_batch(db: Database) -> None:
    campaign = planted_campaign(OUTAGE, count=12, seed=31)
    short = [
        {
            "source": "twitter",
            "external_id": f"s{n}",
            "text": "Panne Volta ?",
            "created_at": (OUTAGE + timedelta(minutes=n)).isoformat(),
            "author": {"handle": f"short{n}", "followers": 1},
        }
        for n in range(8)
    ]
    tenant_id = tenant(db)
    step = replay(db, tenant_id, replays.merged(campaign, short))
    edited = [{**campaign[0], "text": campaign[0]["text"] + " Édit : toujours rien."}]
    replay(db, tenant_id, edited, step=step)

    [alert] = campaigns(db, tenant_id)
    assert set(alert["evidence"]["mentions"]) == {r["external_id"] for r in campaign}
    with session_scope(db.factory) as session:
        signed = session.scalar(select(func.count()).select_from(CampaignSignature))
    assert signed == 12, "short texts are not compared; an edit is not a new voice"


# --------------------------------------------------------------------------- the sketch


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=6))
def test_batch_minhash_equals_datasketch(texts: list[str]) -> None:
    shingled = [" " + " ".join(f"{t} mot{i}" for i in range(6)) + " " for t in texts]
    batch = minhash(shingled)
    for row, text in zip(batch, shingled, strict=True):
        hashes, _ = shingle_hashes([text])
        reference = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=lambda v: v)
        reference.update_batch([int(h) for h in hashes])
        assert (row == reference.hashvalues).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3), min_size=3, max_size=3), min_size=1, max_size=25),
    st.integers(0, 25),
)
def test_candidate_pairs_are_every_earlier_mention_sharing_a_band(
    rows: list[list[int]], first_new: int
) -> None:
    bands = np.array(rows, dtype=np.int64)
    first_new = min(first_new, len(rows))
    earlier, later = candidate_pairs(bands, first_new)
    expected = [
        (i, j)
        for j in range(first_new, len(rows))
        for i in range(j)
        if (bands[i] == bands[j]).any()
    ]
    assert list(zip(earlier.tolist(), later.tolist(), strict=True)) == expected


def test_permutations_are_datasketchs() -> None:
    assert (permutations() == MinHash(num_perm=NUM_PERM, seed=SEED).permutations).all()


BASE = (
    "Panne géante chez Volta depuis hier soir et le service client ne répond jamais. On paie "
    "un abonnement pour un réseau qui ne fonctionne pas. Opérateur malhonnête, fuyez !"
)


@pytest.mark.parametrize(
    "variant",
    [
        BASE.replace("géante", "énorme"),  # a word swapped for another
        BASE.replace("abonnement", "abonement").replace("fonctionne", "fonctione"),  # typos
        "Marc, client depuis six ans. " + BASE + " 😡😡",  # a name, emojis
        BASE.replace("ne répond jamais", "jamais ne répond"),  # words in another order
        # two sentences in the other order
        "On paie un abonnement pour un réseau qui ne fonctionne pas. Panne géante chez Volta "
        "depuis hier soir et le service client ne répond jamais. Opérateur malhonnête, fuyez !",
    ],
)
def test_small_edits_keep_a_text_a_near_duplicate(variant: str) -> None:
    a, b = minhash([_shingled(BASE), _shingled(variant)])
    assert similarity(a, b) >= 0.6


def test_complaints_in_their_own_words_are_not_near_duplicates() -> None:
    texts = [
        "Panne Volta depuis ce matin, plus de réseau du tout à Lyon, c'est pénible",
        "Toujours aucune connexion chez Volta, je ne peux pas télétravailler aujourd'hui",
        "Le réseau Volta est en panne dans tout mon quartier, aucune info du service client",
        "Volta en panne encore une fois, ma box ne capte plus rien depuis 8h",
        "Impossible de joindre le service client Volta, la panne dure depuis des heures",
    ]
    sigs = minhash([_shingled(t) for t in texts])
    for i in range(len(texts)):
        for j in range(i):
            assert similarity(sigs[i], sigs[j]) < 0.35, (texts[i], texts[j])


def test_short_texts_are_not_compared() -> None:
    assert shingle_text("Panne Volta ?") is None
    assert shingle_text("Encore une panne chez Volta ce matin") is not None


def test_band_hashes_are_stable_across_runs() -> None:
    sig = minhash([_shingled(BASE)])
    assert band_hashes(sig).tolist() == band_hashes(minhash([_shingled(BASE)])).tolist()
    assert band_hashes(sig).dtype.name == "int64"


def _shingled(text: str) -> str:
    out = shingle_text(text)
    assert out is not None
    return out


# --------------------------------------------------------------------------- suspicion


def _facts(**overrides: Any) -> Facts:
    base: dict[str, Any] = {
        "age_days": 3.0,
        "followers": 4,
        "verified": False,
        "first_post": True,
        "rating": 1,
    }
    return Facts(**{**base, **overrides})


@pytest.mark.parametrize(
    ("facts", "check"),
    [
        (_facts(), lambda s: s > 0.9),  # a fresh account's first, one-star review
        (_facts(age_days=2000.0, followers=800, first_post=False, rating=None), lambda s: s == 0),
        (_facts(age_days=2000.0, followers=120, rating=1), lambda s: s < 0.35),
        (_facts(verified=True), lambda s: s == 0),
        (_facts(age_days=None, followers=None), lambda s: 0.45 < s < 0.6),  # review sites
    ],
)
def test_suspicion_of_an_account(facts: Facts, check: Callable[[float], bool]) -> None:
    assert check(suspicion(facts)), suspicion(facts)
