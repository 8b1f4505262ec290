"""`hitl audit verify FILE`: what an auditor runs on an exported log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from store_log_builder import BuiltLog
from typer.testing import CliRunner

from console.cli import app
from store.signing import key_id, public_key_b64

runner = CliRunner()


def verify(path: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["audit", "verify", str(path), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.stdout, result.stderr


def test_audit_verify_exits_zero_on_a_valid_export(rich_log: BuiltLog, tmp_path: Path) -> None:
    """A valid export prints OK with the counts and exits 0."""
    path = tmp_path / "audit.jsonl"
    path.write_text(rich_log.text, encoding="utf-8")
    code, out, _ = verify(path)
    assert code == 0, out
    assert "OK" in out
    assert "16 events, 4 signed decisions, 4 enrolled keys" in out
    assert "not pinned" in out


@pytest.mark.parametrize("pin", ["keyid", "public_key"])
def test_audit_verify_with_the_pinned_key_exits_zero(
    rich_log: BuiltLog, tmp_path: Path, pin: str
) -> None:
    """Pinning the backend's key (by id or base64 key) verifies origin as well as integrity."""
    path = tmp_path / "audit.jsonl"
    path.write_text(rich_log.text, encoding="utf-8")
    public = rich_log.checkpoint_key.public_key()
    trusted = key_id(public) if pin == "keyid" else public_key_b64(public)
    code, out, _ = verify(path, "--trust-key", trusted)
    assert code == 0, out
    assert "not pinned" not in out


def test_audit_verify_fails_with_the_line_number_on_a_tampered_export(
    rich_log: BuiltLog, tmp_path: Path
) -> None:
    """Changing one event makes the command exit 1 and name the line and the reason."""
    lines = list(rich_log.lines)
    event = json.loads(lines[6])
    event["body"] = event["body"].replace('"action":"approve"', '"action":"reject"', 1)
    assert event["body"] != json.loads(lines[6])["body"]
    lines[6] = json.dumps(event)
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = verify(path)
    assert code == 1
    assert "FAILED" in err
    assert re.search(r"line 7: event 6: body does not hash", err), err
    assert "OK" not in out


def test_audit_verify_fails_on_a_truncated_export(rich_log: BuiltLog, tmp_path: Path) -> None:
    """An export missing its final checkpoint fails and says it may be truncated."""
    path = tmp_path / "truncated.jsonl"
    path.write_text("\n".join(rich_log.lines[:-3]) + "\n", encoding="utf-8")
    code, _, err = verify(path)
    assert code == 1
    assert "truncated" in err


def test_audit_verify_fails_on_the_wrong_pinned_key(rich_log: BuiltLog, tmp_path: Path) -> None:
    """Pinning another key fails on line 1."""
    path = tmp_path / "audit.jsonl"
    path.write_text(rich_log.text, encoding="utf-8")
    code, _, err = verify(path, "--trust-key", "0" * 32)
    assert code == 1
    assert "line 1:" in err


def test_audit_verify_exits_two_on_a_missing_file(tmp_path: Path) -> None:
    """A path that does not exist is a usage problem (exit 2), not a failed verification."""
    code, _, err = verify(tmp_path / "missing.jsonl")
    assert code == 2
    assert "cannot read" in err


def test_hitl_audit_verify_command_reports_the_line(rich_log: BuiltLog, tmp_path: Path) -> None:
    """The installed `hitl` command (a real process) exits 0 on the export and 1 with the
    line number once a line is deleted."""
    hitl = Path(sys.executable).with_name("hitl")
    good = tmp_path / "audit.jsonl"
    good.write_text(rich_log.text, encoding="utf-8")
    bad = tmp_path / "gap.jsonl"
    bad.write_text("\n".join(rich_log.lines[:3] + rich_log.lines[4:]) + "\n", encoding="utf-8")
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    ok = subprocess.run([hitl, "audit", "verify", good], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert "OK 16 events" in ok.stdout
    failed = subprocess.run([hitl, "audit", "verify", bad], capture_output=True, text=True, env=env)
    assert failed.returncode == 1
    assert "line 4: sequence 4 follows 2: missing or reordered" in failed.stderr
