from __future__ import annotations

import json
import logging

import pytest

from clameur.logging import JsonFormatter, KeyValueFormatter, configure_logging


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "clameur.x", "levelname": "INFO", "msg": 'a "b"'})
    record.__dict__.update(extra)
    return record


def test_key_value_lines_carry_the_extras() -> None:
    line = KeyValueFormatter().format(_record(file="m.jsonl", imported=3))
    assert 'msg="a \\"b\\""' in line
    assert 'file="m.jsonl"' in line
    assert "imported=3" in line
    assert "level=info" in line


def test_json_lines_parse() -> None:
    payload = json.loads(JsonFormatter().format(_record(imported=3)))
    assert payload["msg"] == 'a "b"'
    assert payload["imported"] == 3
    assert payload["logger"] == "clameur.x"


def test_configure_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    configure_logging("INFO", "json")
    logger = logging.getLogger("clameur.test")
    assert len(logging.getLogger("clameur").handlers) == 1
    logger.info("hello", extra={"n": 1})
    assert json.loads(capsys.readouterr().err.strip())["n"] == 1
