"""Analysis: language, sentiment, intent, toxicity, actionability, influence, priority."""

from clameur.analysis.base import Analysis, AnalysisInput, Analyzer, PlaceholderAnalyzer, analyse

__all__ = ["Analysis", "AnalysisInput", "Analyzer", "PlaceholderAnalyzer", "analyse"]
