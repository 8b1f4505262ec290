"""Policies as code: the example policies rule by rule, and `hitl policy check`'s errors."""

from __future__ import annotations

from typing import Any

import pytest

from backend.policies import (
    Policy,
    PolicyError,
    check_policy,
    compile_policy,
    example_policies,
    signals_of,
)
from backend.policies.engine import Verdict
from store.contracts import ActionSpec, Confidence, EscalationCreate
from store.samples import DOMAINS, sample_escalation

EXAMPLES = {p.stem: p for p in example_policies()}


def _policy(name: str) -> Policy:
    return compile_policy(EXAMPLES[name].read_text(), source=str(EXAMPLES[name]))


def neutral(domain: str, **changes: Any) -> EscalationCreate:
    """A sample of ``domain`` with every policy signal neutral, then ``changes``."""
    base = sample_escalation(DOMAINS.index(domain))
    action = {
        "payments": ActionSpec(name="refund_payment", args={"amount": 120.0}),
        "moderation": ActionSpec(name="remove_content", args={"content_id": "post_1"}),
        "data-pipeline": ActionSpec(name="quarantine_partition", args={"table": "t"}),
    }[domain]
    fields: dict[str, Any] = {
        "risk_flags": [],
        "tags": [],
        "data_quality_flags": [],
        "missing_inputs": [],
        "latency_budget_ms": None,
        "confidence": Confidence(reported=0.9, calibrated=0.9),
        "amount": 120.0 if domain == "payments" else None,
        "proposed_action": action,
        "context": {"order_id": "ord_1"} if domain == "payments" else {},
    }
    return base.model_copy(update={**fields, **changes})


def verdict(domain: str, **changes: Any) -> Verdict:
    policy = _policy(domain)
    return policy.evaluate(policy.signals(neutral(domain, **changes)))


LOW = Confidence(reported=0.9, calibrated=0.4)
PAY, MOD, DATA = "payments", "moderation", "data-pipeline"
SUSPEND = ActionSpec(name="suspend_account")

# (policy, the rule that must match, signals changed from neutral, "outcome[/severity/SLA]")
TABLE: list[tuple[str, str, dict[str, Any], str]] = [
    (PAY, "missing-order-details", {"missing_inputs": ["carrier_tracking"]}, "needs_info"),
    (PAY, "missing-order-details", {"amount": None}, "needs_info"),
    (PAY, "missing-order-details", {"context": {}}, "needs_info"),
    (PAY, "chargeback-open", {"tags": ["chargeback_open"]}, "block"),
    (PAY, "large-refund", {"amount": 12_480.0}, "escalate/critical/0:15:00"),
    (PAY, "abuse-signals", {"risk_flags": ["new_account"]}, "escalate/high/1:00:00"),
    (PAY, "abuse-signals", {"risk_flags": ["x", "repeat_refunder"]}, "escalate/high/1:00:00"),
    (PAY, "low-confidence", {"confidence": LOW}, "escalate/high/1:00:00"),
    (PAY, "small-clean-refund", {"amount": 19.99}, "proceed"),
    (PAY, "default", {"amount": 19.99, "data_quality_flags": ["x"]}, "escalate/low/1 day, 0:00:00"),
    (PAY, "above-auto-approve-limit", {"amount": 640.0}, "escalate/medium/4:00:00"),
    (PAY, "default", {}, "escalate/low/1 day, 0:00:00"),
    (MOD, "unusable-inputs", {"missing_inputs": ["media_original"]}, "needs_info"),
    (MOD, "unusable-inputs", {"data_quality_flags": ["translation_failed"]}, "needs_info"),
    (MOD, "legal-hold", {"tags": ["legal_hold"]}, "block"),
    (MOD, "self-harm", {"risk_flags": ["self_harm_signal", "safety"]}, "escalate/critical/0:15:00"),
    (MOD, "account-suspension", {"proposed_action": SUSPEND}, "escalate/high/1:00:00"),
    (MOD, "public-figure", {"risk_flags": ["public_figure"]}, "escalate/high/1:00:00"),
    (MOD, "borderline-satire", {"risk_flags": ["borderline_satire"]}, "escalate/medium/4:00:00"),
    (MOD, "confident-spam", {"tags": ["spam"]}, "proceed"),
    (MOD, "low-confidence", {"tags": ["spam"], "confidence": LOW}, "escalate/medium/4:00:00"),
    (MOD, "default", {}, "escalate/low/1 day, 0:00:00"),
    (DATA, "missing-run-metadata", {"missing_inputs": ["lineage"]}, "needs_info"),
    (DATA, "finance-data", {"risk_flags": ["legal"]}, "escalate/critical/0:15:00"),
    (DATA, "finance-data", {"risk_flags": ["finance_reporting"], "latency_budget_ms": 60_000},
     "escalate/critical/0:15:00"),
    (DATA, "reversible-under-time-pressure", {"latency_budget_ms": 600_000}, "proceed"),
    (DATA, "default", {"latency_budget_ms": 3_600_000}, "escalate/low/8:00:00"),
    (DATA, "exec-report-due", {"risk_flags": ["exec_report_due"]}, "escalate/high/1:00:00"),
    (DATA, "wide-blast-radius", {"risk_flags": ["downstream_dashboards"]}, "escalate/high/1:00:00"),
    (DATA, "schema-drift", {"risk_flags": ["schema_drift"]}, "escalate/medium/4:00:00"),
    (DATA, "default", {}, "escalate/low/8:00:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "rule", "changes", "expected"),
    TABLE,
    ids=[f"{p}:{r}:{'+'.join(c) or 'neutral'}" for p, r, c, _ in TABLE],
)
def test_example_policy_rule_table(
    policy: str, rule: str, changes: dict[str, Any], expected: str
) -> None:
    """Signals in, outcome out: each example rule decides the escalations it describes."""
    got = verdict(policy, **changes)
    shown = "/".join(str(x) for x in (got.outcome, got.severity, got.sla) if x is not None)
    assert (got.rule, shown) == (rule, expected)
    assert got.description and got.error is None


def test_example_policy_table_covers_every_rule() -> None:
    """The table above exercises every rule of every example policy."""
    for name in EXAMPLES:
        tested = {rule for policy, rule, *_ in TABLE if policy == name}
        assert tested == set(_policy(name).rule_names), name


def test_needs_info_names_the_missing_inputs() -> None:
    """The agent is told exactly which inputs to supply: its own list, then the required
    inputs that are absent."""
    got = verdict("payments", amount=None, context={}, missing_inputs=["carrier_tracking"])
    assert got.missing_inputs == ("carrier_tracking", "amount", "context.order_id")
    assert verdict("payments", amount=None).missing_inputs == ("amount",)


def test_example_policies_check_clean() -> None:
    """The shipped policies pass `hitl policy check` and cover the demo domains."""
    for path in EXAMPLES.values():
        assert check_policy(path.read_text(), source=str(path)) == []
    assert {d for name in EXAMPLES for d in _policy(name).domains} == set(DOMAINS)


def test_escalate_rule_group_sla_and_fallback_defaults() -> None:
    """Escalate rules take the file's defaults: group, SLA by severity, fallback."""
    got = verdict("payments", risk_flags=["new_account"])
    assert (got.group, got.fallback) == ("payments", "agent")
    assert verdict("moderation", risk_flags=["safety"]).fallback == "approve"


# -- `hitl policy check`: each error kind with its file and line --------------------------


def problems(text: str) -> list[str]:
    return [str(p) for p in check_policy(text, source="p.toml")]


HEAD = 'id = "t"\n'
DEFAULT = '\n[[rules]]\nname = "default"\ndescription = "d"\nwhen = "true"\noutcome = "proceed"\n'


def rule(name: str, when: str, extra: str = 'outcome = "block"') -> str:
    return f'\n[[rules]]\nname = "{name}"\ndescription = "d"\nwhen = {when}\n{extra}\n'


def test_check_reports_bad_cel_with_file_and_line() -> None:
    """A syntax error names the file, the line of the condition and the column."""
    text = HEAD + rule("broken", "'amount >'") + DEFAULT
    assert problems(text) == [
        "p.toml:6: rule 'broken': invalid CEL at column 9: Syntax error: mismatched input "
        "'<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, "
        "NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"
    ]


def test_check_reports_the_line_inside_a_multiline_condition() -> None:
    """In a multi-line condition the error points at the line of the file it is on."""
    text = HEAD + rule("multi", "'''\nsize(tags) > 0\n  && amout > 3\n'''") + DEFAULT
    (only,) = problems(text)
    assert only.startswith("p.toml:8: rule 'multi': unknown field 'amout' (did you mean 'amount'?)")


def test_check_reports_unknown_field_and_function() -> None:
    """A misspelt signal or a function CEL does not have is an error, with a suggestion."""
    text = HEAD + rule("typo", '"risk_flag.size() > 0"') + rule("fn", "\"lower(domain) == 'x'\"")
    text += DEFAULT
    got = problems(text)
    assert got[0].startswith("p.toml:6: rule 'typo': unknown field 'risk_flag' (did you mean")
    assert got[1].startswith("p.toml:12: rule 'fn': unknown function 'lower'")
    assert len(got) == 2


def test_check_accepts_comprehension_variables() -> None:
    """Variables bound by exists()/all() are not unknown fields."""
    text = HEAD + rule("any", "'risk_flags.exists(f, f.startsWith(\"x\"))'") + DEFAULT
    assert problems(text) == []


def test_check_reports_missing_default() -> None:
    """Without a final unconditional rule some escalation would get no outcome."""
    text = HEAD + rule("only", '"size(tags) > 0"')
    assert problems(text) == [
        'p.toml:3: no default rule: end with a rule whose when is "true", so every '
        "escalation gets an outcome"
    ]


def test_check_reports_unreachable_rules() -> None:
    """Rules after an unconditional one can never match."""
    text = HEAD + DEFAULT + rule("late", '"size(tags) > 0"')
    assert problems(text) == [
        "p.toml:9: rule 'late' is unreachable: rule 'default' (line 3) always matches before it"
    ]


def test_check_reports_constant_false_and_non_bool_conditions() -> None:
    """A condition that is always false, or not a bool, is an error."""
    text = HEAD + rule("never", '"1 > 2"') + rule("number", '"size(tags)"') + DEFAULT
    assert problems(text) == [
        "p.toml:6: rule 'never' never matches: its condition is false",
        "p.toml:12: rule 'number': the condition must be true or false, but gives a int",
    ]


def test_check_reports_conditions_that_fail_without_optional_signals() -> None:
    """`amount > 100` fails at ingest when amount is null: check says so and how to guard."""
    text = HEAD + rule("big", '"amount > 100"') + rule("order", "\"context.order_id == 'x'\"")
    got = problems(text + DEFAULT)
    assert got[0].startswith(
        "p.toml:6: rule 'big': the condition fails on an escalation without the optional signals"
    )
    assert "guard them: `amount != null && ...`" in got[0]
    assert got[1].startswith("p.toml:12: rule 'order': the condition fails")
    assert "no key 'order_id'" in got[1]
    guarded = rule("big", '"amount != null && amount > 100"')
    guarded += rule("order", "\"has(context.order_id) && context.order_id == 'x'\"")
    assert problems(HEAD + guarded + DEFAULT) == []


def test_check_reports_structure_errors_with_lines() -> None:
    """Missing or wrong keys are reported on their own lines."""
    text = (
        HEAD
        + rule("esc", '"true"', 'outcome = "escalate"\nseverity = "urgent"\nsla = "soon"')
        + rule("esc", '"true"', 'outcome = "escalate"\nseverity = "low"\nfallback = "retry"')
        + rule("blk", '"true"', 'outcome = "block"\nseverity = "low"\nrequires = ["amount"]')
        + rule("x", '"true"', 'outcome = "maybe"\ncolour = "red"')
    )
    got = problems(text)
    expected = [
        "p.toml:8: rule 'esc': an escalate rule needs severity = one of low, medium, high, "
        "critical",
        'p.toml:9: rule \'esc\': sla must be a duration such as "90s", "15m", "4h" or "1d"',
        "p.toml:11: rule 'esc': the name is taken by the rule on line 3",
        "p.toml:17: rule 'esc': fallback must be one of 'agent', 'approve', 'hold' or an action "
        '{name = "...", args = {...}}',
        "p.toml:24: rule 'blk': severity applies to escalate rules only",
        "p.toml:25: rule 'blk': requires applies to needs_info rules only",
        "p.toml:31: rule 'x': outcome must be one of proceed, block, needs_info, escalate",
        "p.toml:32: rule 'x': unknown key 'colour' (expected description, fallback, group, "
        "name, outcome, require_rationale, requires, severity, sla, when)",
    ]
    for line in expected:
        assert line in got
    assert "p.toml:19: rule 'blk' is unreachable: rule 'esc' (line 3) always matches" in "\n".join(
        got
    )


def test_check_reports_require_rationale_mistakes_with_lines() -> None:
    """require_rationale must be a TOML boolean on an escalate rule; a quoted "true" or the
    key on another outcome is reported on its line."""
    text = (
        HEAD
        + rule(
            "esc",
            '"amount != null"',
            'outcome = "escalate"\nseverity = "high"\nrequire_rationale = "yes"',
        )
        + rule("blk", '"false"', 'outcome = "block"\nrequire_rationale = true')
        + DEFAULT
    )
    got = problems(text)
    assert "p.toml:9: rule 'esc': require_rationale must be true or false (no quotes)" in got
    assert "p.toml:16: rule 'blk': require_rationale applies to escalate rules only" in got


def test_require_rationale_reaches_the_verdict() -> None:
    """An escalate rule with require_rationale = true says so in its verdict; others do not."""
    text = (
        HEAD
        + rule(
            "big",
            '"amount != null && amount > 100"',
            'outcome = "escalate"\nseverity = "high"\nrequire_rationale = true',
        )
        + DEFAULT
    )
    policy = compile_policy(text)
    assert policy.evaluate({"amount": 500.0}).require_rationale is True
    assert policy.evaluate({"amount": 5.0}).require_rationale is False


def test_check_reports_invalid_toml_with_its_line() -> None:
    """A TOML syntax error is reported at the line the parser stopped on."""
    assert problems('id = "t"\n\n[[rules]\nname = "x"\n') == [
        "p.toml:3: not valid TOML: Expected ']]' at the end of an array declaration"
    ]


def test_compile_policy_raises_with_every_problem() -> None:
    """Loading a bad policy fails with all of its problems, not just the first."""
    text = HEAD + rule("a", '"nope"') + rule("b", '"1 +"')
    with pytest.raises(PolicyError) as err:
        compile_policy(text, source="p.toml")
    assert [p.line for p in err.value.problems] == [6, 9, 12]  # unknown field, default, CEL


# -- evaluation at ingest --------------------------------------------------------------


def test_condition_failing_at_ingest_escalates_as_a_precaution() -> None:
    """A condition that errors on real data (it passed check) never lets an action through:
    the escalation goes to a human, the failing rule named as the reason."""
    text = HEAD + rule("n", '"has(context.n) && context.n > 5"', 'outcome = "proceed"') + DEFAULT
    policy = compile_policy(text)
    got = policy.evaluate({"context": {"n": "seven"}})
    assert (got.outcome, got.rule, got.severity) == ("escalate", "n", "high")
    assert got.error is not None and "could not be evaluated" in got.description


def test_policy_reads_only_the_signals_it_references() -> None:
    """Only referenced signals are converted for CEL (the ingest cost scales with them)."""
    assert _policy("data-pipeline").variables == {
        "missing_inputs",
        "risk_flags",
        "action",
        "latency_budget_ms",
    }


def test_policy_converts_only_the_map_keys_it_reads() -> None:
    """A policy that reads context.order_id gets just that key of the agent's context (the
    rest would cost conversion time); one that uses the map whole gets all of it."""
    esc = neutral("payments", context={"order_id": "o", "ticket": "t", "notes": "n" * 500})
    assert _policy("payments").signals(esc)["context"] == {"order_id": "o"}
    whole = HEAD + rule("any", '"size(context) > 2"') + DEFAULT
    assert compile_policy(whole).signals(esc)["context"] == esc.context
    assert compile_policy(whole).evaluate(compile_policy(whole).signals(esc)).rule == "any"


def test_existing_agents_without_new_signals_stay_valid() -> None:
    """An escalation without the policy signals validates and reads as empty/null."""
    body = sample_escalation(0).model_dump(mode="json")
    for name in ("tags", "data_quality_flags", "missing_inputs", "latency_budget_ms"):
        body.pop(name)
    esc = EscalationCreate.model_validate(body)
    assert signals_of(esc, ["tags", "latency_budget_ms"]) == {"tags": [], "latency_budget_ms": None}
