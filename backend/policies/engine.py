"""Compiled policies: CEL conditions checked when loaded, evaluated first-match at ingest.

CEL comes from ``common-expression-language`` (bindings to the Rust ``cel`` crate):
a compiled condition evaluates in about a microsecond on a shared context, see
``tests/bench/bench_policy.py``. It has no static type checker, so :func:`compile_policy`
makes up for it: it refuses unknown fields and functions from each program's references,
and evaluates every condition on signal sets with and without the optional signals, so a
condition that would fail at ingest (``amount > 100`` when ``amount`` is null) is an error
in ``hitl policy check``, not a surprise in production.

At ingest a condition that errors anyway makes the escalation go to a human (severity
high) with the failing rule as its reason: a policy fault never lets an action through.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import cel

from backend.policies.document import (
    FallbackSpec,
    Outcome,
    PolicyError,
    PolicyProblem,
    PolicySpec,
    RuleSpec,
    parse_policy,
)
from backend.policies.signals import PROBES, SIGNAL_NAMES, resolve_path, signals_of
from store.contracts import EscalationCreate, Severity

__all__ = ["CEL_FUNCTIONS", "Policy", "Verdict", "check_policy", "compile_policy"]

#: CEL's standard functions (macros such as has() and exists() are not functions).
CEL_FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "type",
        "dyn",
        "timestamp",
        "duration",
    }
)
#: Variables bound by comprehension macros: ``risk_flags.exists(f, f == "x")`` binds f.
_BOUND = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
)
_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")
_FAILSAFE_SEVERITY: Severity = "high"


@dataclass(frozen=True)
class Verdict:
    """What a policy says about one escalation."""

    outcome: Outcome
    rule: str
    description: str
    severity: Severity | None = None
    group: str | None = None
    sla: timedelta | None = None
    fallback: FallbackSpec = "agent"
    missing_inputs: tuple[str, ...] = ()
    #: The rule requires a rationale for every final decision.
    require_rationale: bool = False
    #: Set when the rule's condition could not be evaluated (the verdict is then a
    #: precautionary escalation).
    error: str | None = None


@dataclass(frozen=True)
class _Rule:
    spec: RuleSpec
    program: cel.Program


def _describe(exc: Exception) -> str:
    """The CEL error in a sentence (the binding's messages go on with general advice)."""
    if isinstance(exc, KeyError):
        return f"no key {exc.args[0]!r} in the map"
    text = str(exc).strip()
    first = text.split(". ", 1)[0].rstrip(".")
    return first or type(exc).__name__


def _is_operator(name: str) -> bool:
    return name.startswith(("_", "@", "!"))


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class Policy:
    """A checked policy: evaluate signals, get a :class:`Verdict` from the first matching rule."""

    def __init__(self, spec: PolicySpec, rules: list[_Rule], variables: frozenset[str]) -> None:
        self.spec = spec
        self._rules = tuple(rules)
        #: The signals this policy reads; :meth:`signals` builds just these.
        self.variables = variables
        #: For ``context`` and ``args``: the keys the policy reads, if it only ever reads
        #: ``context.key`` (None: it uses the map as a whole).
        self.map_keys = _map_keys(rules)

    def signals(self, escalation: EscalationCreate) -> dict[str, Any]:
        """The signals this policy reads from ``escalation``, ready for :meth:`evaluate`.

        Converting a value for CEL costs a microsecond or two per item, so maps carry only
        the keys the policy reads: ``context`` is often the largest thing an agent sends.
        """
        signals = signals_of(escalation, self.variables)
        for name, keys in self.map_keys.items():
            value = signals.get(name)
            if keys is not None and isinstance(value, dict):
                signals[name] = {k: value[k] for k in keys if k in value}
        return signals

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def domains(self) -> tuple[str, ...]:
        return self.spec.domains

    @property
    def redact_fields(self) -> tuple[str, ...]:
        """Fields the policy has redacted at ingest in its domains (``[redaction]``)."""
        return self.spec.redact_fields

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.spec.name for r in self._rules)

    def evaluate(self, signals: Mapping[str, Any]) -> Verdict:
        context = cel.Context(dict(signals))
        for rule in self._rules:
            try:
                result = rule.program.execute(context)
            except Exception as exc:  # the binding raises ValueError, TypeError, KeyError...
                return self._failsafe(rule.spec, _describe(exc))
            if result is True:
                return self._verdict(rule.spec, signals)
            if result is not False:
                return self._failsafe(rule.spec, f"the condition gave {result!r}, not a bool")
        # The mandatory default rule always matches; stay safe if it somehow did not.
        return self._failsafe(self._rules[-1].spec, "no rule matched")

    def _verdict(self, rule: RuleSpec, signals: Mapping[str, Any]) -> Verdict:
        missing: tuple[str, ...] = ()
        if rule.outcome == "needs_info":
            declared = list(signals.get("missing_inputs") or [])
            required = [p for p in rule.requires if _absent(resolve_path(signals, p))]
            missing = tuple(dict.fromkeys([*declared, *required]))
        if rule.outcome != "escalate":
            return Verdict(rule.outcome, rule.name, rule.description, missing_inputs=missing)
        assert rule.severity is not None
        return Verdict(
            "escalate",
            rule.name,
            rule.description,
            severity=rule.severity,
            group=rule.group or self.spec.default_group,
            sla=rule.sla or self.spec.default_sla.get(rule.severity),
            fallback=rule.fallback or self.spec.default_fallback,
            require_rationale=rule.require_rationale,
        )

    def _failsafe(self, rule: RuleSpec, error: str) -> Verdict:
        error = error if len(error) <= 200 else error[:199] + "…"
        return Verdict(
            "escalate",
            rule.name,
            f"rule {rule.name!r} could not be evaluated ({error}); escalated as a precaution",
            severity=_FAILSAFE_SEVERITY,
            group=self.spec.default_group,
            sla=self.spec.default_sla.get(_FAILSAFE_SEVERITY),
            fallback="agent",
            error=error,
        )


def _line_of(rule: RuleSpec, name: str) -> int:
    """The file line where ``name`` first appears in the rule's condition."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    for offset, text in enumerate(rule.when.splitlines()):
        if pattern.search(text):
            return rule.when_line + offset
    return rule.when_line


def _compile(rule: RuleSpec, problem: Any) -> cel.Program | None:
    label = f"rule {rule.name!r}"
    try:
        program = cel.compile(rule.when)
    except Exception as exc:
        m = _CEL_ERROR.search(str(exc))
        if m is None:
            problem(rule.when_line, f"{label}: invalid CEL: {exc}")
        else:
            line, column, message = int(m.group(1)), int(m.group(2)), m.group(3)
            problem(
                rule.when_line + line - 1,
                f"{label}: invalid CEL at column {column}: {message.strip()}",
            )
        return None
    refs = program.references()
    bound = set(_BOUND.findall(rule.when))
    ok = True
    for name in refs["variables"]:
        if name in SIGNAL_NAMES or name in bound:
            continue
        ok = False
        close = difflib.get_close_matches(name, sorted(SIGNAL_NAMES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problem(
            _line_of(rule, name),
            f"{label}: unknown field {name!r}{hint}; `hitl policy signals` lists the fields",
        )
    for name in refs["functions"]:
        if _is_operator(name) or name in CEL_FUNCTIONS:
            continue
        ok = False
        problem(
            _line_of(rule, name),
            f"{label}: unknown function {name!r} (CEL's standard functions: "
            f"{', '.join(sorted(CEL_FUNCTIONS))})",
        )
    return program if ok else None


_PROBE_WHEN = {
    "absent": (
        "on an escalation without the optional signals (amount, calibrated_confidence and "
        "latency_budget_ms null, lists and maps empty)",
        "; guard them: `amount != null && ...`, `has(context.key) && ...`",
    ),
    "present": ("on an escalation with every signal present", ""),
}


def _probe(rule: RuleSpec, program: cel.Program, domains: tuple[str, ...], problem: Any) -> None:
    """Evaluate the condition on probe signals; report the first failure."""
    for probe_name, base in PROBES.items():
        for domain in domains or (str(base["domain"]),):
            try:
                result = program.execute({**base, "domain": domain})
            except Exception as exc:
                when, hint = _PROBE_WHEN[probe_name]
                problem(
                    rule.when_line,
                    f"rule {rule.name!r}: the condition fails {when}: {_describe(exc)}{hint}",
                )
                return
            if not isinstance(result, bool):
                problem(
                    rule.when_line,
                    f"rule {rule.name!r}: the condition must be true or false, "
                    f"but gives a {type(result).__name__}",
                )
                return


def _constant(program: cel.Program) -> bool | None:
    """The condition's value if it reads no signal (``true``, ``1 < 2``), else None."""
    if program.references()["variables"]:
        return None
    try:
        value = program.execute({})
    except Exception:
        return None
    return value if isinstance(value, bool) else None


def _check(spec: PolicySpec, problems: list[PolicyProblem]) -> list[_Rule]:
    def problem(line: int, message: str) -> None:
        problems.append(PolicyProblem(spec.source, line, message))

    rules: list[_Rule] = []
    always: RuleSpec | None = None
    for rule in spec.rules:
        if always is not None:
            problem(
                rule.line,
                f"rule {rule.name!r} is unreachable: rule {always.name!r} (line {always.line}) "
                "always matches before it",
            )
        for path in rule.requires:
            if path.split(".")[0] not in SIGNAL_NAMES:
                problem(rule.line, f"rule {rule.name!r}: requires names unknown input {path!r}")
        if not rule.when:
            continue
        program = _compile(rule, problem)
        if program is None:
            continue
        constant = _constant(program)
        if constant is False:
            problem(rule.when_line, f"rule {rule.name!r} never matches: its condition is false")
        if constant is True and always is None:
            always = rule
        _probe(rule, program, spec.domains, problem)
        rules.append(_Rule(rule, program))
    if always is None and spec.rules:
        last = spec.rules[-1]
        problem(
            last.line,
            'no default rule: end with a rule whose when is "true", so every escalation '
            "gets an outcome",
        )
    return rules


_MAPS = ("context", "args")


def _map_keys(rules: tuple[_Rule, ...] | list[_Rule]) -> dict[str, frozenset[str] | None]:
    keys: dict[str, frozenset[str] | None] = {}
    for name in _MAPS:
        found: set[str] | None = set()
        use = re.compile(rf"(?<![\w.]){name}\b(\s*\.\s*([A-Za-z_]\w*))?")
        for rule in rules:
            for m in use.finditer(rule.spec.when):
                if m.group(2) is None or found is None:
                    found = None
                    break
                found.add(m.group(2))
            for path in rule.spec.requires:
                head, _, rest = path.partition(".")
                if head == name and found is not None:
                    if not rest:
                        found = None
                    else:
                        found.add(rest.split(".")[0])
        keys[name] = frozenset(found) if found is not None else None
    return keys


def _variables(rules: list[_Rule]) -> frozenset[str]:
    names: set[str] = set()
    for rule in rules:
        names.update(v for v in rule.program.references()["variables"] if v in SIGNAL_NAMES)
        names.update(p.split(".")[0] for p in rule.spec.requires)
        if rule.spec.outcome == "needs_info":
            names.add("missing_inputs")
    return frozenset(names & SIGNAL_NAMES)


def check_policy(text: str, *, source: str = "<policy>") -> list[PolicyProblem]:
    """Every problem with a policy file, in file order (empty: the policy is good)."""
    spec, problems = parse_policy(text, source=source)
    if spec is not None:
        _check(spec, problems)
    return sorted(problems, key=lambda p: p.line)


def compile_policy(text: str, *, source: str = "<policy>") -> Policy:
    """A ready policy, or :class:`PolicyError` listing every problem."""
    spec, problems = parse_policy(text, source=source)
    rules = _check(spec, problems) if spec is not None else []
    if problems or spec is None:
        raise PolicyError(sorted(problems, key=lambda p: p.line))
    return Policy(spec, rules, _variables(rules))
