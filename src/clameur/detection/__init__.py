"""Detection: spikes, influencer triggers, coordinated campaigns, and their alerts."""

from clameur.detection.alerts import alerts_of, raise_or_update
from clameur.detection.base import Detector, NullDetector, detect
from clameur.detection.models import Alert, AlertMention, AlertRule
from clameur.detection.rules import Rules, load_rules, set_rule


def default_detector() -> Detector:
    """The detectors of a pipeline (imported late: they pull in scipy)."""
    from clameur.detection.engine import StandardDetector

    return StandardDetector()


__all__ = [
    "Alert",
    "AlertMention",
    "AlertRule",
    "Detector",
    "NullDetector",
    "Rules",
    "alerts_of",
    "default_detector",
    "detect",
    "load_rules",
    "raise_or_update",
    "set_rule",
]
