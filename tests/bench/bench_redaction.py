"""What PII redaction costs per escalation on the ingest path.

Realistic escalations from :mod:`store.samples` (which hold no personal data), as they are
and with personal data injected into the summary, the context, a reasoning step and an
evidence item: an e-mail, a phone number, a card, an IBAN, an IPv4 and an IPv6 address.
Prints the best of several rounds, in microseconds per escalation, next to what ingest
already spends on the same escalation (validating the request body, and dumping it for
the idempotency digest).

    .venv/bin/python tests/bench/bench_redaction.py [--n 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.services.redaction import redact_escalation, redact_text  # noqa: E402
from store.contracts import Breadcrumb, EscalationCreate, EvidenceItem  # noqa: E402
from store.samples import sample_escalations  # noqa: E402


def with_pii(escalation: EscalationCreate, i: int) -> EscalationCreate:
    """The escalation with six kinds of personal data in four places."""
    context = dict(
        escalation.context,
        customer_email=f"customer{i}@example.com",
        phone=f"+44 20 7946 {i % 10000:04d}",
        last_login_ip=f"203.0.113.{i % 250}",
    )
    return escalation.model_copy(
        update={
            "summary": escalation.summary[:300] + " (card 4111 1111 1111 1111)",
            "context": context,
            "reasoning": [
                *escalation.reasoning,
                Breadcrumb(
                    step="Checked the payout account",
                    detail="IBAN DE89 3704 0044 0532 0130 00 matches the one on file",
                ),
            ],
            "evidence": [
                *escalation.evidence,
                EvidenceItem(
                    title="Login history",
                    content="Last logins from 2001:db8::8a2e:370:7334 and 198.51.100.23",
                    source="auth-log",
                ),
            ],
        }
    )


def best_us(fn: Callable[[Any], object], items: Sequence[Any], rounds: int) -> float:
    """Best of ``rounds`` passes over ``items``, in microseconds per item."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - t0) / len(items))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="escalations per round")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    key = os.urandom(32)
    clean = sample_escalations(args.n)
    dirty = [with_pii(e, i) for i, e in enumerate(clean)]
    assert all(redact_escalation(e, key=key) is e for e in clean), "samples hold no PII"
    sizes = [len(e.model_dump_json()) for e in dirty]
    bodies = [e.model_dump_json() for e in dirty]
    summaries = [e.summary for e in dirty]

    rows = [
        (
            "redact_escalation, no PII (the samples)",
            best_us(lambda e: redact_escalation(e, key=key), clean, args.rounds),
        ),
        (
            "redact_escalation, 7 PII values",
            best_us(lambda e: redact_escalation(e, key=key), dirty, args.rounds),
        ),
        (
            "redact_text on the summary alone",
            best_us(lambda s: redact_text(s, key=key), summaries, args.rounds),
        ),
        (
            "for scale: validate the request body",
            best_us(EscalationCreate.model_validate_json, bodies, args.rounds),
        ),
        (
            "for scale: model_dump for the request digest",
            best_us(lambda e: e.model_dump(mode="json"), dirty, args.rounds),
        ),
    ]
    print(
        f"{args.n} escalations, {sum(sizes) / len(sizes):.0f} bytes of JSON on average "
        f"(with PII), best of {args.rounds} rounds, Python {sys.version.split()[0]}"
    )
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"  {name:<{width}}  {us:8.1f} us")
    print(json.dumps({name: round(us, 1) for name, us in rows}))


if __name__ == "__main__":
    main()
