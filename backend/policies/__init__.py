"""Escalation policies as code: TOML files of ordered rules with CEL conditions.

- :mod:`.document` parses a file and knows each rule's line;
- :mod:`.engine` compiles and checks the conditions and evaluates them;
- :mod:`.signals` lists what a condition can read.

The example policies for the demo domains sit beside this module (``*.toml``).
"""

from __future__ import annotations

from pathlib import Path

from backend.policies.document import (
    OUTCOMES,
    FallbackSpec,
    Outcome,
    PolicyError,
    PolicyProblem,
    parse_duration,
)
from backend.policies.engine import Policy, Verdict, check_policy, compile_policy
from backend.policies.signals import SIGNALS, signals_of

__all__ = [
    "EXAMPLES_DIR",
    "OUTCOMES",
    "SIGNALS",
    "FallbackSpec",
    "Outcome",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Verdict",
    "check_policy",
    "compile_policy",
    "example_policies",
    "parse_duration",
    "signals_of",
]

EXAMPLES_DIR = Path(__file__).parent


def example_policies() -> list[Path]:
    """The example policies shipped for the demo domains."""
    return sorted(EXAMPLES_DIR.glob("*.toml"))
