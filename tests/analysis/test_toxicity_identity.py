"""Identity-mention toxicity set (#17): the frozen test parts and the shipped model's floors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

IDENTITY_DIR = Path(__file__).resolve().parents[1] / "data" / "toxicity_identity"

# The test parts are frozen (tests/data/toxicity_identity/README.md): an edit must be deliberate.
FROZEN_SHA256 = {
    "toxicity_en_test.jsonl": "f1d2b438dc5e1df2fe8c81509ffe2563edffcfee65a48e1b31891036932f097a",
    "toxicity_fr_test.jsonl": "ac674bf2810df53441305e78712002eb1da48e020348745201d73a1e90351a5a",
}


@pytest.mark.parametrize("name", sorted(FROZEN_SHA256))
def test_frozen_test_parts_are_unchanged(name: str) -> None:
    digest = hashlib.sha256((IDENTITY_DIR / name).read_bytes()).hexdigest()
    assert digest == FROZEN_SHA256[name], f"{name} is frozen: do not edit it (README.md)"
