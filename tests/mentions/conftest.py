"""Hypothesis profiles for the import fuzz tests (tests/mentions/test_import_fuzz.py).

``import-ci`` (default) runs 500 examples; ``import-long`` runs 20,000 for a search run by
hand: ``CLAMEUR_FUZZ_PROFILE=import-long pytest tests/mentions/test_import_fuzz.py``. The
profiles are applied to the fuzz tests alone (as decorators), never loaded globally, so the
other property tests keep their own settings.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
settings.register_profile("import-ci", max_examples=500, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("import-long", max_examples=20_000, **_COMMON)  # type: ignore[arg-type]
