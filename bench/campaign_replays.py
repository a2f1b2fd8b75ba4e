"""Campaign detection on generated replays: member precision and recall, false campaigns.

Each scenario of :mod:`clameur.demo.campaign_replays` (quiet fortnights, negativity-shift
weeks, influencer crises, outages beside campaigns of three shapes) runs through the full
pipeline on a fresh SQLite database (``--detector campaign``: the campaign detector alone,
quicker while tuning). Reported per scenario: campaign alerts, the alerts' members against
the planted posts (precision, recall), the same for the conversations care holds as a
campaign's (flagged on arrival or retro-flagged), and false alerts (alerts holding no
planted post). Tune with ``--pool dev`` and the dev seeds; measure with the test pool and
seeds (the defaults), which hold other texts and templates.

    .venv/bin/python bench/campaign_replays.py [--pool test] [--seeds 101,102,103]
        [--kinds quiet,shift,influencer,outage] [--detector standard]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from clameur.care.models import Conversation
from clameur.clock import FrozenClock
from clameur.config import Settings
from clameur.db import create_engine_for, make_session_factory, session_scope, upgrade
from clameur.demo import campaign_replays
from clameur.detection import alerts_of
from clameur.detection.campaign import CampaignDetector
from clameur.detection.rules import RuleBook, load_rules
from clameur.mentions import Draft, StepContext
from clameur.mentions.models import Mention
from clameur.pipeline import Pipeline
from clameur.tenancy import add_brand, add_tenant


@dataclass
class CampaignOnly:
    """The detect step with the campaign detector alone."""

    detector: CampaignDetector = field(default_factory=CampaignDetector)

    def detect(self, ctx: StepContext, drafts: list[Draft]) -> None:
        books: dict[int, RuleBook] = {}

        def rulebook_for(tenant_id: int) -> RuleBook:
            if tenant_id not in books:
                books[tenant_id] = load_rules(ctx.session, tenant_id)
            return books[tenant_id]

        self.detector.detect(ctx, drafts, rulebook_for)


def run(s: campaign_replays.Scenario, workdir: Path, detector: str) -> dict[str, Any]:
    engine = create_engine_for(f"sqlite:///{workdir}/{s.name}.db")
    upgrade(engine)
    factory = make_session_factory(engine)
    clock = FrozenClock(datetime(2031, 1, 1, tzinfo=UTC))
    with session_scope(factory) as session:
        tenant = add_tenant(session, clock, "acme", "Acme")
        add_brand(session, clock, tenant, "volta", "Volta", ["volta"])
        tenant_id = tenant.id
    settings = Settings(batch_size=500)
    pipeline = (
        Pipeline(factory=factory, settings=settings, clock=clock, detector=CampaignOnly())
        if detector == "campaign"
        else Pipeline(factory=factory, settings=settings, clock=clock)
    )
    started = time.perf_counter()
    pipeline.ingest(s.records, tenant_id)
    seconds = time.perf_counter() - started
    with session_scope(factory) as session:
        alerts = [a for a in alerts_of(session, tenant_id) if a["kind"] == "campaign"]
        rows = session.execute(
            select(Mention.external_id, Conversation.flags)
            .join(Conversation, Conversation.id == Mention.conversation_id)
            .where(Mention.tenant_id == tenant_id)
        ).all()
    engine.dispose()
    members = {m for a in alerts for m in a["evidence"]["mentions"]}
    flagged = {e for e, flags in rows if "campaign" in (flags or [])}
    false = [a for a in alerts if not set(a["evidence"]["mentions"]) & s.planted]
    return {
        "alerts": len(alerts),
        "false": len(false),
        "false_summaries": [a["summary"][:160] for a in false],
        "members": members,
        "flagged": flagged,
        "mentions": len(s.records),
        "seconds": seconds,
    }


def _pr(found: set[str], truth: set[str]) -> tuple[int, int, int]:
    return len(found & truth), len(found), len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", choices=("dev", "test"), default="test")
    parser.add_argument("--seeds", default=None, help="comma-separated (default: the pool's)")
    parser.add_argument("--kinds", default=",".join(campaign_replays.KINDS))
    parser.add_argument("--detector", choices=("standard", "campaign"), default="standard")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    default = campaign_replays.DEV_SEEDS if args.pool == "dev" else campaign_replays.TEST_SEEDS
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else list(default)
    totals = {"members": [0, 0, 0], "flagged": [0, 0, 0]}
    quiet_alerts: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for seed in seeds:
                s = campaign_replays.scenario(kind, seed, pool=args.pool)
                r = run(s, Path(tmp), args.detector)
                line = (
                    f"{s.name:15} {r['mentions']:6} mentions {r['seconds']:6.1f} s  "
                    f"campaign alerts {r['alerts']}  false {r['false']}"
                )
                if s.planted:
                    for what in ("members", "flagged"):
                        hit, found, truth = _pr(r[what], s.planted)
                        for i, v in enumerate((hit, found, truth)):
                            totals[what][i] += v
                        line += f"  {what} P {hit / max(1, found):.3f} R {hit / truth:.3f}"
                if s.quiet:
                    quiet_alerts.setdefault(kind, []).append(r["alerts"])
                print(line)  # noqa: T201 - a benchmark's report
                if args.verbose:
                    for summary in r["false_summaries"]:
                        print("    false:", summary)  # noqa: T201
    for what, (hit, found, truth) in totals.items():
        if truth:
            print(  # noqa: T201
                f"overall {what}: precision {hit / max(1, found):.3f}, recall {hit / truth:.3f} "
                f"({hit} of {truth} planted, {found} found)"
            )
    for kind, counts in quiet_alerts.items():
        print(f"{kind}: campaign alerts per replay {counts}")  # noqa: T201


if __name__ == "__main__":
    main()
