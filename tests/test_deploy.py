"""The deployment files in ``deploy/`` hold together: the compose file is valid YAML with
the services docs/operations.md describes (no ``docker compose`` here to validate it), and
every ``clameur`` command line in the compose file and the systemd units names a command
and options the CLI has."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml

from clameur.cli.main import app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def check_command(argv: list[str]) -> None:
    """``argv`` (after ``clameur``) is a command of the CLI with options it declares."""
    commands: dict[str, Any] = getattr(typer.main.get_command(app), "commands", {})
    command = commands.get(argv[0])
    assert command is not None, f"no command {argv[0]!r}"
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in argv[1:]:
        if word.startswith("--"):
            assert word in known, f"clameur {argv[0]} has no option {word}"


def test_the_compose_file_runs_the_documented_services() -> None:
    document = compose()
    services = document["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    assert services["redis"]["command"][:5] == [
        "redis-server",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]
    for name in ("migrate", "web", "worker"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        env = service["environment"]
        assert env["CLAMEUR_BUS_URL"] == "redis://redis:6379/0"
        assert env["CLAMEUR_DATABASE_URL"].startswith("postgresql+psycopg://")
        check_command(service["command"])
    assert services["migrate"]["command"] == ["init"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert "--no-worker" in services["web"]["command"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert set(document["volumes"]) == {"postgres-data", "redis-data"}
    assert (DEPLOY / "Dockerfile").read_text().count('ENTRYPOINT ["clameur"]') == 1


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def clameur_argv(line: str) -> list[str]:
    """The words after the ``clameur`` executable in an ExecStart line (``sh -c '…'`` too)."""
    words = shlex.split(line)
    if words[:2] == ["/bin/sh", "-c"]:
        words = shlex.split(words[2])
        words = words[1:] if words[0] == "exec" else words
    assert words[0].endswith("/clameur"), line
    return [re.sub(r"\$\$\(\(.*", "9100", w) for w in words[1:]]


def test_the_systemd_units_run_commands_the_cli_has() -> None:
    serve = unit("clameur-serve.service")
    worker = unit("clameur-worker@.service")
    for parsed in (serve, worker):
        assert parsed["Service"]["EnvironmentFile"] == "/etc/clameur/clameur.env"
        assert parsed["Service"]["KillSignal"] == "SIGTERM"
        assert parsed["Install"]["WantedBy"] == "multi-user.target"
    assert clameur_argv(serve["Service"]["ExecStartPre"]) == ["init"]
    check_command(clameur_argv(serve["Service"]["ExecStart"]))
    assert "--no-worker" in serve["Service"]["ExecStart"]
    argv = clameur_argv(worker["Service"]["ExecStart"])
    check_command(argv)
    assert argv[0] == "worker"
    assert worker["Service"]["Restart"] == "always"
    timer = unit("clameur-backup.timer")
    assert timer["Timer"]["OnCalendar"]
    assert "pg_dump" in unit("clameur-backup.service")["Service"]["ExecStart"]
    example = (DEPLOY / "systemd" / "clameur.env.example").read_text()
    assert "CLAMEUR_METRICS_TOKEN=" in example
