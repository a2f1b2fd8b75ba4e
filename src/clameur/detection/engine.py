"""The detectors every pipeline runs, in event time, with the tenant's alert rules."""

from __future__ import annotations

from clameur.detection.campaign import CampaignDetector
from clameur.detection.influencer import InfluencerDetector
from clameur.detection.rules import RuleBook, load_rules
from clameur.detection.spikes import SpikeDetector
from clameur.mentions.draft import Draft, StepContext


class StandardDetector:
    """Influencer trigger, volume and negative spikes, coordinated campaigns.

    The influencer trigger runs first: a reply joining an influencer's incident is known
    before the spike detector groups the same wave.
    """

    def __init__(self) -> None:
        self.influencer = InfluencerDetector()
        self.spikes = SpikeDetector()
        self.campaigns = CampaignDetector()

    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None:
        books: dict[int, RuleBook] = {}

        def rulebook_for(tenant_id: int) -> RuleBook:
            book = books.get(tenant_id)
            if book is None:
                book = books[tenant_id] = load_rules(ctx.session, tenant_id)
            return book

        self.influencer.detect(ctx, drafts, rulebook_for)
        self.spikes.detect(ctx, drafts, rulebook_for)
        self.campaigns.detect(ctx, drafts, rulebook_for)
