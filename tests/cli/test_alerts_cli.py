"""``clameur alerts``, ``alert-rule`` and ``replay``: command-line contracts, in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clameur.cli.replay import parse_speed
from clameur.demo import replays
from clameur.errors import InvalidInputError
from tests.conftest import ON_SQLITE
from tests.factories import write_jsonl

AT = datetime(2030, 3, 6, 9, 30, tzinfo=UTC)


def _run(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLAMEUR_DATABASE_URL": database_url, "CLAMEUR_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "clameur", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _crisis(tmp_path: Path) -> Path:
    history = replays.ordinary_traffic(AT - timedelta(days=1), days=1, peak_per_hour=6, seed=3)
    post = replays.influencer_post(AT, followers=452_000, external_id="inf-1")
    replies = replays.complaint_wave(
        AT + timedelta(minutes=1),
        count=25,
        minutes=60,
        seed=4,
        in_reply_to="inf-1",
        source="twitter",
        prefix="r",
    )
    return write_jsonl(tmp_path / "crisis.jsonl", replays.merged(history, [post], replies))


@ON_SQLITE
def test_alerts_contract_and_replay_agree(database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args)

    assert run("init").returncode == 0
    for slug in ("acme", "rehearsal"):
        assert run("tenant", "add", slug, "--name", slug.title()).returncode == 0
        assert (
            run("brand", "add", slug, "volta", "--name", "Volta", "--query", "volta").returncode
            == 0
        )
    path = _crisis(tmp_path)
    imported = run("import", str(path), "--tenant", "acme", "--json")
    assert imported.returncode == 0, imported.stderr
    listed = run("alerts", "--tenant", "acme", "--json")
    assert listed.returncode == 0, listed.stderr
    alerts = json.loads(listed.stdout)
    influencer = [a for a in alerts if a["kind"] == "influencer"]
    assert len(influencer) == 1
    alert = influencer[0]
    assert {"kind", "severity", "triggered_at", "brand", "summary", "evidence"} <= set(alert)
    assert alert["triggered_at"] == AT.isoformat()
    assert alert["brand"] == "volta"
    assert alert["evidence"]["mentions"][0] == "inf-1"
    assert "julie_tech" in alert["evidence"]["authors"]
    assert len(alert["evidence"]["mentions"]) == 26  # the post and its 25 replies

    # Live processing of the same file, as fast as possible, gives the same alerts.
    replayed = run("replay", str(path), "--tenant", "rehearsal", "--speed", "max", "--json")
    assert replayed.returncode == 0, replayed.stderr
    strip = [{k: v for k, v in a.items() if k != "id"} for a in alerts]
    assert [{k: v for k, v in a.items() if k != "id"} for a in json.loads(replayed.stdout)] == strip


@ON_SQLITE
def test_alert_rules_are_checked_before_saving(database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run(database_url, tmp_path, *args)

    assert run("init").returncode == 0
    assert run("tenant", "add", "acme", "--name", "Acme").returncode == 0
    bad = run("alert-rule", "set", "acme", "quiet_hours=[22, 7, 3]", "min_count=5")
    assert bad.returncode == 1
    assert "quiet_hours" in bad.stderr
    unknown = run("alert-rule", "set", "acme", "min_cuont=5")
    assert unknown.returncode == 1
    assert "min_cuont" in unknown.stderr
    shown = json.loads(run("alert-rule", "show", "acme").stdout)
    assert shown["min_count"] == 8  # nothing of the refused commands was saved
    good = run("alert-rule", "set", "acme", "min_count=12", 'emails=["ops@volta.example"]')
    assert good.returncode == 0, good.stderr
    shown = json.loads(run("alert-rule", "show", "acme").stdout)
    assert shown["min_count"] == 12
    assert shown["emails"] == ["ops@volta.example"]


def test_speed_factors() -> None:
    assert parse_speed("60x") == 60.0
    assert parse_speed("600") == 600.0
    assert parse_speed("max") is None
    for bad in ("fast-ish", "-3x", "0.0x"):
        with pytest.raises(InvalidInputError, match="--speed"):
            parse_speed(bad)
