"""`hitl admin group set/list`: configuring a group's fallback and open-case limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from store.migrate import upgrade


def _admin(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", "admin", *args, "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_group_set_and_list_show_fallback_limit_and_members(tmp_path: Path) -> None:
    """An admin sets a group's fallback and limit, sees them listed with who is on call,
    changes one setting without losing the others, and clears the limit."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    upgrade(url)
    assert _admin(url, "create-supervisor", "alice", "--group", "payments").returncode == 0

    made = _admin(
        url, "group", "set", "payments", "--fallback", "ops", "--limit", "50",
        "--domain", "payments", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    group = json.loads(made.stdout)
    assert (group["fallback_group"], group["open_case_limit"]) == ("ops", 50)
    assert group["on_call"] == ["alice"] and group["domains"] == ["payments"]

    changed = _admin(url, "group", "set", "payments", "--limit", "80", "--json")
    assert json.loads(changed.stdout)["fallback_group"] == "ops"  # kept

    listed = _admin(url, "group", "list")
    assert listed.returncode == 0, listed.stderr
    assert "payments: 0 open (limit 80); fallback ops; on call: alice" in listed.stdout

    cleared = _admin(url, "group", "set", "payments", "--no-limit", "--no-fallback", "--json")
    group = json.loads(cleared.stdout)
    assert (group["fallback_group"], group["open_case_limit"]) == (None, None)
    assert [g["name"] for g in json.loads(_admin(url, "group", "list", "--json").stdout)] == [
        "payments"
    ]


def test_group_set_refuses_what_cannot_route(tmp_path: Path) -> None:
    """A group that falls back to itself, a negative limit, or contradictory options exit
    with 2 and say what to fix; the name 'system' is reserved for the backend."""
    url = f"sqlite:///{tmp_path / 'g.db'}"
    upgrade(url)
    own = _admin(url, "group", "set", "payments", "--fallback", "payments")
    assert own.returncode == 2 and "its own fallback" in own.stderr
    negative = _admin(url, "group", "set", "payments", "--limit", "-1")
    assert negative.returncode == 2 and "0 or more" in negative.stderr
    both = _admin(url, "group", "set", "payments", "--limit", "3", "--no-limit")
    assert both.returncode == 2 and "not both" in both.stderr
    reserved = _admin(url, "create-supervisor", "system")
    assert reserved.returncode == 2 and "reserved" in reserved.stderr
