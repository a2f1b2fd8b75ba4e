"""Influencer trigger: a negative post by a very influential author raises an alert at once.

"Very influential" is the tenant's top influence band (the author's percentile among the
tenant's authors, from ``prioritise``) among authors with a minimum audience, or any author
above an absolute follower count: a tenant's first authors are all "top" of a tiny
population, so the percentile alone would cry wolf while a tenant is young.

The incident is the post (``influencer:<source>:<external_id>``). Replies to it — and
replies to those replies — are attached to the same alert as they arrive, so care can
group the wave of conversations it brings; the incident's severity rises with the wave.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from clameur.analysis.influence import humanise
from clameur.detection.alerts import Member, attach, raise_or_update
from clameur.detection.models import Alert, AlertMention
from clameur.detection.rules import RuleBook, Rules, severity_rank
from clameur.detection.spikes import NEGATIVE_INTENTS
from clameur.mentions.draft import Draft, StepContext

INCIDENT = timedelta(hours=48)
"""How long replies keep joining an influencer's incident (event time)."""
_EXCERPT = 280


PRAISE_INTENTS = frozenset({"praise"})
"""Intents that never raise the alert, whatever the sentiment model says."""
CONFIDENT = 0.5
"""A label counts when the model gives it at least this probability (unknown: it counts)."""
SURE = 0.8
"""A churn threat or a negative sentiment this sure raises the alert on its own; a
complaint this sure does in a neutral post."""


def complains(draft: Draft) -> bool:
    """A complaint or a churn threat, told by the intent *and* the sentiment together.

    One post raises this alert on its own and pages someone, so the two models must agree,
    each with its confidence:

    - never on praise, nor on a post the sentiment model reads as positive (confident):
      "fixed my issue in 10 minutes, impressed" talks of an issue, and the intent model
      may call it a complaint;
    - a complaint (confident) in a negative post, or one the intent model is sure of in a
      neutral post; a request in a negative post;
    - a churn threat the intent model is sure of ("je résilie" is told in a flat tone);
    - a negative sentiment the model is sure of.

    An uncertain label (none, "uncertain", or below its confidence) is no evidence.
    """
    a = draft.analysis
    if a is None or a.intent in PRAISE_INTENTS:
        return False
    sentiment = _confident(a.sentiment, a.sentiment_score, CONFIDENT)
    if sentiment == "positive":
        return False
    negative = a.sentiment == "negative"
    intent = _confident(a.intent, a.intent_score, CONFIDENT)
    sure_intent = _confident(a.intent, a.intent_score, SURE)
    if sure_intent == "churn_threat":
        return True
    if intent in NEGATIVE_INTENTS and (negative or sure_intent == intent):
        return True
    if intent == "request" and negative:
        return True
    return _confident(a.sentiment, a.sentiment_score, SURE) == "negative"


def _confident(label: str | None, score: float | None, minimum: float) -> str | None:
    """``label`` when its probability reaches ``minimum`` (or is unknown), else None."""
    if label is None or label == "uncertain":
        return None
    return label if score is None or score >= minimum else None


def influential(draft: Draft, rules: Rules) -> bool:
    author = draft.mention.author
    followers = author.followers or 0
    if followers >= rules.influencer_followers:
        return True
    percentile = draft.analysis.influence if draft.analysis else None
    return (
        percentile is not None
        and percentile >= rules.influencer_percentile
        and followers >= rules.influencer_min_followers
    )


def severity_of(followers: int, verified: bool, replies: int) -> str:
    if followers >= 1_000_000 or replies >= 200 or (verified and followers >= 250_000):
        return "critical"
    return "high"


class InfluencerDetector:
    def detect(
        self, ctx: StepContext, drafts: list[Draft], rulebook_for: Callable[[int], RuleBook]
    ) -> None:
        session = ctx.session
        # Alerts that replies of this batch may join: posts and replies already attached.
        parents = {
            (d.tenant_id, d.mention.source, d.mention.in_reply_to)
            for d in drafts
            if d.mention.in_reply_to and d.tenant_id is not None
        }
        known: dict[tuple[int, str, str], int] = {}
        if parents:
            rows = session.execute(
                select(
                    AlertMention.tenant_id,
                    AlertMention.source,
                    AlertMention.external_id,
                    AlertMention.alert_id,
                )
                .join(Alert, Alert.id == AlertMention.alert_id)
                .where(
                    Alert.kind == "influencer",
                    AlertMention.external_id.in_(sorted({p[2] for p in parents if p[2]})),
                )
            )
            for tenant_id, source, external_id, alert_id in rows:
                if (tenant_id, source, external_id) in parents:
                    known[(tenant_id, source, external_id)] = alert_id
        replies: dict[int, list[Draft]] = {}
        for draft in drafts:
            if draft.tenant_id is None:
                continue
            m = draft.mention
            parent = (draft.tenant_id, m.source, m.in_reply_to) if m.in_reply_to else None
            if parent is not None and parent in known:
                replies.setdefault(known[parent], []).append(draft)
                known[(draft.tenant_id, m.source, m.external_id)] = known[parent]
                continue
            brand_id = draft.brand_ids[0] if draft.brand_ids else None
            rules = rulebook_for(draft.tenant_id).for_brand(brand_id)
            if "influencer" not in rules.enabled or m.source in rules.influencer_ignored_sources:
                continue
            if not complains(draft) or not influential(draft, rules):
                continue
            alert = self._raise(ctx, draft, brand_id, rules)
            known[(draft.tenant_id, m.source, m.external_id)] = alert.id
        for alert_id, thread in replies.items():
            self._replies(ctx, alert_id, thread, rulebook_for)

    def _raise(self, ctx: StepContext, draft: Draft, brand_id: int | None, rules: Rules) -> Alert:
        m = draft.mention
        followers = m.author.followers or 0
        a = draft.analysis
        why = [f"{humanise(followers)} followers"]
        if m.author.verified:
            why.append("verified")
        if a is not None and a.influence is not None:
            why.append(f"top {max(1, round((1 - a.influence) * 100))}% of the tenant's authors")
        if a is not None and a.intent:
            why.append(a.intent.replace("_", " "))
        if a is not None and a.sentiment:
            why.append(a.sentiment)
        text = " ".join(m.text.split())
        excerpt = text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"
        alert = raise_or_update(
            ctx.session,
            ctx.clock,
            rules,
            tenant_id=draft.tenant_id or 0,
            brand_id=brand_id,
            kind="influencer",
            key=f"influencer:{m.source}:{m.external_id}",
            severity=severity_of(followers, m.author.verified, 0),
            at=m.created_at,
            summary=f"@{m.author.handle} ({' · '.join(why)}) on {m.source}: {excerpt}",
            evidence={
                "author": m.author.handle,
                "followers": followers,
                "source": m.source,
                "post": m.external_id,
                "url": m.url,
                "replies": 0,
                "why": why,
            },
            members=[Member.of(draft, "tip")],
            cooldown=INCIDENT,
        )
        draft.alert_ids.append(alert.id)
        return alert

    def _replies(
        self,
        ctx: StepContext,
        alert_id: int,
        thread: list[Draft],
        rulebook_for: Callable[[int], RuleBook],
    ) -> None:
        """Attach a batch's replies to an influencer's incident at once."""
        alert = ctx.session.get(Alert, alert_id)
        if alert is None:
            return
        fresh = [d for d in thread if d.mention.created_at - alert.triggered_at <= INCIDENT]
        added = attach(ctx.session, alert, [Member.of(d, "reply") for d in fresh])
        for draft in fresh:
            draft.alert_ids.append(alert_id)
        if not added:
            return
        replies = int(alert.evidence.get("replies", 0)) + added
        alert.evidence = {**alert.evidence, "replies": replies}
        alert.updated_at = max(alert.updated_at, max(d.mention.created_at for d in fresh))
        followers = int(alert.evidence.get("followers", 0))
        severity = severity_of(followers, False, replies)
        if severity_rank(severity) > severity_rank(alert.severity):
            rules = rulebook_for(alert.tenant_id).for_brand(alert.brand_id)
            raise_or_update(
                ctx.session,
                ctx.clock,
                rules,
                tenant_id=alert.tenant_id,
                brand_id=alert.brand_id,
                kind="influencer",
                key=alert.key,
                severity=severity,
                at=alert.updated_at,
                summary=alert.summary,
                evidence={"replies": replies},
                cooldown=INCIDENT,
            )
