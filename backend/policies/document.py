"""A policy file: TOML in, a checked :class:`PolicySpec` out, or problems with file and line.

The format (README, "Policies as code", has a full example)::

    id = "payments"                       # required: names the policy and its versions
    description = "..."                   # optional
    domains = ["payments"]                # optional: which domains it governs (none: all)

    [defaults]                            # optional, for escalate rules
    group = "payments"                    # default: the escalation's domain
    fallback = "agent"                    # "agent", "approve", "hold" or {name=, args=}
    sla = { critical = "15m", high = "1h" }

    [redaction]                           # optional: more personal data to redact
    fields = ["context.customer_name"]    # dotted paths, replaced by ⟦field:…⟧ at ingest

    [[rules]]                             # in order; the first whose `when` holds wins
    name = "large-refund"                 # the reason code cases record
    description = "..."                   # the reason supervisors and agents read
    when = "amount != null && amount >= 10000"   # CEL over the signals
    outcome = "escalate"                  # proceed, block, needs_info or escalate
    severity = "critical"                 # escalate: required; group, sla, fallback optional
    require_rationale = true              # escalate: every final decision must say why
    # needs_info: requires = ["amount", "context.order_id"] names the inputs to ask for

Conditions are compiled and checked in :mod:`backend.policies.engine`; this module checks
the structure and knows which line each rule and key is on.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError

from store.contracts import SEVERITIES, ActionSpec, Severity

__all__ = [
    "FALLBACKS",
    "OUTCOMES",
    "FallbackSpec",
    "Outcome",
    "PolicyError",
    "PolicyProblem",
    "PolicySpec",
    "RuleSpec",
    "parse_duration",
    "parse_policy",
]

Outcome = Literal["proceed", "block", "needs_info", "escalate"]
OUTCOMES: tuple[Outcome, ...] = ("proceed", "block", "needs_info", "escalate")
#: ``agent``: the agent's own fallback_action (else hold); ``approve``: the proposed action
#: goes ahead; ``hold``: nothing happens until someone decides.
FALLBACKS = ("agent", "approve", "hold")
#: A fallback is one of :data:`FALLBACKS` or an explicit action.
FallbackSpec = str | ActionSpec

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_TOP_KEYS = frozenset({"id", "description", "domains", "defaults", "redaction", "rules"})
_REDACTION_KEYS = frozenset({"fields"})
_DEFAULT_KEYS = frozenset({"group", "fallback", "sla"})
_RULE_KEYS = frozenset(
    {
        "name",
        "description",
        "when",
        "outcome",
        "severity",
        "group",
        "sla",
        "fallback",
        "requires",
        "require_rationale",
    }
)
_ESCALATE_ONLY = ("severity", "group", "sla", "fallback", "require_rationale")


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy file, where it is and what to do."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class PolicyError(ValueError):
    """A policy file that cannot be used; ``problems`` lists every fault found."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class RuleSpec:
    name: str
    description: str
    when: str
    outcome: Outcome
    line: int
    #: File line of the condition's first line (CEL error lines count from there).
    when_line: int
    severity: Severity | None = None
    group: str | None = None
    sla: timedelta | None = None
    fallback: FallbackSpec | None = None
    requires: tuple[str, ...] = ()
    #: Supervisors must give a rationale for every final decision on these cases.
    require_rationale: bool = False


@dataclass(frozen=True)
class PolicySpec:
    id: str
    description: str
    domains: tuple[str, ...]
    rules: tuple[RuleSpec, ...]
    default_group: str | None = None
    default_fallback: FallbackSpec = "agent"
    default_sla: dict[str, timedelta] = field(default_factory=dict)
    source: str = "<policy>"
    #: More fields to redact at ingest in the policy's domains (dotted paths), on top of
    #: ``HITL_REDACT_FIELDS``.
    redact_fields: tuple[str, ...] = ()


def parse_duration(text: str) -> timedelta | None:
    """``"90s"``, ``"15m"``, ``"1h30m"``, ``"2d"`` -> timedelta; None if malformed or zero."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if m is None or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    value = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    return value if value > timedelta(0) else None


@dataclass
class _Lines:
    """Where keys are in the file: top-level keys, tables, and each ``[[rules]]`` entry."""

    top: dict[str, int] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    table_keys: dict[str, dict[str, int]] = field(default_factory=dict)
    rules: list[dict[str, int]] = field(default_factory=list)
    #: Lines whose value opens a multi-line string on the next line.
    opens_block: set[int] = field(default_factory=set)
    last: int = 1


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')\s*(?:\.[^=]*)?=\s*(.*)$")


def _locate(text: str) -> _Lines:
    lines = _Lines()
    current: dict[str, int] = lines.top
    in_block: str | None = None
    for n, raw in enumerate(text.splitlines(), start=1):
        lines.last = n
        if in_block is not None:
            if raw.count(in_block) % 2 == 1:
                in_block = None
            continue
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            name = header.group(2).strip().strip("\"'")
            if header.group(1) == "[[" and name == "rules":
                current = {"": n}
                lines.rules.append(current)
            else:
                lines.tables.setdefault(name, n)
                current = lines.table_keys.setdefault(name, {})
            continue
        key = _KEY.match(raw)
        if key:
            current.setdefault(key.group(1).strip("\"'"), n)
            value = key.group(2)
            for quote in ('"""', "'''"):
                if value.startswith(quote) and value.count(quote) % 2 == 1:
                    in_block = quote
                    if value.strip() == quote:
                        lines.opens_block.add(n)
                    break
    return lines


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[PolicyProblem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(PolicyProblem(self.source, line, message))


def _toml_problem(exc: tomllib.TOMLDecodeError) -> tuple[int, str]:
    m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
    return (int(m.group(1)) if m else 1), f"not valid TOML: {message}"


def _fallback(value: Any, line: int, where: str, out: _Collector) -> FallbackSpec | None:
    if isinstance(value, str) and value in FALLBACKS:
        return value
    if isinstance(value, dict):
        try:
            return ActionSpec.model_validate(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'action'}: {e['msg']}"
                for e in exc.errors()
            )
            out.add(line, f"{where}: fallback action is not valid ({problems})")
            return None
    out.add(
        line,
        f"{where}: fallback must be one of {', '.join(repr(f) for f in FALLBACKS)} "
        'or an action {name = "...", args = {...}}',
    )
    return None


def _sla(value: Any, line: int, where: str, out: _Collector) -> timedelta | None:
    parsed = parse_duration(value) if isinstance(value, str) else None
    if parsed is None:
        out.add(line, f'{where}: sla must be a duration such as "90s", "15m", "4h" or "1d"')
    return parsed


def _string(value: Any, line: int, what: str, out: _Collector, *, slug: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        out.add(line, f"{what} must be a non-empty string")
        return ""
    if slug and not _SLUG.match(value):
        out.add(line, f"{what} {value!r} must be a lowercase slug (a-z, 0-9, '.', '_', '-')")
    return value


def _rule(
    raw: Any, index: int, where: dict[str, int], lines: _Lines, out: _Collector
) -> RuleSpec | None:
    line = where.get("", lines.last)
    if not isinstance(raw, dict):
        out.add(line, f"rule {index + 1} must be a table ([[rules]])")
        return None
    name = _string(raw.get("name"), where.get("name", line), f"rule {index + 1}: name", out)
    label = f"rule {name!r}" if name else f"rule {index + 1}"
    if name and not _SLUG.match(name):
        out.add(where.get("name", line), f"{label}: name must be a lowercase slug, ≤ 64 chars")
    for key in sorted(set(raw) - _RULE_KEYS):
        out.add(
            where.get(key, line),
            f"{label}: unknown key {key!r} (expected {', '.join(sorted(_RULE_KEYS))})",
        )
    description = _string(
        raw.get("description"), where.get("description", line), f"{label}: description", out
    )
    when_line = where.get("when", line)
    when = raw.get("when")
    if not isinstance(when, str) or not when.strip():
        out.add(when_line, f'{label}: when must be a CEL condition such as "amount > 100"')
        when = ""
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        out.add(
            where.get("outcome", line),
            f"{label}: outcome must be one of {', '.join(OUTCOMES)}",
        )
        return None
    severity: Severity | None = None
    sla = fallback = group = None
    require_rationale = False
    if outcome == "escalate":
        sev = raw.get("severity")
        if sev not in SEVERITIES:
            out.add(
                where.get("severity", line),
                f"{label}: an escalate rule needs severity = one of low, medium, high, critical",
            )
        else:
            severity = sev
        if "group" in raw:
            group = _string(raw["group"], where.get("group", line), f"{label}: group", out)
        if "sla" in raw:
            sla = _sla(raw["sla"], where.get("sla", line), label, out)
        if "fallback" in raw:
            fallback = _fallback(raw["fallback"], where.get("fallback", line), label, out)
        if "require_rationale" in raw:
            if isinstance(raw["require_rationale"], bool):
                require_rationale = raw["require_rationale"]
            else:
                out.add(
                    where.get("require_rationale", line),
                    f"{label}: require_rationale must be true or false (no quotes)",
                )
    else:
        for key in _ESCALATE_ONLY:
            if key in raw:
                out.add(where.get(key, line), f"{label}: {key} applies to escalate rules only")
    requires: tuple[str, ...] = ()
    if "requires" in raw:
        req_line = where.get("requires", line)
        value = raw["requires"]
        if outcome != "needs_info":
            out.add(req_line, f"{label}: requires applies to needs_info rules only")
        elif not isinstance(value, list) or not all(
            isinstance(v, str) and v.strip() for v in value
        ):
            out.add(req_line, f'{label}: requires must be a list of inputs, e.g. ["amount"]')
        else:
            requires = tuple(value)
    return RuleSpec(
        name=name,
        description=description,
        when=when,
        outcome=outcome,
        line=line,
        when_line=when_line + (1 if when_line in lines.opens_block else 0),
        severity=severity,
        group=group,
        sla=sla,
        fallback=fallback,
        requires=requires,
        require_rationale=require_rationale,
    )


def _redaction(raw: Any, lines: _Lines, out: _Collector) -> tuple[str, ...]:
    """``[redaction] fields = [...]``: each a dotted path the ingest redaction accepts."""
    from backend.services.redaction import compile_field_paths

    line = lines.tables.get("redaction", lines.top.get("redaction", 1))
    keys = lines.table_keys.get("redaction", {})
    if not isinstance(raw, dict):
        out.add(line, 'redaction must be a table: [redaction] fields = ["context.key"]')
        return ()
    for key in sorted(set(raw) - _REDACTION_KEYS):
        out.add(keys.get(key, line), f"redaction: unknown key {key!r} (expected fields)")
    value = raw.get("fields", [])
    f_line = keys.get("fields", line)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        out.add(f_line, 'redaction: fields must be a list of dotted paths, e.g. ["context.name"]')
        return ()
    good: list[str] = []
    for path in value:
        try:
            compile_field_paths((path,))
        except ValueError as exc:
            out.add(f_line, f"redaction: {exc}")
            continue
        if path.strip() in good:
            out.add(f_line, f"redaction: fields lists {path!r} twice")
            continue
        good.append(path.strip())
    return tuple(good)


def parse_policy(
    text: str, *, source: str = "<policy>"
) -> tuple[PolicySpec | None, list[PolicyProblem]]:
    """Parse and check the structure of a policy file (not its CEL conditions)."""
    out = _Collector(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        out.add(*_toml_problem(exc))
        return None, out.problems
    lines = _locate(text)
    for key in sorted(set(data) - _TOP_KEYS):
        out.add(
            lines.top.get(key, lines.tables.get(key, 1)),
            f"unknown key {key!r} (expected {', '.join(sorted(_TOP_KEYS))})",
        )
    policy_id = _string(data.get("id"), lines.top.get("id", 1), "id", out, slug=True)
    description = data.get("description", "")
    if not isinstance(description, str):
        out.add(lines.top.get("description", 1), "description must be a string")
        description = ""
    domains = data.get("domains", [])
    domains_line = lines.top.get("domains", 1)
    if not isinstance(domains, list) or not all(
        isinstance(d, str) and _SLUG.match(d) for d in domains
    ):
        out.add(domains_line, 'domains must be a list of domain names, e.g. ["payments"]')
        domains = []
    elif len(set(domains)) != len(domains):
        out.add(domains_line, "domains lists a domain twice")
    defaults = data.get("defaults", {})
    d_line = lines.tables.get("defaults", lines.top.get("defaults", 1))
    d_keys = lines.table_keys.get("defaults", {})
    default_group: str | None = None
    default_fallback: FallbackSpec = "agent"
    default_sla: dict[str, timedelta] = {}
    if not isinstance(defaults, dict):
        out.add(d_line, "defaults must be a table ([defaults])")
        defaults = {}
    for key in sorted(set(defaults) - _DEFAULT_KEYS):
        out.add(
            d_keys.get(key, d_line),
            f"defaults: unknown key {key!r} (expected fallback, group, sla)",
        )
    if "group" in defaults:
        default_group = _string(
            defaults["group"], d_keys.get("group", d_line), "defaults: group", out
        )
    if "fallback" in defaults:
        f_line = d_keys.get("fallback", d_line)
        default_fallback = _fallback(defaults["fallback"], f_line, "defaults", out) or "agent"
    sla_table = defaults.get("sla", {})
    sla_line = lines.tables.get("defaults.sla", d_keys.get("sla", d_line))
    if not isinstance(sla_table, dict):
        out.add(sla_line, "defaults: sla must be a table of severity = duration")
        sla_table = {}
    for sev, value in sla_table.items():
        if sev not in SEVERITIES:
            out.add(
                sla_line, f"defaults.sla: {sev!r} is not a severity (low, medium, high, critical)"
            )
            continue
        parsed = _sla(value, sla_line, f"defaults.sla.{sev}", out)
        if parsed is not None:
            default_sla[sev] = parsed
    redact_fields = _redaction(data.get("redaction", {}), lines, out)
    raw_rules = data.get("rules")
    rules: list[RuleSpec] = []
    if not isinstance(raw_rules, list) or not raw_rules:
        out.add(lines.last, "no rules: add [[rules]] entries, the last one the default")
        raw_rules = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_rules):
        where = lines.rules[i] if i < len(lines.rules) else {"": 1}
        rule = _rule(raw, i, where, lines, out)
        if rule is None:
            continue
        if rule.name and rule.name in seen:
            out.add(
                rule.line,
                f"rule {rule.name!r}: the name is taken by the rule on line {seen[rule.name]}",
            )
        seen.setdefault(rule.name, rule.line)
        rules.append(rule)
    spec = PolicySpec(
        id=policy_id,
        description=description,
        domains=tuple(domains),
        rules=tuple(rules),
        default_group=default_group,
        default_fallback=default_fallback,
        default_sla=default_sla,
        source=source,
        redact_fields=redact_fields,
    )
    return spec, out.problems
