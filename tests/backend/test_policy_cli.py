"""`hitl policy check|push|list|show|activate`: file:line errors, immutable versions, audit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from typer.testing import CliRunner

from backend.cli import app
from backend.policies import example_policies
from store.db import make_engine, read_session
from store.tables import AuditEvent

runner = CliRunner()
PAYMENTS = next(p for p in example_policies() if p.stem == "payments")

BAD = """\
id = "bad"

[[rules]]
name = "typo"
description = "x"
when = "amout > 10"
outcome = "block"

[[rules]]
name = "broken"
description = "x"
when = "size(tags) >"
outcome = "block"

[[rules]]
name = "everything"
description = "x"
when = "true"
outcome = "proceed"

[[rules]]
name = "after"
description = "x"
when = "size(tags) > 0"
outcome = "block"
"""

NO_DEFAULT = """\
id = "nodefault"

[[rules]]
name = "only"
description = "x"
when = "size(tags) > 0"
outcome = "block"
"""


def policy(args: list[str]) -> Any:
    return runner.invoke(app, ["policy", *args])


def audit_events(db_url: str, prefix: str) -> list[dict[str, Any]]:
    engine = make_engine(db_url)
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.kind).startswith(prefix))
            .order_by(col(AuditEvent.seq))
        ).all()
    engine.dispose()
    return [json.loads(bytes(r.body)) for r in rows]


def test_policy_check_reports_each_error_kind_with_file_and_line(tmp_path: Path) -> None:
    """Bad CEL, an unknown field, an unreachable rule and a missing default are each
    reported as FILE:LINE: message, and the exit code is 1."""
    bad, nodefault = tmp_path / "bad.toml", tmp_path / "nodefault.toml"
    bad.write_text(BAD)
    nodefault.write_text(NO_DEFAULT)
    result = policy(["check", str(bad), str(nodefault)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{bad}:6: rule 'typo': unknown field 'amout' (did you mean")
    assert lines[1].startswith(f"{bad}:12: rule 'broken': invalid CEL at column 13: Syntax error")
    assert lines[2] == (
        f"{bad}:21: rule 'after' is unreachable: rule 'everything' (line 15) always matches "
        "before it"
    )
    assert lines[3] == (
        f'{nodefault}:3: no default rule: end with a rule whose when is "true", so every '
        "escalation gets an outcome"
    )
    assert len(lines) == 4


def test_policy_check_examples_pass() -> None:
    """The shipped example policies check clean."""
    result = policy(["check", "--examples"])
    assert result.exit_code == 0, result.stderr
    assert "payments.toml: ok: policy 'payments' (payments), 8 rules" in result.stdout


def test_policy_signals_lists_the_fields() -> None:
    """`hitl policy signals` names every field a condition can read."""
    result = policy(["signals"])
    assert result.exit_code == 0
    for name in ("amount", "data_quality_flags", "latency_budget_ms", "effective_confidence"):
        assert name in result.stdout


def test_policy_push_stores_immutable_versions_and_audits_activation(
    db_url: str, tmp_path: Path
) -> None:
    """Each push of new content is a new version (hash, author, time) made active in the
    same transaction as its audit events; older versions stay readable verbatim; pushing
    the same content again changes nothing; activate rolls back."""
    v1 = PAYMENTS.read_text()
    path = tmp_path / "payments.toml"
    path.write_text(v1)
    db = ["--database-url", db_url]
    first = policy(["push", str(path), "--author", "alice", *db])
    assert first.exit_code == 0, first.stderr
    assert "stored payments v1 (sha256:" in first.stdout and first.stdout.strip().endswith("active")

    v2 = v1.replace(
        'when = "amount != null && amount >= 10000"', 'when = "amount != null && amount >= 5000"'
    )
    assert v2 != v1
    path.write_text(v2)
    second = policy(["push", str(path), "--author", "bob", *db])
    assert second.exit_code == 0, second.stderr
    assert "stored payments v2" in second.stdout and "active (was v1)" in second.stdout

    again = policy(["push", str(path), "--author", "bob", *db])
    assert "already stored as payments v2" in again.stdout and "already active" in again.stdout

    listed = json.loads(policy(["list", "--json", *db]).stdout)
    assert [(r["version"], r["active"], r["author"]) for r in listed] == [
        (2, True, "bob"),
        (1, False, "alice"),
    ]
    assert listed[0]["content_hash"] != listed[1]["content_hash"]
    table = policy(["list", *db]).stdout
    assert "* payments" in table

    old = policy(["show", "payments", "1", *db])
    assert old.exit_code == 0
    assert old.stdout == v1  # verbatim
    assert "payments v1 (inactive)" in old.stderr and "pushed by alice" in old.stderr
    assert policy(["show", "payments", *db]).stdout == v2
    assert policy(["show", "payments", "9", *db]).exit_code == 1

    rollback = policy(["activate", "payments", "1", "--author", "carol", *db])
    assert rollback.exit_code == 0 and "payments v1: active (was v2)" in rollback.stdout

    events = audit_events(db_url, "policy.")
    assert [(e["kind"], e["data"]["version"]) for e in events] == [
        ("policy.version_stored", 1),
        ("policy.activated", 1),
        ("policy.version_stored", 2),
        ("policy.activated", 2),
        ("policy.activated", 1),
    ]
    assert events[0]["actor"] == "admin:alice" and events[0]["data"]["source"] == v1
    assert events[3]["data"]["previous_version"] == 1
    assert events[4]["actor"] == "admin:carol"
    assert events[4]["data"]["content_hash"] == listed[1]["content_hash"]


def test_policy_push_refuses_a_bad_file_and_stores_nothing(db_url: str, tmp_path: Path) -> None:
    """A policy that does not check is never stored: the errors are printed with lines."""
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    result = policy(["push", str(bad), "--database-url", db_url])
    assert result.exit_code == 1
    assert f"{bad}:6: rule 'typo': unknown field 'amout'" in result.stderr
    assert json.loads(policy(["list", "--json", "--database-url", db_url]).stdout) == []
    assert audit_events(db_url, "policy.") == []


def test_policy_push_refuses_a_second_policy_for_the_same_domain(
    db_url: str, tmp_path: Path
) -> None:
    """One domain, one active policy: a different policy id claiming payments is refused."""
    assert policy(["push", str(PAYMENTS), "--database-url", db_url]).exit_code == 0
    rival = tmp_path / "rival.toml"
    rival.write_text(PAYMENTS.read_text().replace('id = "payments"', 'id = "refunds-v2"'))
    result = policy(["push", str(rival), "--database-url", db_url])
    assert result.exit_code == 1
    assert "policy 'payments' v1 already governs payments" in result.stderr
    listed = json.loads(policy(["list", "--json", "--database-url", db_url]).stdout)
    assert [(r["policy_id"], r["active"]) for r in listed] == [("payments", True)]


def test_hitl_policy_is_a_hitl_command() -> None:
    """`hitl policy` is registered through the hitl.commands entry point."""
    done = subprocess.run(
        [sys.executable, "-m", "console", "policy", "check", "--examples"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok: policy") == 3
