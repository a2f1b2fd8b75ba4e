"""Analysis: language, sentiment, intent, toxicity, actionability, influence, priority."""

from clameur.analysis.base import Analysis, AnalysisInput, Analyzer, PlaceholderAnalyzer, analyse


def default_analyzer() -> Analyzer:
    """The shipped models, loaded once per process (see :mod:`clameur.analysis.engine`)."""
    from clameur.analysis.engine import ModelAnalyzer

    return ModelAnalyzer.default()


__all__ = [
    "Analysis",
    "AnalysisInput",
    "Analyzer",
    "PlaceholderAnalyzer",
    "analyse",
    "default_analyzer",
]
