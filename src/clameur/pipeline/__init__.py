"""The pipeline: the chain of steps and running batches (the bus and the outbox it uses are
core: :mod:`clameur.core`).

The chain and the pipeline service are imported on first use (PEP 562): the chain imports
every capability and scipy, which ``clameur.pipeline.models`` (read by the table registry)
must not pull in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clameur.pipeline.chain import STEPS, RawRecord, process_batch
    from clameur.pipeline.service import MENTIONS_STREAM, ImportResult, Pipeline

_LAZY = {
    "STEPS": "clameur.pipeline.chain",
    "RawRecord": "clameur.pipeline.chain",
    "process_batch": "clameur.pipeline.chain",
    "MENTIONS_STREAM": "clameur.pipeline.service",
    "ImportResult": "clameur.pipeline.service",
    "Pipeline": "clameur.pipeline.service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clameur.pipeline' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "MENTIONS_STREAM",
    "STEPS",
    "ImportResult",
    "Pipeline",
    "RawRecord",
    "process_batch",
]
