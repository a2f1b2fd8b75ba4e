"""Detection: spikes, influencer triggers, coordinated campaigns, and their alerts."""

from clameur.detection.base import Detector, NullDetector, detect
from clameur.detection.models import Alert

__all__ = ["Alert", "Detector", "NullDetector", "detect"]
