"""Deterministic, realistic sample escalations for the demo, the tests and the benchmarks.

Three domains, as an agent fleet would send them: payment refunds (``payments``),
content moderation (``moderation``) and data pipeline anomalies (``data-pipeline``).
Everything is derived from a seeded :class:`random.Random`, so the same ``(n, seed)``
always gives the same list (and the same idempotency keys). Identifiers are placeholders
(``cus_…``, ``acct_…``); nothing here looks like real personal data.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from store.contracts import (
    ActionSpec,
    Alternative,
    Breadcrumb,
    Confidence,
    ConfidenceFactor,
    EscalationCreate,
    EvidenceItem,
    ModelInfo,
)

__all__ = ["DOMAINS", "sample_escalation", "sample_escalations"]

DOMAINS: tuple[str, ...] = ("payments", "moderation", "data-pipeline")

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _ref(rng: random.Random, prefix: str, n: int = 8) -> str:
    return prefix + "".join(rng.choice(_ALPHABET) for _ in range(n))


def _trace(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _score(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def _confidence(rng: random.Random, factors: list[tuple[str, str]]) -> Confidence:
    """A reported score, a (usually lower) calibrated one with an interval, and factors."""
    reported = _score(rng, 0.55, 0.97)
    calibrated = round(max(0.05, reported - rng.uniform(0.0, 0.25)), 2)
    half = round(rng.uniform(0.04, 0.14), 2)
    interval = (round(max(0.0, calibrated - half), 2), round(min(1.0, calibrated + half), 2))
    weights = [rng.uniform(0.5, 2.0) for _ in factors]
    total = sum(weights)
    return Confidence(
        reported=reported,
        calibrated=calibrated,
        interval=interval,
        factors=[
            ConfidenceFactor(
                name=name, score=_score(rng, 0.3, 0.98), weight=round(w / total, 2), detail=detail
            )
            for (name, detail), w in zip(factors, weights, strict=True)
        ],
    )


# -- payments ---------------------------------------------------------------------------

_REFUND_REASONS = (
    ("duplicate_charge", "Customer was charged twice for the same order"),
    ("item_not_received", "Parcel marked delivered; customer says it never arrived"),
    ("damaged_item", "Item arrived damaged; photos attached to the ticket"),
    ("subscription_cancelled", "Renewal charged two days after the cancellation request"),
    ("wrong_size_returned", "Return scanned at the warehouse; refund not yet issued"),
    ("service_outage", "Paid tier unavailable for most of the billing period"),
)
_MERCHANTS = ("m_acme-outdoor", "m_northwind-books", "m_bluebird-audio", "m_fjord-furniture")
_CURRENCIES = ("EUR", "USD", "GBP")


def _payments(rng: random.Random, i: int) -> dict[str, Any]:
    reason, story = rng.choice(_REFUND_REASONS)
    currency = rng.choice(_CURRENCIES)
    amount = round(
        rng.choice((19.99, 42.5, 89.0, 129.95, 249.0, 640.0, 1249.0, 3890.0, 12480.0))
        * rng.uniform(0.8, 1.2),
        2,
    )
    customer = _ref(rng, "cus_", 6)
    payment = _ref(rng, "pay_")
    order = _ref(rng, "ord_")
    merchant = rng.choice(_MERCHANTS)
    prior = rng.choice((0, 0, 0, 1, 2, 5))
    age_days = rng.choice((3, 18, 140, 410, 1200))
    flags = []
    if amount >= 1000:
        flags.append("high_amount")
    if prior >= 2:
        flags.append("repeat_refunder")
    if age_days < 30:
        flags.append("new_account")
    if rng.random() < 0.2:
        flags.append("shipping_address_mismatch")
    partial = round(amount * 0.5, 2)
    return {
        "summary": f"Refund {amount:,.2f} {currency} to {customer}: {story.lower()}",
        "proposed_action": ActionSpec(
            name="refund_payment",
            args={
                "payment_id": payment,
                "amount": amount,
                "currency": currency,
                "reason": reason,
                "notify_customer": True,
            },
        ),
        "fallback_action": ActionSpec(
            name="hold_refund", args={"payment_id": payment, "review_queue": "payments-l2"}
        ),
        "context": {
            "customer": customer,
            "merchant": merchant,
            "order_id": order,
            "payment_method": "card ending 0000 (placeholder)",
            "account_age_days": age_days,
            "prior_refunds_90d": prior,
            "ticket": _ref(rng, "tkt_", 6),
        },
        "reasoning": [
            Breadcrumb(step="Read the support ticket", detail=story + "."),
            Breadcrumb(
                step="Looked up the order and its payments",
                detail=f"Order {order} has {1 + (reason == 'duplicate_charge')} captured "
                f"payment(s) at {merchant}.",
            ),
            Breadcrumb(
                step="Checked refund history",
                detail=f"{prior} refund(s) in the last 90 days; account is {age_days} days old.",
            ),
            Breadcrumb(
                step="Matched the refund policy",
                detail="Amount is above the auto-approve limit, so a human signs off."
                if amount >= 250
                else "Within limits, but a risk signal needs review.",
            ),
        ],
        "evidence": [
            EvidenceItem(
                title="Order and payment record",
                content=f"{order}: {amount:,.2f} {currency}, status captured, payment {payment}.",
                source=f"orders-db://orders/{order}",
                policy_refs=["REF-1.2 refunds go to the original payment method"],
            ),
            EvidenceItem(
                title="Support ticket",
                content=story + ".",
                source="helpdesk://tickets (customer message, redacted)",
                policy_refs=[
                    f"REF-2.{1 + _REFUND_REASONS.index((reason, story))} {reason.replace('_', ' ')}"
                ],
            ),
            EvidenceItem(
                title="Refund history (90 days)",
                content=f"{prior} prior refund(s); chargeback rate 0.{rng.randint(0, 9)}%.",
                source="risk-api:refund_history",
                policy_refs=["REF-4.3 repeat refunds need review"] if prior >= 2 else [],
            ),
        ],
        "alternatives": [
            Alternative(
                action=ActionSpec(
                    name="partial_refund",
                    args={"payment_id": payment, "amount": partial, "currency": currency},
                ),
                rationale="Split the loss while the carrier investigates.",
            ),
            Alternative(
                action=ActionSpec(
                    name="issue_store_credit",
                    args={"customer": customer, "amount": amount, "currency": currency},
                ),
                rationale="Keeps the money with the merchant; fine for loyal customers.",
            ),
            Alternative(
                action=ActionSpec(name="escalate_to_fraud_review", args={"payment_id": payment}),
                rationale="Risk signals are strong enough for a specialist to look.",
            ),
        ][: rng.randint(1, 3)],
        "confidence": _confidence(
            rng,
            [
                ("policy match", "How closely the case fits a refund rule"),
                ("evidence coverage", "Share of required documents present"),
                ("customer history", "Consistency with past behaviour"),
                ("fraud model", "1 - fraud score from risk-api"),
            ],
        ),
        "model": ModelInfo(
            name="refund-agent", version=rng.choice(("3.4.1", "3.5.0")), seed=rng.randint(1, 9999)
        ),
        "risk_flags": flags,
        "amount": amount,
        "tags": [reason],
    }


# -- moderation -------------------------------------------------------------------------

_MOD_CASES = (
    ("harassment", "HARASS-3.1", "Targeted insults in replies to one user"),
    ("hate_speech", "HATE-2.4", "Slur used against a protected group"),
    ("spam", "SPAM-1.2", "Same link posted in 30 communities within an hour"),
    ("self_harm", "SH-1.1", "Post may signal intent to self-harm"),
    ("misinformation", "MISINFO-4.2", "Claim about a medicine contradicted by health agencies"),
    ("graphic_violence", "VIOL-2.3", "Unblurred image of an accident scene"),
)
_COMMUNITIES = ("c_gardening", "c_local-news", "c_gaming", "c_parenting", "c_football")
_LANGS = ("en", "de", "fr", "es", "pt")


def _moderation(rng: random.Random, i: int) -> dict[str, Any]:
    category, rule, story = rng.choice(_MOD_CASES)
    content = _ref(rng, "post_")
    author = _ref(rng, "acct_", 6)
    community = rng.choice(_COMMUNITIES)
    reports = rng.choice((1, 3, 8, 14, 52))
    strikes = rng.choice((0, 0, 1, 2, 3))
    toxicity = _score(rng, 0.4, 0.99)
    flags = []
    if category == "self_harm":
        flags += ["self_harm_signal", "safety"]
    if rng.random() < 0.25:
        flags.append("public_figure")
    if rng.random() < 0.3:
        flags.append("borderline_satire")
    if strikes >= 2:
        flags.append("repeat_offender")
    if category == "self_harm":
        proposed = ActionSpec(
            name="restrict_and_offer_support", args={"content_id": content, "show_helpline": True}
        )
    elif strikes >= 2:
        proposed = ActionSpec(
            name="suspend_account", args={"account_id": author, "days": 7, "policy": rule}
        )
    else:
        proposed = ActionSpec(
            name="remove_content",
            args={"content_id": content, "policy": rule, "notify_author": True},
        )
    return {
        "summary": f"{story} in {community} ({reports} report{'' if reports == 1 else 's'})",
        "proposed_action": proposed,
        "fallback_action": ActionSpec(
            name="restrict_visibility", args={"content_id": content, "audience": "followers"}
        ),
        "context": {
            "content_id": content,
            "content_type": rng.choice(("comment", "post", "image", "video")),
            "author": author,
            "community": community,
            "language": rng.choice(_LANGS),
            "reports": reports,
            "author_strikes": strikes,
            "excerpt": "[redacted in demo data]",
        },
        "reasoning": [
            Breadcrumb(
                step="Classified the content",
                detail=f"{category} score {toxicity:.2f} from the text and image models.",
            ),
            Breadcrumb(
                step="Read the surrounding thread",
                detail="Context does not suggest quoting or counter-speech."
                if "borderline_satire" not in flags
                else "Community often posts satire; tone is ambiguous.",
            ),
            Breadcrumb(
                step="Checked the author's record",
                detail=f"{strikes} strike(s) in the last 12 months.",
            ),
            Breadcrumb(step="Mapped to the policy", detail=f"Closest rule: {rule}."),
        ],
        "evidence": [
            EvidenceItem(
                title="Classifier scores",
                content=f"{category}: {toxicity:.2f}; spam: {_score(rng, 0.0, 0.4):.2f}",
                source="tool:safety-classifier-v4",
                policy_refs=[rule],
            ),
            EvidenceItem(
                title="User reports",
                content=f"{reports} report(s), {max(1, reports // 3)} distinct reason(s).",
                source=f"moderation-db://reports?content={content}",
                policy_refs=["ENF-1.0 report thresholds"],
            ),
            EvidenceItem(
                title="Author strike history",
                content=f"{strikes} active strike(s).",
                source=f"moderation-db://strikes/{author}",
                policy_refs=["ENF-2.2 strike ladder"] if strikes else [],
            ),
        ],
        "alternatives": [
            Alternative(
                action=ActionSpec(
                    name="restrict_visibility",
                    args={"content_id": content, "audience": "followers"},
                ),
                rationale="Limits reach without removing borderline speech.",
            ),
            Alternative(
                action=ActionSpec(
                    name="add_warning_label", args={"content_id": content, "label": category}
                ),
                rationale="Lets readers decide; keeps the post for appeal.",
            ),
            Alternative(
                action=ActionSpec(name="no_action", args={"content_id": content}),
                rationale="Reports look coordinated; content is within policy.",
            ),
            Alternative(
                action=ActionSpec(
                    name="refer_to_specialist_team", args={"content_id": content, "team": category}
                ),
                rationale="Needs language or subject-matter expertise.",
            ),
        ][: rng.randint(2, 4)],
        "confidence": _confidence(
            rng,
            [
                ("classifier agreement", "Text and image models agree"),
                ("policy match", "Distance to the nearest rule's examples"),
                ("context clarity", "How unambiguous the thread is"),
            ],
        ),
        "model": ModelInfo(
            name="moderation-agent", version=rng.choice(("2025.03", "2025.04")), seed=None
        ),
        "risk_flags": flags,
        "amount": None,
        "tags": [category],
    }


# -- data pipeline ----------------------------------------------------------------------

_PIPELINES = (
    ("orders_etl", "warehouse.orders_daily"),
    ("events_ingest", "lake.click_events"),
    ("billing_sync", "warehouse.invoices"),
    ("inventory_snapshot", "warehouse.stock_levels"),
)
_ANOMALIES = (
    ("row_count_drop", "Row count {pct}% below the 28-day median"),
    ("null_spike", "Null rate in customer_ref jumped to {pct}%"),
    ("schema_drift", "Upstream added {n} columns and renamed 1"),
    ("duplicate_keys", "{n} duplicate primary keys after the merge step"),
    ("late_data", "Partition arrived {n} hours late"),
)


def _pipeline(rng: random.Random, i: int) -> dict[str, Any]:
    pipeline, table = rng.choice(_PIPELINES)
    kind, template = rng.choice(_ANOMALIES)
    pct = rng.randint(12, 87)
    n = rng.randint(2, 9)
    what = template.format(pct=pct, n=n)
    day = 1 + (i % 28)
    partition = f"dt=2025-03-{day:02d}"
    run = _ref(rng, "run_")
    downstream = rng.choice((1, 3, 7, 12))
    expected = rng.choice((120_000, 480_000, 2_400_000))
    actual = int(expected * (1 - pct / 100)) if kind == "row_count_drop" else expected
    flags = []
    if downstream >= 7:
        flags.append("downstream_dashboards")
    if table == "warehouse.invoices":
        flags += ["finance_reporting", "legal"]
    if kind == "schema_drift":
        flags.append("schema_drift")
    if rng.random() < 0.2:
        flags.append("exec_report_due")
    return {
        "summary": f"{pipeline}: {what.lower()} in {table} {partition}",
        "proposed_action": ActionSpec(
            name="quarantine_partition",
            args={"table": table, "partition": partition, "run_id": run, "notify": "#data-oncall"},
        ),
        "fallback_action": ActionSpec(
            name="pause_pipeline", args={"pipeline": pipeline, "after_run": run}
        ),
        "context": {
            "pipeline": pipeline,
            "table": table,
            "partition": partition,
            "run_id": run,
            "rows_expected": expected,
            "rows_actual": actual,
            "downstream_consumers": downstream,
            "owner_team": "data-platform",
        },
        "reasoning": [
            Breadcrumb(step="Detected the anomaly", detail=what + "."),
            Breadcrumb(
                step="Compared with the last 28 runs",
                detail=f"Outside the 3-sigma band on {rng.randint(1, 3)} metric(s).",
            ),
            Breadcrumb(
                step="Checked upstream status",
                detail="Source system reported a maintenance window."
                if rng.random() < 0.5
                else "No incident open upstream.",
            ),
            Breadcrumb(
                step="Estimated blast radius",
                detail=f"{downstream} downstream job(s) and dashboard(s) read this table.",
            ),
        ],
        "evidence": [
            EvidenceItem(
                title="Metric history",
                content=what + ".",
                source=f"metrics://pipelines/{pipeline}/{kind}",
                policy_refs=["DQ-1.1 quarantine on hard anomalies"],
            ),
            EvidenceItem(
                title="Run log",
                content=f"{run} finished with 0 errors, {rng.randint(0, 40)} warnings.",
                source=f"orchestrator://runs/{run}",
                policy_refs=[],
            ),
            EvidenceItem(
                title="Lineage",
                content=f"{downstream} consumer(s) of {table}.",
                source=f"catalog://lineage/{table}",
                policy_refs=["DQ-3.0 notify owners of downstream consumers"],
            ),
        ],
        "alternatives": [
            Alternative(
                action=ActionSpec(
                    name="rollback_load",
                    args={"table": table, "partition": partition, "to_run": _ref(rng, "run_")},
                ),
                rationale="Restores yesterday's good data; consumers see stale rows.",
            ),
            Alternative(
                action=ActionSpec(
                    name="backfill_partition", args={"pipeline": pipeline, "partition": partition}
                ),
                rationale="Re-run after upstream confirms the source is fixed.",
            ),
            Alternative(
                action=ActionSpec(
                    name="accept_and_annotate",
                    args={"table": table, "partition": partition, "note": kind},
                ),
                rationale="Change is expected (e.g. a holiday); annotate dashboards.",
            ),
        ][: rng.randint(2, 3)],
        "confidence": _confidence(
            rng,
            [
                ("anomaly strength", "Distance from the seasonal baseline"),
                ("upstream signal", "Upstream status explains the change"),
                ("historical precedent", "Similar anomalies and their outcome"),
            ],
        ),
        "model": ModelInfo(name="dq-sentinel", version="1.9.2", seed=rng.randint(1, 9999)),
        "risk_flags": flags,
        "amount": None,
        "tags": [kind],
    }


_BUILDERS: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "payments": _payments,
    "moderation": _moderation,
    "data-pipeline": _pipeline,
}


#: Per domain, the occasional policy signals: (probability, field, value). Drawn from their
#: own random stream, so the rest of each sample stays as it was. Against the example
#: policies (backend/policies/*.toml) most samples escalate; a few are settled at once.
_RARE_SIGNALS: dict[str, tuple[tuple[float, str, str], ...]] = {
    "payments": (
        (0.04, "tags", "chargeback_open"),  # blocked
        (0.04, "missing_inputs", "carrier_tracking"),  # needs_info
        (0.08, "data_quality_flags", "partial_order_history"),
    ),
    "moderation": (
        (0.03, "tags", "legal_hold"),  # blocked
        (0.04, "missing_inputs", "media_original"),  # needs_info
        (0.03, "data_quality_flags", "translation_failed"),  # needs_info
    ),
    "data-pipeline": ((0.04, "missing_inputs", "lineage"),),  # needs_info
}
#: data-pipeline runs that cannot wait long: a latency budget of 10 minutes.
_TIGHT_BUDGET = (0.15, 600_000)


def _policy_signals(domain: str, rng: random.Random, fields: dict[str, Any]) -> None:
    for probability, name, value in _RARE_SIGNALS[domain]:
        if rng.random() < probability:
            fields[name] = [*fields.get(name, []), value]
    if domain == "data-pipeline" and rng.random() < _TIGHT_BUDGET[0]:
        fields["latency_budget_ms"] = _TIGHT_BUDGET[1]


def sample_escalation(i: int, seed: int = 7) -> EscalationCreate:
    """The ``i``-th sample escalation for ``seed``: domains rotate, contents vary."""
    domain = DOMAINS[i % len(DOMAINS)]
    rng = random.Random(f"{seed}:{i}")
    fields = _BUILDERS[domain](rng, i)
    _policy_signals(domain, random.Random(f"{seed}:{i}:agent-signals"), fields)
    return EscalationCreate(
        idempotency_key=f"demo-{seed}-{domain}-{i:04d}",
        domain=domain,
        trace_id=_trace(rng),
        **fields,
    )


def sample_escalations(n: int = 40, seed: int = 7) -> list[EscalationCreate]:
    """``n`` deterministic sample escalations across :data:`DOMAINS`."""
    return [sample_escalation(i, seed) for i in range(n)]
