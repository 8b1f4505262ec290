"""Policy benchmark: CEL evaluation per rule, and the whole triage per escalation.

For every rule of the example policies (backend/policies/*.toml), over sample escalations
of its domain:

- ``rule, shared context``: one compiled condition evaluated on a context built once per
  escalation (how the engine runs: first match, one context for all rules);
- ``rule, own context``: the same, building the context for that rule alone each time
  (an upper bound: the price of the first rule tried);
- ``escalation``: ``Policy.signals`` + ``Policy.evaluate`` (context, first match, verdict),
  then ``PolicyTriage.evaluate`` (the Triage seam: plus the reload check and the outcome)
  on a migrated SQLite file with the examples pushed.

Target: <= 50 us per rule. Prints a table; exits 1 if a rule misses the target.

    .venv/bin/python tests/bench/bench_policy.py [--escalations 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cel

from backend.policies import compile_policy, example_policies
from backend.policies.document import parse_policy
from backend.policies.signals import SIGNAL_NAMES
from backend.services.policies import push_policy
from backend.services.policy_triage import PolicyTriage
from store.db import make_engine
from store.migrate import upgrade
from store.samples import sample_escalations

TARGET_US = 50.0


def best_of(repeat: int, fn: Callable[[], Any], n: int) -> float:
    """Microseconds per call: the best of ``repeat`` runs of ``n`` calls."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def per_escalation(repeat: int, items: list[Any], fn: Callable[[Any], Any]) -> float:
    """Microseconds per item, each item once per run; best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--escalations", type=int, default=300, help="samples per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best counts")
    args = parser.parse_args()

    samples = sample_escalations(args.escalations)
    print(f"common-expression-language {_version()}, Python {sys.version.split()[0]}")
    print(f"{len(samples)} sample escalations, best of {args.repeat} runs\n")

    rows: list[tuple[str, float, float, float]] = []
    for path in example_policies():
        text = path.read_text()
        policy = compile_policy(text, source=path.name)
        spec, _ = parse_policy(text, source=path.name)
        assert spec is not None
        mine = [e for e in samples if e.domain in policy.domains]
        full = [policy.signals(e) for e in mine]
        contexts = [cel.Context(s) for s in full]
        for rule in spec.rules:
            t0 = time.perf_counter()
            program = cel.compile(rule.when)
            compile_us = (time.perf_counter() - t0) * 1e6
            names = [v for v in program.references()["variables"] if v in SIGNAL_NAMES]
            signals = [{n: s[n] for n in names} for s in full]
            shared = per_escalation(args.repeat, contexts, program.execute)
            own = per_escalation(
                args.repeat, signals, lambda s, p=program: p.execute(cel.Context(s))
            )
            rows.append((f"{policy.id}:{rule.name}", compile_us, shared, own))

    width = max(len(r[0]) for r in rows)
    print(f"{'rule':<{width}}  {'compile':>8}  {'shared ctx':>10}  {'own ctx':>8}   (us)")
    for name, compile_us, shared, own in rows:
        print(f"{name:<{width}}  {compile_us:>8.1f}  {shared:>10.2f}  {own:>8.2f}")
    shared_all = [r[2] for r in rows]
    own_all = [r[3] for r in rows]
    print(
        f"\nper rule, shared context: median {statistics.median(shared_all):.2f} us, "
        f"max {max(shared_all):.2f} us"
    )
    print(
        f"per rule, own context:    median {statistics.median(own_all):.2f} us, "
        f"max {max(own_all):.2f} us  (target <= {TARGET_US:.0f} us)"
    )

    policies = {d: p for p in map(_load, example_policies()) for d in p.domains}
    evaluate = per_escalation(
        args.repeat,
        samples,
        lambda e: policies[e.domain].evaluate(policies[e.domain].signals(e)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        for path in example_policies():
            push_policy(engine, source=path.read_text(), filename=path.name, author="bench")
        triage = PolicyTriage(engine, refresh_seconds=3600)
        triage.refresh(force=True)
        seam = per_escalation(args.repeat, samples, triage.evaluate)
        reload_us = best_of(args.repeat, lambda: triage.refresh(force=True), 200)
        engine.dispose()
    print(f"\nper escalation, signals + first match:  {evaluate:.1f} us")
    print(f"per escalation, PolicyTriage.evaluate:  {seam:.1f} us (the Triage seam)")
    print(f"reload check (one query, nothing new):  {reload_us:.1f} us, once per refresh interval")
    return 0 if max(own_all) <= TARGET_US else 1


def _load(path: Path) -> Any:
    return compile_policy(path.read_text(), source=path.name)


def _version() -> str:
    from importlib.metadata import version

    return version("common-expression-language")


if __name__ == "__main__":
    sys.exit(main())
