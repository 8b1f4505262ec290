"""Many writers at once: one decision per case wins, and the audit chain stays gap-free."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.problems import ProblemError
from backend.services import cases as case_svc
from backend.services.keys import enroll_key
from console.decisions import build_decision, sign_decision
from store.audit import verify_export
from store.db import read_session
from store.samples import sample_escalations
from store.signing import public_key_b64
from store.tables import Supervisor


def _supervisor(env, name: str) -> tuple[Supervisor, Ed25519PrivateKey]:
    sid, _ = env.add_supervisor(name, groups=["payments", "moderation", "data-pipeline"])
    with read_session(env.state.engine) as session:
        sup = session.get(Supervisor, sid)
    assert sup is not None
    key = Ed25519PrivateKey.generate()
    enroll_key(env.state, supervisor=sup, public_key=public_key_b64(key.public_key()))
    return sup, key


def test_concurrent_claims_and_decisions_on_one_case_only_one_wins(backend_env) -> None:
    """Eight supervisors claiming and deciding the same case at once: exactly one decision
    is recorded, the others get a 409 (the case is claimed by someone else, or decided)."""
    status = backend_env.submit(sample_escalations(1)[0])
    people = [_supervisor(backend_env, f"s{i}") for i in range(8)]

    def attempt(who: tuple[Supervisor, Ed25519PrivateKey]) -> str:
        sup, key = who
        assert sup.id is not None
        try:
            claim = case_svc.claim_case(backend_env.state, supervisor=sup, case_id=status.id)
            case = case_svc.get_case(backend_env.state, supervisor=sup, case_id=status.id)
            payload = build_decision(
                case,
                action="approve",
                supervisor_id=sup.id,
                key=key,
                signed_at=backend_env.clock(),
                claim_token=claim.token,
            )
            case_svc.decide(
                backend_env.state,
                supervisor=sup,
                case_id=status.id,
                envelope=sign_decision(payload, key),
            )
            return "won"
        except ProblemError as exc:
            assert exc.status == 409, exc.detail
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, people))
    assert results.count("won") == 1
    assert results.count("conflict") == 7


def test_concurrent_decisions_under_one_claim_only_one_wins(backend_env) -> None:
    """One supervisor sending eight different signed decisions under the same claim at once
    (two consoles, a double submit): one is recorded, seven get 409 "Already decided"."""
    status = backend_env.submit(sample_escalations(1)[0])
    sup, key = _supervisor(backend_env, "solo")
    assert sup.id is not None
    claim = case_svc.claim_case(backend_env.state, supervisor=sup, case_id=status.id)
    case = case_svc.get_case(backend_env.state, supervisor=sup, case_id=status.id)
    envelopes = [
        sign_decision(
            build_decision(
                case,
                action="approve",
                supervisor_id=sup.id,
                key=key,
                signed_at=backend_env.clock(),
                claim_token=claim.token,
            ),
            key,
        )
        for _ in range(8)
    ]

    def attempt(envelope) -> str:
        try:
            case_svc.decide(backend_env.state, supervisor=sup, case_id=status.id, envelope=envelope)
            return "won"
        except ProblemError as exc:
            assert exc.status == 409, exc.detail
            assert exc.title == "Already decided", exc.detail
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, envelopes))
    assert results.count("won") == 1
    assert results.count("conflict") == 7


def test_concurrent_ingest_keeps_audit_chain_gap_free(backend_env) -> None:
    """Forty escalations submitted from eight threads: all stored, and the exported audit
    log still verifies (no duplicated or skipped sequence numbers)."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(backend_env.submit, sample_escalations(40)))
    from backend.services.audit_export import export_stream

    with read_session(backend_env.state.engine) as session:
        alice = session.get(Supervisor, backend_env.supervisor_id)
    assert alice is not None
    lines = [b.decode().rstrip("\n") for b in export_stream(backend_env.state, supervisor=alice)]
    report = verify_export(lines)
    assert report.kinds["case.created"] == 40
